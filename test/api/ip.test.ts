import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  bitsOf,
  CidrParseError,
  canonicalIpv6,
  Family,
  formatCidr,
  formatIp,
  formatIpAddr,
  formatIpPrefix,
  formatIpv4,
  formatIpv6,
  goInt64AddressCount,
  ipv4Netmask,
  ipv4PrefixMask,
  isGlobalUnicast,
  isIPv4,
  offsetIp,
  parseCidr,
  parseCidrSloppy,
  parseIp,
  parseIpAddr,
  parseIpPrefix,
  parseIpSloppy,
  parseIpv4,
  parseIpv4Cidr,
  parseIpv6,
  prefixContains,
  prefixesOverlap,
  prefixMask,
  tryParseCidr,
  tryParseIpv6,
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

// Virtink's CIDR check (Go 1.19 ParseCIDR): Go's net/ip_test.go parseCIDRTests plus the Virtink reference §2.4, as
// network bytes (4 for IPv4), prefix and bits.
describe("tryParseCidr with legacyIPv6 (Virtink)", () => {
  const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
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
      const c = tryParseCidr(input, { legacyIPv6: true });
      assert.ok(c);
      const net = c.bits === 32 ? c.network.subarray(12) : c.network;
      assert.deepEqual([hex(net), c.prefix, c.bits], [network, ones, bits]);
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
    it(`rejects ${JSON.stringify(input)} (parseCidr: Go's ParseError text)`, () => {
      assert.equal(tryParseCidr(input, { legacyIPv6: true }), undefined);
      assert.throws(() => parseCidr(input, { legacyIPv6: true }), {
        name: "CidrParseError",
        message: `invalid CIDR address: ${input}`,
      });
    });
  }
});

describe("goInt64AddressCount", () => {
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
      assert.equal(goInt64AddressCount(parseCidr(input, { legacyIPv6: true })), count);
    });
  }
});

describe("parseIpAddr and formatIpAddr", () => {
  // Round trips to RFC 5952 canonical text (RFC 5952 §4 examples included); no §5 mixed notation.
  const cases: [string, string][] = [
    ["10.0.2.2", "10.0.2.2"],
    ["0.0.0.0", "0.0.0.0"],
    ["fd10:0:2::2", "fd10:0:2::2"],
    ["2001:db8:0:0:0:0:2:1", "2001:db8::2:1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:DB8::AAAA", "2001:db8::aaaa"],
    ["::", "::"],
    ["::1", "::1"],
    ["::ffff:10.1.2.3", "::ffff:a01:203"],
  ];
  for (const [input, want] of cases)
    it(`formats "${input}" as "${want}"`, () => assert.equal(formatIpAddr(parseIpAddr(input) ?? assert.fail()), want));
  const invalid = [
    "",
    "1.2.3",
    "1.2.3.4.5",
    "01.2.3.4",
    "256.1.1.1",
    "1::2::3",
    "1:2:3:4:5:6:7:8:9",
    "fe80::1%eth0",
    "12345::",
    "1.2.3.4:5",
  ];
  for (const t of invalid) it(`rejects "${t}"`, () => assert.equal(parseIpAddr(t), undefined));
  const families: [string, Family][] = [
    ["10.1.2.3", Family.V4],
    ["::ffff:10.1.2.3", Family.V6],
    ["fd00::1", Family.V6],
  ];
  for (const [t, family] of families)
    it(`reads "${t}" as family ${family}`, () => assert.equal(parseIpAddr(t)?.family, family));
});

describe("parseIpPrefix", () => {
  it("masks the network like Go's ParseCIDR", () => {
    const c = parseIpPrefix("10.0.2.5/24") ?? assert.fail();
    assert.equal(formatIpAddr(c.network), "10.0.2.0");
    assert.equal(formatIpAddr(c.ip), "10.0.2.5");
    assert.equal(c.prefix, 24);
  });
  it("rejects bad prefixes", () => {
    for (const t of ["10.0.0.0/33", "10.0.0.0", "10.0.0.0/", "fd00::/129", "10.0.0.0/-1", "10.0.0.0/08x"]) {
      assert.equal(parseIpPrefix(t), undefined, t);
    }
  });
  const formats: [string, string][] = [
    ["10.0.2.5/24", "10.0.2.0/24"],
    ["10.0.2.0/0024", "10.0.2.0/24"],
    ["fd10:0:2::5/120", "fd10:0:2::/120"],
    ["::ffff:10.0.2.5/120", "::ffff:a00:200/120"],
  ];
  for (const [t, want] of formats)
    it(`formats "${t}" as "${want}"`, () => assert.equal(formatIpPrefix(parseIpPrefix(t) ?? assert.fail()), want));
});

