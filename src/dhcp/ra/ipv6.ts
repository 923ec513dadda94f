/**
 * IPv6 and MAC address helpers for the DHCPv6 and router advertisement code: strict parsing, RFC 5952 formatting,
 * EUI-64 link-local addresses and solicited-node multicast groups.
 */

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
const DEC_OCTET = /^(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9][0-9]|[0-9])$/;
const MAC = /^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}$/;

/** Parses an IPv6 address (RFC 4291 §2.2 text forms, no zone) into 16 bytes; throws `SyntaxError` when invalid. */
export function parseIpv6(text: string): Uint8Array {
  const bytes = tryParseIpv6(text);
  if (!bytes) throw new SyntaxError(`Cannot parse IPv6 address "${text}"`);
  return bytes;
}

/** Like `parseIpv6` but returns `undefined` instead of throwing. */
export function tryParseIpv6(text: string): Uint8Array | undefined {
  if (text.length === 0 || text.length > 45) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] === "" ? [] : (halves[0] ?? "").split(":");
  const tail = halves.length === 2 ? (halves[1] === "" ? [] : (halves[1] ?? "").split(":")) : [];
  const parts = [...head, ...tail];
  const all: number[][] = [];
  for (const [i, part] of parts.entries()) {
    const last = i === parts.length - 1;
    if (last && part.includes(".") && text.endsWith(part)) {
      const v4 = parseDottedQuad(part);
      if (!v4) return undefined;
      all.push([((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0)]);
      continue;
    }
    if (!HEX_GROUP.test(part)) return undefined;
    all.push([Number.parseInt(part, 16)]);
  }
  const headGroups = all.slice(0, head.length).flat();
  const tailGroups = all.slice(head.length).flat();
  const count = headGroups.length + tailGroups.length;
  const groups: number[] = [];
  if (halves.length === 2) {
    // "::" stands for at least one zero group (RFC 4291 §2.2).
    if (count > 7) return undefined;
    groups.push(...headGroups, ...new Array<number>(8 - count).fill(0), ...tailGroups);
  } else {
    if (count !== 8) return undefined;
    groups.push(...headGroups);
  }
  const out = new Uint8Array(16);
  for (const [i, g] of groups.entries()) {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  }
  return out;
}

function parseDottedQuad(text: string): number[] | undefined {
  const octets = text.split(".");
  if (octets.length !== 4) return undefined;
  const out: number[] = [];
  for (const o of octets) {
    if (!DEC_OCTET.test(o)) return undefined;
    out.push(Number.parseInt(o, 10));
  }
  return out;
}

/** Formats 16 bytes as the RFC 5952 canonical text form (lower case, longest zero run compressed, `::ffff:a.b.c.d`). */
export function formatIpv6(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new RangeError(`Cannot format IPv6 address of ${bytes.length} bytes`);
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(((bytes[i * 2] ?? 0) << 8) | (bytes[i * 2 + 1] ?? 0));
  // RFC 5952 §5: IPv4-mapped addresses keep the dotted quad.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  }
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

/** Returns the canonical RFC 5952 form of an IPv6 address text; throws `SyntaxError` when invalid. */
export function canonicalIpv6(text: string): string {
  return formatIpv6(parseIpv6(text));
}

/** Parses a colon-separated 48-bit MAC address ("02:00:00:00:00:00"); throws `SyntaxError` when invalid. */
export function parseMac(text: string): Uint8Array {
  if (!MAC.test(text)) throw new SyntaxError(`Cannot parse MAC address "${text}"`);
  return Uint8Array.from(text.split(":").map((h) => Number.parseInt(h, 16)));
}

/** Formats 6 bytes as a lower-case colon-separated MAC address. */
export function formatMac(bytes: Uint8Array): string {
  if (bytes.length !== 6) throw new RangeError(`Cannot format MAC address of ${bytes.length} bytes`);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(":");
}

/** The fe80::/64 address with the modified EUI-64 interface identifier of a MAC (RFC 4291 appendix A). */
export function linkLocalFromMac(mac: string | Uint8Array): string {
  const m = typeof mac === "string" ? parseMac(mac) : mac;
  if (m.length !== 6) throw new RangeError(`Cannot derive a link-local address from a MAC of ${m.length} bytes`);
  const out = new Uint8Array(16);
  out[0] = 0xfe;
  out[1] = 0x80;
  // The universal/local bit is inverted in the modified EUI-64 format.
  out[8] = (m[0] ?? 0) ^ 0x02;
  out[9] = m[1] ?? 0;
  out[10] = m[2] ?? 0;
  out[11] = 0xff;
  out[12] = 0xfe;
  out[13] = m[3] ?? 0;
  out[14] = m[4] ?? 0;
  out[15] = m[5] ?? 0;
  return formatIpv6(out);
}

/** The solicited-node multicast group ff02::1:ffXX:XXXX of an address (RFC 4291 §2.7.1). */
export function solicitedNodeMulticast(address: string | Uint8Array): string {
  const a = typeof address === "string" ? parseIpv6(address) : address;
  if (a.length !== 16) throw new RangeError(`Cannot derive a solicited-node group from ${a.length} bytes`);
  const out = new Uint8Array(16);
  out[0] = 0xff;
  out[1] = 0x02;
  out[11] = 0x01;
  out[12] = 0xff;
  out[13] = a[13] ?? 0;
  out[14] = a[14] ?? 0;
  out[15] = a[15] ?? 0;
  return formatIpv6(out);
}

/** The Ethernet multicast MAC 33:33:xx:xx:xx:xx for an IPv6 multicast group (RFC 2464 §7). */
export function multicastMac(group: string | Uint8Array): string {
  const a = typeof group === "string" ? parseIpv6(group) : group;
  if (a[0] !== 0xff) throw new RangeError(`Cannot map non-multicast address "${formatIpv6(a)}" to a MAC`);
  return formatMac(Uint8Array.of(0x33, 0x33, a[12] ?? 0, a[13] ?? 0, a[14] ?? 0, a[15] ?? 0));
}

/** Whether an address text (an optional `%zone` is ignored) is the unspecified address `::`. */
export function isUnspecified(text: string): boolean {
  const bytes = tryParseIpv6(stripZone(text));
  return bytes?.every((b) => b === 0) ?? false;
}

/** The address text without its `%zone` suffix (as Node reports link-local peers, "fe80::1%eth0"). */
export function stripZone(text: string): string {
  const i = text.indexOf("%");
  return i < 0 ? text : text.slice(0, i);
}
