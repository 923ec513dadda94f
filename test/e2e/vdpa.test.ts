/**
 * vDPA end to end on the kernel's vDPA simulator: a `vdpasim_net` device bound to vhost_vdpa (never to virtio_vdpa,
 * which would put a netdev in the root namespace), its `/dev/vhost-vdpa-N` named in network-status as a vDPA CNI would,
 * planned for a Virtink VM, rendered for Cloud Hypervisor and booted (paused) under QEMU's vhost-vdpa backend. Skipped,
 * with the reason, where the kernel has no vDPA bus and no vdpa_sim module (as on this machine).
 */
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { release } from "node:os";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { renderCloudHypervisorNet, vmConfigFragment } from "../../src/hypervisor/cloud-hypervisor.ts";
import { flattenPci } from "../../src/hypervisor/qmp.ts";
import { virtinkLinkName } from "../../src/plan/namescheme.ts";
import { NftBuilder } from "../../src/plan/nft.ts";
import type { PassthroughPlanOptions } from "../../src/plan/passthrough-types.ts";
import { planVdpa, vdpaChNics, vdpaQemuArgs } from "../../src/plan/vdpa.ts";
import { qemuSkipReason, withQemu } from "../hypervisor/qemu-harness.ts";
import { config, iface, link, multusNet, pod, podNet, vm } from "../plan/fixtures.ts";

const run = promisify(execFile);
const VDPA_BUS = "/sys/bus/vdpa";
const MODULES = ["vdpa_sim_net", "vhost_vdpa"] as const;

function vdpaSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root to create vDPA devices";
  if (spawnSync("vdpa", ["-V"], { stdio: "ignore" }).error !== undefined) return '"vdpa" (iproute2) is missing';
  if (existsSync(`${VDPA_BUS}/drivers/vhost_vdpa`)) return undefined;
  for (const m of MODULES) {
    const r = spawnSync("modprobe", ["--dry-run", m], { encoding: "utf8" });
    if (r.error !== undefined || r.status !== 0) {
      const why = (r.stderr ?? "").trim() || (r.error?.message ?? `exit ${r.status}`);
      return `\`modprobe vdpa_sim\` unavailable: kernel ${release()} has no ${VDPA_BUS} and no ${m} module (${why})`;
    }
  }
  return undefined;
}

const skip = vdpaSkipReason() ?? qemuSkipReason();

describe("vDPA end to end on vdpa_sim", { skip }, () => {
  const name = `vmnt-vdpa-${randomBytes(3).toString("hex")}`;
  const mac = "02:00:00:76:64:70";
  let autoprobe: string | undefined;
  let created = false;
  let chardev = "";

  before(async () => {
    if (!existsSync(`${VDPA_BUS}/drivers/vhost_vdpa`)) await run("modprobe", [...MODULES]);
    // Bind by hand so virtio_vdpa, if loaded, never turns the device into a netdev of the root namespace.
    autoprobe = readFileSync(`${VDPA_BUS}/drivers_autoprobe`, "utf8").trim();
    writeFileSync(`${VDPA_BUS}/drivers_autoprobe`, "0");
    await run("vdpa", ["dev", "add", "name", name, "mgmtdev", "vdpasim_net", "mac", mac]);
    created = true;
    writeFileSync(`${VDPA_BUS}/devices/${name}/driver_override`, "vhost_vdpa");
    writeFileSync(`${VDPA_BUS}/drivers/vhost_vdpa/bind`, name);
    const node = readdirSync(`${VDPA_BUS}/devices/${name}`).find((e) => /^vhost-vdpa-\d+$/u.test(e));
    assert.ok(node, `vhost_vdpa made no character device for "${name}"`);
    chardev = `/dev/${node}`;
  });

  after(async () => {
    try {
      if (created) await run("vdpa", ["dev", "del", name]);
    } finally {
      if (autoprobe !== undefined) writeFileSync(`${VDPA_BUS}/drivers_autoprobe`, autoprobe);
    }
  });

  it("the simulator's vhost-vdpa device, named in network-status, reaches CH's config and a QEMU guest", async () => {
    assert.ok(existsSync(chardev), `${chardev} does not exist`);
    const model = vm(
      [
        iface("pod", { kind: "masquerade" }, { macAddress: "52:54:00:12:34:56" }),
        iface("vdpa", { kind: "vdpa", numQueues: 2, iommu: false }, { macAddress: mac }),
      ],
      [podNet("pod"), multusNet("vdpa", "vdpa-sim")],
      { dialect: "virtink" },
    );
    const podFacts = pod([link("eth0", 3, "0a:58:0a:f4:01:05", ["10.244.1.5/24"])]);
    const options: PassthroughPlanOptions = {
      config: config(),
      pod: podFacts,
      passthrough: {
        networkStatus: [
          {
            name: "default/vdpa-sim",
            interface: "net1",
            mac,
            "device-info": {
              type: "vdpa",
              version: "1.1.0",
              vdpa: { "parent-device": name, driver: "vhost", path: chardev },
            },
          },
        ],
      },
    };
    const spec = model.interfaces[1];
    const network = model.networks[1];
    assert.ok(spec && network);
    const plan = planVdpa({
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
    assert.deepEqual(vmConfigFragment(renderCloudHypervisorNet(vdpaChNics([plan]))), {
      vdpa: [{ id: "vdpa", num_queues: 2, path: chardev }],
    });
    await withQemu(vdpaQemuArgs([plan]), async ({ qmp }) => {
      const dev = flattenPci(await qmp.queryPci()).find((d) => d.qdevId === "net-vdpa");
      assert.ok(dev, "the vhost-vdpa NIC is not on the guest bus");
      assert.deepEqual([dev.vendorId, dev.deviceId], [0x1af4, 0x1041]);
    });
  });
});
