import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FakeNftables } from "../../src/host/nftables-fake.ts";
import { planPod } from "../../src/plan/plan.ts";
import { applyPlan } from "../../src/runtime/apply.ts";
import { discoverPodFacts, readNetwork, recoverPodNetwork } from "../../src/runtime/discover.ts";
import { RuntimeError, RuntimeErrorCode } from "../../src/runtime/errors.ts";
import { PlaceholderKind } from "../../src/runtime/links.ts";
import { MemoryStateStore } from "../../src/runtime/state.ts";
import { config } from "../plan/fixtures.ts";
import { fakePod, LinkedFakeSysctl, models, podFiles } from "./helpers.ts";

describe("discoverPodFacts", () => {
  it("discoverPodFacts reads links, addresses, routes, resolv.conf and hostname", async () => {
    const facts = await discoverPodFacts("vmnt-fake", {
      netlink: fakePod(),
      readFile: podFiles("vm-a"),
      podIP: "10.244.1.5",
    });
    assert.deepEqual(
      facts.links.map((l) => [l.name, l.kind, l.mac, l.mtu, l.addresses.map((a) => `${a.address}/${a.prefix}`)]),
      [
        ["lo", "loopback", "00:00:00:00:00:00", 65536, ["127.0.0.1/8", "::1/128"]],
        ["eth0", "veth", "0a:58:0a:f4:01:05", 1450, ["10.244.1.5/24", "fd00:10:244:1::5/64"]],
      ],
    );
    assert.deepEqual(facts.routes, [
      { dst: "default", gateway: "10.244.1.1", dev: "eth0", family: "ip" },
      { dst: "10.244.1.0/24", dev: "eth0", family: "ip" },
      { dst: "default", gateway: "fd00:10:244:1::1", dev: "eth0", family: "ip6" },
      { dst: "fd00:10:244:1::/64", dev: "eth0", family: "ip6" },
    ]);
    assert.deepEqual(facts.resolvConf.nameserversV4, ["10.96.0.10"]);
    assert.deepEqual(facts.resolvConf.search, ["default.svc.cluster.local", "svc.cluster.local", "cluster.local"]);
    assert.equal(facts.hostname, "vm-a");
    assert.equal(facts.podIP, "10.244.1.5");
  });

  it("discoverPodFacts reports an unreadable resolv.conf with KubeVirt's message", async () => {
    await assert.rejects(
      discoverPodFacts("vmnt-fake", {
        netlink: fakePod(),
        readFile: async () => {
          throw new Error("ENOENT");
        },
      }),
      (e: unknown) =>
        e instanceof RuntimeError &&
        e.code === RuntimeErrorCode.PodFilesUnreadable &&
        e.message === "Failed to get DNS servers from resolv.conf: ENOENT",
    );
  });

  for (const placeholder of [PlaceholderKind.Dummy, PlaceholderKind.Bridge]) {
    it(`recoverPodNetwork reads a bridge-bound pod (stand-in ${placeholder}) back as CNI left it`, async () => {
      const kernel = fakePod();
      const before = await discoverPodFacts("vmnt-fake", { netlink: kernel, readFile: podFiles() });
      const plan = planPod(models.bridge, { config: config(), pod: before });
      const state = new MemoryStateStore();
      await applyPlan(plan, {
        netns: "vmnt-fake",
        netlink: kernel,
        nft: new FakeNftables(),
        sysctl: new LinkedFakeSysctl(kernel),
        state,
        placeholder,
      });
      const { views, routes } = await readNetwork(kernel);
      // Without the record: the links come back, the routes through the renamed NIC cannot.
      const guessed = recoverPodNetwork(views, routes);
      assert.deepEqual(
        guessed.links.map((l) => [l.name, l.ifindex, l.mac, l.mtu, l.kind]),
        before.links.map((l) => [l.name, l.ifindex, l.mac, l.mtu, l.kind]),
      );
      assert.deepEqual(
        guessed.links.map((l) => l.addresses),
        before.links.map((l) => l.addresses),
      );
      // With the record, routes too: the facts are the ones planning started from.
      const recorded = await state.load();
      const exact = recoverPodNetwork(views, routes, recorded);
      assert.deepEqual(exact.links, before.links);
      assert.deepEqual(
        [...exact.routes].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
        [...before.routes].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
      );
      assert.deepEqual(planPod(models.bridge, { config: config(), pod: { ...before, ...exact } }), plan);
    });
  }
});
