import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { NftJson } from "../../src/host/nftables.ts";
import { renderNftJson } from "../../src/plan/nft.ts";
import { planPod } from "../../src/plan/plan.ts";
import { discoverPodFacts } from "../../src/runtime/discover.ts";
import { applyTransaction, recordTables, undoTransaction } from "../../src/runtime/nft.ts";
import { config } from "../plan/fixtures.ts";
import { fakePod, models, podFiles } from "./helpers.ts";

async function masqueradePlan() {
  const pod = await discoverPodFacts("vmnt-fake", { netlink: fakePod(["10.244.1.5/24"]), readFile: podFiles() });
  return planPod(models.masqueradePorts, { config: config(), pod });
}

const foreign: NftJson = {
  nftables: [
    { metainfo: { version: "1.0.6" } },
    { table: { family: "ip", name: "nat", handle: 1 } },
    { chain: { family: "ip", table: "nat", name: "ISTIO_INBOUND", handle: 1 } },
    { set: { family: "ip", table: "nat", name: "istio_ports", type: "inet_service", handle: 2 } },
  ],
};

describe("vmnet nftables transactions", () => {
  it("recordTables tells tables vmnet creates from tables it shares", async () => {
    const plan = await masqueradePlan();
    assert.deepEqual(recordTables(plan, { nftables: [] }), [
      { family: "ip", name: "nat", created: true, chains: [], sets: [] },
      { family: "netdev", name: "vmnet_antispoof", created: true, chains: [], sets: [] },
    ]);
    assert.deepEqual(recordTables(plan, foreign)[0], {
      family: "ip",
      name: "nat",
      created: false,
      chains: ["ISTIO_INBOUND"],
      sets: ["istio_ports"],
    });
  });

  it("applyTransaction replaces an owned table whole and keeps renderNftJson's flushes for a shared one", async () => {
    const plan = await masqueradePlan();
    const rendered = renderNftJson(plan.nft).nftables;
    const owned = applyTransaction(plan, recordTables(plan, { nftables: [] })).nftables;
    assert.deepEqual(owned.slice(0, 4), [
      { add: { table: { family: "ip", name: "nat" } } },
      { delete: { table: { family: "ip", name: "nat" } } },
      { add: { table: { family: "netdev", name: "vmnet_antispoof" } } },
      { delete: { table: { family: "netdev", name: "vmnet_antispoof" } } },
    ]);
    assert.ok(!owned.some((c) => "flush" in c));
    assert.deepEqual(
      owned.slice(4),
      rendered.filter((c) => !("flush" in c)),
    );
    const shared = applyTransaction(plan, recordTables(plan, foreign)).nftables;
    const natFlushes = shared.filter((c) => "flush" in c && JSON.stringify(c).includes('"table":"nat"'));
    assert.ok(natFlushes.length > 0, "a shared table keeps its per-chain flushes");
    assert.ok(!shared.some((c) => "delete" in c && JSON.stringify(c).includes('"name":"nat"')));
  });

  it("undoTransaction deletes owned tables and only vmnet's chains and sets of a shared one", async () => {
    const plan = await masqueradePlan();
    const tables = recordTables(plan, foreign);
    const now: NftJson = {
      nftables: [
        ...foreign.nftables,
        { chain: { family: "ip", table: "nat", name: "KUBEVIRT_PREINBOUND" } },
        { set: { family: "ip", table: "nat", name: "kubevirt_tcp_ports", type: "inet_service" } },
        { table: { family: "netdev", name: "vmnet_antispoof" } },
      ],
    };
    assert.deepEqual(undoTransaction(tables, now)?.nftables, [
      { delete: { table: { family: "netdev", name: "vmnet_antispoof" } } },
      { flush: { chain: { family: "ip", table: "nat", name: "KUBEVIRT_PREINBOUND" } } },
      { delete: { chain: { family: "ip", table: "nat", name: "KUBEVIRT_PREINBOUND" } } },
      { delete: { set: { family: "ip", table: "nat", name: "kubevirt_tcp_ports" } } },
    ]);
    assert.equal(undoTransaction(tables, foreign), undefined, "nothing of vmnet's left");
  });
});
