/**
 * Links, addresses and routes of one network namespace, seen and changed the way the runtime needs them. Reads use
 * `ip -json`; changes are plain-data {@link NetlinkOp}s applied through ONE `ip -batch -` process per call.
 */
import { readFileSync } from "node:fs";
import { assertNetnsName, type Executor, HostCommandError, hostExecutor } from "./exec.ts";

/** Link kinds the runtime creates or recognises (`linkinfo.info_kind`; a tap is kind `tun`). */
export const LinkKind = {
  Bridge: "bridge",
  Tun: "tun",
  Dummy: "dummy",
  Veth: "veth",
  Macvtap: "macvtap",
  Macvlan: "macvlan",
} as const;
export type LinkKind = (typeof LinkKind)[keyof typeof LinkKind];

/** tun/tap details from `linkinfo.info_data`. */
export interface TunInfo {
  readonly type: "tap" | "tun";
  readonly multiQueue: boolean;
  readonly vnetHdr: boolean;
  readonly persist: boolean;
  /** Owner uid, when set. */
  readonly user?: number;
  /** Owner gid, when set. */
  readonly group?: number;
}

/** One link as the kernel reports it. */
export interface Link {
  readonly name: string;
  readonly ifindex: number;
  /** `linkinfo.info_kind`; undefined for plain devices such as loopback. Other kinds pass through as strings. */
  readonly kind: LinkKind | (string & {}) | undefined;
  readonly mac: string;
  readonly mtu: number;
  /** Name of the master (bridge) device, if enslaved. */
  readonly master: string | undefined;
  /** RFC 2863 operational state as `ip` prints it: UP, DOWN, UNKNOWN, LOWERLAYERDOWN, ... */
  readonly operstate: string;
  /** Interface flags as `ip` prints them: UP, LOWER_UP, BROADCAST, MULTICAST, NO-CARRIER, ... */
  readonly flags: readonly string[];
  readonly tun?: TunInfo;
  /** Bridge-port learning flag, for links enslaved to a bridge. */
  readonly learning?: boolean;
}

/** An address family as `ip` names it. */
export type AddressFamily = "inet" | "inet6";

/** One address of one link. */
export interface Address {
  readonly ifname: string;
  readonly ifindex: number;
  readonly family: AddressFamily;
  /** The address without prefix, e.g. `10.0.2.1`. */
  readonly local: string;
  readonly prefixlen: number;
  /** `host`, `link` or `global`. */
  readonly scope: string;
}

/** One route of the main table. */
export interface Route {
  /** `default` or a prefix such as `10.0.2.0/24`; host routes have no `/len`, as `ip` prints them. */
  readonly dst: string;
  readonly gateway?: string;
  readonly dev?: string;
  readonly protocol?: string;
  readonly scope?: string;
  readonly prefsrc?: string;
  readonly metric?: number;
}

/** The operations a batch can contain. Values of the `op` field. */
export const NetlinkOpType = {
  AddBridge: "addBridge",
  AddDummy: "addDummy",
  AddTap: "addTap",
  AddMacvtap: "addMacvtap",
  Rename: "rename",
  SetMac: "setMac",
  SetMtu: "setMtu",
  SetMaster: "setMaster",
  SetNoMaster: "setNoMaster",
  SetUp: "setUp",
  SetDown: "setDown",
  FlushAddresses: "flushAddresses",
  AddAddress: "addAddress",
  DeleteAddress: "deleteAddress",
  SetLearningOff: "setLearningOff",
  AddRoute: "addRoute",
  DeleteLink: "deleteLink",
} as const;
export type NetlinkOpType = (typeof NetlinkOpType)[keyof typeof NetlinkOpType];

/** macvtap/macvlan modes. */
export type MacvtapMode = "bridge" | "vepa" | "private" | "passthru";

