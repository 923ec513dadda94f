import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatIpv4 } from "../../../src/api/ip.ts";
import { formatMac } from "../../../src/api/mac.ts";
import type { Dhcp4ClientBinding, Dhcp4ServerConfig } from "../../../src/dhcp/v4/config.ts";
import { MessageType } from "../../../src/dhcp/v4/options.ts";
import { decodePacket } from "../../../src/dhcp/v4/packet.ts";
import { Dhcp4Server } from "../../../src/dhcp/v4/server.ts";
import { bridgeClient, fromUnconfigured, request } from "./helpers.ts";

// A volume check, not a benchmark: many clients through full DISCOVER/REQUEST exchanges must all get the right
// address and leave consistent state. No timing is asserted (the machine is shared).
describe("Dhcp4Server volume", () => {
  const clients = 2000;
  const macOf = (i: number) => formatMac(Uint8Array.of(0x52, 0x54, 0, 0, i >> 8, i & 0xff));
  const ipOf = (i: number) => formatIpv4(0x0af40000 + 10 + i);
  const bindings: Dhcp4ClientBinding[] = Array.from({ length: clients }, (_, i) => ({
    ...bridgeClient,
    mac: macOf(i),
    ip: ipOf(i),
    prefixLength: 16,
  }));
  const config: Dhcp4ServerConfig = {
    interfaces: [{ name: "k6t-big", serverIdentifier: "169.254.75.10", clients: bindings }],
  };

  it("serves 2000 clients through DISCOVER and REQUEST with the right address each", () => {
    const server = new Dhcp4Server(config);
    for (let i = 0; i < clients; i++) {
      const mac = macOf(i);
      const offer = server.handle(request({ type: MessageType.Discover, mac, xid: i }), fromUnconfigured);
      assert.equal(offer?.type, "offer");
      const offered = decodePacket(offer.reply);
      assert.equal(offered.xid, i);
      assert.equal(formatIpv4(offered.yiaddr), ipOf(i));
      const ack = server.handle(
        request({ type: MessageType.Request, mac, xid: i, requested: ipOf(i), serverId: "169.254.75.10" }),
        fromUnconfigured,
      );
      assert.equal(ack?.type, "ack");
    }
    assert.deepEqual(server.stats.sent, { offer: clients, ack: clients, nak: 0 });
    const leases = server.leases();
    assert.equal(leases.length, clients);
    assert.ok(leases.every((l, i) => l.state === "bound" && l.ip === ipOf(i) && l.mac === macOf(i)));
  });
});
