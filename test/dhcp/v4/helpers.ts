/** Shared fixtures for the DHCPv4 tests: a bridge and a masquerade configuration and request builders. */

import { formatIpv4, parseIpv4, readIpv4 } from "../../../src/api/ip.ts";
import { parseMac48 } from "../../../src/api/mac.ts";
import type { Dhcp4ClientBinding, Dhcp4ServerConfig } from "../../../src/dhcp/v4/config.ts";
import { OptionCode, type OptionValue } from "../../../src/dhcp/v4/options.ts";
import { BootOp, type Dhcp4Packet, encodePacket } from "../../../src/dhcp/v4/packet.ts";

export const GUEST_MAC = "52:54:00:12:34:56";
export const IFINDEX = 7;

/** A bridge binding in the shape Virtink's bridge example has, with every optional option set. */
export const bridgeClient: Dhcp4ClientBinding = {
  mac: GUEST_MAC,
  ip: "10.244.1.5",
  prefixLength: 24,
  router: "10.244.1.1",
  routes: [{ dst: "10.96.0.0/12", gateway: "10.244.1.1" }],
  dns: ["10.96.0.10"],
  searchDomains: ["default.svc.cluster.local", "svc.cluster.local", "cluster.local"],
  domainName: "default.svc.cluster.local",
  hostname: "vm1",
  mtu: 1450,
  ntpServers: ["10.0.0.5"],
  tftpServerName: "tftp.example",
  bootFileName: "pxelinux.0",
  privateOptions: [{ option: 240, value: "hello" }],
};

/** One bridge interface serving only {@link GUEST_MAC}. */
export const bridgeConfig: Dhcp4ServerConfig = {
  interfaces: [{ name: "k6t-eth0", ifindex: IFINDEX, serverIdentifier: "169.254.75.10", clients: [bridgeClient] }],
};

/** KubeVirt's masquerade defaults: any MAC on k6t-eth0 gets 10.0.2.2. */
export const masqueradeConfig: Dhcp4ServerConfig = {
  interfaces: [
    {
      name: "k6t-eth0",
      ifindex: IFINDEX,
      serverIdentifier: "10.0.2.1",
      anyClient: true,
      clients: [
        {
          ip: "10.0.2.2",
          prefixLength: 24,
          router: "10.0.2.1",
          routes: [],
          dns: ["10.96.0.10"],
          searchDomains: ["cluster.local"],
          mtu: 1500,
        },
      ],
    },
  ],
};

/** The DISCOVER busybox udhcpc 1.35.0 (Debian 12) sent with `-x hostname:guest1`, UDP payload as captured. */
export function busyboxDiscover(): Uint8Array {
  const hex =
    "01010600b0c3e3630000000000000000000000000000000000000000" +
    "52540012345600000000000000000000" +
    "00".repeat(192) +
    "638253633501013902024037070103060c0f1c2a0c066775657374313c0c756468637020312e33352e303d0701525400123456ff";
  const bytes = new Uint8Array(300);
  bytes.set(Buffer.from(hex, "hex"));
  return bytes;
}

/** Fields of a client request to build. */
export interface RequestSpec {
  readonly type: number;
  readonly mac?: string;
  readonly xid?: number;
  readonly flags?: number;
  readonly ciaddr?: string;
  readonly giaddr?: string;
  readonly requested?: string;
  readonly serverId?: string;
  readonly prl?: readonly number[];
  readonly maxSize?: number;
  readonly extra?: readonly OptionValue[];
}

/** Builds a client request the way udhcpc lays one out (53, 61, 50, 54, 57, 55, then extras). */
export function request(spec: RequestSpec): Uint8Array {
  const mac = parseMac48(spec.mac ?? GUEST_MAC);
  const options: OptionValue[] = [{ code: OptionCode.MessageType, value: Uint8Array.of(spec.type) }];
  options.push({ code: OptionCode.ClientIdentifier, value: Uint8Array.of(1, ...mac) });
  if (spec.requested) options.push({ code: OptionCode.RequestedIpAddress, value: ip4(spec.requested) });
  if (spec.serverId) options.push({ code: OptionCode.ServerIdentifier, value: ip4(spec.serverId) });
  if (spec.maxSize !== undefined) {
    options.push({ code: OptionCode.MaxMessageSize, value: Uint8Array.of(spec.maxSize >> 8, spec.maxSize & 0xff) });
  }
  options.push({
    code: OptionCode.ParameterRequestList,
    value: Uint8Array.from(spec.prl ?? [1, 3, 6, 12, 15, 28, 42]),
  });
  options.push(...(spec.extra ?? []));
  return encodePacket(
    {
      op: BootOp.Request,
      xid: spec.xid ?? 0x1234abcd,
      flags: spec.flags ?? 0,
      ciaddr: spec.ciaddr ? parseIpv4(spec.ciaddr) : 0,
      giaddr: spec.giaddr ? parseIpv4(spec.giaddr) : 0,
      chaddr: mac,
    },
    options,
  );
}

/** The 4-byte big-endian form of an IPv4 address. */
export function ip4(text: string): Uint8Array {
  const v = parseIpv4(text);
  return Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}

/** An option value of a decoded packet, failing loudly when it is absent. */
export function option(packet: Dhcp4Packet, code: number): Uint8Array {
  const v = packet.options.values.get(code);
  if (v === undefined) throw new Error(`Option ${code} is missing`);
  return v;
}

/** An option holding one IPv4 address, as text. */
export function optionIPv4(packet: Dhcp4Packet, code: number): string {
  return formatIpv4(readIpv4(option(packet, code), 0));
}

/** Transport metadata for a datagram from an unconfigured client. */
export const fromUnconfigured = { ifindex: IFINDEX, sourceAddress: "0.0.0.0", sourcePort: 68 } as const;
