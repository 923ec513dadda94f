import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type Dhcp6Message,
  type Dhcp6Option,
  decodeAddressList,
  decodeDomainSearchList,
  decodeIaAddress,
  decodeIaNa,
  decodeIaPd,
  decodeIaTa,
  decodeMessage,
  decodeStatus,
  encodeDuidLl,
  encodeIaAddress,
  encodeIaNa,
  encodeIaPd,
  encodeIaTa,
  encodeMessage,
  encodeOro,
  findOption,
  findOptions,
  type IaNa,
  MessageType,
  OptionCode,
  StatusCode,
} from "../../../src/dhcp/v6/codec.ts";
import {
  DEFAULT_LIFETIME,
  Dhcp6Server,
  type Dhcp6ServerConfig,
  masqueradeDhcp6Config,
} from "../../../src/dhcp/v6/server.ts";
import { MASQUERADE_CONFIG as CONFIG, DHCLIENT_SOLICIT, DHCPCD_SOLICIT, hex } from "./fixtures.ts";

const META = { sourceAddress: "fe80::11:7cff:fee1:56f0%k6t-eth0", sourcePort: 546, ifindex: 3 };
const SERVER_ID = encodeDuidLl("02:00:00:00:00:00");
const OTHER_SERVER_ID = encodeDuidLl("02:00:00:00:00:01");
const CLIENT_ID = hex("0001 0001 3296544e 02117ce156f0");

function opt(code: number, data: Uint8Array = new Uint8Array()): Dhcp6Option {
  return { code, data };
}
function iaNa(iaid: number, addresses: string[] = []): Dhcp6Option {
  const options = addresses.map((address) =>
    opt(OptionCode.IaAddr, encodeIaAddress({ address, preferredLifetime: 0, validLifetime: 0, options: [] })),
  );
  return opt(OptionCode.IaNa, encodeIaNa({ iaid, t1: 0, t2: 0, options }));
}
function packet(type: number, options: Dhcp6Option[], transactionId = 0x123456): Uint8Array {
  return encodeMessage({ type, transactionId, options });
}
function exchange(server: Dhcp6Server, bytes: Uint8Array): Dhcp6Message {
  const out = server.handle(bytes, META);
  assert.ok(out, "expected a reply");
  assert.deepEqual(out.to, { address: META.sourceAddress, port: 546 });
  return decodeMessage(out.reply);
}
function ias(m: Dhcp6Message): IaNa[] {
  return findOptions(m.options, OptionCode.IaNa).map((o) => decodeIaNa(o.data));
}
function topStatus(m: Dhcp6Message): number | undefined {
  const s = findOption(m.options, OptionCode.StatusCode);
  return s ? decodeStatus(s.data).code : undefined;
}

