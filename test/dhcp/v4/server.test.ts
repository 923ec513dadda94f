import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatIpv4 } from "../../../src/api/ip.ts";
import { formatMac } from "../../../src/api/mac.ts";
import { decodeClasslessRoutes, describeRoutes } from "../../../src/dhcp/v4/classless-routes.ts";
import { DEFAULT_LEASE_SECONDS, type Dhcp4ServerConfig } from "../../../src/dhcp/v4/config.ts";
import { decodeDomainSearch } from "../../../src/dhcp/v4/domain-search.ts";
import { MessageType, OptionCode } from "../../../src/dhcp/v4/options.ts";
import { decodePacket, MAGIC_COOKIE, MIN_REPLY_SIZE } from "../../../src/dhcp/v4/packet.ts";
import { type Dhcp4Reply, Dhcp4Server, LeaseState } from "../../../src/dhcp/v4/server.ts";
import {
  bridgeClient,
  bridgeConfig,
  busyboxDiscover,
  fromUnconfigured,
  GUEST_MAC,
  IFINDEX,
  masqueradeConfig,
  option,
  optionIPv4,
  request,
} from "./helpers.ts";

const text = new TextDecoder();

function must(reply: Dhcp4Reply | undefined): Dhcp4Reply {
  assert.ok(reply, "expected a reply");
  return reply;
}

function u32(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
}

