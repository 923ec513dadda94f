/**
 * `vmnet up` to `vmnet down` for real, one process per command as a user runs them: a lab in a private state
 * directory, a masquerade VM (ports 80 and 7) and a bridge VM on the pod network booted at once under QEMU TCG, reached
 * from the lab's client pod by pod IP, inspected through the guest agent and `status`, their link set down and up
 * while running, and removed again; then a `vmnet up` killed mid-boot, which `vmnet down` must clean up. `after`
 * destroys the lab whatever happened (shutting the shared DHCP/RA agent down), and checks that no namespace or
 * process is left.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { statePaths } from "../../src/vm/paths.ts";
import { ROOT, type Run } from "./run.ts";

const STATE = mkdtempSync(join(tmpdir(), "vmnt-vm-"));
const NODE = statePaths(STATE).nodeName;
const VMNET = `${ROOT}bin/vmnet`;

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root to create network namespaces";
  if (spawnSync("qemu-system-x86_64", ["--version"]).status !== 0) return "qemu-system-x86_64 is missing";
  if (!existsSync("/usr/lib/cni/bridge")) return "the CNI plugins are missing";
  if (spawnSync("ldd", ["/usr/sbin/qemu-ga"]).status !== 0) return "qemu-guest-agent is missing";
  return undefined;
}

/** Runs `vmnet <args> --state-dir STATE`-style (through VMNET_STATE_DIR) and collects its output. */
function vmnet(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      VMNET,
      args,
      { cwd: ROOT, encoding: "utf8", env: { ...process.env, VMNET_STATE_DIR: STATE }, timeout: 200_000 },
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

function namespacesOfLab(): string[] {
  return (spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout ?? "")
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter((n) => n.startsWith(NODE));
}

/** QEMU and DHCP agent processes started for this state directory (their argv names it). */
function processesOfLab(options: { readonly agent: boolean } = { agent: true }): string[] {
  const out: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    const r = spawnSync("cat", [`/proc/${pid}/cmdline`], { encoding: "utf8" });
    const cmd = (r.stdout ?? "").replaceAll("\0", " ");
    if (!cmd.includes(STATE) || cmd.includes("vm-lifecycle.test")) continue;
    if (options.agent || !cmd.includes(" agent run ")) out.push(`${pid} ${cmd}`);
  }
  return out;
}

/** The root namespace's links and ruleset, which no vmnet command may change. */
function rootSnapshot(): unknown {
  const links = JSON.parse(spawnSync("ip", ["-json", "link", "show"], { encoding: "utf8" }).stdout) as {
    ifindex: number;
    ifname: string;
    address?: string;
    mtu: number;
  }[];
  return {
    links: links.map((l) => `${l.ifindex} ${l.ifname} ${l.address ?? ""} ${l.mtu}`).sort(),
    nft: spawnSync("nft", ["-j", "list", "ruleset"], { encoding: "utf8" }).stdout,
  };
}

interface Status {
  status: { interfaces: Record<string, unknown>[] };
}

const skip = skipReason();

