import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeDomainSearch, encodeDomainSearch, validateSearchDomains } from "../../../src/dhcp/v4/domain-search.ts";
import { decodeOptions, encodeOptions } from "../../../src/dhcp/v4/options.ts";

const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

describe("encodeDomainSearch", () => {
  // RFC 3397 §4: "eng.apple.com." and "marketing.apple.com.", the second compressed to a pointer at offset 4.
  const rfc3397 = [3, ...ascii("eng"), 5, ...ascii("apple"), 3, ...ascii("com"), 0, 9, ...ascii("marketing"), 0xc0, 4];
  it("matches the RFC 3397 example", () => {
    assert.deepEqual([...encodeDomainSearch(["eng.apple.com.", "marketing.apple.com."])], rfc3397);
    assert.deepEqual([...encodeDomainSearch(["eng.apple.com", "marketing.apple.com"])], rfc3397);
  });
  it("decodes the RFC 3397 example split over two options of 9 and 18 bytes", () => {
    const area = Uint8Array.from([119, 9, ...rfc3397.slice(0, 9), 119, 18, ...rfc3397.slice(9), 255]);
    const joined = decodeOptions(area).values.get(119) ?? new Uint8Array(0);
    assert.deepEqual(decodeDomainSearch(joined), ["eng.apple.com", "marketing.apple.com"]);
  });
  it("compresses a typical Kubernetes search list", () => {
    const list = ["default.svc.cluster.local", "svc.cluster.local", "cluster.local"];
    const encoded = encodeDomainSearch(list);
    // "default.svc.cluster.local" in full (27 bytes), then two bare pointers.
    assert.deepEqual([...encoded.slice(27)], [0xc0, 8, 0xc0, 12]);
    assert.deepEqual(decodeDomainSearch(encoded), list);
  });
  it("encodes the root name KubeVirt's pattern admits as a single zero byte", () => {
    assert.deepEqual(
      [...encodeDomainSearch(["", "cluster.local"])],
      [0, 7, ...ascii("cluster"), 5, ...ascii("local"), 0],
    );
    assert.deepEqual(decodeDomainSearch(Uint8Array.of(0)), [""]);
  });
  it("round-trips through a long list split per RFC 3396", () => {
    const list = Array.from({ length: 9 }, (_, i) => `team${i}.example${i}.org`);
    const encoded = encodeDomainSearch(list);
    const joined = decodeOptions(encodeOptions([{ code: 119, value: encoded }])).values.get(119);
    assert.deepEqual(decodeDomainSearch(joined ?? new Uint8Array(0)), list);
  });
});

describe("validateSearchDomains", () => {
  const invalid = ["Example.com", "-a.com", "a..com", "a.com-", "exa mple.com", "a.1com", `${"a".repeat(64)}.com`];
  for (const domain of invalid) {
    it(`rejects "${domain}" with KubeVirt's message`, () => {
      assert.throws(() => validateSearchDomains([domain]), { message: `Search domain is not valid: '${domain}'` });
    });
  }
  const valid = ["cluster.local", "_srv.example.com", "a.b.c.", "x", "0abc.example"];
  for (const domain of valid) {
    it(`accepts "${domain}"`, () => validateSearchDomains([domain]));
  }
  it("rejects a domain longer than 253 characters", () => {
    const d = `${"a".repeat(60)}.${"b".repeat(60)}.${"c".repeat(60)}.${"d".repeat(60)}.ee.ff.gg.hh`;
    assert.ok(d.length > 253);
    assert.throws(() => validateSearchDomains([d]), { message: `Search domain is not valid: '${d}'` });
  });
  it("rejects lists longer than 255 bytes uncompressed with KubeVirt's message", () => {
    const list = Array.from({ length: 20 }, (_, i) => `domain${i}.example`);
    // Each is 1+7(or 8)+1+7+1 bytes: 10 one-digit (17) and 10 two-digit (18) names = 350.
    assert.throws(() => validateSearchDomains(list), {
      message: "Search domains length exceeded allowable size: was 350 long",
    });
  });
});

describe("decodeDomainSearch", () => {
  const bad: [string, number[], RegExp][] = [
    ["a pointer loop", [1, 97, 0, 1, 98, 0xc0, 3], /pointer loop/],
    ["a pointer to itself", [1, 97, 0xc0, 0], /pointer loop/],
    ["a forward pointer", [0xc0, 4, 0, 0, 1, 97, 0], /forward pointer/],
    ["two names pointing at each other", [1, 97, 0xc0, 5, 0, 1, 98, 0xc0, 0], /forward pointer|pointer loop/],
    ["a truncated label", [5, 97, 98], /truncated/],
    ["a truncated pointer", [1, 97, 0, 0xc0], /truncated/],
    ["a name without its terminating zero", [1, 97], /truncated/],
    ["a reserved label type", [0x40, 0], /reserved label type/],
  ];
  for (const [name, bytes, message] of bad) {
    it(`rejects ${name}`, () => assert.throws(() => decodeDomainSearch(Uint8Array.from(bytes)), message));
  }
  it("rejects a name longer than 255 bytes built from pointers", () => {
    // Four 63-byte labels followed by a pointer back into them exceed 255 bytes of wire name.
    const label = [63, ...Array.from({ length: 63 }, () => 97)];
    const bytes = [...label, ...label, ...label, 0, ...label, ...label, 0xc0, 64];
    assert.throws(() => decodeDomainSearch(Uint8Array.from(bytes)), /longer than 255 bytes/);
  });
  it("decodes an empty value as an empty list", () => assert.deepEqual(decodeDomainSearch(new Uint8Array(0)), []));
});
