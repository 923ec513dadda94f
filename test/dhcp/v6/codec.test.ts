import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  Dhcp6DecodeError,
  decodeAddressList,
  decodeDomainSearchList,
  decodeDuid,
  decodeElapsedTime,
  decodeIaAddress,
  decodeIaNa,
  decodeMessage,
  decodeOro,
  decodeStatus,
  encodeAddressList,
  encodeDomainSearchList,
  encodeDuidLl,
  encodeIaAddress,
  encodeIaNa,
  encodeMessage,
  encodeOro,
  encodeStatus,
  findOption,
  findOptions,
  MessageType,
  OptionCode,
  StatusCode,
} from "../../../src/dhcp/v6/codec.ts";
import { DHCLIENT_SOLICIT, DHCPCD_SOLICIT, hex } from "./fixtures.ts";

describe("decodeMessage", () => {
  it("decodes the dhclient SOLICIT", () => {
    const m = decodeMessage(DHCLIENT_SOLICIT);
    assert.equal(m.type, MessageType.Solicit);
    assert.equal(m.transactionId, 0x2f1bf1);
    assert.deepEqual(
      m.options.map((o) => o.code),
      [1, 6, 8, 3],
    );
    const duid = decodeDuid(1, findOption(m.options, OptionCode.ClientId)?.data ?? new Uint8Array());
    assert.equal(duid.type, 1);
    assert.equal(duid.hardwareType, 1);
    assert.equal(duid.time, 848712782);
    assert.deepEqual(duid.linkLayerAddress, hex("02117ce156f0"));
    assert.deepEqual(decodeOro(findOption(m.options, OptionCode.Oro)?.data ?? new Uint8Array()), [23, 24, 39, 31]);
    assert.equal(decodeElapsedTime(findOption(m.options, OptionCode.ElapsedTime)?.data ?? new Uint8Array()), 0);
    const ia = decodeIaNa(findOption(m.options, OptionCode.IaNa)?.data ?? new Uint8Array());
    assert.deepEqual(ia, { iaid: 2095142640, t1: 3600, t2: 5400, options: [] });
  });
  it("decodes the dhcpcd SOLICIT with Rapid Commit", () => {
    const m = decodeMessage(DHCPCD_SOLICIT);
    assert.equal(m.type, MessageType.Solicit);
    assert.equal(m.transactionId, 0x810d07);
    assert.deepEqual(
      m.options.map((o) => [o.code, o.data.length]),
      [
        [1, 14],
        [3, 12],
        [6, 10],
        [8, 2],
        [14, 0],
        [16, 60],
      ],
    );
    const duid = decodeDuid(1, findOption(m.options, OptionCode.ClientId)?.data ?? new Uint8Array());
    assert.deepEqual([duid.type, duid.hardwareType, duid.time], [1, 1, 0x329659a9]);
    assert.deepEqual(duid.linkLayerAddress, hex("525400123456"));
    assert.deepEqual(decodeIaNa(findOptions(m.options, 3)[0]?.data ?? new Uint8Array()), {
      iaid: 0x123456,
      t1: 0,
      t2: 0,
      options: [],
    });
    assert.deepEqual(decodeOro(findOption(m.options, OptionCode.Oro)?.data ?? new Uint8Array()), [23, 24, 39, 82, 83]);
  });
  it("re-encodes both captures byte for byte", () => {
    assert.deepEqual(encodeMessage(decodeMessage(DHCLIENT_SOLICIT)), DHCLIENT_SOLICIT);
    assert.deepEqual(encodeMessage(decodeMessage(DHCPCD_SOLICIT)), DHCPCD_SOLICIT);
  });
  const malformed: [string, Uint8Array, string][] = [
    ["an empty packet", hex(""), "truncated-header"],
    ["a 3-byte header", hex("01 0000"), "truncated-header"],
    ["a partial option header", hex("01 000001 0001 00"), "option-overrun"],
    ["an option longer than the packet", hex("01 000001 0001 0010 0001"), "option-overrun"],
  ];
  for (const [what, data, reason] of malformed) {
    it(`rejects ${what} with reason ${reason}`, () => {
      assert.throws(
        () => decodeMessage(data),
        (e: unknown) => e instanceof Dhcp6DecodeError && e.reason === reason,
      );
    });
  }
  it("does not parse relay message bodies as options", () => {
    assert.deepEqual(decodeMessage(hex("0c 00 fe80000000000000000000000000000001 ffff")).options, []);
  });
});