describe("Dhcp4Server with busybox udhcpc's DISCOVER", () => {
  let clock = 1_000_000;
  const server = new Dhcp4Server(bridgeConfig, { now: () => clock });
  const discover = busyboxDiscover();
  const offer = must(server.handle(discover, fromUnconfigured));
  const packet = decodePacket(offer.reply);

  it("answers the first DISCOVER with an OFFER padded to the BOOTP minimum", () => {
    assert.equal(offer.type, "offer");
    assert.ok(offer.reply.length >= MIN_REPLY_SIZE);
    assert.equal(new DataView(offer.reply.buffer).getUint32(236), MAGIC_COOKIE);
  });
  it("fills the header as RFC 2131 table 3 says for an OFFER", () => {
    assert.equal(packet.op, 2);
    assert.equal(packet.htype, 1);
    assert.equal(packet.hlen, 6);
    assert.equal(packet.hops, 0);
    assert.equal(packet.xid, 0xb0c3e363);
    assert.equal(packet.secs, 0);
    assert.equal(packet.flags, 0);
    assert.equal(formatIpv4(packet.ciaddr), "0.0.0.0");
    assert.equal(formatIpv4(packet.yiaddr), "10.244.1.5");
    assert.equal(formatIpv4(packet.siaddr), "0.0.0.0");
    assert.equal(formatIpv4(packet.giaddr), "0.0.0.0");
    assert.equal(formatMac(packet.chaddr.subarray(0, 6)), GUEST_MAC);
    assert.ok(packet.chaddr.subarray(6).every((b) => b === 0));
    assert.ok(packet.sname.every((b) => b === 0));
    // Legacy PXE ROMs read the boot file from the header as well as from option 67.
    assert.equal(text.decode(packet.file.subarray(0, 10)), "pxelinux.0");
    assert.ok(packet.file.subarray(10).every((b) => b === 0));
  });
  it("orders options: 53, 54, 51, the requested list in its order, the other configured ones, echoed 61", () => {
    assert.deepEqual(packet.options.order, [53, 54, 51, 1, 3, 6, 12, 15, 28, 42, 26, 119, 121, 66, 67, 240, 61]);
  });
  it("carries every value as configured", () => {
    assert.deepEqual([...option(packet, OptionCode.MessageType)], [MessageType.Offer]);
    assert.equal(optionIPv4(packet, OptionCode.ServerIdentifier), "169.254.75.10");
    assert.equal(u32(option(packet, OptionCode.LeaseTime)), DEFAULT_LEASE_SECONDS);
    assert.equal(optionIPv4(packet, OptionCode.SubnetMask), "255.255.255.0");
    assert.equal(optionIPv4(packet, OptionCode.Router), "10.244.1.1");
    assert.equal(optionIPv4(packet, OptionCode.DomainNameServer), "10.96.0.10");
    assert.equal(text.decode(option(packet, OptionCode.HostName)), "vm1");
    assert.equal(text.decode(option(packet, OptionCode.DomainName)), "default.svc.cluster.local");
    assert.equal(optionIPv4(packet, OptionCode.BroadcastAddress), "10.244.1.255");
    assert.equal(optionIPv4(packet, OptionCode.NtpServers), "10.0.0.5");
    assert.deepEqual([...option(packet, OptionCode.InterfaceMtu)], [0x05, 0xaa]);
    assert.deepEqual(decodeDomainSearch(option(packet, OptionCode.DomainSearch)), bridgeClient.searchDomains);
    assert.equal(text.decode(option(packet, OptionCode.TftpServerName)), "tftp.example");
    assert.equal(text.decode(option(packet, OptionCode.BootfileName)), "pxelinux.0");
    assert.equal(text.decode(option(packet, 240)), "hello");
    assert.deepEqual([...option(packet, OptionCode.ClientIdentifier)], [1, 0x52, 0x54, 0, 0x12, 0x34, 0x56]);
  });
  it("puts the default route inside option 121, last, because clients ignore option 3 then", () => {
    assert.deepEqual(describeRoutes(decodeClasslessRoutes(option(packet, OptionCode.ClasslessStaticRoute))), [
      "10.96.0.0/12 via 10.244.1.1",
      "0.0.0.0/0 via 10.244.1.1",
    ]);
  });
  it("addresses the OFFER to yiaddr at chaddr because the broadcast bit is clear", () => {
    assert.deepEqual(offer.to, {
      address: "10.244.1.5",
      port: 68,
      broadcast: false,
      unicastMac: GUEST_MAC,
      kind: "chaddr",
    });
  });
  it("records the offer", () => {
    assert.deepEqual(server.leases(), [
      {
        interfaceName: "k6t-eth0",
        mac: GUEST_MAC,
        clientId: "01525400123456",
        ip: "10.244.1.5",
        state: LeaseState.Offered,
        updatedAt: 1_000_000,
      },
    ]);
  });
  it("ACKs the SELECTING REQUEST for the offered address and binds the lease", () => {
    clock = 2_000_000;
    const ack = must(
      server.handle(
        request({
          type: MessageType.Request,
          xid: 0xb0c3e363,
          requested: "10.244.1.5",
          serverId: "169.254.75.10",
          maxSize: 576,
        }),
        fromUnconfigured,
      ),
    );
    const p = decodePacket(ack.reply);
    assert.equal(ack.type, "ack");
    assert.deepEqual([...option(p, OptionCode.MessageType)], [MessageType.Ack]);
    assert.equal(formatIpv4(p.yiaddr), "10.244.1.5");
    assert.equal(formatIpv4(p.ciaddr), "0.0.0.0");
    assert.equal(p.xid, 0xb0c3e363);
    assert.equal(u32(option(p, OptionCode.LeaseTime)), DEFAULT_LEASE_SECONDS);
    assert.equal(ack.to.kind, "chaddr");
    assert.deepEqual(server.leases()[0], {
      interfaceName: "k6t-eth0",
      mac: GUEST_MAC,
      clientId: "01525400123456",
      ip: "10.244.1.5",
      state: LeaseState.Bound,
      updatedAt: 2_000_000,
      expiresAt: 2_000_000 + DEFAULT_LEASE_SECONDS * 1000,
    });
    assert.deepEqual(server.stats.sent, { offer: 1, ack: 1, nak: 0 });
    assert.equal(server.stats.byType.discover, 1);
    assert.equal(server.stats.byType.request, 1);
  });
});

