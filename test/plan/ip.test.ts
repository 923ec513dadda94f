import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatIp, isGlobalUnicast, parseCidr, parseIp } from "../../src/plan/ip.ts";

describe("parseIp and formatIp", () => {
  // Round trips to RFC 5952 canonical text (RFC 5952 §4 examples included).
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
    it(`formats "${input}" as "${want}"`, () => assert.equal(formatIp(parseIp(input) ?? assert.fail()), want));
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
  for (const t of invalid) it(`rejects "${t}"`, () => assert.equal(parseIp(t), undefined));
});

describe("parseCidr", () => {
  it("masks the network like Go's ParseCIDR", () => {
    const c = parseCidr("10.0.2.5/24") ?? assert.fail();
    assert.equal(formatIp(c.network), "10.0.2.0");
    assert.equal(c.prefix, 24);
  });
  it("rejects bad prefixes", () => {
    for (const t of ["10.0.0.0/33", "10.0.0.0", "10.0.0.0/", "fd00::/129", "10.0.0.0/-1", "10.0.0.0/08x"]) {
      assert.equal(parseCidr(t), undefined, t);
    }
  });
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
  ];
  for (const [t, want] of cases)
    it(`says ${want} for "${t}"`, () => assert.equal(isGlobalUnicast(parseIp(t) ?? assert.fail()), want));
});
