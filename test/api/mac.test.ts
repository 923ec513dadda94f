import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  formatMac,
  goMacErrorText,
  MacParseError,
  normalizeMac,
  parseMac,
  parseMac48,
  tryParseMac,
} from "../../src/api/mac.ts";

// Go's net/mac_test.go parseMACTests, plus the examples of the Virtink reference §2.4.
const parseMacTests: { in: string; out: number[] | undefined }[] = [
  // RFC 7042, Section 2.1.1.
  { in: "00:00:5e:00:53:01", out: [0x00, 0x00, 0x5e, 0x00, 0x53, 0x01] },
  { in: "00-00-5e-00-53-01", out: [0x00, 0x00, 0x5e, 0x00, 0x53, 0x01] },
  { in: "0000.5e00.5301", out: [0x00, 0x00, 0x5e, 0x00, 0x53, 0x01] },
  // RFC 7042, Section 2.2.2.
  { in: "02:00:5e:10:00:00:00:01", out: [0x02, 0x00, 0x5e, 0x10, 0x00, 0x00, 0x00, 0x01] },
  { in: "02-00-5e-10-00-00-00-01", out: [0x02, 0x00, 0x5e, 0x10, 0x00, 0x00, 0x00, 0x01] },
  { in: "0200.5e10.0000.0001", out: [0x02, 0x00, 0x5e, 0x10, 0x00, 0x00, 0x00, 0x01] },
  // RFC 4391, Section 9.1.1.
  {
    in: "00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01",
    out: [0, 0, 0, 0, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x00, 0x5e, 0x10, 0, 0, 0, 0x01],
  },
  {
    in: "00-00-00-00-fe-80-00-00-00-00-00-00-02-00-5e-10-00-00-00-01",
    out: [0, 0, 0, 0, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x00, 0x5e, 0x10, 0, 0, 0, 0x01],
  },
  {
    in: "0000.0000.fe80.0000.0000.0000.0200.5e10.0000.0001",
    out: [0, 0, 0, 0, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x00, 0x5e, 0x10, 0, 0, 0, 0x01],
  },
  { in: "ab:cd:ef:AB:CD:EF", out: [0xab, 0xcd, 0xef, 0xab, 0xcd, 0xef] },
  { in: "ab-cd-ef-AB-CD-EF", out: [0xab, 0xcd, 0xef, 0xab, 0xcd, 0xef] },
  { in: "abcd.efAB.CDEF", out: [0xab, 0xcd, 0xef, 0xab, 0xcd, 0xef] },
  { in: "01.02.03.04.05.06", out: undefined },
  { in: "01:02:03:04:05:06:", out: undefined },
  { in: "x1:02:03:04:05:06", out: undefined },
  { in: "01002:03:04:05:06", out: undefined },
  { in: "01:02003:04:05:06", out: undefined },
  { in: "01:02:03004:05:06", out: undefined },
  { in: "01:02:03:04005:06", out: undefined },
  { in: "01:02:03:04:05006", out: undefined },
  { in: "01-02:03:04:05:06", out: undefined },
  { in: "01:02-03-04-05-06", out: undefined },
  { in: "0123:4567:89AF", out: undefined },
  { in: "0123-4567-89AF", out: undefined },
  // Virtink reference §2.4.
  { in: "c6:1c:ba:0a:45:88", out: [0xc6, 0x1c, 0xba, 0x0a, 0x45, 0x88] },
  { in: "C6-1C-BA-0A-45-88", out: [0xc6, 0x1c, 0xba, 0x0a, 0x45, 0x88] },
  { in: "c61c.ba0a.4588", out: [0xc6, 0x1c, 0xba, 0x0a, 0x45, 0x88] },
  { in: "01:1c:ba:0a:45:88", out: [0x01, 0x1c, 0xba, 0x0a, 0x45, 0x88] },
  { in: "01:1c:ba:0a:45:8", out: undefined },
  { in: "c6:1c:ba-0a:45:88", out: undefined },
  { in: "zz:1c:ba:0a:45:88", out: undefined },
  { in: "", out: undefined },
  { in: "c61c.ba0a.4588.", out: undefined },
  { in: "c6:1c:ba:0a:45:+8", out: undefined },
];

describe("parseMac", () => {
  for (const t of parseMacTests) {
    it(`${t.out ? "accepts" : "rejects"} ${JSON.stringify(t.in)}`, () => {
      const got = tryParseMac(t.in);
      assert.deepEqual(got === undefined ? undefined : Array.from(got), t.out);
      if (t.out) assert.deepEqual(Array.from(parseMac(t.in)), t.out);
      else assert.throws(() => parseMac(t.in), MacParseError);
    });
  }
});

describe("formatMac", () => {
  const cases: { in: string; out: string }[] = [
    { in: "DE-AD-00-00-BE-AF", out: "de:ad:00:00:be:af" },
    { in: "abcd.efAB.CDEF", out: "ab:cd:ef:ab:cd:ef" },
    { in: "02:00:5e:10:00:00:00:01", out: "02:00:5e:10:00:00:00:01" },
    { in: "52-54-00-AB-0C-FF", out: "52:54:00:ab:0c:ff" },
  ];
  for (const c of cases) {
    it(`renders ${c.in} as ${c.out}`, () => {
      assert.equal(formatMac(parseMac(c.in)), c.out);
      assert.equal(normalizeMac(c.in), c.out);
    });
  }
  it("names the input in the error message", () => {
    assert.throws(() => parseMac("nope"), { message: 'Cannot parse MAC address "nope": invalid MAC address' });
  });
});

