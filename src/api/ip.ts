/**
 * IP address and CIDR parsing with Go's exact acceptance sets, because KubeVirt and Virtink decide validity with Go's
 * `net` package. Flavours:
 * - strict: Go's `net.ParseIP` / `net.ParseCIDR` (Go >= 1.22, built on `netip`): IPv4 octets with leading zeros and
 *   IPv6 groups of more than 4 hex digits are rejected, zones are rejected; with `legacyIPv6`, Go 1.17-1.21's
 *   reading of IPv6, whose groups may be longer when the value fits 16 bits (Virtink's Go 1.19);
 * - sloppy: `k8s.io/utils/net.ParseIPSloppy` / `ParseCIDRSloppy` (Go 1.16's parser), which reads IPv4 octets with
 *   leading zeros as decimal. KubeVirt normalises `ntpServers` and `vmNetworkCIDR` with it at decode time.
 *
 * Addresses are 16 bytes, IPv4 as IPv4-mapped IPv6 (`::ffff:a.b.c.d`), as in Go. For address arithmetic (the
 * planner's network + n, masks, containment) the same parsers also yield {@link IpAddr} / {@link IpPrefix}, an
 * integer with the family as written. The wire codecs (src/dhcp) and the socket shims (src/host) take the same text
 * rules in byte and integer shapes from the end of this file. The one IP text codec of the project.
 */

/** Raised by {@link parseCidr} and {@link parseCidrSloppy}; the message is Go's `ParseError` text. */
export class CidrParseError extends SyntaxError {
  readonly input: string;
  constructor(input: string) {
    super(`invalid CIDR address: ${input}`);
    this.name = "CidrParseError";
    this.input = input;
  }
}

/** A parsed CIDR, like Go's `(IP, *IPNet)` pair. */
export interface Cidr {
  /** The address as written (host bits kept), 16 bytes. */
  readonly ip: Uint8Array;
  /** The address with host bits cleared, 16 bytes. */
  readonly network: Uint8Array;
  /** Prefix length in bits. */
  readonly prefix: number;
  /** 32 for an IPv4 CIDR, 128 for IPv6 (an IPv4-mapped address written in IPv6 form is IPv6 here, as in Go). */
  readonly bits: 32 | 128;
}

const V4_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] as const;

function v4mapped(a: number, b: number, c: number, d: number): Uint8Array {
  return Uint8Array.from([...V4_PREFIX, a, b, c, d]);
}

const isDigit = (c: string | undefined): c is string => c !== undefined && c >= "0" && c <= "9";

function hexValue(c: string | undefined): number {
  if (c === undefined) return -1;
  if (c >= "0" && c <= "9") return c.charCodeAt(0) - 48;
  if (c >= "a" && c <= "f") return c.charCodeAt(0) - 87;
  if (c >= "A" && c <= "F") return c.charCodeAt(0) - 55;
  return -1;
}

// Go's dtoi/xtoi stop at this bound so that long digit strings cannot overflow.
const BIG = 0xffffff;

/** Go's `dtoi`: leading decimal digits of `s` from `start`; `ok` false when there are none or the value is too big. */
function dtoi(s: string, start: number): { n: number; end: number; ok: boolean } {
  let n = 0;
  let i = start;
  for (; isDigit(s[i]); i++) {
    n = n * 10 + (s.charCodeAt(i) - 48);
    if (n >= BIG) return { n: BIG, end: i, ok: false };
  }
  return { n, end: i, ok: i !== start };
}

/** Go's `xtoi`: leading hex digits of `s` from `start`. */
function xtoi(s: string, start: number): { n: number; end: number; ok: boolean } {
  let n = 0;
  let i = start;
  for (; hexValue(s[i]) >= 0; i++) {
    n = n * 16 + hexValue(s[i]);
    if (n >= BIG) return { n: 0, end: i, ok: false };
  }
  return { n, end: i, ok: i !== start };
}

/** netip's strict dotted-quad parser over the whole of `s`: exactly 4 fields, no leading zeros, each <= 255. */
function parseV4Strict(s: string): number[] | undefined {
  const fields: number[] = [];
  let val = 0;
  let digits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (isDigit(c)) {
      if (digits === 1 && val === 0) return undefined;
      val = val * 10 + (s.charCodeAt(i) - 48);
      digits++;
      if (val > 255) return undefined;
    } else if (c === ".") {
      if (i === 0 || i === s.length - 1 || s[i - 1] === ".") return undefined;
      if (fields.length === 3) return undefined;
      fields.push(val);
      val = 0;
      digits = 0;
    } else {
      return undefined;
    }
  }
  if (fields.length < 3) return undefined;
  fields.push(val);
  return fields;
}

