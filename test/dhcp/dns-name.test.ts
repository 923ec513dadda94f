import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { decodeDnsName, decodeDnsNames, encodeDnsName, encodeDnsNames } from "../../src/dhcp/dns-name.ts";

function bytes(...parts: (number | string)[]): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === "number") out.push(p);
    else for (const c of p) out.push(c.charCodeAt(0));
  }
  return Uint8Array.from(out);
}

describe("encodeDnsName", () => {
  it("writes length-prefixed labels ended by a zero byte (RFC 1035 §3.1)", () => {
    assert.deepEqual(encodeDnsName("example.com"), bytes(7, "example", 3, "com", 0));
  });
  it("treats a trailing dot as the same name", () => {
    assert.deepEqual(encodeDnsName("cluster.local."), encodeDnsName("cluster.local"));
  });
  it("accepts a 63-octet label and a 255-octet name", () => {
    const label = "a".repeat(63);
    assert.equal(encodeDnsName(label).length, 65);
    // 3 labels of 63 + 1 label of 61: 4 length bytes + 250 + root = 255.
    const name = [label, label, label, "b".repeat(61)].join(".");
    assert.equal(encodeDnsName(name).length, 255);
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
    it(`rejects ${what}`, () => assert.throws(() => encodeDnsName(name), SyntaxError));
  }
});

describe("encodeDnsNames", () => {
  it("concatenates names without compression (RFC 8415 §10)", () => {
    assert.deepEqual(
      encodeDnsNames(["svc.cluster.local", "cluster.local"]),
      bytes(3, "svc", 7, "cluster", 5, "local", 0, 7, "cluster", 5, "local", 0),
    );
  });
});

describe("decodeDnsName", () => {
  it("returns the name and the offset after it", () => {
    assert.deepEqual(decodeDnsName(bytes(9, 3, "svc", 0, 1), 1), { name: "svc", next: 6 });
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
    it(`rejects ${what}`, () => assert.throws(() => decodeDnsName(data, 0), SyntaxError));
  }
});

describe("decodeDnsNames", () => {
  it("round-trips valid names", () => {
    const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?$/);
    const name = fc.array(label, { minLength: 1, maxLength: 5 }).map((ls) => ls.join("."));
    fc.assert(
      fc.property(fc.array(name, { maxLength: 5 }), (names) => {
        assert.deepEqual(decodeDnsNames(encodeDnsNames(names)), names);
      }),
    );
  });
});

describe("encodeDnsNames with compression", () => {
  // RFC 1035 §4.1.4: F.ISI.ARPA, then FOO.F.ISI.ARPA as FOO plus a pointer to F.ISI.ARPA, then ARPA as a bare
  // pointer (the RFC's message places the first name at offset 20; here the value starts at 0).
  const rfc1035 = bytes(1, "F", 3, "ISI", 4, "ARPA", 0, 3, "FOO", 0xc0, 0, 0xc0, 6);
  it("matches the RFC 1035 §4.1.4 example", () => {
    assert.deepEqual(encodeDnsNames(["F.ISI.ARPA", "FOO.F.ISI.ARPA", "ARPA"], { compress: true }), rfc1035);
  });
  it("decodes it back only when pointers are allowed", () => {
    assert.deepEqual(decodeDnsNames(rfc1035, { pointers: true }), ["F.ISI.ARPA", "FOO.F.ISI.ARPA", "ARPA"]);
    assert.throws(() => decodeDnsNames(rfc1035), /compression pointer at offset 16 is not allowed/);
  });
  it("returns the offset after the first pointer of a compressed name", () => {
    assert.deepEqual(decodeDnsName(rfc1035, 12, { pointers: true }), { name: "FOO.F.ISI.ARPA", next: 18 });
  });
  it("round-trips valid names", () => {
    const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?$/);
    const name = fc.array(label, { minLength: 1, maxLength: 5 }).map((ls) => ls.join("."));
    fc.assert(
      fc.property(fc.array(name, { maxLength: 8 }), (names) => {
        const encoded = encodeDnsNames(names, { compress: true });
        assert.ok(encoded.length <= encodeDnsNames(names).length);
        assert.deepEqual(decodeDnsNames(encoded, { pointers: true }), names);
      }),
    );
  });
});

describe("the root name", () => {
  it("is rejected unless allowed", () => {
    assert.throws(() => encodeDnsNames([""]), SyntaxError);
    assert.deepEqual(encodeDnsNames([""], { allowRoot: true }), bytes(0));
    assert.throws(() => decodeDnsNames(bytes(0)), /empty root name/);
    assert.deepEqual(decodeDnsNames(bytes(0), { allowRoot: true }), [""]);
  });
});

describe("decodeDnsNames with pointers", () => {
  const bad: [string, Uint8Array, RegExp][] = [
    ["a pointer loop", bytes(1, "a", 0, 1, "b", 0xc0, 3), /pointer loop/],
    ["a pointer to itself", bytes(1, "a", 0xc0, 0), /pointer loop/],
    ["a forward pointer", bytes(0xc0, 4, 0, 0, 1, "a", 0), /forward pointer/],
    ["a truncated pointer", bytes(1, "a", 0xc0), /truncated/],
    ["a reserved label type 0x80", bytes(0x80, 0), /reserved label type/],
  ];
  for (const [what, data, message] of bad) {
    it(`rejects ${what}`, () => assert.throws(() => decodeDnsNames(data, { pointers: true }), message));
  }
});
