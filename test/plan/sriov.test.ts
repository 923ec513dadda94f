import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import type { VmNetworkModel } from "../../src/api/model.ts";
import {
  memlockLimitBytes,
  renderCloudHypervisorNet,
  vmConfigFragment,
} from "../../src/hypervisor/cloud-hypervisor.ts";
import { domainXml } from "../../src/hypervisor/libvirt-xml.ts";
import { PlanErrorCode } from "../../src/plan/errors.ts";
import { hashedPodInterfaceName } from "../../src/plan/namescheme.ts";
import { NftBuilder } from "../../src/plan/nft.ts";
import type { DeviceStatusEntry, PassthroughPlanOptions, SriovPlan } from "../../src/plan/passthrough-types.ts";
import type { NetworkPlan } from "../../src/plan/plan.ts";
import { planSriov, sriovChNics, sriovHostdevInputs, sriovQemuArgs, sriovQemuDevice } from "../../src/plan/sriov.ts";
import { interfaceStatuses } from "../../src/runtime/status.ts";
import { config, iface, link, multusNet, passthroughContext, pod, podNet, vm } from "./fixtures.ts";
import { assertGolden, GOLDEN } from "./golden.ts";

const run = promisify(execFile);

function planAll(model: VmNetworkModel, options: PassthroughPlanOptions): SriovPlan[] {
  return model.interfaces
    .filter((i) => i.binding.kind === "sriov")
    .map((i) => planSriov(passthroughContext(model, i.name, options)));
}

const sriov = { kind: "sriov" } as const;
const masq = { kind: "masquerade" } as const;
const hashed = (n: string) => hashedPodInterfaceName(n).value;
const pci = (address: string) => ({ type: "pci", version: "1.1.0", pci: { "pci-address": address } });
const podEth0 = pod([link("eth0", 3, "0a:58:0a:f4:01:05", ["10.244.1.5/24"])]);
const eth0Status: DeviceStatusEntry = { name: "k8s-pod-network", interface: "eth0", default: true };

const kubevirtTwo = vm(
  [
    iface("default", masq),
    iface("sriov-a", sriov, { macAddress: "02:00:00:00:00:0a", pciAddress: "0000:00:05.0", bootOrder: 2 }),
    iface("sriov-b", sriov),
  ],
  [podNet(), multusNet("sriov-a", "nad-sriov"), multusNet("sriov-b", "nad-sriov")],
);

const virtinkModel = vm(
  [iface("pod", masq, { macAddress: "52:54:00:12:34:56" }), iface("sriov", sriov, { macAddress: "52:54:00:12:34:57" })],
  [podNet("pod"), multusNet("sriov", "intel-10g-sriov-vfio")],
  { dialect: "virtink" },
);

interface GoldenCase {
  readonly name: string;
  readonly model: VmNetworkModel;
  readonly options: PassthroughPlanOptions;
}

const cases: GoldenCase[] = [
  {
    name: "sriov-kubevirt-two-vfs",
    model: kubevirtTwo,
    options: {
      config: config(),
      pod: podEth0,
      passthrough: {
        networkStatus: [
          eth0Status,
          {
            name: "default/nad-sriov",
            interface: hashed("sriov-a"),
            mac: "02:00:00:00:00:0a",
            "device-info": pci("0000:3B:10.0"),
          },
          {
            name: "default/nad-sriov",
            interface: hashed("sriov-b"),
            mac: "4e:1c:aa:00:00:02",
            "device-info": pci("0000:3b:10.2"),
          },
        ],
      },
    },
  },
  {
    name: "sriov-kubevirt-ordinal-one-not-plugged",
    model: kubevirtTwo,
    options: {
      config: config(),
      pod: podEth0,
      passthrough: {
        networkStatus: [
          eth0Status,
          { name: "default/nad-sriov", interface: "net1", "device-info": pci("0000:3b:10.0") },
        ],
      },
    },
  },
  {
    name: "sriov-virtink",
    model: virtinkModel,
    options: {
      config: config(),
      pod: podEth0,
      passthrough: {
        networkStatus: [
          { name: "cbr0", interface: "eth0", default: true },
          {
            name: "default/intel-10g-sriov-vfio",
            interface: "net1",
            mac: "52:54:00:12:34:57",
            "device-info": pci("0000:3b:10.4"),
          },
        ],
      },
    },
  },
  {
    name: "sriov-virtink-no-device-info",
    model: virtinkModel,
    options: {
      config: config(),
      pod: podEth0,
      passthrough: { networkStatus: [{ name: "default/intel-10g-sriov-vfio", interface: "net1" }] },
    },
  },
];