describe("prefixMask and ipv4Netmask", () => {
  const masks: [Family, number, bigint][] = [
    [Family.V4, 0, 0n],
    [Family.V4, 24, 0xffffff00n],
    [Family.V4, 32, 0xffffffffn],
    [Family.V6, 64, 0xffffffffffffffffn << 64n],
    [Family.V6, 128, (1n << 128n) - 1n],
  ];
  for (const [f, p, want] of masks) it(`${f}/${p}`, () => assert.equal(prefixMask(f, p), want));
  const netmasks: [number, string][] = [
    [0, "0.0.0.0"],
    [8, "255.0.0.0"],
    [24, "255.255.255.0"],
    [30, "255.255.255.252"],
    [32, "255.255.255.255"],
  ];
  for (const [p, want] of netmasks) it(`netmask of /${p} is ${want}`, () => assert.equal(ipv4Netmask(p), want));
  it("knows the family widths", () => assert.deepEqual([bitsOf(Family.V4), bitsOf(Family.V6)], [32, 128]));
});

describe("offsetIp", () => {
  const cases: [string, number, string | undefined][] = [
    ["10.0.2.0", 1, "10.0.2.1"],
    ["10.0.2.0", 2, "10.0.2.2"],
    ["10.0.2.255", 1, "10.0.3.0"],
    ["255.255.255.255", 1, undefined],
    ["0.0.0.0", -1, undefined],
    ["fd10:0:2::", 2, "fd10:0:2::2"],
    ["fd10::ffff", 1, "fd10::1:0"],
    ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1, undefined],
  ];
  for (const [ip, n, want] of cases)
    it(`${ip} + ${n} is ${want}`, () => {
      const got = offsetIp(parseIpAddr(ip) ?? assert.fail(), n);
      assert.equal(got && formatIpAddr(got), want);
    });
});

describe("prefixContains and prefixesOverlap", () => {
  const p = (t: string) => parseIpPrefix(t) ?? assert.fail(t);
  const contains: [string, string, boolean][] = [
    ["10.0.2.0/24", "10.0.2.200", true],
    ["10.0.2.0/24", "10.0.3.1", false],
    ["10.0.0.0/8", "10.255.0.1", true],
    ["0.0.0.0/0", "1.2.3.4", true],
    ["::/0", "10.0.0.1", false],
    ["fd00::/64", "fd00::1", true],
    ["fd00::/64", "fd00:0:0:1::1", false],
  ];
  for (const [c, ip, want] of contains)
    it(`${c} ${want ? "contains" : "does not contain"} ${ip}`, () =>
      assert.equal(prefixContains(p(c), parseIpAddr(ip) ?? assert.fail()), want));
  const overlaps: [string, string, boolean][] = [
    ["10.0.0.0/8", "10.0.2.0/24", true],
    ["10.0.2.0/24", "10.0.0.0/8", true],
    ["10.0.2.0/24", "10.0.3.0/24", false],
    ["10.0.2.0/30", "10.0.2.4/30", false],
    ["fd00::/48", "fd00:0:0:1::/64", true],
    ["10.0.0.0/8", "::ffff:10.0.0.0/104", false],
  ];
  for (const [a, b, want] of overlaps)
    it(`${a} and ${b} ${want ? "overlap" : "do not overlap"}`, () => assert.equal(prefixesOverlap(p(a), p(b)), want));
});

describe("isGlobalUnicast", () => {
  const cases: [string, boolean][] = [
    ["10.244.1.5", true],
    ["127.0.0.1", false],
    ["169.254.1.1", false],
    ["224.0.0.1", false],
    ["255.255.255.255", false],
    ["0.0.0.0", false],
    ["fd00::5", true],
    ["fe80::1", false],
    ["ff02::1", false],
    ["::1", false],
    // The two documented differences from Go.
    ["240.0.0.1", false],
    ["::ffff:127.0.0.1", true],
  ];
  for (const [t, want] of cases)
    it(`says ${want} for "${t}"`, () => assert.equal(isGlobalUnicast(parseIpAddr(t) ?? assert.fail()), want));
});

// Byte- and integer-level forms, vectors moved here from the DHCP and RA codecs' former parsers.

describe("canonicalIpv6", () => {
  // RFC 4291 §2.2 text forms and RFC 5952 §4 recommendations, with the expected canonical output.
  const cases: [string, string][] = [
    ["2001:DB8:0:0:8:800:200C:417A", "2001:db8::8:800:200c:417a"], // RFC 4291 §2.2 (2)
    ["FF01:0:0:0:0:0:0:101", "ff01::101"], // RFC 4291 §2.2 (2)
    ["0:0:0:0:0:0:0:1", "::1"], // RFC 4291 §2.2 (2)
    ["0:0:0:0:0:0:0:0", "::"], // RFC 4291 §2.2 (2)
    ["::FFFF:129.144.52.38", "::ffff:129.144.52.38"], // RFC 4291 §2.2 (3), RFC 5952 §5
    ["0:0:0:0:0:FFFF:129.144.52.38", "::ffff:129.144.52.38"],
    ["::13.1.68.3", "::d01:4403"], // RFC 4291 §2.2 (3): deprecated IPv4-compatible form is not kept
    ["2001:0db8::0001", "2001:db8::1"], // RFC 5952 §4.1 leading zeros
    ["2001:db8::0:1", "2001:db8::1"], // RFC 5952 §4.2.1 shorten as much as possible
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // RFC 5952 §4.2.2 a single zero group is not compressed
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"], // RFC 5952 §4.2.3 the longest run
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // RFC 5952 §4.2.3 the first of equal runs
    ["2001:DB8::AAAA", "2001:db8::aaaa"], // RFC 5952 §4.3 lower case
    ["fd10:0:2::2", "fd10:0:2::2"],
    ["fe80::", "fe80::"],
    ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
    ["::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"],
  ];
  for (const [input, expected] of cases) {
    it(`formats ${input} as ${expected}`, () => assert.equal(canonicalIpv6(input), expected));
  }
});

