import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hashedPodInterfaceName } from "../../src/plan/namescheme.ts";
import type { DeviceStatusEntry } from "../../src/plan/passthrough-types.ts";
import { passthroughByKind, planPod } from "../../src/plan/plan.ts";
import { config, iface, link, multusNet, pod, podNet, vm } from "./fixtures.ts";

const eth0 = link("eth0", 3, "0a:58:0a:f4:01:05", ["10.244.1.5/24"]);
const masq = { kind: "masquerade" } as const;
const sriov = { kind: "sriov" } as const;
const pci = (address: string) => ({ pci: { "pci-address": address } });

describe("planPod passthrough", () => {
  it("puts SR-IOV interfaces in passthrough, in interface order, and keeps them out of interfaces", () => {
    const model = vm(
      [iface("b-vf", sriov), iface("default", masq), iface("a-vf", sriov, { macAddress: "02:00:00:00:00:0a" })],
      [multusNet("b-vf", "nad-sriov"), podNet(), multusNet("a-vf", "nad-sriov")],
    );
    const networkStatus: DeviceStatusEntry[] = [
      { name: "k8s-pod-network", interface: "eth0", default: true },
      {
        name: "default/nad-sriov",
        interface: hashedPodInterfaceName("b-vf").value,
        "device-info": pci("0000:3b:10.2"),
      },
      {
        name: "default/nad-sriov",
        interface: hashedPodInterfaceName("a-vf").value,
        "device-info": pci("0000:3b:10.0"),
      },
    ];
    const plan = planPod(model, { config: config(), pod: pod([eth0]), passthrough: { networkStatus } });
    assert.deepEqual(
      plan.interfaces.map((i) => i.name),
      ["default"],
    );
    assert.deepEqual(
      plan.passthrough?.map((p) => [p.kind, p.name, p.kind === "sriov" ? p.hostPciAddress : undefined]),
      [
        ["sriov", "b-vf", "0000:3b:10.2"],
        ["sriov", "a-vf", "0000:3b:10.0"],
      ],
    );
  });

  it("plans an SR-IOV interface without a VF while network-status is still empty", () => {
    const model = vm([iface("default", masq), iface("vf", sriov)], [podNet(), multusNet("vf", "nad-sriov")]);
    const plan = planPod(model, { config: config(), pod: pod([eth0]), passthrough: { networkStatus: [] } });
    assert.equal(plan.passthrough?.length, 1);
    assert.equal(plan.passthrough?.[0]?.kind === "sriov" ? plan.passthrough[0].hostPciAddress : "n/a", undefined);
  });

  it("leaves passthrough out when no interface needs it, even with facts given", () => {
    const plan = planPod(vm([iface("default", masq)], [podNet()]), {
      config: config(),
      pod: pod([eth0]),
      passthrough: { networkStatus: [] },
    });
    assert.equal("passthrough" in plan, false);
  });

  it("skips absent passthrough interfaces without asking for their facts", () => {
    const model = vm(
      [iface("default", masq), iface("vf", sriov, { state: "absent" })],
      [podNet(), multusNet("vf", "nad-sriov")],
    );
    const plan = planPod(model, { config: config(), pod: pod([eth0]) });
    assert.equal(plan.passthrough, undefined);
  });

  it("plans Virtink vDPA and vhost-user NICs beside a masquerade pod NIC", () => {
    const model = vm(
      [
        iface("pod", masq, { macAddress: "52:54:00:00:00:01" }),
        iface("vdpa", { kind: "vdpa", numQueues: 4, iommu: true }, { macAddress: "52:54:00:00:00:02" }),
        iface("dpdk", { kind: "vhostUser" }, { macAddress: "52:54:00:00:00:03" }),
      ],
      [podNet("pod"), multusNet("vdpa", "vdpa-net"), multusNet("dpdk", "ovs-dpdk")],
      { dialect: "virtink" },
    );
    const plan = planPod(model, {
      config: config(),
      pod: pod([eth0]),
      passthrough: {
        networkStatus: [
          { name: "default/vdpa-net", interface: "net1", "device-info": { vdpa: { path: "/dev/vhost-vdpa-0" } } },
        ],
        vhostUser: { netType: "kube-ovn", vhostUserSocket: "/var/run/vhost-user/sock" },
      },
    });
    assert.deepEqual(
      plan.interfaces.map((i) => i.name),
      ["pod"],
    );
    const byKind = passthroughByKind(plan);
    assert.deepEqual(
      [byKind.sriov.length, byKind.vdpa.map((p) => p.name), byKind.vhostUser.map((p) => p.name)],
      [0, ["vdpa"], ["dpdk"]],
    );
    assert.deepEqual(plan.passthrough, [
      {
        kind: "vdpa",
        name: "vdpa",
        network: "vdpa",
        podInterface: "net1",
        path: "/dev/vhost-vdpa-0",
        numQueues: 4,
        iommu: true,
      },
      {
        kind: "vhostUser",
        name: "dpdk",
        network: "dpdk",
        podInterface: "net2",
        netType: "kube-ovn",
        mac: "52:54:00:00:00:03",
        mtu: 1450,
        socket: "/var/run/vhost-user/sock",
      },
    ]);
  });
});