/** Go 1.16's dotted-quad parser: leading zeros allowed (read as decimal). */
function parseV4Sloppy(s: string): number[] | undefined {
  const out: number[] = [];
  let i = 0;
  for (let k = 0; k < 4; k++) {
    if (i >= s.length) return undefined;
    if (k > 0) {
      if (s[i] !== ".") return undefined;
      i++;
    }
    const d = dtoi(s, i);
    if (!d.ok || d.n > 0xff) return undefined;
    out.push(d.n);
    i = d.end;
  }
  return i === s.length ? out : undefined;
}

/** How an IPv6 text is read: netip's (Go >= 1.22), Go 1.17-1.21's, or Go 1.16's (sloppy). */
type V6Flavour = "netip" | "legacy" | "sloppy";

/**
 * The IPv6 parser of every flavour. They differ in group width (netip: at most 4 hex digits; legacy and sloppy: any
 * number of digits as long as the value fits 16 bits) and in how an embedded IPv4 tail is read (sloppy allows
 * leading zeros).
 */
function parseV6(input: string, flavour: V6Flavour): Uint8Array | undefined {
  const ip = new Uint8Array(16);
  let s = input;
  let ellipsis = -1;
  if (s.length >= 2 && s[0] === ":" && s[1] === ":") {
    ellipsis = 0;
    s = s.slice(2);
    if (s.length === 0) return ip;
  }
  let i = 0;
  while (i < 16) {
    let n: number;
    let off: number;
    if (flavour !== "netip") {
      const x = xtoi(s, 0);
      if (!x.ok || x.n > 0xffff) return undefined;
      n = x.n;
      off = x.end;
    } else {
      n = 0;
      off = 0;
      for (; off < s.length && hexValue(s[off]) >= 0; off++) {
        if (off > 3) return undefined;
        n = n * 16 + hexValue(s[off]);
      }
      if (off === 0) return undefined;
    }
    if (off < s.length && s[off] === ".") {
      if (ellipsis < 0 && i !== 12) return undefined;
      if (i + 4 > 16) return undefined;
      const v4 = flavour === "sloppy" ? parseV4Sloppy(s) : parseV4Strict(s);
      if (!v4) return undefined;
      ip.set(v4, i);
      s = "";
      i += 4;
      break;
    }
    ip[i] = n >> 8;
    ip[i + 1] = n & 0xff;
    i += 2;
    s = s.slice(off);
    if (s.length === 0) break;
    if (s[0] !== ":" || s.length === 1) return undefined;
    s = s.slice(1);
    if (s[0] === ":") {
      if (ellipsis >= 0) return undefined;
      ellipsis = i;
      s = s.slice(1);
      if (s.length === 0) break;
    }
  }
  if (s.length !== 0) return undefined;
  if (i < 16) {
    if (ellipsis < 0) return undefined;
    const n = 16 - i;
    for (let j = i - 1; j >= ellipsis; j--) ip[j + n] = ip[j] ?? 0;
    ip.fill(0, ellipsis, ellipsis + n);
  } else if (ellipsis >= 0) {
    // The :: must stand for at least one group of zeros.
    return undefined;
  }
  return ip;
}

/** Which parser the first `.` or `:` selects, as Go's `ParseIP` does. */
function firstSeparator(s: string): "." | ":" | undefined {
  for (const c of s) {
    if (c === "." || c === ":") return c;
  }
  return undefined;
}

/** Options of {@link parseIp} and {@link parseCidr}. */
export interface GoIpOptions {
  /**
   * Read IPv6 as Go 1.17-1.21 did (Virtink is built with Go 1.19): a hex group may have more than 4 digits when its
   * value fits 16 bits (`00001::`). IPv4 rules are the same. Default false: Go >= 1.22's `netip` rules (KubeVirt).
   */
  readonly legacyIPv6?: boolean;
}

