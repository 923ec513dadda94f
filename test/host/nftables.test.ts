import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hostExecutor, RecordingExecutor } from "../../src/host/exec.ts";
import {
  anonSet,
  canonicalListing,
  counter,
  daddr,
  dnat,
  dport,
  iifname,
  jump,
  mapLookup,
  masquerade,
  NftApplyError,
  type Nftables,
  NftCli,
  type NftCommand,
  type NftFailure,
  type NftJson,
  nftTable,
  oifname,
  payload,
  range,
  ret,
  ruleset,
  saddr,
  setRef,
  snat,
} from "../../src/host/nftables.ts";
import { FakeNftables } from "../../src/host/nftables-fake.ts";
import { NftBuilder, type NftRuleset, renderNftJson } from "../../src/plan/nft.ts";
import { nftSkipReason, withNetns } from "./harness.ts";

/** KubeVirt's masquerade ruleset for one family (reference §5.4), with ports given as a named interval set. */
function masqueradeRules(f: "ip" | "ip6", guest: string, gateway: string, lo: string, ports: number[]): NftCommand[] {
  const nat = nftTable(f, "nat");
  const base = (name: string, hook: "prerouting" | "input" | "output" | "postrouting", prio: number) =>
    nat.chain(name, { type: "nat", hook, prio });
  return [
    nat.add(),
    base("prerouting", "prerouting", -100),
    base("input", "input", 100),
    base("output", "output", -100),
    base("postrouting", "postrouting", 100),
    nat.chain("KUBEVIRT_PREINBOUND"),
    nat.chain("KUBEVIRT_POSTINBOUND"),
    nat.set("tcp-ports", "inet_service", { flags: ["interval"] }),
    nat.element("tcp-ports", ports),
    nat.rule("postrouting", [saddr(f, guest), counter(), masquerade()]),
    nat.rule("prerouting", [iifname("eth0"), counter(), jump("KUBEVIRT_PREINBOUND")]),
    nat.rule("postrouting", [oifname("k6t-eth0"), counter(), jump("KUBEVIRT_POSTINBOUND")]),
    nat.rule("output", [dport("tcp", anonSet([49152, 49153])), saddr(f, lo), counter(), ret()]),
    nat.rule("KUBEVIRT_PREINBOUND", [dport("tcp", setRef("tcp-ports")), counter(), dnat(guest)]),
    nat.rule("KUBEVIRT_POSTINBOUND", [
      dport("tcp", setRef("tcp-ports")),
      saddr(f, anonSet([lo])),
      counter(),
      snat(gateway),
    ]),
    nat.rule("output", [daddr(f, anonSet([lo])), dport("tcp", setRef("tcp-ports")), counter(), dnat(guest)]),
  ];
}

/** A small planner ruleset: a port set, a base chain jumping to a regular one that DNATs the set's ports. */
function plannedRuleset(): NftRuleset {
  const b = new NftBuilder();
  b.table("ip", "nat")
    .set({ name: "ports", type: "inet_service", interval: true, elements: [22, { range: [8000, 8080] }] })
    .chain("prerouting", { type: "nat", hook: "prerouting", priority: -100, policy: "accept" })
    .chain("INBOUND")
    .rule("prerouting", {
      matches: [{ op: "==", left: { meta: "iifname" }, right: "eth0" }],
      counter: true,
      verdict: { kind: "jump", target: "INBOUND" },
    })
    .rule("INBOUND", {
      matches: [{ op: "==", left: { payload: { protocol: "tcp", field: "dport" } }, right: { setRef: "ports" } }],
      counter: true,
      verdict: { kind: "dnat", addr: "10.0.2.2" },
    });
  return b.build();
}

const ipNat = nftTable("ip", "nat");
const PREROUTING = { type: "nat", hook: "prerouting", prio: -100 } as const;
const vmnetInet = nftTable("inet", "vmnet");

interface NftCase {
  name: string;
  setup?: NftJson[];
  tx: NftJson;
  error?: NftFailure;
  /** `family name` of the tables listed afterwards. */
  tables: string[];
  rules: number;
}

