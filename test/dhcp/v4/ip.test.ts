import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatIPv4, formatMac, parseIPv4, parseIPv4Cidr, parseMac, prefixToMask } from "../../../src/dhcp/v4/ip.ts";

describe("parseIPv4", () => {
  const valid: [string, number][] = [
    ["0.0.0.0", 0],
    ["255.255.255.255", 0xffffffff],
    ["10.0.2.2", 0x0a000202],
    ["192.168.1.0", 0xc0a80100],
  ];
  for (const [text, value] of valid) {
    it(`parses "${text}" and formats it back`, () => {
      assert.equal(parseIPv4(text), value);
      assert.equal(formatIPv4(value), text);
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
      assert.throws(() => parseIPv4(text), { name: "SyntaxError", message: `Cannot parse IPv4 address "${text}"` });
    });
  }
});

describe("prefixToMask", () => {
  const table: [number, string][] = [
    [0, "0.0.0.0"],
    [8, "255.0.0.0"],
    [24, "255.255.255.0"],
    [25, "255.255.255.128"],
    [30, "255.255.255.252"],
    [32, "255.255.255.255"],
  ];
  for (const [length, mask] of table) {
    it(`maps /${length} to ${mask}`, () => assert.equal(formatIPv4(prefixToMask(length)), mask));
  }
  it("rejects lengths outside 0..32", () => {
    assert.throws(() => prefixToMask(33), RangeError);
    assert.throws(() => prefixToMask(-1), RangeError);
    assert.throws(() => prefixToMask(1.5), RangeError);
  });
});

describe("parseIPv4Cidr", () => {
  it("parses a canonical prefix", () => {
    assert.deepEqual(parseIPv4Cidr("10.17.0.0/16"), { address: 0x0a110000, prefixLength: 16 });
  });
  it("rejects host bits", () => {
    assert.throws(() => parseIPv4Cidr("10.1.2.3/8"), {
      message: 'Cannot use IPv4 CIDR "10.1.2.3/8": host bits are set',
    });
  });
  for (const text of ["10.0.0.0", "10.0.0.0/33", "10.0.0.0/08", "10.0.0.0/"]) {
    it(`rejects "${text}"`, () => assert.throws(() => parseIPv4Cidr(text), SyntaxError));
  }
});

describe("parseMac", () => {
  it("accepts colon and dash forms and formats lowercase", () => {
    assert.equal(formatMac(parseMac("52:54:00:AB:cd:EF")), "52:54:00:ab:cd:ef");
    assert.equal(formatMac(parseMac("52-54-00-ab-cd-ef")), "52:54:00:ab:cd:ef");
  });
  for (const text of ["52:54:00:ab:cd", "52:54:00:ab:cd:ef:01", "5:54:00:ab:cd:ef", "zz:54:00:ab:cd:ef"]) {
    it(`rejects "${text}"`, () => assert.throws(() => parseMac(text), SyntaxError));
  }
});