describe("Dhcp6Server SOLICIT", () => {
  it("answers the dhclient SOLICIT with this exact ADVERTISE", () => {
    const out = new Dhcp6Server(CONFIG).handle(DHCLIENT_SOLICIT, META);
    // Built by hand from RFC 8415 §21: Client ID, Server ID (DUID-LL), Preference 255, IA_NA (IAID, T1=T2=0,
    // IAADDR fd10:0:2::2 with 86313600 s), then the DNS servers and search list the ORO asked for.
    const expected = hex(`
      02 2f1bf1
      0001 000e 0001 0001 3296544e 02117ce156f0
      0002 000a 0003 0001 020000000000
      0007 0001 ff
      0003 0028 7ce156f0 00000000 00000000
        0005 0018 fd100000000200000000000000000002 05250a80 05250a80
      0017 0010 fd00000000000000000000000000000a
      0018 000f 07636c7573746572 056c6f63616c 00`);
    assert.deepEqual(out?.reply, expected);
  });
  it("answers a REQUEST without a configured address with this exact NoAddrsAvail REPLY", () => {
    const out = new Dhcp6Server({ ...CONFIG, address: undefined }).handle(
      packet(MessageType.Request, [opt(1, CLIENT_ID), opt(2, SERVER_ID), iaNa(5)]),
      META,
    );
    // RFC 8415 §18.3.2: the IA_NA comes back without addresses and with Status Code NoAddrsAvail (2) inside it.
    const expected = hex(`
      07 123456
      0001 000e 0001 0001 3296544e 02117ce156f0
      0002 000a 0003 0001 020000000000
      0003 0028 00000005 00000000 00000000
        000d 0018 0002 4e6f 20 616464726573736573 20 617661696c61626c65
      0017 0010 fd00000000000000000000000000000a
      0018 000f 07636c7573746572 056c6f63616c 00`);
    assert.deepEqual(out?.reply, expected);
  });
  it("answers an INFORMATION-REQUEST with this exact REPLY", () => {
    const out = new Dhcp6Server(CONFIG).handle(
      packet(MessageType.InformationRequest, [opt(OptionCode.Oro, encodeOro([23, 24]))]),
      META,
    );
    const expected = hex(`
      07 123456
      0002 000a 0003 0001 020000000000
      0017 0010 fd00000000000000000000000000000a
      0018 000f 07636c7573746572 056c6f63616c 00`);
    assert.deepEqual(out?.reply, expected);
  });
  it("commits at once with REPLY and Rapid Commit when the client asks (dhcpcd)", () => {
    const m = exchange(new Dhcp6Server(CONFIG), DHCPCD_SOLICIT);
    assert.equal(m.type, MessageType.Reply);
    assert.equal(m.transactionId, 0x810d07);
    assert.ok(findOption(m.options, OptionCode.RapidCommit));
    assert.equal(findOption(m.options, OptionCode.Preference), undefined);
    assert.equal(ias(m)[0]?.iaid, 0x123456);
  });
  it("ignores Rapid Commit when disabled in the configuration", () => {
    const m = exchange(new Dhcp6Server({ ...CONFIG, rapidCommit: false }), DHCPCD_SOLICIT);
    assert.equal(m.type, MessageType.Advertise);
    assert.equal(findOption(m.options, OptionCode.RapidCommit), undefined);
  });
  it("puts NoAddrsAvail in the IA_NA when no address is configured", () => {
    const m = exchange(new Dhcp6Server({ ...CONFIG, address: undefined }), DHCLIENT_SOLICIT);
    const ia = ias(m)[0];
    assert.equal(findOption(ia?.options ?? [], OptionCode.IaAddr), undefined);
    const status = findOption(ia?.options ?? [], OptionCode.StatusCode);
    assert.equal(status && decodeStatus(status.data).code, StatusCode.NoAddrsAvail);
  });
  it("gives the address to the first IA_NA only", () => {
    const m = exchange(new Dhcp6Server(CONFIG), packet(1, [opt(1, CLIENT_ID), iaNa(1), iaNa(2)]));
    const [first, second] = ias(m);
    assert.equal(findOptions(first?.options ?? [], OptionCode.IaAddr).length, 1);
    assert.equal(findOptions(second?.options ?? [], OptionCode.IaAddr).length, 0);
    assert.ok(findOption(second?.options ?? [], OptionCode.StatusCode));
  });
  it("refuses IA_PD with NoPrefixAvail and IA_TA with NoAddrsAvail, keeping the IA_NA", () => {
    const m = exchange(
      new Dhcp6Server(CONFIG),
      packet(1, [
        opt(1, CLIENT_ID),
        iaNa(1),
        opt(OptionCode.IaPd, encodeIaPd({ iaid: 2, t1: 0, t2: 0, options: [] })),
        opt(OptionCode.IaTa, encodeIaTa({ iaid: 3, options: [] })),
      ]),
    );
    assert.equal(findOptions(ias(m)[0]?.options ?? [], OptionCode.IaAddr).length, 1);
    const pd = decodeIaPd(findOption(m.options, OptionCode.IaPd)?.data ?? new Uint8Array());
    const ta = decodeIaTa(findOption(m.options, OptionCode.IaTa)?.data ?? new Uint8Array());
    const code = (o: readonly Dhcp6Option[]) => decodeStatus(findOption(o, 13)?.data ?? new Uint8Array()).code;
    assert.deepEqual([pd.iaid, code(pd.options)], [2, StatusCode.NoPrefixAvail]);
    assert.deepEqual([ta.iaid, code(ta.options)], [3, StatusCode.NoAddrsAvail]);
  });
  it("sends the configured T1 and T2", () => {
    const m = exchange(new Dhcp6Server({ ...CONFIG, t1: 3600, t2: 5760 }), DHCLIENT_SOLICIT);
    assert.deepEqual([ias(m)[0]?.t1, ias(m)[0]?.t2], [3600, 5760]);
  });
});