/** Go's `net.ParseIP`: the 16-byte address, or undefined when `s` is not a valid textual IPv4 or IPv6 address. */
export function parseIp(s: string, options: GoIpOptions = {}): Uint8Array | undefined {
  switch (firstSeparator(s)) {
    case ".": {
      const v4 = parseV4Strict(s);
      return v4 ? v4mapped(v4[0] ?? 0, v4[1] ?? 0, v4[2] ?? 0, v4[3] ?? 0) : undefined;
    }
    case ":":
      return parseV6(s, options.legacyIPv6 ? "legacy" : "netip");
    default:
      return undefined;
  }
}

/** `k8s.io/utils/net.ParseIPSloppy`: like {@link parseIp} but IPv4 octets may have leading zeros (`010.1.2.3`). */
export function parseIpSloppy(s: string): Uint8Array | undefined {
  switch (firstSeparator(s)) {
    case ".": {
      const v4 = parseV4Sloppy(s);
      return v4 ? v4mapped(v4[0] ?? 0, v4[1] ?? 0, v4[2] ?? 0, v4[3] ?? 0) : undefined;
    }
    case ":":
      return parseV6(s, "sloppy");
    default:
      return undefined;
  }
}

/** Go's `IP.To4`: the 4-byte form of an IPv4 (or IPv4-mapped) address, else undefined. */
export function ipTo4(ip: Uint8Array): Uint8Array | undefined {
  if (ip.length === 4) return ip;
  if (ip.length !== 16) return undefined;
  for (let i = 0; i < 12; i++) if (ip[i] !== V4_PREFIX[i]) return undefined;
  return ip.slice(12);
}

/** Whether `s` is an IPv4 address by Go's rules (`net.ParseIP(s).To4() != nil`, which includes `::ffff:a.b.c.d`). */
export function isIPv4(s: string): boolean {
  const ip = parseIp(s);
  return ip !== undefined && ipTo4(ip) !== undefined;
}

/** RFC 5952 §4 text of eight 16-bit groups: lowercase, no leading zeros, the first longest run of two or more zero groups as `::`. */
function formatGroups(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (g: readonly number[]): string => g.map((x) => x.toString(16)).join(":");
  if (bestLen < 2) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

/**
 * Go's `IP.String`: dotted quad for IPv4 and IPv4-mapped addresses; otherwise RFC 5952 form (lowercase, the first
 * longest run of two or more zero groups as `::`).
 */
export function formatIp(ip: Uint8Array): string {
  const v4 = ipTo4(ip);
  if (v4) return Array.from(v4).join(".");
  if (ip.length !== 16) throw new RangeError(`Cannot format an IP address of ${ip.length} bytes`);
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((ip[i] ?? 0) << 8) | (ip[i + 1] ?? 0));
  return formatGroups(groups);
}

function mask(ip: Uint8Array, prefix: number, bits: 32 | 128): Uint8Array {
  const out = ip.slice();
  const offset = bits === 32 ? 12 : 0;
  for (let i = offset; i < 16; i++) {
    const bitIndex = (i - offset) * 8;
    const keep = Math.max(0, Math.min(8, prefix - bitIndex));
    out[i] = (out[i] ?? 0) & ((0xff << (8 - keep)) & 0xff);
  }
  return out;
}

/** Parses the `/n` part: decimal digits only (leading zeros allowed, as Go's `dtoi`), at most `bits`. */
function parsePrefixLength(s: string, bits: number): number | undefined {
  const d = dtoi(s, 0);
  if (!d.ok || d.end !== s.length || d.n > bits) return undefined;
  return d.n;
}

/** Go's `net.ParseCIDR` returning undefined instead of throwing; see {@link parseCidr}. */
export function tryParseCidr(s: string, options: GoIpOptions = {}): Cidr | undefined {
  const slash = s.indexOf("/");
  if (slash < 0) return undefined;
  const addr = s.slice(0, slash);
  const ip = parseIp(addr, options);
  if (!ip) return undefined;
  // netip.Addr.BitLen: an address written in dotted form is IPv4, anything with a colon is IPv6.
  const bits = firstSeparator(addr) === "." ? 32 : 128;
  const prefix = parsePrefixLength(s.slice(slash + 1), bits);
  if (prefix === undefined) return undefined;
  return { ip, network: mask(ip, prefix, bits), prefix, bits };
}

/**
 * Go's `net.ParseCIDR`: `a.b.c.d/n` or `ipv6/n`. Throws {@link CidrParseError} (`invalid CIDR address: <input>`)
 * for anything Go rejects, including IPv4 octets with leading zeros and IPv6 zones.
 */