describe("Dhcp4Server REQUEST states (RFC 2131 §4.3.2)", () => {
  const unicastFromClient = { ifindex: IFINDEX, sourceAddress: "10.244.1.5", sourcePort: 68 };
  const cases: {
    name: string;
    bytes: Uint8Array;
    meta: typeof fromUnconfigured | typeof unicastFromClient;
    type: "ack" | "nak";
    to: string;
    ciaddr: string;
  }[] = [
    {
      name: "SELECTING for the offered address is ACKed",
      bytes: request({ type: MessageType.Request, requested: "10.244.1.5", serverId: "169.254.75.10" }),
      meta: fromUnconfigured,
      type: "ack",
      to: "10.244.1.5",
      ciaddr: "0.0.0.0",
    },
    {
      name: "SELECTING for another address is NAKed",
      bytes: request({ type: MessageType.Request, requested: "10.244.1.6", serverId: "169.254.75.10" }),
      meta: fromUnconfigured,
      type: "nak",
      to: "255.255.255.255",
      ciaddr: "0.0.0.0",
    },
    {
      name: "INIT-REBOOT with the right address is ACKed",
      bytes: request({ type: MessageType.Request, requested: "10.244.1.5", flags: 0x8000 }),
      meta: fromUnconfigured,
      type: "ack",
      to: "255.255.255.255",
      ciaddr: "0.0.0.0",
    },
    {
      name: "INIT-REBOOT with an address from another network is NAKed",
      bytes: request({ type: MessageType.Request, requested: "192.168.0.9" }),
      meta: fromUnconfigured,
      type: "nak",
      to: "255.255.255.255",
      ciaddr: "0.0.0.0",
    },
    {
      name: "RENEWING with the right ciaddr is ACKed by unicast to ciaddr",
      bytes: request({ type: MessageType.Request, ciaddr: "10.244.1.5" }),
      meta: unicastFromClient,
      type: "ack",
      to: "10.244.1.5",
      ciaddr: "10.244.1.5",
    },
    {
      name: "RENEWING with a wrong ciaddr is NAKed by broadcast",
      bytes: request({ type: MessageType.Request, ciaddr: "10.244.1.77" }),
      meta: unicastFromClient,
      type: "nak",
      to: "255.255.255.255",
      ciaddr: "0.0.0.0",
    },
    {
      name: "REBINDING (broadcast) with the right ciaddr is ACKed to ciaddr",
      bytes: request({ type: MessageType.Request, ciaddr: "10.244.1.5", flags: 0x8000 }),
      meta: unicastFromClient,
      type: "ack",
      to: "10.244.1.5",
      ciaddr: "10.244.1.5",
    },
    {
      name: "REBINDING with a wrong ciaddr is NAKed",
      bytes: request({ type: MessageType.Request, ciaddr: "10.244.2.5", flags: 0x8000 }),
      meta: unicastFromClient,
      type: "nak",
      to: "255.255.255.255",
      ciaddr: "0.0.0.0",
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const server = new Dhcp4Server(bridgeConfig);
      const reply = must(server.handle(c.bytes, c.meta));
      const p = decodePacket(reply.reply);
      assert.equal(reply.type, c.type);
      assert.equal(reply.to.address, c.to);
      assert.equal(formatIpv4(p.ciaddr), c.ciaddr);
      if (c.type === "nak") {
        assert.deepEqual([...option(p, OptionCode.MessageType)], [MessageType.Nak]);
        assert.equal(p.yiaddr, 0);
        assert.equal(optionIPv4(p, OptionCode.ServerIdentifier), "169.254.75.10");
        assert.match(text.decode(option(p, OptionCode.Message)), /is not "10\.244\.1\.5"/);
        // RFC 2131 table 3: a NAK carries no lease time and no configuration.
        for (const code of [OptionCode.LeaseTime, OptionCode.SubnetMask, OptionCode.Router]) {
          assert.equal(p.options.values.has(code), false, `option ${code} in a NAK`);
        }
        assert.equal(server.leases().length, 0);
      } else {
        assert.equal(formatIpv4(p.yiaddr), "10.244.1.5");
        assert.equal(server.leases()[0]?.state, LeaseState.Bound);
      }
      assert.equal(server.stats.sent[c.type], 1);
    });
  }
  it("stays silent when the client selected another server, and forgets its offer", () => {
    const server = new Dhcp4Server(bridgeConfig);
    must(server.handle(request({ type: MessageType.Discover }), fromUnconfigured));
    const reply = server.handle(
      request({ type: MessageType.Request, requested: "10.244.1.5", serverId: "169.254.75.99" }),
      fromUnconfigured,
    );
    assert.equal(reply, undefined);
    assert.equal(server.stats.dropped.otherServer, 1);
    assert.deepEqual(server.leases(), []);
  });
});

