/**
 * Teardown puts back the routes CNI (or DHCP, or Calico) left through the pod NIC exactly as they were: protocol and
 * metric included, an IPv6 on-link default without a gateway, and a gateway reached only through an on-link /32 route.
 * The same table runs against the fake kernel and a real one.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { VmNetworkModel } from "../../src/api/model.ts";
import type { Netlink, NetlinkOp, Route } from "../../src/host/netlink.ts";
import { FakeNftables } from "../../src/host/nftables-fake.ts";
import { planPod } from "../../src/plan/plan.ts";
import { applyPlan } from "../../src/runtime/apply.ts";
import { discoverPodFacts } from "../../src/runtime/discover.ts";
import { MemoryStateStore } from "../../src/runtime/state.ts";
import { teardownPlan } from "../../src/runtime/teardown.ts";
import { nftSkipReason, withNetns } from "../host/harness.ts";
import { config } from "../plan/fixtures.ts";
import { fakePod, LinkedFakeSysctl, models, podFiles } from "./helpers.ts";
import { cleanupPod, type KernelPod, planOn, runtimeFor, setupPod } from "./kernel.ts";

const ADDRESSES = ["10.244.1.5/24", "fd00:10:244:1::5/64"];

/** Routes through eth0 besides CNI's default routes, added before vmnet touches the pod. */
const EXTRA: NetlinkOp[] = [
  { op: "addRoute", name: "eth0", dst: "10.96.0.0/12", via: "10.244.1.1", protocol: "static", metric: 100 },
  { op: "addRoute", name: "eth0", dst: "169.254.1.1", protocol: "static" },
  { op: "addRoute", name: "eth0", dst: "10.50.0.0/16", via: "169.254.1.1" },
  { op: "addRoute", name: "eth0", dst: "default", family: 6, protocol: "static", metric: 2048 },
  { op: "addRoute", name: "eth0", dst: "fd00:20::/64", via: "fd00:10:244:1::1", protocol: "dhcp", metric: 50 },
];

const MODELS: { name: string; model: VmNetworkModel }[] = [
  { name: "KubeVirt bridge (renames and flushes eth0)", model: models.bridge },
  { name: "Virtink bridge (renames eth0, moves its IPv4 away)", model: models.virtinkBridge },
  { name: "masquerade (leaves eth0 alone)", model: models.masquerade },
];

/** Every main-table route, without the kernel's link-local prefix (it follows carrier, which the fake lacks). */
async function routeTable(netlink: Netlink): Promise<string[]> {
  const text = (r: Route) =>
    `${r.dst}${r.gateway === undefined ? "" : ` via ${r.gateway}`} dev ${r.dev ?? "-"}` +
    `${r.protocol === undefined ? "" : ` proto ${r.protocol}`}${r.metric === undefined ? "" : ` metric ${r.metric}`}`;
  const all = [...(await netlink.routes(4)), ...(await netlink.routes(6))];
  return all
    .filter((r) => !r.dst.startsWith("fe80:"))
    .map(text)
    .sort();
}

describe("teardown restores routes as they were: fake kernel", () => {
  for (const m of MODELS) {
    it(m.name, async () => {
      const kernel = fakePod(ADDRESSES);
      await kernel.batch(EXTRA);
      const before = await routeTable(kernel);
      assert.equal(before.length, 9, `unexpected starting table ${JSON.stringify(before)}`);
      const rt = { netlink: kernel, nft: new FakeNftables(), sysctl: new LinkedFakeSysctl(kernel) };
      const state = new MemoryStateStore();
      const pod = await discoverPodFacts("vmnt-fake", { netlink: kernel, readFile: podFiles() });
      const plan = planPod(m.model, { config: config(), pod });
      await applyPlan(plan, { netns: "vmnt-fake", ...rt, state });
      await teardownPlan(plan, { ...rt, state });
      assert.deepEqual(await routeTable(kernel), before);
    });
  }
});

describe("teardown restores routes as they were: real kernel", { skip: nftSkipReason() }, () => {
  for (const m of MODELS) {
    it(m.name, async () => {
      await withNetns(2, async ([podNs = "", node = ""]) => {
        let kp: KernelPod | undefined;
        try {
          kp = await setupPod(podNs, node, ADDRESSES);
          const rt = runtimeFor(kp);
          await rt.netlink.batch(EXTRA);
          const before = await routeTable(rt.netlink);
          assert.equal(before.length, 9, `unexpected starting table ${JSON.stringify(before)}`);
          const plan = await planOn(kp, m.model, rt);
          await applyPlan(plan, rt);
          await teardownPlan(plan, rt);
          assert.deepEqual(await routeTable(rt.netlink), before);
        } finally {
          await cleanupPod(kp);
        }
      });
    });
  }
});