export function parseCidr(s: string, options: GoIpOptions = {}): Cidr {
  const cidr = tryParseCidr(s, options);
  if (!cidr) throw new CidrParseError(s);
  return cidr;
}

/**
 * `k8s.io/utils/net.ParseCIDRSloppy` (Go 1.16's `ParseCIDR`): like {@link parseCidr} but IPv4 octets may have
 * leading zeros.
 */
export function parseCidrSloppy(s: string): Cidr {
  const slash = s.indexOf("/");
  if (slash < 0) throw new CidrParseError(s);
  const addr = s.slice(0, slash);
  // Go 1.16 tries IPv4 first, then IPv6: the family comes from which parser succeeded.
  const v4 = parseV4Sloppy(addr);
  const bits = v4 ? 32 : 128;
  const ip = v4 ? v4mapped(v4[0] ?? 0, v4[1] ?? 0, v4[2] ?? 0, v4[3] ?? 0) : parseV6(addr, "sloppy");
  if (!ip) throw new CidrParseError(s);
  const prefix = parsePrefixLength(s.slice(slash + 1), bits);
  if (prefix === undefined) throw new CidrParseError(s);
  return { ip, network: mask(ip, prefix, bits), prefix, bits };
}

/** Go's `IPNet.String` of the network: `10.0.2.0/24`, `2001:db8::/48`. */
export function formatCidr(cidr: Cidr): string {
  // Go prints an IPv4-mapped network with only the last 4 bytes of its 16-byte mask (`networkNumberAndMask`).
  const prefix = cidr.bits === 128 && ipTo4(cidr.network) ? Math.max(0, cidr.prefix - 96) : cidr.prefix;
  return `${formatIp(cidr.network)}/${prefix}`;
}

/**
 * The address count Virtink compares with a minimum: Go's `int` expression `1 << (bits - ones)` on a 64-bit
 * platform. Shifts of 64 or more give 0 and a shift of 63 gives a negative number, so IPv6 /64 and /65 count as
 * smaller than any minimum (Virtink reference §2.4). Not the real size of the network.
 */
export function goInt64AddressCount(cidr: Cidr): bigint {
  const shift = cidr.bits - cidr.prefix;
  return shift >= 64 ? 0n : BigInt.asIntN(64, 1n << BigInt(shift));
}

// Address arithmetic. The planner counts hosts from a network (network + 1, + 2), compares networks and picks
// addresses by family, which is easier on an integer than on bytes; the text rules stay those of the parsers above.

/** Address family, named as nftables names it. */
export const Family = { V4: "ip", V6: "ip6" } as const;
export type Family = (typeof Family)[keyof typeof Family];

/**
 * An address with the family it was written in, like Go's `netip.Addr`: `::ffff:10.1.2.3` is IPv6 here (unlike
 * {@link ipTo4}), and the value is an unsigned integer of 32 or 128 bits.
 */
export interface IpAddr {
  readonly family: Family;
  readonly value: bigint;
}

/** A CIDR over {@link IpAddr}: the address as written, the network with host bits cleared, the prefix length. */
export interface IpPrefix {
  readonly ip: IpAddr;
  readonly network: IpAddr;
  readonly prefix: number;
}

/** Bits in an address of the family. */
export function bitsOf(family: Family): 32 | 128 {
  return family === Family.V4 ? 32 : 128;
}

function toIpAddr(ip: Uint8Array, bits: 32 | 128): IpAddr {
  let value = 0n;
  for (const b of bits === 32 ? ip.subarray(12) : ip) value = (value << 8n) | BigInt(b);
  return { family: bits === 32 ? Family.V4 : Family.V6, value };
}

/**
 * Go's `netip.ParseAddr` (Go >= 1.22; zones rejected): like {@link parseIp}, but the family is the one the text is
 * written in.
 */
export function parseIpAddr(s: string): IpAddr | undefined {
  const ip = parseIp(s);
  return ip ? toIpAddr(ip, firstSeparator(s) === "." ? 32 : 128) : undefined;
}

/**
 * Dotted quad for IPv4; RFC 5952 §4 text for IPv6, also for IPv4-mapped addresses (`::ffff:a01:203`: no §5
 * mixed notation, unlike {@link formatIp}).
 */
export function formatIpAddr(ip: IpAddr): string {
  const v = ip.value;
  if (ip.family === Family.V4) return [24n, 16n, 8n, 0n].map((s) => ((v >> s) & 0xffn).toString()).join(".");
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  return formatGroups(groups);
}

