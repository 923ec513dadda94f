import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KvInterface, KvVmiSpec } from "../../src/api/kubevirt-types.ts";
import type { Binding } from "../../src/api/model.ts";
import { kubeVirtObjectToModel, kubeVirtToModel, virtinkToModel } from "../../src/api/to-model.ts";
import type { VkInterface, VkVirtualMachine } from "../../src/api/virtink-types.ts";

const kvSpec = (iface: KvInterface, network: Record<string, unknown> = { pod: {} }): KvVmiSpec => ({
  domain: { devices: { interfaces: [iface] } },
  networks: [{ name: iface.name ?? "", ...network }],
});

// One entry per KubeVirt binding.
const kubevirtBindings: { name: string; iface: KvInterface; binding: Binding }[] = [
  { name: "bridge", iface: { name: "n", bridge: {} }, binding: { kind: "bridge" } },
  { name: "masquerade", iface: { name: "n", masquerade: {} }, binding: { kind: "masquerade" } },
  { name: "sriov", iface: { name: "n", sriov: {} }, binding: { kind: "sriov" } },
  { name: "passtBinding", iface: { name: "n", passtBinding: {} }, binding: { kind: "passtBinding" } },
  { name: "slirp", iface: { name: "n", slirp: {} }, binding: { kind: "slirp" } },
  { name: "passt", iface: { name: "n", passt: {} }, binding: { kind: "passt" } },
  { name: "macvtap", iface: { name: "n", macvtap: {} }, binding: { kind: "macvtap" } },
  {
    name: "a binding plugin",
    iface: { name: "n", binding: { name: "passt" } },
    binding: { kind: "plugin", name: "passt" },
  },
];

describe("kubeVirtToModel bindings", () => {
  for (const c of kubevirtBindings) {
    it(`maps ${c.name}`, () => {
      const m = kubeVirtToModel(kvSpec(c.iface), { name: "vm" });
      assert.deepEqual(m.interfaces[0]?.binding, c.binding);
    });
  }
  const bad: { name: string; iface: KvInterface }[] = [
    { name: "no binding", iface: { name: "n" } },
    { name: "two bindings", iface: { name: "n", bridge: {}, masquerade: {} } },
    { name: "an unknown model", iface: { name: "n", bridge: {}, model: "virtio-net" } },
    { name: "a malformed MAC", iface: { name: "n", bridge: {}, macAddress: "de:ad" } },
    { name: "an unknown state", iface: { name: "n", bridge: {}, state: "Up" } },
  ];
  for (const c of bad) {
    it(`throws on ${c.name}, which admission denies`, () => {
      assert.throws(() => kubeVirtToModel(kvSpec(c.iface), { name: "vm" }), TypeError);
    });
  }
});