describe("parseIpv6", () => {
  const invalid = [
    "",
    ":",
    ":::",
    "1::2::3",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7",
    "12345::",
    "g::",
    "1.2.3.4",
    "::1.2.3.256",
    "::01.2.3.4",
    "::1.2.3",
    "1.2.3.4::",
    "::1.2.3.4:5",
    ":1::",
    "1::2:",
    "fe80::1%eth0",
    " ::1",
    "1:2:3:4:5:6:7:8::",
    "::1:2:3:4:5:6:7:8",
  ];
  for (const text of invalid) {
    it(`rejects "${text}"`, () => {
      assert.equal(tryParseIpv6(text), undefined);
      assert.throws(() => parseIpv6(text), SyntaxError);
    });
  }
  it("returns the 16 bytes in network order", () => {
    assert.deepEqual(parseIpv6("fd10:0:2::2"), Uint8Array.from([0xfd, 0x10, 0, 0, 0, 2, ...new Array(9).fill(0), 2]));
  });
  it("never throws from tryParseIpv6 and keeps what it accepts stable", () => {
    const text = fc.oneof(
      fc.string({ maxLength: 50 }),
      fc
        .array(fc.constantFrom("0", "1", "ff", "ffff", "12345", ":", "::", ".", "1.2.3.4", "g"), { maxLength: 12 })
        .map((parts) => parts.join("")),
    );
    fc.assert(
      fc.property(text, (t) => {
        const bytes = tryParseIpv6(t);
        if (bytes) assert.deepEqual(parseIpv6(formatIpv6(bytes)), bytes);
      }),
      { numRuns: 500 },
    );
  });
  it("round-trips any 16 bytes through formatIpv6", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        assert.deepEqual(parseIpv6(formatIpv6(bytes)), bytes);
      }),
    );
  });
});

describe("parseIpv4", () => {
  const valid: [string, number][] = [
    ["0.0.0.0", 0],
    ["255.255.255.255", 0xffffffff],
    ["10.0.2.2", 0x0a000202],
    ["192.168.1.0", 0xc0a80100],
  ];
  for (const [text, value] of valid) {
    it(`parses "${text}" and formats it back`, () => {
      assert.equal(parseIpv4(text), value);
      assert.equal(formatIpv4(value), text);
    });
  }
  const invalid = [
    "",
    "1.2.3",
    "1.2.3.4.5",
    "256.0.0.1",
    "01.2.3.4",
    "1.2.3.-4",
    "1.2.3.4 ",
    "a.b.c.d",
    "1..2.3",
    "+1.2.3.4",
  ];
  for (const text of invalid) {
    it(`rejects "${text}"`, () => {
      assert.throws(() => parseIpv4(text), { name: "SyntaxError", message: `Cannot parse IPv4 address "${text}"` });
    });
  }
});

describe("ipv4PrefixMask", () => {
  const table: [number, string][] = [
    [0, "0.0.0.0"],
    [8, "255.0.0.0"],
    [24, "255.255.255.0"],
    [25, "255.255.255.128"],
    [30, "255.255.255.252"],
    [32, "255.255.255.255"],
  ];
  for (const [length, mask] of table) {
    it(`maps /${length} to ${mask}`, () => assert.equal(formatIpv4(ipv4PrefixMask(length)), mask));
  }
  it("rejects lengths outside 0..32", () => {
    assert.throws(() => ipv4PrefixMask(33), RangeError);
    assert.throws(() => ipv4PrefixMask(-1), RangeError);
    assert.throws(() => ipv4PrefixMask(1.5), RangeError);
  });
});

describe("parseIpv4Cidr", () => {
  it("parses a canonical prefix", () => {
    assert.deepEqual(parseIpv4Cidr("10.17.0.0/16"), { address: 0x0a110000, prefixLength: 16 });
  });
  it("rejects host bits", () => {
    assert.throws(() => parseIpv4Cidr("10.1.2.3/8"), {
      message: 'Cannot use IPv4 CIDR "10.1.2.3/8": host bits are set',
    });
  });
  for (const text of ["10.0.0.0", "10.0.0.0/33", "10.0.0.0/08", "10.0.0.0/"]) {
    it(`rejects "${text}"`, () => assert.throws(() => parseIpv4Cidr(text), SyntaxError));
  }
});
