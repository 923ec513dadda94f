/**
 * SR-IOV end to end on real hardware: a VF bound to vfio-pci, found through sysfs, named in a pod's network-status as
 * the SR-IOV CNI would, planned for a KubeVirt and a Virtink VM, and passed through to a paused QEMU guest whose PCI
 * bus must then show the VF (its vendor/device ids) at the planned guest address. Skipped, with the reason, on a
 * machine without such a VF.
 */
import assert from "node:assert/strict";
import { existsSync, realpathSync } from "node:fs";
import { describe, it } from "node:test";
import type { VirtualFunction } from "../../src/host/sysfs-pci.ts";
import { discoverVfs, readPciFunction, vfioGroupDevice, vfioProblems } from "../../src/host/sysfs-pci.ts";
import { memlockLimitBytes, renderCloudHypervisorNet } from "../../src/hypervisor/cloud-hypervisor.ts";
import { flattenPci } from "../../src/hypervisor/qmp.ts";
import { hashedPodInterfaceName, kubevirtPodInterfaceNames, virtinkLinkName } from "../../src/plan/namescheme.ts";
import { NftBuilder } from "../../src/plan/nft.ts";
import type { PassthroughPlanOptions } from "../../src/plan/passthrough-types.ts";
import { planSriov, sriovChNics, sriovQemuArgs } from "../../src/plan/sriov.ts";
import { qemuSkipReason, withQemu } from "../hypervisor/qemu-harness.ts";
import { config, iface, link, multusNet, pod, podNet, vm } from "../plan/fixtures.ts";

async function findVf(): Promise<{ vf?: VirtualFunction; reason?: string }> {
  let vfs: VirtualFunction[];
  try {
    vfs = await discoverVfs();
  } catch (e) {
    return { reason: `needs SR-IOV hardware: cannot read /sys/bus/pci (${(e as Error).message})` };
  }
  if (vfs.length === 0) {
    return {
      reason: "needs SR-IOV hardware: no VF on this machine (no PF with virtfnN links under /sys/bus/pci/devices)",
    };
  }
  const vf = vfs.find((v) => {
    const group = vfioGroupDevice(v);
    return vfioProblems(v).length === 0 && group !== undefined && existsSync(group);
  });
  if (vf === undefined) {
    const seen = vfs.map((v) => `${v.address} (${v.driver ?? "unbound"})`).join(", ");
    return {
      reason: `needs SR-IOV hardware: no VF bound to vfio-pci with its /dev/vfio group on this machine; VFs: ${seen}`,
    };
  }
  return { vf };
}

const found = await findVf();
const skip = found.reason ?? qemuSkipReason();

describe("SR-IOV end to end (needs SR-IOV hardware)", { skip }, () => {
  const vf = found.vf;
  const pciInfo = () => ({
    type: "pci",
    version: "1.1.0",
    pci: { "pci-address": vf?.address ?? "", "pf-pci-address": vf?.physfn ?? "" },
  });
  const podFacts = pod([link("eth0", 3, "0a:58:0a:f4:01:05", ["10.244.1.5/24"])]);

  it("KubeVirt: the VF from network-status appears on the guest bus at the planned address", async () => {
    assert.ok(vf);
    const model = vm(
      [iface("default", { kind: "masquerade" }), iface("sriov", { kind: "sriov" }, { pciAddress: "0000:00:05.0" })],
      [podNet(), multusNet("sriov", "nad-sriov")],
    );
    const options: PassthroughPlanOptions = {
      config: config(),
      pod: podFacts,
      passthrough: {
        networkStatus: [
          { name: "k8s-pod-network", interface: "eth0", default: true },
          { name: "default/nad-sriov", interface: hashedPodInterfaceName("sriov").value, "device-info": pciInfo() },
        ],
      },
    };
    const spec = model.interfaces[1];
    const network = model.networks[1];
    const podInterface = kubevirtPodInterfaceNames(model).get("sriov");
    assert.ok(spec && network && podInterface);
    const plan = planSriov({
      model,
      iface: spec,
      network,
      index: 1,
      primary: false,
      podInterface,
      podLink: undefined,
      pod: podFacts,
      dns: podFacts.resolvConf,
      options,
      nft: new NftBuilder(),
    });
    assert.equal(plan.hostPciAddress, vf.address);
    await withQemu(sriovQemuArgs([plan]), async ({ qmp }) => {
      const dev = flattenPci(await qmp.queryPci()).find((d) => d.qdevId === "ua-sriov-sriov");
      assert.ok(dev, "the vfio-pci device is not on the guest bus");
      assert.deepEqual([dev.bus, dev.slot, dev.function], [0, 5, 0]);
      assert.equal(dev.vendorId, Number.parseInt(vf.vendor, 16));
      assert.equal(dev.deviceId, Number.parseInt(vf.device, 16));
    });
  });

  it("Virtink: the Cloud Hypervisor device path is the VF's sysfs node and memory gets locked", async () => {
    assert.ok(vf);
    const model = vm(
      [
        iface("pod", { kind: "masquerade" }, { macAddress: "52:54:00:12:34:56" }),
        iface("sriov", { kind: "sriov" }, { macAddress: "52:54:00:12:34:57" }),
      ],
      [podNet("pod"), multusNet("sriov", "intel-sriov-vfio")],
      { dialect: "virtink" },
    );
    const spec = model.interfaces[1];
    const network = model.networks[1];
    assert.ok(spec && network);
    const options: PassthroughPlanOptions = {
      config: config(),
      pod: podFacts,
      passthrough: {
        networkStatus: [{ name: "default/intel-sriov-vfio", interface: "net1", "device-info": pciInfo() }],
      },
    };
    const plan = planSriov({
      model,
      iface: spec,
      network,
      index: 1,
      primary: false,
      podInterface: virtinkLinkName(model, network),
      podLink: undefined,
      pod: podFacts,
      dns: podFacts.resolvConf,
      options,
      nft: new NftBuilder(),
    });
    const ch = renderCloudHypervisorNet(sriovChNics([plan]));
    const path = ch.devices[0]?.path;
    assert.ok(path);
    assert.equal(realpathSync(path), realpathSync(`/sys/bus/pci/devices/${vf.address}`));
    assert.equal((await readPciFunction(vf.address)).driver, "vfio-pci");
    assert.equal(memlockLimitBytes(ch, 1 << 30), 2 << 30);
  });
});
