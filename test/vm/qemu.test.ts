import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, test } from "node:test";
import { Accel } from "../../src/hypervisor/accel.ts";
import type { GuestImage } from "../../src/lab/guest-image.ts";
import { statePaths, vmPaths } from "../../src/vm/paths.ts";
import { qemuCommand } from "../../src/vm/qemu.ts";
import { nic, plan } from "../hypervisor/fixtures.ts";

const image: GuestImage = {
  kernel: "/k/vmlinux",
  bzImage: "/boot/vmlinuz",
  initrd: "/k/initrd.cpio.gz",
  hash: "h",
  kernelVersion: "6.1",
  built: false,
};
const paths = vmPaths(statePaths("/s"), "vm1");
const skip = spawnSync("qemu-system-x86_64", ["--version"]).status === 0 ? false : "QEMU is missing";

/** The value after `flag` in `argv` (every occurrence). */
function after(argv: readonly string[], flag: string): string[] {
  return argv.flatMap((a, i) => (a === flag && argv[i + 1] !== undefined ? [argv[i + 1] as string] : []));
}

describe("qemuCommand", { skip }, () => {
  test("starts paused with QMP, guest agent, pidfile and serial log in the VM's directory", async () => {
    const { argv, postStart } = await qemuCommand({
      name: "vm1",
      netns: "ns",
      paths,
      image,
      accel: Accel.Tcg,
      plan: plan(nic("default", { mac: "02:00:00:00:00:0a" })),
    });
    assert.equal(argv[0], "qemu-system-x86_64");
    assert.ok(argv.includes("-S"), "paused until post-start actions ran");
    assert.deepEqual(after(argv, "-accel"), ["tcg"]);
    assert.deepEqual(after(argv, "-qmp"), ["unix:/s/vms/vm1/qmp.sock,server=on,wait=off"]);
    assert.deepEqual(after(argv, "-pidfile"), ["/s/vms/vm1/qemu.pid"]);
    assert.deepEqual(after(argv, "-serial"), ["file:/s/vms/vm1/serial.log"]);
    assert.deepEqual(after(argv, "-kernel"), ["/k/vmlinux"]);
    assert.match(after(argv, "-append")[0] ?? "", /vmnet\.hostname=vm1/);
    assert.ok(after(argv, "-chardev").some((c) => c.includes("path=/s/vms/vm1/qga.sock")));
    assert.ok(after(argv, "-netdev").some((n) => n.includes("ifname=tap0")));
    assert.ok(after(argv, "-device").some((d) => d.includes("mac=02:00:00:00:00:0a")));
    assert.deepEqual(postStart, []);
  });

  test("a NIC planned down gets its set_link before the guest runs", async () => {
    const { postStart } = await qemuCommand({
      name: "vm1",
      netns: "ns",
      paths,
      image,
      accel: Accel.Kvm,
      plan: plan(nic("default", { linkState: "down" })),
    });
    assert.deepEqual(postStart, [{ execute: "set_link", arguments: { name: "net-default", up: false } }]);
  });

  test("SR-IOV VFs and vDPA devices of the plan are passed through; vhost-user is refused (Cloud Hypervisor only)", async () => {
    const base = plan(nic("default"));
    const { argv } = await qemuCommand({
      name: "vm1",
      netns: "ns",
      paths,
      image,
      accel: Accel.Tcg,
      plan: {
        ...base,
        passthrough: [
          {
            kind: "sriov",
            name: "vf",
            network: "vf",
            podInterface: "net1",
            hostPciAddress: "0000:3b:10.4",
            alias: "ua-sriov-vf",
          },
          {
            kind: "vdpa",
            name: "acc",
            network: "acc",
            podInterface: "net2",
            path: "/dev/vhost-vdpa-0",
            numQueues: 0,
            iommu: false,
          },
        ],
      },
    });
    assert.ok(after(argv, "-device").some((d) => d.startsWith("vfio-pci,") && d.includes("host=0000:3b:10.4")));
    assert.ok(
      after(argv, "-netdev").some((n) => n.startsWith("vhost-vdpa,") && n.includes("vhostdev=/dev/vhost-vdpa-0")),
    );
    await assert.rejects(
      qemuCommand({
        name: "vm1",
        netns: "ns",
        paths,
        image,
        accel: Accel.Tcg,
        plan: {
          ...base,
          passthrough: [
            {
              kind: "vhostUser",
              name: "dpdk",
              network: "dpdk",
              podInterface: "net3",
              netType: "userspace",
              mac: "52:54:00:00:00:03",
              mtu: 1500,
              socket: "/s",
            },
          ],
        },
      }),
      /interface "dpdk" under QEMU: vhost-user/u,
    );
  });
});
