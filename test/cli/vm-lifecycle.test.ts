/**
 * `vmnet up` to `vmnet down` for real, one process per command as a user runs them: a lab in a private state
 * directory, a masquerade VM (ports 80 and 7) and a bridge VM on the pod network booted at once under QEMU TCG, reached
 * from the lab's client pod by pod IP, inspected through the guest agent and `status`, their link set down and up
 * while running, and removed again; then a `vmnet up` killed mid-boot, which `vmnet down` must clean up. `after`
 * destroys the lab whatever happened (shutting the shared DHCP/RA agent down), and checks that no namespace or
 * process is left.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { rootSnapshot, TestLab, vmTestSkipReason } from "../support/vm-lab.ts";
import { ROOT, type Run } from "./run.ts";

const lab = new TestLab("vmnt-vm-", { timeout: 200_000 });
const VMNET = `${ROOT}bin/vmnet`;

const skip = vmTestSkipReason();

describe("vmnet up/status/exec/link/down/list with real guests", { skip, timeout: 400_000 }, () => {
  const ups = new Map<string, Run>();
  const root = rootSnapshot();

  before(async () => {
    // Two `vmnet up` at once: both must work, and the lab (missing) is created once.
    const [masq, bridge] = await Promise.all([
      lab.vmnet("up", "-f", "examples/vm/masquerade.yaml", "--accel", "tcg"),
      lab.vmnet("up", "-f", "examples/vm/bridge.yaml", "--accel", "tcg"),
    ]);
    ups.set("vm-masq", masq);
    ups.set("vm-bridge", bridge);
  });

  after(() => lab.destroy({ root }));

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
    const page = await lab.ok("lab", "exec", "client", "--", "wget", "-qO-", `http://${podIP("vm-masq")}/`);
    assert.match(page, /^hostname vm-masq$/m);
    assert.match(page, /^address eth0 10\.0\.2\.2\/24$/m);
  });

  test("the client pod reaches the bridge VM, which holds the pod IP itself", async () => {
    const ip = podIP("vm-bridge");
    const page = await lab.ok("lab", "exec", "client", "--", "wget", "-qO-", `http://${ip}/`);
    assert.match(page, /^hostname vm-bridge$/m);
    assert.match(page, new RegExp(`^address eth0 ${ip.replaceAll(".", "\\.")}/24$`, "m"));
  });

  test("vmnet lab exec runs in a VM's pod too, returns the command's exit code, and refuses unknown pods", async () => {
    assert.match(await lab.ok("lab", "exec", "virt-launcher-vm-masq", "--", "ip", "-br", "link"), /^eth0@/m);
    assert.equal((await lab.vmnet("lab", "exec", "client", "--", "sh", "-c", "exit 4")).code, 4);
    const unknown = await lab.vmnet("lab", "exec", "nopod", "--", "true");
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stderr, 'vmnet lab exec: Cannot find pod "nopod" in the lab\n');
  });

  test("vmnet exec runs in the guest and returns its exit code", async () => {
    assert.match(await lab.ok("exec", "vm-masq", "--", "ip", "addr"), /inet 10\.0\.2\.2\/24/);
    const failing = await lab.vmnet("exec", "vm-masq", "--", "sh", "-c", "echo out; echo err >&2; exit 3");
    assert.deepEqual(failing, { code: 3, stdout: "out\n", stderr: "err\n" });
  });

  test("vmnet status -o json reports pod IP, MAC, guest interface and both info sources", async () => {
    const interfaces = await lab.status("vm-masq");
    const mac = /link\/ether (\S+)/.exec(await lab.ok("exec", "vm-masq", "--", "ip", "link", "show", "eth0"))?.[1];
    assert.deepEqual(interfaces, [
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
    assert.match(await lab.ok("status", "vm-bridge"), /^ {4}- ipAddress: 10\.244\.0\.\d+$/m);
  });

  test("vmnet link sets the carrier while the guest runs, and status shows it", async () => {
    await lab.ok("link", "vm-masq", "default", "down");
    assert.equal((await lab.ok("exec", "vm-masq", "--", "cat", "/sys/class/net/eth0/carrier")).trim(), "0");
    assert.equal((await lab.status("vm-masq"))[0]?.linkState, "down");
    await lab.ok("link", "vm-masq", "default", "up");
    assert.equal((await lab.ok("exec", "vm-masq", "--", "cat", "/sys/class/net/eth0/carrier")).trim(), "1");
    assert.equal((await lab.status("vm-masq"))[0]?.linkState, "up");
    const unknown = await lab.vmnet("link", "vm-masq", "nope", "down");
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /Cannot find interface "nope" on VM "vm-masq"/);
  });

  test("a second vmnet up of a running VM is refused and leaves it running", async () => {
    const again = await lab.vmnet("up", "-f", "examples/vm/masquerade.yaml", "--accel", "tcg");
    assert.equal(again.code, 1);
    assert.match(again.stderr, /VM "vm-masq" already exists \(phase Running\); run "vmnet down vm-masq" first/);
    assert.match(await lab.ok("exec", "vm-masq", "--", "hostname"), /^vm-masq$/m);
  });

  test("vmnet list shows both VMs running", async () => {
    const list = await lab.ok("list");
    assert.match(list, /^vm-bridge\s+Running\s+10\.244\.0\.\d+\s+tcg$/m);
    assert.match(list, /^vm-masq\s+Running\s+10\.244\.0\.\d+\s+tcg$/m);
  });

  test("vmnet down leaves no pod namespace, process or state, and a second down is fine", async () => {
    await Promise.all([lab.ok("down", "vm-masq"), lab.ok("down", "vm-bridge")]);
    assert.deepEqual(lab.namespaces().sort(), [lab.node, `${lab.node}-client`]);
    assert.deepEqual(lab.processes({ agent: false }), [], "no QEMU is left; the shared agent may run");
    assert.deepEqual(readdirSync(join(lab.state, "vms")), []);
    assert.match(await lab.ok("down", "vm-masq"), /not found, nothing to remove/);
    assert.equal((await lab.ok("list")).trim(), "NAME  PHASE  POD IPS  ACCEL");
  });

  test("vmnet down removes what a vmnet up killed mid-boot left", async () => {
    const child: ChildProcess = spawn(VMNET, ["up", "-f", "examples/vm/masquerade.yaml", "--accel", "tcg"], {
      cwd: ROOT,
      env: lab.env,
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
    assert.ok(lab.namespaces().includes(`${lab.node}-virt-launcher-vm-masq`), "the killed up left its pod");
    await lab.ok("down", "vm-masq");
    assert.deepEqual(lab.namespaces().sort(), [lab.node, `${lab.node}-client`]);
    assert.deepEqual(lab.processes({ agent: false }), [], "no QEMU is left; the shared agent may run");
    assert.deepEqual(readdirSync(join(lab.state, "vms")), []);
  });

  test("SIGTERM (as Ctrl-C) during vmnet up removes what it made and exits 130", async () => {
    const child = spawn(VMNET, ["up", "-f", "examples/vm/masquerade.yaml", "--accel", "tcg"], {
      cwd: ROOT,
      env: lab.env,
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
    assert.deepEqual(lab.namespaces().sort(), [lab.node, `${lab.node}-client`]);
    assert.deepEqual(lab.processes({ agent: false }), []);
    assert.deepEqual(readdirSync(join(lab.state, "vms")), []);
  });
});