function emptyPlan(dialect: NetworkPlan["dialect"]): NetworkPlan {
  return { dialect, interfaces: [], sysctls: [], nft: new NftBuilder().build() };
}

describe("planSriov golden plans and renderings", () => {
  for (const c of cases) {
    it(`${c.name}: plan, Cloud Hypervisor config and QEMU argv`, () => {
      const plans = planAll(c.model, c.options);
      const ch = renderCloudHypervisorNet(sriovChNics(plans));
      const rendered = {
        plans,
        cloudHypervisor: vmConfigFragment(ch),
        memlockBytesFor1GiB: memlockLimitBytes(ch, 1 << 30) ?? null,
        qemuArgv: sriovQemuArgs(plans),
      };
      assertGolden(`${c.name}.json`, `${JSON.stringify(rendered, undefined, 2)}\n`);
    });
    it(`${c.name}: libvirt domain, valid against libvirt's schema`, async (t) => {
      const plans = planAll(c.model, c.options);
      assertGolden(
        `${c.name}.xml`,
        domainXml(emptyPlan(c.model.dialect), { name: "vm", sriov: sriovHostdevInputs(plans) }),
      );
      try {
        await run("xmllint", ["--version"]);
      } catch {
        t.skip("xmllint is missing (libxml2-utils), which virt-xml-validate runs");
        return;
      }
      await run("virt-xml-validate", [join(GOLDEN, `${c.name}.xml`), "domain"]);
    });
  }
});

