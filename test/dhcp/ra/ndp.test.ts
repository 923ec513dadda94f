import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { formatIpv6 } from "../../../src/api/ip.ts";
import { formatMac } from "../../../src/api/mac.ts";
import type { NdOption } from "../../../src/dhcp/ra/ndp.ts";
import {
  decodeNdOptions,
  decodeRouterAdvertisement,
  decodeRouterSolicitation,
  encodeNdOption,
  encodeRouterAdvertisement,
  encodeRouterSolicitation,
  fillIcmpv6Checksum,
  icmpv6Checksum,
  NdDecodeError,
} from "../../../src/dhcp/ra/ndp.ts";
import { hex } from "../v6/fixtures.ts";
import { KERNEL_RS, MASQUERADE_RA, MASQUERADE_RA_BYTES } from "./fixtures.ts";

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const address = fc.uint8Array({ minLength: 16, maxLength: 16 }).map(formatIpv6);
const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?$/);
const domain = fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => ls.join("."));
/** Plain objects, so decoded values compare equal to generated ones. */
const PLAIN = { noNullPrototype: true } as const;
const ndOption: fc.Arbitrary<NdOption> = fc.oneof(
  fc
    .uint8Array({ minLength: 6, maxLength: 6 })
    .map((m) => ({ kind: "source-link-layer-address" as const, mac: formatMac(m) })),
  fc.record(
    {
      kind: fc.constant("prefix-information" as const),
      prefix: address,
      length: fc.integer({ min: 0, max: 128 }),
      onLink: fc.boolean(),
      autonomous: fc.boolean(),
      validLifetime: u32,
      preferredLifetime: u32,
    },
    PLAIN,
  ),
  fc.record({ kind: fc.constant("mtu" as const), mtu: u32 }, PLAIN),
  fc.record(
    {
      kind: fc.constant("rdnss" as const),
      lifetime: u32,
      servers: fc.array(address, { minLength: 1, maxLength: 4 }),
    },
    PLAIN,
  ),
  fc.record(
    {
      kind: fc.constant("dnssl" as const),
      lifetime: u32,
      domains: fc.array(domain, { minLength: 1, maxLength: 4 }),
    },
    PLAIN,
  ),
);

/**
 * ICMPv6 messages the Linux kernel sent on a veth pair, captured with tcpdump (which reported "icmp6 sum ok"):
 * source, destination, the ICMPv6 bytes and the checksum the kernel wrote.
 */
const KERNEL_PACKETS: [string, string, string, Uint8Array, number][] = [
  ["router solicitation", "fe80::11:7cff:fee1:56f0", "ff02::2", KERNEL_RS, 0xd368],
  [
    "router solicitation",
    "fe80::9422:56ff:feb6:2604",
    "ff02::2",
    hex("8500 5974 0000 0000 0101 9622 56b6 2604"),
    0x5974,
  ],
  [
    "DAD neighbor solicitation with nonce",
    "::",
    "ff02::1:ffb6:2604",
    hex("8700 3681 0000 0000 fe80 0000 0000 0000 9422 56ff feb6 2604 0e01 a981 a485 b2fe"),
    0x3681,
  ],
  [
    "MLDv2 report",
    "fe80::11:7cff:fee1:56f0",
    "ff02::16",
    hex("8f00 4655 0000 0001 0400 0000 ff02 0000 0000 0000 0000 0001 ffe1 56f0"),
    0x4655,
  ],
];

