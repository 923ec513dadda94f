/**
 * An in-memory kernel model behind the {@link Netlink} interface for unit tests. It applies the same operations with
 * the same failures as the real kernel (checked by the shared contract test): duplicate names and addresses, missing
 * links, non-bridge masters, MTU limits, a batch stopping at its first failing operation.
 *
 * What the kernel does to addresses and routes is mirrored as a real kernel shows it (checked by the contract test):
 * - a link taken down loses every route through it, IPv4 and IPv6, and its IPv6 addresses (`keep_addr_on_down=0`, the
 *   default, is the only setting modelled); its IPv4 addresses stay and their prefix routes come back with `up`;
 * - removing an address removes its prefix route only; other routes through the link stay, even a gateway route whose
 *   gateway is no longer on-link, until the link's LAST IPv4 address goes, which takes every IPv4 route through it;
 *   IPv6 routes stay when IPv6 addresses go;
 * - routes are keyed by (family, destination, metric): IPv4 routes default to metric 0, IPv6 ones to 1024 and the
 *   kernel's prefix routes use 256; `boot` is the default protocol and, as `ip` does, is not listed.
 *
 * Not modelled: IPv6 link-local autoconfiguration, DAD, neighbour/ARP state, bridge MTU propagation, link-local
 * (`fe80::/64`) routes, routes removed with their preferred source address.
 */
import { formatIpv6, parseIpv6 } from "../api/ip.ts";
import {
  type Address,
  type AddressFamily,
  type Link,
  type Netlink,
  NetlinkBatchError,
  NetlinkFailure,
  type NetlinkOp,
  type NetlinkSnapshot,
  type Route,
  routeFamily,
  type TunInfo,
  validateOp,
} from "./netlink.ts";

/** A link to seed the fake with (e.g. the pod's `eth0` as CNI left it). */
export interface FakeLinkSeed {
  readonly name: string;
  readonly kind?: string;
  readonly mac?: string;
  readonly mtu?: number;
  readonly up?: boolean;
  /** Whether the link has carrier when up (a veth whose peer is up). Default true. */
  readonly carrier?: boolean;
  readonly addresses?: readonly string[];
}

/** A route to seed the fake with, e.g. `{ dst: "default", via: "10.244.0.1", dev: "eth0" }`. */
export interface FakeRouteSeed {
  readonly dst: string;
  readonly via?: string;
  readonly dev: string;
  /** Needed only for an IPv6 route without an IPv6 `dst` or `via`. */
  readonly family?: 4 | 6;
  readonly protocol?: string;
  readonly metric?: number;
}

interface LinkState {
  name: string;
  readonly ifindex: number;
  readonly kind: string | undefined;
  mac: string;
  mtu: number;
  readonly maxMtu: number;
  master: number | undefined;
  up: boolean;
  readonly carrier: boolean | undefined;
  readonly lower: number | undefined;
  readonly tun: TunInfo | undefined;
  learning: boolean | undefined;
  /** A bridge whose MTU was set explicitly stops following its ports' minimum (BROPT_MTU_SET_BY_USER). */
  mtuSetByUser?: boolean;
}

interface AddressState {
  readonly ifindex: number;
  readonly family: AddressFamily;
  readonly local: string;
  readonly prefixlen: number;
}

interface RouteState {
  readonly family: 4 | 6;
  readonly dst: string;
  readonly gateway: string | undefined;
  readonly ifindex: number;
  /** Undefined for `boot`, which `ip` does not print. */
  readonly protocol: string | undefined;
  readonly metric: number;
}

/** The kernel's metric for a route added without one. */
function defaultMetric(family: 4 | 6): number {
  return family === 4 ? 0 : 1024;
}

/** Metric of the prefix routes the kernel adds for addresses. */
function connectedMetric(family: 4 | 6): number {
  return family === 4 ? 0 : 256;
}

interface State {
  links: LinkState[];
  addresses: AddressState[];
  routes: RouteState[];
  nextIndex: number;
}

