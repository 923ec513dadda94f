import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CauseType } from "../../../src/admission/cause.ts";
import { validateVirtinkVm } from "../../../src/admission/virtink/index.ts";
import type { VkInterface, VkNetwork, VkVirtualMachine } from "../../../src/api/virtink-types.ts";
import { type CauseRow, dedicatedWithHugepages, podBridge, vkVm } from "./fixtures.ts";

const R = CauseType.Required;
const I = CauseType.Invalid;
const D = CauseType.Duplicate;
const F = CauseType.Forbidden;

const rows = (vm: VkVirtualMachine, old?: VkVirtualMachine): CauseRow[] =>
  validateVirtinkVm(vm, old === undefined ? {} : { old }).map((c) => [c.type, c.field, c.message]);

interface Case {
  readonly name: string;
  readonly vm: VkVirtualMachine;
  readonly old?: VkVirtualMachine;
  readonly want: readonly CauseRow[];
}

function table(cases: readonly Case[]): void {
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(rows(c.vm, c.old), c.want);
    });
  }
}

const net = podBridge().network;
const mac = "52:54:00:12:34:56";
/** One interface on the pod network. */
const oneIface = (iface: VkInterface, extra?: Parameters<typeof vkVm>[2]): VkVirtualMachine =>
  vkVm([iface], [net], extra);
/** One network behind a bridged interface of the same name. */
const oneNet = (network: VkNetwork): VkVirtualMachine =>
  vkVm([{ name: network.name ?? "", mac, bridge: {} }], [network]);

const P = "spec.instance.interfaces";

describe("validateVirtinkVm baseline", () => {
  it("admits the documented bridge-on-pod VM", () => {
    const { iface, network } = podBridge();
    assert.deepEqual(rows(vkVm([iface], [network])), []);
  });
  it("admits a VM without interfaces or networks", () => {
    assert.deepEqual(rows(vkVm(undefined, undefined)), []);
  });
});

describe("I1 duplicate interface name", () => {
  table([
    {
      name: "reports the second of two same-named interfaces",
      vm: vkVm(
        [
          { name: "pod", mac, bridge: {} },
          { name: "pod", mac: "52:54:00:12:34:57", bridge: {} },
        ],
        [net],
      ),
      want: [[D, `${P}[1].name`, `${P}[1].name: Duplicate value: "pod"`]],
    },
    {
      name: "reports every later repeat",
      vm: vkVm(
        [
          { name: "a", mac, bridge: {} },
          { name: "a", mac, bridge: {} },
          { name: "a", mac, bridge: {} },
        ],
        [],
      ),
      want: [
        [D, `${P}[1].name`, `${P}[1].name: Duplicate value: "a"`],
        [D, `${P}[2].name`, `${P}[2].name: Duplicate value: "a"`],
      ],
    },
    {
      name: "treats two empty names as duplicates, before the Required error",
      vm: vkVm(
        [
          { name: "", mac, bridge: {} },
          { name: "", mac, bridge: {} },
        ],
        [],
      ),
      want: [
        [R, `${P}[0].name`, `${P}[0].name: Required value`],
        [D, `${P}[1].name`, `${P}[1].name: Duplicate value: ""`],
        [R, `${P}[1].name`, `${P}[1].name: Required value`],
      ],
    },
    {
      name: "quotes the name like Go %q",
      vm: vkVm(
        [
          { name: 'a"b', mac, bridge: {} },
          { name: 'a"b', mac, bridge: {} },
        ],
        [],
      ),
      want: [[D, `${P}[1].name`, `${P}[1].name: Duplicate value: "a\\"b"`]],
    },
  ]);
});

