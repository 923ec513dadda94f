import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatMac, parseMac48 } from "../../../src/api/mac.ts";
import {
  DecodeFailure,
  decodePacket,
  encodePacket,
  MIN_REPLY_SIZE,
  PacketDecodeError,
} from "../../../src/dhcp/v4/packet.ts";
import { busyboxDiscover } from "./helpers.ts";

function patched(bytes: Uint8Array, offset: number, value: number): Uint8Array {
  const copy = bytes.slice();
  copy[offset] = value;
  return copy;
}

describe("decodePacket", () => {
  it("reads udhcpc's DISCOVER field by field", () => {
    const p = decodePacket(busyboxDiscover());
    assert.deepEqual(
      [p.op, p.htype, p.hlen, p.hops, p.xid, p.secs, p.flags, p.ciaddr, p.yiaddr, p.siaddr, p.giaddr],
      [1, 1, 6, 0, 0xb0c3e363, 0, 0, 0, 0, 0, 0],
    );
    assert.equal(formatMac(p.chaddr.subarray(0, 6)), "52:54:00:12:34:56");
    assert.deepEqual(p.options.order, [53, 57, 55, 12, 60, 61]);
    assert.deepEqual([...(p.options.values.get(55) ?? [])], [1, 3, 6, 12, 15, 28, 42]);
    assert.equal(new TextDecoder().decode(p.options.values.get(60)), "udhcp 1.35.0");
    assert.deepEqual([...(p.options.values.get(57) ?? [])], [0x02, 0x40]);
    assert.equal(p.options.sawEnd, true);
  });
  const bad: [string, (b: Uint8Array) => Uint8Array, DecodeFailure][] = [
    ["a 239-byte message", (b) => b.subarray(0, 239), DecodeFailure.TooShort],
    ["hlen 17", (b) => patched(b, 2, 17), DecodeFailure.BadHardwareLength],
    ["a wrong magic cookie", (b) => patched(b, 239, 0x64), DecodeFailure.BadMagicCookie],
    ["an option running past the end", (b) => b.subarray(0, 250), DecodeFailure.OptionOverrun],
  ];
  for (const [name, mutate, reason] of bad) {
    it(`rejects ${name} with reason "${reason}"`, () => {
      assert.throws(
        () => decodePacket(mutate(busyboxDiscover())),
        (e: unknown) => e instanceof PacketDecodeError && e.reason === reason,
      );
    });
  }
});

describe("encodePacket", () => {
  it("round-trips header fields and options and pads to the BOOTP minimum", () => {
    const chaddr = parseMac48("02:00:00:00:00:01");
    const bytes = encodePacket(
      {
        op: 2,
        xid: 0xdeadbeef,
        secs: 3,
        flags: 0x8000,
        ciaddr: 1,
        yiaddr: 2,
        siaddr: 3,
        giaddr: 4,
        hops: 1,
        chaddr,
      },
      [
        { code: 53, value: Uint8Array.of(5) },
        { code: 224, value: new Uint8Array(400).fill(7) },
      ],
    );
    const p = decodePacket(bytes);
    assert.deepEqual(
      [p.op, p.htype, p.hlen, p.hops, p.xid, p.secs, p.flags, p.ciaddr, p.yiaddr, p.siaddr, p.giaddr],
      [2, 1, 6, 1, 0xdeadbeef, 3, 0x8000, 1, 2, 3, 4],
    );
    assert.deepEqual(p.options.values.get(224), new Uint8Array(400).fill(7));
    assert.equal(bytes.length, 240 + 3 + 404 + 1);
    const small = encodePacket({ op: 2, xid: 1, chaddr }, [{ code: 53, value: Uint8Array.of(2) }]);
    assert.equal(small.length, MIN_REPLY_SIZE);
  });
});