describe("kubeVirtToModel", () => {
  it("maps a full VMI spec", () => {
    const spec: KvVmiSpec = {
      hostname: "h",
      subdomain: "sub",
      domain: {
        cpu: { sockets: 2, cores: 3, threads: 2 },
        devices: {
          networkInterfaceMultiqueue: true,
          useVirtioTransitional: true,
          interfaces: [
            {
              name: "default",
              masquerade: {},
              model: "e1000e",
              macAddress: "DE-AD-00-00-BE-AF",
              ports: [
                { name: "http", port: 80 },
                { port: 53, protocol: "UDP" },
                { port: 22, protocol: "TCP" },
              ],
              bootOrder: 1,
              pciAddress: "0000:81:01.1",
              dhcpOptions: {
                bootFileName: "default_image.bin",
                tftpServerName: "tftp.example.com",
                ntpServers: ["10.0.0.1"],
                privateOptions: [{ option: 240, value: "extra.options.kubevirt.io" }],
              },
              tag: "primary",
              acpiIndex: 3,
              state: "",
            },
            {
              name: "ovs-net",
              bridge: {},
              portRanges: [{ protocol: "UDP", start: 1000, end: 2000 }],
              state: "down",
            },
          ],
        },
      },
      networks: [
        { name: "default", pod: { vmNetworkCIDR: "10.0.3.0/24" } },
        { name: "ovs-net", multus: { networkName: "ns/ovs-vlan-100" } },
        { name: "dra", resourceClaim: { claimName: "c", requestName: "r" } },
      ],
    };
    assert.deepEqual(kubeVirtToModel(spec, { name: "vm", namespace: "" }), {
      dialect: "kubevirt",
      name: "vm",
      namespace: "default",
      interfaces: [
        {
          name: "default",
          binding: { kind: "masquerade" },
          model: "e1000e",
          macAddress: "de:ad:00:00:be:af",
          ports: [
            { name: "http", protocol: "TCP", port: 80 },
            { protocol: "UDP", port: 53 },
            { protocol: "TCP", port: 22 },
          ],
          portRanges: [],
          pciAddress: "0000:81:01.1",
          bootOrder: 1,
          dhcpOptions: {
            bootFileName: "default_image.bin",
            tftpServerName: "tftp.example.com",
            ntpServers: ["10.0.0.1"],
            privateOptions: [{ option: 240, value: "extra.options.kubevirt.io" }],
          },
          tag: "primary",
          acpiIndex: 3,
          state: "up",
        },
        {
          name: "ovs-net",
          binding: { kind: "bridge" },
          model: "virtio",
          ports: [],
          portRanges: [{ protocol: "UDP", start: 1000, end: 2000 }],
          state: "down",
        },
      ],
      networks: [
        { name: "default", source: { kind: "pod", vmNetworkCIDR: "10.0.3.0/24" } },
        { name: "ovs-net", source: { kind: "multus", networkName: "ns/ovs-vlan-100", default: false } },
      ],
      multiqueue: true,
      vcpus: 12,
      hostname: "h",
      subdomain: "sub",
      useVirtioTransitional: true,
    });
  });

  const vcpuCases: { cpu: { sockets?: number; cores?: number; threads?: number } | undefined; vcpus: number }[] = [
    { cpu: undefined, vcpus: 1 },
    { cpu: { cores: 4 }, vcpus: 4 },
    { cpu: { sockets: 2, threads: 2 }, vcpus: 4 },
    { cpu: { sockets: 0, cores: 2 }, vcpus: 2 },
  ];
  for (const c of vcpuCases) {
    it(`counts ${c.vcpus} vCPUs for ${JSON.stringify(c.cpu)}`, () => {
      const m = kubeVirtToModel({ domain: c.cpu ? { cpu: c.cpu } : {} }, { name: "vm" });
      assert.equal(m.vcpus, c.vcpus);
      assert.equal(m.multiqueue, false);
    });
  }

  it("marks a multus default network and leaves out ports it cannot represent", () => {
    const m = kubeVirtToModel(
      kvSpec(
        { name: "m", bridge: {}, ports: [{ port: 80, protocol: "tcp" }, { port: 0 }, { port: 8080 }] },
        { multus: { networkName: "br", default: true } },
      ),
      { name: "vm", namespace: "ns1" },
    );
    assert.equal(m.namespace, "ns1");
    assert.deepEqual(m.networks[0]?.source, { kind: "multus", networkName: "br", default: true });
    assert.deepEqual(m.interfaces[0]?.ports, [{ protocol: "TCP", port: 8080 }]);
  });
});

const vk = (iface: VkInterface, network: Record<string, unknown> = { pod: {} }): VkVirtualMachine => ({
  apiVersion: "virt.virtink.smartx.com/v1alpha1",
  kind: "VirtualMachine",
  metadata: { name: "ubuntu-container-disk" },
  spec: { instance: { interfaces: [iface] }, networks: [{ name: iface.name ?? "", ...network }] },
});