describe("planSriov behaviour", () => {
  const two = cases[0];
  assert.ok(two);

  it("has no MAC, MTU or link state on the device: the spec MAC only goes to the CNI", () => {
    const [a] = planAll(two.model, two.options);
    assert.ok(a);
    assert.equal(a.cniMac, "02:00:00:00:00:0a");
    assert.deepEqual(
      Object.keys(a).filter((k) => /mtu|link|state/iu.test(k)),
      [],
    );
    assert.equal(a.hostPciAddress, "0000:3b:10.0");
  });

  const errors = [
    {
      name: "a plugged KubeVirt SR-IOV network without device-info, alone",
      status: [eth0Status, { name: "default/nad-sriov", interface: hashed("sriov-a") }],
      iface: "sriov-a",
      code: PlanErrorCode.NoSriovMapping,
      message: "found no SR-IOV networks to PCI-Address mapping",
    },
    {
      name: "a plugged KubeVirt SR-IOV network without device-info beside one with",
      status: [
        eth0Status,
        { name: "default/nad-sriov", interface: hashed("sriov-a") },
        { name: "default/nad-sriov", interface: hashed("sriov-b"), "device-info": pci("0000:3b:10.2") },
      ],
      iface: "sriov-a",
      code: PlanErrorCode.SriovPciAddressNotFound,
      message: 'PCI-Address for SR-IOV network "sriov-a" not found',
    },
    {
      name: "a malformed VF address",
      status: [eth0Status, { name: "default/nad-sriov", interface: hashed("sriov-a"), "device-info": pci("3b:10.0") }],
      iface: "sriov-a",
      code: PlanErrorCode.InvalidHostPciAddress,
      message:
        'Cannot use VF PCI address "3b:10.0" of network "sriov-a": Cannot parse PCI address "3b:10.0": expected "DDDD:BB:SS.F"',
    },
  ];
  for (const c of errors) {
    it(`fails on ${c.name}`, () => {
      const options = { config: config(), pod: podEth0, passthrough: { networkStatus: c.status } };
      assert.throws(
        () => planSriov(passthroughContext(kubevirtTwo, c.iface, options)),
        (e: Error & { code?: string }) => {
          assert.equal(e.code, c.code);
          assert.equal(e.message, c.message);
          return true;
        },
      );
    });
  }

  it("status reports each planned hostdev by its alias (§8.4 step 2) with the plan's pod interface name", () => {
    const plans = planAll(two.model, two.options);
    const statuses = interfaceStatuses({
      model: two.model,
      plan: emptyPlan("kubevirt"),
      domain: plans.map((p) => ({ kind: "hostdev" as const, alias: p.alias })),
      networkStatus: two.options.passthrough?.networkStatus ?? [],
    });
    assert.deepEqual(
      statuses.slice(1).map((s) => [s.name, s.mac, s.podInterfaceName, s.infoSource]),
      plans.map((p) => [p.name, p.cniMac, p.podInterface, "domain, multus-status"]),
    );
  });

  it("plans no VF (and throws nothing) before the network-status annotation exists", () => {
    const plans = planAll(kubevirtTwo, { config: config(), pod: podEth0 });
    assert.deepEqual(
      plans.map((p) => p.hostPciAddress),
      [undefined, undefined],
    );
    assert.deepEqual(sriovQemuArgs(plans), []);
  });

  it("sriovQemuDevice puts a guest address on a non-root bus onto controller pci.<bus>, and refuses a plan without a VF", () => {
    const base: SriovPlan = {
      kind: "sriov",
      name: "x",
      network: "x",
      podInterface: "net1",
      alias: "ua-sriov-x",
      hostPciAddress: "0000:3b:10.0",
    };
    assert.deepEqual(sriovQemuDevice({ ...base, guestPciAddress: "0000:06:00.0" }), {
      driver: "vfio-pci",
      host: "0000:3b:10.0",
      id: "ua-sriov-x",
      bus: "pci.6",
      addr: "00.0",
    });
    assert.equal(sriovQemuDevice({ ...base, guestPciAddress: "0000:00:07.0" }, { machine: "pc" }).bus, "pci.0");
    const { hostPciAddress: _, ...noVf } = base;
    assert.throws(() => sriovQemuDevice(noVf), { name: "TypeError" });
    assert.throws(() => sriovQemuDevice({ ...base, guestPciAddress: "0001:00:07.0" }), { name: "RangeError" });
  });
});

describe("the vfio-pci argv against this QEMU", () => {
  it("uses only properties QEMU's vfio-pci has, and QEMU fails only on the missing VF", async (t) => {
    const two = cases[0];
    assert.ok(two);
    const argv = sriovQemuArgs(planAll(two.model, two.options));
    let help: string;
    try {
      help = (await run("qemu-system-x86_64", ["-device", "vfio-pci,help"])).stdout;
    } catch {
      t.skip("qemu-system-x86_64 is not installed");
      return;
    }
    const known = new Set([...help.matchAll(/^\s+([a-z0-9_-]+)=/gmu)].map((m) => m[1]));
    known.add("id").add("bus");
    for (const value of argv.filter((_, i) => i % 2 === 1)) {
      for (const kv of value.split(",").slice(1)) assert.ok(known.has(kv.split("=")[0]), `vfio-pci has no "${kv}"`);
    }
    const first = argv.slice(0, 2);
    await assert.rejects(
      run("qemu-system-x86_64", ["-M", "q35", "-accel", "tcg", "-nodefaults", "-display", "none", "-S", ...first], {
        timeout: 20_000,
      }),
      (e: Error & { stderr?: string }) => {
        assert.match(e.stderr ?? "", /vfio \/sys\/bus\/pci\/devices\/0000:3b:10\.0: no such host device/u);
        return true;
      },
    );
  });
});
