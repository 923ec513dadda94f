import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ALL_NODES,
  maskPrefix,
  RouterAdvertiser,
  type RouterAdvertiserConfig,
  solicitedReplyDelay,
} from "../../../src/dhcp/ra/advertiser.ts";
import { decodeRouterAdvertisement, icmpv6Checksum } from "../../../src/dhcp/ra/ndp.ts";
import { hex } from "../v6/fixtures.ts";
import { MASQUERADE_CONFIG as CONFIG, KERNEL_RS, MASQUERADE_RA_BYTES } from "./fixtures.ts";

const RS_WITHOUT_OPTIONS = hex("8500 0000 0000 0000");

describe("masqueradeAdvertiserConfig", () => {
  it("asks for stateful DHCPv6 and an on-link prefix without SLAAC", () => {
    assert.equal(CONFIG.managed, true);
    assert.equal(CONFIG.other, true);
    assert.deepEqual([CONFIG.prefix?.onLink, CONFIG.prefix?.autonomous], [true, false]);
    assert.equal(CONFIG.sourceLinkLocal, "fe80::ff:fe00:0");
    assert.equal(CONFIG.routerLifetime, 1800);
  });
});

describe("RouterAdvertiser.buildAdvertisement", () => {
  it("builds the masquerade RA byte for byte as hand-built from RFC 4861 and RFC 8106", () => {
    assert.deepEqual(new RouterAdvertiser(CONFIG).buildAdvertisement(), MASQUERADE_RA_BYTES);
  });
  it("fills the checksum for the link-local source and ff02::1", () => {
    const bytes = new RouterAdvertiser(CONFIG).buildAdvertisement();
    assert.equal(icmpv6Checksum("fe80::ff:fe00:0", ALL_NODES, bytes), 0);
  });
  it("clears host bits of the advertised prefix", () => {
    const ra = decodeRouterAdvertisement(
      new RouterAdvertiser({
        ...CONFIG,
        prefix: CONFIG.prefix && { ...CONFIG.prefix, prefix: "fd10:0:2::2" },
      }).buildAdvertisement(),
    );
    const prefix = ra.options.find((o) => o.kind === "prefix-information");
    assert.equal(prefix?.kind === "prefix-information" && prefix.prefix, "fd10:0:2::");
  });
  it("omits MTU, prefix, RDNSS and DNSSL when not configured", () => {
    const ra = decodeRouterAdvertisement(
      new RouterAdvertiser({ ...CONFIG, mtu: undefined, prefix: undefined, rdnss: [], dnssl: [] }).buildAdvertisement(),
    );
    assert.deepEqual(
      ra.options.map((o) => o.kind),
      ["source-link-layer-address"],
    );
  });
  it("counts unsolicited advertisements", () => {
    const adv = new RouterAdvertiser(CONFIG);
    adv.buildAdvertisement();
    adv.buildAdvertisement();
    assert.equal(adv.stats.unsolicited, 2);
  });
});

describe("RouterAdvertiser.buildFinalAdvertisement", () => {
  it("keeps everything but sets Router Lifetime 0 (RFC 4861 §6.2.5)", () => {
    const adv = new RouterAdvertiser(CONFIG);
    const last = decodeRouterAdvertisement(adv.buildFinalAdvertisement());
    const normal = decodeRouterAdvertisement(adv.buildAdvertisement());
    assert.equal(last.routerLifetime, 0);
    assert.deepEqual({ ...last, routerLifetime: normal.routerLifetime }, normal);
  });
});

describe("solicitedReplyDelay", () => {
  const cases: [string, number, boolean, number | undefined, number][] = [
    ["a unicast reply waits up to 0.5 s", 0.5, false, 0, 0.25],
    ["a unicast reply ignores the multicast rate limit", 0.2, false, 1, 0.1],
    ["the first multicast reply only waits the random delay", 0.8, true, undefined, 0.4],
    ["a multicast reply 1 s after the last one waits 2 s", 0.1, true, 1, 2],
    ["a multicast reply 10 s after the last one waits the random delay", 0.1, true, 10, 0.05],
  ];
  for (const [what, random, multicast, sinceLastMulticast, expected] of cases) {
    it(what, () => assert.equal(solicitedReplyDelay({ random, multicast, sinceLastMulticast }), expected));
  }
});