describe("Dhcp4Server INFORM, RELEASE and DECLINE", () => {
  it("ACKs INFORM without yiaddr and lease time, with the configuration, unicast to ciaddr (RFC 2131 §4.3.5)", () => {
    const server = new Dhcp4Server(bridgeConfig);
    const reply = must(
      server.handle(request({ type: MessageType.Inform, ciaddr: "10.244.1.5", prl: [6, 15, 119] }), {
        ifindex: IFINDEX,
        sourceAddress: "10.244.1.5",
        sourcePort: 68,
      }),
    );
    const p = decodePacket(reply.reply);
    assert.equal(reply.type, "ack");
    assert.equal(p.yiaddr, 0);
    assert.equal(formatIpv4(p.ciaddr), "10.244.1.5");
    assert.equal(p.options.values.has(OptionCode.LeaseTime), false);
    assert.equal(optionIPv4(p, OptionCode.ServerIdentifier), "169.254.75.10");
    assert.deepEqual(p.options.order.slice(0, 5), [53, 54, 6, 15, 119]);
    assert.deepEqual(reply.to, { address: "10.244.1.5", port: 68, broadcast: false, kind: "ciaddr" });
    assert.deepEqual(server.leases(), []);
  });
  it("replies even when the log sink throws", () => {
    const server = new Dhcp4Server(bridgeConfig, {
      log: () => {
        throw new Error("log sink is broken");
      },
    });
    assert.equal(server.handle(request({ type: MessageType.Discover }), fromUnconfigured)?.type, "offer");
    assert.equal(server.stats.dropped.internalError, 0);
  });
  it("records RELEASE without replying", () => {
    const server = new Dhcp4Server(bridgeConfig, { now: () => 5 });
    assert.equal(
      server.handle(request({ type: MessageType.Release, ciaddr: "10.244.1.5" }), fromUnconfigured),
      undefined,
    );
    assert.equal(server.stats.releases, 1);
    assert.equal(server.leases()[0]?.state, LeaseState.Released);
  });
  it("counts and logs DECLINE, then keeps offering the address", () => {
    const logs: string[] = [];
    const server = new Dhcp4Server(bridgeConfig, { log: (level, message) => logs.push(`${level}: ${message}`) });
    const decline = request({ type: MessageType.Decline, requested: "10.244.1.5", serverId: "169.254.75.10" });
    assert.equal(server.handle(decline, fromUnconfigured), undefined);
    assert.equal(server.stats.declines, 1);
    assert.equal(server.leases()[0]?.state, LeaseState.Declined);
    assert.ok(logs.includes("warn: Client declined its address: it is in use on the link"));
    const offer = must(server.handle(request({ type: MessageType.Discover }), fromUnconfigured));
    assert.equal(formatIpv4(decodePacket(offer.reply).yiaddr), "10.244.1.5");
  });
});

describe("Dhcp4Server client filtering", () => {
  it("serves only the configured MAC on a bridge interface", () => {
    const server = new Dhcp4Server(bridgeConfig);
    assert.equal(
      server.handle(request({ type: MessageType.Discover, mac: "52:54:00:00:00:01" }), fromUnconfigured),
      undefined,
    );
    assert.equal(server.stats.dropped.unknownClient, 1);
  });
  it("serves any MAC on a masquerade interface, with KubeVirt's 10.0.2.2", () => {
    const server = new Dhcp4Server(masqueradeConfig);
    for (const mac of ["02:00:00:00:00:01", "52:54:00:aa:bb:cc"]) {
      const offer = must(server.handle(request({ type: MessageType.Discover, mac, flags: 0x8000 }), fromUnconfigured));
      const p = decodePacket(offer.reply);
      assert.equal(formatIpv4(p.yiaddr), "10.0.2.2");
      assert.equal(optionIPv4(p, OptionCode.ServerIdentifier), "10.0.2.1");
      assert.equal(optionIPv4(p, OptionCode.BroadcastAddress), "10.0.2.255");
      // No routes configured: no option 121 at all, unlike Virtink's empty one.
      assert.equal(p.options.values.has(OptionCode.ClasslessStaticRoute), false);
      assert.equal(offer.to.kind, "broadcast");
    }
  });
  it("drops datagrams from an interface it does not serve", () => {
    const server = new Dhcp4Server(bridgeConfig);
    const meta = { ...fromUnconfigured, ifindex: IFINDEX + 1 };
    assert.equal(server.handle(request({ type: MessageType.Discover }), meta), undefined);
    assert.equal(server.stats.dropped.unknownInterface, 1);
  });
  it("routes by ifindex between several interfaces", () => {
    const config: Dhcp4ServerConfig = {
      interfaces: [
        ...bridgeConfig.interfaces,
        { ...(masqueradeConfig.interfaces[0] ?? { serverIdentifier: "", clients: [] }), ifindex: 9, name: "k6t-net2" },
      ],
    };
    const server = new Dhcp4Server(config);
    const a = must(server.handle(request({ type: MessageType.Discover }), fromUnconfigured));
    const b = must(server.handle(request({ type: MessageType.Discover }), { ...fromUnconfigured, ifindex: 9 }));
    assert.equal(formatIpv4(decodePacket(a.reply).yiaddr), "10.244.1.5");
    assert.equal(formatIpv4(decodePacket(b.reply).yiaddr), "10.0.2.2");
  });
});

