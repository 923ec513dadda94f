import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CidrParseError,
  formatCidr,
  formatIp,
  isIPv4,
  parseCidr,
  parseCidrSloppy,
  parseIp,
  parseIpSloppy,
} from "../../src/api/ip.ts";

const v4 = (a: number, b: number, c: number, d: number): number[] => [
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  255,
  255,
  a,
  b,
  c,
  d,
];
const bytes = (ip: Uint8Array | undefined): number[] | undefined => (ip ? Array.from(ip) : undefined);

// Go's net/ip_test.go parseIPTests (Go >= 1.17, where leading zeros and 5-digit groups are rejected).
const parseIpTests: { in: string; out: number[] | undefined }[] = [
  { in: "127.0.1.2", out: v4(127, 0, 1, 2) },
  { in: "127.0.0.1", out: v4(127, 0, 0, 1) },
  { in: "::ffff:127.1.2.3", out: v4(127, 1, 2, 3) },
  { in: "::ffff:7f01:0203", out: v4(127, 1, 2, 3) },
  { in: "0:0:0:0:0000:ffff:127.1.2.3", out: v4(127, 1, 2, 3) },
  { in: "0:0:0:0::ffff:127.1.2.3", out: v4(127, 1, 2, 3) },
  { in: "2001:4860:0:2001::68", out: [0x20, 0x01, 0x48, 0x60, 0, 0, 0x20, 0x01, 0, 0, 0, 0, 0, 0, 0x00, 0x68] },
  {
    in: "2001:4860:0000:2001:0000:0000:0000:0068",
    out: [0x20, 0x01, 0x48, 0x60, 0, 0, 0x20, 0x01, 0, 0, 0, 0, 0, 0, 0x00, 0x68],
  },
  { in: "-0.0.0.0", out: undefined },
  { in: "0.-1.0.0", out: undefined },
  { in: "0.0.-2.0", out: undefined },
  { in: "0.0.0.-3", out: undefined },
  { in: "127.0.0.256", out: undefined },
  { in: "abc", out: undefined },
  { in: "123:", out: undefined },
  { in: "fe80::1%lo0", out: undefined },
  { in: "fe80::1%911", out: undefined },
  { in: "", out: undefined },
  { in: "a1:a2:a3:a4::b1:b2:b3:b4", out: undefined }, // Go issue 6628
  { in: "127.001.002.003", out: undefined },
  { in: "::ffff:127.001.002.003", out: undefined },
  { in: "123.000.000.000", out: undefined },
  { in: "1.2..4", out: undefined },
  { in: "0123.0.0.1", out: undefined },
  { in: "0:0:0:0:000000:ffff:127.1.2.3", out: undefined },
  { in: "::", out: new Array(16).fill(0) },
  { in: "1:2:3:4:5:6:7::8", out: undefined },
  { in: "1.2.3", out: undefined },
  { in: "1.2.3.4.5", out: undefined },
];

describe("parseIp", () => {
  for (const t of parseIpTests) {
    it(`${t.out ? "accepts" : "rejects"} ${JSON.stringify(t.in)}`, () => {
      assert.deepEqual(bytes(parseIp(t.in)), t.out);
    });
  }
});

// Go 1.17-1.21 (Virtink's Go 1.19): IPv6 groups are read with xtoi, IPv4 is strict as in netip.
const legacyTests: { in: string; out: number[] | undefined }[] = [
  { in: "0:0:0:0:000000:ffff:127.1.2.3", out: v4(127, 1, 2, 3) },
  { in: "00001::", out: [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] },
  { in: "10000::", out: undefined },
  { in: "::ffff:127.001.002.003", out: undefined },
  { in: "127.001.002.003", out: undefined },
  { in: "fe80::1%lo0", out: undefined },
  { in: "2001:4860:0:2001::68", out: [0x20, 0x01, 0x48, 0x60, 0, 0, 0x20, 0x01, 0, 0, 0, 0, 0, 0, 0x00, 0x68] },
];

