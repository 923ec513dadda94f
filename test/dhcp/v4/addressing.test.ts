import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseIpv4 } from "../../../src/api/ip.ts";
import { parseMac48 } from "../../../src/api/mac.ts";
import { type AddressingInput, ReplyRoute, replyDestination } from "../../../src/dhcp/v4/addressing.ts";

describe("replyDestination", () => {
  const mac = "52:54:00:12:34:56";
  const base: AddressingInput = {
    ciaddr: 0,
    giaddr: 0,
    flags: 0,
    sourceAddress: "0.0.0.0",
    yiaddr: parseIpv4("10.0.2.2"),
    chaddr: parseMac48(mac),
    isNak: false,
  };
  // One row per RFC 2131 §4.1 case: input changes, expected kind, address, port.
  const table: [string, Partial<AddressingInput>, ReplyRoute, string, number][] = [
    ["relay, broadcast bit set", { giaddr: parseIpv4("10.1.0.1"), flags: 0x8000 }, "relay", "10.1.0.1", 67],
    ["relay, NAK", { giaddr: parseIpv4("10.1.0.1"), isNak: true }, "relay", "10.1.0.1", 67],
    ["NAK with ciaddr", { isNak: true, ciaddr: parseIpv4("10.0.2.9"), yiaddr: 0 }, "broadcast", "255.255.255.255", 68],
    ["NAK, unconfigured", { isNak: true, yiaddr: 0 }, "broadcast", "255.255.255.255", 68],
    ["ciaddr, broadcast bit clear", { ciaddr: parseIpv4("10.0.2.2") }, "ciaddr", "10.0.2.2", 68],
    ["ciaddr, broadcast bit set", { ciaddr: parseIpv4("10.0.2.2"), flags: 0x8000 }, "ciaddr", "10.0.2.2", 68],
    ["no ciaddr, broadcast bit set", { flags: 0x8000 }, "broadcast", "255.255.255.255", 68],
    ["no ciaddr, only the broadcast bit of flags counts", { flags: 0x7fff }, "chaddr", "10.0.2.2", 68],
    ["no ciaddr, broadcast bit clear", {}, "chaddr", "10.0.2.2", 68],
    ["no address to give, source known", { yiaddr: 0, sourceAddress: "10.0.2.2" }, "source", "10.0.2.2", 68],
    ["no address to give, mapped source", { yiaddr: 0, sourceAddress: "::ffff:10.0.2.7" }, "source", "10.0.2.7", 68],
    ["no address to give, no source", { yiaddr: 0 }, "broadcast", "255.255.255.255", 68],
    ["no hardware address", { chaddr: new Uint8Array(0) }, "broadcast", "255.255.255.255", 68],
  ];
  for (const [name, patch, kind, address, port] of table) {
    it(`sends ${name} via ${kind}`, () => {
      const to = replyDestination({ ...base, ...patch });
      assert.equal(to.kind, kind);
      assert.equal(to.address, address);
      assert.equal(to.port, port);
      assert.equal(to.broadcast, kind === ReplyRoute.Broadcast);
      assert.equal(to.unicastMac, kind === ReplyRoute.Chaddr ? mac : undefined);
    });
  }
});
