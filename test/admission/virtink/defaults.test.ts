import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { applyVirtinkDefaults } from "../../../src/admission/virtink/index.ts";
import type { VkInterface, VkVirtualMachine } from "../../../src/api/virtink-types.ts";
import { vkVm } from "./fixtures.ts";

const fixedBytes =
  (...bytes: number[]) =>
  (n: number): Uint8Array =>
    Uint8Array.from(bytes.slice(0, n));

const ifacesOf = (vm: VkVirtualMachine): VkInterface[] => vm.spec?.instance?.interfaces ?? [];

const defaultIface = (iface: VkInterface, old?: VkVirtualMachine): VkInterface | undefined =>
  ifacesOf(
    applyVirtinkDefaults(vkVm([iface], [{ name: "pod", pod: {} }]), {
      randomBytes: fixedBytes(0xab, 0x0c, 0xff),
      ...(old === undefined ? {} : { old }),
    }),
  )[0];

describe("applyVirtinkDefaults interface defaults", () => {
  const old = vkVm([{ name: "pod", mac: "52:54:00:dd:0d:5b", bridge: {} }], [{ name: "pod", pod: {} }]);
  const cases: ReadonlyArray<{ name: string; iface: VkInterface; old?: VkVirtualMachine; want: VkInterface }> = [
    {
      name: "tests[7]: copies the MAC of the old same-named interface on update",
      iface: { name: "pod", bridge: {} },
      old,
      want: { name: "pod", mac: "52:54:00:dd:0d:5b", bridge: {} },
    },
    {
      name: "tests[8]: defaults the binding to bridge",
      iface: { name: "pod", mac: "52:54:00:12:34:56" },
      want: { name: "pod", mac: "52:54:00:12:34:56", bridge: {} },
    },
    {
      name: "tests[9]: defaults the masquerade CIDR",
      iface: { name: "pod", mac: "52:54:00:12:34:56", masquerade: {} },
      want: { name: "pod", mac: "52:54:00:12:34:56", masquerade: { cidr: "10.0.2.0/30" } },
    },
    {
      name: "defaults an empty masquerade CIDR",
      iface: { name: "pod", mac: "52:54:00:12:34:56", masquerade: { cidr: "" } },
      want: { name: "pod", mac: "52:54:00:12:34:56", masquerade: { cidr: "10.0.2.0/30" } },
    },
    {
      name: "keeps a user CIDR, even an invalid one",
      iface: { name: "pod", mac: "52:54:00:12:34:56", masquerade: { cidr: "bogus" } },
      want: { name: "pod", mac: "52:54:00:12:34:56", masquerade: { cidr: "bogus" } },
    },
    {
      name: "defaults the masquerade CIDR even next to another binding",
      iface: { name: "pod", mac: "52:54:00:12:34:56", bridge: {}, masquerade: {} },
      want: { name: "pod", mac: "52:54:00:12:34:56", bridge: {}, masquerade: { cidr: "10.0.2.0/30" } },
    },
    {
      name: "keeps a user MAC verbatim (no normalisation)",
      iface: { name: "pod", mac: "C6-1C-BA-0A-45-88", bridge: {} },
      old,
      want: { name: "pod", mac: "C6-1C-BA-0A-45-88", bridge: {} },
    },
    {
      name: "keeps an invalid user MAC for the validator to reject",
      iface: { name: "pod", mac: "x", bridge: {} },
      want: { name: "pod", mac: "x", bridge: {} },
    },
    {
      name: "generates 52:54:00 plus three random bytes on create",
      iface: { name: "pod", bridge: {} },
      want: { name: "pod", mac: "52:54:00:ab:0c:ff", bridge: {} },
    },
    {
      name: "generates a MAC when no old interface has the name",
      iface: { name: "other", bridge: {} },
      old,
      want: { name: "other", mac: "52:54:00:ab:0c:ff", bridge: {} },
    },
    {
      name: "only the first same-named old interface counts, even with an empty MAC",
      iface: { name: "pod", bridge: {} },
      old: vkVm(
        [
          { name: "pod", mac: "", bridge: {} },
          { name: "pod", mac: "52:54:00:dd:0d:5b", bridge: {} },
        ],
        [],
      ),
      want: { name: "pod", mac: "52:54:00:ab:0c:ff", bridge: {} },
    },
    {
      name: "leaves vdpa numQueues and iommu alone",
      iface: { name: "v", mac: "52:54:00:12:34:56", vdpa: {} },
      want: { name: "v", mac: "52:54:00:12:34:56", vdpa: {} },
    },
    {
      name: "keeps sriov without adding bridge",
      iface: { name: "s", mac: "52:54:00:12:34:56", sriov: {} },
      want: { name: "s", mac: "52:54:00:12:34:56", sriov: {} },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(defaultIface(c.iface, c.old), c.want);
    });
  }

  it("puts name and mac first, as Go serialises them", () => {
    assert.deepEqual(Object.keys(defaultIface({ bridge: {}, name: "pod" }) ?? {}), ["name", "mac", "bridge"]);
  });

  it("draws a fresh MAC per interface from node:crypto by default", () => {
    const vm = vkVm(
      [
        { name: "a", bridge: {} },
        { name: "b", bridge: {} },
      ],
      [],
    );
    const macs = ifacesOf(applyVirtinkDefaults(vm)).map((i) => i.mac ?? "");
    for (const m of macs) assert.match(m, /^52:54:00(:[0-9a-f]{2}){3}$/);
    assert.equal(macs.length, 2);
  });

  it("reports a failing random source as Virtink's generate MAC error", () => {
    const vm = vkVm([{ name: "a", bridge: {} }], []);
    assert.throws(
      () =>
        applyVirtinkDefaults(vm, {
          randomBytes: () => {
            throw new Error("entropy exhausted");
          },
        }),
      { message: "generate MAC: rand: entropy exhausted" },
    );
  });
});