const cases: NftCase[] = [
  {
    name: "KubeVirt masquerade for IPv4 with a port set loads as one transaction",
    tx: ruleset(masqueradeRules("ip", "10.0.2.2", "10.0.2.1", "127.0.0.1", [22, 80])),
    tables: ["ip nat"],
    rules: 7,
  },
  {
    name: "KubeVirt masquerade for IPv6",
    tx: ruleset(masqueradeRules("ip6", "fd10:0:2::2", "fd10:0:2::1", "::1", [22])),
    tables: ["ip6 nat"],
    rules: 7,
  },
  {
    name: "ranges in an interval set and a port-to-address map",
    tx: ruleset([
      ipNat.add(),
      ipNat.chain("prerouting", PREROUTING),
      ipNat.set("ports", "inet_service", { flags: ["interval"], elem: [range(1000, 2000), 22] }),
      ipNat.map("pm", { key: "inet_service", value: "ipv4_addr" }, { elem: [[8080, "10.0.2.3"]] }),
      ipNat.element("pm", [[80, "10.0.2.2"]]),
      ipNat.rule("prerouting", [dport("udp", range(3000, 3010)), counter(), dnat("10.0.2.2")]),
      ipNat.rule("prerouting", [dport("tcp", setRef("ports")), counter(), dnat("10.0.2.2")]),
      ipNat.rule("prerouting", [counter(), dnat(mapLookup(payload("tcp", "dport"), "pm"))]),
    ]),
    tables: ["ip nat"],
    rules: 3,
  },
  {
    name: "inet table NAT names the address family",
    tx: ruleset([
      vmnetInet.add(),
      vmnetInet.chain("post", { type: "nat", hook: "postrouting", prio: 100 }),
      vmnetInet.rule("post", [saddr("ip", "10.0.2.2"), counter(), snat("10.0.2.1", { family: "ip" })]),
      vmnetInet.rule("post", [saddr("ip6", "fd10:0:2::2"), masquerade()]),
    ]),
    tables: ["inet vmnet"],
    rules: 2,
  },
  {
    name: "a jump to a missing chain applies nothing",
    tx: ruleset([
      ipNat.add(),
      ipNat.chain("prerouting", PREROUTING),
      ipNat.rule("prerouting", [counter()]),
      ipNat.rule("prerouting", [jump("MISSING")]),
    ]),
    error: "notFound",
    tables: [],
    rules: 0,
  },
  {
    name: "masquerade outside postrouting applies nothing",
    tx: ruleset([ipNat.add(), ipNat.chain("prerouting", PREROUTING), ipNat.rule("prerouting", [masquerade()])]),
    error: "notSupported",
    tables: [],
    rules: 0,
  },
  {
    name: "snat in a regular chain reached from prerouting applies nothing",
    tx: ruleset([
      ipNat.add(),
      ipNat.chain("prerouting", PREROUTING),
      ipNat.chain("SUB"),
      ipNat.rule("SUB", [snat("10.0.2.1")]),
      ipNat.rule("prerouting", [jump("SUB")]),
    ]),
    error: "notSupported",
    tables: [],
    rules: 0,
  },
  {
    name: "a reference to a missing set applies nothing",
    setup: [ruleset([nftTable("ip", "keep").add()])],
    tx: ruleset([
      ipNat.add(),
      ipNat.chain("prerouting", PREROUTING),
      ipNat.rule("prerouting", [dport("tcp", setRef("nope")), counter()]),
    ]),
    error: "notFound",
    tables: ["ip keep"],
    rules: 0,
  },
  {
    name: "deleting a missing table",
    tx: ruleset([nftTable("ip", "nope").delete()]),
    error: "notFound",
    tables: [],
    rules: 0,
  },
  {
    name: "re-adding existing objects is idempotent and flush empties the chains",
    setup: [ruleset(masqueradeRules("ip", "10.0.2.2", "10.0.2.1", "127.0.0.1", [22]))],
    tx: ruleset([
      ipNat.flush(),
      ...masqueradeRules("ip", "10.0.2.2", "10.0.2.1", "127.0.0.1", [22]).slice(0, 8),
      ipNat.rule("postrouting", [saddr("ip", "10.0.2.2"), counter(), masquerade()]),
    ]),
    tables: ["ip nat"],
    rules: 1,
  },
  {
    name: "flush chain empties its rules and flush set its elements; both stay",
    setup: [ruleset(masqueradeRules("ip", "10.0.2.2", "10.0.2.1", "127.0.0.1", [22, 80]))],
    tx: ruleset([
      { flush: { chain: { family: "ip", table: "nat", name: "postrouting" } } },
      { flush: { set: { family: "ip", table: "nat", name: "tcp-ports" } } },
    ]),
    tables: ["ip nat"],
    rules: 5,
  },
  {
    name: "a set flushed inside the transaction that adds it keeps only later elements",
    tx: ruleset([
      ipNat.add(),
      ipNat.set("ports", "inet_service", { elem: [1, 2] }),
      { flush: { set: { family: "ip", table: "nat", name: "ports" } } },
      ipNat.element("ports", [3]),
    ]),
    tables: ["ip nat"],
    rules: 0,
  },
  {
    name: "a map is flushed and deleted as a set",
    setup: [
      ruleset([
        ipNat.add(),
        ipNat.map("pm", { key: "inet_service", value: "ipv4_addr" }, { elem: [[8080, "10.0.2.3"]] }),
      ]),
    ],
    tx: ruleset([
      { flush: { map: { family: "ip", table: "nat", name: "pm" } } },
      { delete: { map: { family: "ip", table: "nat", name: "pm" } } },
    ]),
    tables: ["ip nat"],
    rules: 0,
  },
  {
    name: "renderNftJson's transaction (add and flush every chain and set) loads twice",
    setup: [renderNftJson(plannedRuleset())],
    tx: renderNftJson(plannedRuleset()),
    tables: ["ip nat"],
    rules: 2,
  },
  {
    name: "flushing a missing chain applies nothing",
    setup: [ruleset([ipNat.add(), ipNat.chain("prerouting", PREROUTING), ipNat.rule("prerouting", [counter()])])],
    tx: ruleset([
      { flush: { chain: { family: "ip", table: "nat", name: "prerouting" } } },
      { flush: { chain: { family: "ip", table: "nat", name: "nope" } } },
    ]),
    error: "notFound",
    tables: ["ip nat"],
    rules: 1,
  },
  {
    name: "flushing a missing set applies nothing",
    setup: [ruleset([ipNat.add()])],
    tx: ruleset([{ flush: { set: { family: "ip", table: "nat", name: "nope" } } }]),
    error: "notFound",
    tables: ["ip nat"],
    rules: 0,
  },
  {
    name: "deleting a chain another chain jumps to applies nothing",
    setup: [ruleset(masqueradeRules("ip", "10.0.2.2", "10.0.2.1", "127.0.0.1", [22]))],
    tx: ruleset([
      { delete: { chain: { family: "ip", table: "nat", name: "output" } } },
      { delete: { chain: { family: "ip", table: "nat", name: "KUBEVIRT_PREINBOUND" } } },
      { flush: { chain: { family: "ip", table: "nat", name: "prerouting" } } },
    ]),
    error: "busy",
    tables: ["ip nat"],
    rules: 7,
  },
  {
    name: "deleting a chain no rule jumps to any more, with its rules",
    setup: [ruleset(masqueradeRules("ip", "10.0.2.2", "10.0.2.1", "127.0.0.1", [22]))],
    tx: ruleset([
      { flush: { chain: { family: "ip", table: "nat", name: "prerouting" } } },
      { delete: { chain: { family: "ip", table: "nat", name: "KUBEVIRT_PREINBOUND" } } },
      { delete: { chain: { family: "ip", table: "nat", name: "output" } } },
    ]),
    tables: ["ip nat"],
    rules: 3,
  },
  {
    name: "deleting a set a rule refers to is refused",
    setup: [ruleset(masqueradeRules("ip", "10.0.2.2", "10.0.2.1", "127.0.0.1", [22]))],
    tx: ruleset([{ delete: { set: { family: "ip", table: "nat", name: "tcp-ports" } } }]),
    error: "busy",
    tables: ["ip nat"],
    rules: 7,
  },
  {
    name: "deleting a set once its rules are gone, as vmnet's undo does",
    setup: [ruleset(masqueradeRules("ip", "10.0.2.2", "10.0.2.1", "127.0.0.1", [22]))],
    tx: ruleset([
      { flush: { chain: { family: "ip", table: "nat", name: "KUBEVIRT_PREINBOUND" } } },
      { flush: { chain: { family: "ip", table: "nat", name: "KUBEVIRT_POSTINBOUND" } } },
      { flush: { chain: { family: "ip", table: "nat", name: "output" } } },
      { delete: { set: { family: "ip", table: "nat", name: "tcp-ports" } } },
    ]),
    tables: ["ip nat"],
    rules: 3,
  },
  {
    name: "deleting a missing chain",
    setup: [ruleset([ipNat.add()])],
    tx: ruleset([{ delete: { chain: { family: "ip", table: "nat", name: "nope" } } }]),
    error: "notFound",
    tables: ["ip nat"],
    rules: 0,
  },
];

