/**
 * The pure half of applying links: the pod's current links in one comparable shape, the netlink operations that turn
 * them into a plan's link steps ({@link diffLinks}), and the ones that turn them back into what a record says they
 * were ({@link undoLinkOps}). Both compare before they change anything, so running them against their own result
 * yields no operation at all.
 */
import { createHash } from "node:crypto";
import { formatIpAddr, parseIpAddr } from "../api/ip.ts";
import type { Address, Link, NetlinkOp, Route } from "../host/netlink.ts";
import type { LinkStep, NetworkPlan } from "../plan/plan.ts";
import { RuntimeError, RuntimeErrorCode } from "./errors.ts";
import type { CreatedLink, OriginalLink, RecordedRoute } from "./state.ts";

/** One link of the pod as the diff sees it. */
export interface LinkView {
  readonly name: string;
  readonly ifindex: number;
  readonly kind: string | undefined;
  readonly mac: string;
  readonly mtu: number;
  readonly master: string | undefined;
  /** Administratively up (the `UP` flag): what blocks a rename, whatever the carrier. */
  readonly up: boolean;
  readonly learning: boolean | undefined;
  /** Addresses as `ip/prefix`, without IPv6 link-local ones: the kernel manages those on its own. */
  readonly addresses: readonly string[];
}

/** One route of the main table, with its family. */
export interface RouteView extends Route {
  readonly family: 4 | 6;
}

/**
 * Kernel kinds that can stand in for a renamed NIC under its original name (§5.2's dummy): kept down, holding the
 * original MAC, MTU and addresses. `bridge` (a port-less bridge) is for kernels built without the dummy driver.
 */
export const PlaceholderKind = { Dummy: "dummy", Bridge: "bridge" } as const;
export type PlaceholderKind = (typeof PlaceholderKind)[keyof typeof PlaceholderKind];

/** Options of {@link diffLinks} and of everything that names created links' kinds. */
export interface LinkOptions {
  /** Kind of the stand-in for a renamed NIC. Default `dummy`. */
  readonly placeholder?: PlaceholderKind;
}

/** The kernel kind a plan step creates (`tun` for taps), undefined for `existing` steps. */
export function createdKindOf(step: LinkStep, options: LinkOptions = {}): string | undefined {
  switch (step.kind) {
    case "existing":
      return undefined;
    case "tap":
      return "tun";
    case "dummy":
      return options.placeholder ?? PlaceholderKind.Dummy;
    default:
      return step.kind;
  }
}

/** `ip/prefix` in canonical text (RFC 5952 for IPv6), so plan and kernel spellings compare equal. */
export function normalizeAddress(cidr: string): string {
  const slash = cidr.indexOf("/");
  const text = slash < 0 ? cidr : cidr.slice(0, slash);
  const ip = parseIpAddr(text);
  const canonical = ip === undefined ? text.toLowerCase() : formatIpAddr(ip);
  return slash < 0 ? canonical : `${canonical}${cidr.slice(slash)}`;
}

function isIpv6(cidr: string): boolean {
  return cidr.includes(":");
}

/** Joins `ip -json link` and `ip -json address` output into {@link LinkView}s. */
export function linkViews(links: readonly Link[], addresses: readonly Address[]): LinkView[] {
  return links.map((l) => ({
    name: l.name,
    ifindex: l.ifindex,
    kind: l.kind,
    mac: l.mac.toLowerCase(),
    mtu: l.mtu,
    master: l.master,
    up: l.flags.includes("UP"),
    learning: l.learning,
    addresses: addresses
      .filter((a) => a.ifindex === l.ifindex && !(a.family === "inet6" && a.scope === "link"))
      .map((a) => normalizeAddress(`${a.local}/${a.prefixlen}`)),
  }));
}

/** Routes that survive only if someone re-adds them: not connected routes, not link-local or router-advertised ones. */
export function isRestorableRoute(r: RecordedRoute): boolean {
  if (r.protocol === "kernel" || r.protocol === "ra") return false;
  return !(r.family === 6 && (r.dst.startsWith("fe80:") || r.dst.startsWith("ff")));
}