/** One link change, as plain data so the planner can produce it and tests can compare it. */
export type NetlinkOp =
  | { readonly op: "addBridge"; readonly name: string }
  | { readonly op: "addDummy"; readonly name: string }
  | {
      readonly op: "addTap";
      readonly name: string;
      readonly multiQueue?: boolean;
      readonly vnetHdr?: boolean;
      readonly user?: number;
      readonly group?: number;
    }
  | { readonly op: "addMacvtap"; readonly name: string; readonly link: string; readonly mode?: MacvtapMode }
  | { readonly op: "rename"; readonly name: string; readonly newName: string }
  | { readonly op: "setMac"; readonly name: string; readonly mac: string }
  | { readonly op: "setMtu"; readonly name: string; readonly mtu: number }
  | { readonly op: "setMaster"; readonly name: string; readonly master: string }
  | { readonly op: "setNoMaster"; readonly name: string }
  | { readonly op: "setUp"; readonly name: string }
  | { readonly op: "setDown"; readonly name: string }
  | { readonly op: "flushAddresses"; readonly name: string }
  /** `address` with prefix, e.g. `10.0.2.1/24`; `noDad` skips IPv6 duplicate address detection. */
  | { readonly op: "addAddress"; readonly name: string; readonly address: string; readonly noDad?: boolean }
  /** Removes the one address `address` (with its prefix, which must match too). */
  | { readonly op: "deleteAddress"; readonly name: string; readonly address: string }
  | { readonly op: "setLearningOff"; readonly name: string }
  | AddRouteOp
  | { readonly op: "deleteLink"; readonly name: string };

/**
 * A route for the main table. `dst` is `default` or a prefix; `via` a gateway. The family follows `dst` or `via`;
 * `family: 6` is needed only for an IPv6 route that names neither (`default` without a gateway, `ip -6 route add
 * default dev X`). `protocol` is a name from rt_protos (`static`, `dhcp`, ...) or a number; the kernel's default is
 * `boot`. `metric` defaults to the kernel's (0 for IPv4, 1024 for IPv6).
 */
export interface AddRouteOp {
  readonly op: "addRoute";
  readonly name: string;
  readonly dst: string;
  readonly via?: string;
  readonly family?: 4 | 6;
  readonly protocol?: string;
  readonly metric?: number;
}

/** The address family of a route operation: explicit, else from `dst` or `via`, else IPv4. */
export function routeFamily(op: AddRouteOp): 4 | 6 {
  if (op.family !== undefined) return op.family;
  return op.dst.includes(":") || op.via?.includes(":") === true ? 6 : 4;
}

/** Why a batch operation failed, mapped from the kernel's answer. */
export const NetlinkFailure = {
  Exists: "exists",
  NotFound: "notFound",
  NotSupported: "notSupported",
  Invalid: "invalid",
  Busy: "busy",
  Unknown: "unknown",
} as const;
export type NetlinkFailure = (typeof NetlinkFailure)[keyof typeof NetlinkFailure];

/**
 * An operation of a batch failed. The batch stops there: operations before `opIndex` were applied, the failing one
 * and the rest were not (the kernel has no multi-link transaction, so a caller that needs a clean state reconciles).
 */
export class NetlinkBatchError extends Error {
  override readonly name = "NetlinkBatchError";
  /** Index into the batch of the operation that failed (= how many were applied). */
  readonly opIndex: number;
  readonly op: NetlinkOp;
  readonly reason: NetlinkFailure;
  /** Whether retrying the remaining operations can help. */
  readonly retryable: boolean;

  constructor(opIndex: number, op: NetlinkOp, reason: NetlinkFailure, detail: string, cause?: unknown) {
    super(
      `Cannot apply netlink operation ${opIndex} "${renderOp(op)}": ${detail}`,
      cause === undefined ? undefined : { cause },
    );
    this.opIndex = opIndex;
    this.op = op;
    this.reason = reason;
    this.retryable = reason === NetlinkFailure.Busy;
  }
}

/** Links, addresses and main-table routes of both families, as one read saw them. */
export interface NetlinkSnapshot {
  readonly links: Link[];
  readonly addresses: Address[];
  readonly routes: { readonly 4: Route[]; readonly 6: Route[] };
}

/** What the runtime needs from netlink in one namespace. */
export interface Netlink {
  links(): Promise<Link[]>;
  addresses(): Promise<Address[]>;
  routes(family: 4 | 6): Promise<Route[]>;
  /** What {@link links}, {@link addresses} and both {@link routes} return, read at once (one `ip` process). */
  snapshot(): Promise<NetlinkSnapshot>;
  /** Applies `ops` in order, stopping at the first failure ({@link NetlinkBatchError}). */
  batch(ops: readonly NetlinkOp[]): Promise<void>;
}

/** Kernel limit on interface names: IFNAMSIZ (16) minus the terminating NUL. */
export const MAX_INTERFACE_NAME_BYTES = 15;