async function runCase(nft: Nftables, c: NftCase): Promise<NftJson> {
  for (const s of c.setup ?? []) await nft.apply(s);
  const before = canonicalListing(await nft.list());
  let failure: unknown;
  try {
    await nft.apply(c.tx);
  } catch (e) {
    failure = e;
  }
  const after = await nft.list();
  if (c.error === undefined) {
    assert.equal(failure, undefined);
  } else {
    assert.ok(failure instanceof NftApplyError, `expected NftApplyError, got ${String(failure)}`);
    assert.equal(failure.reason, c.error);
    assert.deepEqual(canonicalListing(after), before, "a refused transaction must change nothing");
  }
  const objs = after.nftables;
  const tables = objs.flatMap((o) => ("table" in o ? [`${o.table.family} ${o.table.name}`] : []));
  assert.deepEqual(tables, c.tables);
  assert.equal(objs.filter((o) => "rule" in o).length, c.rules);
  return after;
}

describe("nftables builders", () => {
  it("dport with an anonymous set builds the libnftables match shape", () => {
    assert.deepEqual(dport("tcp", anonSet([49152, 49153])), {
      match: { op: "==", left: { payload: { protocol: "tcp", field: "dport" } }, right: { set: [49152, 49153] } },
    });
  });
  it("iifname builds a meta match", () => {
    assert.deepEqual(iifname("eth0"), { match: { op: "==", left: { meta: { key: "iifname" } }, right: "eth0" } });
  });
  it("a base chain carries type, hook, priority and policy", () => {
    assert.deepEqual(ipNat.chain("prerouting", PREROUTING), {
      add: {
        chain: {
          family: "ip",
          table: "nat",
          name: "prerouting",
          type: "nat",
          hook: "prerouting",
          prio: -100,
          policy: "accept",
        },
      },
    });
  });
  it("snat in an inet table names the family", () => {
    assert.deepEqual(snat("10.0.2.1", { family: "ip", port: 80 }), {
      snat: { addr: "10.0.2.1", family: "ip", port: 80 },
    });
  });
  it("a map has key and value types", () => {
    assert.deepEqual(ipNat.map("pm", { key: "inet_service", value: "ipv4_addr" }), {
      add: { map: { family: "ip", table: "nat", name: "pm", type: "inet_service", map: "ipv4_addr" } },
    });
  });
});