// ---- address arithmetic --------------------------------------------------------------------------------------------

function v4ToInt(ip: string): number {
  return ip.split(".").reduce((acc, o) => acc * 256 + Number.parseInt(o, 10), 0);
}

function intToV4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
}

function v6ToBig(ip: string): bigint {
  return BigInt(`0x${Buffer.from(parseIpv6(ip)).toString("hex")}`);
}

function bigToV6(n: bigint): string {
  return formatIpv6(Buffer.from(n.toString(16).padStart(32, "0"), "hex"));
}

function familyOf(ip: string): AddressFamily {
  return ip.includes(":") ? "inet6" : "inet";
}

/** The network prefix of `ip/len` in `ip`'s text form. */
function networkOf(ip: string, len: number): string {
  if (familyOf(ip) === "inet") {
    const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
    return `${intToV4((v4ToInt(ip) & mask) >>> 0)}/${len}`;
  }
  const mask = len === 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - len)) - 1n);
  return `${bigToV6(v6ToBig(ip) & mask)}/${len}`;
}

function canonicalIp(ip: string): string {
  return familyOf(ip) === "inet" ? ip : bigToV6(v6ToBig(ip));
}

function contains(prefix: string, ip: string): boolean {
  const [net = "", len = "0"] = prefix.split("/");
  if (familyOf(net) !== familyOf(ip)) return false;
  const n = Number.parseInt(len, 10);
  return networkOf(ip, n) === networkOf(net, n);
}

function scopeOf(ip: string): string {
  if (familyOf(ip) === "inet") return ip.startsWith("127.") ? "host" : "global";
  const c = canonicalIp(ip);
  if (c === "::1") return "host";
  return /^fe[89ab][0-9a-f]:/.test(c) ? "link" : "global";
}

// ---- the model -----------------------------------------------------------------------------------------------------

const MAX_MTU: Readonly<Record<string, number>> = { tun: 65521 };

class OpFailure extends Error {
  constructor(
    readonly reason: NetlinkFailure,
    message: string,
  ) {
    super(message);
  }
}

function macFor(ifindex: number): string {
  return `02:00:00:00:${(Math.floor(ifindex / 256) % 256).toString(16).padStart(2, "0")}:${(ifindex % 256).toString(16).padStart(2, "0")}`;
}

/** In-memory {@link Netlink}; also counts batches so tests can assert "one batch per call". */
export class FakeNetlink implements Netlink {
  #state: State;
  /** Every batch applied (including failed ones), in order. */
  readonly batches: (readonly NetlinkOp[])[] = [];