/** Throws a RangeError unless `name` is a valid Linux interface name (1..15 bytes, no '/', ':' or whitespace). */
export function assertInterfaceName(name: string): void {
  const bytes = Buffer.byteLength(name, "utf8");
  if (bytes === 0 || bytes > MAX_INTERFACE_NAME_BYTES) {
    throw new RangeError(`Invalid interface name "${name}": must be 1 to ${MAX_INTERFACE_NAME_BYTES} bytes`);
  }
  if (/[/:\s]/.test(name) || name === "." || name === "..") {
    throw new RangeError(`Invalid interface name "${name}": must not contain "/", ":" or whitespace`);
  }
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9a-fA-F:.]{2,45}$/;
// A name from rt_protos, or the protocol number itself.
const PROTOCOL = /^(?:[a-z][a-z0-9_-]{0,31}|25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

function assertAddress(addr: string, withPrefix: boolean): void {
  const [ip, len, ...extra] = addr.split("/");
  const v4 = ip !== undefined && IPV4.test(ip);
  const v6 = ip !== undefined && !v4 && ip.includes(":") && IPV6.test(ip);
  const max = v4 ? 32 : 128;
  const lenOk = withPrefix
    ? len !== undefined && /^\d{1,3}$/.test(len) && Number.parseInt(len, 10) <= max
    : len === undefined || (/^\d{1,3}$/.test(len) && Number.parseInt(len, 10) <= max);
  if ((!v4 && !v6) || !lenOk || extra.length > 0) {
    throw new RangeError(`Invalid address "${addr}"${withPrefix ? ": expected address/prefix" : ""}`);
  }
}

/** Throws a RangeError when an operation carries an invalid name, MAC, MTU, address or id. */
export function validateOp(op: NetlinkOp): void {
  assertInterfaceName(op.name);
  switch (op.op) {
    case "rename":
      assertInterfaceName(op.newName);
      break;
    case "setMaster":
      assertInterfaceName(op.master);
      break;
    case "addMacvtap":
      assertInterfaceName(op.link);
      break;
    case "setMac":
      if (!MAC.test(op.mac))
        throw new RangeError(`Invalid MAC address "${op.mac}": expected lowercase xx:xx:xx:xx:xx:xx`);
      break;
    case "setMtu":
      if (!Number.isInteger(op.mtu) || op.mtu < 68 || op.mtu > 65535) {
        throw new RangeError(`Invalid MTU "${op.mtu}": must be an integer from 68 to 65535`);
      }
      break;
    case "addTap":
      for (const id of [op.user, op.group]) {
        if (id !== undefined && (!Number.isInteger(id) || id < 0 || id > 0xfffffffe)) {
          throw new RangeError(`Invalid tap owner id "${id}"`);
        }
      }
      break;
    case "addAddress":
    case "deleteAddress":
      assertAddress(op.address, true);
      break;
    case "addRoute": {
      if (op.dst !== "default") assertAddress(op.dst, false);
      if (op.via !== undefined) assertAddress(op.via, false);
      const family = routeFamily(op);
      for (const ip of [op.dst, op.via]) {
        if (ip !== undefined && ip !== "default" && ip.includes(":") !== (family === 6)) {
          throw new RangeError(`Invalid route "${renderOp(op)}": "${ip}" is not an IPv${family} address`);
        }
      }
      if (op.protocol !== undefined && !PROTOCOL.test(op.protocol)) {
        throw new RangeError(`Invalid route protocol "${op.protocol}": expected a name or a number from 0 to 255`);
      }
      if (op.metric !== undefined && (!Number.isInteger(op.metric) || op.metric < 0 || op.metric > 0xffffffff)) {
        throw new RangeError(`Invalid route metric "${op.metric}": must be an integer from 0 to 4294967295`);
      }
      break;
    }
    default:
      break;
  }
}

/** The `ip -batch` line of one operation (no `ip` prefix). Names are validated, so no quoting is needed. */
export function renderOp(op: NetlinkOp): string {
  switch (op.op) {
    case "addBridge":
      return `link add name ${op.name} type bridge`;
    case "addDummy":
      return `link add name ${op.name} type dummy`;
    case "addTap": {
      const parts = [`tuntap add dev ${op.name} mode tap`];
      if (op.multiQueue === true) parts.push("multi_queue");
      if (op.vnetHdr === true) parts.push("vnet_hdr");
      if (op.user !== undefined) parts.push(`user ${op.user}`);
      if (op.group !== undefined) parts.push(`group ${op.group}`);
      return parts.join(" ");
    }
    case "addMacvtap":
      return `link add link ${op.link} name ${op.name} type macvtap mode ${op.mode ?? "bridge"}`;
    case "rename":
      return `link set dev ${op.name} name ${op.newName}`;
    case "setMac":
      return `link set dev ${op.name} address ${op.mac}`;
    case "setMtu":
      return `link set dev ${op.name} mtu ${op.mtu}`;
    case "setMaster":
      return `link set dev ${op.name} master ${op.master}`;
    case "setNoMaster":
      return `link set dev ${op.name} nomaster`;
    case "setUp":
      return `link set dev ${op.name} up`;
    case "setDown":
      return `link set dev ${op.name} down`;
    case "flushAddresses":
      return `address flush dev ${op.name}`;
    case "addAddress":
      return `address add ${op.address} dev ${op.name}${op.noDad === true ? " nodad" : ""}`;
    case "deleteAddress":
      return `address del ${op.address} dev ${op.name}`;
    case "setLearningOff":
      return `link set dev ${op.name} type bridge_slave learning off`;
    case "addRoute": {
      // `ip -batch` lines take no `-6`, and a bare `default` is IPv4: `::/0` names the IPv6 default.
      const dst = op.dst === "default" && op.via === undefined && routeFamily(op) === 6 ? "::/0" : op.dst;
      const parts = [`route add ${dst}`];
      if (op.via !== undefined) parts.push(`via ${op.via}`);
      parts.push(`dev ${op.name}`);
      if (op.protocol !== undefined) parts.push(`proto ${op.protocol}`);
      if (op.metric !== undefined) parts.push(`metric ${op.metric}`);
      return parts.join(" ");
    }
    case "deleteLink":
      return `link del dev ${op.name}`;
  }
}

/** The whole stdin of one `ip -batch -` run. */
export function renderBatch(ops: readonly NetlinkOp[]): string {
  for (const op of ops) validateOp(op);
  return ops.map((op) => `${renderOp(op)}\n`).join("");
}

/** Maps the kernel's (or iproute2's) complaint to a {@link NetlinkFailure}. */
export function classifyFailure(stderr: string): NetlinkFailure {
  if (/File exists|already assigned|already exists/i.test(stderr)) return NetlinkFailure.Exists;
  // "Address not found": `address del` of an address (or prefix length) the link does not have.
  if (/Cannot find device|No such device|does not exist|address not found/i.test(stderr))
    return NetlinkFailure.NotFound;
  if (/Device or resource busy|Resource temporarily unavailable/i.test(stderr)) return NetlinkFailure.Busy;
  // "Unknown device type": the kernel lacks the link driver (e.g. no CONFIG_DUMMY).
  if (/not supported|Unknown device type/i.test(stderr)) return NetlinkFailure.NotSupported;
  if (/Network is down|is not up|Nexthop has invalid gateway/i.test(stderr)) return NetlinkFailure.Invalid;
  if (/Invalid argument|greater than device maximum|less than device minimum|invalid|is wrong/i.test(stderr)) {
    return NetlinkFailure.Invalid;
  }
  return NetlinkFailure.Unknown;
}

// ---- parsing `ip -json` output -------------------------------------------------------------------------------------

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function parseArray(stdout: string, what: string): Json[] {
  if (stdout.trim() === "") return [];
  const parsed: unknown = JSON.parse(stdout);
  if (!Array.isArray(parsed)) throw new SyntaxError(`Cannot parse "${what}" output: expected a JSON array`);
  return parsed.filter(isObject);
}

function str(o: Json, key: string): string | undefined {
  const v = o[key];
  return typeof v === "string" ? v : undefined;
}

function num(o: Json, key: string): number | undefined {
  const v = o[key];
  return typeof v === "number" ? v : undefined;
}

/** Resolves a group as `ip` prints it (a name when /etc/group knows the gid) back to a gid. */
function gidOf(group: unknown, groupFile: string): number | undefined {
  if (typeof group === "number") return group;
  if (typeof group !== "string") return undefined;
  if (/^\d+$/.test(group)) return Number.parseInt(group, 10);
  for (const line of groupFile.split("\n")) {
    const [name, , gid] = line.split(":");
    if (name === group && gid !== undefined && /^\d+$/.test(gid)) return Number.parseInt(gid, 10);
  }
  return undefined;
}

/** Parses `ip -json -details link show` output. `groupFile` is /etc/group's text, for tap group names. */
export function parseLinks(stdout: string, groupFile = ""): Link[] {
  return parseArray(stdout, "ip -json link show").map((o) => {
    const linkinfo = isObject(o.linkinfo) ? o.linkinfo : {};
    const kind = str(linkinfo, "info_kind");
    const data = isObject(linkinfo.info_data) ? linkinfo.info_data : undefined;
    const slave = isObject(linkinfo.info_slave_data) ? linkinfo.info_slave_data : undefined;
    let tun: TunInfo | undefined;
    if (kind === "tun" && data !== undefined) {
      const user = typeof data.user === "number" ? data.user : undefined;
      const group = gidOf(data.group, groupFile);
      tun = {
        type: data.type === "tun" ? "tun" : "tap",
        multiQueue: data.multi_queue === true,
        vnetHdr: data.vnet_hdr === true,
        persist: data.persist === true,
        ...(user === undefined ? {} : { user }),
        ...(group === undefined ? {} : { group }),
      };
    }
    const flags = Array.isArray(o.flags) ? o.flags.filter((f): f is string => typeof f === "string") : [];
    const learning = slave !== undefined && typeof slave.learning === "boolean" ? slave.learning : undefined;
    return {
      name: str(o, "ifname") ?? "",
      ifindex: num(o, "ifindex") ?? 0,
      kind,
      mac: str(o, "address") ?? "",
      mtu: num(o, "mtu") ?? 0,
      master: str(o, "master"),
      operstate: str(o, "operstate") ?? "UNKNOWN",
      flags,
      ...(tun === undefined ? {} : { tun }),
      ...(learning === undefined ? {} : { learning }),
    };
  });
}

/** Parses `ip -json address show` output into one entry per address. */
export function parseAddresses(stdout: string): Address[] {
  return parseArray(stdout, "ip -json address show").flatMap((o) => {
    const infos = Array.isArray(o.addr_info) ? o.addr_info.filter(isObject) : [];
    return infos.flatMap((a): Address[] => {
      const family = str(a, "family");
      const local = str(a, "local");
      const prefixlen = num(a, "prefixlen");
      if ((family !== "inet" && family !== "inet6") || local === undefined || prefixlen === undefined) return [];
      return [
        {
          ifname: str(o, "ifname") ?? "",
          ifindex: num(o, "ifindex") ?? 0,
          family,
          local,
          prefixlen,
          scope: str(a, "scope") ?? "global",
        },
      ];
    });
  });
}

/** Parses `ip -json route show` output. */
export function parseRoutes(stdout: string): Route[] {
  return parseArray(stdout, "ip -json route show").map((o) => {
    const r: {
      dst: string;
      gateway?: string;
      dev?: string;
      protocol?: string;
      scope?: string;
      prefsrc?: string;
      metric?: number;
    } = { dst: str(o, "dst") ?? "" };
    const gateway = str(o, "gateway");
    const dev = str(o, "dev");
    const protocol = str(o, "protocol");
    const scope = str(o, "scope");
    const prefsrc = str(o, "prefsrc");
    const metric = num(o, "metric");
    if (gateway !== undefined) r.gateway = gateway;
    if (dev !== undefined) r.dev = dev;
    if (protocol !== undefined) r.protocol = protocol;
    if (scope !== undefined) r.scope = scope;
    if (prefsrc !== undefined) r.prefsrc = prefsrc;
    if (metric !== undefined) r.metric = metric;
    return r;
  });
}

/**
 * Splits the output of an `ip -json -batch -` run into the top-level JSON texts it printed, one per command. `ip`
 * prints each command's array on its own, so the split follows bracket depth outside strings rather than newlines.
 */
export function splitJsonTexts(stdout: string): string[] {
  const texts: string[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < stdout.length; i++) {
    const c = stdout[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === "[" || c === "{") {
      if (depth === 0) start = i;
      depth++;
    } else if (c === "]" || c === "}") {
      depth--;
      if (depth === 0) texts.push(stdout.slice(start, i + 1));
      if (depth < 0) throw new SyntaxError('Cannot parse "ip -json -batch" output: unbalanced brackets');
    }
  }
  if (depth !== 0 || inString) throw new SyntaxError('Cannot parse "ip -json -batch" output: truncated');
  return texts;
}

/**
 * Splits `ip -json -details route show table all` output into the main table's routes per family, as plain `ip -json
 * route show` would print them: `-details` also prints the defaults (protocol `boot`, scope `global`) that the plain
 * output leaves out. An IPv6 route always carries `pref` (the kernel sends RTA_PREF for every IPv6 route), which tells
 * the family of a gatewayless IPv6 `default` whose text alone does not.
 */
export function parseMainRoutes(stdout: string): { 4: Route[]; 6: Route[] } {
  const main = parseArray(stdout, "ip -json -details route show table all")
    .filter((o) => o.table === "main")
    .map((o) => {
      const { protocol, scope, ...rest } = o;
      return {
        ...rest,
        ...(protocol === "boot" ? {} : { protocol }),
        ...(scope === "global" ? {} : { scope }),
      };
    });
  const isV6 = (o: Json) =>
    o.pref !== undefined || [str(o, "dst"), str(o, "gateway"), str(o, "prefsrc")].some((v) => v?.includes(":"));
  const routesOf = (list: Json[]) => parseRoutes(JSON.stringify(list));
  return { 4: routesOf(main.filter((o) => !isV6(o))), 6: routesOf(main.filter(isV6)) };
}

/** Reads the 1-based failing line from `ip -batch` stderr (`Command failed -:LINE`). */
export function failedBatchLine(stderr: string): number | undefined {
  const m = /Command failed -:(\d+)/.exec(stderr);
  return m?.[1] === undefined ? undefined : Number.parseInt(m[1], 10);
}

/** /etc/group's text when `ip` printed a tap's group by name, else empty (no file read). */
function groupFileFor(stdout: string): string {
  if (!stdout.includes('"group":"') || !stdout.includes('"info_kind":"tun"')) return "";
  try {
    return readFileSync("/etc/group", "utf8");
  } catch {
    // Without /etc/group, `ip` printed numeric gids anyway.
    return "";
  }
}

/** The real {@link Netlink}: iproute2 in the named namespace (`ip -n <netns>`), or the root one when undefined. */
export class IprouteNetlink implements Netlink {
  readonly #netns: string | undefined;
  readonly #executor: Executor;

  constructor(netns: string | undefined, options: { readonly executor?: Executor } = {}) {
    if (netns !== undefined) assertNetnsName(netns);
    this.#netns = netns;
    this.#executor = options.executor ?? hostExecutor;
  }

  #ns(): string[] {
    return this.#netns === undefined ? [] : ["-n", this.#netns];
  }

  async links(): Promise<Link[]> {
    const { stdout } = await this.#executor.run("ip", [...this.#ns(), "-json", "-details", "link", "show"]);
    return parseLinks(stdout, groupFileFor(stdout));
  }

  /**
   * One `ip -json -details -batch -` process: `address show` prints every link with the same fields as `link show`
   * plus its addresses, and `route show table all` is the only route dump a batch line can make for both families
   * (batch lines take no `-6`, and `route show table main` dumps IPv4 only).
   */
  async snapshot(): Promise<NetlinkSnapshot> {
    const { stdout } = await this.#executor.run("ip", [...this.#ns(), "-json", "-details", "-batch", "-"], {
      stdin: "address show\nroute show table all\n",
    });
    const [linkText, routeText, ...extra] = splitJsonTexts(stdout);
    if (linkText === undefined || routeText === undefined || extra.length > 0) {
      throw new SyntaxError('Cannot parse "ip -json -batch" output: expected two JSON arrays');
    }
    return {
      links: parseLinks(linkText, groupFileFor(linkText)),
      addresses: parseAddresses(linkText),
      routes: parseMainRoutes(routeText),
    };
  }

  async addresses(): Promise<Address[]> {
    const { stdout } = await this.#executor.run("ip", [...this.#ns(), "-json", "address", "show"]);
    return parseAddresses(stdout);
  }

  async routes(family: 4 | 6): Promise<Route[]> {
    const { stdout } = await this.#executor.run("ip", [...this.#ns(), `-${family}`, "-json", "route", "show"]);
    return parseRoutes(stdout);
  }

  async batch(ops: readonly NetlinkOp[]): Promise<void> {
    if (ops.length === 0) return;
    const stdin = renderBatch(ops);
    // Without -force, `ip -batch` stops at the first failing line and names it, so the applied prefix is known.
    const result = await this.#executor.run("ip", [...this.#ns(), "-batch", "-"], { stdin, allowFailure: true });
    if (result.code === 0) return;
    const line = failedBatchLine(result.stderr);
    const cause = new HostCommandError(`Command "ip -batch -" failed with exit code ${result.code}`, {
      command: ["ip", ...this.#ns(), "-batch", "-"],
      exitCode: result.code,
      stderr: result.stderr,
    });
    const op = line === undefined ? undefined : ops[line - 1];
    if (line === undefined || op === undefined) throw cause;
    const index = line - 1;
    const detail = result.stderr.replace(/Command failed -:\d+\s*/g, "").trim();
    throw new NetlinkBatchError(index, op, classifyFailure(result.stderr), detail, cause);
  }
}
