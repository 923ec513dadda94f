/**
 * `vmnet update` on a real guest under QEMU TCG, through the real CLI, with the specs of examples/vm-e2e/update in
 * order: a VM booted with its pod network's link down (`vmnet up` must return without a lease), its link set up by
 * `update` (the guest then leases), a bridge NIC on a Multus network hot-plugged (the guest sees the NIC and leases
 * the NAD's IP, status reports it, the pod has its bridge, tap and renamed NIC), hot-unplugged with `state: absent`
 * (the guest's NIC, the pod side and the Multus attachment go), plugged again (its link set down by `vmnet link`,
 * up by `update`), a change that needs a restart refused, an update that runs out of root ports rolled back, and
 * `down` leaving nothing. The lab lives in its own state
 * directory; `after` destroys it whatever happened and checks that no namespace or process is left.
 */
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { statePaths } from "../../src/vm/paths.ts";
import { ROOT, type Run } from "../cli/run.ts";

const STATE = mkdtempSync(join(tmpdir(), "vmnt-upd-"));
const NODE = statePaths(STATE).nodeName;
const VM = "e2e-upd";
const DIR = "examples/vm-e2e/update";
const NAD = ["--nad", `${DIR}/nad-upd.yaml`];
const SERIAL = join(STATE, "vms", VM, "serial.log");
/** KubeVirt's pod interface of network "blue" is `pod` + sha256("blue")[0:11]; bridge, tap and NIC share the hash. */
const BLUE_HASH = "16477688c0e";

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root to create network namespaces";
  if (spawnSync("qemu-system-x86_64", ["--version"]).status !== 0) return "qemu-system-x86_64 is missing";
  if (!existsSync("/usr/lib/cni/bridge")) return "the CNI plugins are missing";
  if (spawnSync("ldd", ["/usr/sbin/qemu-ga"]).status !== 0) return "qemu-guest-agent is missing";
  return undefined;
}

