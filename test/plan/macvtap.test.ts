import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { VmNetworkModel } from "../../src/api/model.ts";
import { stableMac } from "../../src/plan/common.ts";
import { PlanError } from "../../src/plan/errors.ts";
import { macvtapLowerDevice, macvtapNadMtu } from "../../src/plan/macvtap.ts";
import type { PlanNad, PlanPodOptions } from "../../src/plan/plan.ts";
import { planPod } from "../../src/plan/plan.ts";
import { config, iface, link, multusNet, pod, podNet, vm } from "./fixtures.ts";

const macvtap = { kind: "macvtap" } as const;
const masq = { kind: "masquerade" } as const;
const eth0 = link("eth0", 3, "0a:58:0a:f4:01:05", ["10.244.1.5/24"]);
const nad = (extra: Partial<PlanNad> = {}): PlanNad => ({ namespace: "default", name: "mvt", ...extra });
const POD_IFACE = "pod954b3b7236c"; // hashed name of network "hostnetwork"

describe("macvtapLowerDevice", () => {
  const good: [string, string][] = [
    ["macvtap.network.kubevirt.io/eth0", "eth0"],
    ["macvtap.network.kubevirt.io/ens1f0.100", "ens1f0.100"],
    ["macvtap.network.kubevirt.io/dataplane", "dataplane"],
  ];
  for (const [resource, device] of good) {
    it(`macvtapLowerDevice: "${resource}" names "${device}"`, () => {
      assert.equal(macvtapLowerDevice(nad({ resourceName: resource })), device);
    });
  }
  const bad: [string | undefined, string][] = [
    [
      undefined,
      'Cannot find the macvtap lower device of network attachment definition "default/mvt": it has no "k8s.v1.cni.cncf.io/resourceName" annotation',
    ],
    [
      "intel.com/sriov_net",
      'Cannot find the macvtap lower device of network attachment definition "default/mvt": resource name "intel.com/sriov_net" is not "macvtap.network.kubevirt.io/<device>"',
    ],
    [
      "macvtap.network.kubevirt.io/",
      'Cannot find the macvtap lower device of network attachment definition "default/mvt": resource name "macvtap.network.kubevirt.io/" is not "macvtap.network.kubevirt.io/<device>"',
    ],
    [
      "macvtap.network.kubevirt.io/a-very-long-device-name",
      'Cannot find the macvtap lower device of network attachment definition "default/mvt": resource name "macvtap.network.kubevirt.io/a-very-long-device-name" is not "macvtap.network.kubevirt.io/<device>"',
    ],
  ];
  for (const [resource, message] of bad) {
    it(`macvtapLowerDevice: refuses ${resource === undefined ? "a NAD without resource name" : `"${resource}"`}`, () => {
      const n = nad(resource === undefined ? {} : { resourceName: resource });
      assert.throws(
        () => macvtapLowerDevice(n),
        (e: unknown) => e instanceof PlanError && e.message === message,
      );
    });
  }
});

describe("macvtapNadMtu", () => {
  const cases: [string | undefined, number | undefined][] = [
    ['{"type":"macvtap","mtu":1500}', 1500],
    ['{"plugins":[{"type":"tuning"},{"type":"macvtap","mtu":9000}]}', 9000],
    ['{"type":"macvtap"}', undefined],
    ['{"type":"macvtap","mtu":"1500"}', undefined],
    ['{"type":"macvtap","mtu":0}', undefined],
    ["not json", undefined],
    [undefined, undefined],
  ];
  for (const [cfg, want] of cases) {
    it(`macvtapNadMtu: ${cfg ?? "no config"} gives ${want}`, () => {
      assert.equal(macvtapNadMtu(nad(cfg === undefined ? {} : { config: cfg })), want);
    });
  }
});

describe("stableMac", () => {
  it("stableMac: is unicast, locally administered and deterministic", () => {
    for (const seed of ["a", "default/vm/net", "x".repeat(300)]) {
      const mac = stableMac(seed);
      assert.match(mac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/u);
      const first = Number.parseInt(mac.slice(0, 2), 16);
      assert.equal(first & 0x01, 0);
      assert.equal(first & 0x02, 0x02);
      assert.equal(stableMac(seed), mac);
    }
    assert.notEqual(stableMac("a"), stableMac("b"));
  });
});

describe("planPod macvtap", () => {
  const model = (extra: Partial<VmNetworkModel> = {}) =>
    vm([iface("default", masq), iface("hostnetwork", macvtap)], [podNet(), multusNet("hostnetwork", "mvt")], extra);
  const good = nad({ resourceName: "macvtap.network.kubevirt.io/eth0" });

  it("planPod macvtap: a spec MAC goes on the macvtap link and the guest", () => {
    const m = vm(
      [iface("default", masq), iface("hostnetwork", macvtap, { macAddress: "02:00:00:00:aa:01" })],
      [podNet(), multusNet("hostnetwork", "mvt")],
    );
    const p = planPod(m, { config: config(["Macvtap"]), pod: pod([eth0]), nads: [good] }).interfaces[1];
    assert.equal(p?.links[0]?.mac, "02:00:00:00:aa:01");
    assert.equal(p?.guest.mac, "02:00:00:00:aa:01");
    assert.equal(p?.guest.macGenerated, undefined);
  });

  it("planPod macvtap: without any MTU the guest NIC leaves it to the runtime", () => {
    const p = planPod(model(), { config: config(["Macvtap"]), pod: pod([eth0]), nads: [good] }).interfaces[1];
    assert.equal(p?.links[0]?.mtu, undefined);
    assert.equal(p?.guest.mtu, undefined);
    assert.deepEqual(p?.guest.backend, { kind: "macvtap", link: p?.podInterface, queues: 1 });
  });

  const errors: { name: string; options: PlanPodOptions; code: string; message: string; model?: VmNetworkModel }[] = [
    {
      name: "without the Macvtap gate",
      options: { config: config(), pod: pod([eth0]), nads: [good] },
      code: "feature_gate_disabled",
      message: "Macvtap feature gate is not enabled",
    },
    {
      name: "on the pod network",
      model: vm([iface("default", macvtap)], [podNet()]),
      options: { config: config(["Macvtap"]), pod: pod([eth0]) },
      code: "network_kind_unsupported",
      message: "Macvtap interface only implemented with Multus network",
    },
    {
      name: "when no NADs are given",
      options: { config: config(["Macvtap"]), pod: pod([eth0]) },
      code: "nad_not_found",
      message: "failed to locate network attachment definition default/mvt",
    },
    {
      name: "a NAD without resource name",
      options: { config: config(["Macvtap"]), pod: pod([eth0]), nads: [nad()] },
      code: "macvtap_lower_device_unknown",
      message:
        'Cannot find the macvtap lower device of network attachment definition "default/mvt": it has no "k8s.v1.cni.cncf.io/resourceName" annotation',
    },
    {
      name: "a pod link of another kind under the pod interface name",
      options: {
        config: config(["Macvtap"]),
        pod: pod([eth0, link(POD_IFACE, 4, "02:00:00:00:00:09", [])]),
        nads: [good],
      },
      code: "link_type_collision",
      message: `type collision on link ${POD_IFACE}: actual veth, requested macvtap`,
    },
  ];
  for (const c of errors) {
    it(`planPod macvtap: refuses ${c.name}`, () => {
      assert.throws(
        () => planPod(c.model ?? model(), c.options),
        (e: unknown) => e instanceof PlanError && e.code === c.code && e.message === c.message,
      );
    });
  }
});