/** A link's current facts as a record entry, with the routes through it. */
export function originalOf(view: LinkView, routes: readonly RouteView[]): OriginalLink {
  return {
    ifindex: view.ifindex,
    name: view.name,
    kind: view.kind,
    mac: view.mac,
    mtu: view.mtu,
    master: view.master,
    up: view.up,
    addresses: [...view.addresses],
    routes: routes
      .filter((r) => r.dev === view.name)
      .map((r) => ({
        family: r.family,
        dst: r.dst,
        ...(r.gateway === undefined ? {} : { gateway: r.gateway }),
        ...(r.protocol === undefined ? {} : { protocol: r.protocol }),
        ...(r.metric === undefined ? {} : { metric: r.metric }),
      })),
  };
}

/**
 * A locally administered unicast MAC for a link another one copies its MAC from, when both are created in the same
 * batch: `ip -batch` cannot read the kernel's random MAC back between two lines, so vmnet sets one it chose.
 */
export function derivedMac(name: string, seed: string): string {
  const h = createHash("sha256").update(`${name}/${seed}`, "utf8").digest();
  const bytes = [((h[0] ?? 0) & 0xfc) | 0x02, h[1] ?? 0, h[2] ?? 0, h[3] ?? 0, h[4] ?? 0, h[5] ?? 0];
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":");
}

interface SimLink {
  name: string;
  ifindex: number;
  kind: string | undefined;
  mac: string;
  mtu: number | undefined;
  master: string | undefined;
  up: boolean;
  learning: boolean | undefined;
  addresses: string[];
}

function simOf(views: readonly LinkView[]): SimLink[] {
  return views.map((v) => ({ ...v, addresses: [...v.addresses] }));
}

function addAddressOp(name: string, address: string): NetlinkOp {
  // Duplicate address detection would keep an address on a carrier-less bridge tentative, hence unusable.
  return isIpv6(address) ? { op: "addAddress", name, address, noDad: true } : { op: "addAddress", name, address };
}

function findForStep(sim: readonly SimLink[], step: LinkStep): SimLink | undefined {
  if (step.kind !== "existing") return sim.find((l) => l.name === step.name.value);
  const byIndex = step.ifindex === undefined ? undefined : sim.find((l) => l.ifindex === step.ifindex);
  if (byIndex !== undefined) return byIndex;
  // The pod was recreated with new ifindexes: fall back to the names CNI or vmnet gave the link.
  return (
    sim.find((l) => l.name === step.name.value) ??
    (step.renameFrom === undefined ? undefined : sim.find((l) => l.name === step.renameFrom?.value))
  );
}

/**
 * Why vmnet does not create a missing macvtap: it is made on a lower device of the node, which the pod's namespace
 * does not have. In KubeVirt (and in the lab) macvtap-cni, fed by its device plugin, puts it into the pod as the
 * Multus attachment of the NAD; the launcher only adopts it.
 */
export function missingMacvtapMessage(step: LinkStep): string {
  const lower = step.macvtap?.lowerDevice ?? "";
  return `Cannot create macvtap "${step.name.value}" on lower device "${lower}" from the pod: the macvtap CNI plugin makes it (the NAD's Multus attachment, with the macvtap device plugin's resource), and the pod has no link "${step.name.value}"`;
}

function createOp(step: LinkStep, kind: string | undefined): NetlinkOp {
  const name = step.name.value;
  switch (kind) {
    case "bridge":
      return { op: "addBridge", name };
    case "dummy":
      return { op: "addDummy", name };
    case "tun": {
      const owner = step.tap?.owner;
      return {
        op: "addTap",
        name,
        ...(step.tap?.multiQueue === true ? { multiQueue: true } : {}),
        ...(owner === undefined ? {} : { user: owner.uid, group: owner.gid }),
      };
    }
    case "macvtap":
      throw new RuntimeError(RuntimeErrorCode.PodLinkMissing, missingMacvtapMessage(step));
    default:
      throw new TypeError(`Cannot create link "${name}" of kind "${String(kind)}"`);
  }
}

/** The link steps of a plan in apply order: interfaces in plan order, each interface's steps in list order. */
export function planSteps(plan: NetworkPlan): LinkStep[] {
  return plan.interfaces.flatMap((i) => [...i.links]);
}

/**
 * The netlink operations that make `current` match the plan's link steps, in KubeVirt's per-link order (§5.1): create
 * if missing, set down when a rename, MAC change or address flush needs it, rename, MAC, MTU, master, addresses, up,
 * learning off. A link already as planned yields nothing. Throws RuntimeError on a kind collision or a missing pod link.
 */