describe("icmpv6Checksum", () => {
  for (const [what, src, dst, packet, expected] of KERNEL_PACKETS) {
    it(`matches the kernel's checksum of a ${what} from ${src}`, () => {
      const zeroed = packet.slice();
      zeroed[2] = 0;
      zeroed[3] = 0;
      assert.equal(icmpv6Checksum(src, dst, zeroed), expected);
    });
    it(`sums a received ${what} with its checksum to zero`, () => {
      assert.equal(icmpv6Checksum(src, dst, packet), 0);
    });
  }
  it("pads an odd-length payload with a zero byte (RFC 4443 §2.3)", () => {
    const odd = hex("80 00 0000 0001 0002 61");
    const even = hex("80 00 0000 0001 0002 6100");
    // Same data once padded; only the pseudo-header length differs by one, so the checksums differ by one.
    assert.equal((icmpv6Checksum("::1", "::1", odd) - icmpv6Checksum("::1", "::1", even) + 0xffff) % 0xffff, 1);
  });
  it("fills the checksum field in place", () => {
    const [, src, dst, packet] = KERNEL_PACKETS[0] ?? ["", "", "", new Uint8Array(), 0];
    const copy = packet.slice();
    copy[2] = 0xaa;
    copy[3] = 0xbb;
    assert.deepEqual(fillIcmpv6Checksum(copy, { source: src, destination: dst }), packet);
  });
});

describe("encodeRouterAdvertisement", () => {
  it("encodes the masquerade RA byte for byte, checksum over fe80::ff:fe00:0 to ff02::1", () => {
    const bytes = encodeRouterAdvertisement(MASQUERADE_RA, { source: "fe80::ff:fe00:0", destination: "ff02::1" });
    assert.deepEqual(bytes, MASQUERADE_RA_BYTES);
  });
  it("leaves the checksum zero for a raw ICMPv6 socket when no addresses are given", () => {
    const bytes = encodeRouterAdvertisement(MASQUERADE_RA);
    assert.deepEqual([bytes[2], bytes[3]], [0, 0]);
    assert.equal(icmpv6Checksum("fe80::ff:fe00:0", "ff02::1", bytes), 0x80c5);
  });
  it("decodes back to the same advertisement", () => {
    assert.deepEqual(decodeRouterAdvertisement(MASQUERADE_RA_BYTES), MASQUERADE_RA);
  });
  it("round-trips arbitrary advertisements through encode and decode", () => {
    const ra = fc.record(
      {
        curHopLimit: fc.integer({ min: 0, max: 255 }),
        managed: fc.boolean(),
        other: fc.boolean(),
        routerLifetime: fc.integer({ min: 0, max: 0xffff }),
        reachableTime: u32,
        retransTimer: u32,
        options: fc.array(ndOption, { maxLength: 6 }),
      },
      PLAIN,
    );
    fc.assert(
      fc.property(ra, (r) => {
        const bytes = encodeRouterAdvertisement(r, { source: "fe80::1", destination: "ff02::1" });
        assert.equal(bytes.length % 8, 0);
        assert.equal(icmpv6Checksum("fe80::1", "ff02::1", bytes), 0);
        assert.deepEqual(decodeRouterAdvertisement(bytes), r);
      }),
      { numRuns: 300 },
    );
  });
  it("rejects a router lifetime over 16 bits", () => {
    assert.throws(() => encodeRouterAdvertisement({ ...MASQUERADE_RA, routerLifetime: 65536 }), RangeError);
  });
});

