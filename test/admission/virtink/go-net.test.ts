import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { goQuote } from "../../../src/admission/virtink/field-error.ts";
import { formatMac, goAddressCount, parseGoCidr, parseGoMac } from "../../../src/admission/virtink/go-net.ts";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

describe("parseGoMac", () => {
  // Go's net/mac_test.go parseMACTests (RFC 7042 §2.1.1 and §2.2.2, RFC 4391 §9.1.1) plus the Virtink reference §2.4.
  const accepted: ReadonlyArray<readonly [string, string]> = [
    ["00:00:5e:00:53:01", "00005e005301"],
    ["00-00-5e-00-53-01", "00005e005301"],
    ["0000.5e00.5301", "00005e005301"],
    ["02:00:5e:10:00:00:00:01", "02005e1000000001"],
    ["02-00-5e-10-00-00-00-01", "02005e1000000001"],
    ["0200.5e10.0000.0001", "02005e1000000001"],
    ["00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01", "00000000fe8000000000000002005e1000000001"],
    ["00-00-00-00-fe-80-00-00-00-00-00-00-02-00-5e-10-00-00-00-01", "00000000fe8000000000000002005e1000000001"],
    ["0000.0000.fe80.0000.0000.0000.0200.5e10.0000.0001", "00000000fe8000000000000002005e1000000001"],
    ["ab:cd:ef:AB:CD:EF", "abcdefabcdef"],
    ["ab-cd-ef-AB-CD-EF", "abcdefabcdef"],
    ["abcd.efAB.CDEF", "abcdefabcdef"],
    ["c6:1c:ba:0a:45:88", "c61cba0a4588"],
    ["C6-1C-BA-0A-45-88", "c61cba0a4588"],
    ["c61c.ba0a.4588", "c61cba0a4588"],
    ["01:1c:ba:0a:45:88", "011cba0a4588"],
    ["ff:ff:ff:ff:ff:ff", "ffffffffffff"],
  ];
  for (const [input, bytes] of accepted) {
    it(`accepts ${input}`, () => {
      const r = parseGoMac(input);
      assert.ok(r.ok);
      assert.equal(hex(r.value), bytes);
    });
  }
  const rejected: readonly string[] = [
    "01.02.03.04.05.06",
    "01:02:03:04:05:06:",
    "x1:02:03:04:05:06",
    "01002:03:04:05:06",
    "01:02003:04:05:06",
    "01:02:03004:05:06",
    "01:02:03:04005:06",
    "01:02:03:04:05006",
    "01-02:03:04:05:06",
    "01:02-03-04-05-06",
    "0123:4567:89AF",
    "0123-4567-89AF",
    "01.02.03.04.05.06.07.08",
    "01:02:03:04:05:06:07:08:",
    "x1:02:03:04:05:06:07:08",
    "01:02:03:04:05:06:07008",
    "0123:4567:89AB:CDEF",
    "01:1c:ba:0a:45:8",
    "c6:1c:ba-0a:45:88",
    "zz:1c:ba:0a:45:88",
    "c6:1c:ba:0a:45:88:",
    "c6:1c:ba:0a:45",
    "c6:1c:ba:0a:45:88:99",
    "c61c.ba0a.4588.",
    "c61cba0a4588",
    "c6:1c:ba:0a:45:é8",
    " c6:1c:ba:0a:45:88",
  ];
  for (const input of rejected) {
    it(`rejects ${JSON.stringify(input)} with Go's AddrError text`, () => {
      assert.deepEqual(parseGoMac(input), { ok: false, error: `address ${input}: invalid MAC address` });
    });
  }
  it("rejects the empty string without the address prefix", () => {
    assert.deepEqual(parseGoMac(""), { ok: false, error: "invalid MAC address" });
  });
});

describe("formatMac", () => {
  it("renders lowercase colon-separated octets like HardwareAddr.String", () => {
    assert.equal(formatMac(Uint8Array.from([0x52, 0x54, 0x00, 0xab, 0x0c, 0xff])), "52:54:00:ab:0c:ff");
  });
});