describe("RouterAdvertiser.handleSolicitation", () => {
  it("unicasts to a solicitation's specified source (RFC 4861 §6.2.6), zone kept for the transport", () => {
    const adv = new RouterAdvertiser(CONFIG);
    const out = adv.handleSolicitation(KERNEL_RS, { sourceAddress: "fe80::11:7cff:fee1:56f0%k6t-eth0" });
    assert.equal(out?.to, "fe80::11:7cff:fee1:56f0%k6t-eth0");
    assert.equal(icmpv6Checksum("fe80::ff:fe00:0", "fe80::11:7cff:fee1:56f0", out?.reply ?? new Uint8Array()), 0);
    assert.equal(decodeRouterAdvertisement(out?.reply ?? new Uint8Array()).managed, true);
    assert.equal(adv.stats.solicitedReplies, 1);
  });
  it("multicasts to ff02::1 for an unspecified source without link-layer option", () => {
    const out = new RouterAdvertiser(CONFIG).handleSolicitation(RS_WITHOUT_OPTIONS, { sourceAddress: "::" });
    assert.equal(out?.to, ALL_NODES);
    assert.equal(icmpv6Checksum("fe80::ff:fe00:0", ALL_NODES, out?.reply ?? new Uint8Array()), 0);
  });
  const dropped: [string, Uint8Array, string, string][] = [
    ["an unspecified source with a link-layer option", KERNEL_RS, "::", "unspecified-source-with-lla"],
    ["a multicast source", KERNEL_RS, "ff02::1", "bad-source-address"],
    ["an unparsable source", KERNEL_RS, "not-an-address", "bad-source-address"],
    ["a non-zero code", hex("8501 0000 0000 0000"), "fe80::1", "bad-code"],
    ["a short message", hex("8500 0000 0000 00"), "fe80::1", "truncated"],
    ["a zero-length option", hex("8500 0000 0000 0000 0100 0000 0000 0000"), "fe80::1", "zero-option-length"],
    ["an option overrun", hex("8500 0000 0000 0000 0102 0211 7ce1 56f0"), "fe80::1", "option-overrun"],
    ["a router advertisement", hex("8600 0000 4000 0000 0000 0000 0000 0000"), "fe80::1", "wrong-type"],
  ];
  for (const [what, bytes, source, reason] of dropped) {
    it(`drops ${what} and counts "${reason}"`, () => {
      const adv = new RouterAdvertiser(CONFIG);
      assert.equal(adv.handleSolicitation(bytes, { sourceAddress: source }), undefined);
      assert.equal(adv.stats.dropped[reason as keyof typeof adv.stats.dropped], 1);
      assert.equal(adv.stats.solicitedReplies, 0);
    });
  }
});

describe("RouterAdvertiser.nextInterval", () => {
  it("caps the first three intervals at 16 s, then spans [min, max] (RFC 4861 §6.2.4)", () => {
    const adv = new RouterAdvertiser(CONFIG);
    assert.deepEqual(
      [0.99, 0.5, 0, 0.5, 0, 0.5].map((r) => adv.nextInterval(r)),
      [16, 16, 16, 399, 198, 399],
    );
  });
  it("keeps initial intervals below 16 s as drawn", () => {
    const adv = new RouterAdvertiser({ ...CONFIG, minInterval: 3, maxInterval: 20, routerLifetime: 60 });
    assert.equal(adv.nextInterval(0), 3);
    assert.equal(adv.nextInterval(0.5), 11.5);
  });
  it("rejects a random value outside [0, 1)", () => {
    assert.throws(() => new RouterAdvertiser(CONFIG).nextInterval(1), RangeError);
  });
});

describe("RouterAdvertiser configuration", () => {
  const invalid: [string, Partial<RouterAdvertiserConfig>, ErrorConstructor][] = [
    ["a global source address", { sourceLinkLocal: "fd10:0:2::1" }, RangeError],
    ["a bad MAC", { sourceMac: "02:00" }, SyntaxError],
    ["maxInterval below 4", { maxInterval: 3, minInterval: 3 }, RangeError],
    ["maxInterval above 1800", { maxInterval: 1801 }, RangeError],
    ["minInterval above 0.75 × maxInterval", { minInterval: 451 }, RangeError],
    ["routerLifetime below maxInterval", { routerLifetime: 599 }, RangeError],
    ["routerLifetime above 9000", { routerLifetime: 9001 }, RangeError],
    ["an MTU below 1280", { mtu: 1279 }, RangeError],
    ["a bad DNS server", { rdnss: ["10.0.0.1"] }, SyntaxError],
    ["a bad search domain", { dnssl: ["a..b"] }, SyntaxError],
  ];
  for (const [what, patch, error] of invalid) {
    it(`rejects ${what}`, () => assert.throws(() => new RouterAdvertiser({ ...CONFIG, ...patch }), error));
  }
  it("accepts routerLifetime 0 (not a default router)", () => {
    const ra = decodeRouterAdvertisement(new RouterAdvertiser({ ...CONFIG, routerLifetime: 0 }).buildAdvertisement());
    assert.equal(ra.routerLifetime, 0);
  });
});

describe("maskPrefix", () => {
  const cases: [string, number, string][] = [
    ["fd10:0:2::2", 120, "fd10:0:2::"],
    ["fd10:0:2::1ff", 120, "fd10:0:2::100"],
    ["2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::"],
    ["2001:db8::1", 128, "2001:db8::1"],
    ["2001:db8::1", 0, "::"],
  ];
  for (const [prefix, length, expected] of cases) {
    it(`masks ${prefix}/${length} to ${expected}`, () => assert.equal(maskPrefix(prefix, length), expected));
  }
});
