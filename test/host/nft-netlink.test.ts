import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { createNetns, deleteNetns, listNetns } from "../../src/host/netns.ts";
import {
  datatypeName,
  decodeChain,
  decodeSet,
  dumpRequest,
  inventoryListing,
  listNftInNetns,
  type NftMessage,
  NftMsg,
  NftNetlinkError,
  NftNetlinkErrorCode,
  NftTableFlag,
  parseAttributes,
  parseDumpChunk,
  readNftInventory,
} from "../../src/host/nft-netlink.ts";
import type { NftJson } from "../../src/host/nftables.ts";
import { nftSkipReason, uniqueNetnsName } from "./harness.ts";

const run = promisify(execFile);

/** A netlink message: header (length, type, flags, seq, pid 0) and body, padded to 4 bytes. */
function nlmsg(type: number, seq: number, body: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + body.length, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt16LE(2, 6); // NLM_F_MULTI
  h.writeUInt32LE(seq, 8);
  const pad = Buffer.alloc((4 - (body.length % 4)) % 4);
  return Buffer.concat([h, body, pad]);
}

/** One attribute (TLV), padded. */
function attr(type: number, value: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16LE(4 + value.length, 0);
  h.writeUInt16LE(type, 2);
  return Buffer.concat([h, value, Buffer.alloc((4 - (value.length % 4)) % 4)]);
}

const cstr = (s: string) => Buffer.from(`${s}\0`);
function be32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}
function be64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n), 0);
  return b;
}
function errnoBody(errno: number): Buffer {
  const b = Buffer.alloc(20);
  b.writeInt32LE(-errno, 0);
  return b;
}

function message(msg: number, family: number, attrs: Buffer[]): NftMessage {
  return { msg, family, attrs: parseAttributes(Buffer.concat(attrs)) };
}

