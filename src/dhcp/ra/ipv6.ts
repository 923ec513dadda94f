/**
 * IPv6 addresses that NDP derives from others: EUI-64 link-local addresses, solicited-node multicast groups and
 * their Ethernet MACs. Text is parsed and formatted by src/api/ip.ts and src/api/mac.ts only.
 */
import { formatIpv6, parseIpv6, stripZone, tryParseIpv6 } from "../../api/ip.ts";
import { formatMac, parseMac48 } from "../../api/mac.ts";

/** The fe80::/64 address with the modified EUI-64 interface identifier of a MAC (RFC 4291 appendix A). */
export function linkLocalFromMac(mac: string | Uint8Array): string {
  const m = typeof mac === "string" ? parseMac48(mac) : mac;
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

/** Whether an address text (an optional `%zone` is ignored) is the unspecified address `::`, the source of a DAD probe. */
export function isUnspecified(text: string): boolean {
  const bytes = tryParseIpv6(stripZone(text));
  return bytes?.every((b) => b === 0) ?? false;
}