/** The netmask of a prefix length as an integer (`V4, 24` → `0xffffff00`). */
export function prefixMask(family: Family, prefix: number): bigint {
  const bits = BigInt(bitsOf(family));
  const all = (1n << bits) - 1n;
  return (all << (bits - BigInt(prefix))) & all;
}

/** Go's `net.ParseCIDR` over {@link IpAddr}, the family as written; undefined for anything Go rejects. */
export function parseIpPrefix(s: string): IpPrefix | undefined {
  const cidr = tryParseCidr(s);
  if (!cidr) return undefined;
  const ip = toIpAddr(cidr.ip, cidr.bits);
  return { ip, network: toIpAddr(cidr.network, cidr.bits), prefix: cidr.prefix };
}

/** Formats a network as `addr/prefix` with the host bits cleared, the address as {@link formatIpAddr} does. */
export function formatIpPrefix(cidr: IpPrefix): string {
  return `${formatIpAddr(cidr.network)}/${cidr.prefix}`;
}

/** The address `n` after `ip` (`network + n` for the n-th host), or undefined outside the family's space. */
export function offsetIp(ip: IpAddr, n: number): IpAddr | undefined {
  const v = ip.value + BigInt(n);
  return v < 1n << BigInt(bitsOf(ip.family)) && v >= 0n ? { family: ip.family, value: v } : undefined;
}

/** Whether `ip` is of the prefix's family and inside its network. */
export function prefixContains(cidr: IpPrefix, ip: IpAddr): boolean {
  return ip.family === cidr.network.family && (ip.value & prefixMask(ip.family, cidr.prefix)) === cidr.network.value;
}

/** Whether two networks share an address (one contains the other's network address). */
export function prefixesOverlap(a: IpPrefix, b: IpPrefix): boolean {
  if (a.network.family !== b.network.family) return false;
  const shorter = Math.min(a.prefix, b.prefix);
  const m = prefixMask(a.network.family, shorter);
  return (a.network.value & m) === (b.network.value & m);
}

/** Dotted-quad netmask of an IPv4 prefix length (`24` → `255.255.255.0`). */
export function ipv4Netmask(prefix: number): string {
  return formatIpAddr({ family: Family.V4, value: prefixMask(Family.V4, prefix) });
}

/**
 * Whether `ip` is a global unicast address as the planner decides it for pod addresses: not unspecified, loopback
 * (127/8, ::1), limited broadcast, link-local (169.254/16, fe80::/10) or multicast. Private ranges count as global,
 * as in Go's `IsGlobalUnicast`. Two deliberate differences from Go: all of 224/3 counts as multicast (Go: 224/4
 * only, so 240/4 is global there), and an IPv4-mapped address is judged as IPv6 (Go unmaps it first).
 */
export function isGlobalUnicast(ip: IpAddr): boolean {
  if (ip.family === Family.V4) {
    const first = ip.value >> 24n;
    if (ip.value === 0n || ip.value === 0xffffffffn) return false;
    if (first === 127n || first >= 224n) return false;
    return ip.value >> 16n !== 0xa9fen;
  }
  if (ip.value === 0n || ip.value === 1n) return false;
  const top16 = ip.value >> 112n;
  if (top16 >> 8n === 0xffn) return false;
  return (top16 & 0xffc0n) !== 0xfe80n;
}

// Byte- and integer-level forms for the wire codecs (DHCPv4, DHCPv6, NDP) and the socket shims. The text rules are
// those of the parsers above (Go >= 1.22's netip: no leading zeros in IPv4 octets, at most 4 hex digits per group,
// no zones); only the shapes differ: 16 bytes for IPv6, an unsigned 32-bit integer for IPv4.

/** Like {@link parseIpv6} but returns undefined instead of throwing. */
export function tryParseIpv6(text: string): Uint8Array | undefined {
  // Only a text with a colon before any dot is IPv6; a bare dotted quad is IPv4 and not accepted here.
  return firstSeparator(text) === ":" ? parseV6(text, "netip") : undefined;
}

/**
 * Parses IPv6 text (RFC 4291 §2.2 forms, including an embedded dotted quad, no zone) into 16 bytes in network order.
 * Throws a SyntaxError when invalid.
 */
export function parseIpv6(text: string): Uint8Array {
  const bytes = tryParseIpv6(text);
  if (!bytes) throw new SyntaxError(`Cannot parse IPv6 address "${text}"`);
  return bytes;
}