export function diffLinks(plan: NetworkPlan, current: readonly LinkView[], options: LinkOptions = {}): NetlinkOp[] {
  const steps = planSteps(plan);
  const sim = simOf(current);
  const ops: NetlinkOp[] = [];
  const copySources = new Set(steps.flatMap((s) => (s.copyMacFrom === undefined ? [] : [s.copyMacFrom.value])));
  let nextIndex = -1;
  for (const step of steps) {
    const name = step.name.value;
    const want = createdKindOf(step, options);
    let link = findForStep(sim, step);
    if (link === undefined && step.kind === "existing") {
      throw new RuntimeError(
        RuntimeErrorCode.PodLinkMissing,
        `pod link (${step.renameFrom?.value ?? name}) is missing`,
      );
    }
    if (link !== undefined && want !== undefined && link.kind !== want) {
      throw new RuntimeError(
        RuntimeErrorCode.TypeCollision,
        `type collision on link ${name}: actual ${link.kind ?? "device"}, requested ${want}`,
      );
    }
    if (link === undefined) {
      ops.push(createOp(step, want));
      link = {
        name,
        ifindex: nextIndex--,
        kind: want,
        mac: "",
        mtu: undefined,
        master: undefined,
        up: false,
        learning: undefined,
        addresses: [],
      };
      sim.push(link);
    }
    const target = link;
    let mac = step.mac?.toLowerCase();
    if (mac === undefined && step.copyMacFrom !== undefined) {
      const from = step.copyMacFrom.value;
      mac = sim.find((l) => l.name === from)?.mac || undefined;
    }
    if (mac === undefined && target.mac === "" && copySources.has(name)) {
      const copier = steps.find((s) => s.copyMacFrom?.value === name);
      const seed = copier === undefined ? "" : (findForStep(sim, copier)?.mac ?? "");
      mac = derivedMac(name, seed);
    }
    const desired = step.addresses.map(normalizeAddress);
    const deleting = step.deleteAddresses.map(normalizeAddress).filter((a) => target.addresses.includes(a));
    const rename = target.name !== name;
    const macChange = mac !== undefined && target.mac !== mac;
    let flush = step.flushAddresses && target.addresses.some((a) => !desired.includes(a));
    const down = target.up && (rename || macChange || flush);
    // Taking a link down drops its IPv6 addresses (keep_addr_on_down=0): flush and re-add what stays, so the result
    // does not depend on which addresses the kernel dropped.
    if (down && target.addresses.some(isIpv6)) flush = true;
    const keep = step.flushAddresses ? [] : target.addresses.filter((a) => !deleting.includes(a));
    const toAdd = flush
      ? [...keep, ...desired.filter((a) => !keep.includes(a))]
      : desired.filter((a) => !target.addresses.includes(a));
    if (down) {
      ops.push({ op: "setDown", name: target.name });
      target.up = false;
    }
    if (rename) {
      ops.push({ op: "rename", name: target.name, newName: name });
      target.name = name;
    }
    if (macChange && mac !== undefined) {
      ops.push({ op: "setMac", name, mac });
      target.mac = mac;
    }
    if (step.mtu !== undefined && target.mtu !== step.mtu) {
      ops.push({ op: "setMtu", name, mtu: step.mtu });
      target.mtu = step.mtu;
    }
    if (step.master !== undefined && target.master !== step.master.value) {
      ops.push({ op: "setMaster", name, master: step.master.value });
      target.master = step.master.value;
      // The kernel turns learning on for every new bridge port.
      target.learning = true;
    }
    if (flush) {
      ops.push({ op: "flushAddresses", name });
      target.addresses = [];
    } else {
      for (const a of deleting) ops.push({ op: "deleteAddress", name, address: a });
      target.addresses = target.addresses.filter((a) => !deleting.includes(a));
    }
    for (const a of toAdd) {
      ops.push(addAddressOp(name, a));
      target.addresses.push(a);
    }
    if (step.state === "up" && !target.up) {
      ops.push({ op: "setUp", name });
      target.up = true;
    } else if (step.state === "down" && target.up) {
      ops.push({ op: "setDown", name });
      target.up = false;
    }
    if (step.learning === false && target.learning !== false) {
      ops.push({ op: "setLearningOff", name });
      target.learning = false;
    }
  }
  return ops;
}

/** What to undo: links to delete and links to put back as they were. */
export interface LinkUndo {
  readonly created: readonly CreatedLink[];
  readonly changed: readonly OriginalLink[];
}

const DELETE_ORDER = ["tun", "dummy", "bridge"];

/**
 * The netlink operations that delete the created links still present (taps, then dummies, then bridges, so names are
 * free before a renamed link takes its name back) and put every changed link back: master, name, MAC, MTU, addresses,
 * up, and its recorded routes that are missing now. Links already as recorded yield nothing.
 */