  constructor(seed: { readonly links?: readonly FakeLinkSeed[]; readonly routes?: readonly FakeRouteSeed[] } = {}) {
    this.#state = {
      links: [
        {
          name: "lo",
          ifindex: 1,
          kind: undefined,
          mac: "00:00:00:00:00:00",
          mtu: 65536,
          maxMtu: 65536,
          master: undefined,
          up: true,
          carrier: true,
          lower: undefined,
          tun: undefined,
          learning: undefined,
        },
      ],
      addresses: [
        { ifindex: 1, family: "inet", local: "127.0.0.1", prefixlen: 8 },
        { ifindex: 1, family: "inet6", local: "::1", prefixlen: 128 },
      ],
      routes: [],
      nextIndex: 2,
    };
    for (const l of seed.links ?? []) this.addLink(l);
    for (const r of seed.routes ?? []) {
      const link = this.#find(this.#state, r.dev);
      if (link === undefined) throw new RangeError(`Cannot seed route via missing link "${r.dev}"`);
      const family = r.family ?? (r.dst.includes(":") || r.via?.includes(":") === true ? 6 : 4);
      this.#state.routes.push({
        family,
        dst: r.dst,
        gateway: r.via,
        ifindex: link.ifindex,
        protocol: r.protocol === "boot" ? undefined : r.protocol,
        metric: r.metric ?? defaultMetric(family),
      });
    }
  }

  /** Adds a link as something outside vmnet (CNI) would have created it. */
  addLink(seed: FakeLinkSeed): void {
    const s = this.#state;
    if (this.#find(s, seed.name) !== undefined) throw new RangeError(`Cannot seed duplicate link "${seed.name}"`);
    const ifindex = s.nextIndex++;
    s.links.push({
      name: seed.name,
      ifindex,
      kind: seed.kind,
      mac: seed.mac ?? macFor(ifindex),
      mtu: seed.mtu ?? 1500,
      maxMtu: 65535,
      master: undefined,
      up: seed.up ?? false,
      carrier: seed.carrier ?? true,
      lower: undefined,
      tun: undefined,
      learning: undefined,
    });
    for (const a of seed.addresses ?? []) {
      const [local = "", len = ""] = a.split("/");
      s.addresses.push({ ifindex, family: familyOf(local), local: canonicalIp(local), prefixlen: Number(len) });
    }
  }

  #find(s: State, name: string): LinkState | undefined {
    return s.links.find((l) => l.name === name);
  }

  #must(s: State, name: string): LinkState {
    const l = this.#find(s, name);
    if (l === undefined) throw new OpFailure(NetlinkFailure.NotFound, `Cannot find device "${name}"`);
    return l;
  }

  #carrier(s: State, l: LinkState): boolean {
    if (!l.up) return false;
    switch (l.kind) {
      case "tun":
        // No process has the tap open in the model, so it has no carrier (as a fresh persistent tap).
        return false;
      case "bridge": {
        // A bridge without ports keeps its initial carrier (operstate UNKNOWN); with ports it has carrier when one has.
        const ports = s.links.filter((p) => p.master === l.ifindex);
        return ports.length === 0 || ports.some((p) => this.#carrier(s, p));
      }
      case "macvtap":
      case "macvlan": {
        const lower = s.links.find((p) => p.ifindex === l.lower);
        return lower !== undefined && this.#carrier(s, lower);
      }
      default:
        return l.carrier ?? true;
    }
  }

  #operstate(s: State, l: LinkState): string {
    if (!l.up) return "DOWN";
    if (l.kind === undefined || l.kind === "dummy") return "UNKNOWN";
    if (l.kind === "bridge" && !s.links.some((p) => p.master === l.ifindex)) return "UNKNOWN";
    if (this.#carrier(s, l)) return "UP";
    return l.kind === "veth" ? "LOWERLAYERDOWN" : "DOWN";
  }

  async links(): Promise<Link[]> {
    const s = this.#state;
    return s.links.map((l) => {
      const carrier = this.#carrier(s, l);
      const flags = [
        ...(l.up && !carrier ? ["NO-CARRIER"] : []),
        ...(l.kind === undefined ? ["LOOPBACK"] : ["BROADCAST", "MULTICAST"]),
        ...(l.up ? ["UP"] : []),
        ...(carrier ? ["LOWER_UP"] : []),
      ];
      const master = s.links.find((m) => m.ifindex === l.master)?.name;
      return {
        name: l.name,
        ifindex: l.ifindex,
        kind: l.kind,
        mac: l.mac,
        mtu: l.mtu,
        master,
        operstate: this.#operstate(s, l),
        flags,
        ...(l.tun === undefined ? {} : { tun: { ...l.tun } }),
        ...(l.learning === undefined ? {} : { learning: l.learning }),
      };
    });
  }

  async addresses(): Promise<Address[]> {
    const s = this.#state;
    return s.addresses.map((a) => ({
      ifname: s.links.find((l) => l.ifindex === a.ifindex)?.name ?? "",
      ifindex: a.ifindex,
      family: a.family,
      local: a.local,
      prefixlen: a.prefixlen,
      scope: scopeOf(a.local),
    }));
  }

  #connected(s: State, family: 4 | 6): Route[] {
    const fam: AddressFamily = family === 4 ? "inet" : "inet6";
    return s.addresses.flatMap((a): Route[] => {
      const link = s.links.find((l) => l.ifindex === a.ifindex);
      if (a.family !== fam || link === undefined || !link.up || link.kind === undefined) return [];
      if (a.prefixlen === (family === 4 ? 32 : 128) || scopeOf(a.local) !== "global") return [];
      const dst = networkOf(a.local, a.prefixlen);
      return family === 4
        ? [{ dst, dev: link.name, protocol: "kernel", scope: "link", prefsrc: a.local }]
        : [{ dst, dev: link.name, protocol: "kernel", metric: 256 }];
    });
  }

  async routes(family: 4 | 6): Promise<Route[]> {
    const s = this.#state;
    const explicit = s.routes
      .filter((r) => r.family === family)
      .map((r): Route => {
        const dev = s.links.find((l) => l.ifindex === r.ifindex)?.name ?? "";
        // `ip` prints an IPv4 route's metric only when it is not 0, an IPv6 route's always; a gatewayless IPv4 route
        // is scope link.
        return {
          dst: r.dst,
          ...(r.gateway === undefined ? {} : { gateway: r.gateway }),
          dev,
          ...(r.protocol === undefined ? {} : { protocol: r.protocol }),
          ...(family === 4 && r.gateway === undefined ? { scope: "link" } : {}),
          ...(family === 6 || r.metric !== 0 ? { metric: r.metric } : {}),
        };
      });
    return [...explicit, ...this.#connected(s, family)];
  }

  async snapshot(): Promise<NetlinkSnapshot> {
    const [links, addresses, r4, r6] = [
      await this.links(),
      await this.addresses(),
      await this.routes(4),
      await this.routes(6),
    ];
    return { links, addresses, routes: { 4: r4, 6: r6 } };
  }

  async batch(ops: readonly NetlinkOp[]): Promise<void> {
    for (const op of ops) validateOp(op);
    this.batches.push([...ops]);
    const s = this.#state;
    for (const [i, op] of ops.entries()) {
      try {
        this.#apply(s, op);
      } catch (e) {
        if (e instanceof OpFailure) throw new NetlinkBatchError(i, op, e.reason, e.message);
        throw e;
      }
    }
  }

  #create(s: State, name: string, kind: string, extra: Partial<LinkState> = {}): void {
    if (this.#find(s, name) !== undefined) throw new OpFailure(NetlinkFailure.Exists, "RTNETLINK answers: File exists");
    const ifindex = s.nextIndex++;
    s.links.push({
      name,
      ifindex,
      kind,
      mac: macFor(ifindex),
      mtu: 1500,
      maxMtu: MAX_MTU[kind] ?? 65535,
      master: undefined,
      up: false,
      carrier: undefined,
      lower: undefined,
      tun: undefined,
      learning: undefined,
      ...extra,
    });
  }

  /** A bridge's MTU follows the smallest MTU of its ports unless set explicitly (br_mtu_auto_adjust). */
  #adjustBridgeMtu(s: State, bridgeIndex: number | undefined): void {
    const br = s.links.find((l) => l.ifindex === bridgeIndex);
    if (br === undefined || br.mtuSetByUser === true) return;
    const ports = s.links.filter((p) => p.master === br.ifindex);
    if (ports.length > 0) br.mtu = Math.min(...ports.map((p) => p.mtu));
  }

  #delete(s: State, link: LinkState): void {
    for (const upper of s.links.filter((l) => l.lower === link.ifindex)) this.#delete(s, upper);
    for (const port of s.links.filter((l) => l.master === link.ifindex)) {
      port.master = undefined;
      port.learning = undefined;
    }
    s.links = s.links.filter((l) => l !== link);
    this.#adjustBridgeMtu(s, link.master);
    s.addresses = s.addresses.filter((a) => a.ifindex !== link.ifindex);
    s.routes = s.routes.filter((r) => r.ifindex !== link.ifindex);
  }

  /** A link's last IPv4 address went: the kernel drops every IPv4 route through it (fib_disable_ip). */
  #lastV4Gone(s: State, l: LinkState): void {
    s.routes = s.routes.filter((r) => r.ifindex !== l.ifindex || r.family !== 4);
  }

  #apply(s: State, op: NetlinkOp): void {
    switch (op.op) {
      case "addBridge":
        this.#create(s, op.name, "bridge");
        return;
      case "addDummy":
        this.#create(s, op.name, "dummy");
        return;
      case "addTap":
        this.#create(s, op.name, "tun", {
          tun: {
            type: "tap",
            multiQueue: op.multiQueue === true,
            vnetHdr: op.vnetHdr === true,
            persist: true,
            ...(op.user === undefined ? {} : { user: op.user }),
            ...(op.group === undefined ? {} : { group: op.group }),
          },
        });
        return;
      case "addMacvtap": {
        const lower = this.#must(s, op.link);
        this.#create(s, op.name, "macvtap", { lower: lower.ifindex, mtu: lower.mtu });
        return;
      }
      case "rename": {
        const l = this.#must(s, op.name);
        if (op.newName !== op.name && this.#find(s, op.newName) !== undefined) {
          throw new OpFailure(NetlinkFailure.Exists, "RTNETLINK answers: File exists");
        }
        l.name = op.newName;
        return;
      }
      case "setMac":
        this.#must(s, op.name).mac = op.mac;
        return;
      case "setMtu": {
        const l = this.#must(s, op.name);
        if (op.mtu > l.maxMtu) throw new OpFailure(NetlinkFailure.Invalid, "Error: mtu greater than device maximum.");
        l.mtu = op.mtu;
        if (l.kind === "bridge") l.mtuSetByUser = true;
        this.#adjustBridgeMtu(s, l.master);
        return;
      }
      case "setMaster": {
        const l = this.#must(s, op.name);
        const master = this.#must(s, op.master);
        if (l.master === master.ifindex) return;
        // The kernel releases the old master before trying the new one, so a failed change leaves no master.
        l.master = undefined;
        l.learning = undefined;
        if (master.kind !== "bridge" || master === l) {
          throw new OpFailure(NetlinkFailure.NotSupported, "RTNETLINK answers: Operation not supported");
        }
        l.master = master.ifindex;
        l.learning = true;
        this.#adjustBridgeMtu(s, master.ifindex);
        return;
      }
      case "setNoMaster": {
        const l = this.#must(s, op.name);
        const old = l.master;
        l.master = undefined;
        l.learning = undefined;
        this.#adjustBridgeMtu(s, old);
        return;
      }
      case "setUp":
        this.#must(s, op.name).up = true;
        return;
      case "setDown": {
        const l = this.#must(s, op.name);
        if (!l.up) return;
        l.up = false;
        s.routes = s.routes.filter((r) => r.ifindex !== l.ifindex);
        s.addresses = s.addresses.filter((a) => a.ifindex !== l.ifindex || a.family !== "inet6");
        return;
      }
      case "flushAddresses": {
        const l = this.#must(s, op.name);
        const hadV4 = s.addresses.some((a) => a.ifindex === l.ifindex && a.family === "inet");
        s.addresses = s.addresses.filter((a) => a.ifindex !== l.ifindex);
        if (hadV4) this.#lastV4Gone(s, l);
        return;
      }
      case "deleteAddress": {
        const l = this.#must(s, op.name);
        const [ip = "", len = ""] = op.address.split("/");
        const local = canonicalIp(ip);
        const family = familyOf(ip);
        const prefixlen = Number.parseInt(len, 10);
        const i = s.addresses.findIndex(
          (a) => a.ifindex === l.ifindex && a.local === local && a.prefixlen === prefixlen,
        );
        if (i < 0) {
          throw new OpFailure(
            NetlinkFailure.NotFound,
            family === "inet" ? "Error: ipv4: Address not found." : "Error: ipv6: address not found.",
          );
        }
        s.addresses.splice(i, 1);
        if (family === "inet" && !s.addresses.some((a) => a.ifindex === l.ifindex && a.family === "inet")) {
          this.#lastV4Gone(s, l);
        }
        return;
      }
      case "addAddress": {
        const l = this.#must(s, op.name);
        const [ip = "", len = ""] = op.address.split("/");
        const local = canonicalIp(ip);
        const family = familyOf(ip);
        const prefixlen = Number.parseInt(len, 10);
        // IPv4 keys an address by (address, prefix); IPv6 by address alone.
        const dup = s.addresses.some(
          (a) => a.ifindex === l.ifindex && a.local === local && (family === "inet6" || a.prefixlen === prefixlen),
        );
        if (dup) {
          throw new OpFailure(
            NetlinkFailure.Exists,
            family === "inet" ? "Error: ipv4: Address already assigned." : "RTNETLINK answers: File exists",
          );
        }
        s.addresses.push({ ifindex: l.ifindex, family, local, prefixlen });
        return;
      }
      case "setLearningOff": {
        const l = this.#must(s, op.name);
        if (l.master === undefined) {
          throw new OpFailure(NetlinkFailure.NotSupported, "RTNETLINK answers: Operation not supported");
        }
        l.learning = false;
        return;
      }
      case "addRoute": {
        const l = this.#must(s, op.name);
        const family = routeFamily(op);
        if (!l.up) {
          throw new OpFailure(
            NetlinkFailure.Invalid,
            family === 4 ? "Error: Device for nexthop is not up." : "Error: Nexthop device is not up.",
          );
        }
        if (op.via !== undefined) {
          const via = op.via;
          // A link-local IPv6 gateway (a router learnt from RAs) is on-link by definition.
          // On-link through a prefix route or a gatewayless route via the link (Calico's `169.254.1.1 dev eth0`).
          const onLink = [
            ...this.#connected(s, family)
              .filter((r) => r.dev === l.name)
              .map((r) => r.dst),
            ...s.routes
              .filter((r) => r.family === family && r.ifindex === l.ifindex && r.gateway === undefined)
              .map((r) => r.dst),
          ];
          const hostLen = family === 4 ? 32 : 128;
          const reachable =
            scopeOf(via) === "link" ||
            onLink.some((dst) => dst !== "default" && contains(dst.includes("/") ? dst : `${dst}/${hostLen}`, via));
          if (!reachable) throw new OpFailure(NetlinkFailure.Invalid, "Error: Nexthop has invalid gateway.");
        }
        const dst =
          op.dst === "default" || !op.dst.includes("/")
            ? op.dst
            : networkOf(op.dst.split("/")[0] ?? "", Number(op.dst.split("/")[1]));
        const zero = family === 4 ? "0.0.0.0/0" : "::/0";
        const shown =
          dst === zero ? "default" : dst.endsWith(family === 4 ? "/32" : "/128") ? (dst.split("/")[0] ?? dst) : dst;
        const metric = op.metric ?? defaultMetric(family);
        // IPv6 stores metric 0 as its default.
        const stored = family === 6 && metric === 0 ? defaultMetric(6) : metric;
        const taken =
          s.routes.some((r) => r.family === family && r.dst === shown && r.metric === stored) ||
          (stored === connectedMetric(family) && this.#connected(s, family).some((r) => r.dst === shown));
        if (taken) throw new OpFailure(NetlinkFailure.Exists, "RTNETLINK answers: File exists");
        s.routes.push({
          family,
          dst: shown,
          gateway: op.via,
          ifindex: l.ifindex,
          protocol: op.protocol === "boot" ? undefined : op.protocol,
          metric: stored,
        });
        return;
      }
      case "deleteLink":
        this.#delete(s, this.#must(s, op.name));
        return;
    }
  }
}