describe("I2 vhost-user prerequisite", () => {
  const forbidden: CauseRow = [
    F,
    `${P}[0].vhostUser`,
    `${P}[0].vhostUser: Forbidden: may not use vhost-user interface without dedicated CPU placement and hugepages`,
  ];
  table([
    {
      name: "forbids vhostUser without dedicated CPU or hugepages",
      vm: oneIface({ name: "pod", mac, vhostUser: {} }),
      want: [forbidden],
    },
    {
      name: "forbids vhostUser with dedicated CPU but no hugepages",
      vm: oneIface(
        { name: "pod", mac, vhostUser: {} },
        { instance: { cpu: { sockets: 1, coresPerSocket: 1, dedicatedCPUPlacement: true } } },
      ),
      want: [forbidden],
    },
    {
      name: "forbids vhostUser with hugepages but no dedicated CPU",
      vm: oneIface({ name: "pod", mac, vhostUser: {} }, { instance: { memory: { size: "1Gi", hugepages: {} } } }),
      want: [forbidden],
    },
    {
      name: "admits vhostUser with dedicated CPU and hugepages",
      vm: oneIface({ name: "pod", mac, vhostUser: {} }, { instance: dedicatedWithHugepages() }),
      want: [],
    },
    {
      name: "T27: comes before the name check and the second-binding error",
      vm: oneIface({ name: "", mac, bridge: {}, vhostUser: {} }),
      want: [
        forbidden,
        [R, `${P}[0].name`, `${P}[0].name: Required value`],
        [F, `${P}[0].vhostUser`, `${P}[0].vhostUser: Forbidden: may not specify more than 1 binding method`],
      ],
    },
  ]);
});

describe("I3 interface name required", () => {
  table([
    {
      name: "T18: empty name",
      vm: oneIface({ name: "", mac, bridge: {} }),
      want: [[R, `${P}[0].name`, `${P}[0].name: Required value`]],
    },
    {
      name: "absent name reads as empty",
      vm: oneIface({ mac, bridge: {} }),
      want: [[R, `${P}[0].name`, `${P}[0].name: Required value`]],
    },
    { name: "any non-empty name passes", vm: oneIface({ name: "Weird name/ä", mac, bridge: {} }), want: [] },
  ]);
});

describe("I4 and I5 MAC", () => {
  table([
    {
      name: "T19: empty MAC gives Required then Invalid without the address prefix",
      vm: oneIface({ name: "pod", mac: "", bridge: {} }),
      want: [
        [R, `${P}[0].mac`, `${P}[0].mac: Required value`],
        [I, `${P}[0].mac`, `${P}[0].mac: Invalid value: "": invalid MAC address`],
      ],
    },
    {
      name: "absent MAC (no defaulting) reads as empty",
      vm: oneIface({ name: "pod", bridge: {} }),
      want: [
        [R, `${P}[0].mac`, `${P}[0].mac: Required value`],
        [I, `${P}[0].mac`, `${P}[0].mac: Invalid value: "": invalid MAC address`],
      ],
    },
    {
      name: "T20: malformed MAC",
      vm: oneIface({ name: "pod", mac: "x", bridge: {} }),
      want: [[I, `${P}[0].mac`, `${P}[0].mac: Invalid value: "x": address x: invalid MAC address`]],
    },
    {
      name: "comes after the name and before the binding errors",
      vm: oneIface({ name: "", mac: "01:1c:ba:0a:45:8" }),
      want: [
        [R, `${P}[0].name`, `${P}[0].name: Required value`],
        [
          I,
          `${P}[0].mac`,
          `${P}[0].mac: Invalid value: "01:1c:ba:0a:45:8": address 01:1c:ba:0a:45:8: invalid MAC address`,
        ],
        [R, `${P}[0]`, `${P}[0]: Required value: at least 1 binding method is required`],
      ],
    },
  ]);
  const accepted = [
    "c6:1c:ba:0a:45:88",
    "C6-1C-BA-0A-45-88",
    "c61c.ba0a.4588",
    "02:00:5e:10:00:00:00:01",
    "01:1c:ba:0a:45:88",
  ];
  for (const m of accepted) {
    it(`admits the §2.4 MAC ${m}`, () => assert.deepEqual(rows(oneIface({ name: "pod", mac: m, bridge: {} })), []));
  }
  const rejected = ["01:1c:ba:0a:45:8", "c6:1c:ba-0a:45:88", "zz:1c:ba:0a:45:88", "c6:1c:ba:0a:45:88:"];
  for (const m of rejected) {
    it(`rejects the §2.4 MAC ${m}`, () =>
      assert.deepEqual(rows(oneIface({ name: "pod", mac: m, bridge: {} })), [
        [I, `${P}[0].mac`, `${P}[0].mac: Invalid value: "${m}": address ${m}: invalid MAC address`],
      ]));
  }
});

