/** Packet fixtures and the server configuration shared by the DHCPv6 tests. */

import { DEFAULT_LIFETIME, type Dhcp6ServerConfig } from "../../../src/dhcp/v6/server.ts";

/** KubeVirt's masquerade DHCPv6 settings written out: what `masqueradeDhcp6Config` must produce. */
export const MASQUERADE_CONFIG: Dhcp6ServerConfig = {
  serverDuidMac: "02:00:00:00:00:00",
  address: "fd10:0:2::2",
  dns: ["fd00::a"],
  searchDomains: ["cluster.local"],
  preferredLifetime: DEFAULT_LIFETIME,
  validLifetime: DEFAULT_LIFETIME,
  t1: 0,
  t2: 0,
};

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
 * A SOLICIT sent by dhcpcd 9.4.1 with Debian's DHCPv6 options (`option domain_name_servers, domain_name,
 * domain_search` and `option rapid_commit`), captured with tcpdump on a veth pair: the UDP payload. Client ID
 * DUID-LLT (hw 1, time 0x329659a9, 52:54:00:12:34:56), IA_NA IAID 0x00123456 T1 0 T2 0, ORO 23 24 39 82 83,
 * Elapsed Time 0, Rapid Commit, Vendor Class (enterprise 40712, "dhcpcd-9.4.1:Linux-6.18.44-fc-v782:x86_64:AuthenticAMD").
 */
export const DHCPCD_SOLICIT = hex(`
  01 810d07
  0001 000e 0001 0001 329659a9 525400123456
  0003 000c 00123456 00000000 00000000
  0006 000a 0017 0018 0027 0052 0053
  0008 0002 0000
  000e 0000
  0010 003c 00009f08 0036
    6468 6370 6364 2d39 2e34 2e31 3a4c 696e 7578 2d36 2e31 382e 3434 2d66 632d 7637 3832 3a78
    3836 5f36 343a 4175 7468 656e 7469 6341 4d44`);
