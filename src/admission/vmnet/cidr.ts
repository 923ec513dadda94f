/**
 * CIDR arithmetic for vmnet's checks (size, overlap) on top of the Go-exact parser of src/api/ip.ts, which decides
 * what KubeVirt and Virtink can parse.
 */
import { parseCidr as parseGoCidr } from "../../api/ip.ts";

/** A parsed CIDR: the address family, the network address (host bits cleared) and the prefix length. */
export interface Cidr {
  readonly family: 4 | 6;
  readonly network: bigint;
  readonly prefix: number;
  /** The text as given. */
  readonly text: string;
}

/** Parses `<address>/<prefix>` as Go's `net.ParseCIDR` does; undefined when Go would fail. */
export function parseCidr(text: string): Cidr | undefined {
  let go: ReturnType<typeof parseGoCidr>;
  try {
    go = parseGoCidr(text);
  } catch {
    return undefined;
  }
  // Go keeps IPv4 as IPv4-mapped IPv6 (16 bytes); the last 4 bytes are the IPv4 address.
  const bytes = go.bits === 32 ? go.network.subarray(12) : go.network;
  let network = 0n;
  for (const b of bytes) network = (network << 8n) | BigInt(b);
  return { family: go.bits === 32 ? 4 : 6, network, prefix: go.prefix, text };
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
