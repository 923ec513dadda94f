import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  decodeDomainList,
  decodeDomainName,
  encodeDomainList,
  encodeDomainName,
} from "../../../src/dhcp/v6/domain-names.ts";

function bytes(...parts: (number | string)[]): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === "number") out.push(p);
    else for (const c of p) out.push(c.charCodeAt(0));
  }
  return Uint8Array.from(out);
}

describe("encodeDomainName", () => {
  it("writes length-prefixed labels ended by a zero byte (RFC 1035 §3.1)", () => {
    assert.deepEqual(encodeDomainName("example.com"), bytes(7, "example", 3, "com", 0));
  });
  it("treats a trailing dot as the same name", () => {
    assert.deepEqual(encodeDomainName("cluster.local."), encodeDomainName("cluster.local"));
  });
  it("accepts a 63-octet label and a 255-octet name", () => {
    const label = "a".repeat(63);
    assert.equal(encodeDomainName(label).length, 65);
    // 3 labels of 63 + 1 label of 61: 4 length bytes + 250 + root = 255.
    const name = [label, label, label, "b".repeat(61)].join(".");
    assert.equal(encodeDomainName(name).length, 255);
  });
  const invalid: [string, string][] = [
    ["empty", ""],
    ["root only", "."],
    ["empty label", "a..b"],
    ["64-octet label", `${"a".repeat(64)}.com`],
    ["256-octet name", [..."abcd"].map((c) => c.repeat(63)).join(".")],
    ["space", "my domain.com"],
    ["leading hyphen", "-a.com"],
    ["non-ASCII", "bücher.de"],
  ];
  for (const [what, name] of invalid) {
    it(`rejects ${what}`, () => assert.throws(() => encodeDomainName(name), SyntaxError));
  }
});

describe("encodeDomainList", () => {
  it("concatenates names without compression (RFC 8415 §10)", () => {
    assert.deepEqual(
      encodeDomainList(["svc.cluster.local", "cluster.local"]),
      bytes(3, "svc", 7, "cluster", 5, "local", 0, 7, "cluster", 5, "local", 0),
    );
  });
});

describe("decodeDomainName", () => {
  it("returns the name and the offset after it", () => {
    assert.deepEqual(decodeDomainName(bytes(9, 3, "svc", 0, 1), 1), { name: "svc", next: 6 });
  });
  const invalid: [string, Uint8Array][] = [
    ["a compression pointer", bytes(3, "svc", 0xc0, 0)],
    ["a reserved label type", bytes(0x40, 0)],
    ["an unterminated name", bytes(3, "svc")],
    ["a label overrunning the data", bytes(5, "svc")],
    ["the root name", bytes(0)],
    ["a dot inside a label", bytes(3, "a.b", 0)],
    ["a control byte", bytes(2, "a", 0x0a, 0)],
    ["a name over 255 octets", bytes(...new Array(5).fill(0).flatMap(() => [63, "x".repeat(63)]), 0)],
  ];
  for (const [what, data] of invalid) {
    it(`rejects ${what}`, () => assert.throws(() => decodeDomainName(data, 0), SyntaxError));
  }
});

describe("decodeDomainList", () => {
  it("round-trips valid names", () => {
    const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?$/);
    const name = fc.array(label, { minLength: 1, maxLength: 5 }).map((ls) => ls.join("."));
    fc.assert(
      fc.property(fc.array(name, { maxLength: 5 }), (names) => {
        assert.deepEqual(decodeDomainList(encodeDomainList(names)), names);
      }),
    );
  });
});