describe("nft-netlink codec", () => {
  it("inventoryListing puts each table before its sets and chains", () => {
    const listing = inventoryListing({
      tables: [{ family: "ip", name: "a", handle: 1, flags: 0, use: 2 }],
      chains: [{ family: "ip", table: "a", name: "c", handle: 1 }],
      sets: [{ family: "ip", table: "a", name: "s", handle: 2, type: ["ipv4_addr", "inet_service"], flags: [] }],
    });
    assert.deepEqual(listing.nftables, [
      { table: { family: "ip", name: "a", handle: 1 } },
      { set: { family: "ip", table: "a", name: "s", type: "ipv4_addr . inet_service", handle: 2 } },
      { chain: { family: "ip", table: "a", name: "c", handle: 1 } },
    ]);
  });

  it("dumpRequest encodes nlmsghdr and nfgenmsg(NFPROTO_UNSPEC) for a GETTABLE dump", () => {
    // len 20, type (NFNL_SUBSYS_NFTABLES 10 << 8) | NFT_MSG_GETTABLE 1, flags NLM_F_REQUEST | NLM_F_DUMP, seq 7, pid 0.
    assert.equal(dumpRequest(NftMsg.GetTable, 7).toString("hex"), "14000000010a010307000000000000000000" + "0000");
  });

  it("dumpRequest uses the message number of each kind", () => {
    for (const [msg, type] of [
      [NftMsg.GetTable, 0x0a01],
      [NftMsg.GetChain, 0x0a04],
      [NftMsg.GetSet, 0x0a0a],
    ] as const) {
      assert.equal(dumpRequest(msg, 1).readUInt16LE(4), type);
    }
  });

  it("parseAttributes skips padding and masks NLA_F_NESTED and NLA_F_NET_BYTEORDER", () => {
    const nested = Buffer.concat([attr(0x8000 | 4, attr(1, be32(3))), attr(1, cstr("abc")), attr(0x4000 | 2, be32(9))]);
    const attrs = parseAttributes(nested);
    assert.deepEqual([...attrs.keys()], [4, 1, 2]);
    assert.equal(attrs.get(1)?.toString(), "abc\0");
    assert.equal(
      parseAttributes(attrs.get(4) ?? Buffer.alloc(0))
        .get(1)
        ?.readUInt32BE(0),
      3,
    );
  });

  it("parseAttributes refuses an attribute running past the buffer", () => {
    const bad = attr(1, cstr("abcdef")).subarray(0, 8);
    assert.throws(
      () => parseAttributes(bad),
      (e: unknown) => e instanceof NftNetlinkError && e.code === NftNetlinkErrorCode.Malformed,
    );
  });

  const table = Buffer.concat([Buffer.from([2, 0, 0, 0]), attr(1, cstr("nat")), attr(4, be64(5))]);

  it("parseDumpChunk returns nf_tables messages and sees NLMSG_DONE", () => {
    const chunk = parseDumpChunk(Buffer.concat([nlmsg(0x0a00, 9, table), nlmsg(3, 9, Buffer.from([0, 0, 0, 0]))]), 9);
    assert.equal(chunk.done, true);
    assert.equal(chunk.messages.length, 1);
    assert.equal(chunk.messages[0]?.family, 2);
    assert.equal(chunk.messages[0]?.msg, NftMsg.NewTable);
  });

  it("parseDumpChunk skips messages of another sequence number", () => {
    const chunk = parseDumpChunk(Buffer.concat([nlmsg(0x0a00, 8, table), nlmsg(3, 8, Buffer.alloc(4))]), 9);
    assert.deepEqual(chunk, { messages: [], done: false });
  });

  for (const [name, type] of [
    ["NLMSG_ERROR", 2],
    ["NLMSG_DONE", 3],
  ] as const) {
    it(`parseDumpChunk throws the kernel's errno from ${name}`, () => {
      assert.throws(
        () => parseDumpChunk(nlmsg(type, 4, errnoBody(1)), 4),
        (e: unknown) =>
          e instanceof NftNetlinkError &&
          e.code === NftNetlinkErrorCode.Kernel &&
          e.errno === 1 &&
          e.message === "The kernel refused the nftables dump with errno 1",
      );
    });
  }

  it("parseDumpChunk refuses a message longer than the datagram", () => {
    const msg = nlmsg(0x0a00, 1, table);
    assert.throws(
      () => parseDumpChunk(msg.subarray(0, msg.length - 4), 1),
      (e: unknown) => e instanceof NftNetlinkError && e.code === NftNetlinkErrorCode.Malformed,
    );
  });

  for (const [id, name] of [
    [7, "ipv4_addr"],
    [8, "ipv6_addr"],
    [9, "ether_addr"],
    [13, "inet_service"],
    [(7 << 6) | 13, ["ipv4_addr", "inet_service"]],
    [(8 << 12) | (13 << 6) | 12, ["ipv6_addr", "inet_service", "inet_proto"]],
    [0xffffff00, "verdict"],
  ] as const) {
    it(`datatypeName names datatype ${id}`, () => {
      assert.deepEqual(datatypeName(id), name);
    });
  }

  for (const id of [0, 4, 26, (7 << 6) | 26]) {
    it(`datatypeName refuses datatype ${id} as unsupported`, () => {
      assert.throws(
        () => datatypeName(id),
        (e: unknown) => e instanceof NftNetlinkError && e.code === NftNetlinkErrorCode.Unsupported,
      );
    });
  }

  it("decodeSet leaves anonymous sets out and names maps and flags", () => {
    const base = [attr(1, cstr("t")), attr(16, be64(3)), attr(4, be32(7))];
    assert.equal(
      decodeSet(message(NftMsg.NewSet, 2, [...base, attr(2, cstr("__set0")), attr(3, be32(0x1 | 0x2))])),
      undefined,
    );
    assert.deepEqual(
      decodeSet(message(NftMsg.NewSet, 1, [...base, attr(2, cstr("m")), attr(3, be32(0x8 | 0x4)), attr(6, be32(7))])),
      { family: "inet", table: "t", name: "m", handle: 3, type: "ipv4_addr", map: "ipv4_addr", flags: ["interval"] },
    );
  });

  it("decodeChain reads a base chain's hook, signed priority and policy, and leaves binding chains out", () => {
    const hook = attr(0x8000 | 4, Buffer.concat([attr(1, be32(4)), attr(2, be32(-100))]));
    const common = [attr(1, cstr("nat")), attr(2, be64(1))];
    assert.deepEqual(
      decodeChain(
        message(NftMsg.NewChain, 2, [...common, attr(3, cstr("post")), hook, attr(5, be32(1)), attr(7, cstr("nat"))]),
      ),
      {
        family: "ip",
        table: "nat",
        name: "post",
        handle: 1,
        type: "nat",
        hook: "postrouting",
        prio: -100,
        policy: "accept",
      },
    );
    assert.equal(
      decodeChain(message(NftMsg.NewChain, 2, [...common, attr(3, cstr("__chain0")), attr(10, be32(0x4))])),
      undefined,
    );
  });
});

