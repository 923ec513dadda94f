import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { formatIp, parseIp, parseIpSloppy } from "../../src/api/ip.ts";
import { formatMac, parseMac } from "../../src/api/mac.ts";
import { parseJsonStrict } from "../../src/api/nad.ts";

const RUNS = { numRuns: 300 };

describe("parseJsonStrict agrees with JSON.parse", () => {
  it("parses every serialised JSON value to the same value", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(undefined, 2), (v, indent) => {
        const text = JSON.stringify(v, null, indent);
        assert.deepEqual(parseJsonStrict(text), JSON.parse(text));
      }),
      RUNS,
    );
  });
  it("rejects exactly the texts JSON.parse rejects", () => {
    const alphabet = fc.constantFrom(...'{}[]:,"\\ 0123456789-+.eEtruefalsn\n\tab'.split(""));
    fc.assert(
      fc.property(
        fc.array(alphabet, { maxLength: 12 }).map((cs) => cs.join("")),
        (text) => {
          let native = true;
          try {
            JSON.parse(text);
          } catch {
            native = false;
          }
          let ours = true;
          try {
            parseJsonStrict(text);
          } catch {
            ours = false;
          }
          assert.equal(ours, native, JSON.stringify(text));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe("address round trips", () => {
  it("formatIp output parses back to the same 16 bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        const text = formatIp(bytes);
        assert.deepEqual(parseIp(text), bytes, text);
        assert.deepEqual(parseIpSloppy(text), bytes, text);
      }),
      RUNS,
    );
  });
  it("dotted quads with leading zeros parse only sloppily, to the same address", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }), (octets) => {
        const padded = octets.map((o) => String(o).padStart(3, "0")).join(".");
        assert.equal(formatIp(parseIpSloppy(padded) ?? new Uint8Array(16)), octets.join("."));
        assert.equal(
          parseIp(padded) === undefined,
          octets.some((o) => o < 100),
        );
      }),
      RUNS,
    );
  });
  it("formatMac output parses back to the same bytes", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(6, 8, 20).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
        (bytes) => {
          assert.deepEqual(parseMac(formatMac(bytes)), bytes);
          assert.deepEqual(parseMac(formatMac(bytes).toUpperCase().replaceAll(":", "-")), bytes);
        },
      ),
      RUNS,
    );
  });
});
