/** IPv6 text <-> bytes for the socket shims (sockaddr_in6, ipv6_mreq) and the fake kernel's prefix arithmetic. */

/** Parses an IPv6 address (no zone, no embedded IPv4) into its 16 bytes; throws a RangeError when malformed. */
export function parseIpv6(text: string): Buffer {
  const halves = text.split("::");
  if (halves.length > 2) throw new RangeError(`Invalid IPv6 address "${text}"`);
  const groupsOf = (s: string | undefined) => (s === undefined || s === "" ? [] : s.split(":"));
  const head = groupsOf(halves[0]);
  const tail = groupsOf(halves[1]);
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 1 && missing !== 0) || (halves.length === 2 && missing < 1)) {
    throw new RangeError(`Invalid IPv6 address "${text}"`);
  }
  const groups = halves.length === 1 ? head : [...head, ...new Array<string>(missing).fill("0"), ...tail];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw new RangeError(`Invalid IPv6 address "${text}"`);
    out.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  });
  return out;
}

/** Formats 16 bytes as RFC 5952 text (lowercase, longest run of two or more zero groups as "::"). */
export function formatIpv6(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new RangeError(`Invalid IPv6 address length "${bytes.length}"`);
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, 16);
  const groups = Array.from({ length: 8 }, (_, i) => view.readUInt16BE(i * 2));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}
