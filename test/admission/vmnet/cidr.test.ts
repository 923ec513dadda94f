import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cidrSize, cidrsOverlap, parseCidr } from "../../../src/admission/vmnet/cidr.ts";

describe("parseCidr", () => {
  const valid: readonly [string, 4 | 6, number, bigint][] = [
    ["10.0.2.0/24", 4, 24, 256n],
    ["10.0.2.1/30", 4, 30, 4n],
    ["10.0.2.0/0", 4, 0, 1n << 32n],
    ["fd10:0:2::/120", 6, 120, 256n],
    ["::/0", 6, 0, 1n << 128n],
    ["::ffff:10.0.0.0/104", 6, 104, 1n << 24n],
    ["2001:db8::1/128", 6, 128, 1n],
  ];
  for (const [text, family, prefix, size] of valid) {
    it(`accepts ${text}`, () => {
      const c = parseCidr(text);
      assert.ok(c);
      assert.equal(c.family, family);
      assert.equal(c.prefix, prefix);
      assert.equal(cidrSize(c), size);
    });
  }
  // Negative vectors from Go's net.ParseCIDR table and the Virtink reference (IPv4 octets with leading zeros).
  const invalid = [
    "010.0.2.0/30",
    "10.0.2.0",
    "10.0.2/24",
    "10.0.2.0/33",
    "10.0.2.0/-1",
    "256.0.0.0/8",
    "fd10::2::/64",
    "fd10:0:2::/129",
    "1:2:3:4:5:6:7:8:9/64",
    "1:2:3:4:5:6:7::8/64x",
    "fe80::1%eth0/64",
    "",
    "abc",
  ];
  for (const text of invalid) {
    it(`rejects ${JSON.stringify(text)}`, () => assert.equal(parseCidr(text), undefined));
  }
  it("masks host bits off", () => {
    assert.equal(parseCidr("10.0.2.1/30")?.network, parseCidr("10.0.2.0/30")?.network);
  });
});

describe("cidrsOverlap", () => {
  const cases: readonly [string, string, boolean][] = [
    ["10.244.0.0/16", "10.244.3.0/24", true],
    ["10.244.3.0/24", "10.244.0.0/16", true],
    ["10.0.2.0/24", "10.244.0.0/16", false],
    ["fd00:10:244::/56", "fd00:10:244:ff::/64", true],
    ["fd00:10:244::/56", "fd00:10:245::/64", false],
    ["10.0.0.0/8", "fd00::/8", false],
  ];
  for (const [a, b, want] of cases) {
    it(`${a} and ${b}: ${want}`, () => {
      const ca = parseCidr(a);
      const cb = parseCidr(b);
      assert.ok(ca && cb);
      assert.equal(cidrsOverlap(ca, cb), want);
    });
  }
});
