/** Packets and configurations shared by the router advertisement tests. */

import { masqueradeAdvertiserConfig, type RouterAdvertiserConfig } from "../../../src/dhcp/ra/advertiser.ts";
import type { RouterAdvertisement } from "../../../src/dhcp/ra/ndp.ts";
import { hex } from "../v6/fixtures.ts";

/** A Router Solicitation the Linux kernel sent from fe80::11:7cff:fee1:56f0 to ff02::2, with a source link-layer address. */
export const KERNEL_RS = hex("8500 d368 0000 0000 0101 0211 7ce1 56f0");

/** The masquerade advertiser configuration {@link MASQUERADE_RA} describes. */
export const MASQUERADE_CONFIG: RouterAdvertiserConfig = masqueradeAdvertiserConfig({
  bridgeMac: "02:00:00:00:00:00",
  prefix: "fd10:0:2::",
  prefixLength: 120,
  mtu: 1500,
  dns: ["fd00::a"],
  searchDomains: ["cluster.local"],
});

/** The masquerade RA vmnet sends, built by hand from RFC 4861 §4.2/§4.6 and RFC 8106 §5.1/§5.2. */
export const MASQUERADE_RA: RouterAdvertisement = {
  curHopLimit: 64,
  managed: true,
  other: true,
  routerLifetime: 1800,
  reachableTime: 0,
  retransTimer: 0,
  options: [
    { kind: "source-link-layer-address", mac: "02:00:00:00:00:00" },
    { kind: "mtu", mtu: 1500 },
    {
      kind: "prefix-information",
      prefix: "fd10:0:2::",
      length: 120,
      onLink: true,
      autonomous: false,
      validLifetime: 2592000,
      preferredLifetime: 604800,
    },
    { kind: "rdnss", lifetime: 1800, servers: ["fd00::a"] },
    { kind: "dnssl", lifetime: 1800, domains: ["cluster.local"] },
  ],
};
/** {@link MASQUERADE_RA} on the wire, checksum over fe80::ff:fe00:0 to ff02::1. */
export const MASQUERADE_RA_BYTES = hex(`
  86 00 80c5 40 c0 0708 00000000 00000000
  01 01 020000000000
  05 01 0000 000005dc
  03 04 78 80 00278d00 00093a80 00000000 fd100000000200000000000000000000
  19 03 0000 00000708 fd00000000000000000000000000000a
  1f 03 0000 00000708 07636c7573746572 056c6f63616c 00 00`);