// Virtink's MAC check: Go's net/mac_test.go parseMACTests (RFC 7042 §2.1.1 and §2.2.2, RFC 4391 §9.1.1) plus the
// Virtink reference §2.4, with Go's `err.Error()` texts.
describe("tryParseMac and goMacErrorText (Virtink)", () => {
  const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
  const accepted: ReadonlyArray<readonly [string, string]> = [
    ["00:00:5e:00:53:01", "00005e005301"],
    ["00-00-5e-00-53-01", "00005e005301"],
    ["0000.5e00.5301", "00005e005301"],
    ["02:00:5e:10:00:00:00:01", "02005e1000000001"],
    ["02-00-5e-10-00-00-00-01", "02005e1000000001"],
    ["0200.5e10.0000.0001", "02005e1000000001"],
    ["00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01", "00000000fe8000000000000002005e1000000001"],
    ["00-00-00-00-fe-80-00-00-00-00-00-00-02-00-5e-10-00-00-00-01", "00000000fe8000000000000002005e1000000001"],
    ["0000.0000.fe80.0000.0000.0000.0200.5e10.0000.0001", "00000000fe8000000000000002005e1000000001"],
    ["ab:cd:ef:AB:CD:EF", "abcdefabcdef"],
    ["ab-cd-ef-AB-CD-EF", "abcdefabcdef"],
    ["abcd.efAB.CDEF", "abcdefabcdef"],
    ["c6:1c:ba:0a:45:88", "c61cba0a4588"],
    ["C6-1C-BA-0A-45-88", "c61cba0a4588"],
    ["c61c.ba0a.4588", "c61cba0a4588"],
    ["01:1c:ba:0a:45:88", "011cba0a4588"],
    ["ff:ff:ff:ff:ff:ff", "ffffffffffff"],
  ];
  for (const [input, bytes] of accepted) {
    it(`accepts ${input}`, () => assert.equal(hex(tryParseMac(input) ?? assert.fail()), bytes));
  }
  const rejected: readonly string[] = [
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
    "01.02.03.04.05.06.07.08",
    "01:02:03:04:05:06:07:08:",
    "x1:02:03:04:05:06:07:08",
    "01:02:03:04:05:06:07008",
    "0123:4567:89AB:CDEF",
    "01:1c:ba:0a:45:8",
    "c6:1c:ba-0a:45:88",
    "zz:1c:ba:0a:45:88",
    "c6:1c:ba:0a:45:88:",
    "c6:1c:ba:0a:45",
    "c6:1c:ba:0a:45:88:99",
    "c61c.ba0a.4588.",
    "c61cba0a4588",
    "c6:1c:ba:0a:45:é8",
    " c6:1c:ba:0a:45:88",
  ];
  for (const input of rejected) {
    it(`rejects ${JSON.stringify(input)} with Go's AddrError text`, () => {
      assert.equal(tryParseMac(input), undefined);
      assert.equal(goMacErrorText(input), `address ${input}: invalid MAC address`);
      assert.throws(() => parseMac(input), { goError: `address ${input}: invalid MAC address` });
    });
  }
  it("rejects the empty string without the address prefix", () => {
    assert.equal(tryParseMac(""), undefined);
    assert.equal(goMacErrorText(""), "invalid MAC address");
    assert.throws(() => parseMac(""), { goError: "invalid MAC address" });
  });
});

describe("parseMac48", () => {
  // From the RA code's former colon-only parser; the dash form is Go's and accepted now.
  it("parses colon-separated hex in either case", () => {
    assert.deepEqual(parseMac48("02:00:0A:bc:00:ff"), Uint8Array.from([2, 0, 10, 0xbc, 0, 0xff]));
  });
  for (const text of ["02:00:00:00:00", "2:0:0:0:0:0", "02:00:00:00:00:0g", ""]) {
    it(`rejects "${text}"`, () => assert.throws(() => parseMac48(text), SyntaxError));
  }
});

describe("parseMac48 (DHCPv4 client bindings)", () => {
  it("accepts colon and dash forms and formats lowercase", () => {
    assert.equal(formatMac(parseMac48("52:54:00:AB:cd:EF")), "52:54:00:ab:cd:ef");
    assert.equal(formatMac(parseMac48("52-54-00-ab-cd-ef")), "52:54:00:ab:cd:ef");
  });
  for (const text of ["52:54:00:ab:cd", "52:54:00:ab:cd:ef:01", "5:54:00:ab:cd:ef", "zz:54:00:ab:cd:ef"]) {
    it(`rejects "${text}"`, () => assert.throws(() => parseMac48(text), SyntaxError));
  }
});

describe("parseMac48 beyond 48 bits", () => {
  for (const text of ["02:00:5e:10:00:00:00:01", "0000.5e00.5301.0000"]) {
    it(`rejects the Go-valid non-Ethernet MAC "${text}"`, () => assert.throws(() => parseMac48(text), MacParseError));
  }
  it("accepts the dotted form", () =>
    assert.deepEqual(Array.from(parseMac48("0200.5e10.0001")), [2, 0, 0x5e, 0x10, 0, 1]));
});
