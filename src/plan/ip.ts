/**
 * A small, strict IPv4/IPv6/CIDR helper for planning. src/api/ip.ts is being written separately; this one can be
 * swapped for it once it lands (the planner only needs parse, format, mask and offset).
 */

/** Address family as nftables names it. */
export const Family = { V4: "ip", V6: "ip6" } as const;
export type Family = (typeof Family)[keyof typeof Family];

/** A parsed address: the family and the value as an unsigned integer. */
export interface Ip {
  readonly family: Family;
  readonly value: bigint;
}

/** A parsed CIDR: the address as written, the masked network and the prefix length. */
export interface Cidr {
  readonly ip: Ip;
  readonly network: Ip;
  readonly prefix: number;
}

const DEC_OCTET = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** Bits in an address of the family. */
export function bitsOf(family: Family): number {
  return family === Family.V4 ? 32 : 128;
}

function parseV4(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!DEC_OCTET.test(p)) return undefined;
    v = (v << 8n) | BigInt(Number.parseInt(p, 10));
  }
  return v;
}

function parseV6(text: string): bigint | undefined {
  if (text.length === 0 || text.includes("%")) return undefined;
  let head = text;
  let tail4: bigint | undefined;
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".")) {
    // An embedded dotted quad is only allowed as the last 32 bits.
    tail4 = parseV4(text.slice(lastColon + 1));
    if (tail4 === undefined) return undefined;
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split("::");
  if (halves.length > 2) return undefined;
  const split = (s: string): string[] | undefined => {
    if (s === "") return [];
    const gs = s.split(":");
    return gs.every((g) => HEX_GROUP.test(g)) ? gs : undefined;
  };
  const left = split(halves[0] ?? "");
  const right = halves.length === 2 ? split(halves[1] ?? "") : [];
  if (left === undefined || right === undefined) return undefined;
  const given = left.length + right.length;
  if (halves.length === 2 ? given > 7 : given !== 8) return undefined;
  const groups = [...left, ...Array<string>(8 - given).fill("0"), ...right];
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(Number.parseInt(g, 16));
  if (tail4 !== undefined) v = (v & ~0xffffffffn) | tail4;
  return v;
}

/** Parses an IPv4 or IPv6 address; undefined when it is not one (no zones, no leading zeros in IPv4 octets). */
export function parseIp(text: string): Ip | undefined {
  if (text.includes(":")) {
    const v = parseV6(text);
    return v === undefined ? undefined : { family: Family.V6, value: v };
  }
  const v = parseV4(text);
  return v === undefined ? undefined : { family: Family.V4, value: v };
}

/** Formats an address: dotted quad, or RFC 5952 canonical IPv6 text. */
export function formatIp(ip: Ip): string {
  if (ip.family === Family.V4) {
    const v = ip.value;
    return [24n, 16n, 8n, 0n].map((s) => ((v >> s) & 0xffn).toString()).join(".");
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((ip.value >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952 §4.2: compress the longest run of two or more zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLen = 1;
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
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

/** Parses `addr/prefix` like Go's net.ParseCIDR; undefined when invalid. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf("/");
  if (slash < 0) return undefined;
  const ip = parseIp(text.slice(0, slash));
  const p = text.slice(slash + 1);
  if (ip === undefined || !/^[0-9]{1,3}$/.test(p)) return undefined;
  const prefix = Number.parseInt(p, 10);
  if (prefix > bitsOf(ip.family)) return undefined;
  return { ip, network: { family: ip.family, value: ip.value & maskOf(ip.family, prefix) }, prefix };
}

/** The netmask of a prefix as an integer. */
export function maskOf(family: Family, prefix: number): bigint {
  const bits = BigInt(bitsOf(family));
  const all = (1n << bits) - 1n;
  return (all << (bits - BigInt(prefix))) & all;
}

/** The address `n` after `ip`, or undefined past the end of the family's space. */
export function offsetIp(ip: Ip, n: number): Ip | undefined {
  const v = ip.value + BigInt(n);
  return v < 1n << BigInt(bitsOf(ip.family)) && v >= 0n ? { family: ip.family, value: v } : undefined;
}

/** Whether `ip` is inside `cidr`'s network. */
export function cidrContains(cidr: Cidr, ip: Ip): boolean {
  return ip.family === cidr.network.family && (ip.value & maskOf(ip.family, cidr.prefix)) === cidr.network.value;
}

/** Formats a network as `addr/prefix` with the host bits cleared. */
export function formatNetwork(cidr: Cidr): string {
  return `${formatIp(cidr.network)}/${cidr.prefix}`;
}

/** Dotted-quad netmask of an IPv4 prefix (`24` → `255.255.255.0`). */
export function ipv4Netmask(prefix: number): string {
  return formatIp({ family: Family.V4, value: maskOf(Family.V4, prefix) });
}

/**
 * Go's `IP.IsGlobalUnicast`: not unspecified, loopback, multicast, link-local or (IPv4) limited broadcast. Private
 * ranges count as global, as in Go.
 */
export function isGlobalUnicast(ip: Ip): boolean {
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
