import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  decodeMessage,
  encodeDuidLl,
  encodeIaAddress,
  encodeIaNa,
  encodeMessage,
  encodeOro,
} from "../../../src/dhcp/v6/codec.ts";
import { Dhcp6Server } from "../../../src/dhcp/v6/server.ts";
import { DHCLIENT_SOLICIT, DHCPCD_SOLICIT, hex, MASQUERADE_CONFIG } from "./fixtures.ts";

const META = { sourceAddress: "fe80::1", sourcePort: 546 };
const CLIENT_ID = { code: 1, data: hex("0001 0001 3296544e 02117ce156f0") };
const SERVER_ID = { code: 2, data: encodeDuidLl("02:00:00:00:00:00") };
const IA = {
  code: 3,
  data: encodeIaNa({
    iaid: 1,
    t1: 0,
    t2: 0,
    options: [
      {
        code: 5,
        data: encodeIaAddress({ address: "fd10:0:2::2", preferredLifetime: 0, validLifetime: 0, options: [] }),
      },
    ],
  }),
};
const ORO = { code: 6, data: encodeOro([23, 24]) };
const SEEDS: Uint8Array[] = [
  DHCLIENT_SOLICIT,
  DHCPCD_SOLICIT,
  ...[3, 4, 5, 6, 8, 9].map((type) =>
    encodeMessage({
      type,
      transactionId: 7,
      options: type === 4 || type === 6 ? [CLIENT_ID, IA] : [CLIENT_ID, SERVER_ID, IA, ORO],
    }),
  ),
  encodeMessage({ type: 11, transactionId: 7, options: [CLIENT_ID, ORO, { code: 24, data: hex("03737663 00") }] }),
];

function server(): Dhcp6Server {
  return new Dhcp6Server(MASQUERADE_CONFIG);
}

/** A valid seed packet changed by overwriting, truncating, inserting or deleting bytes. */
const mutated = fc
  .tuple(
    fc.constantFrom(...SEEDS),
    fc.array(
      fc.oneof(
        fc.record({ op: fc.constant("set" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
        fc.record({ op: fc.constant("truncate" as const), at: fc.nat() }),
        fc.record({ op: fc.constant("insert" as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 8 }) }),
        fc.record({ op: fc.constant("delete" as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
      ),
      { minLength: 1, maxLength: 4 },
    ),
  )
  .map(([seed, edits]) => {
    let bytes = [...seed];
    for (const e of edits) {
      const at = bytes.length === 0 ? 0 : e.at % (bytes.length + 1);
      if (e.op === "set" && at < bytes.length) bytes[at] = e.value;
      else if (e.op === "truncate") bytes = bytes.slice(0, at);
      else if (e.op === "insert") bytes.splice(at, 0, ...e.bytes);
      else if (e.op === "delete") bytes.splice(at, e.count);
    }
    return Uint8Array.from(bytes);
  });

function checkNeverThrows(bytes: Uint8Array): void {
  const s = server();
  const out = s.handle(bytes, META);
  if (out) {
    // Whatever we answer must itself be a well-formed DHCPv6 message for the same transaction.
    const reply = decodeMessage(out.reply);
    assert.equal(reply.transactionId, ((bytes[1] ?? 0) << 16) | ((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0));
  }
  const stats = s.stats;
  assert.equal(stats.received, 1);
  assert.equal(stats.replied + Object.values(stats.dropped).reduce((a, b) => a + b, 0), 1);
}

describe("Dhcp6Server.handle", () => {
  it("answers every seed packet", () => {
    for (const seed of SEEDS) assert.ok(server().handle(seed, META), `no reply to type ${seed[0]}`);
  });
  it("never throws on arbitrary bytes, and either replies or counts one drop", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), checkNeverThrows), { numRuns: 500 });
  });
  it("never throws on arbitrary option lists with known codes", () => {
    const option = fc.record({
      code: fc.constantFrom(1, 2, 3, 4, 5, 6, 8, 13, 14, 23, 24, 25, 99),
      data: fc.uint8Array({ maxLength: 60 }),
    });
    const message = fc.record({
      type: fc.integer({ min: 0, max: 15 }),
      transactionId: fc.integer({ min: 0, max: 0xffffff }),
      options: fc.array(option, { maxLength: 6 }),
    });
    fc.assert(
      fc.property(message, (m) => checkNeverThrows(encodeMessage(m))),
      { numRuns: 500 },
    );
  });
  it("never throws on mutated valid packets", () => {
    fc.assert(fc.property(mutated, checkNeverThrows), { numRuns: 1000 });
  });
});
