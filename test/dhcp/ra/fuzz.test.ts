import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { RouterAdvertiser } from "../../../src/dhcp/ra/advertiser.ts";
import { decodeRouterAdvertisement, encodeRouterSolicitation } from "../../../src/dhcp/ra/ndp.ts";
import { hex } from "../v6/fixtures.ts";
import { KERNEL_RS, MASQUERADE_CONFIG } from "./fixtures.ts";

const SEEDS: Uint8Array[] = [
  KERNEL_RS,
  hex("8500 0000 0000 0000"),
  encodeRouterSolicitation({
    options: [
      { kind: "source-link-layer-address", mac: "52:54:00:12:34:56" },
      { kind: "dnssl", lifetime: 1, domains: ["a.example"] },
      { kind: "rdnss", lifetime: 1, servers: ["fd00::1"] },
    ],
  }),
];
const SOURCES = ["fe80::1", "::", "fe80::11:7cff:fee1:56f0%k6t-eth0", "ff02::1", "junk"];

const mutated = fc
  .tuple(
    fc.constantFrom(...SEEDS),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
    fc.nat(),
  )
  .map(([seed, sets, cut]) => {
    const bytes = seed.slice();
    for (const [at, value] of sets) bytes[at % bytes.length] = value;
    return cut % 4 === 0 ? bytes.subarray(0, cut % (bytes.length + 1)) : bytes;
  });

function checkNeverThrows(bytes: Uint8Array, sourceAddress: string): void {
  const adv = new RouterAdvertiser(MASQUERADE_CONFIG);
  const out = adv.handleSolicitation(bytes, { sourceAddress });
  if (out) assert.equal(decodeRouterAdvertisement(out.reply).managed, true);
  const s = adv.stats;
  assert.equal(s.solicitedReplies + Object.values(s.dropped).reduce((a, b) => a + b, 0), 1);
}

describe("RouterAdvertiser.handleSolicitation", () => {
  it("never throws on arbitrary bytes from any source", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.constantFrom(...SOURCES), checkNeverThrows), {
      numRuns: 500,
    });
  });
  it("never throws on arbitrary bytes that look like a solicitation", () => {
    const rs = fc.uint8Array({ maxLength: 120 }).map((b) => Uint8Array.from([133, 0, 0, 0, 0, 0, 0, 0, ...b]));
    fc.assert(fc.property(rs, fc.constantFrom(...SOURCES), checkNeverThrows), { numRuns: 500 });
  });
  it("never throws on mutated valid solicitations", () => {
    fc.assert(fc.property(mutated, fc.constantFrom(...SOURCES), checkNeverThrows), { numRuns: 1000 });
  });
});
