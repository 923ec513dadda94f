/**
 * Applying a grown and a shrunk plan on top of an applied one, as `vmnet update` does for NIC hotplug and
 * `state: absent` (reference §8.2), in real namespaces: a masquerade pod gets a second pod NIC (what Multus attaches),
 * the plan with a bridge interface on it is applied (only the new interface's links change; the running interface's
 * links, addresses, routes and sysctls stay as they are, and the record covers both), then the plan with it absent
 * (its bridge, tap and stand-in go, the pod NIC gets its name, MAC and address back), then it is plugged again and
 * `down`'s teardown by the record alone leaves the pod as CNI made it.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { VmNetworkModel } from "../../src/api/model.ts";
import { hostExecutor } from "../../src/host/exec.ts";
import type { NetlinkOp } from "../../src/host/netlink.ts";
import { addVethPair } from "../../src/host/netns.ts";
import { applyPlan } from "../../src/runtime/apply.ts";
import { teardownPlan } from "../../src/runtime/teardown.ts";
import { nftSkipReason, withNetns } from "../host/harness.ts";
import { iface, podNet, vm } from "../plan/fixtures.ts";
import {
  cleanupPod,
  eventually,
  type KernelPod,
  kernelSnapshot,
  planOn,
  runtimeFor,
  settledSnapshot,
  setupPod,
  sysctlIn,
} from "./kernel.ts";

const skip = nftSkipReason();

/** KubeVirt's pod interface of network "blue": `pod` + sha256("blue")[0:11]. */
const HASH = "16477688c0e";
const BLUE_NIC = `pod${HASH}`;
const SECONDARY_MAC = "0a:58:0a:fc:00:05";

const blue = { name: "blue", source: { kind: "multus", networkName: "upd", default: false } } as const;
const masquerade = iface("default", { kind: "masquerade" });
const RUNNING: VmNetworkModel = vm([masquerade], [podNet()]);
const PLUGGED: VmNetworkModel = vm([masquerade, iface("blue", { kind: "bridge" })], [podNet(), blue]);
const UNPLUGGED: VmNetworkModel = vm(
  [masquerade, iface("blue", { kind: "bridge" }, { state: "absent" })],
  [podNet(), blue],
);

/** The link names an op list touches. */
function touched(ops: readonly NetlinkOp[]): string[] {
  return [...new Set(ops.flatMap((o) => (o.op === "rename" ? [o.name, o.newName] : [o.name])))].sort();
}

/** The parts of a snapshot that are blue's (`keep` true) or not. */
function blueParts(snapshot: unknown, keep = false): unknown {
  const s = snapshot as { links: { ifname: string }[]; addresses: string[]; routes: string[] };
  return {
    links: s.links.filter((l) => l.ifname.includes(HASH) === keep),
    addresses: s.addresses.filter((a) => a.includes(HASH) === keep),
    routes: s.routes.filter((r) => r.includes(HASH) === keep),
  };
}

describe("applyPlan with an interface hot-plugged and unplugged", { skip }, () => {
  it("changes only the new interface's links, and undoes exactly them", async () => {
    await withNetns(2, async ([pod = "", node = ""]) => {
      let kp: KernelPod | undefined;
      try {
        kp = await setupPod(pod, node, ["10.244.1.5/24"]);
        const cni = await settledSnapshot(pod);
        const rt = runtimeFor(kp);
        const first = await applyPlan(await planOn(kp, RUNNING, rt), rt);
        assert.ok(first.ops.length > 0);

        // Multus attaches the secondary network: a veth named as KubeVirt's scheme says, with a CNI IP.
        await addVethPair({ name: BLUE_NIC, netns: pod }, { name: "veth-blue", netns: node });
        const ip = (args: string[]) => hostExecutor.run("ip", ["-n", pod, ...args]);
        await ip(["link", "set", BLUE_NIC, "address", SECONDARY_MAC]);
        await ip(["address", "add", "10.252.0.5/24", "dev", BLUE_NIC]);
        await ip(["link", "set", BLUE_NIC, "up"]);
        const attached = await settledSnapshot(pod);
        const forwarding = await sysctlIn(pod, "net.ipv4.ip_forward");

        const plugged = await applyPlan(await planOn(kp, PLUGGED, rt), rt);
        assert.ok(plugged.ops.length > 0);
        for (const name of touched(plugged.ops)) assert.ok(name.includes(HASH), `op on "${name}"`);
        assert.deepEqual(blueParts(await kernelSnapshot(pod)), blueParts(attached));
        assert.equal(await sysctlIn(pod, "net.ipv4.ip_forward"), forwarding);
        const record = await rt.state.load();
        const created = record?.createdLinks.map((l) => l.name) ?? [];
        for (const l of [`k6t-${HASH}`, `tap${HASH}`, "k6t-eth0", "tap0"])
          assert.ok(created.includes(l), String(created));
        assert.ok(record?.changedLinks.some((l) => l.name === BLUE_NIC && l.mac === SECONDARY_MAC));
        const links = (await kernelSnapshot(pod)) as { links: { ifname: string; master?: string }[] };
        assert.equal(links.links.find((l) => l.ifname === `${HASH}-nic`)?.master, `k6t-${HASH}`);
        assert.equal(links.links.find((l) => l.ifname === `tap${HASH}`)?.master, `k6t-${HASH}`);

        const again = await applyPlan(await planOn(kp, PLUGGED, rt), rt);
        assert.deepEqual(again.ops, [], "applying the grown plan again changes nothing");

        const unplugged = await applyPlan(await planOn(kp, UNPLUGGED, rt), rt);
        for (const name of touched(unplugged.ops)) assert.ok(name.includes(HASH), `op on "${name}"`);
        assert.deepEqual(await eventually(() => kernelSnapshot(pod), attached), attached);
        const shrunk = await rt.state.load();
        assert.ok(!shrunk?.createdLinks.some((l) => l.name.includes(HASH)), "the record forgets blue's links");
        assert.ok(!shrunk?.changedLinks.some((l) => l.name === BLUE_NIC));

        // Plugged again, then removed by `down` from the record alone (a fresh runtime, as another process).
        const replug = await applyPlan(await planOn(kp, PLUGGED, rt), rt);
        assert.ok(replug.ops.length > 0);
        const fresh = runtimeFor(kp);
        const down = await teardownPlan(await planOn(kp, RUNNING, fresh), fresh);
        assert.equal(down.usedRecord, true);
        const after = await eventually(() => kernelSnapshot(pod).then(blueParts), blueParts(cni));
        assert.deepEqual(after, blueParts(cni), "the pod network is as CNI made it");
        assert.deepEqual(
          blueParts(await kernelSnapshot(pod), true),
          blueParts(attached, true),
          "so is the secondary NIC",
        );
        assert.equal(await sysctlIn(pod, "net.ipv4.ip_forward"), "0");
      } finally {
        await cleanupPod(kp);
      }
    });
  });
});
