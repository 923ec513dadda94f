import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { NicModel } from "../../src/api/model.ts";
import { NicModel as NicModels } from "../../src/api/model.ts";
import {
  libvirtNicModel,
  NIC_MODELS,
  NicModelUnavailableError,
  nicModelInfo,
  PciAddress,
  parseDeviceHelp,
  probeQemuDevices,
  qemuNicDevice,
} from "../../src/hypervisor/nic-models.ts";
import { qemuSkipReason } from "./qemu-harness.ts";

const table: {
  model: NicModel;
  device: string;
  transitional: string;
  libvirt: string;
  libvirtTransitional: string;
  hostMtu: boolean;
  multiqueue: boolean;
}[] = [
  {
    model: "virtio",
    device: "virtio-net-pci-non-transitional",
    transitional: "virtio-net-pci-transitional",
    libvirt: "virtio-non-transitional",
    libvirtTransitional: "virtio-transitional",
    hostMtu: true,
    multiqueue: true,
  },
  ...(["e1000", "e1000e", "igb", "rtl8139", "ne2k_pci", "pcnet"] as const).map((m) => ({
    model: m,
    device: m,
    transitional: m,
    libvirt: m,
    libvirtTransitional: m,
    hostMtu: false,
    multiqueue: false,
  })),
];

describe("NIC model table", () => {
  it("NIC_MODELS covers every NicModel", () => {
    assert.deepEqual(Object.keys(NIC_MODELS).sort(), Object.values(NicModels).sort());
  });
  for (const row of table) {
    it(`qemuNicDevice and libvirtNicModel map ${row.model}`, () => {
      assert.equal(qemuNicDevice(row.model), row.device);
      assert.equal(qemuNicDevice(row.model, { transitional: true }), row.transitional);
      assert.equal(libvirtNicModel(row.model), row.libvirt);
      assert.equal(libvirtNicModel(row.model, { transitional: true }), row.libvirtTransitional);
      assert.equal(nicModelInfo(row.model).hostMtu, row.hostMtu);
      assert.equal(nicModelInfo(row.model).multiqueue, row.multiqueue);
    });
  }
  it("qemuNicDevice falls back to virtio-net-pci on a QEMU without the named variants", () => {
    const old = new Set(["virtio-net-pci", "e1000"]);
    assert.equal(qemuNicDevice("virtio", { available: old }), "virtio-net-pci");
    assert.equal(qemuNicDevice("virtio", { available: old, transitional: true }), "virtio-net-pci");
  });
  it("qemuNicDevice throws NicModelUnavailableError for a device the QEMU lacks", () => {
    assert.throws(() => qemuNicDevice("igb", { available: new Set(["e1000"]) }), NicModelUnavailableError);
  });
  it("nicModelInfo rejects an unknown model", () => {
    assert.throws(() => nicModelInfo("vmxnet3"), TypeError);
  });
  it("parseDeviceHelp reads device names", () => {
    const text =
      'Network devices:\nname "e1000", bus PCI, alias "e1000-82540em", desc "Intel Gigabit Ethernet"\nname "virtio-net-pci", bus PCI, alias "virtio-net"\n';
    assert.deepEqual([...parseDeviceHelp(text)], ["e1000", "virtio-net-pci"]);
  });
  it("probeQemuDevices lists the real QEMU's NICs once", { skip: qemuSkipReason() }, async () => {
    const a = probeQemuDevices();
    assert.equal(probeQemuDevices(), a);
    const devices = await a;
    for (const d of ["virtio-net-pci", "e1000", "e1000e", "rtl8139", "ne2k_pci", "pcnet"]) assert.ok(devices.has(d), d);
  });
});

describe("PciAddress", () => {
  const good: [string, string, string][] = [
    ["0000:00:02.0", "0000:00:02.0", "02.0"],
    ["0000:0A:1f.7", "0000:0a:1f.7", "1f.7"],
  ];
  for (const [text, canonical, addr] of good) {
    it(`PciAddress.parse accepts ${text}`, () => {
      const a = PciAddress.parse(text);
      assert.equal(a.toString(), canonical);
      assert.equal(a.qemuAddr, addr);
    });
  }
  const bad: [string, new (...a: never[]) => Error][] = [
    ["0000:00:02.8", SyntaxError],
    ["000:00:02.0", SyntaxError],
    ["0000:00:02", SyntaxError],
    ["0000:00:g2.0", SyntaxError],
    [" 0000:00:02.0", SyntaxError],
    ["0000:00:20.0", RangeError],
  ];
  for (const [text, error] of bad)
    it(`PciAddress.parse rejects "${text}"`, () => assert.throws(() => PciAddress.parse(text), error));
});