describe("I6 more than one binding method", () => {
  const more = (i: number, m: string): CauseRow => [
    F,
    `${P}[${i}].${m}`,
    `${P}[${i}].${m}: Forbidden: may not specify more than 1 binding method`,
  ];
  table([
    {
      name: "T22: bridge + masquerade reports masquerade",
      vm: oneIface({ name: "pod", mac, bridge: {}, masquerade: { cidr: "10.0.2.0/30" } }),
      want: [more(0, "masquerade")],
    },
    {
      name: "T25: bridge + sriov reports sriov",
      vm: oneIface({ name: "pod", mac, bridge: {}, sriov: {} }),
      want: [more(0, "sriov")],
    },
    {
      name: "sriov + vdpa reports vdpa",
      vm: oneIface({ name: "pod", mac, sriov: {}, vdpa: {} }),
      want: [more(0, "vdpa")],
    },
    {
      name: "vhostUser + bridge reports vhostUser (counting order, not key order)",
      vm: oneIface({ name: "pod", mac, vhostUser: {}, bridge: {} }, { instance: dedicatedWithHugepages() }),
      want: [more(0, "vhostUser")],
    },
    {
      name: "v24: all five give I2 then I6 for masquerade, sriov, vdpa and vhostUser",
      vm: oneIface({ name: "pod", mac, bridge: {}, masquerade: {}, sriov: {}, vdpa: {}, vhostUser: {} }),
      want: [
        [
          F,
          `${P}[0].vhostUser`,
          `${P}[0].vhostUser: Forbidden: may not use vhost-user interface without dedicated CPU placement and hugepages`,
        ],
        more(0, "masquerade"),
        more(0, "sriov"),
        more(0, "vdpa"),
        more(0, "vhostUser"),
      ],
    },
  ]);
});

describe("I7 no binding method", () => {
  table([
    {
      name: "T21: an interface with no binding",
      vm: oneIface({ name: "pod", mac }),
      want: [[R, `${P}[0]`, `${P}[0]: Required value: at least 1 binding method is required`]],
    },
    {
      name: "null binding keys do not count (Go nil pointers)",
      vm: oneIface({ name: "pod", mac, bridge: null as unknown as Record<string, unknown> }),
      want: [[R, `${P}[0]`, `${P}[0]: Required value: at least 1 binding method is required`]],
    },
  ]);
});

