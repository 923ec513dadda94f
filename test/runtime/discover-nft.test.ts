import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { RecordingExecutor } from "../../src/host/exec.ts";
import { createNetns, deleteNetns, listNetns } from "../../src/host/netns.ts";
import { NftNetlinkError, NftNetlinkErrorCode } from "../../src/host/nft-netlink.ts";
import { NftCli, nftTable, ruleset } from "../../src/host/nftables.ts";
import { FakeNftables } from "../../src/host/nftables-fake.ts";
import { renderNftJson } from "../../src/plan/nft.ts";
import { planPod } from "../../src/plan/plan.ts";
import { discoverPod, discoverPodFacts, listRuleset } from "../../src/runtime/discover.ts";
import { listedObjects, recordTables } from "../../src/runtime/nft.ts";
import { nftSkipReason, uniqueNetnsName } from "../host/harness.ts";
import { config } from "../plan/fixtures.ts";
import { fakePod, models, podFiles } from "./helpers.ts";

const run = promisify(execFile);

async function nftLoad(netns: string, text: string): Promise<void> {
  const file = join(tmpdir(), `${netns}.nft`);
  await writeFile(file, text);
  try {
    await run("ip", ["netns", "exec", netns, "nft", "-f", file]);
  } finally {
    await run("rm", ["-f", file]);
  }
}

/** Tables of other families beside vmnet's: what a CNI plugin or a node agent may have left in the pod. */
const FOREIGN = `table ip6 cni6 {
  set s6 { type ipv6_addr; flags interval; }
  chain in { type filter hook input priority 0; policy accept; }
}
table bridge br {
  chain fw { type filter hook forward priority -200; }
}
table netdev nd {
  chain ing { type filter hook ingress device lo priority 0; }
}
table inet other {
  map ports { type inet_service : ipv4_addr; }
  chain c { }
}
`;

async function masqueradePlan() {
  const facts = await discoverPodFacts("vmnt-fake", { netlink: fakePod(), readFile: podFiles() });
  return planPod(models.masqueradePorts, { config: config(), pod: facts });
}

function nftRuns(executor: RecordingExecutor): number {
  return executor.calls.filter((c) => c.program === "nft").length;
}

describe("discovery's nftables listing", { skip: nftSkipReason() }, () => {
  const created: string[] = [];
  const fresh = async () => {
    const ns = uniqueNetnsName();
    await createNetns(ns);
    created.push(ns);
    return ns;
  };

  before(async () => {
    // Fails early, with a clear message, on a machine whose nft cannot load vmnet's ruleset at all.
    assert.ok((await masqueradePlan()).nft.tables.length > 0);
  });

  after(async () => {
    const left = new Set(await listNetns());
    for (const n of created) if (left.has(n)) await deleteNetns(n);
  });

  it("discoverPod reads vmnet's and foreign tables over the socket, as nft list sees them, without nft", async () => {
    const ns = await fresh();
    const plan = await masqueradePlan();
    await new NftCli(ns).apply(renderNftJson(plan.nft));
    await nftLoad(ns, FOREIGN);
    const executor = new RecordingExecutor();
    const nft = new NftCli(ns, { executor });
    const options = { netlink: fakePod(), readFile: podFiles(), nft };

    const bySocket = (await discoverPod(ns, options)).kernel.nft;
    assert.equal(nftRuns(executor), 0);
    const byProcess = (await discoverPod(ns, { ...options, nftSocket: false })).kernel.nft;
    assert.equal(nftRuns(executor), 1);

    assert.ok(bySocket !== undefined && byProcess !== undefined);
    assert.deepEqual(listedObjects(bySocket), listedObjects(byProcess));
    assert.deepEqual(recordTables(plan, bySocket), recordTables(plan, byProcess));
    assert.deepEqual(
      listedObjects(bySocket).tables.map((t) => `${t.family} ${t.name}`),
      [...plan.nft.tables.map((t) => `${t.family} ${t.name}`), "ip6 cni6", "bridge br", "netdev nd", "inet other"],
    );
    // A shared table: apply must see it as existing, with the chains and sets that were there.
    assert.ok(recordTables(plan, bySocket).every((t) => !t.created && t.chains.length > 0));
  });

  it("discoverPod reads an empty pod as no tables, so every plan table counts as vmnet's", async () => {
    const ns = await fresh();
    const plan = await masqueradePlan();
    const executor = new RecordingExecutor();
    const { kernel } = await discoverPod(ns, {
      netlink: fakePod(),
      readFile: podFiles(),
      nft: new NftCli(ns, { executor }),
    });
    assert.deepEqual(kernel.nft, { nftables: [] });
    assert.equal(nftRuns(executor), 0);
    assert.ok(recordTables(plan, kernel.nft ?? { nftables: [] }).every((t) => t.created));
  });

  it("listRuleset falls back to nft list when a set's datatype is one the socket reader cannot name", async () => {
    const ns = await fresh();
    await nftLoad(ns, "table inet t {\n  set states { type ct_state; }\n  chain c { }\n}\n");
    const executor = new RecordingExecutor();
    const nft = new NftCli(ns, { executor });
    const listing = await listRuleset(ns, nft);
    assert.equal(nftRuns(executor), 1);
    assert.deepEqual(listedObjects(listing), {
      tables: [{ family: "inet", name: "t" }],
      chains: [{ family: "inet", table: "t", name: "c" }],
      sets: [{ family: "inet", table: "t", name: "states" }],
    });
  });

  it("listRuleset reports a missing namespace by name without running nft", async () => {
    const missing = uniqueNetnsName();
    const executor = new RecordingExecutor();
    await assert.rejects(
      listRuleset(missing, new NftCli(missing, { executor })),
      (e: unknown) =>
        e instanceof NftNetlinkError &&
        e.code === NftNetlinkErrorCode.NetnsMissing &&
        e.message === `Cannot open network namespace "${missing}"`,
    );
    assert.equal(nftRuns(executor), 0);
  });
});

describe("listRuleset with a fake", () => {
  it("listRuleset asks a fake Nftables through list(), never the kernel", async () => {
    const fake = new FakeNftables();
    await fake.apply(ruleset([nftTable("ip", "nat").add()]));
    // "vmnt-fake" does not exist: reaching for a socket there would fail.
    const listing = await listRuleset("vmnt-fake", fake);
    assert.deepEqual(listedObjects(listing).tables, [{ family: "ip", name: "nat" }]);
  });
});