/** What `nft -j list ruleset` shows, reduced to what the socket reader reads: no rules, elements or metainfo. */
function nftProjection(listing: NftJson): unknown[] {
  const out: unknown[] = [];
  for (const o of listing.nftables as readonly Record<string, Record<string, unknown>>[]) {
    const [kind] = Object.keys(o);
    const v = kind === undefined ? undefined : o[kind];
    if (kind === undefined || v === undefined || kind === "metainfo" || kind === "rule") continue;
    const { elem: _elem, dev: _dev, ...rest } = v;
    // nft 1.0.6 prints a concatenation as an array; NftSet carries it as nft's input syntax.
    for (const key of ["type", "map"]) {
      const t = rest[key];
      if (Array.isArray(t)) rest[key] = t.join(" . ");
    }
    out.push({ [kind]: rest });
  }
  return out;
}

async function nftList(netns: string): Promise<NftJson> {
  const { stdout } = await run("ip", ["netns", "exec", netns, "nft", "-j", "list", "ruleset"]);
  return JSON.parse(stdout) as NftJson;
}

async function nftLoad(netns: string, text: string): Promise<void> {
  const file = join(tmpdir(), `${netns}.nft`);
  await writeFile(file, text);
  try {
    await run("ip", ["netns", "exec", netns, "nft", "-f", file]);
  } finally {
    await run("rm", ["-f", file]);
  }
}

/** One table per family, as `nft -f` text, each with chains (base and regular) and, where the family has them, sets. */
const FAMILY_TABLES: readonly { family: string; text: string }[] = [
  {
    family: "ip",
    text: `table ip t4 {
  set s4 { type ipv4_addr; flags interval; elements = { 10.0.0.0/8 }; }
  map m4 { type ipv4_addr : ipv4_addr; }
  chain pre { type nat hook prerouting priority -100; policy accept; }
  chain c { ip saddr { 1.2.3.4, 5.6.7.8 } accept; }
}`,
  },
  {
    family: "ip6",
    text: `table ip6 t6 {
  set s6 { type ipv6_addr; }
  set c6 { type ipv6_addr . inet_service; }
  chain in { type filter hook input priority 0; policy drop; }
}`,
  },
  {
    family: "inet",
    text: `table inet ti {
  set ports { type inet_service; elements = { 22, 80 }; }
  set macs { type ether_addr; }
  set protos { type inet_proto; }
  set marks { type mark; }
  set names { type ifname; }
  set types { type ether_type; }
  map vm { type inet_service : verdict; }
  chain fw { type filter hook forward priority 10; jump c; }
  chain c { tcp dport @ports accept; }
}`,
  },
  {
    family: "bridge",
    text: `table bridge tb {
  chain fw { type filter hook forward priority -200; }
}`,
  },
  {
    family: "netdev",
    text: `table netdev tn {
  chain ing { type filter hook ingress device lo priority 0; }
}`,
  },
  {
    family: "arp",
    text: `table arp ta {
  chain in { type filter hook input priority 0; }
}`,
  },
];

