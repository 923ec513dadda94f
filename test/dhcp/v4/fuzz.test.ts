import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { MessageType, OptionCode } from "../../../src/dhcp/v4/options.ts";
import { decodePacket, MIN_REPLY_SIZE } from "../../../src/dhcp/v4/packet.ts";
import { Dhcp4Server, type Dhcp4Stats } from "../../../src/dhcp/v4/server.ts";
import { bridgeConfig, busyboxDiscover, fromUnconfigured, masqueradeConfig, request } from "./helpers.ts";

const seeds: Uint8Array[] = [
  busyboxDiscover(),
  request({ type: MessageType.Request, requested: "10.244.1.5", serverId: "169.254.75.10", maxSize: 1500 }),
  request({ type: MessageType.Request, ciaddr: "10.244.1.5" }),
  request({ type: MessageType.Request, requested: "10.244.1.77" }),
  request({ type: MessageType.Inform, ciaddr: "10.244.1.5", prl: [119, 121, 6] }),
  request({ type: MessageType.Decline, requested: "10.244.1.5" }),
  request({
    type: MessageType.Discover,
    extra: [{ code: OptionCode.DomainSearch, value: Uint8Array.of(3, 97, 98, 99, 0, 1, 100, 0xc0, 0) }],
  }),
];

/** One edit of a valid datagram: overwrite a byte, truncate, insert bytes, or cut a range out. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant("set" as const), at: fc.nat(400), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat(400) }),
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(400), bytes: fc.uint8Array({ maxLength: 8 }) }),
  fc.record({ kind: fc.constant("cut" as const), at: fc.nat(400), length: fc.integer({ min: 1, max: 16 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function apply(bytes: Uint8Array, edits: readonly Mutation[]): Uint8Array {
  let out = bytes.slice();
  for (const e of edits) {
    const at = out.length === 0 ? 0 : e.at % (out.length + 1);
    if (e.kind === "set") {
      if (at < out.length) out[at] = e.value;
    } else if (e.kind === "truncate") out = out.slice(0, at);
    else if (e.kind === "insert") out = Uint8Array.from([...out.subarray(0, at), ...e.bytes, ...out.subarray(at)]);
    else out = Uint8Array.from([...out.subarray(0, at), ...out.subarray(at + e.length)]);
  }
  return out;
}

function accounted(stats: Dhcp4Stats): number {
  const dropped = Object.values(stats.dropped).reduce((a, b) => a + b, 0);
  return dropped + stats.sent.offer + stats.sent.ack + stats.sent.nak + stats.releases + stats.declines;
}

function checkHandle(server: Dhcp4Server, bytes: Uint8Array): void {
  const before = server.stats.received;
  const result = server.handle(bytes, fromUnconfigured);
  assert.equal(server.stats.received, before + 1);
  // Every datagram ends up in exactly one counter.
  assert.equal(accounted(server.stats), server.stats.received);
  if (result !== undefined) {
    assert.ok(result.reply.length >= MIN_REPLY_SIZE);
    const reply = decodePacket(result.reply);
    assert.equal(reply.op, 2);
    assert.equal(server.stats.dropped.internalError, 0);
  }
}

describe("Dhcp4Server.handle under fuzzing", () => {
  it("never throws on arbitrary bytes", () => {
    const server = new Dhcp4Server(masqueradeConfig);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), (bytes) => checkHandle(server, bytes)),
      { numRuns: 2000 },
    );
  });
  it("never throws on arbitrary bytes behind a valid header and cookie", () => {
    const server = new Dhcp4Server(masqueradeConfig);
    const header = busyboxDiscover().subarray(0, 240);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (area) => {
        checkHandle(server, Uint8Array.from([...header, ...area]));
      }),
      { numRuns: 2000 },
    );
    assert.equal(server.stats.dropped.internalError, 0);
  });
  it("never throws on mutated valid requests and never fails internally", () => {
    const server = new Dhcp4Server(bridgeConfig);
    fc.assert(
      fc.property(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 6 }), (seed, edits) => {
        checkHandle(server, apply(seed, edits));
      }),
      { numRuns: 3000 },
    );
    assert.equal(server.stats.dropped.internalError, 0);
    // The mutations must reach both the reply path and several drop reasons, or the property proves little.
    const { offer, ack, nak } = server.stats.sent;
    assert.ok(offer > 0 && ack > 0 && nak > 0, JSON.stringify(server.stats.sent));
    assert.ok(Object.values(server.stats.dropped).filter((n) => n > 0).length >= 5, JSON.stringify(server.stats));
  });
});