export function undoLinkOps(undo: LinkUndo, current: readonly LinkView[], routes: readonly RouteView[]): NetlinkOp[] {
  let sim = simOf(current);
  const ops: NetlinkOp[] = [];
  const created = [...undo.created].sort((a, b) => DELETE_ORDER.indexOf(a.kind) - DELETE_ORDER.indexOf(b.kind));
  for (const c of created) {
    const link = sim.find((l) => l.name === c.name);
    // A link of another kind under that name is not vmnet's (e.g. the pod NIC already renamed back).
    if (link === undefined || link.kind !== c.kind) continue;
    ops.push({ op: "deleteLink", name: c.name });
    sim = sim.filter((l) => l !== link);
    for (const port of sim) {
      if (port.master === c.name) {
        port.master = undefined;
        port.learning = undefined;
      }
    }
  }
  for (const o of undo.changed) {
    const link = sim.find((l) => l.ifindex === o.ifindex);
    if (link === undefined) continue;
    const before = link.name;
    const rename = link.name !== o.name;
    const macChange = link.mac !== o.mac;
    const unwanted = link.addresses.filter((a) => !o.addresses.includes(a));
    const down = link.up && (rename || macChange);
    // Going down drops IPv6 addresses: flush and re-add, as in diffLinks.
    const flush = down && link.addresses.some(isIpv6);
    const hadV4 = link.addresses.some((a) => !isIpv6(a));
    // The kernel drops every route through a link that goes down, and every IPv4 route through it once its last IPv4
    // address goes (even if others are added right after): those must be put back even if present now.
    const dropsV4 = hadV4 && (flush || link.addresses.filter((a) => !isIpv6(a)).every((a) => unwanted.includes(a)));
    if (down) {
      ops.push({ op: "setDown", name: link.name });
      link.up = false;
    }
    if (link.master !== o.master) {
      ops.push(
        o.master === undefined
          ? { op: "setNoMaster", name: link.name }
          : { op: "setMaster", name: link.name, master: o.master },
      );
      link.master = o.master;
    }
    if (rename) {
      ops.push({ op: "rename", name: link.name, newName: o.name });
      link.name = o.name;
    }
    if (macChange) ops.push({ op: "setMac", name: o.name, mac: o.mac });
    if (link.mtu !== o.mtu) ops.push({ op: "setMtu", name: o.name, mtu: o.mtu });
    if (flush) {
      ops.push({ op: "flushAddresses", name: o.name });
      link.addresses = [];
    } else {
      for (const a of unwanted) ops.push({ op: "deleteAddress", name: o.name, address: a });
      link.addresses = link.addresses.filter((a) => !unwanted.includes(a));
    }
    if (o.up && !link.up) ops.push({ op: "setUp", name: o.name });
    else if (!o.up && link.up) ops.push({ op: "setDown", name: o.name });
    // Addresses go on after `up`: taking a link down drops its IPv6 addresses.
    for (const a of o.addresses) if (!link.addresses.includes(a)) ops.push(addAddressOp(o.name, a));
    if (!o.up) continue;
    // Routes through a link vanish when it goes down or loses its addresses, which vmnet's apply already did, so the
    // routes missing now (or dropped by this batch) are exactly the ones to put back, as they were.
    // On-link routes first: a gateway reached only through one (Calico's `169.254.1.1 dev eth0`) needs it in place.
    const restorable = o.routes.filter(isRestorableRoute);
    const ordered = [...restorable.filter((r) => r.gateway === undefined), ...restorable.filter((r) => r.gateway)];
    for (const r of ordered) {
      const dropped = down || (r.family === 4 && dropsV4);
      const present = routes.some(
        (x) =>
          x.family === r.family &&
          x.dst === r.dst &&
          x.gateway === r.gateway &&
          // Records written before metrics were kept match any metric.
          (r.metric === undefined || x.metric === r.metric) &&
          (x.dev === before || x.dev === o.name),
      );
      if (dropped || !present) {
        ops.push({
          op: "addRoute",
          name: o.name,
          dst: r.dst,
          family: r.family,
          ...(r.gateway === undefined ? {} : { via: r.gateway }),
          ...(r.protocol === undefined ? {} : { protocol: r.protocol }),
          ...(r.metric === undefined ? {} : { metric: r.metric }),
        });
      }
    }
  }
  return ops;
}
