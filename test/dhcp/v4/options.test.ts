import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeOptions, encodeOptions, OptionOverrunError } from "../../../src/dhcp/v4/options.ts";

describe("encodeOptions", () => {
  it("writes code, length, value and a final End", () => {
    assert.deepEqual([...encodeOptions([{ code: 53, value: Uint8Array.of(2) }])], [53, 1, 2, 255]);
  });
  it("splits a value longer than 255 bytes into consecutive instances (RFC 3396)", () => {
    const value = Uint8Array.from({ length: 600 }, (_, i) => i & 0xff);
    const area = encodeOptions([{ code: 224, value }]);
    assert.equal(area.length, 600 + 3 * 2 + 1);
    assert.deepEqual([area[0], area[1]], [224, 255]);
    assert.deepEqual([area[257], area[258]], [224, 255]);
    assert.deepEqual([area[514], area[515]], [224, 90]);
    assert.deepEqual(decodeOptions(area).values.get(224), value);
  });
  it("writes an empty value as a zero-length option", () => {
    assert.deepEqual([...encodeOptions([{ code: 121, value: new Uint8Array(0) }])], [121, 0, 255]);
  });
  it("rejects codes 0 and 255", () => {
    assert.throws(() => encodeOptions([{ code: 0, value: new Uint8Array(1) }]), RangeError);
    assert.throws(() => encodeOptions([{ code: 255, value: new Uint8Array(1) }]), RangeError);
  });
});

describe("decodeOptions", () => {
  it("skips Pad, stops at End and keeps first-seen order", () => {
    const decoded = decodeOptions(Uint8Array.of(0, 0, 53, 1, 1, 0, 61, 2, 1, 9, 255, 77, 77));
    assert.deepEqual(decoded.order, [53, 61]);
    assert.deepEqual([...(decoded.values.get(61) ?? [])], [1, 9]);
    assert.equal(decoded.sawEnd, true);
  });
  it("joins split instances of one code even when other options sit between them (RFC 3396 §5)", () => {
    const decoded = decodeOptions(Uint8Array.of(119, 2, 1, 2, 53, 1, 3, 119, 1, 3, 255));
    assert.deepEqual([...(decoded.values.get(119) ?? [])], [1, 2, 3]);
    assert.deepEqual(decoded.order, [119, 53]);
  });
  it("tolerates a missing End when the area ends cleanly", () => {
    assert.equal(decodeOptions(Uint8Array.of(53, 1, 1)).sawEnd, false);
  });
  const overruns: [string, number[]][] = [
    ["a length running past the end", [53, 1, 1, 12, 5, 65]],
    ["a code without a length byte", [53, 1, 1, 12]],
  ];
  for (const [name, bytes] of overruns) {
    it(`rejects ${name}`, () => assert.throws(() => decodeOptions(Uint8Array.from(bytes)), OptionOverrunError));
  }
});
