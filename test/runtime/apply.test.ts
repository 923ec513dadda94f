import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { VmNetworkModel } from "../../src/api/model.ts";
import type { NetlinkOp } from "../../src/host/netlink.ts";
import type { FakeNetlink } from "../../src/host/netlink-fake.ts";
import { canonicalListing } from "../../src/host/nftables.ts";
import { FakeNftables } from "../../src/host/nftables-fake.ts";
import { planPod } from "../../src/plan/plan.ts";
import { applyPlan } from "../../src/runtime/apply.ts";
import { discoverPod, discoverPodFacts } from "../../src/runtime/discover.ts";
import { ApplyStep, RuntimeError, RuntimeErrorCode } from "../../src/runtime/errors.ts";
import { diffLinks, linkViews } from "../../src/runtime/links.ts";
import { MemoryStateStore, NetworkPhase } from "../../src/runtime/state.ts";
import { teardownPlan } from "../../src/runtime/teardown.ts";
import { sysctlInterface } from "../../src/runtime/undo.ts";
import { config } from "../plan/fixtures.ts";
import {
  FailingNetlink,
  FailingNftables,
  FailingSysctl,
  fakePod,
  LinkedFakeSysctl,
  models,
  netlinkSnapshot,
  podFiles,
} from "./helpers.ts";

async function planFor(model: VmNetworkModel, netlink: FakeNetlink | FailingNetlink, state?: MemoryStateStore) {
  const recorded = await state?.load();
  const facts = await discoverPodFacts("vmnt-fake", {
    netlink,
    readFile: podFiles(),
    ...(recorded === undefined ? {} : { state: recorded }),
  });
  return planPod(model, { config: config(), pod: facts });
}

/** A fake pod with its adapters. */
function fakeRuntime(addresses?: readonly string[]) {
  const kernel = fakePod(addresses);
  return {
    kernel,
    netlink: new FailingNetlink(kernel, undefined),
    nft: new FakeNftables(),
    sysctl: new LinkedFakeSysctl(kernel),
    state: new MemoryStateStore(),
  };
}

describe("diffLinks", () => {
  it("diffLinks orders bridge-binding ops as KubeVirt applies them (§5.1, §5.2)", async () => {
    const kernel = fakePod(["10.244.1.5/24"]);
    const plan = await planFor(models.bridge, kernel);
    const views = linkViews(await kernel.links(), await kernel.addresses());
    const ops = diffLinks(plan, views);
    const bridgeMac = ops.find((o): o is Extract<NetlinkOp, { op: "setMac" }> => o.op === "setMac")?.mac ?? "";
    assert.match(bridgeMac, /^[0-9a-f][26ae](:[0-9a-f]{2}){5}$/, "a locally administered unicast MAC");
    assert.deepEqual(ops, [
      { op: "addBridge", name: "k6t-eth0" },
      { op: "setMac", name: "k6t-eth0", mac: bridgeMac },
      { op: "addAddress", name: "k6t-eth0", address: "169.254.75.10/32" },
      { op: "setUp", name: "k6t-eth0" },
      { op: "setDown", name: "eth0" },
      { op: "rename", name: "eth0", newName: "eth0-nic" },
      { op: "setMac", name: "eth0-nic", mac: bridgeMac },
      { op: "setMaster", name: "eth0-nic", master: "k6t-eth0" },
      { op: "flushAddresses", name: "eth0-nic" },
      { op: "setUp", name: "eth0-nic" },
      { op: "setLearningOff", name: "eth0-nic" },
      { op: "addTap", name: "tap0", user: 107, group: 107 },
      { op: "setMtu", name: "tap0", mtu: 1450 },
      { op: "setMaster", name: "tap0", master: "k6t-eth0" },
      { op: "setUp", name: "tap0" },
      { op: "addDummy", name: "eth0" },
      { op: "setMac", name: "eth0", mac: "0a:58:0a:f4:01:05" },
      { op: "setMtu", name: "eth0", mtu: 1450 },
      { op: "addAddress", name: "eth0", address: "10.244.1.5/24" },
    ]);
  });

  it("diffLinks leaves the pod NIC alone for masquerade and adds IPv6 without DAD", async () => {
    const kernel = fakePod(["fd00:10:244:1::5/64"]);
    const plan = await planFor(models.masquerade, kernel);
    const ops = diffLinks(plan, linkViews(await kernel.links(), await kernel.addresses()));
    assert.deepEqual(ops, [
      { op: "addBridge", name: "k6t-eth0" },
      { op: "setMac", name: "k6t-eth0", mac: "02:00:00:00:00:00" },
      { op: "setMtu", name: "k6t-eth0", mtu: 1450 },
      { op: "addAddress", name: "k6t-eth0", address: "fd10:0:2::1/120", noDad: true },
      { op: "setUp", name: "k6t-eth0" },
      { op: "addTap", name: "tap0", user: 107, group: 107 },
      { op: "setMtu", name: "tap0", mtu: 1450 },
      { op: "setMaster", name: "tap0", master: "k6t-eth0" },
      { op: "setUp", name: "tap0" },
    ]);
  });

  it("diffLinks reports a link of another kind under a planned name as KubeVirt does", async () => {
    const kernel = fakePod(["10.244.1.5/24"]);
    kernel.addLink({ name: "k6t-eth0", kind: "dummy" });
    const plan = await planFor(models.masquerade, kernel);
    const bridgePlan = await planFor(models.bridge, fakePod(["10.244.1.5/24"]));
    assert.throws(
      () => diffLinks(bridgePlan, linkViews([], [])),
      (e: unknown) =>
        e instanceof RuntimeError &&
        e.code === RuntimeErrorCode.PodLinkMissing &&
        e.message === "pod link (eth0) is missing",
    );
    const views = linkViews(await kernel.links(), await kernel.addresses());
    assert.throws(
      () => diffLinks(plan, views),
      (e: unknown) =>
        e instanceof RuntimeError &&
        e.code === RuntimeErrorCode.TypeCollision &&
        e.message === "type collision on link k6t-eth0: actual dummy, requested bridge",
    );
  });
});