/**
 * 16 bytes as Go's `netip.Addr.String` of an IPv6 address: RFC 5952 §4 (lowercase, no leading zeros, the first
 * longest run of two or more zero groups as `::`), and §5's `::ffff:a.b.c.d` for IPv4-mapped addresses.
 */
export function formatIpv6(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new RangeError(`Cannot format an IPv6 address of ${bytes.length} bytes`);
  if (ipTo4(bytes) !== undefined) return `::ffff:${Array.from(bytes.subarray(12)).join(".")}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  return formatGroups(groups);
}

/** The RFC 5952 form of an IPv6 address text ({@link parseIpv6} then {@link formatIpv6}); throws a SyntaxError when invalid. */
export function canonicalIpv6(text: string): string {
  return formatIpv6(parseIpv6(text));
}

/** The address text without its `%zone` suffix (Node reports link-local peers as `fe80::1%eth0`). */
export function stripZone(text: string): string {
  const i = text.indexOf("%");
  return i < 0 ? text : text.slice(0, i);
}

/** Like {@link parseIpv4} but returns undefined instead of throwing. */
export function tryParseIpv4(text: string): number | undefined {
  const v4 = parseV4Strict(text);
  return v4 === undefined ? undefined : v4.reduce((acc, octet) => acc * 256 + octet, 0);
}

/** Parses a dotted quad (`10.0.2.2`, no leading zeros) into an unsigned 32-bit integer; throws a SyntaxError when invalid. */
export function parseIpv4(text: string): number {
  const value = tryParseIpv4(text);
  if (value === undefined) throw new SyntaxError(`Cannot parse IPv4 address "${text}"`);
  return value;
}

/** An unsigned 32-bit integer as a dotted quad. */
export function formatIpv4(value: number): string {
  return `${(value >>> 24) & 0xff}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`;
}

/** The netmask of an IPv4 prefix length (0..32) as an unsigned 32-bit integer; throws a RangeError outside 0..32. */
export function ipv4PrefixMask(prefixLength: number): number {
  if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 32) {
    throw new RangeError(`Cannot use prefix length "${prefixLength}": must be an integer from 0 to 32`);
  }
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

/** An IPv4 network as integers, host bits zero. */
export interface Ipv4Cidr {
  readonly address: number;
  readonly prefixLength: number;
}

/**
 * Parses `a.b.c.d/n` for the wire codecs: the prefix length is decimal without leading zeros and the host bits must be
 * zero (a route destination with host bits set is a planning bug). Stricter than {@link parseCidr}, which follows Go.
 * Throws a SyntaxError when malformed, a RangeError when host bits are set.
 */
export function parseIpv4Cidr(text: string): Ipv4Cidr {
  const slash = text.indexOf("/");
  const address = slash < 0 ? undefined : tryParseIpv4(text.slice(0, slash));
  const lengthText = text.slice(slash + 1);
  if (address === undefined || !/^(?:[0-9]|[12][0-9]|3[0-2])$/.test(lengthText)) {
    throw new SyntaxError(`Cannot parse IPv4 CIDR "${text}"`);
  }
  const prefixLength = Number.parseInt(lengthText, 10);
  if ((address & ~ipv4PrefixMask(prefixLength)) >>> 0 !== 0) {
    throw new RangeError(`Cannot use IPv4 CIDR "${text}": host bits are set`);
  }
  return { address, prefixLength };
}

/** Formats a network as `a.b.c.d/n`. */
export function formatIpv4Cidr(cidr: Ipv4Cidr): string {
  return `${formatIpv4(cidr.address)}/${cidr.prefixLength}`;
}

/** Writes an IPv4 address as 4 big-endian bytes at `offset`. */
export function writeIpv4(target: Uint8Array, offset: number, value: number): void {
  target[offset] = (value >>> 24) & 0xff;
  target[offset + 1] = (value >>> 16) & 0xff;
  target[offset + 2] = (value >>> 8) & 0xff;
  target[offset + 3] = value & 0xff;
}

/** Reads 4 big-endian bytes at `offset` as an unsigned 32-bit integer (missing bytes read as zero). */
export function readIpv4(source: Uint8Array, offset: number): number {
  return (
    (((source[offset] ?? 0) << 24) |
      ((source[offset + 1] ?? 0) << 16) |
      ((source[offset + 2] ?? 0) << 8) |
      (source[offset + 3] ?? 0)) >>>
    0
  );
}
