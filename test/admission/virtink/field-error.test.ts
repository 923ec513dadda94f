import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { goQuote } from "../../../src/admission/virtink/field-error.ts";

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