const CASES = [
  { name: "bridge", model: models.bridge, addresses: ["10.244.1.5/24", "fd00:10:244:1::5/64"] },
  { name: "masquerade dual-stack", model: models.masquerade, addresses: ["10.244.1.5/24", "fd00:10:244:1::5/64"] },
  { name: "masquerade IPv4 with ports", model: models.masqueradePorts, addresses: ["10.244.1.5/24"] },
  { name: "masquerade IPv6-only", model: models.masquerade, addresses: ["fd00:10:244:1::5/64"] },
  // Virtink keeps the uplink's IPv6 and removes only its IPv4: no op removes one address, so flush and re-add.
  { name: "Virtink bridge", model: models.virtinkBridge, addresses: ["10.244.1.5/24", "fd00:10:244:1::5/64"] },
  { name: "Virtink masquerade", model: models.virtinkMasquerade, addresses: ["10.244.1.5/24"] },
] as const;

describe("applyPlan with fake adapters", () => {
  for (const c of CASES) {
    it(`applyPlan ${c.name}: one batch, then zero ops again and after a restart; teardown restores the pod`, async () => {
      const rt = fakeRuntime(c.addresses);
      const before = await netlinkSnapshot(rt.kernel);
      const plan = await planFor(c.model, rt.kernel);
      const first = await applyPlan(plan, { netns: "vmnt-fake", ...rt });
      assert.ok(first.ops.length > 0);
      assert.equal(rt.kernel.batches.length, 1);
      assert.equal(rt.nft.transactions.length, plan.nft.tables.length > 0 ? 1 : 0);
      assert.equal((await rt.state.load())?.phase, NetworkPhase.Finished);
      const ruleset = canonicalListing(await rt.nft.list());

      const again = await applyPlan(plan, { netns: "vmnt-fake", ...rt });
      assert.deepEqual(again.ops, []);
      assert.equal(rt.kernel.batches.length, 1, "no second batch");
      assert.deepEqual(canonicalListing(await rt.nft.list()), ruleset);

      // A restart: new adapter objects over the same kernel and record, facts read back from the wired pod.
      const restarted = { ...rt, netlink: new FailingNetlink(rt.kernel, undefined) };
      const replanned = await planFor(c.model, rt.kernel, rt.state);
      assert.deepEqual(replanned, plan);
      const adopted = await applyPlan(replanned, { netns: "vmnt-fake", ...restarted });
      assert.deepEqual(adopted.ops, []);
      assert.equal(adopted.recovered, false);

      const down = await teardownPlan(plan, rt);
      assert.ok(down.usedRecord);
      assert.deepEqual(await netlinkSnapshot(rt.kernel), before);
      assert.deepEqual(await rt.nft.list(), await new FakeNftables().list());
      assert.equal(await rt.state.load(), undefined);
      const twice = await teardownPlan(plan, rt);
      assert.deepEqual(twice.ops, []);
      assert.deepEqual(await netlinkSnapshot(rt.kernel), before);
    });
  }

  it("applyPlan returns the DHCP/RA seam of every interface", async () => {
    const rt = fakeRuntime();
    const plan = await planFor(models.masquerade, rt.kernel);
    const { network } = await applyPlan(plan, { netns: "vmnt-fake", ...rt });
    assert.equal(network.netns, "vmnt-fake");
    assert.equal(network.services.length, 1);
    const s = network.services[0];
    assert.equal(s?.dhcpv4?.serverInterface.value, "k6t-eth0");
    assert.equal(s?.dhcpv6?.clientAddress, "fd10:0:2::2");
    assert.equal(s?.ra?.interface.value, "k6t-eth0");
  });

  it("applyPlan of a changed plan first undoes what only the old plan had", async () => {
    const rt = fakeRuntime(["10.244.1.5/24"]);
    const before = await netlinkSnapshot(rt.kernel);
    const bridgePlan = await planFor(models.bridge, rt.kernel);
    await applyPlan(bridgePlan, { netns: "vmnt-fake", ...rt });
    // The facts CNI left, as discovery reads them back from the record, planned for masquerade now.
    const masqPlan = await planFor(models.masquerade, rt.kernel, rt.state);
    await applyPlan(masqPlan, { netns: "vmnt-fake", ...rt });
    const links = await rt.kernel.links();
    assert.deepEqual(links.map((l) => l.name).sort(), ["eth0", "k6t-eth0", "lo", "tap0"]);
    const eth0 = links.find((l) => l.name === "eth0");
    assert.equal(eth0?.kind, "veth", "the pod NIC is back under its name");
    assert.equal(links.find((l) => l.name === "k6t-eth0")?.mac, "02:00:00:00:00:00");
    assert.equal(await rt.sysctl.get("net.ipv4.conf.all.arp_ignore"), "0", "the bridge-only sysctl is restored");
    assert.deepEqual((await rt.state.load())?.createdLinks.map((l) => l.name).sort(), ["k6t-eth0", "tap0"]);
    await teardownPlan(masqPlan, rt);
    assert.deepEqual(await netlinkSnapshot(rt.kernel), before);
  });

  it("applyPlan restores sysctls on teardown and keeps the first recorded value across re-applies", async () => {
    const rt = fakeRuntime(["10.244.1.5/24"]);
    const plan = await planFor(models.bridge, rt.kernel);
    await applyPlan(plan, { netns: "vmnt-fake", ...rt });
    assert.equal(await rt.sysctl.get("net.ipv4.conf.all.arp_ignore"), "1");
    await applyPlan(plan, { netns: "vmnt-fake", ...rt });
    assert.deepEqual((await rt.state.load())?.sysctls, [{ key: "net.ipv4.conf.all.arp_ignore", previous: "0" }]);
    await teardownPlan(plan, rt);
    assert.equal(await rt.sysctl.get("net.ipv4.conf.all.arp_ignore"), "0");
  });
});

