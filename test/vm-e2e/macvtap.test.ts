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
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { addNodeLink, nodeHandle } from "../../src/lab/node.ts";
import { hashedPodInterfaceName } from "../../src/plan/namescheme.ts";
import { statePaths } from "../../src/vm/paths.ts";
import { ROOT, type Run } from "../cli/run.ts";

const STATE = mkdtempSync(join(tmpdir(), "vmnt-e2e-mvt-"));
const NODE = statePaths(STATE).nodeName;
const L2 = `vmnt-l2-${randomBytes(4).toString("hex")}`;
const L2_HOST = "192.0.2.1";
const DP_MACVTAP_CONF = '[{"name":"dataplane","lowerDevice":"ens4","mode":"bridge","capacity":2}]';
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

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root to create network namespaces";
  if (spawnSync("qemu-system-x86_64", ["--version"]).status !== 0) return "qemu-system-x86_64 is missing";
  if (!existsSync("/usr/lib/cni/bridge")) return "the CNI plugins are missing";
  if (spawnSync("busybox", ["udhcpd", "--help"]).error !== undefined) return "busybox (udhcpd) is missing";
  if (spawnSync("ldd", ["/usr/sbin/qemu-ga"]).status !== 0) return "qemu-guest-agent is missing";
  return undefined;
}

