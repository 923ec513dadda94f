/**
 * IPv4 and MAC address helpers for the DHCPv4 codec: strict parsers (no `Number(x)` on untrusted octets) and
 * formatters. Addresses are carried as unsigned 32-bit numbers inside the codec.
 */

const DECIMAL_OCTET = /^(?:0|[1-9][0-9]{0,2})$/;
const HEX_OCTET = /^[0-9a-fA-F]{2}$/;

/** Parses a dotted-quad IPv4 address ("10.0.2.2") into an unsigned 32-bit number; leading zeros are rejected. */
export function parseIPv4(text: string): number {
  const parts = text.split(".");
  if (parts.length !== 4) throw new SyntaxError(`Cannot parse IPv4 address "${text}"`);
  let value = 0;
  for (const part of parts) {
    if (!DECIMAL_OCTET.test(part)) throw new SyntaxError(`Cannot parse IPv4 address "${text}"`);
    const octet = Number.parseInt(part, 10);
    if (octet > 255) throw new SyntaxError(`Cannot parse IPv4 address "${text}"`);
    value = value * 256 + octet;
  }
  return value >>> 0;
}

/** Formats an unsigned 32-bit number as a dotted-quad IPv4 address. */
export function formatIPv4(value: number): string {
  return `${(value >>> 24) & 0xff}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`;
}

/** Returns the netmask for a prefix length 0..32 as an unsigned 32-bit number. */
export function prefixToMask(prefixLength: number): number {
  if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 32) {
    throw new RangeError(`Cannot use prefix length "${prefixLength}": must be an integer from 0 to 32`);
  }
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

/** An IPv4 prefix such as `10.0.0.0/8`, host bits zero. */
export interface IPv4Cidr {
  readonly address: number;
  readonly prefixLength: number;
}

/** Parses `a.b.c.d/n`; host bits must be zero (a route destination with host bits set is a planning bug). */
export function parseIPv4Cidr(text: string): IPv4Cidr {
  const slash = text.indexOf("/");
  if (slash < 0) throw new SyntaxError(`Cannot parse IPv4 CIDR "${text}"`);
  const address = parseIPv4(text.slice(0, slash));
  const lengthText = text.slice(slash + 1);
  if (!/^(?:[0-9]|[12][0-9]|3[0-2])$/.test(lengthText)) throw new SyntaxError(`Cannot parse IPv4 CIDR "${text}"`);
  const prefixLength = Number.parseInt(lengthText, 10);
  if ((address & ~prefixToMask(prefixLength)) >>> 0 !== 0) {
    throw new RangeError(`Cannot use IPv4 CIDR "${text}": host bits are set`);
  }
  return { address, prefixLength };
}

/** Formats a prefix as `a.b.c.d/n`. */
export function formatIPv4Cidr(cidr: IPv4Cidr): string {
  return `${formatIPv4(cidr.address)}/${cidr.prefixLength}`;
}

/** Parses a colon- or dash-separated 48-bit MAC address into 6 bytes. */
export function parseMac(text: string): Uint8Array {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => HEX_OCTET.test(p))) {
    throw new SyntaxError(`Cannot parse MAC address "${text}"`);
  }
  return Uint8Array.from(parts.map((p) => Number.parseInt(p, 16)));
}

/** Formats hardware address bytes as lowercase colon-separated hex ("52:54:00:12:34:56"). */
export function formatMac(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(":");
}

/** Writes `value` as 4 big-endian bytes at `offset`. */
export function writeIPv4(target: Uint8Array, offset: number, value: number): void {
  target[offset] = (value >>> 24) & 0xff;
  target[offset + 1] = (value >>> 16) & 0xff;
  target[offset + 2] = (value >>> 8) & 0xff;
  target[offset + 3] = value & 0xff;
}

/** Reads 4 big-endian bytes at `offset` as an unsigned 32-bit number (missing bytes read as zero). */
export function readIPv4(source: Uint8Array, offset: number): number {
  return (
    (((source[offset] ?? 0) << 24) |
      ((source[offset + 1] ?? 0) << 16) |
      ((source[offset + 2] ?? 0) << 8) |
      (source[offset + 3] ?? 0)) >>>
    0
  );
}