describe("applyVirtinkDefaults non-network defaults", () => {
  const bare: VkVirtualMachine = { apiVersion: "virt.virtink.smartx.com/v1alpha1", kind: "VirtualMachine" };
  it("fills runPolicy, cpu topology and memory size on an empty spec", () => {
    assert.deepEqual(applyVirtinkDefaults(bare).spec, {
      runPolicy: "Once",
      instance: { cpu: { sockets: 1, coresPerSocket: 1 }, memory: { size: "1Gi" } },
    });
  });
  it("takes memory size from resources.requests.memory", () => {
    const vm: VkVirtualMachine = { ...bare, spec: { resources: { requests: { memory: "2Gi" } } } };
    assert.equal(applyVirtinkDefaults(vm).spec?.instance?.memory?.size, "2Gi");
  });
  it("keeps values the user set", () => {
    const vm: VkVirtualMachine = {
      ...bare,
      spec: {
        runPolicy: "Always",
        instance: { cpu: { sockets: 2, coresPerSocket: 4 }, memory: { size: "512Mi" } },
      },
    };
    assert.deepEqual(applyVirtinkDefaults(vm).spec, vm.spec);
  });
  it("replaces zero sockets and coresPerSocket like Go's == 0 test", () => {
    const vm: VkVirtualMachine = { ...bare, spec: { instance: { cpu: { sockets: 0, coresPerSocket: 0 } } } };
    assert.deepEqual(applyVirtinkDefaults(vm).spec?.instance?.cpu, { sockets: 1, coresPerSocket: 1 });
  });
  it("adds no network and no interface", () => {
    const out = applyVirtinkDefaults(bare);
    assert.equal(out.spec?.networks, undefined);
    assert.equal(out.spec?.instance?.interfaces, undefined);
  });
  it("does not touch networks", () => {
    const vm = vkVm([], [{ name: "m", multus: {} }]);
    assert.deepEqual(applyVirtinkDefaults(vm).spec?.networks, [{ name: "m", multus: {} }]);
  });
  it("returns a new object and leaves its input unchanged", () => {
    const vm = vkVm([{ name: "pod", masquerade: {} }], [{ name: "pod", pod: {} }]);
    const before = structuredClone(vm);
    const out = applyVirtinkDefaults(vm, { randomBytes: fixedBytes(1, 2, 3) });
    assert.deepEqual(vm, before);
    assert.notEqual(out, vm);
    assert.notEqual(out.spec?.instance?.interfaces, vm.spec?.instance?.interfaces);
  });
});
