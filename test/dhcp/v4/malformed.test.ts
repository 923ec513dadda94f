import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MessageType, OptionCode } from "../../../src/dhcp/v4/options.ts";
import { encodePacket } from "../../../src/dhcp/v4/packet.ts";
import type { Dhcp4ServerOptions } from "../../../src/dhcp/v4/server.ts";
import { Dhcp4Server, DropReason } from "../../../src/dhcp/v4/server.ts";
import { bridgeConfig, busyboxDiscover, fromUnconfigured, IFINDEX, ip4, request } from "./helpers.ts";

function patched(bytes: Uint8Array, offset: number, ...values: number[]): Uint8Array {
  const copy = bytes.slice();
  copy.set(values, offset);
  return copy;
}

/** A request whose options area is exactly `area` (no End appended). */
function withOptionArea(area: number[]): Uint8Array {
  const base = encodePacket({ op: 1, xid: 7, chaddr: Uint8Array.of(0x52, 0x54, 0, 0x12, 0x34, 0x56) }, [], {
    minSize: 240,
  });
  const out = new Uint8Array(240 + area.length);
  out.set(base.subarray(0, 240));
  out.set(area, 240);
  return out;
}

interface Case {
  readonly reason: DropReason;
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly meta?: { ifindex?: number; sourceAddress: string; sourcePort: number };
  readonly options?: Dhcp4ServerOptions;
}

const cases: Case[] = [
  { reason: DropReason.TooShort, name: "a 239-byte datagram", bytes: busyboxDiscover().subarray(0, 239) },
  { reason: DropReason.TooShort, name: "an empty datagram", bytes: new Uint8Array(0) },
  { reason: DropReason.BadHardwareLength, name: "hlen 17", bytes: patched(busyboxDiscover(), 2, 17) },
  {
    reason: DropReason.BadMagicCookie,
    name: "a BOOTP cookie of zeros",
    bytes: patched(busyboxDiscover(), 236, 0, 0, 0, 0),
  },
  {
    reason: DropReason.OptionOverrun,
    name: "option 12 claiming 200 bytes",
    bytes: withOptionArea([53, 1, 1, 12, 200, 65]),
  },
  { reason: DropReason.NotBootRequest, name: "a BOOTREPLY", bytes: patched(busyboxDiscover(), 0, 2) },
  { reason: DropReason.MissingMessageType, name: "a BOOTP request", bytes: withOptionArea([61, 2, 1, 2, 255]) },
  { reason: DropReason.InvalidMessageType, name: "message type 9", bytes: withOptionArea([53, 1, 9, 255]) },
  { reason: DropReason.InvalidMessageType, name: "message type 0", bytes: withOptionArea([53, 1, 0, 255]) },
  { reason: DropReason.InvalidMessageType, name: "option 53 of 2 bytes", bytes: withOptionArea([53, 2, 1, 1, 255]) },
  {
    reason: DropReason.InvalidMessageType,
    name: "option 53 twice (RFC 3396 joins them to 2 bytes)",
    bytes: withOptionArea([53, 1, 1, 53, 1, 3, 255]),
  },
  {
    reason: DropReason.InvalidOption,
    name: "option 50 of 3 bytes",
    bytes: withOptionArea([53, 1, 3, 50, 3, 10, 244, 1, 255]),
  },
  { reason: DropReason.InvalidOption, name: "option 57 of 1 byte", bytes: withOptionArea([53, 1, 1, 57, 1, 2, 255]) },
  { reason: DropReason.InvalidOption, name: "option 61 of 1 byte", bytes: withOptionArea([53, 1, 1, 61, 1, 1, 255]) },
  {
    reason: DropReason.BadDomainName,
    name: "an option 119 compression loop",
    bytes: withOptionArea([53, 1, 1, 119, 7, 1, 97, 0, 1, 98, 0xc0, 3, 255]),
  },
  {
    reason: DropReason.BadDomainName,
    name: "an option 119 forward pointer",
    bytes: withOptionArea([53, 1, 1, 119, 4, 0xc0, 2, 1, 97, 255]),
  },
  {
    reason: DropReason.UnexpectedMessageType,
    name: "a DHCPOFFER sent to the server port",
    bytes: request({ type: MessageType.Offer }),
  },
  {
    reason: DropReason.UnknownInterface,
    name: "a DISCOVER from another ifindex",
    bytes: request({ type: MessageType.Discover }),
    meta: { ifindex: IFINDEX + 5, sourceAddress: "0.0.0.0", sourcePort: 68 },
  },
  {
    reason: DropReason.UnknownClient,
    name: "a DISCOVER from another MAC",
    bytes: request({ type: MessageType.Discover, mac: "52:54:00:99:99:99" }),
  },
  {
    reason: DropReason.OtherServer,
    name: "a RELEASE for another server",
    bytes: request({ type: MessageType.Release, serverId: "10.9.9.9", ciaddr: "10.244.1.5" }),
  },
  {
    reason: DropReason.InternalError,
    name: "a failing clock",
    bytes: request({ type: MessageType.Discover }),
    options: {
      now: () => {
        throw new Error("clock is broken");
      },
    },
  },
];

describe("Dhcp4Server drops malformed and foreign datagrams", () => {
  for (const c of cases) {
    it(`counts ${c.name} as "${c.reason}" and does not throw`, () => {
      const server = new Dhcp4Server(bridgeConfig, c.options);
      assert.equal(server.handle(c.bytes, c.meta ?? fromUnconfigured), undefined);
      const nonZero = Object.entries(server.stats.dropped).filter(([, n]) => n !== 0);
      assert.deepEqual(nonZero, [[c.reason, 1]]);
      assert.equal(server.stats.received, 1);
      assert.deepEqual(server.stats.sent, { offer: 0, ack: 0, nak: 0 });
    });
  }
  it("has a case for every drop reason", () => {
    assert.deepEqual(new Set(cases.map((c) => c.reason)), new Set(Object.values(DropReason)));
  });
  it("still answers after a malformed datagram", () => {
    const server = new Dhcp4Server(bridgeConfig);
    server.handle(patched(busyboxDiscover(), 236, 0, 0, 0, 0), fromUnconfigured);
    const reply = server.handle(
      request({
        type: MessageType.Discover,
        extra: [{ code: OptionCode.RequestedIpAddress, value: ip4("10.244.1.5") }],
      }),
      fromUnconfigured,
    );
    assert.equal(reply?.type, "offer");
  });
});