describe("I8, I9, I10 masquerade CIDR", () => {
  const C = `${P}[0].masquerade.cidr`;
  const masq = (cidr?: string): VkVirtualMachine =>
    oneIface({ name: "pod", mac, masquerade: cidr === undefined ? {} : { cidr } });
  table([
    { name: "T23: empty CIDR is required", vm: masq(""), want: [[R, C, `${C}: Required value`]] },
    { name: "absent CIDR (no defaulting) is required", vm: masq(), want: [[R, C, `${C}: Required value`]] },
    {
      name: "I9: unparsable CIDR gives two errors",
      vm: masq("10.0.2.0"),
      want: [
        [I, C, `${C}: Invalid value: "10.0.2.0": invalid CIDR address: 10.0.2.0`],
        [I, C, `${C}: Invalid value: "10.0.2.0": must specify subnet`],
      ],
    },
    {
      name: "I9: leading zeros are rejected",
      vm: masq("010.0.2.0/30"),
      want: [
        [I, C, `${C}: Invalid value: "010.0.2.0/30": invalid CIDR address: 010.0.2.0/30`],
        [I, C, `${C}: Invalid value: "010.0.2.0/30": must specify subnet`],
      ],
    },
    {
      name: "T24: /31 holds fewer than 4 IPs",
      vm: masq("10.0.2.0/31"),
      want: [[I, C, `${C}: Invalid value: "10.0.2.0/31": must contain at least 4 IPs`]],
    },
    {
      name: "/32 holds fewer than 4 IPs",
      vm: masq("10.0.2.0/32"),
      want: [[I, C, `${C}: Invalid value: "10.0.2.0/32": must contain at least 4 IPs`]],
    },
    {
      name: "IPv6 /64 overflows to 0",
      vm: masq("fd10::/64"),
      want: [[I, C, `${C}: Invalid value: "fd10::/64": must contain at least 4 IPs`]],
    },
    {
      name: "IPv6 /65 overflows negative",
      vm: masq("fd10::/65"),
      want: [[I, C, `${C}: Invalid value: "fd10::/65": must contain at least 4 IPs`]],
    },
    {
      name: "IPv6 /0 overflows to 0",
      vm: masq("::/0"),
      want: [[I, C, `${C}: Invalid value: "::/0": must contain at least 4 IPs`]],
    },
    {
      name: "IPv6 /127 is too small",
      vm: masq("fd10::/127"),
      want: [[I, C, `${C}: Invalid value: "fd10::/127": must contain at least 4 IPs`]],
    },
    { name: "/30 passes", vm: masq("10.0.2.0/30"), want: [] },
    { name: "host bits are accepted", vm: masq("10.0.2.1/30"), want: [] },
    { name: "/0 passes", vm: masq("10.0.2.0/0"), want: [] },
    { name: "IPv6 /66 passes", vm: masq("fd10::/66"), want: [] },
    { name: "IPv6 /126 passes", vm: masq("fd10::/126"), want: [] },
  ]);
});

describe("first-binding consequences", () => {
  table([
    {
      name: "masquerade after bridge: its CIDR is not validated",
      vm: oneIface({ name: "pod", mac, bridge: {}, masquerade: { cidr: "bogus" } }),
      want: [[F, `${P}[0].masquerade`, `${P}[0].masquerade: Forbidden: may not specify more than 1 binding method`]],
    },
    {
      name: "masquerade before sriov: its CIDR is validated, sriov is the extra one",
      vm: oneIface({ name: "pod", mac, masquerade: { cidr: "10.0.2.0/31" }, sriov: {} }),
      want: [
        [
          I,
          `${P}[0].masquerade.cidr`,
          `${P}[0].masquerade.cidr: Invalid value: "10.0.2.0/31": must contain at least 4 IPs`,
        ],
        [F, `${P}[0].sriov`, `${P}[0].sriov: Forbidden: may not specify more than 1 binding method`],
      ],
    },
    {
      name: "multus after pod: networkName is not validated",
      vm: oneNet({ name: "pod", pod: {}, multus: { networkName: "" } }),
      want: [
        [
          F,
          "spec.networks[0].multus",
          "spec.networks[0].multus: Forbidden: may not specify more than 1 network source",
        ],
      ],
    },
  ]);
});

describe("N1 duplicate network name", () => {
  table([
    {
      name: "reports the second of two same-named networks",
      vm: vkVm(
        [{ name: "pod", mac, bridge: {} }],
        [
          { name: "pod", pod: {} },
          { name: "pod", multus: { networkName: "a" } },
        ],
      ),
      want: [[D, "spec.networks[1].name", 'spec.networks[1].name: Duplicate value: "pod"']],
    },
    {
      name: "interface and network names live in separate sets",
      vm: vkVm([{ name: "x", mac, bridge: {} }], [{ name: "x", pod: {} }]),
      want: [],
    },
  ]);
});