/** Runs `vmnet <args>` against this file's state directory, the device plugin configured, and collects its output. */
function vmnet(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      `${ROOT}bin/vmnet`,
      args,
      {
        cwd: ROOT,
        encoding: "utf8",
        env: { ...process.env, VMNET_STATE_DIR: STATE, DP_MACVTAP_CONF },
        timeout: 300_000,
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function ok(...args: string[]): Promise<string> {
  const r = await vmnet(...args);
  assert.equal(r.code, 0, `vmnet ${args.join(" ")} exits 0: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

function guest(name: string, script: string): Promise<string> {
  return ok("exec", name, "--", "sh", "-c", script);
}

function ip(...args: string[]): string {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

function namespaces(): string[] {
  return (spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout ?? "")
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter((n) => n.startsWith(NODE) || n === L2);
}

function processesOfLab(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    let cmd = "";
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
    } catch {
      continue;
    }
    if (cmd.includes(STATE) && !cmd.includes("macvtap.test")) out.push(`${pid} ${cmd}`);
  }
  return out;
}

interface StatusInterface {
  readonly name?: string;
  readonly ipAddress?: string;
  readonly ipAddresses?: string[];
  readonly mac?: string;
  readonly interfaceName?: string;
  readonly podInterfaceName?: string;
  readonly infoSource?: string;
}

async function statusOf(name: string): Promise<StatusInterface[]> {
  const out = JSON.parse(await ok("status", name, "-o", "json")) as { status: { interfaces?: StatusInterface[] } };
  return out.status.interfaces ?? [];
}

/** The guest's DHCPv4 address on `nic`, waiting for udhcpc to lease it from the L2 host's udhcpd. */
async function leaseOf(name: string, nic: string): Promise<string> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const r = await vmnet("exec", name, "--", "sh", "-c", `cat /run/vmnet/${nic}.dhcp4 2>/dev/null || true`);
    const m = /^ip=(\S+)$/m.exec(r.stdout);
    if (m?.[1] !== undefined) return m[1];
    if (Date.now() > deadline) assert.fail(`${name} got no lease on ${nic}: ${r.stdout}${r.stderr}`);
    await new Promise((res) => setTimeout(res, 2000));
  }
}

const skip = skipReason();

describe("macvtap with real guests on the node's L2", { skip, timeout: 900_000 }, () => {
  const ups = new Map<string, Run>();
  const leases = new Map<string, string>();
  let udhcpd: ChildProcess | undefined;
  const rootLinks = skip === undefined ? ip("-json", "link", "show") : "";

  before(async () => {
    await ok("lab", "create");
    // The node's L2: the lower device ens4 in the node, its other end in L2 with a host address and a DHCP server.
    ip("netns", "add", L2);
    await addNodeLink(nodeHandle({ name: NODE }), "ens4", { peer: "l2port", peerNetns: L2 });
    ip("-n", L2, "address", "add", `${L2_HOST}/24`, "dev", "l2port");
    const conf = join(STATE, "udhcpd.conf");
    writeFileSync(
      conf,
      [
        "start 192.0.2.100",
        "end 192.0.2.150",
        "interface l2port",
        `lease_file ${join(STATE, "udhcpd.leases")}`,
        `pidfile ${join(STATE, "udhcpd.pid")}`,
        "option subnet 255.255.255.0",
        "option lease 3600",
        "",
      ].join("\n"),
    );
    writeFileSync(join(STATE, "udhcpd.leases"), "");
    udhcpd = spawn("ip", ["netns", "exec", L2, "busybox", "udhcpd", "-f", conf], { stdio: "ignore" });
    await Promise.all(
      VMS.map(async (vm) => {
        ups.set(
          vm.name,
          await vmnet(
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
    const r = await vmnet("lab", "destroy");
    if (udhcpd?.pid !== undefined && udhcpd.exitCode === null) {
      udhcpd.kill("SIGTERM");
      await new Promise((res) => udhcpd?.once("exit", res));
    }
    spawnSync("ip", ["netns", "del", L2]);
    rmSync(STATE, { recursive: true, force: true });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(namespaces(), [], "no namespace of the lab or the L2 is left");
    assert.deepEqual(processesOfLab(), [], "no QEMU, agent or udhcpd process of the lab is left");
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
      const netns = `${NODE}-virt-launcher-${vm.name}`;
      const [link] = JSON.parse(ip("-n", netns, "-json", "-details", "link", "show", "dev", POD_IFACE)) as {
        linkinfo: { info_kind: string; info_data: { mode: string } };
      }[];
      assert.equal(link?.linkinfo.info_kind, "macvtap", vm.name);
      assert.equal(link?.linkinfo.info_data.mode, "bridge", vm.name);
      const pid = readFileSync(join(STATE, "vms", vm.name, "qemu.pid"), "utf8").trim();
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
    await guest("e2e-mvt-core", `ping -c 2 -W 5 ${plugin}`);
    await guest("e2e-mvt-plugin", `ping -c 2 -W 5 ${core}`);
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
      await guest(vm.name, `ping -c 2 -W 5 ${L2_HOST}`);
    }
  });

  test("a third VM is refused while both devices of the resource are taken, and leaves nothing behind", async () => {
    for (const vm of VMS) up(vm.name);
    const file = join(STATE, "vm-third.yaml");
    writeFileSync(
      file,
      readFileSync(join(ROOT, DIR, "vm-core.yaml"), "utf8")
        .replace("name: e2e-mvt-core", "name: e2e-mvt-third")
        .replace(CORE_MAC, "02:00:00:5e:00:0b"),
    );
    const r = await vmnet(
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
    assert.ok(!namespaces().includes(`${NODE}-virt-launcher-e2e-mvt-third`), "the refused VM's pod is removed");
    assert.doesNotMatch(await ok("list"), /e2e-mvt-third/);
  });

  test("status reports the macvtap MAC: the static one for core, the macvtap CNI's for the plugin", async () => {
    for (const vm of VMS) {
      up(vm.name);
      const netns = `${NODE}-virt-launcher-${vm.name}`;
      const [link] = JSON.parse(ip("-n", netns, "-json", "link", "show", "dev", POD_IFACE)) as { address: string }[];
      const guestMac = (await guest(vm.name, `cat /sys/class/net/${vm.nic}/address`)).trim();
      if (vm.name === "e2e-mvt-core") assert.equal(guestMac, CORE_MAC);
      assert.equal(guestMac, link?.address, `${vm.name}: the guest NIC has the macvtap's MAC`);
      const entry = (await statusOf(vm.name)).find((i) => i.name === "hostnetwork");
      assert.equal(entry?.mac, guestMac, `${vm.name}: ${JSON.stringify(entry)}`);
      assert.equal(entry?.podInterfaceName, POD_IFACE);
      assert.equal(entry?.interfaceName, vm.nic);
    }
  });
});
