import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FlagKind, type FlagSpec, parseArgs, singleInput, UsageError } from "../../src/cli/args.ts";

const SPECS: readonly FlagSpec[] = [
  { long: "output", short: "o", kind: FlagKind.Value, choices: ["text", "json"] },
  { long: "nad", kind: FlagKind.Repeated },
  { long: "strict", kind: FlagKind.Bool },
];

describe("parseArgs", () => {
  const ok: readonly [string, string[], Record<string, unknown>][] = [
    ["a long flag with its value apart", ["--output", "json", "f"], { output: "json", positionals: ["f"] }],
    ["a long flag with =", ["--output=json", "f"], { output: "json", positionals: ["f"] }],
    ["a short flag apart", ["-o", "json", "f"], { output: "json", positionals: ["f"] }],
    ["a short flag joined", ["-ojson", "f"], { output: "json", positionals: ["f"] }],
    ["a repeated flag", ["--nad", "a", "--nad=b", "f"], { nad: ["a", "b"], positionals: ["f"] }],
    ["a boolean flag after the file", ["f", "--strict"], { strict: true, positionals: ["f"] }],
    ["- as a file and as a value", ["--nad", "-", "-"], { nad: ["-"], positionals: ["-"] }],
    ["-- ends the flags", ["--", "--strict"], { strict: false, positionals: ["--strict"] }],
  ];
  for (const [name, argv, want] of ok) {
    it(`reads ${name}`, () => {
      const a = parseArgs(argv, SPECS);
      assert.deepEqual(a.positionals, want.positionals);
      if ("output" in want) assert.equal(a.values.get("output"), want.output);
      if ("nad" in want) assert.deepEqual(a.repeated.get("nad"), want.nad);
      if ("strict" in want) assert.equal(a.bools.has("strict"), want.strict);
    });
  }
  const bad: readonly [string, string[], RegExp][] = [
    ["an unknown long flag", ["--bogus"], /^Unknown flag "--bogus"$/],
    ["an unknown short flag", ["-x"], /^Unknown flag "-x"$/],
    ["a value flag at the end", ["--output"], /^Flag "--output" needs a value$/],
    ["a value flag followed by a flag", ["--nad", "--strict"], /^Flag "--nad" needs a value$/],
    ["a value outside the choices", ["-o", "xml"], /must be one of "text", "json", not "xml"$/],
    ["a value on a boolean flag", ["--strict=yes"], /^Flag "--strict" takes no value$/],
    ["a single-value flag twice", ["-o", "json", "-o", "text"], /^Flag "--output" given more than once$/],
  ];
  for (const [name, argv, message] of bad) {
    it(`rejects ${name}`, () => {
      assert.throws(
        () => parseArgs(argv, SPECS),
        (e: unknown) => e instanceof UsageError && message.test(e.message),
      );
    });
  }
});

describe("singleInput", () => {
  it("returns the one file", () => assert.equal(singleInput(parseArgs(["f"], SPECS), "validate"), "f"));
  it("rejects none and two", () => {
    assert.throws(() => singleInput(parseArgs([], SPECS), "validate"), UsageError);
    assert.throws(() => singleInput(parseArgs(["a", "b"], SPECS), "validate"), UsageError);
  });
});