describe("Dhcp6Server option request", () => {
  const cases: [string, Dhcp6Option[], number[]][] = [
    ["ORO 23 and 24", [opt(OptionCode.Oro, encodeOro([23, 24]))], [23, 24]],
    ["ORO 23 only", [opt(OptionCode.Oro, encodeOro([23]))], [23]],
    ["ORO 24 only", [opt(OptionCode.Oro, encodeOro([24]))], [24]],
    ["an ORO without 23 or 24", [opt(OptionCode.Oro, encodeOro([39]))], []],
    ["no ORO", [], [23, 24]],
  ];
  for (const [what, extra, expected] of cases) {
    it(`returns options ${JSON.stringify(expected)} for ${what}`, () => {
      const m = exchange(new Dhcp6Server(CONFIG), packet(1, [opt(1, CLIENT_ID), iaNa(7), ...extra]));
      assert.deepEqual(
        m.options.map((o) => o.code).filter((c) => c === 23 || c === 24),
        expected,
      );
    });
  }
  it("omits DNS and search list when none are configured", () => {
    const m = exchange(new Dhcp6Server({ ...CONFIG, dns: [], searchDomains: [] }), DHCLIENT_SOLICIT);
    assert.deepEqual(
      m.options.map((o) => o.code),
      [1, 2, 7, 3],
    );
  });
});

