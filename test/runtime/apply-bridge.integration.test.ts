import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { NetworkPlan } from "../../src/plan/plan.ts";
import { applyPlan } from "../../src/runtime/apply.ts";
import { RuntimeError, RuntimeErrorCode } from "../../src/runtime/errors.ts";
import { nftSkipReason, withNetns } from "../host/harness.ts";
import { models } from "./helpers.ts";
import {
  cleanupPod,
  ipJson,
  type KernelPod,
  kernelSnapshot,
  nftObjects,
  POD_MAC,
  planOn,
  roundTrip,
  runtimeFor,
  settledSnapshot,
  setupPod,
  spawnCounts,
  sysctlIn,
} from "./kernel.ts";

const skip = nftSkipReason();

type Json = Record<string, unknown>;

/** The pod's kernel state once it is back to `before` (addresses settle asynchronously), or as it is after 4 s. */
async function snapshotBackTo(netns: string, before: unknown): Promise<unknown> {
  let now: unknown;
  for (let i = 0; i < 40; i++) {
    now = await kernelSnapshot(netns);
    if (JSON.stringify(now) === JSON.stringify(before)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return now;
}
describe("applyPlan bridge binding in a real pod namespace", { skip }, () => {
  it("applyPlan bridge with IPv4: k6t-eth0, eth0-nic, tap0 and the dummy eth0 as KubeVirt builds them", async () => {
    await roundTrip(models.bridge, ["10.244.1.5/24", "fd00:10:244:1::5/64"], async (netns) => {
      const links = await ipJson(netns, ["-d", "link", "show"]);
      const by = (n: string) => links.find((l) => l.ifname === n) as Json | undefined;
      const kind = (l: Json | undefined) => (l?.linkinfo as { info_kind?: string } | undefined)?.info_kind;
      const bridge = by("k6t-eth0");
      const nic = by("eth0-nic");
      const tap = by("tap0");
      const dummy = by("eth0");
      assert.equal(kind(bridge), "bridge");
      assert.equal(kind(nic), "veth");
      assert.equal(kind(tap), "tun");
      // This machine's kernel has no dummy driver: a port-less bridge held down stands in (see probePlaceholderKind).
      assert.ok(kind(dummy) === "dummy" || (kind(dummy) === "bridge" && !links.some((l) => l.master === "eth0")));
      assert.equal(nic?.master, "k6t-eth0");
      assert.equal(nic?.address, bridge?.address, "the NIC takes the bridge's MAC");
      assert.equal(
        ((nic?.linkinfo as Json | undefined)?.info_slave_data as { learning?: boolean } | undefined)?.learning,
        false,
        "no MAC learning on the uplink port",
      );
      assert.equal(tap?.master, "k6t-eth0");
      assert.equal(tap?.mtu, 1450);
      assert.equal(((tap?.linkinfo as Json | undefined)?.info_data as { user?: unknown } | undefined)?.user, 107);
      assert.equal(dummy?.address, POD_MAC, "the dummy keeps the original MAC for the guest's sake");
      assert.equal(dummy?.mtu, 1450);
      assert.ok(!((dummy?.flags as string[] | undefined) ?? ["UP"]).includes("UP"), "the dummy stays down");
      const addrs = (dev: string) =>
        ipJson(netns, ["address", "show", "dev", dev]).then((ls) =>
          ls.flatMap((l) =>
            (l.addr_info as { local: string; prefixlen: number; scope: string }[])
              .filter((a) => a.scope === "global")
              .map((a) => `${a.local}/${a.prefixlen}`),
          ),
        );
      assert.deepEqual(await addrs("k6t-eth0"), ["169.254.75.10/32"]);
      assert.deepEqual(await addrs("eth0-nic"), []);
      assert.deepEqual(await addrs("eth0"), ["10.244.1.5/24", "fd00:10:244:1::5/64"]);
      assert.equal(await sysctlIn(netns, "net.ipv4.conf.all.arp_ignore"), "1");
      const tables = (await nftObjects(netns)).flatMap((o) => {
        const t = o.table as { family?: string; name?: string } | undefined;
        return t === undefined ? [] : [`${t.family} ${t.name}`];
      });
      assert.deepEqual(tables.sort(), ["bridge vmnet_dhcp_guard", "netdev vmnet_antispoof"]);
    });
  });

  it("applyPlan Virtink bridge: br-eth0, the uplink keeps its IPv6 and loses its IPv4 to the stand-in", async () => {
    await roundTrip(models.virtinkBridge, ["10.244.1.5/24", "fd00:10:244:1::5/64"], async (netns) => {
      const links = await ipJson(netns, ["link", "show"]);
      const by = (n: string) => links.find((l) => l.ifname === n) as Json | undefined;
      assert.equal(by("eth0-nic")?.master, "br-eth0");
      assert.equal(by("tap-eth0")?.master, "br-eth0");
      const nicMac = String(by("eth0-nic")?.address);
      assert.ok(nicMac.startsWith("0a:58:0a:") && nicMac !== POD_MAC, "same vendor, another MAC");
      const global = async (dev: string) =>
        (await ipJson(netns, ["address", "show", "dev", dev])).flatMap((l) =>
          (l.addr_info as { local: string; prefixlen: number; scope: string }[])
            .filter((a) => a.scope === "global")
            .map((a) => `${a.local}/${a.prefixlen}`),
        );
      assert.deepEqual(await global("eth0-nic"), ["fd00:10:244:1::5/64"]);
      assert.deepEqual(await global("eth0"), ["10.244.1.5/24"]);
      assert.deepEqual(await global("br-eth0"), ["169.254.200.1/30"]);
    });
  });

  it("applyPlan rolls back a half-applied batch when the kernel refuses a link", async (t) => {
    await withNetns(2, async ([pod = "", node = ""]) => {
      let kp: KernelPod | undefined;
      try {
        kp = await setupPod(pod, node, ["10.244.1.5/24", "fd00:10:244:1::5/64"]);
        if (kp.placeholder === "dummy") {
          t.skip("this kernel has the dummy driver, so no link op fails on its own");
          return;
        }
        const before = await settledSnapshot(pod);
        // Asking for a dummy on a kernel without the driver: the batch stops at `link add ... type dummy`, after the
        // bridge was created and the pod NIC renamed, re-MACed, enslaved and flushed.
        const rt = { ...runtimeFor(kp), placeholder: "dummy" as const };
        const plan = await planOn(kp, models.bridge, rt);
        await assert.rejects(
          applyPlan(plan, rt),
          (e: unknown) => e instanceof RuntimeError && e.code === RuntimeErrorCode.ApplyFailed && e.step === "links",
        );
        assert.equal(spawnCounts(rt).ipBatch, 2, "the failed batch and the rollback batch");
        assert.deepEqual(await snapshotBackTo(pod, before), before);
        assert.equal(await rt.state.load(), undefined);
      } finally {
        await cleanupPod(kp);
      }
    });
  });

  it("applyPlan rolls back everything when the kernel refuses the ruleset", async () => {
    await withNetns(2, async ([pod = "", node = ""]) => {
      let kp: KernelPod | undefined;
      try {
        kp = await setupPod(pod, node, ["10.244.1.5/24", "fd00:10:244:1::5/64"]);
        const before = await settledSnapshot(pod);
        const rt = runtimeFor(kp);
        const plan = await planOn(kp, models.bridge, rt);
        // masquerade is only valid in postrouting: nft accepts the syntax, the kernel refuses the transaction.
        const bad: NetworkPlan = {
          ...plan,
          nft: {
            tables: [
              ...plan.nft.tables,
              {
                family: "ip",
                name: "vmnet_bad",
                sets: [],
                chains: [
                  {
                    name: "prerouting",
                    hook: { type: "nat", hook: "prerouting", priority: -100, policy: "accept" },
                    rules: [{ matches: [], counter: false, verdict: { kind: "masquerade" } }],
                  },
                ],
              },
            ],
          },
        };
        await assert.rejects(
          applyPlan(bad, rt),
          (e: unknown) => e instanceof RuntimeError && e.code === RuntimeErrorCode.ApplyFailed && e.step === "nftables",
        );
        assert.deepEqual(spawnCounts(rt).nftLoad, 1);
        assert.deepEqual(await snapshotBackTo(pod, before), before);
        assert.deepEqual(await nftObjects(pod), []);
        assert.equal(await sysctlIn(pod, "net.ipv4.conf.all.arp_ignore"), "0");
        assert.equal(await rt.state.load(), undefined);
        // The pod is clean enough for the good plan to apply from scratch.
        const ok = await applyPlan(plan, rt);
        assert.ok(ok.ops.length > 0);
      } finally {
        await cleanupPod(kp);
      }
    });
  });
});
