/**
 * macvtap with real guests, through the real CLI: two VMs, one with the core `macvtap` binding (Macvtap feature gate)
 * and a static MAC, one with the macvtap binding plugin registered with `domainAttachmentType: tap` (the seed's VM,
 * masquerade on the pod network beside it), both on one NAD whose device-plugin resource is the node link `ens4`.
 * `ens4` is a veth whose other end is in an "L2" namespace standing for the node's L2 network: a host at 192.0.2.1
 * running busybox udhcpd, which is what gives the guests' macvtap NICs their addresses (vmnet serves no DHCP on a
 * macvtap: the guest is on the node's L2). Both guests boot at once; they must lease, reach each other and the L2 host,
 * and `vmnet status` must report the macvtap's MAC. `after` removes the lab, the L2 namespace and udhcpd whatever
 * happened and checks nothing is left.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { addNodeLink, nodeHandle } from "../../src/lab/node.ts";
import { hashedPodInterfaceName } from "../../src/plan/namescheme.ts";
import { ROOT, type Run } from "../cli/run.ts";
import { TestLab, vmTestSkipReason } from "../support/vm-lab.ts";

/** The device plugin's configuration: two macvtaps on the node link ens4. */
const DP_MACVTAP_CONF = '[{"name":"dataplane","lowerDevice":"ens4","mode":"bridge","capacity":2}]';
const lab = new TestLab("vmnt-e2e-mvt-", { timeout: 300_000, env: { DP_MACVTAP_CONF } });
const L2 = `vmnt-l2-${randomBytes(4).toString("hex")}`;
const L2_HOST = "192.0.2.1";
const DIR = "examples/vm-e2e/macvtap";
const POD_IFACE = hashedPodInterfaceName("hostnetwork").value;
const CORE_MAC = "02:00:00:5e:00:0a";

const VMS = [
  {
    name: "e2e-mvt-core",
    file: "vm-core.yaml",
    config: "examples/kubevirt/kubevirt-cr-legacy-bindings.yaml",
    nic: "eth0",
  },
  {
    name: "e2e-mvt-plugin",
    file: "vm-plugin.yaml",
    config: "examples/kubevirt/kubevirt-cr-macvtap-binding.yaml",
    nic: "eth1",
  },
] as const;

function ip(...args: string[]): string {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** The guest's DHCPv4 address on `nic`, waiting for udhcpc to lease it from the L2 host's udhcpd. */
async function leaseOf(name: string, nic: string): Promise<string> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const r = await lab.vmnet("exec", name, "--", "sh", "-c", `cat /run/vmnet/${nic}.dhcp4 2>/dev/null || true`);
    const m = /^ip=(\S+)$/m.exec(r.stdout);
    if (m?.[1] !== undefined) return m[1];
    if (Date.now() > deadline) assert.fail(`${name} got no lease on ${nic}: ${r.stdout}${r.stderr}`);
    await new Promise((res) => setTimeout(res, 2000));
  }
}

const skip = vmTestSkipReason(() =>
  spawnSync("busybox", ["udhcpd", "--help"]).error !== undefined ? "busybox (udhcpd) is missing" : undefined,
);

