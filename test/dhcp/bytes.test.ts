import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkUint32, concatBytes, equalBytes } from "../../src/dhcp/bytes.ts";

describe("checkUint32", () => {
  for (const value of [0, 1, 0xffffffff]) {
    it(`returns ${value}`, () => assert.equal(checkUint32(value, "T1"), value));
  }
  for (const value of [-1, 0x100000000, 1.5, Number.NaN]) {
    it(`rejects ${value} naming the field`, () =>
      assert.throws(() => checkUint32(value, "T1"), {
        name: "RangeError",
        message: `Cannot encode T1 "${value}": not a 32-bit unsigned integer`,
      }));
  }
});

describe("concatBytes", () => {
  const cases: [string, Uint8Array[], number[]][] = [
    ["no arrays", [], []],
    ["empty arrays", [new Uint8Array(0), new Uint8Array(0)], []],
    ["arrays in order", [Uint8Array.of(1, 2), new Uint8Array(0), Uint8Array.of(3)], [1, 2, 3]],
  ];
  for (const [what, parts, expected] of cases) {
    it(`joins ${what}`, () => assert.deepEqual([...concatBytes(parts)], expected));
  }
  it("returns a single array without copying it", () => {
    const only = Uint8Array.of(7, 8);
    assert.equal(concatBytes([only]), only);
  });
});

describe("equalBytes", () => {
  const cases: [string, Uint8Array, Uint8Array, boolean][] = [
    ["same bytes", Uint8Array.of(1, 2), Uint8Array.of(1, 2), true],
    ["both empty", new Uint8Array(0), new Uint8Array(0), true],
    ["a different byte", Uint8Array.of(1, 2), Uint8Array.of(1, 3), false],
    ["a prefix", Uint8Array.of(1), Uint8Array.of(1, 2), false],
  ];
  for (const [what, a, b, expected] of cases) {
    it(`is ${expected} for ${what}`, () => assert.equal(equalBytes(a, b), expected));
  }
});
