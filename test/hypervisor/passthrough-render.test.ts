/** A plan's passthrough devices (SR-IOV, vDPA, vhost-user) reach the renderers without the caller listing them. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cloudHypervisorNet } from "../../src/hypervisor/cloud-hypervisor.ts";
import { domainXml } from "../../src/hypervisor/libvirt-xml.ts";
import type { PassthroughPlan } from "../../src/plan/passthrough-types.ts";
import type { NetworkPlan } from "../../src/plan/plan.ts";
import { sriovHostdevInputs } from "../../src/plan/sriov.ts";
import { nic, plan } from "./fixtures.ts";

const sriov: PassthroughPlan = {
  kind: "sriov",
  name: "fast",
  network: "fast",
  podInterface: "net1",
  hostPciAddress: "0000:3b:10.4",
  alias: "ua-sriov-fast",
};
const unplugged: PassthroughPlan = { ...sriov, name: "later", alias: "ua-sriov-later", hostPciAddress: undefined };
const vdpa: PassthroughPlan = {
  kind: "vdpa",
  name: "accel",
  network: "accel",
  podInterface: "net2",
  path: "/dev/vhost-vdpa-0",
  numQueues: 4,
  iommu: true,
};
const vhostUser: PassthroughPlan = {
  kind: "vhostUser",
  name: "dpdk",
  network: "dpdk",
  podInterface: "net3",
  netType: "userspace",
  mac: "52:54:00:00:00:03",
  mtu: 1500,
  socket: "/var/run/vhost-user/dpdk.sock",
};

function withPassthrough(base: NetworkPlan, passthrough: readonly PassthroughPlan[]): NetworkPlan {
  return { ...base, passthrough };
}

describe("passthrough devices in the renderers", () => {
  it("domainXml adds the plan's SR-IOV VFs as hostdevs, as if passed explicitly; a VF not attached yet adds none", () => {
    const p = withPassthrough(plan(nic("default")), [sriov, unplugged]);
    const implicit = domainXml(p, { name: "vm" });
    assert.equal(implicit, domainXml(p, { name: "vm", sriov: sriovHostdevInputs([sriov]) }));
    assert.equal(implicit.match(/<hostdev /gu)?.length, 1);
    assert.match(implicit, /<address domain="0x0000" bus="0x3b" slot="0x10" function="0x4"/u);
  });

  it("cloudHypervisorNet puts VFs in devices[], vDPA in vdpa[], vhost-user in net[] with shared memory", () => {
    const c = cloudHypervisorNet(withPassthrough(plan(nic("pod", { tap: "tap-eth0" })), [sriov, vdpa, vhostUser]));
    assert.deepEqual(c.devices, [{ id: "fast", path: "/sys/bus/pci/devices/0000:3b:10.4" }]);
    assert.deepEqual(c.vdpa, [{ id: "accel", iommu: true, num_queues: 4, path: "/dev/vhost-vdpa-0" }]);
    assert.deepEqual(
      c.net.map((n) => n.id),
      ["pod", "dpdk"],
    );
    assert.equal(c.memoryShared, true);
  });

  it("cloudHypervisorNet follows the spec's interface order in net[] when given, as Virtink walks the spec", () => {
    const p = withPassthrough(plan(nic("pod", { tap: "tap-eth0" })), [vhostUser]);
    assert.deepEqual(
      cloudHypervisorNet(p, { order: ["dpdk", "pod"] }).net.map((n) => n.id),
      ["dpdk", "pod"],
    );
  });
});
