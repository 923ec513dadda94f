/**
 * Reading a pod's network facts for the planner: links with addresses, MACs, MTUs and kinds, main-table routes,
 * resolv.conf and hostname. A pod vmnet already wired (after a restart of vmnet) is read back as CNI left it: the
 * renamed NIC (`<T>-nic`) stands under its original name with the MAC, MTU and addresses its stand-in dummy kept, and
 * vmnet's own bridges, taps and dummies are hidden, so planning again yields the same plan (KubeVirt §5.2: "when
 * `<T>-nic` already exists, it is used as the source of the status data").
 */
import { readFile as fsReadFile } from "node:fs/promises";
import { join } from "node:path";
import { IprouteNetlink, type Netlink } from "../host/netlink.ts";
import { listNftInNetns, NftNetlinkError, NftNetlinkErrorCode } from "../host/nft-netlink.ts";
import { type Nftables, NftCli, type NftJson, type NftListed } from "../host/nftables.ts";
import type { LinkAddress, PodFacts, PodLink, PodRoute } from "../plan/pod-facts.ts";
import { parseResolvConf } from "../plan/pod-facts.ts";
import { RuntimeError, RuntimeErrorCode } from "./errors.ts";
import { type LinkView, linkViews, type RouteView } from "./links.ts";
import type { PodNetworkState } from "./state.ts";

/** Options of {@link discoverPodFacts}. */
export interface DiscoverOptions {
  /** Default: iproute2 in `netns`. */
  readonly netlink?: Netlink;
  /** Reads a pod file as text. Default: node's `readFile`. */
  readonly readFile?: (path: string) => Promise<string>;
  /** Directory with the pod's `resolv.conf` and `hostname`. Default `/etc`. */
  readonly podDir?: string;
  /** The pod's hostname, when not read from `<podDir>/hostname`. */
  readonly hostname?: string;
  /** `MY_POD_IP`: orders dual-stack pod IPs. */
  readonly podIP?: string;
  /** vmnet's record for this pod, if it applied a plan before: its original link facts and routes win. */
  readonly state?: PodNetworkState;
  /**
   * When given and the record knows no nftables table yet, the ruleset is listed beside the netlink reads, for
   * `applyPlan` to tell tables that existed before vmnet from its own without listing again. For the real adapter
   * ({@link NftCli}) the tables, chains and sets are read over a netfilter netlink socket in `netns` instead (see
   * {@link listRuleset}).
   */
  readonly nft?: Nftables;
  /** Whether {@link listRuleset} may read over a netlink socket instead of running `nft`. Default true. */
  readonly nftSocket?: boolean;
}

function toLinkAddress(cidr: string): LinkAddress {
  const slash = cidr.indexOf("/");
  return { address: cidr.slice(0, slash), prefix: Number.parseInt(cidr.slice(slash + 1), 10) };
}

/** A link as discovery sees it. */
export interface FullView extends LinkView {
  /** Every address including IPv6 link-local ones. */
  readonly allAddresses: readonly string[];
}

function podLinkOf(v: FullView): PodLink {
  return {
    name: v.name,
    ifindex: v.ifindex,
    mac: v.mac,
    mtu: v.mtu,
    addresses: v.allAddresses.map(toLinkAddress),
    kind: v.kind ?? (v.name === "lo" ? "loopback" : "device"),
  };
}

function toPodRoute(r: { dst: string; gateway?: string | undefined; family: 4 | 6 }, dev: string): PodRoute {
  return {
    dst: r.dst,
    ...(r.gateway === undefined ? {} : { gateway: r.gateway }),
    dev,
    family: r.family === 4 ? "ip" : "ip6",
  };
}

/**
 * The pure half of discovery: the links and routes CNI left, given what the kernel shows now and vmnet's record (if
 * any). Without a record, routes through a renamed NIC are lost with its addresses and cannot be recovered.
 */