describe("vmnet up/status/exec/link/down/list with real guests", { skip, timeout: 400_000 }, () => {
  const ups = new Map<string, Run>();
  const root = rootSnapshot();

  before(async () => {
    // Two `vmnet up` at once: both must work, and the lab (missing) is created once.
    const [masq, bridge] = await Promise.all([
      vmnet("up", "-f", "examples/vm/masquerade.yaml", "--accel", "tcg"),
      vmnet("up", "-f", "examples/vm/bridge.yaml", "--accel", "tcg"),
    ]);
    ups.set("vm-masq", masq);
    ups.set("vm-bridge", bridge);
  });

  after(async () => {
    const r = await vmnet("lab", "destroy");
    rmSync(STATE, { recursive: true, force: true });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(namespacesOfLab(), [], "no namespace of the lab is left");
    assert.deepEqual(processesOfLab(), [], "no QEMU or agent process of the lab is left");
    assert.deepEqual(rootSnapshot(), root, "the root namespace's links and ruleset are unchanged");
  });

  const podIP = (name: string): string => {
    const m = /is running in pod "[^"]+" \(([^,)]+)/.exec(ups.get(name)?.stdout ?? "");
    assert.ok(m?.[1] !== undefined, `vmnet up ${name} names the pod IP: ${ups.get(name)?.stdout}`);
    return m[1];
  };

  test("vmnet up shows each step and how to reach the VM", () => {
    for (const [name, r] of ups) {
      assert.equal(r.code, 0, `${name}: ${r.stdout}${r.stderr}`);
      for (const step of [
        "admitted:",
        "lab:",
        "pod:",
        "plan applied:",
        "qemu: started",
        "dhcp: serving",
        "guest: ready",
      ]) {
        assert.match(r.stdout, new RegExp(`^${step}`, "m"), `${name} reports "${step}"`);
      }
      assert.match(r.stdout, /lab exec client -- wget -qO- http:\/\/10\.244\.0\.\d+\//);
    }
    const created = [...ups.values()].filter((r) => /^lab: created/m.test(r.stdout));
    assert.equal(created.length, 1, "exactly one of the two ups created the lab");
  });

  test("the client pod reaches the masquerade VM's port 80 by pod IP", async () => {
    const page = await ok("lab", "exec", "client", "--", "wget", "-qO-", `http://${podIP("vm-masq")}/`);
    assert.match(page, /^hostname vm-masq$/m);
    assert.match(page, /^address eth0 10\.0\.2\.2\/24$/m);
  });

  test("the client pod reaches the bridge VM, which holds the pod IP itself", async () => {
    const ip = podIP("vm-bridge");
    const page = await ok("lab", "exec", "client", "--", "wget", "-qO-", `http://${ip}/`);
    assert.match(page, /^hostname vm-bridge$/m);
    assert.match(page, new RegExp(`^address eth0 ${ip.replaceAll(".", "\\.")}/24$`, "m"));
  });

  test("vmnet lab exec runs in a VM's pod too, returns the command's exit code, and refuses unknown pods", async () => {
    assert.match(await ok("lab", "exec", "virt-launcher-vm-masq", "--", "ip", "-br", "link"), /^eth0@/m);
    assert.equal((await vmnet("lab", "exec", "client", "--", "sh", "-c", "exit 4")).code, 4);
    const unknown = await vmnet("lab", "exec", "nopod", "--", "true");
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stderr, 'vmnet lab exec: Cannot find pod "nopod" in the lab\n');
  });

  test("vmnet exec runs in the guest and returns its exit code", async () => {
    assert.match(await ok("exec", "vm-masq", "--", "ip", "addr"), /inet 10\.0\.2\.2\/24/);
    const failing = await vmnet("exec", "vm-masq", "--", "sh", "-c", "echo out; echo err >&2; exit 3");
    assert.deepEqual(failing, { code: 3, stdout: "out\n", stderr: "err\n" });
  });

  test("vmnet status -o json reports pod IP, MAC, guest interface and both info sources", async () => {
    const status = JSON.parse(await ok("status", "vm-masq", "-o", "json")) as Status;
    const mac = /link\/ether (\S+)/.exec(await ok("exec", "vm-masq", "--", "ip", "link", "show", "eth0"))?.[1];
    assert.deepEqual(status.status.interfaces, [
      {
        ipAddress: podIP("vm-masq"),
        mac,
        name: "default",
        ipAddresses: [podIP("vm-masq")],
        podInterfaceName: "eth0",
        interfaceName: "eth0",
        infoSource: "domain, guest-agent",
        queueCount: 1,
        linkState: "up",
      },
    ]);
    assert.match(await ok("status", "vm-bridge"), /^ {4}- ipAddress: 10\.244\.0\.\d+$/m);
  });

  test("vmnet link sets the carrier while the guest runs, and status shows it", async () => {
    await ok("link", "vm-masq", "default", "down");
    assert.equal((await ok("exec", "vm-masq", "--", "cat", "/sys/class/net/eth0/carrier")).trim(), "0");
    let status = JSON.parse(await ok("status", "vm-masq", "-o", "json")) as Status;
    assert.equal(status.status.interfaces[0]?.linkState, "down");
    await ok("link", "vm-masq", "default", "up");
    assert.equal((await ok("exec", "vm-masq", "--", "cat", "/sys/class/net/eth0/carrier")).trim(), "1");
    status = JSON.parse(await ok("status", "vm-masq", "-o", "json")) as Status;
    assert.equal(status.status.interfaces[0]?.linkState, "up");
    const unknown = await vmnet("link", "vm-masq", "nope", "down");
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /Cannot find interface "nope" on VM "vm-masq"/);
  });

  test("a second vmnet up of a running VM is refused and leaves it running", async () => {
    const again = await vmnet("up", "-f", "examples/vm/masquerade.yaml", "--accel", "tcg");
    assert.equal(again.code, 1);
    assert.match(again.stderr, /VM "vm-masq" already exists \(phase Running\); run "vmnet down vm-masq" first/);
    assert.match(await ok("exec", "vm-masq", "--", "hostname"), /^vm-masq$/m);
  });

  test("vmnet list shows both VMs running", async () => {
    const list = await ok("list");
    assert.match(list, /^vm-bridge\s+Running\s+10\.244\.0\.\d+\s+tcg$/m);
    assert.match(list, /^vm-masq\s+Running\s+10\.244\.0\.\d+\s+tcg$/m);
  });

  test("vmnet down leaves no pod namespace, process or state, and a second down is fine", async () => {
    await Promise.all([ok("down", "vm-masq"), ok("down", "vm-bridge")]);
    assert.deepEqual(namespacesOfLab().sort(), [NODE, `${NODE}-client`]);
    assert.deepEqual(processesOfLab({ agent: false }), [], "no QEMU is left; the shared agent may run");
    assert.deepEqual(readdirSync(join(STATE, "vms")), []);
    assert.match(await ok("down", "vm-masq"), /not found, nothing to remove/);
    assert.equal((await ok("list")).trim(), "NAME  PHASE  POD IPS  ACCEL");
  });

  test("vmnet down removes what a vmnet up killed mid-boot left", async () => {
    const child: ChildProcess = spawn(VMNET, ["up", "-f", "examples/vm/masquerade.yaml", "--accel", "tcg"], {
      cwd: ROOT,
      env: { ...process.env, VMNET_STATE_DIR: STATE },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "qemu: started" line: ${out}`)), 120_000);
      child.stdout?.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("qemu: started")) {
          clearTimeout(timer);
          // SIGKILL: the up gets no chance to clean anything.
          child.kill("SIGKILL");
          resolve();
        }
      });
      child.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
    });
    await new Promise((r) =>
      child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once("exit", r),
    );
    assert.ok(namespacesOfLab().includes(`${NODE}-virt-launcher-vm-masq`), "the killed up left its pod");
    await ok("down", "vm-masq");
    assert.deepEqual(namespacesOfLab().sort(), [NODE, `${NODE}-client`]);
    assert.deepEqual(processesOfLab({ agent: false }), [], "no QEMU is left; the shared agent may run");
    assert.deepEqual(readdirSync(join(STATE, "vms")), []);
  });

  test("SIGTERM (as Ctrl-C) during vmnet up removes what it made and exits 130", async () => {
    const child = spawn(VMNET, ["up", "-f", "examples/vm/masquerade.yaml", "--accel", "tcg"], {
      cwd: ROOT,
      env: { ...process.env, VMNET_STATE_DIR: STATE },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    let sent = false;
    child.stderr?.on("data", (d: Buffer) => {
      err += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => {
      child.stdout?.on("data", (d: Buffer) => {
        out += d.toString();
        if (/^pod: /m.test(out) && child.signalCode === null && !sent) {
          sent = true;
          child.kill("SIGTERM");
        }
      });
      child.once("exit", (c) => resolve(c));
    });
    assert.equal(code, 130, `${out}${err}`);
    assert.match(err, /interrupted; what was made is removed/);
    assert.deepEqual(namespacesOfLab().sort(), [NODE, `${NODE}-client`]);
    assert.deepEqual(processesOfLab({ agent: false }), []);
    assert.deepEqual(readdirSync(join(STATE, "vms")), []);
  });
});