describe("N2 network name required", () => {
  table([
    {
      name: "T34: empty name",
      vm: oneNet({ name: "", pod: {} }),
      want: [
        [R, `${P}[0].name`, `${P}[0].name: Required value`],
        [R, "spec.networks[0].name", "spec.networks[0].name: Required value"],
      ],
    },
    {
      name: "absent name reads as empty",
      vm: vkVm([], [{ pod: {} }]),
      want: [[R, "spec.networks[0].name", "spec.networks[0].name: Required value"]],
    },
  ]);
});

describe("N3 more than one network source", () => {
  table([
    {
      name: "T36: pod + multus reports multus",
      vm: oneNet({ name: "pod", pod: {}, multus: { networkName: "a" } }),
      want: [
        [
          F,
          "spec.networks[0].multus",
          "spec.networks[0].multus: Forbidden: may not specify more than 1 network source",
        ],
      ],
    },
  ]);
});

describe("N4 no network source", () => {
  table([
    {
      name: "T35: a network with no source",
      vm: oneNet({ name: "pod" }),
      want: [[R, "spec.networks[0]", "spec.networks[0]: Required value: at least 1 network source is required"]],
    },
    {
      name: "comes after the name check",
      vm: vkVm([], [{ name: "" }]),
      want: [
        [R, "spec.networks[0].name", "spec.networks[0].name: Required value"],
        [R, "spec.networks[0]", "spec.networks[0]: Required value: at least 1 network source is required"],
      ],
    },
  ]);
});

describe("N5 multus networkName required", () => {
  const want: CauseRow[] = [
    [R, "spec.networks[0].multus.networkName", "spec.networks[0].multus.networkName: Required value"],
  ];
  table([
    { name: "empty networkName", vm: oneNet({ name: "m", multus: { networkName: "" } }), want },
    { name: "absent networkName", vm: oneNet({ name: "m", multus: {} }), want },
    {
      name: "a networkName with a namespace passes admission",
      vm: oneNet({ name: "m", multus: { networkName: "ns/nad" } }),
      want: [],
    },
  ]);
});

describe("order of evaluation", () => {
  it("reports all interfaces before any network, each in list order", () => {
    const vm = vkVm(
      [
        { name: "", mac, bridge: {} },
        { name: "b", mac: "bad-mac", bridge: {} },
      ],
      [{ name: "" }, { name: "m", multus: {} }],
    );
    assert.deepEqual(
      rows(vm).map((r) => r[1]),
      [
        `${P}[0].name`,
        `${P}[1].mac`,
        "spec.networks[0].name",
        "spec.networks[0]",
        "spec.networks[1].multus.networkName",
      ],
    );
  });
});

describe("what the webhook does not check (§2.5)", () => {
  table([
    {
      name: "v10: vdpa numQueues and iommu are not validated",
      vm: vkVm(
        [
          { name: "pod", mac, bridge: {} },
          { name: "vdpa1", mac: "52:54:00:12:34:57", vdpa: { numQueues: 9, iommu: false } },
        ],
        [net, { name: "vdpa1", multus: { networkName: "offload-ovn1" } }],
      ),
      want: [],
    },
    { name: "v29: an interface without a network", vm: vkVm([{ name: "lonely", mac, bridge: {} }], []), want: [] },
    { name: "v30: a network without an interface", vm: vkVm([], [{ name: "pod", pod: {} }]), want: [] },
    {
      name: "v31: masquerade on a multus network",
      vm: vkVm(
        [{ name: "m", mac, masquerade: { cidr: "10.0.2.0/30" } }],
        [{ name: "m", multus: { networkName: "nad" } }],
      ),
      want: [],
    },
    { name: "sriov on the pod network", vm: vkVm([{ name: "pod", mac, sriov: {} }], [net]), want: [] },
    {
      name: "two pod networks",
      vm: vkVm(
        [
          { name: "a", mac, bridge: {} },
          { name: "b", mac: "52:54:00:12:34:57", bridge: {} },
        ],
        [
          { name: "a", pod: {} },
          { name: "b", pod: {} },
        ],
      ),
      want: [],
    },
    {
      name: "two masquerade interfaces with the same MAC",
      vm: vkVm(
        [
          { name: "a", mac, masquerade: { cidr: "10.0.2.0/30" } },
          { name: "b", mac, masquerade: { cidr: "10.0.2.0/30" } },
        ],
        [
          { name: "a", pod: {} },
          { name: "b", multus: { networkName: "n" } },
        ],
      ),
      want: [],
    },
    {
      name: "an interface named like a disk",
      vm: vkVm([{ name: "rootfs", mac, bridge: {} }], [{ name: "rootfs", pod: {} }], {
        instance: { disks: [{ name: "rootfs" }] },
      }),
      want: [],
    },
  ]);
});