describe("parseGoCidr", () => {
  // Go's net/ip_test.go parseCIDRTests plus the Virtink reference §2.4.
  const accepted: ReadonlyArray<readonly [string, string, number, number]> = [
    ["135.104.0.0/32", "87680000", 32, 32],
    ["0.0.0.0/24", "00000000", 24, 32],
    ["135.104.0.0/24", "87680000", 24, 32],
    ["135.104.0.1/32", "87680001", 32, 32],
    ["135.104.0.1/24", "87680000", 24, 32],
    ["::1/128", "00000000000000000000000000000001", 128, 128],
    ["abcd:2345::/127", "abcd2345000000000000000000000000", 127, 128],
    ["abcd:2345::/65", "abcd2345000000000000000000000000", 65, 128],
    ["abcd:2345::/24", "abcd2300000000000000000000000000", 24, 128],
    ["2001:DB8::/48", "20010db8000000000000000000000000", 48, 128],
    ["2001:DB8::1/48", "20010db8000000000000000000000000", 48, 128],
    ["10.0.2.0/30", "0a000200", 30, 32],
    ["10.0.2.1/30", "0a000200", 30, 32],
    ["10.0.2.0/0", "00000000", 0, 32],
    ["10.0.2.0/030", "0a000200", 30, 32],
    ["::ffff:10.0.2.0/120", "00000000000000000000ffff0a000200", 120, 128],
    ["fd10:0:2::/120", "fd100000000200000000000000000000", 120, 128],
    // Go 1.19 (what the reference verified) reads any hex run up to 0xffff; netip-based Go (1.22+) would reject it.
    ["00001::/120", "00010000000000000000000000000000", 120, 128],
  ];
  for (const [input, network, ones, bits] of accepted) {
    it(`accepts ${input}`, () => {
      const r = parseGoCidr(input);
      assert.ok(r.ok);
      assert.deepEqual([hex(r.value.network), r.value.ones, r.value.bits], [network, ones, bits]);
    });
  }
  const rejected: readonly string[] = [
    "192.168.1.1/255.255.255.0",
    "192.168.1.1/35",
    "2001:db8::1/-1",
    "2001:db8::1/-0",
    "-0.0.0.0/32",
    "0.-1.0.0/32",
    "0.0.-2.0/32",
    "0.0.0.-3/32",
    "0.0.0.0/-0",
    "127.000.000.001/32",
    "010.0.2.0/30",
    "",
    "10.0.2.0",
    "10.0.2.0/",
    "10.0.2.0/30/1",
    "10.0.2/30",
    "10.0.2.0.1/30",
    "10.0.2.256/30",
    "::/129",
    "fe80::1%eth0/64",
    "1::2::3/64",
    "1:2:3:4:5:6:7:8:9/64",
    "1:2:3:4:5:6:7::8/64",
    "10.0.2.0/+30",
    "10.0.2.0/ 30",
  ];
  for (const input of rejected) {
    it(`rejects ${JSON.stringify(input)} with Go's ParseError text`, () => {
      assert.deepEqual(parseGoCidr(input), { ok: false, error: `invalid CIDR address: ${input}` });
    });
  }
});

describe("goAddressCount", () => {
  const cases: ReadonlyArray<readonly [string, bigint]> = [
    ["10.0.2.0/30", 4n],
    ["10.0.2.0/31", 2n],
    ["10.0.2.0/0", 4294967296n],
    ["fd00::/126", 4n],
    ["fd00::/66", 1n << 62n],
    // Go's 64-bit int: 1<<63 wraps negative and 1<<64 is 0.
    ["fd00::/65", -(1n << 63n)],
    ["fd00::/64", 0n],
    ["fd00::/0", 0n],
  ];
  for (const [input, count] of cases) {
    it(`computes Go's 1<<(bits-ones) for ${input}`, () => {
      const r = parseGoCidr(input);
      assert.ok(r.ok);
      assert.equal(goAddressCount(r.value), count);
    });
  }
});

describe("goQuote", () => {
  const cases: ReadonlyArray<readonly [string, string]> = [
    ["x", '"x"'],
    ["", '""'],
    ['a"b\\c', '"a\\"b\\\\c"'],
    ["\n\t\r\u0007\u0008\u000b\u000c", '"\\n\\t\\r\\a\\b\\v\\f"'],
    ["\u0000\u001f\u007f", '"\\x00\\x1f\\x7f"'],
    ["héllo 日本", '"héllo 日本"'],
    ["\u00a0\u00ad", '"\\u00a0\\u00ad"'],
    ["\u{e0001}", '"\\U000e0001"'],
    ["\ud800", '"\ufffd"'],
  ];
  for (const [input, quoted] of cases) {
    it(`quotes ${JSON.stringify(input)} like Go %q`, () => {
      assert.equal(goQuote(input), quoted);
    });
  }
});
