/**
 * IP address and CIDR parsing with Go's exact acceptance sets, because KubeVirt and Virtink decide validity with Go's
 * `net` package. Flavours:
 * - strict: Go's `net.ParseIP` / `net.ParseCIDR` (Go >= 1.22, built on `netip`): IPv4 octets with leading zeros and
 *   IPv6 groups of more than 4 hex digits are rejected, zones are rejected; with `legacyIPv6`, Go 1.17-1.21's
 *   reading of IPv6, whose groups may be longer when the value fits 16 bits (Virtink's Go 1.19);
 * - sloppy: `k8s.io/utils/net.ParseIPSloppy` / `ParseCIDRSloppy` (Go 1.16's parser), which reads IPv4 octets with
 *   leading zeros as decimal. KubeVirt normalises `ntpServers` and `vmNetworkCIDR` with it at decode time.
 *
 * Addresses are 16 bytes, IPv4 as IPv4-mapped IPv6 (`::ffff:a.b.c.d`), as in Go.
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
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (g: number[]): string => g.map((x) => x.toString(16)).join(":");
  if (bestLen < 2) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
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
function parsePrefix(s: string, bits: number): number | undefined {
  const d = dtoi(s, 0);
  if (!d.ok || d.end !== s.length || d.n > bits) return undefined;
  return d.n;
}

/**
 * Go's `net.ParseCIDR`: `a.b.c.d/n` or `ipv6/n`. Throws {@link CidrParseError} (`invalid CIDR address: <input>`)
 * for anything Go rejects, including IPv4 octets with leading zeros and IPv6 zones.
 */
export function parseCidr(s: string, options: GoIpOptions = {}): Cidr {
  const slash = s.indexOf("/");
  if (slash < 0) throw new CidrParseError(s);
  const addr = s.slice(0, slash);
  const ip = parseIp(addr, options);
  if (!ip) throw new CidrParseError(s);
  // netip.Addr.BitLen: an address written in dotted form is IPv4, anything with a colon is IPv6.
  const bits = firstSeparator(addr) === "." ? 32 : 128;
  const prefix = parsePrefix(s.slice(slash + 1), bits);
  if (prefix === undefined) throw new CidrParseError(s);
  return { ip, network: mask(ip, prefix, bits), prefix, bits };
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
  const prefix = parsePrefix(s.slice(slash + 1), bits);
  if (prefix === undefined) throw new CidrParseError(s);
  return { ip, network: mask(ip, prefix, bits), prefix, bits };
}

/** Go's `IPNet.String` of the network: `10.0.2.0/24`, `2001:db8::/48`. */
export function formatCidr(cidr: Cidr): string {
  // Go prints an IPv4-mapped network with only the last 4 bytes of its 16-byte mask (`networkNumberAndMask`).
  const prefix = cidr.bits === 128 && ipTo4(cidr.network) ? Math.max(0, cidr.prefix - 96) : cidr.prefix;
  return `${formatIp(cidr.network)}/${prefix}`;
}