describe("parseIp with legacyIPv6", () => {
  for (const t of legacyTests) {
    it(`${t.out ? "accepts" : "rejects"} ${JSON.stringify(t.in)}`, () => {
      assert.deepEqual(bytes(parseIp(t.in, { legacyIPv6: true })), t.out);
    });
  }
  it("applies to CIDRs", () => {
    assert.equal(formatCidr(parseCidr("00001::/16", { legacyIPv6: true })), "1::/16");
    assert.throws(() => parseCidr("00001::/16"), CidrParseError);
  });
});

// k8s.io/utils/net ParseIPSloppy (Go 1.16's parser): the cases where it differs from the strict parser.
const sloppyTests: { in: string; out: number[] | undefined }[] = [
  { in: "127.001.002.003", out: v4(127, 1, 2, 3) },
  { in: "::ffff:127.001.002.003", out: v4(127, 1, 2, 3) },
  { in: "123.000.000.000", out: v4(123, 0, 0, 0) },
  { in: "0123.0.0.1", out: v4(123, 0, 0, 1) },
  { in: "0:0:0:0:000000:ffff:127.1.2.3", out: v4(127, 1, 2, 3) },
  { in: "0256.0.0.1", out: undefined },
  { in: "1.2..4", out: undefined },
  { in: "fe80::1%lo0", out: undefined },
  { in: "-0.0.0.0", out: undefined },
];

describe("parseIpSloppy", () => {
  for (const t of sloppyTests) {
    it(`${t.out ? "accepts" : "rejects"} ${JSON.stringify(t.in)}`, () => {
      assert.deepEqual(bytes(parseIpSloppy(t.in)), t.out);
    });
  }
});

// Go's net/ip_test.go ipStringTests (the textual forms).
const formatTests: { in: string; out: string }[] = [
  { in: "2001:db8::123:12:1", out: "2001:db8::123:12:1" },
  { in: "2001:db8::1", out: "2001:db8::1" },
  { in: "2001:db8:0:1:0:1:0:1", out: "2001:db8:0:1:0:1:0:1" },
  { in: "2001:db8:1:0:1:0:1:0", out: "2001:db8:1:0:1:0:1:0" },
  { in: "2001::1:0:0:1", out: "2001::1:0:0:1" },
  { in: "2001:db8:0:0:1:0:0:0", out: "2001:db8:0:0:1::" },
  { in: "2001:db8::1:0:0:1", out: "2001:db8::1:0:0:1" },
  { in: "2001:DB8::A:B:C:D", out: "2001:db8::a:b:c:d" },
  { in: "::ffff:192.0.2.1", out: "192.0.2.1" },
  { in: "::", out: "::" },
  { in: "1::", out: "1::" },
  { in: "::1", out: "::1" },
  { in: "10.0.2.1", out: "10.0.2.1" },
];

describe("formatIp", () => {
  for (const t of formatTests) {
    it(`renders ${t.in} as ${t.out}`, () => {
      const ip = parseIp(t.in);
      assert.ok(ip);
      assert.equal(formatIp(ip), t.out);
    });
  }
});

describe("isIPv4", () => {
  const cases: { in: string; out: boolean }[] = [
    { in: "8.8.8.8", out: true },
    { in: "::ffff:8.8.8.8", out: true },
    { in: "2001:db8::1", out: false },
    { in: "008.8.8.8", out: false },
    { in: "", out: false },
  ];
  for (const c of cases) it(`is ${c.out} for ${JSON.stringify(c.in)}`, () => assert.equal(isIPv4(c.in), c.out));
});

