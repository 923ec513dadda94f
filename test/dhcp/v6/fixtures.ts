/** Packet fixtures shared by the DHCPv6 tests. */

/** Hex with spaces, as read off an RFC diagram or a tcpdump -xx dump. */
export function hex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  return Uint8Array.from(clean.match(/../g) ?? [], (h) => Number.parseInt(h, 16));
}

/**
 * A SOLICIT sent by ISC dhclient 4.4 (`dhclient -6 -1 va`), captured with tcpdump on a veth pair: the UDP payload.
 * Client ID DUID-LLT (hw 1, time 0x3296544e, 02:11:7c:e1:56:f0), ORO 23 24 39 31, Elapsed Time 0,
 * IA_NA IAID 0x7ce156f0 T1 3600 T2 5400.
 */
export const DHCLIENT_SOLICIT = hex(`
  01 2f1bf1
  0001 000e 0001 0001 3296544e 02117ce156f0
  0006 0008 0017 0018 0027 001f
  0008 0002 0000
  0003 000c 7ce156f0 00000e10 00001518`);

/**
 * A SOLICIT as dhcpcd sends it with `option rapid_commit` (encoded by hand from RFC 8415 §8 and §21): Client ID
 * DUID-LLT (hw 1, time 0x2a2b2c2d, 52:54:00:12:34:56), Rapid Commit, IA_NA IAID 0x00123456 T1 0 T2 0,
 * ORO 23 24, Elapsed Time 0.
 */
export const DHCPCD_SOLICIT = hex(`
  01 a1b2c3
  0001 000e 0001 0001 2a2b2c2d 525400123456
  000e 0000
  0003 000c 00123456 00000000 00000000
  0006 0004 0017 0018
  0008 0002 0000`);