/** Runs `vmnet <args>` against this file's state directory and collects its output. */
function vmnet(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      `${ROOT}bin/vmnet`,
      args,
      { cwd: ROOT, encoding: "utf8", env: { ...process.env, VMNET_STATE_DIR: STATE }, timeout: 240_000 },
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

function serial(): string {
  try {
    return readFileSync(SERIAL, "latin1");
  } catch {
    return "";
  }
}

/** Waits until the guest's console, from character `from` on, matches `pattern`; returns the match. */
async function onConsole(pattern: RegExp, from: number, timeoutMs = 90_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = pattern.exec(serial().slice(from));
    if (m !== null) return m;
    if (Date.now() > deadline) {
      throw new Error(`No ${pattern} on the guest console within ${timeoutMs} ms: ${serial().slice(from)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

function namespacesOfLab(): string[] {
  return (spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout ?? "")
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter((n) => n.startsWith(NODE));
}

/** The link names of a namespace. */
function links(netns: string): string[] {
  const out = spawnSync("ip", ["-n", netns, "-json", "link", "show"], { encoding: "utf8" }).stdout;
  return (JSON.parse(out) as { ifname: string }[]).map((l) => l.ifname).sort();
}

/** The node's pod-side veths (the bridges CNI made stay when the last pod on them goes, as the bridge plugin does). */
function veths(netns: string): string[] {
  return links(netns).filter((l) => l.startsWith("veth"));
}

/** QEMU and DHCP agent processes started for this state directory (their argv names it). */
function processesOfLab(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    let cmd = "";
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
    } catch {
      continue; // gone meanwhile
    }
    if (cmd.includes(STATE) && !cmd.includes("update.test")) out.push(`${pid} ${cmd}`);
  }
  return out;
}

/** One status.interfaces entry as `vmnet status -o json` prints it. */
interface StatusInterface {
  readonly name?: string;
  readonly ipAddress?: string;
  readonly mac?: string;
  readonly interfaceName?: string;
  readonly podInterfaceName?: string;
  readonly infoSource?: string;
  readonly linkState?: string;
}

async function statusOf(): Promise<StatusInterface[]> {
  const out = JSON.parse(await ok("status", VM, "-o", "json")) as { status: { interfaces?: StatusInterface[] } };
  return out.status.interfaces ?? [];
}

function podNetns(): string {
  return (JSON.parse(readFileSync(join(STATE, "vms", VM, "vm.json"), "utf8")) as { netns: string }).netns;
}

function networkStatusNames(): string[] {
  const record = JSON.parse(readFileSync(join(STATE, "vms", VM, "vm.json"), "utf8")) as { networkStatus: string };
  return (JSON.parse(record.networkStatus) as { name: string }[]).map((e) => e.name);
}

const skip = skipReason();

describe("vmnet update on a running guest", { skip, timeout: 900_000 }, () => {
  /** The node's veths with the lab and no VM: what `down` must come back to. */
  let nodeLinks: string[] = [];

  before(async () => {
    await ok("lab", "create");
    nodeLinks = veths(NODE);
  });

  after(async () => {
    const r = await vmnet("lab", "destroy");
    rmSync(STATE, { recursive: true, force: true });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(namespacesOfLab(), [], "no namespace of the lab is left");
    assert.deepEqual(processesOfLab(), [], "no QEMU or agent process of the lab is left");
  });

  test("up with state: down returns without a lease; status says linkState down", async () => {
    const out = await ok("up", "-f", `${DIR}/1-link-down.yaml`, "--accel", "tcg");
    assert.match(out, /guest: ready/);
    assert.doesNotMatch(out, /guest: lease/);
    const [iface] = await statusOf();
    assert.equal(iface?.name, "default");
    assert.equal(iface?.linkState, "down");
    assert.doesNotMatch(serial(), /vmnet-guest: lease eth0 /);
  });

  test("update with state: up sets the link up and the guest leases", async () => {
    const from = serial().length;
    const out = await ok("update", "-f", `${DIR}/2-link-up.yaml`);
    assert.match(out, /^link: "default" up$/m);
    assert.match(out, /^VM "e2e-upd" updated \(1 change\)$/m);
    await onConsole(/vmnet-guest: lease eth0 10\.0\.2\.2/, from);
    assert.equal((await statusOf())[0]?.linkState, "up");
    assert.match(await ok("update", "-f", `${DIR}/2-link-up.yaml`), /^nothing to change$/m);
  });

  test("update hot-plugs a bridge NIC on a Multus network: the guest sees it and leases the NAD's IP", async () => {
    const from = serial().length;
    const out = await ok("update", "-f", `${DIR}/3-plug.yaml`, ...NAD);
    assert.match(out, new RegExp(`^pod: attached "default/upd" as "pod${BLUE_HASH}"$`, "m"));
    assert.match(out, /^plan applied: blue \(added\)$/m);
    assert.match(out, /^dhcp: serving default, blue$/m);
    assert.match(out, /^qemu: plugged "blue" \(virtio, [0-9a-f:]{17}\) into "pci\.\d+"$/m);
    const link = await onConsole(/vmnet-guest: link eth1 ([0-9a-f:]{17}) virtio_net/, from);
    const lease = await onConsole(/vmnet-guest: lease eth1 (10\.252\.0\.\d+)/, from);
    const blue = (await statusOf()).find((i) => i.name === "blue");
    assert.equal(blue?.mac, link[1]);
    assert.equal(blue?.ipAddress, lease[1]);
    assert.equal(blue?.interfaceName, "eth1");
    assert.equal(blue?.podInterfaceName, `pod${BLUE_HASH}`);
    assert.equal(blue?.linkState, "up");
    assert.equal(blue?.infoSource, "domain, guest-agent, multus-status");
    const pod = links(podNetns());
    for (const l of [`k6t-${BLUE_HASH}`, `tap${BLUE_HASH}`, `${BLUE_HASH}-nic`])
      assert.ok(pod.includes(l), `${l}: ${pod}`);
    assert.deepEqual(networkStatusNames(), ["vmnet-pod-network", "default/upd"]);
    // The pod network's NIC was not touched: the guest's eth0 still reaches its gateway.
    await ok("exec", VM, "--", "ping", "-c", "1", "-W", "5", "10.0.2.1");
  });

  test("update with state: absent unplugs it: guest NIC, pod side and Multus attachment go", async () => {
    const from = serial().length;
    const out = await ok("update", "-f", `${DIR}/4-unplug.yaml`, ...NAD);
    assert.match(out, /^qemu: unplugged "blue" \(guest released it\)$/m);
    assert.match(out, /^plan applied: blue \(removed\)$/m);
    assert.match(out, /^dhcp: serving default$/m);
    assert.match(out, /^pod: detached network "blue"$/m);
    await onConsole(/vmnet-guest: unplugged eth1/, from);
    assert.deepEqual(
      (await statusOf()).map((i) => i.name),
      ["default"],
    );
    assert.deepEqual(
      links(podNetns()).filter((l) => l.includes(BLUE_HASH)),
      [],
    );
    assert.deepEqual(networkStatusNames(), ["vmnet-pod-network"]);
    const guestLinks = await ok("exec", VM, "--", "ls", "/sys/class/net");
    assert.deepEqual(guestLinks.trim().split(/\s+/).sort(), ["eth0", "lo"]);
    assert.match(await ok("update", "-f", `${DIR}/4-unplug.yaml`, ...NAD), /^nothing to change$/m);
  });

  test("update plugs the unplugged interface again; vmnet link works on it and update sets it back up", async () => {
    const from = serial().length;
    await ok("update", "-f", `${DIR}/3-plug.yaml`, ...NAD);
    await onConsole(/vmnet-guest: lease eth1 10\.252\.0\.\d+/, from);
    assert.deepEqual(
      (await statusOf()).map((i) => i.name),
      ["default", "blue"],
    );
    await ok("link", VM, "blue", "down");
    assert.equal((await statusOf()).find((i) => i.name === "blue")?.linkState, "down");
    assert.match(await ok("update", "-f", `${DIR}/3-plug.yaml`, ...NAD), /^link: "blue" up$/m);
    assert.equal((await statusOf()).find((i) => i.name === "blue")?.linkState, "up");
  });

  test("a change that needs a restart is refused and changes nothing", async () => {
    const before = readFileSync(join(STATE, "vms", VM, "vm.json"), "utf8");
    const r = await vmnet("update", "-f", `${DIR}/restart-model.yaml`);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /^vmnet update: Cannot update VM "e2e-upd" while it runs: interface "default" model; interface "blue" removed \(set its state to absent to unplug it\) need a restart \(KubeVirt marks the VM RestartRequired\)/,
    );
    assert.equal(readFileSync(join(STATE, "vms", VM, "vm.json"), "utf8"), before);
  });

  test("an update that fails halfway is rolled back", async () => {
    const record = readFileSync(join(STATE, "vms", VM, "vm.json"), "utf8");
    const pod = links(podNetns());
    const r = await vmnet("update", "-f", `${DIR}/5-no-free-port.yaml`, ...NAD);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^qemu: plugged "red" /m);
    assert.match(
      r.stdout,
      /^failed: Cannot hot-plug interface "yellow": no free PCIe root port left .*; rolled back$/m,
    );
    assert.equal(readFileSync(join(STATE, "vms", VM, "vm.json"), "utf8"), record);
    assert.deepEqual(links(podNetns()), pod);
    assert.deepEqual(
      (await statusOf()).map((i) => i.name),
      ["default", "blue"],
    );
    const guestLinks = await ok("exec", VM, "--", "ls", "/sys/class/net");
    assert.deepEqual(guestLinks.trim().split(/\s+/).sort(), ["eth0", "eth1", "lo"]);
  });

  test("down with a hot-plugged NIC leaves nothing but the lab", async () => {
    const netns = podNetns();
    await ok("down", VM);
    assert.ok(!namespacesOfLab().includes(netns), `${netns} is gone`);
    assert.deepEqual(veths(NODE), nodeLinks, "the node has no veth of the pod's attachments left");
    assert.ok(!existsSync(join(STATE, "vms", VM)));
  });
});