/** Counts the reads of a netlink and the listings of an nftables adapter, so tests can see what apply re-read. */
class CountingNetlink extends FailingNetlink {
  reads = 0;
  override links() {
    this.reads++;
    return super.links();
  }
  override addresses() {
    this.reads++;
    return super.addresses();
  }
  override routes(family: 4 | 6) {
    this.reads++;
    return super.routes(family);
  }
  override snapshot() {
    this.reads++;
    return super.snapshot();
  }
}

class CountingNftables extends FakeNftables {
  lists = 0;
  override list() {
    this.lists++;
    return super.list();
  }
}

describe("applyPlan reads nothing twice", () => {
  for (const c of CASES) {
    it(`applyPlan ${c.name} with discovery's read: no netlink read, one nft listing, same result`, async () => {
      const reference = fakeRuntime(c.addresses);
      const expected = await applyPlan(await planFor(c.model, reference.kernel), { netns: "vmnt-fake", ...reference });

      const rt = { ...fakeRuntime(c.addresses), nft: new CountingNftables() };
      const netlink = new CountingNetlink(rt.kernel, undefined);
      const { facts, kernel } = await discoverPod("vmnt-fake", { netlink, nft: rt.nft, readFile: podFiles() });
      assert.equal(netlink.reads, 1, "discovery reads links, addresses and both route tables in one snapshot");
      assert.equal(rt.nft.lists, 1, "and lists the ruleset, the record knowing no table");
      const plan = planPod(c.model, { config: config(), pod: facts });
      const applied = await applyPlan(plan, { netns: "vmnt-fake", ...rt, netlink, discovered: kernel });
      assert.equal(netlink.reads, 1, "apply reads none of them again");
      assert.equal(rt.nft.lists, 1, "nor lists the ruleset again");
      assert.deepEqual(applied, expected);
      assert.deepEqual(await netlinkSnapshot(rt.kernel), await netlinkSnapshot(reference.kernel));
      assert.deepEqual(await rt.state.load(), await reference.state.load());
      // The listing at hand goes into the first save; listing itself, apply saves once more when it comes in.
      const listingSave = plan.nft.tables.length > 0 ? 1 : 0;
      assert.equal(rt.state.saved.length, reference.state.saved.length - listingSave);
      assert.deepEqual(rt.state.saved[0]?.nftTables, (await rt.state.load())?.nftTables);

      // A record with the plan's tables needs no listing again; one without tables cannot tell discovery to skip it.
      const recorded = await rt.state.load();
      const again = await discoverPod("vmnt-fake", { netlink, nft: rt.nft, readFile: podFiles(), state: recorded });
      await applyPlan(plan, { netns: "vmnt-fake", ...rt, netlink, discovered: again.kernel });
      assert.equal(rt.nft.lists, plan.nft.tables.length > 0 ? 1 : 2);
    });
  }

  it("applyPlan reads the kernel again once undoing an older plan made discovery's read stale", async () => {
    const rt = fakeRuntime(["10.244.1.5/24"]);
    const before = await netlinkSnapshot(rt.kernel);
    await applyPlan(await planFor(models.bridge, rt.kernel), { netns: "vmnt-fake", ...rt });
    const netlink = new CountingNetlink(rt.kernel, undefined);
    const recorded = await rt.state.load();
    assert.ok(recorded !== undefined);
    const { facts, kernel } = await discoverPod("vmnt-fake", { netlink, readFile: podFiles(), state: recorded });
    const masqPlan = planPod(models.masquerade, { config: config(), pod: facts });
    netlink.reads = 0;
    await applyPlan(masqPlan, { netns: "vmnt-fake", ...rt, netlink, discovered: kernel });
    // Undoing the bridge plan reads the kernel once (one snapshot), apply then reads it afresh (one more).
    assert.equal(netlink.reads, 2);
    const links = await rt.kernel.links();
    assert.deepEqual(links.map((l) => l.name).sort(), ["eth0", "k6t-eth0", "lo", "tap0"]);
    assert.equal(links.find((l) => l.name === "eth0")?.kind, "veth");
    await teardownPlan(masqPlan, rt);
    assert.deepEqual(await netlinkSnapshot(rt.kernel), before);
  });
});

