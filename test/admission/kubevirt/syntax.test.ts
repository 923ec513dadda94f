import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  checkMac,
  dns1123LabelErrors,
  dns1123SubdomainErrors,
  goQuote,
  isGoIPv4,
  isIanaSvcName,
  MacCheck,
  parseGoIP,
} from "../../../src/admission/kubevirt/syntax.ts";

describe("checkMac", () => {
  // Go's net/mac_test.go parseMACTests, classified by byte length.
  const vectors: [string, MacCheck][] = [
    ["00:00:5e:00:53:01", MacCheck.Ok],
    ["02:00:5e:10:00:00:00:01", MacCheck.TooLong],
    ["00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01", MacCheck.TooLong],
    ["00-00-5e-00-53-01", MacCheck.Ok],
    ["02-00-5e-10-00-00-00-01", MacCheck.TooLong],
    ["00-00-00-00-fe-80-00-00-00-00-00-00-02-00-5e-10-00-00-00-01", MacCheck.TooLong],
    ["0000.5e00.5301", MacCheck.Ok],
    ["0200.5e10.0000.0001", MacCheck.TooLong],
    ["0000.0000.fe80.0000.0000.0000.0200.5e10.0000.0001", MacCheck.TooLong],
    ["ab:cd:ef:AB:CD:EF", MacCheck.Ok],
    ["01.02.03.04.05.06", MacCheck.Malformed],
    ["01:02:03:04:05:06:", MacCheck.Malformed],
    ["x1:02:03:04:05:06", MacCheck.Malformed],
    ["01002:03:04:05:06", MacCheck.Malformed],
    ["01:02003:04:05:06", MacCheck.Malformed],
    ["01:02:03004:05:06", MacCheck.Malformed],
    ["01:02:03:04005:06", MacCheck.Malformed],
    ["01:02:03:04:05006", MacCheck.Malformed],
    ["01-02:03:04:05:06", MacCheck.Malformed],
    ["01:02-03-04-05-06", MacCheck.Malformed],
    ["0123:4567:89AF", MacCheck.Malformed],
    ["0123-4567-89AF", MacCheck.Malformed],
    ["de:ad:00:00:be", MacCheck.Malformed],
    ["dé:ad:00:00:be:af", MacCheck.Malformed],
  ];
  for (const [s, want] of vectors)
    it(`classifies ${JSON.stringify(s)} as ${want}`, () => assert.equal(checkMac(s), want));
});

describe("parseGoIP / isGoIPv4", () => {
  const v: [string, boolean, boolean][] = [
    // [input, parses, is IPv4 per To4()]
    ["10.0.0.1", true, true],
    ["255.255.255.255", true, true],
    ["256.0.0.1", false, false],
    ["010.0.0.1", false, false],
    ["1.2.3", false, false],
    ["::ffff:1.2.3.4", true, true],
    ["::ffff:0102:0304", true, true],
    ["fd00::1", true, false],
    ["::", true, false],
    ["1::2::3", false, false],
    ["fe80::1%eth0", false, false],
    ["12345::", false, false],
    ["1:2:3:4:5:6:7:8", true, false],
    ["1:2:3:4:5:6:7:8:9", false, false],
    ["", false, false],
    ["ntp.example.com", false, false],
  ];
  for (const [s, parses, v4] of v) {
    it(`${JSON.stringify(s)} parses=${parses} ipv4=${v4}`, () => {
      assert.equal(parseGoIP(s) !== undefined, parses);
      assert.equal(isGoIPv4(s), v4);
    });
  }
});

describe("DNS-1123 and IANA_SVC_NAME", () => {
  it("dns1123LabelErrors accepts a label", () => assert.deepEqual(dns1123LabelErrors("my-vm"), []));
  it("dns1123LabelErrors reports dots separately", () =>
    assert.deepEqual(dns1123LabelErrors("a.b"), ["must not contain dots"]));
  it("dns1123LabelErrors reports length and format", () =>
    assert.deepEqual(dns1123LabelErrors(`A${"a".repeat(63)}`), [
      "must be no more than 63 characters",
      "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
    ]));
  it("dns1123SubdomainErrors reports format with the example", () =>
    assert.deepEqual(dns1123SubdomainErrors("-x"), [
      "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    ]));
  const svc: [string, boolean][] = [
    ["http", true],
    ["h-2", true],
    ["123", false],
    ["HTTP", false],
    ["-http", false],
    ["http-", false],
    ["ht--tp", false],
    ["a".repeat(15), true],
    ["a".repeat(16), false],
    ["", false],
  ];
  for (const [s, ok] of svc)
    it(`isIanaSvcName(${JSON.stringify(s)}) = ${ok}`, () => assert.equal(isIanaSvcName(s), ok));
});

describe("goQuote", () => {
  const v: [string, string][] = [
    ["red", '"red"'],
    ['a"b', '"a\\"b"'],
    ["a\\b", '"a\\\\b"'],
    ["a\nb\t", '"a\\nb\\t"'],
    ["\x01", '"\\x01"'],
    ["héllo", '"héllo"'],
    ["\u00a0", '"\\u00a0"'],
  ];
  for (const [s, want] of v) it(`quotes ${JSON.stringify(s)}`, () => assert.equal(goQuote(s), want));
});
