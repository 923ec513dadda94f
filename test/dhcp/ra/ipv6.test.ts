import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  canonicalIpv6,
  formatIpv6,
  isUnspecified,
  linkLocalFromMac,
  multicastMac,
  parseIpv6,
  parseMac,
  solicitedNodeMulticast,
  stripZone,
  tryParseIpv6,
} from "../../../src/dhcp/ra/ipv6.ts";

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

describe("linkLocalFromMac", () => {
  // Captured from the Linux kernel: the link-local address it configured for each veth MAC.
  const cases: [string, string][] = [
    ["02:11:7c:e1:56:f0", "fe80::11:7cff:fee1:56f0"],
    ["96:22:56:b6:26:04", "fe80::9422:56ff:feb6:2604"],
    ["02:00:00:00:00:00", "fe80::ff:fe00:0"],
    ["00:1A:2B:3C:4D:5E", "fe80::21a:2bff:fe3c:4d5e"],
  ];
  for (const [mac, expected] of cases) {
    it(`derives ${expected} from ${mac}`, () => assert.equal(linkLocalFromMac(mac), expected));
  }
});

describe("solicitedNodeMulticast", () => {
  // The kernel joined these groups (MLDv2 reports in the capture) for the addresses above.
  const cases: [string, string][] = [
    ["fe80::9422:56ff:feb6:2604", "ff02::1:ffb6:2604"],
    ["fe80::11:7cff:fee1:56f0", "ff02::1:ffe1:56f0"],
    ["fd10:0:2::2", "ff02::1:ff00:2"],
  ];
  for (const [address, expected] of cases) {
    it(`maps ${address} to ${expected}`, () => assert.equal(solicitedNodeMulticast(address), expected));
  }
});

describe("multicastMac", () => {
  it("maps groups to 33:33 plus the low 32 bits (RFC 2464 §7)", () => {
    assert.equal(multicastMac("ff02::1:ffb6:2604"), "33:33:ff:b6:26:04");
    assert.equal(multicastMac("ff02::2"), "33:33:00:00:00:02");
  });
  it("rejects a unicast address", () => assert.throws(() => multicastMac("fe80::1"), RangeError));
});

describe("parseMac", () => {
  it("parses colon-separated hex in either case", () => {
    assert.deepEqual(parseMac("02:00:0A:bc:00:ff"), Uint8Array.from([2, 0, 10, 0xbc, 0, 0xff]));
  });
  for (const text of ["02:00:00:00:00", "02-00-00-00-00-00", "2:0:0:0:0:0", "02:00:00:00:00:0g", ""]) {
    it(`rejects "${text}"`, () => assert.throws(() => parseMac(text), SyntaxError));
  }
});

describe("isUnspecified and stripZone", () => {
  it("recognises :: in any spelling and ignores a zone", () => {
    assert.equal(isUnspecified("::"), true);
    assert.equal(isUnspecified("0:0::0"), true);
    assert.equal(isUnspecified("::%eth0"), true);
    assert.equal(isUnspecified("::1"), false);
    assert.equal(isUnspecified("garbage"), false);
  });
  it("strips the zone of a link-local peer", () => assert.equal(stripZone("fe80::1%k6t-eth0"), "fe80::1"));
});
