/**
 * A strict CIDR parser with the acceptance set of Go's `net.ParseCIDR` (what KubeVirt and Virtink use), enough to tell
 * whether a VM network CIDR is usable and whether it overlaps the pod network.
 */

/** A parsed CIDR: the address family, the network address (host bits cleared) and the prefix length. */
export interface Cidr {
  readonly family: 4 | 6;
  readonly network: bigint;
  readonly prefix: number;
  /** The text as given. */
  readonly text: string;
}

const V4_OCTET = /^(0|[1-9][0-9]{0,2})$/;
const HEXTET = /^[0-9a-fA-F]{1,4}$/;

/** Parses a dotted IPv4 address; octets with leading zeros are rejected, as Go does. */
export function parseIPv4(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let out = 0n;
  for (const p of parts) {
    if (!V4_OCTET.test(p)) return undefined;
    const n = Number.parseInt(p, 10);
    if (n > 255) return undefined;
    out = (out << 8n) | BigInt(n);
  }
  return out;
}

/** Parses an IPv6 address in RFC 4291 text form, with `::` compression and an optional trailing dotted IPv4. */
export function parseIPv6(text: string): bigint | undefined {
  if (text.includes("%")) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (s: string): string[] | undefined => (s === "" ? [] : s.split(":"));
  const head = groups(halves[0] ?? "");
  const tail = halves.length === 2 ? groups(halves[1] ?? "") : [];
  if (!head || !tail) return undefined;
  const words: number[] = [];
  const pushGroups = (gs: string[], isLast: boolean): boolean => {
    for (let i = 0; i < gs.length; i++) {
      const g = gs[i] ?? "";
      if (isLast && i === gs.length - 1 && g.includes(".")) {
        const v4 = parseIPv4(g);
        if (v4 === undefined) return false;
        words.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else if (HEXTET.test(g)) {
        words.push(Number.parseInt(g, 16));
      } else {
        return false;
      }
    }
    return true;
  };
  const headOk = pushGroups(head, halves.length === 1);
  if (!headOk) return undefined;
  const headLen = words.length;
  if (!pushGroups(tail, true)) return undefined;
  const tailWords = words.splice(headLen);
  if (halves.length === 2) {
    // `::` stands for at least one zero group.
    const zeros = 8 - headLen - tailWords.length;
    if (zeros < 1) return undefined;
    words.push(...new Array<number>(zeros).fill(0), ...tailWords);
  } else {
    words.push(...tailWords);
  }
  if (words.length !== 8) return undefined;
  let out = 0n;
  for (const w of words) out = (out << 16n) | BigInt(w);
  return out;
}

/** Parses `<address>/<prefix>`; returns undefined when Go's `net.ParseCIDR` would fail. Host bits are masked off. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf("/");
  if (slash < 0) return undefined;
  const addr = text.slice(0, slash);
  const len = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(len)) return undefined;
  const prefix = Number.parseInt(len, 10);
  const v4 = parseIPv4(addr);
  if (v4 !== undefined) {
    if (prefix > 32) return undefined;
    return { family: 4, network: mask(v4, 32, prefix), prefix, text };
  }
  const v6 = parseIPv6(addr);
  if (v6 !== undefined) {
    if (prefix > 128) return undefined;
    return { family: 6, network: mask(v6, 128, prefix), prefix, text };
  }
  return undefined;
}

function mask(addr: bigint, bits: number, prefix: number): bigint {
  const hostBits = BigInt(bits - prefix);
  return (addr >> hostBits) << hostBits;
}

/** The number of addresses in a CIDR. */
export function cidrSize(c: Cidr): bigint {
  return 1n << BigInt((c.family === 4 ? 32 : 128) - c.prefix);
}

/** Whether two CIDRs of the same family share at least one address. */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const bits = a.family === 4 ? 32 : 128;
  const shorter = Math.min(a.prefix, b.prefix);
  return mask(a.network, bits, shorter) === mask(b.network, bits, shorter);
}