describe("Dhcp4Server reply size and relays", () => {
  const big = {
    interfaces: [
      {
        serverIdentifier: "169.254.75.10",
        clients: [
          {
            ...bridgeClient,
            privateOptions: [
              { option: 250, value: "x".repeat(200) },
              { option: 251, value: "y".repeat(300) },
            ],
          },
        ],
      },
    ],
  };
  it("leaves out unrequested extras to fit the default 576-byte datagram, keeping what clients need", () => {
    const server = new Dhcp4Server(big);
    const offer = must(server.handle(request({ type: MessageType.Discover }), fromUnconfigured));
    const p = decodePacket(offer.reply);
    assert.ok(offer.reply.length <= 548, `reply of ${offer.reply.length} bytes`);
    for (const code of [1, 3, 6, 15, 26, 119, 121]) assert.ok(p.options.values.has(code), `option ${code} kept`);
    assert.equal(p.options.values.has(251), false);
    assert.equal(server.stats.truncatedReplies, 1);
  });
  it("sends everything, splitting a 300-byte option per RFC 3396, when option 57 allows it", () => {
    const server = new Dhcp4Server(big);
    const offer = must(server.handle(request({ type: MessageType.Discover, maxSize: 1500 }), fromUnconfigured));
    const p = decodePacket(offer.reply);
    assert.equal(text.decode(option(p, 251)), "y".repeat(300));
    assert.equal(text.decode(option(p, 250)), "x".repeat(200));
    assert.equal(server.stats.truncatedReplies, 0);
  });
  it("answers a relayed request to the relay at giaddr:67 and echoes option 82", () => {
    const server = new Dhcp4Server(bridgeConfig);
    const agent = { code: OptionCode.RelayAgentInformation, value: Uint8Array.of(1, 3, 0x65, 0x74, 0x68) };
    const offer = must(
      server.handle(request({ type: MessageType.Discover, giaddr: "10.244.1.1", extra: [agent] }), {
        ifindex: IFINDEX,
        sourceAddress: "10.244.1.1",
        sourcePort: 67,
      }),
    );
    const p = decodePacket(offer.reply);
    assert.deepEqual(offer.to, { address: "10.244.1.1", port: 67, broadcast: false, kind: "relay" });
    assert.equal(formatIpv4(p.giaddr), "10.244.1.1");
    assert.deepEqual([...option(p, OptionCode.RelayAgentInformation)], [...agent.value]);
    assert.equal(p.options.order.at(-1), OptionCode.RelayAgentInformation);
  });
});

