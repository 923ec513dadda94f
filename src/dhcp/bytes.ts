/** Byte helpers shared by the DHCPv4, DHCPv6 and Neighbor Discovery codecs. */

/** Returns `value` when it fits a 32-bit unsigned field; throws a `RangeError` naming `what` otherwise. */
export function checkUint32(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`Cannot encode ${what} "${value}": not a 32-bit unsigned integer`);
  }
  return value;
}

/** The arrays joined in order; a single array is returned as it is, without a copy. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1 && parts[0]) return parts[0];
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Whether two arrays hold the same bytes. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