describe("readNftInventory", { skip: nftSkipReason() }, () => {
  const ns = uniqueNetnsName();
  const created: string[] = [];

  before(async () => {
    await createNetns(ns);
    created.push(ns);
  });

  after(async () => {
    const left = new Set(await listNetns());
    for (const n of created) if (left.has(n)) await deleteNetns(n);
  });

  it("readNftInventory reads an empty namespace as no tables, chains or sets", async () => {
    assert.deepEqual(await readNftInventory(ns), { tables: [], chains: [], sets: [] });
  });

  for (const t of FAMILY_TABLES) {
    it(`listNftInNetns agrees with nft -j list ruleset on a table of family ${t.family}`, async () => {
      const one = uniqueNetnsName();
      await createNetns(one);
      created.push(one);
      await nftLoad(one, t.text);
      assert.deepEqual(nftProjection(await listNftInNetns(one)), nftProjection(await nftList(one)));
      assert.ok((await listNftInNetns(one)).nftables.length > 1);
    });
  }

  it("listNftInNetns agrees with nft -j list ruleset on tables of every family at once", async () => {
    await nftLoad(ns, FAMILY_TABLES.map((t) => t.text).join("\n"));
    const mine = await listNftInNetns(ns);
    assert.deepEqual(nftProjection(mine), nftProjection(await nftList(ns)));
    const inv = await readNftInventory(ns);
    assert.deepEqual(
      inv.tables.map((t) => `${t.family} ${t.name}`),
      ["ip t4", "ip6 t6", "inet ti", "bridge tb", "netdev tn", "arp ta"],
    );
    // nft 1.0.6's JSON leaves the device of a netdev chain out; the socket reads it.
    assert.equal(inv.chains.find((c) => c.family === "netdev")?.dev, "lo");
  });

  it("readNftInventory reads a dump spread over many datagrams", async () => {
    const one = uniqueNetnsName();
    await createNetns(one);
    created.push(one);
    const names = Array.from({ length: 400 }, (_, i) => `chain-with-a-longer-name-${i}`);
    const sets = Array.from({ length: 200 }, (_, i) => `  set s${i} { type ipv4_addr; }`);
    await nftLoad(one, `table inet big {\n${sets.join("\n")}\n${names.map((n) => `  chain ${n} { }`).join("\n")}\n}\n`);
    const inv = await readNftInventory(one);
    assert.equal(inv.chains.length, 400);
    assert.equal(inv.sets.length, 200);
    assert.deepEqual(nftProjection(inventoryListing(inv)), nftProjection(await nftList(one)));
  });

  it("readNftInventory reads table flags as nft shows them", async () => {
    const one = uniqueNetnsName();
    await createNetns(one);
    created.push(one);
    // nft 1.0.6 prints table flags as broken JSON ("flags": with no value), so the text listing is the reference.
    await nftLoad(one, "table ip dorm {\n  flags dormant;\n}\ntable inet awake {\n}\n");
    const { stdout } = await run("ip", ["netns", "exec", one, "nft", "list", "table", "ip", "dorm"]);
    assert.match(stdout, /flags dormant/);
    const inv = await readNftInventory(one);
    assert.deepEqual(
      inv.tables.map((t) => [t.family, t.name, t.flags]),
      [
        ["ip", "dorm", NftTableFlag.Dormant],
        ["inet", "awake", 0],
      ],
    );
  });

  it("readNftInventory refuses a set of a datatype it cannot name as unsupported", async () => {
    const one = uniqueNetnsName();
    await createNetns(one);
    created.push(one);
    await nftLoad(one, "table inet t {\n  set states { type ct_state; }\n}\n");
    await assert.rejects(
      readNftInventory(one),
      (e: unknown) =>
        e instanceof NftNetlinkError && e.code === NftNetlinkErrorCode.Unsupported && /datatype "26"/.test(e.message),
    );
  });

  it("readNftInventory reports a missing namespace by name", async () => {
    const missing = uniqueNetnsName();
    await assert.rejects(
      readNftInventory(missing),
      (e: unknown) =>
        e instanceof NftNetlinkError &&
        e.code === NftNetlinkErrorCode.NetnsMissing &&
        e.message === `Cannot open network namespace "${missing}"`,
    );
  });

  it("readNftInventory refuses a namespace name that is not one", async () => {
    await assert.rejects(readNftInventory("../etc"), RangeError);
  });
});