describe("applyPlan rollback", () => {
  for (const c of CASES) {
    it(`applyPlan ${c.name}: a failure at any netlink op leaves the pod as it was`, async () => {
      const probe = fakeRuntime(c.addresses);
      const plan = await planFor(c.model, probe.kernel);
      const count = diffLinks(plan, linkViews(await probe.kernel.links(), await probe.kernel.addresses())).length;
      for (let k = 0; k < count; k++) {
        const rt = fakeRuntime(c.addresses);
        const before = await netlinkSnapshot(rt.kernel);
        rt.netlink.failAt = k;
        await assert.rejects(
          applyPlan(plan, { netns: "vmnt-fake", ...rt }),
          (e: unknown) => e instanceof RuntimeError && e.code === RuntimeErrorCode.ApplyFailed && e.step === "links",
          `op ${k}`,
        );
        assert.deepEqual(await netlinkSnapshot(rt.kernel), before, `op ${k}`);
        assert.equal(await rt.state.load(), undefined, `op ${k}`);
      }
    });

    it(`applyPlan ${c.name}: a refused ruleset or a failing sysctl rolls back links and sysctls`, async () => {
      const probe = fakeRuntime(c.addresses);
      const plan = await planFor(c.model, probe.kernel);
      const steps: { step: ApplyStep; nft: boolean; sysctlAt?: number }[] =
        plan.nft.tables.length > 0 ? [{ step: ApplyStep.Nftables, nft: true }] : [];
      // Keys of links apply creates go with those links (the fake keeps them, the kernel does not).
      const keys = plan.sysctls.map((x) => x.key).filter((k) => sysctlInterface(k) === undefined);
      for (let i = 0; i < plan.sysctls.length; i++) steps.push({ step: ApplyStep.Sysctls, nft: false, sysctlAt: i });
      for (const s of steps) {
        const rt = fakeRuntime(c.addresses);
        const before = await netlinkSnapshot(rt.kernel);
        const sysctlsBefore = await Promise.all(keys.map((k) => rt.sysctl.get(k)));
        const nft = s.nft ? new FailingNftables(rt.nft) : rt.nft;
        const sysctl = s.sysctlAt === undefined ? rt.sysctl : new FailingSysctl(rt.sysctl, s.sysctlAt);
        await assert.rejects(
          applyPlan(plan, { ...rt, netns: "vmnt-fake", nft, sysctl }),
          (e: unknown) => e instanceof RuntimeError && e.code === RuntimeErrorCode.ApplyFailed && e.step === s.step,
        );
        assert.deepEqual(await netlinkSnapshot(rt.kernel), before, JSON.stringify(s));
        const sysctlsAfter = await Promise.all(keys.map((k) => rt.sysctl.get(k)));
        assert.deepEqual(sysctlsAfter, sysctlsBefore, JSON.stringify(s));
        assert.deepEqual(await rt.nft.list(), await new FakeNftables().list());
        assert.equal(await rt.state.load(), undefined);
      }
    });
  }

  it("applyPlan rolls back a run left started (crash) and applies afresh, saying so", async () => {
    const rt = fakeRuntime();
    const plan = await planFor(models.bridge, rt.kernel);
    // The crash: every step ran, the process died before the record said finished.
    const crashing = new MemoryStateStore();
    const save = crashing.save.bind(crashing);
    crashing.save = async (s) => {
      if (s.phase === NetworkPhase.Finished) throw new Error("killed");
      await save(s);
    };
    await assert.rejects(applyPlan(plan, { netns: "vmnt-fake", ...rt, state: crashing }), /killed/);
    assert.equal((await crashing.load())?.phase, NetworkPhase.Started);
    const nicIndex = (await rt.kernel.links()).find((l) => l.name === "eth0-nic")?.ifindex;
    crashing.save = save;
    const result = await applyPlan(plan, { netns: "vmnt-fake", ...rt, state: crashing });
    assert.equal(result.recovered, true);
    assert.ok(result.ops.length > 0, "rolled back, then applied again");
    assert.equal((await crashing.load())?.phase, NetworkPhase.Finished);
    const links = await rt.kernel.links();
    assert.deepEqual(links.map((l) => l.name).sort(), ["eth0", "eth0-nic", "k6t-eth0", "lo", "tap0"]);
    assert.equal(links.find((l) => l.name === "eth0-nic")?.ifindex, nicIndex);
    assert.deepEqual((await applyPlan(plan, { netns: "vmnt-fake", ...rt, state: crashing })).ops, []);
  });

  it("teardownPlan without a record restores the NIC from its dummy", async () => {
    const rt = fakeRuntime(["10.244.1.5/24"]);
    const plan = await planFor(models.bridge, rt.kernel);
    await applyPlan(plan, { netns: "vmnt-fake", ...rt, state: new MemoryStateStore() });
    const { state: _dropped, ...adapters } = rt;
    const down = await teardownPlan(plan, adapters);
    assert.equal(down.usedRecord, false);
    const links = await rt.kernel.links();
    const eth0 = links.find((l) => l.name === "eth0");
    assert.equal(eth0?.kind, "veth");
    assert.equal(eth0?.mac, "0a:58:0a:f4:01:05");
    assert.deepEqual(
      links.map((l) => l.name),
      ["lo", "eth0"],
    );
    const addrs = (await rt.kernel.addresses()).filter((a) => a.ifname === "eth0").map((a) => a.local);
    assert.deepEqual(addrs, ["10.244.1.5"]);
  });
});