describe("Nftables contract: FakeNftables", () => {
  for (const c of cases) {
    it(c.name, async () => {
      const nft = new FakeNftables();
      await runCase(nft, c);
      assert.equal(nft.transactions.length, (c.setup?.length ?? 0) + 1);
    });
  }
});

describe("Nftables contract: NftCli in a fresh namespace", { skip: nftSkipReason() }, () => {
  for (const c of cases) {
    it(`${c.name} (and lists back exactly as the fake does)`, async () => {
      await withNetns(1, async ([ns = ""]) => {
        const rec = new RecordingExecutor();
        const real = await runCase(new NftCli(ns, { executor: rec }), c);
        const loads = rec.calls.filter((call) => call.args.includes("-f"));
        assert.equal(loads.length, (c.setup?.length ?? 0) + 1, "one nft -f process per apply");
        const fake = new FakeNftables();
        const faked = await runCase(fake, c);
        assert.deepEqual(canonicalListing(faked), canonicalListing(real));
      });
    });
  }

  it("the masquerade ruleset lists back as KubeVirt's rule text", async () => {
    await withNetns(1, async ([ns = ""]) => {
      await new NftCli(ns).apply(ruleset(masqueradeRules("ip", "10.0.2.2", "10.0.2.1", "127.0.0.1", [22, 80])));
      const { stdout } = await hostExecutor.run("nft", ["list", "ruleset"], { netns: ns });
      for (const line of [
        "ip saddr 10.0.2.2 counter packets 0 bytes 0 masquerade",
        'iifname "eth0" counter packets 0 bytes 0 jump KUBEVIRT_PREINBOUND',
        'oifname "k6t-eth0" counter packets 0 bytes 0 jump KUBEVIRT_POSTINBOUND',
        "tcp dport { 49152, 49153 } ip saddr 127.0.0.1 counter packets 0 bytes 0 return",
        "tcp dport @tcp-ports counter packets 0 bytes 0 dnat to 10.0.2.2",
        "elements = { 22, 80 }",
      ]) {
        assert.ok(stdout.includes(line), `missing "${line}" in:\n${stdout}`);
      }
    });
  });

  it("deleteTable removes the table with one process", async () => {
    await withNetns(1, async ([ns = ""]) => {
      const rec = new RecordingExecutor();
      const nft = new NftCli(ns, { executor: rec });
      await nft.apply(ruleset([ipNat.add()]));
      await nft.deleteTable("ip", "nat");
      assert.equal(rec.calls.length, 2);
      assert.deepEqual(canonicalListing(await nft.list()), []);
    });
  });
});
