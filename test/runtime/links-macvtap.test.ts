import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hashedPodInterfaceName } from "../../src/plan/namescheme.ts";
import type { PlanNad } from "../../src/plan/plan.ts";
import { planPod } from "../../src/plan/plan.ts";
import type { PodLink } from "../../src/plan/pod-facts.ts";
import { RuntimeError, RuntimeErrorCode } from "../../src/runtime/errors.ts";
import { diffLinks, type LinkView } from "../../src/runtime/links.ts";
import { config, iface, link, multusNet, pod, podNet, vm } from "../plan/fixtures.ts";

const NAD: PlanNad = {
  namespace: "default",
  name: "macvtapnetwork",
  resourceName: "macvtap.network.kubevirt.io/eth0",
  config: '{"cniVersion":"0.3.1","name":"macvtapnetwork","type":"macvtap","mtu":1400}',
};
const POD_IFACE = hashedPodInterfaceName("hostnetwork").value;
const eth0 = link("eth0", 3, "0a:58:0a:f4:01:05", ["10.244.1.5/24"]);

function view(l: PodLink, up: boolean): LinkView {
  return {
    name: l.name,
    ifindex: l.ifindex,
    kind: l.kind,
    mac: l.mac,
    mtu: l.mtu,
    master: undefined,
    up,
    learning: undefined,
    addresses: l.addresses.map((a) => `${a.address}/${a.prefix}`),
  };
}

function macvtapPlan(links: PodLink[]) {
  const model = vm(
    [iface("default", { kind: "masquerade" }), iface("hostnetwork", { kind: "macvtap" })],
    [podNet(), multusNet("hostnetwork", "macvtapnetwork")],
  );
  return planPod(model, { config: config(["Macvtap"]), pod: pod(links), nads: [NAD] });
}

describe("diffLinks for macvtap", () => {
  it("diffLinks refuses a missing macvtap, naming the macvtap CNI plugin, and never plans a tap for it", () => {
    const plan = macvtapPlan([eth0]);
    assert.equal(plan.interfaces[1]?.links[0]?.kind, "macvtap");
    assert.throws(
      () => diffLinks(plan, [view(eth0, true)]),
      (e: unknown) =>
        e instanceof RuntimeError &&
        e.code === RuntimeErrorCode.PodLinkMissing &&
        e.message ===
          `Cannot create macvtap "${POD_IFACE}" on lower device "eth0" from the pod: the macvtap CNI plugin makes it (the NAD's Multus attachment, with the macvtap device plugin's resource), and the pod has no link "${POD_IFACE}"`,
    );
  });

  it("diffLinks adopts the macvtap macvtap-cni made: MAC and MTU, up, no create operation", () => {
    const made: PodLink = {
      name: POD_IFACE,
      ifindex: 7,
      mac: "8a:10:00:00:00:07",
      mtu: 1500,
      addresses: [],
      kind: "macvtap",
    };
    const plan = macvtapPlan([eth0, made]);
    const ops = diffLinks(plan, [view(eth0, true), view(made, false)]).filter((o) => o.name === POD_IFACE);
    // No spec MAC: the link's own MAC is kept (a macvtap filters on it); the NAD's MTU 1400 is set.
    assert.deepEqual(ops, [
      { op: "setMtu", name: POD_IFACE, mtu: 1400 },
      { op: "setUp", name: POD_IFACE },
    ]);
  });

  it("diffLinks still creates the masquerade tap of the same plan with addTap", () => {
    const made: PodLink = {
      name: POD_IFACE,
      ifindex: 7,
      mac: "8a:10:00:00:00:07",
      mtu: 1400,
      addresses: [],
      kind: "macvtap",
    };
    const plan = macvtapPlan([eth0, made]);
    const ops = diffLinks(plan, [view(eth0, true), view(made, true)]);
    assert.ok(
      ops.some((o) => o.op === "addTap" && o.name === "tap0"),
      JSON.stringify(ops),
    );
    assert.ok(!ops.some((o) => o.op === "addTap" && o.name === POD_IFACE));
  });
});