export function recoverPodNetwork(
  views: readonly FullView[],
  routes: readonly RouteView[],
  state?: PodNetworkState,
): { links: PodLink[]; routes: PodRoute[] } {
  const hidden = new Set<number>();
  const replaced = new Map<number, PodLink>();
  const recordedRoutes: PodRoute[] = [];
  const byName = (n: string) => views.find((v) => v.name === n);
  for (const c of state?.createdLinks ?? []) {
    const v = byName(c.name);
    if (v !== undefined && v.kind === c.kind) hidden.add(v.ifindex);
  }
  for (const o of state?.changedLinks ?? []) {
    const v = views.find((x) => x.ifindex === o.ifindex);
    if (v === undefined) continue;
    replaced.set(v.ifindex, {
      name: o.name,
      ifindex: o.ifindex,
      mac: o.mac,
      mtu: o.mtu,
      addresses: o.addresses.map(toLinkAddress),
      kind: o.kind ?? "device",
    });
    recordedRoutes.push(...o.routes.map((r) => toPodRoute(r, o.name)));
  }
  // KubeVirt's bridge layout without a record: `k6t-<T>` bridges, their taps, `<T>-nic` and the dummy under P.
  for (const v of views) {
    if (v.kind === "bridge" && v.name.startsWith("k6t-")) hidden.add(v.ifindex);
  }
  for (const v of views) {
    const m = /^(.+)-nic$/.exec(v.name);
    if (m?.[1] === undefined || replaced.has(v.ifindex)) continue;
    const t = m[1];
    // The stand-in is a dummy, or a port-less bridge held down on kernels without the dummy driver.
    const dummy = [t, `pod${t}`]
      .map(byName)
      .find((d) => d !== undefined && !d.up && (d.kind === "dummy" || d.kind === "bridge"));
    if (dummy === undefined) continue;
    hidden.add(dummy.ifindex);
    replaced.set(v.ifindex, {
      name: dummy.name,
      ifindex: v.ifindex,
      mac: dummy.mac,
      mtu: dummy.mtu,
      addresses: dummy.allAddresses.map(toLinkAddress),
      kind: v.kind ?? "device",
    });
  }
  for (const v of views) {
    const master = v.master === undefined ? undefined : byName(v.master);
    if (v.kind === "tun" && master !== undefined && hidden.has(master.ifindex)) hidden.add(v.ifindex);
  }
  // The dummy standing in for a recorded NIC carries the NIC's original name.
  for (const l of replaced.values()) {
    const d = byName(l.name);
    if (d !== undefined && d.ifindex !== l.ifindex && !d.up && (d.kind === "dummy" || d.kind === "bridge")) {
      hidden.add(d.ifindex);
    }
  }
  const links: PodLink[] = [];
  for (const v of views) {
    if (hidden.has(v.ifindex)) continue;
    links.push(replaced.get(v.ifindex) ?? podLinkOf(v));
  }
  const liveNames = new Map(views.map((v) => [v.name, v.ifindex]));
  const recordedIndexes = new Set(state?.changedLinks.map((o) => o.ifindex) ?? []);
  const kept = routes.flatMap((r) => {
    if (r.dev === undefined) return [];
    const index = liveNames.get(r.dev);
    if (index === undefined || hidden.has(index) || recordedIndexes.has(index)) return [];
    const name = replaced.get(index)?.name ?? r.dev;
    return [toPodRoute(r, name)];
  });
  return { links, routes: [...kept, ...recordedRoutes] };
}

/**
 * The pod's links and routes as one read saw them. Discovery hands it on to {@link applyPlan} so that apply, when
 * nothing has changed the pod since, does not read the same tables again.
 */
export interface PodKernelState {
  readonly views: readonly FullView[];
  readonly routes: readonly RouteView[];
  /** The ruleset, when discovery listed it (see {@link DiscoverOptions.nft}). */
  readonly nft?: NftJson<NftListed>;
}

/** What {@link discoverPod} read: the planner's facts and the kernel state they came from. */
export interface DiscoveredPod {
  readonly facts: PodFacts;
  readonly kernel: PodKernelState;
}

/** Reads links, addresses and routes through one netlink snapshot, with IPv6 link-local addresses kept. */
export async function readNetwork(netlink: Netlink): Promise<{ views: FullView[]; routes: RouteView[] }> {
  const {
    links,
    addresses,
    routes: { 4: r4, 6: r6 },
  } = await netlink.snapshot();
  const views = linkViews(links, addresses).map((v) => ({
    ...v,
    allAddresses: addresses
      .filter((a) => a.ifindex === v.ifindex)
      .map((a) => `${a.local}/${a.prefixlen}`)
      .sort((a, b) => Number(a.includes(":")) - Number(b.includes(":"))),
  }));
  const routes: RouteView[] = [
    ...r4.map((r) => ({ ...r, family: 4 as const })),
    ...r6.map((r) => ({ ...r, family: 6 as const })),
  ];
  return { views, routes };
}