describe("Dhcp6Server message flow", () => {
  it("runs SOLICIT, ADVERTISE, REQUEST, REPLY, RENEW, REBIND, RELEASE like a client would", () => {
    const server = new Dhcp6Server(CONFIG);
    const advertise = exchange(server, DHCLIENT_SOLICIT);
    assert.equal(advertise.type, MessageType.Advertise);
    const serverId = findOption(advertise.options, OptionCode.ServerId)?.data;
    assert.deepEqual(serverId, SERVER_ID);
    const offered = decodeIaAddress(findOption(ias(advertise)[0]?.options ?? [], 5)?.data ?? new Uint8Array());
    assert.equal(offered.address, "fd10:0:2::2");

    const request = packet(
      MessageType.Request,
      [opt(1, CLIENT_ID), opt(2, SERVER_ID), opt(6, encodeOro([23, 24])), iaNa(0x7ce156f0, [offered.address])],
      0x0a0b0c,
    );
    const reply = exchange(server, request);
    assert.equal(reply.type, MessageType.Reply);
    assert.equal(reply.transactionId, 0x0a0b0c);
    assert.deepEqual(findOption(reply.options, 1)?.data, CLIENT_ID);
    const bound = decodeIaAddress(findOption(ias(reply)[0]?.options ?? [], 5)?.data ?? new Uint8Array());
    assert.deepEqual(bound, {
      address: "fd10:0:2::2",
      preferredLifetime: DEFAULT_LIFETIME,
      validLifetime: DEFAULT_LIFETIME,
      options: [],
    });
    assert.deepEqual(decodeAddressList(23, findOption(reply.options, 23)?.data ?? new Uint8Array()), ["fd00::a"]);
    assert.deepEqual(decodeDomainSearchList(findOption(reply.options, 24)?.data ?? new Uint8Array()), [
      "cluster.local",
    ]);

    const renew = exchange(
      server,
      packet(MessageType.Renew, [opt(1, CLIENT_ID), opt(2, SERVER_ID), iaNa(9, [bound.address])]),
    );
    assert.equal(renew.type, MessageType.Reply);
    assert.equal(findOptions(ias(renew)[0]?.options ?? [], 5).length, 1);

    const rebind = exchange(server, packet(MessageType.Rebind, [opt(1, CLIENT_ID), iaNa(9, [bound.address])]));
    assert.equal(rebind.type, MessageType.Reply);
    assert.equal(
      decodeIaAddress(findOption(ias(rebind)[0]?.options ?? [], 5)?.data ?? new Uint8Array()).address,
      bound.address,
    );

    const release = exchange(
      server,
      packet(MessageType.Release, [opt(1, CLIENT_ID), opt(2, SERVER_ID), iaNa(9, [bound.address])]),
    );
    assert.equal(release.type, MessageType.Reply);
    assert.equal(topStatus(release), StatusCode.Success);
    assert.deepEqual(ias(release), []);

    const stats = server.stats;
    assert.equal(stats.received, 5);
    assert.equal(stats.replied, 5);
    assert.deepEqual(stats.receivedByType, { 1: 1, 3: 1, 5: 1, 6: 1, 8: 1 });
  });
  it("returns addresses it does not hand out with zero lifetimes on RENEW (RFC 8415 §18.3.4)", () => {
    const m = exchange(
      new Dhcp6Server(CONFIG),
      packet(MessageType.Renew, [opt(1, CLIENT_ID), opt(2, SERVER_ID), iaNa(1, ["fd10:0:2::2", "fd99::5"])]),
    );
    const addrs = findOptions(ias(m)[0]?.options ?? [], 5).map((o) => decodeIaAddress(o.data));
    assert.deepEqual(
      addrs.map((a) => [a.address, a.validLifetime]),
      [
        ["fd10:0:2::2", DEFAULT_LIFETIME],
        ["fd99::5", 0],
      ],
    );
  });
  it("answers INFORMATION-REQUEST with DNS and search list only (RFC 8415 §18.3.6)", () => {
    const m = exchange(
      new Dhcp6Server(CONFIG),
      packet(MessageType.InformationRequest, [opt(1, CLIENT_ID), opt(6, encodeOro([23, 24]))]),
    );
    assert.equal(m.type, MessageType.Reply);
    assert.deepEqual(
      m.options.map((o) => o.code),
      [1, 2, 23, 24],
    );
  });
  it("answers INFORMATION-REQUEST without Client ID", () => {
    const m = exchange(new Dhcp6Server(CONFIG), packet(MessageType.InformationRequest, []));
    assert.deepEqual(
      m.options.map((o) => o.code),
      [2, 23, 24],
    );
  });
  it("records a DECLINE and answers Success", () => {
    const server = new Dhcp6Server(CONFIG, { now: () => 1234 });
    const m = exchange(
      server,
      packet(MessageType.Decline, [opt(1, CLIENT_ID), opt(2, SERVER_ID), iaNa(4, ["fd10:0:2::2"])]),
    );
    assert.equal(topStatus(m), StatusCode.Success);
    assert.deepEqual(server.stats.declined, [{ address: "fd10:0:2::2", iaid: 4, clientId: CLIENT_ID, at: 1234 }]);
  });
  const confirms: [string, string[], number | undefined][] = [
    ["our address", ["fd10:0:2::2"], StatusCode.Success],
    ["another address", ["fd10:0:3::2"], StatusCode.NotOnLink],
    ["ours and another", ["fd10:0:2::2", "2001:db8::1"], StatusCode.NotOnLink],
  ];
  for (const [what, addresses, expected] of confirms) {
    it(`answers CONFIRM of ${what} with status ${expected}`, () => {
      const m = exchange(new Dhcp6Server(CONFIG), packet(MessageType.Confirm, [opt(1, CLIENT_ID), iaNa(1, addresses)]));
      assert.equal(topStatus(m), expected);
      assert.deepEqual(ias(m), []);
    });
  }
});