describe("U1 spec immutable on update", () => {
  const forbidden: CauseRow = [
    F,
    "spec",
    "spec: Forbidden: VM spec may not be updated except runPolicy, volumes, instance.disks",
  ];
  const base = (): VkVirtualMachine => vkVm([{ name: "pod", mac, bridge: {} }], [{ name: "pod", pod: {} }]);
  const changed = (edit: (vm: VkVirtualMachine) => void): VkVirtualMachine => {
    const vm = base();
    edit(vm);
    return vm;
  };
  table([
    { name: "an unchanged spec passes", vm: base(), old: base(), want: [] },
    {
      name: "runPolicy may change",
      vm: changed((vm) => {
        if (vm.spec) vm.spec.runPolicy = "Always";
      }),
      old: base(),
      want: [],
    },
    {
      name: "volumes may change",
      vm: changed((vm) => {
        if (vm.spec) vm.spec.volumes = [{ name: "v" }];
      }),
      old: base(),
      want: [],
    },
    {
      name: "instance.disks may change",
      vm: changed((vm) => {
        if (vm.spec?.instance) vm.spec.instance.disks = [{ name: "d" }];
      }),
      old: base(),
      want: [],
    },
    {
      name: "a changed MAC is forbidden",
      vm: changed((vm) => {
        const i = vm.spec?.instance?.interfaces?.[0];
        if (i) i.mac = "52:54:00:12:34:99";
      }),
      old: base(),
      want: [forbidden],
    },
    {
      name: "an added interface (hot-plug) is forbidden",
      vm: changed((vm) => {
        vm.spec?.instance?.interfaces?.push({ name: "b", mac, bridge: {} });
      }),
      old: base(),
      want: [forbidden],
    },
    {
      name: "a changed binding is forbidden",
      vm: changed((vm) => {
        const i = vm.spec?.instance?.interfaces?.[0];
        if (i) {
          delete i.bridge;
          i.masquerade = { cidr: "10.0.2.0/30" };
        }
      }),
      old: base(),
      want: [forbidden],
    },
    {
      name: "a changed network is forbidden",
      vm: changed((vm) => {
        const n = vm.spec?.networks?.[0];
        if (n) {
          delete n.pod;
          n.multus = { networkName: "x" };
        }
      }),
      old: base(),
      want: [forbidden],
    },
    {
      name: "an absent bool equals an explicit false (Go zero value)",
      vm: changed((vm) => {
        if (vm.spec?.instance?.cpu) vm.spec.instance.cpu.dedicatedCPUPlacement = false;
      }),
      old: base(),
      want: [],
    },
    {
      name: "comes after every other rule",
      vm: changed((vm) => {
        const n = vm.spec?.networks?.[0];
        if (n) n.name = "";
      }),
      old: base(),
      want: [[R, "spec.networks[0].name", "spec.networks[0].name: Required value"], forbidden],
    },
    {
      name: "is not checked without an old object",
      vm: changed((vm) => {
        if (vm.spec) vm.spec.networks = [];
      }),
      want: [],
    },
  ]);
});