describe("option encoders", () => {
  it("encodes DUID-LL for the bridge MAC (RFC 8415 §11.4: type 3, hardware type 1)", () => {
    assert.deepEqual(encodeDuidLl("02:00:00:00:00:00"), hex("0003 0001 020000000000"));
  });
  it("encodes IA_NA with a nested IA Address (RFC 8415 §21.4, §21.6)", () => {
    const iaaddr = encodeIaAddress({
      address: "fd10:0:2::2",
      preferredLifetime: 86313600,
      validLifetime: 86313600,
      options: [],
    });
    assert.deepEqual(iaaddr, hex("fd100000000200000000000000000002 05250a80 05250a80"));
    const ia = encodeIaNa({ iaid: 0x7ce156f0, t1: 0, t2: 0, options: [{ code: OptionCode.IaAddr, data: iaaddr }] });
    assert.deepEqual(
      ia,
      hex("7ce156f0 00000000 00000000 0005 0018 fd100000000200000000000000000002 05250a80 05250a80"),
    );
    assert.deepEqual(decodeIaNa(ia).options, [{ code: 5, data: iaaddr }]);
    assert.deepEqual(decodeIaAddress(iaaddr), {
      address: "fd10:0:2::2",
      preferredLifetime: 86313600,
      validLifetime: 86313600,
      options: [],
    });
  });
  it("encodes a Status Code with a UTF-8 message (RFC 8415 §21.13)", () => {
    const data = encodeStatus({ code: StatusCode.NoAddrsAvail, message: "none" });
    assert.deepEqual(data, hex("0002 6e6f6e65"));
    assert.deepEqual(decodeStatus(data), { code: 2, message: "none" });
  });
  it("encodes DNS servers as 16-byte addresses (RFC 3646 §3)", () => {
    const data = encodeAddressList(["fd00::a", "2001:4860:4860::8888"]);
    assert.deepEqual(data, hex("fd00000000000000000000000000000a 20014860486000000000000000008888"));
    assert.deepEqual(decodeAddressList(23, data), ["fd00::a", "2001:4860:4860::8888"]);
  });
  it("encodes the domain search list uncompressed (RFC 3646 §4, RFC 8415 §10)", () => {
    const data = encodeDomainSearchList(["ns.svc.cluster.local", "cluster.local"]);
    assert.deepEqual(data, hex("026e73 03737663 07636c7573746572 056c6f63616c 00 07636c7573746572 056c6f63616c 00"));
    assert.deepEqual(decodeDomainSearchList(data), ["ns.svc.cluster.local", "cluster.local"]);
  });
  it("encodes an ORO as 16-bit codes (RFC 8415 §21.7)", () => {
    assert.deepEqual(encodeOro([23, 24]), hex("0017 0018"));
  });
  it("encodes a whole message: header then TLVs (RFC 8415 §8, §21.1)", () => {
    const bytes = encodeMessage({
      type: MessageType.Reply,
      transactionId: 0x010203,
      options: [
        { code: OptionCode.ServerId, data: encodeDuidLl("02:00:00:00:00:00") },
        { code: OptionCode.RapidCommit, data: new Uint8Array() },
      ],
    });
    assert.deepEqual(bytes, hex("07 010203 0002 000a 0003 0001 020000000000 000e 0000"));
  });
  it("rejects a transaction id over 24 bits", () => {
    assert.throws(() => encodeMessage({ type: 1, transactionId: 0x1000000, options: [] }), RangeError);
  });
});

describe("option decoders", () => {
  const malformed: [string, () => unknown, string][] = [
    ["a short IA_NA", () => decodeIaNa(hex("00000001 00000000 000000")), "bad-option-length"],
    [
      "an IA_NA whose nested option overruns",
      () => decodeIaNa(hex("00000001 00000000 00000000 0005 0018 fd10")),
      "nested-option-overrun",
    ],
    [
      "an IA Address whose nested option overruns",
      () => decodeIaAddress(hex("fd100000000200000000000000000002 00000000 00000000 000d 0009 0000")),
      "nested-option-overrun",
    ],
    ["a short IA Address", () => decodeIaAddress(hex("fd10")), "bad-option-length"],
    ["an odd ORO", () => decodeOro(hex("001700")), "bad-option-length"],
    ["a 3-byte DNS list", () => decodeAddressList(23, hex("fd0000")), "bad-option-length"],
    ["a compressed search list", () => decodeDomainSearchList(hex("03737663 00 c000")), "bad-domain"],
    ["a 1-byte status", () => decodeStatus(hex("00")), "bad-option-length"],
    ["a 2-byte DUID", () => decodeDuid(1, hex("0003")), "bad-option-length"],
    ["a 131-byte DUID", () => decodeDuid(1, new Uint8Array(131)), "bad-option-length"],
    ["a DUID-LLT without time", () => decodeDuid(1, hex("0001 0001 0000")), "bad-option-length"],
    ["a 3-byte elapsed time", () => decodeElapsedTime(hex("000000")), "bad-option-length"],
  ];
  for (const [what, run, reason] of malformed) {
    it(`rejects ${what} with reason ${reason}`, () => {
      assert.throws(run, (e: unknown) => e instanceof Dhcp6DecodeError && e.reason === reason);
    });
  }
});
