import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import type { VmNetworkModel } from "../../src/api/model.ts";
import {
  memlockLimitBytes,
  renderCloudHypervisorNet,
  vmConfigFragment,
} from "../../src/hypervisor/cloud-hypervisor.ts";
import { PlanErrorCode } from "../../src/plan/errors.ts";
import type { DeviceStatusEntry, PassthroughPlanOptions, VdpaPlan } from "../../src/plan/passthrough-types.ts";
import { planVdpa, vdpaChNics, vdpaQemuArgs } from "../../src/plan/vdpa.ts";
import { config, iface, link, multusNet, passthroughContext, pod, podNet, vm } from "./fixtures.ts";
import { assertGolden } from "./golden.ts";

const planAll = (model: VmNetworkModel, options: PassthroughPlanOptions): VdpaPlan[] =>
  model.interfaces
    .filter((i) => i.binding.kind === "vdpa")
    .map((i) => planVdpa(passthroughContext(model, i.name, options)));

const vdpaInfo = (path: string) => ({
  type: "vdpa",
  version: "1.1.0",
  vdpa: { "parent-device": "vdpa:0000:65:00.2", driver: "vhost", path, "pci-address": "0000:65:00.2" },
});
const model = vm(
  [
    iface("pod", { kind: "masquerade" }, { macAddress: "52:54:00:12:34:56" }),
    iface("vdpa0", { kind: "vdpa", numQueues: 0, iommu: false }, { macAddress: "52:54:00:12:34:57" }),
    iface("vdpa1", { kind: "vdpa", numQueues: 4, iommu: true }, { macAddress: "52:54:00:12:34:58" }),
  ],
  [podNet("pod"), multusNet("vdpa0", "vdpa-mlx"), multusNet("vdpa1", "vdpa-mlx")],
  { dialect: "virtink" },
);
const podFacts = pod([link("eth0", 3, "0a:58:0a:f4:01:05", ["10.244.1.5/24"])]);
const status: DeviceStatusEntry[] = [
  { name: "cbr0", interface: "eth0", default: true },
  {
    name: "default/vdpa-mlx",
    interface: "net1",
    mac: "52:54:00:12:34:57",
    "device-info": vdpaInfo("/dev/vhost-vdpa-0"),
  },
  {
    name: "default/vdpa-mlx",
    interface: "net2",
    mac: "52:54:00:12:34:58",
    "device-info": vdpaInfo("/dev/vhost-vdpa-1"),
  },
];

const cases: { name: string; networkStatus: DeviceStatusEntry[] }[] = [
  { name: "vdpa-virtink-two-devices", networkStatus: status },
  {
    name: "vdpa-virtink-one-without-device-info",
    networkStatus: [status[0], status[1], { name: "default/vdpa-mlx", interface: "net2" }].filter(
      (s) => s !== undefined,
    ),
  },
];

describe("planVdpa golden plans and Cloud Hypervisor renderings", () => {
  for (const c of cases) {
    it(c.name, () => {
      const plans = planAll(model, {
        config: config(),
        pod: podFacts,
        passthrough: { networkStatus: c.networkStatus },
      });
      const ch = renderCloudHypervisorNet(vdpaChNics(plans));
      const rendered = {
        plans,
        cloudHypervisor: vmConfigFragment(ch),
        memlockBytesFor1GiB: memlockLimitBytes(ch, 1 << 30) ?? null,
        qemuArgv: vdpaQemuArgs(plans),
      };
      assertGolden(`${c.name}.json`, `${JSON.stringify(rendered, undefined, 2)}\n`);
    });
  }
});

describe("planVdpa behaviour", () => {
  const plan = (networkStatus: DeviceStatusEntry[] | undefined, name = "vdpa1") =>
    planVdpa(
      passthroughContext(model, name, {
        config: config(),
        pod: podFacts,
        ...(networkStatus === undefined ? {} : { passthrough: { networkStatus } }),
      }),
    );

  const paths = [
    { name: "the entry of the interface's net<j> link", status, want: "/dev/vhost-vdpa-1" },
    { name: "no network-status at all", status: undefined, want: undefined },
    {
      name: "an entry with PCI device-info only",
      status: [
        {
          name: "default/vdpa-mlx",
          interface: "net2",
          "device-info": { type: "pci", pci: { "pci-address": "0000:3b:10.0" } },
        },
      ],
      want: undefined,
    },
    {
      name: "the first of duplicate entries",
      status: [
        { name: "a", interface: "net2", "device-info": vdpaInfo("/dev/vhost-vdpa-7") },
        { name: "b", interface: "net2", "device-info": vdpaInfo("/dev/vhost-vdpa-8") },
      ],
      want: "/dev/vhost-vdpa-7",
    },
    {
      name: "another link's entry is not taken",
      status: [{ name: "default/vdpa-mlx", interface: "net1", "device-info": vdpaInfo("/dev/vhost-vdpa-0") }],
      want: undefined,
    },
  ];
  for (const c of paths) {
    it(`path from ${c.name}`, () => {
      assert.equal(plan(c.status).path, c.want);
    });
  }

  it("keeps numQueues 0 and iommu false as Virtink serialises them", () => {
    const p = plan(status, "vdpa0");
    assert.deepEqual([p.numQueues, p.iommu], [0, false]);
    assert.deepEqual(vmConfigFragment(renderCloudHypervisorNet(vdpaChNics([p]))), {
      vdpa: [{ id: "vdpa0", num_queues: 0, path: "/dev/vhost-vdpa-0" }],
    });
  });

  it("refuses a KubeVirt VM, which has no vdpa binding", () => {
    const kv = { ...model, dialect: "kubevirt" as const };
    assert.throws(() => planVdpa(passthroughContext(kv, "vdpa1", { config: config(), pod: podFacts })), {
      name: "PlanError",
      code: PlanErrorCode.BindingUnsupported,
    });
  });
});

describe("vdpaQemuArgs", () => {
  const base: VdpaPlan = {
    kind: "vdpa",
    name: "v",
    network: "v",
    podInterface: "net1",
    path: "/dev/vhost-vdpa-3",
    numQueues: 0,
    iommu: false,
  };

  it("rejects an odd queue count, which has no QEMU queue-pair equivalent", () => {
    assert.throws(() => vdpaQemuArgs([{ ...base, numQueues: 3 }]), { name: "RangeError" });
  });

  it("is accepted by this QEMU, which fails only on the missing vhost-vdpa device", async (t) => {
    const argv = vdpaQemuArgs([{ ...base, numQueues: 4, iommu: true }]);
    const run = promisify(execFile);
    try {
      await run("qemu-system-x86_64", ["--version"]);
    } catch {
      t.skip("qemu-system-x86_64 is not installed");
      return;
    }
    await assert.rejects(
      run("qemu-system-x86_64", ["-M", "q35", "-accel", "tcg", "-nodefaults", "-display", "none", "-S", ...argv], {
        timeout: 20_000,
      }),
      (e: Error & { stderr?: string }) => {
        assert.match(e.stderr ?? "", /Could not open '\/dev\/vhost-vdpa-3'/u);
        return true;
      },
    );
  });
});