describe("RFC 8106 options", () => {
  it("encodes RDNSS with two servers as length 5 (RFC 8106 §5.1)", () => {
    assert.deepEqual(
      encodeNdOption({ kind: "rdnss", lifetime: 600, servers: ["2001:db8::1", "2001:db8::2"] }),
      hex(`19 05 0000 00000258 20010db8000000000000000000000001 20010db8000000000000000000000002`),
    );
  });
  it("pads DNSSL with zeros to a multiple of 8 octets (RFC 8106 §5.2)", () => {
    // 8 header octets + "example.com" (13) + "svc" (5) = 26, padded to 32: length 4.
    assert.deepEqual(
      encodeNdOption({ kind: "dnssl", lifetime: 0xffffffff, domains: ["example.com", "svc"] }),
      hex(`1f 04 0000 ffffffff 076578616d706c65 03636f6d 00 03737663 00 000000000000`),
    );
  });
  it("does not pad a DNSSL that is already a multiple of 8", () => {
    // 8 header octets + a 14-letter label (1 + 14 + 1 = 16) = 24.
    const option = encodeNdOption({ kind: "dnssl", lifetime: 1, domains: ["abcdefghijklmn"] });
    assert.equal(option.length, 24);
    assert.equal(option[1], 3);
  });
  it("decodes DNSSL names and ignores the padding", () => {
    const options = decodeNdOptions(hex(`1f 04 0000 ffffffff 076578616d706c65 03636f6d 00 03737663 00 000000000000`));
    assert.deepEqual(options, [{ kind: "dnssl", lifetime: 0xffffffff, domains: ["example.com", "svc"] }]);
  });
  it("encodes prefix information with the bits past the length as given (RFC 4861 §4.6.2)", () => {
    assert.deepEqual(
      encodeNdOption({
        kind: "prefix-information",
        prefix: "2001:db8::",
        length: 64,
        onLink: true,
        autonomous: true,
        validLifetime: 0xffffffff,
        preferredLifetime: 0,
      }),
      hex(`03 04 40 c0 ffffffff 00000000 00000000 20010db8000000000000000000000000`),
    );
  });
  it("keeps unknown options raw", () => {
    assert.deepEqual(decodeNdOptions(hex("18 01 000000000000")), [
      { kind: "unknown", type: 24, data: hex("000000000000") },
    ]);
  });
});

describe("decodeRouterSolicitation", () => {
  it("decodes the kernel's RS with its source link-layer address", () => {
    const [, , , packet] = KERNEL_PACKETS[0] ?? ["", "", "", new Uint8Array(), 0];
    assert.deepEqual(decodeRouterSolicitation(packet), {
      options: [{ kind: "source-link-layer-address", mac: "02:11:7c:e1:56:f0" }],
    });
  });
  it("re-encodes it with the same checksum", () => {
    const [, src, dst, packet] = KERNEL_PACKETS[0] ?? ["", "", "", new Uint8Array(), 0];
    const rs = decodeRouterSolicitation(packet);
    assert.deepEqual(encodeRouterSolicitation(rs, { source: src, destination: dst }), packet);
  });
  const invalid: [string, Uint8Array, string][] = [
    ["a 7-byte message", hex("85 00 0000 000000"), "truncated"],
    ["a router advertisement", hex("86 00 0000 00000000"), "wrong-type"],
    ["a non-zero code", hex("85 01 0000 00000000"), "bad-code"],
    ["a zero-length option", hex("85 00 0000 00000000 01 00 000000000000"), "zero-option-length"],
    ["an option past the end", hex("85 00 0000 00000000 01 02 020000000000"), "option-overrun"],
    ["a lone option type byte", hex("85 00 0000 00000000 01"), "option-overrun"],
    [
      "a 2-unit link-layer address",
      hex("85 00 0000 00000000 01 02 0200000000000000 0000000000000000"),
      "bad-option-length",
    ],
    ["an even RDNSS length", hex(`85 00 0000 00000000 19 02 0000 00000000 0000000000000000`), "bad-option-length"],
    ["a prefix length over 128", hex(`85 00 0000 00000000 03 04 81 c0 ${"00".repeat(28)}`), "bad-option-length"],
    [
      "a DNSSL with a compression pointer",
      hex(`85 00 0000 00000000 1f 02 0000 00000000 c0 00 00000000 0000`),
      "bad-domain",
    ],
    [
      "a DNSSL with junk after the padding",
      hex(`85 00 0000 00000000 1f 02 0000 00000000 01 61 00 00 00 00 00 01`),
      "bad-domain",
    ],
  ];
  for (const [what, bytes, reason] of invalid) {
    it(`rejects ${what} with reason ${reason}`, () => {
      assert.throws(
        () => decodeRouterSolicitation(bytes),
        (e: unknown) => e instanceof NdDecodeError && e.reason === reason,
      );
    });
  }
});
