import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { ChNicInput } from "../../src/hypervisor/cloud-hypervisor.ts";
import {
  chNicsOfPlan,
  cloudHypervisorNet,
  memlockLimitBytes,
  renderCloudHypervisorNet,
  vmConfigFragment,
} from "../../src/hypervisor/cloud-hypervisor.ts";
import { nic, plan } from "./fixtures.ts";

const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), "golden");
const UPDATE = process.env.UPDATE_GOLDEN === "1";

const virtink = (...ifaces: Parameters<typeof plan>) => ({ ...plan(...ifaces), dialect: "virtink" as const });

const cases: { name: string; nics: ChNicInput[] }[] = [
  {
    name: "ch-masquerade-bridge",
    nics: chNicsOfPlan(
      virtink(
        nic("pod", { mac: "52:54:00:12:34:56", mtu: 1450, tap: "tap-eth0" }),
        nic("blue", { binding: "bridge", mac: "0a:58:0a:f4:01:07", mtu: 9000, tap: "tap-net1" }),
      ),
    ),
  },
  {
    name: "ch-sriov-vdpa",
    nics: [
      { kind: "vfio", name: "sriov", pciAddress: "0000:3B:02.4" },
      { kind: "vdpa", name: "vdpa0", path: "/dev/vhost-vdpa-0", numQueues: 0, iommu: false },
      { kind: "vdpa", name: "vdpa1", path: "/dev/vhost-vdpa-1", numQueues: 4, iommu: true },
    ],
  },
  {
    name: "ch-vhost-user",
    nics: [
      { kind: "vhostUser", name: "ovn", mac: "52:54:00:00:00:01", mtu: 1400 },
      {
        kind: "vhostUser",
        name: "dpdk",
        mac: "52:54:00:00:00:02",
        mtu: 1500,
        socket: "/var/run/vhost-user/0123456789ab/sock1",
      },
    ],
  },
  {
    name: "ch-multiqueue",
    nics: chNicsOfPlan(virtink(nic("pod", { mac: "52:54:00:12:34:56", queues: 2, tap: "tap-eth0" }))),
  },
];

describe("Cloud Hypervisor net config (golden files in test/hypervisor/golden; UPDATE_GOLDEN=1 rewrites them)", () => {
  for (const c of cases) {
    it(`vmConfigFragment matches ${c.name}.json`, () => {
      const text = `${JSON.stringify(vmConfigFragment(renderCloudHypervisorNet(c.nics)), null, 2)}\n`;
      const file = join(GOLDEN, `${c.name}.json`);
      if (UPDATE) {
        mkdirSync(GOLDEN, { recursive: true });
        writeFileSync(file, text);
      }
      assert.equal(text, readFileSync(file, "utf8"));
    });
  }

  it("chTapEntry serialises the reference's masquerade example byte for byte", () => {
    const c = cloudHypervisorNet(virtink(nic("pod", { mac: "52:54:00:12:34:56", mtu: 1450, tap: "tap-eth0" })));
    assert.equal(JSON.stringify(c.net[0]), '{"id":"pod","mac":"52:54:00:12:34:56","mtu":1450,"tap":"tap-eth0"}');
  });

  it("vDPA entries always carry num_queues and drop a false iommu", () => {
    const c = renderCloudHypervisorNet([
      { kind: "vdpa", name: "v", path: "/dev/vhost-vdpa-0", numQueues: 0, iommu: false },
    ]);
    assert.equal(JSON.stringify(c.vdpa[0]), '{"id":"v","num_queues":0,"path":"/dev/vhost-vdpa-0"}');
  });

  it("vhost-user sets memory.shared and omits an empty socket (Virtink's kube-ovn bug)", () => {
    const c = renderCloudHypervisorNet([
      { kind: "vhostUser", name: "ovn", mac: "52:54:00:00:00:01", mtu: 1400, socket: "" },
    ]);
    assert.equal(c.memoryShared, true);
    assert.equal(
      JSON.stringify(c.net[0]),
      '{"id":"ovn","mac":"52:54:00:00:00:01","mtu":1400,"vhost_mode":"Server","vhost_user":true}',
    );
  });

  const memlock: { name: string; nics: ChNicInput[]; want: number | undefined }[] = [
    { name: "taps only", nics: chNicsOfPlan(virtink(nic("pod"))), want: undefined },
    { name: "a VF", nics: [{ kind: "vfio", name: "s", pciAddress: "0000:3b:02.4" }], want: 2 * 2 ** 30 },
    {
      name: "a vDPA device",
      nics: [{ kind: "vdpa", name: "v", path: "/dev/vhost-vdpa-0", numQueues: 1, iommu: false }],
      want: 2 * 2 ** 30,
    },
  ];
  for (const m of memlock) {
    it(`memlockLimitBytes with ${m.name}`, () => {
      assert.equal(memlockLimitBytes(renderCloudHypervisorNet(m.nics), 2 ** 30), m.want);
    });
  }

  const errors: { name: string; nics: ChNicInput[]; error: new (...a: never[]) => Error }[] = [
    { name: "a non-virtio model", nics: chNicsOfPlan(virtink(nic("pod", { model: "e1000" }))), error: TypeError },
    { name: "a malformed VF address", nics: [{ kind: "vfio", name: "s", pciAddress: "3b:02.4" }], error: SyntaxError },
    {
      name: "negative vDPA queues",
      nics: [{ kind: "vdpa", name: "v", path: "/dev/x", numQueues: -1, iommu: false }],
      error: RangeError,
    },
  ];
  for (const e of errors)
    it(`renderCloudHypervisorNet rejects ${e.name}`, () =>
      assert.throws(() => renderCloudHypervisorNet(e.nics), e.error));
});
