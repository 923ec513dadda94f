import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatMac, normaliseMac, parseMac } from "../../../src/admission/vmnet/mac.ts";

// Go's net/mac_test.go ParseMAC table (valid and invalid entries).
const VALID: readonly [string, string][] = [
  ["00:00:5e:00:53:01", "00:00:5e:00:53:01"],
  ["00-00-5e-00-53-01", "00:00:5e:00:53:01"],
  ["0000.5e00.5301", "00:00:5e:00:53:01"],
  ["02:00:5e:10:00:00:00:01", "02:00:5e:10:00:00:00:01"],
  ["02-00-5e-10-00-00-00-01", "02:00:5e:10:00:00:00:01"],
  ["0200.5e10.0000.0001", "02:00:5e:10:00:00:00:01"],
  [
    "00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01",
    "00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01",
  ],
  ["0000.0000.fe80.0000.0000.0000.0200.5e10.0000.0001", "00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01"],
  ["ab:cd:ef:AB:CD:EF", "ab:cd:ef:ab:cd:ef"],
  ["C6-1C-BA-0A-45-88", "c6:1c:ba:0a:45:88"],
];
const INVALID: readonly string[] = [
  "01.02.03.04.05.06",
  "01:02:03:04:05:06:",
  "x1:02:03:04:05:06",
  "01002:03:04:05:06",
  "01:02003:04:05:06",
  "01:02:03004:05:06",
  "01:02:03:04005:06",
  "01:02:03:04:05006",
  "01-02:03:04:05:06",
  "01:02-03-04-05-06",
  "0123:4567:89AF",
  "0123-4567-89AF",
  "01:1c:ba:0a:45:8",
  "",
];

describe("parseMac", () => {
  for (const [text, canonical] of VALID) {
    it(`accepts ${JSON.stringify(text)} as Go does`, () => {
      const octets = parseMac(text);
      assert.ok(octets);
      assert.equal(formatMac(octets), canonical);
    });
  }
  for (const text of INVALID) {
    it(`rejects ${JSON.stringify(text)} as Go does`, () => {
      assert.equal(parseMac(text), undefined);
    });
  }
});

describe("normaliseMac", () => {
  it("gives one spelling for the dash, colon and dotted forms", () => {
    assert.equal(normaliseMac("DE-AD-00-00-BE-AF"), normaliseMac("dead.0000.beaf"));
    assert.equal(normaliseMac("de:ad:00:00:be:af"), "de:ad:00:00:be:af");
  });
});