describe("macvtap with real guests on the node's L2", { skip, timeout: 900_000 }, () => {
  const ups = new Map<string, Run>();
  const leases = new Map<string, string>();
  let udhcpd: ChildProcess | undefined;
  const rootLinks = skip === undefined ? ip("-json", "link", "show") : "";

  before(async () => {
    await lab.ok("lab", "create");
    // The node's L2: the lower device ens4 in the node, its other end in L2 with a host address and a DHCP server.
    ip("netns", "add", L2);
    await addNodeLink(nodeHandle({ name: lab.node }), "ens4", { peer: "l2port", peerNetns: L2 });
    ip("-n", L2, "address", "add", `${L2_HOST}/24`, "dev", "l2port");
    const conf = join(lab.state, "udhcpd.conf");
    writeFileSync(
      conf,
      [
        "start 192.0.2.100",
        "end 192.0.2.150",
        "interface l2port",
        `lease_file ${join(lab.state, "udhcpd.leases")}`,
        `pidfile ${join(lab.state, "udhcpd.pid")}`,
        "option subnet 255.255.255.0",
        "option lease 3600",
        "",
      ].join("\n"),
    );
    writeFileSync(join(lab.state, "udhcpd.leases"), "");
    udhcpd = spawn("ip", ["netns", "exec", L2, "busybox", "udhcpd", "-f", conf], { stdio: "ignore" });
    await Promise.all(
      VMS.map(async (vm) => {
        ups.set(
          vm.name,
          await lab.vmnet(
            "up",
            "-f",
            `${DIR}/${vm.file}`,
            "--nad",
            `${DIR}/nad-macvtap.yaml`,
            "--kubevirt-config",
            vm.config,
            "--accel",
            "tcg",
          ),
        );
      }),
    );
  });

  after(async () => {
    await lab.destroy({
      cleanup: async () => {
        if (udhcpd?.pid !== undefined && udhcpd.exitCode === null) {
          udhcpd.kill("SIGTERM");
          await new Promise((res) => udhcpd?.once("exit", res));
        }
        spawnSync("ip", ["netns", "del", L2]);
      },
    });
    const l2 = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout ?? "";
    assert.ok(!l2.split("\n").some((l) => l.split(" ")[0] === L2), "the L2 namespace is gone");
    assert.equal(ip("-json", "link", "show"), rootLinks, "the root namespace's links are unchanged");
  });

  const up = (name: string): void => {
    const r = ups.get(name);
    assert.equal(r?.code, 0, `vmnet up ${name}: ${r?.stdout}${r?.stderr}`);
  };

  const lease = async (name: string): Promise<string> => {
    up(name);
    const vm = VMS.find((v) => v.name === name);
    assert.ok(vm !== undefined);
    const cached = leases.get(name);
    if (cached !== undefined) return cached;
    const got = await leaseOf(name, vm.nic);
    leases.set(name, got);
    return got;
  };

  test("both VMs boot concurrently with their macvtap NICs", () => {
    for (const vm of VMS) {
      up(vm.name);
      assert.match(ups.get(vm.name)?.stdout ?? "", /^guest: ready$/m, vm.name);
    }
  });

  test("the pods hold macvtaps on ens4 in bridge mode under the Multus name, and QEMU uses their tap fds", () => {
    for (const vm of VMS) {
      up(vm.name);
      const netns = `${lab.node}-virt-launcher-${vm.name}`;
      const [link] = JSON.parse(ip("-n", netns, "-json", "-details", "link", "show", "dev", POD_IFACE)) as {
        linkinfo: { info_kind: string; info_data: { mode: string } };
      }[];
      assert.equal(link?.linkinfo.info_kind, "macvtap", vm.name);
      assert.equal(link?.linkinfo.info_data.mode, "bridge", vm.name);
      const pid = readFileSync(join(lab.state, "vms", vm.name, "qemu.pid"), "utf8").trim();
      const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      assert.ok(
        argv.some((a) => /^tap,.*fd=\d+/.test(a)),
        `${vm.name}: QEMU has a tap netdev on an inherited fd: ${argv.join(" ")}`,
      );
    }
  });

  test("each guest leases an address from the DHCP server on the node's L2", async () => {
    for (const vm of VMS) {
      const address = await lease(vm.name);
      assert.match(address, /^192\.0\.2\.(1[0-4]\d|150)$/, vm.name);
    }
  });

  test("the guests reach each other over the lower device, and the L2 host reaches both", async () => {
    const core = await lease("e2e-mvt-core");
    const plugin = await lease("e2e-mvt-plugin");
    await lab.guest("e2e-mvt-core", `ping -c 2 -W 5 ${plugin}`);
    await lab.guest("e2e-mvt-plugin", `ping -c 2 -W 5 ${core}`);
    for (const address of [core, plugin]) {
      const r = spawnSync("ip", ["netns", "exec", L2, "busybox", "ping", "-c", "2", "-W", "5", address], {
        encoding: "utf8",
      });
      assert.equal(r.status, 0, `the L2 host pings ${address}: ${r.stdout}${r.stderr}`);
    }
  });

  test("each guest reaches the host on the node's L2", async () => {
    for (const vm of VMS) {
      await lease(vm.name);
      await lab.guest(vm.name, `ping -c 2 -W 5 ${L2_HOST}`);
    }
  });

  test("a third VM is refused while both devices of the resource are taken, and leaves nothing behind", async () => {
    for (const vm of VMS) up(vm.name);
    const file = join(lab.state, "vm-third.yaml");
    writeFileSync(
      file,
      readFileSync(join(ROOT, DIR, "vm-core.yaml"), "utf8")
        .replace("name: e2e-mvt-core", "name: e2e-mvt-third")
        .replace(CORE_MAC, "02:00:00:5e:00:0b"),
    );
    const r = await lab.vmnet(
      "up",
      "-f",
      file,
      "--nad",
      `${DIR}/nad-macvtap.yaml`,
      "--kubevirt-config",
      "examples/kubevirt/kubevirt-cr-legacy-bindings.yaml",
      "--accel",
      "tcg",
    );
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(
      r.stdout + r.stderr,
      /Cannot allocate resource "macvtap\.network\.kubevirt\.io\/dataplane": all 2 devices are in use/,
    );
    assert.ok(!lab.namespaces().includes(`${lab.node}-virt-launcher-e2e-mvt-third`), "the refused VM's pod is removed");
    assert.doesNotMatch(await lab.ok("list"), /e2e-mvt-third/);
  });

  test("status reports the macvtap MAC: the static one for core, the macvtap CNI's for the plugin", async () => {
    for (const vm of VMS) {
      up(vm.name);
      const netns = `${lab.node}-virt-launcher-${vm.name}`;
      const [link] = JSON.parse(ip("-n", netns, "-json", "link", "show", "dev", POD_IFACE)) as { address: string }[];
      const guestMac = (await lab.guest(vm.name, `cat /sys/class/net/${vm.nic}/address`)).trim();
      if (vm.name === "e2e-mvt-core") assert.equal(guestMac, CORE_MAC);
      assert.equal(guestMac, link?.address, `${vm.name}: the guest NIC has the macvtap's MAC`);
      const entry = (await lab.status(vm.name)).find((i) => i.name === "hostnetwork");
      assert.equal(entry?.mac, guestMac, `${vm.name}: ${JSON.stringify(entry)}`);
      assert.equal(entry?.podInterfaceName, POD_IFACE);
      assert.equal(entry?.interfaceName, vm.nic);
    }
  });
});