// Go's net/ip_test.go parseCIDRTests, plus the Virtink reference §2.4 examples.
const parseCidrTests: { in: string; ip?: string; net?: string }[] = [
  { in: "135.104.0.0/32", ip: "135.104.0.0", net: "135.104.0.0/32" },
  { in: "0.0.0.0/24", ip: "0.0.0.0", net: "0.0.0.0/24" },
  { in: "135.104.0.0/24", ip: "135.104.0.0", net: "135.104.0.0/24" },
  { in: "135.104.0.1/32", ip: "135.104.0.1", net: "135.104.0.1/32" },
  { in: "135.104.0.1/24", ip: "135.104.0.1", net: "135.104.0.0/24" },
  { in: "::1/128", ip: "::1", net: "::1/128" },
  { in: "abcd:2345::/127", ip: "abcd:2345::", net: "abcd:2345::/127" },
  { in: "abcd:2345::/65", ip: "abcd:2345::", net: "abcd:2345::/65" },
  { in: "abcd:2345::/64", ip: "abcd:2345::", net: "abcd:2345::/64" },
  { in: "abcd:2345::/63", ip: "abcd:2345::", net: "abcd:2345::/63" },
  { in: "abcd:2345::/33", ip: "abcd:2345::", net: "abcd:2345::/33" },
  { in: "abcd:2345::/32", ip: "abcd:2345::", net: "abcd:2345::/32" },
  { in: "abcd:2344::/31", ip: "abcd:2344::", net: "abcd:2344::/31" },
  { in: "abcd:2300::/24", ip: "abcd:2300::", net: "abcd:2300::/24" },
  { in: "abcd:2345::/24", ip: "abcd:2345::", net: "abcd:2300::/24" },
  { in: "2001:DB8::/48", ip: "2001:db8::", net: "2001:db8::/48" },
  { in: "2001:DB8::1/48", ip: "2001:db8::1", net: "2001:db8::/48" },
  { in: "192.168.1.1/255.255.255.0" },
  { in: "192.168.1.1/35" },
  { in: "2001:db8::1/-1" },
  { in: "2001:db8::1/-0" },
  { in: "-0.0.0.0/32" },
  { in: "0.-1.0.0/32" },
  { in: "0.0.-2.0/32" },
  { in: "0.0.0.-3/32" },
  { in: "0.0.0.0/-0" },
  { in: "127.000.000.001/32" },
  { in: "" },
  { in: "010.0.2.0/30" },
  { in: "10.0.2.1/30", ip: "10.0.2.1", net: "10.0.2.0/30" },
  { in: "10.0.2.0/0", ip: "10.0.2.0", net: "0.0.0.0/0" },
  { in: "10.0.2.0/024", ip: "10.0.2.0", net: "10.0.2.0/24" },
  { in: "fe80::1%eth0/64" },
  { in: "10.0.2.0" },
];

describe("parseCidr", () => {
  for (const t of parseCidrTests) {
    if (t.net && t.ip) {
      const { ip, net } = t;
      it(`accepts ${JSON.stringify(t.in)}`, () => {
        const c = parseCidr(t.in);
        assert.equal(formatIp(c.ip), ip);
        assert.equal(formatCidr(c), net);
      });
    } else {
      it(`rejects ${JSON.stringify(t.in)} with Go's message`, () => {
        assert.throws(
          () => parseCidr(t.in),
          (e: unknown) => e instanceof CidrParseError && e.message === `invalid CIDR address: ${t.in}`,
        );
      });
    }
  }
});

describe("parseCidrSloppy", () => {
  const cases: { in: string; ip?: string; prefix?: number }[] = [
    { in: "010.0.2.0/30", ip: "10.0.2.0", prefix: 30 },
    { in: "10.0.2.01/24", ip: "10.0.2.1", prefix: 24 },
    { in: "127.000.000.001/32", ip: "127.0.0.1", prefix: 32 },
    { in: "fd10:0:2::/120", ip: "fd10:0:2::", prefix: 120 },
    { in: "10.0.2.0/33" },
    { in: "10.0.2.0" },
    { in: "0256.0.0.0/8" },
  ];
  for (const c of cases) {
    it(`${c.ip ? "accepts" : "rejects"} ${JSON.stringify(c.in)}`, () => {
      if (c.ip) {
        const got = parseCidrSloppy(c.in);
        assert.equal(formatIp(got.ip), c.ip);
        assert.equal(got.prefix, c.prefix);
      } else {
        assert.throws(() => parseCidrSloppy(c.in), CidrParseError);
      }
    });
  }
});