describe("Dhcp6Server discards (RFC 8415 §16)", () => {
  const C = opt(1, CLIENT_ID);
  const S = opt(2, SERVER_ID);
  const W = opt(2, OTHER_SERVER_ID);
  const cases: [string, Uint8Array, string][] = [
    ["SOLICIT with a Server ID", packet(MessageType.Solicit, [C, S, iaNa(1)]), "unexpected-server-id"],
    ["SOLICIT without Client ID", packet(MessageType.Solicit, [iaNa(1)]), "missing-client-id"],
    ["REQUEST without Server ID", packet(MessageType.Request, [C, iaNa(1)]), "missing-server-id"],
    ["REQUEST with another Server ID", packet(MessageType.Request, [C, W, iaNa(1)]), "wrong-server-id"],
    ["REQUEST without Client ID", packet(MessageType.Request, [S, iaNa(1)]), "missing-client-id"],
    ["RENEW with another Server ID", packet(MessageType.Renew, [C, W, iaNa(1)]), "wrong-server-id"],
    ["RENEW without Server ID", packet(MessageType.Renew, [C, iaNa(1)]), "missing-server-id"],
    ["RELEASE with another Server ID", packet(MessageType.Release, [C, W, iaNa(1)]), "wrong-server-id"],
    ["DECLINE without Server ID", packet(MessageType.Decline, [C, iaNa(1)]), "missing-server-id"],
    ["REBIND with a Server ID", packet(MessageType.Rebind, [C, S, iaNa(1)]), "unexpected-server-id"],
    ["REBIND without Client ID", packet(MessageType.Rebind, [iaNa(1)]), "missing-client-id"],
    ["CONFIRM with a Server ID", packet(MessageType.Confirm, [C, S, iaNa(1, ["fd10:0:2::2"])]), "unexpected-server-id"],
    ["CONFIRM without addresses", packet(MessageType.Confirm, [C, iaNa(1)]), "nothing-to-confirm"],
    ["INFORMATION-REQUEST with another Server ID", packet(MessageType.InformationRequest, [W]), "wrong-server-id"],
    ["INFORMATION-REQUEST with an IA_NA", packet(MessageType.InformationRequest, [C, iaNa(1)]), "unexpected-ia"],
    ["two Client IDs", packet(MessageType.Solicit, [C, C, iaNa(1)]), "duplicate-option"],
    ["ADVERTISE sent to the server", packet(MessageType.Advertise, [C, S]), "unexpected-type"],
    ["REPLY sent to the server", packet(MessageType.Reply, [C, S]), "unexpected-type"],
    ["RECONFIGURE sent to the server", packet(MessageType.Reconfigure, [C, S]), "unexpected-type"],
    ["an unknown type", packet(99, [C]), "unexpected-type"],
    ["RELAY-FORW", hex("0c 00 fe800000000000000000000000000001 fe800000000000000000000000000002"), "relay-message"],
    ["RELAY-REPL", hex("0d 00 fe800000000000000000000000000001 fe800000000000000000000000000002"), "relay-message"],
    ["a truncated header", hex("01 0102"), "truncated-header"],
    ["an option overrunning the packet", hex("01 010203 0001 000e 0001 0001"), "option-overrun"],
    [
      "an IA_NA whose IAADDR overruns it",
      packet(MessageType.Solicit, [C, opt(3, hex("00000001 00000000 00000000 0005 0018 fd10 0000"))]),
      "nested-option-overrun",
    ],
    [
      "an IAADDR whose status code overruns it",
      packet(MessageType.Renew, [
        C,
        S,
        opt(
          3,
          hex("00000001 00000000 00000000 0005 001a fd100000000200000000000000000002 00000000 00000000 000d 0004"),
        ),
      ]),
      "nested-option-overrun",
    ],
    ["a short IA_NA", packet(MessageType.Solicit, [C, opt(3, hex("00000001"))]), "bad-option-length"],
    ["a short IA_TA", packet(MessageType.Solicit, [C, opt(4, hex("000001"))]), "bad-option-length"],
    [
      "an IA_PD whose IA Prefix overruns it",
      packet(MessageType.Solicit, [C, opt(25, hex("00000001 00000000 00000000 001a 0019 00"))]),
      "nested-option-overrun",
    ],
    ["an odd ORO", packet(MessageType.Solicit, [C, iaNa(1), opt(6, hex("0017 00"))]), "bad-option-length"],
    ["a Rapid Commit with data", packet(MessageType.Solicit, [C, iaNa(1), opt(14, hex("01"))]), "bad-option-length"],
    ["a 1-byte Client ID", packet(MessageType.Solicit, [opt(1, hex("00")), iaNa(1)]), "bad-option-length"],
    [
      "a compressed domain list",
      packet(MessageType.InformationRequest, [C, opt(24, hex("07636c7573746572 c000"))]),
      "bad-domain",
    ],
  ];
  for (const [what, bytes, reason] of cases) {
    it(`drops ${what} and counts "${reason}"`, () => {
      const server = new Dhcp6Server(CONFIG);
      assert.equal(server.handle(bytes, META), undefined);
      const stats = server.stats;
      assert.equal(stats.dropped[reason as keyof typeof stats.dropped], 1);
      assert.equal(
        Object.values(stats.dropped).reduce((a, b) => a + b, 0),
        1,
      );
      assert.equal(stats.replied, 0);
    });
  }
});