/** Reads the pod's facts in `netns` for {@link planPod}: kernel state, resolv.conf and hostname. */
export async function discoverPodFacts(netns: string, options: DiscoverOptions = {}): Promise<PodFacts> {
  return (await discoverPod(netns, options)).facts;
}

/**
 * {@link discoverPodFacts}, also returning the kernel state read, for `applyPlan`'s `discovered` option. The pod files
 * (and the ruleset, with `options.nft`) are read while the netlink snapshot runs.
 */
export async function discoverPod(netns: string, options: DiscoverOptions = {}): Promise<DiscoveredPod> {
  const netlink = options.netlink ?? new IprouteNetlink(netns);
  const read = options.readFile ?? ((p: string) => fsReadFile(p, "utf8"));
  const dir = options.podDir ?? "/etc";
  const listNft = options.nft !== undefined && (options.state?.nftTables.length ?? 0) === 0;
  const [network, files, listing] = await Promise.all([
    readNetwork(netlink),
    readPodFiles(netns, dir, read, options.hostname),
    listNft && options.nft !== undefined ? listRuleset(netns, options.nft, options.nftSocket ?? true) : undefined,
  ]);
  const kernel: PodKernelState = listing === undefined ? network : { ...network, nft: listing };
  const { links, routes: podRoutes } = recoverPodNetwork(kernel.views, kernel.routes, options.state);
  const facts: PodFacts = {
    links,
    routes: podRoutes,
    resolvConf: parseResolvConf(files.resolv),
    hostname: files.hostname,
    ...(options.podIP === undefined ? {} : { podIP: options.podIP }),
  };
  return { facts, kernel };
}

/**
 * The listing discovery hands to `applyPlan`. With the real adapter ({@link NftCli}, which lists the namespace it was
 * made for, the pod's) and `socket` on, the tables, chains and named sets are read over a NETLINK_NETFILTER socket
 * made inside `netns` (src/host/nft-netlink.ts): apply only needs to know which of them exist, and that read takes
 * a few milliseconds where starting `nft` through `ip netns exec` costs tens, a whole round of processes before
 * planning can start. The listing has no rules and no set elements. `nft` is run instead only when the socket
 * cannot be made (a kernel without nfnetlink, or a sandbox refusing it) or the ruleset holds something the reader
 * cannot name as nft does (a set datatype or hook it does not know): then it is the one reader that can. A missing
 * namespace is not a reason to fall back: `nft` would fail on it too, and the error says so more clearly. Fakes are
 * always asked through `list()`: tests that give one mean it.
 */
export async function listRuleset(netns: string, nft: Nftables, socket = true): Promise<NftJson<NftListed>> {
  if (!socket || !(nft instanceof NftCli)) return nft.list();
  try {
    return await listNftInNetns(netns);
  } catch (e) {
    const fallback: readonly string[] = [NftNetlinkErrorCode.SocketUnavailable, NftNetlinkErrorCode.Unsupported];
    if (e instanceof NftNetlinkError && fallback.includes(e.code)) return nft.list();
    throw e;
  }
}

async function readPodFiles(
  netns: string,
  dir: string,
  read: (path: string) => Promise<string>,
  knownHostname: string | undefined,
): Promise<{ resolv: string; hostname: string }> {
  let resolv: string;
  try {
    resolv = await read(join(dir, "resolv.conf"));
  } catch (e) {
    throw new RuntimeError(
      RuntimeErrorCode.PodFilesUnreadable,
      `Failed to get DNS servers from resolv.conf: ${e instanceof Error ? e.message : String(e)}`,
      { cause: e },
    );
  }
  if (knownHostname !== undefined) return { resolv, hostname: knownHostname };
  const file = join(dir, "hostname");
  try {
    return { resolv, hostname: (await read(file)).trim() };
  } catch (e) {
    throw new RuntimeError(
      RuntimeErrorCode.PodFilesUnreadable,
      `Cannot read the pod hostname "${file}" of netns "${netns}"`,
      { cause: e },
    );
  }
}