// One entry per Virtink binding.
const virtinkBindings: { name: string; iface: VkInterface; binding: Binding }[] = [
  { name: "bridge", iface: { name: "pod", bridge: {} }, binding: { kind: "bridge" } },
  {
    name: "masquerade with its defaulted CIDR",
    iface: { name: "pod", masquerade: { cidr: "10.0.2.0/30" } },
    binding: { kind: "masquerade", cidr: "10.0.2.0/30" },
  },
  { name: "sriov", iface: { name: "sriov", sriov: {} }, binding: { kind: "sriov" } },
  {
    name: "vdpa with its fields",
    iface: { name: "vdpa", vdpa: { numQueues: 4, iommu: true } },
    binding: { kind: "vdpa", numQueues: 4, iommu: true },
  },
  {
    name: "vdpa without fields",
    iface: { name: "vdpa", vdpa: {} },
    binding: { kind: "vdpa", numQueues: 0, iommu: false },
  },
  { name: "vhostUser", iface: { name: "vu", vhostUser: {} }, binding: { kind: "vhostUser" } },
];

describe("virtinkToModel bindings", () => {
  for (const c of virtinkBindings) {
    it(`maps ${c.name}`, () => {
      const m = virtinkToModel(vk(c.iface));
      assert.deepEqual(m.interfaces[0]?.binding, c.binding);
    });
  }
  it("throws on an interface without a binding, which defaulting fills", () => {
    assert.throws(() => virtinkToModel(vk({ name: "pod" })), TypeError);
  });
});

describe("virtinkToModel", () => {
  it("maps a VM with pod and multus networks", () => {
    const vm: VkVirtualMachine = {
      apiVersion: "virt.virtink.smartx.com/v1alpha1",
      kind: "VirtualMachine",
      metadata: { name: "vm", namespace: "lab" },
      spec: {
        instance: {
          cpu: { sockets: 2, coresPerSocket: 3 },
          interfaces: [
            { name: "pod", mac: "C6-1C-BA-0A-45-88", bridge: {} },
            { name: "ovs", mac: "52:54:00:ab:0c:ff", bridge: {} },
          ],
        },
        networks: [
          { name: "pod", pod: {} },
          { name: "ovs", multus: { networkName: "ovs-br1" } },
        ],
      },
    };
    assert.deepEqual(virtinkToModel(vm), {
      dialect: "virtink",
      name: "vm",
      namespace: "lab",
      interfaces: [
        {
          name: "pod",
          binding: { kind: "bridge" },
          model: "virtio",
          macAddress: "c6:1c:ba:0a:45:88",
          ports: [],
          portRanges: [],
          state: "up",
        },
        {
          name: "ovs",
          binding: { kind: "bridge" },
          model: "virtio",
          macAddress: "52:54:00:ab:0c:ff",
          ports: [],
          portRanges: [],
          state: "up",
        },
      ],
      networks: [
        { name: "pod", source: { kind: "pod" } },
        { name: "ovs", source: { kind: "multus", networkName: "ovs-br1", default: false } },
      ],
      multiqueue: false,
      vcpus: 6,
      useVirtioTransitional: false,
    });
  });
  it("defaults the namespace and counts one vCPU without a cpu section", () => {
    const m = virtinkToModel(vk({ name: "pod", bridge: {} }));
    assert.equal(m.namespace, "default");
    assert.equal(m.vcpus, 1);
  });
});

describe("kubeVirtObjectToModel", () => {
  const spec = kvSpec({ name: "default", masquerade: {} });
  const cases: { name: string; obj: Parameters<typeof kubeVirtObjectToModel>[0]; namespace: string }[] = [
    {
      name: "a VM, from spec.template.spec",
      obj: {
        apiVersion: "kubevirt.io/v1",
        kind: "VirtualMachine",
        metadata: { name: "x", namespace: "ns" },
        spec: { template: { spec } },
      },
      namespace: "ns",
    },
    {
      name: "a VMI, from spec",
      obj: { apiVersion: "kubevirt.io/v1", kind: "VirtualMachineInstance", metadata: { name: "x" }, spec },
      namespace: "default",
    },
  ];
  for (const c of cases) {
    it(`maps ${c.name}`, () => {
      const m = kubeVirtObjectToModel(c.obj);
      assert.equal(m.name, "x");
      assert.equal(m.namespace, c.namespace);
      assert.deepEqual(m.interfaces[0]?.binding, { kind: "masquerade" });
      assert.deepEqual(m.networks[0]?.source, { kind: "pod" });
    });
  }
});