describe("Dhcp6Server unicast rule (RFC 8415 §16)", () => {
  const C = opt(1, CLIENT_ID);
  const S = opt(2, SERVER_ID);
  const cases: [string, Uint8Array, string, boolean][] = [
    ["SOLICIT to ff02::1:2", packet(MessageType.Solicit, [C, iaNa(1)]), "ff02::1:2", true],
    [
      "SOLICIT to the server's unicast address",
      packet(MessageType.Solicit, [C, iaNa(1)]),
      "fe80::ff:fe00:0%k6t-eth0",
      false,
    ],
    ["REBIND by unicast", packet(MessageType.Rebind, [C, iaNa(1)]), "fd10:0:2::1", false],
    ["CONFIRM by unicast", packet(MessageType.Confirm, [C, iaNa(1, ["fd10:0:2::2"])]), "fd10:0:2::1", false],
    ["INFORMATION-REQUEST by unicast", packet(MessageType.InformationRequest, [C]), "fd10:0:2::1", false],
    ["RENEW by unicast", packet(MessageType.Renew, [C, S, iaNa(1)]), "fd10:0:2::1", true],
    ["REQUEST by unicast", packet(MessageType.Request, [C, S, iaNa(1)]), "fd10:0:2::1", true],
  ];
  for (const [what, bytes, destinationAddress, answered] of cases) {
    it(`${answered ? "answers" : "drops"} ${what}`, () => {
      const server = new Dhcp6Server(CONFIG);
      const out = server.handle(bytes, { ...META, destinationAddress });
      assert.equal(out !== undefined, answered);
      assert.equal(server.stats.dropped["unicast-not-allowed"], answered ? 0 : 1);
    });
  }
});

describe("Dhcp6Server interface filter", () => {
  const cases: [string, number | undefined, number | undefined, boolean][] = [
    ["answers on the served interface", 3, 3, true],
    ["drops packets from another interface", 3, 2, false],
    ["answers when the transport does not report the interface", 3, undefined, true],
    ["answers any interface when none is configured", undefined, 2, true],
  ];
  for (const [what, served, received, answered] of cases) {
    it(what, () => {
      const server = new Dhcp6Server({ ...CONFIG, ifindex: served });
      const out = server.handle(DHCLIENT_SOLICIT, { ...META, ifindex: received });
      assert.equal(out !== undefined, answered);
      assert.equal(server.stats.dropped["wrong-interface"], answered ? 0 : 1);
    });
  }
});

describe("Dhcp6Server configuration", () => {
  const invalid: [string, Partial<Dhcp6ServerConfig>, ErrorConstructor][] = [
    ["a bad MAC", { serverDuidMac: "02:00:00:00:00" }, SyntaxError],
    ["a bad address", { address: "fd10::2::1" }, SyntaxError],
    ["a bad DNS server", { dns: ["10.0.0.1"] }, SyntaxError],
    ["a bad search domain", { searchDomains: ["bad..domain"] }, SyntaxError],
    ["preferred above valid lifetime", { preferredLifetime: 10, validLifetime: 5 }, RangeError],
    ["a negative T1", { t1: -1 }, RangeError],
    ["T1 above T2", { t1: 100, t2: 50 }, RangeError],
    ["a lifetime over 32 bits", { validLifetime: 2 ** 32 }, RangeError],
    ["a preference over 255", { preference: 256 }, RangeError],
  ];
  for (const [what, patch, error] of invalid) {
    it(`rejects ${what}`, () => assert.throws(() => new Dhcp6Server({ ...CONFIG, ...patch }), error));
  }
  it("exposes its DUID-LL server identifier", () => assert.deepEqual(new Dhcp6Server(CONFIG).serverId, SERVER_ID));
  it("builds KubeVirt's masquerade settings from the bridge MAC and guest address", () => {
    assert.deepEqual(
      masqueradeDhcp6Config({
        bridgeMac: "02:00:00:00:00:00",
        guestAddress: "fd10:0:2::2",
        dns: ["fd00::a"],
        searchDomains: ["cluster.local"],
      }),
      CONFIG,
    );
  });
});