describe("Dhcp4Server configuration", () => {
  const withClient = (patch: Partial<typeof bridgeClient>): Dhcp4ServerConfig => ({
    interfaces: [{ serverIdentifier: "169.254.75.10", clients: [{ ...bridgeClient, ...patch }] }],
  });
  const errors: [string, Dhcp4ServerConfig, RegExp | string][] = [
    [
      "an invalid search domain",
      withClient({ searchDomains: ["Bad_.example"] }),
      "Search domain is not valid: 'Bad_.example'",
    ],
    [
      "an IPv6 NTP server",
      withClient({ ntpServers: ["fd00::1"] }),
      "Could not parse NTP server as IPv4 address: fd00::1",
    ],
    ["an IPv6 DNS server", withClient({ dns: ["fd00::10"] }), "Could not parse DNS server as IPv4 address: fd00::10"],
    ["an MTU below 68", withClient({ mtu: 60 }), /Cannot use MTU "60"/],
    ["a zero lease", withClient({ leaseSeconds: 0 }), /Cannot use lease time "0"/],
    ["a bridge client without MAC", withClient({ mac: undefined }), /a client binding has no MAC/],
    ["a bad client address", withClient({ ip: "10.244.1" }), 'Cannot parse IPv4 address "10.244.1"'],
    ["a route with host bits", withClient({ routes: [{ dst: "10.1.0.1/16" }] }), /host bits are set/],
    ["no clients", { interfaces: [{ serverIdentifier: "10.0.2.1", clients: [] }] }, /without a client binding/],
  ];
  for (const [name, config, message] of errors) {
    it(`rejects ${name}`, () => assert.throws(() => new Dhcp4Server(config), { message }));
  }
  it("omits options that are not configured: 6 without DNS, 28 for a /32, 3 and 121 without routes", () => {
    const server = new Dhcp4Server(
      withClient({ dns: [], prefixLength: 32, router: undefined, routes: [], searchDomains: [], hostname: undefined }),
    );
    const p = decodePacket(must(server.handle(request({ type: MessageType.Discover }), fromUnconfigured)).reply);
    for (const code of [3, 6, 12, 28, 119, 121]) assert.equal(p.options.values.has(code), false, `option ${code}`);
    assert.equal(optionIPv4(p, OptionCode.SubnetMask), "255.255.255.255");
  });
  it("puts an IPv4 TFTP server into siaddr for legacy PXE ROMs, and a name only into option 66", () => {
    const byAddress = new Dhcp4Server(withClient({ tftpServerName: "10.0.0.7" }));
    const p = decodePacket(must(byAddress.handle(request({ type: MessageType.Discover }), fromUnconfigured)).reply);
    assert.equal(formatIpv4(p.siaddr), "10.0.0.7");
    assert.equal(text.decode(option(p, OptionCode.TftpServerName)), "10.0.0.7");
    const nak = must(
      byAddress.handle(request({ type: MessageType.Request, requested: "10.0.0.99" }), fromUnconfigured),
    );
    const n = decodePacket(nak.reply);
    assert.equal(n.siaddr, 0);
    assert.ok(n.file.every((b) => b === 0));
  });
  it("sets the broadcast bit on a NAK sent through a relay (RFC 2131 §4.3.2)", () => {
    const server = new Dhcp4Server(bridgeConfig);
    const meta = { ifindex: IFINDEX, sourceAddress: "10.244.1.1", sourcePort: 67 };
    const nak = must(
      server.handle(request({ type: MessageType.Request, requested: "10.0.0.99", giaddr: "10.244.1.1" }), meta),
    );
    assert.equal(nak.type, "nak");
    assert.equal(decodePacket(nak.reply).flags, 0x8000);
    assert.deepEqual(nak.to, { address: "10.244.1.1", port: 67, broadcast: false, kind: "relay" });
  });
  it("skips private options outside 224..254 as KubeVirt does", () => {
    const server = new Dhcp4Server(
      withClient({
        privateOptions: [
          { option: 223, value: "no" },
          { option: 254, value: "yes" },
        ],
      }),
    );
    const p = decodePacket(must(server.handle(request({ type: MessageType.Discover }), fromUnconfigured)).reply);
    assert.equal(p.options.values.has(223), false);
    assert.equal(text.decode(option(p, 254)), "yes");
  });
  it("updateConfig switches to the new bindings and keeps the old ones when the new config is invalid", () => {
    const server = new Dhcp4Server(bridgeConfig);
    server.updateConfig(withClient({ ip: "10.244.1.9" }));
    const first = decodePacket(must(server.handle(request({ type: MessageType.Discover }), fromUnconfigured)).reply);
    assert.equal(formatIpv4(first.yiaddr), "10.244.1.9");
    assert.throws(() => server.updateConfig(withClient({ ip: "nope" })), SyntaxError);
    const second = decodePacket(must(server.handle(request({ type: MessageType.Discover }), fromUnconfigured)).reply);
    assert.equal(formatIpv4(second.yiaddr), "10.244.1.9");
  });
});
