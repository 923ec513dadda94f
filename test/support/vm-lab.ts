/**
 * The harness of the tests that boot real guests through bin/vmnet: a lab in a private state directory (so the VM
 * test files can run side by side), the commands run against it, and the checks that it leaves nothing behind.
 */
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { statePaths } from "../../src/vm/paths.ts";
import { ROOT, type Run } from "../cli/run.ts";

/** A check of something a test file needs: why it is missing, or undefined. */
export type Requirement = () => string | undefined;

/** Why real-guest tests cannot run on this machine, or undefined; `extra` are a file's own requirements. */
export function vmTestSkipReason(...extra: readonly Requirement[]): string | undefined {
  if (process.getuid?.() !== 0) return "needs root to create network namespaces";
  if (spawnSync("qemu-system-x86_64", ["--version"]).status !== 0) return "qemu-system-x86_64 is missing";
  if (!existsSync("/usr/lib/cni/bridge")) return "the CNI plugins are missing";
  if (spawnSync("ldd", ["/usr/sbin/qemu-ga"]).status !== 0) return "qemu-guest-agent is missing";
  for (const check of extra) {
    const reason = check();
    if (reason !== undefined) return reason;
  }
  return undefined;
}

/** The root namespace's links and ruleset, which no vmnet command may change. */
export function rootSnapshot(): unknown {
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

/** The pod IPs a `vmnet up` printed; asserts that it succeeded. */
export function podIPsOf(up: Run | undefined): string[] {
  assert.equal(up?.code, 0, `${up?.stdout}${up?.stderr}`);
  const m = /is running in pod "[^"]+" \(([^)]+)\)/.exec(up?.stdout ?? "");
  return (m?.[1] ?? "").split(", ");
}

/** One status.interfaces entry as `vmnet status -o json` prints it. */
export interface StatusInterface {
  readonly name?: string;
  readonly ipAddress?: string;
  readonly ipAddresses?: string[];
  readonly mac?: string;
  readonly interfaceName?: string;
  readonly podInterfaceName?: string;
  readonly infoSource?: string;
  readonly queueCount?: number;
  readonly linkState?: string;
}

/** How a TestLab runs vmnet. */
export interface TestLabOptions {
  /** How long one vmnet command may take, in ms: TCG boots are slow. */
  readonly timeout?: number;
  /** More environment for every command (a device plugin's configuration, say). */
  readonly env?: Readonly<Record<string, string>>;
  /** Name the state directory with `--state-dir` instead of VMNET_STATE_DIR, so that the flag is covered too. */
  readonly stateFlag?: boolean;
}

/** Which processes count as the lab's. */
export interface ProcessFilter {
  /** Further strings whose presence in an argv makes the process the lab's (a helper's run directory). */
  readonly also?: readonly string[];
  /** False leaves the shared DHCP/RA agent out, which outlives the VMs until the lab goes. */
  readonly agent?: boolean;
}

/** What `destroy` checks besides the lab's namespaces. */
export interface DestroyChecks extends ProcessFilter {
  /** Runs after `vmnet lab destroy` and before the checks, for what a file made beside the lab. */
  readonly cleanup?: () => unknown;
  /** False skips the process check (the file never checked it). */
  readonly processes?: boolean;
  /** A rootSnapshot() from before the lab, which must still hold. */
  readonly root?: unknown;
}

/** A vmnet lab in its own state directory, and the vmnet commands run against it. */
export class TestLab {
  /** The private state directory. */
  readonly state: string;
  /** The lab's node namespace, which every namespace of the lab starts with. */
  readonly node: string;
  /** The environment vmnet runs with. */
  readonly env: NodeJS.ProcessEnv;
  readonly #timeout: number;
  readonly #stateFlag: boolean;

  /** Makes the state directory `<tmp>/<prefix>XXXXXX`; the lab itself comes with the first command that needs it. */
  constructor(prefix: string, options: TestLabOptions = {}) {
    this.state = mkdtempSync(join(tmpdir(), prefix));
    this.node = statePaths(this.state).nodeName;
    this.#timeout = options.timeout ?? 240_000;
    this.#stateFlag = options.stateFlag ?? false;
    this.env = this.#stateFlag
      ? { ...process.env, ...options.env }
      : { ...process.env, VMNET_STATE_DIR: this.state, ...options.env };
  }

  /** Runs `vmnet <args>` against this lab and collects its output; never rejects. */
  vmnet(...args: string[]): Promise<Run> {
    // The flag goes right after the (sub)command: what follows "--" belongs to the pod's command.
    const at = args[0] === "lab" ? 2 : 1;
    const argv = this.#stateFlag ? [...args.slice(0, at), "--state-dir", this.state, ...args.slice(at)] : args;
    return new Promise((resolve) => {
      execFile(
        `${ROOT}bin/vmnet`,
        argv,
        { cwd: ROOT, encoding: "utf8", env: this.env, timeout: this.#timeout },
        (error, stdout, stderr) => {
          const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }

  /** Runs `vmnet <args>`, asserts it exits 0 and returns its standard output. */
  async ok(...args: string[]): Promise<string> {
    const r = await this.vmnet(...args);
    assert.equal(r.code, 0, `vmnet ${args.join(" ")} exits 0: ${r.stdout}${r.stderr}`);
    return r.stdout;
  }

  /** Runs a shell command in the guest through `vmnet exec`, asserts it succeeds and returns its standard output. */
  guest(name: string, script: string): Promise<string> {
    return this.ok("exec", name, "--", "sh", "-c", script);
  }

  /** The VM's status.interfaces. */
  async status(name: string): Promise<StatusInterface[]> {
    const out = JSON.parse(await this.ok("status", name, "-o", "json")) as {
      status: { interfaces?: StatusInterface[] };
    };
    return out.status.interfaces ?? [];
  }

  /** The lab's network namespaces (node, client, pods). */
  namespaces(): string[] {
    return (spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout ?? "")
      .split("\n")
      .map((l) => l.split(" ")[0] ?? "")
      .filter((n) => n.startsWith(this.node));
  }

  /** The lab's processes (QEMU, agents, helpers) as `pid argv`: their argv names the state directory. */
  processes(filter: ProcessFilter = {}): string[] {
    const marks = [this.state, ...(filter.also ?? [])];
    const out: string[] = [];
    for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
      if (Number(pid) === process.pid) continue;
      let cmd = "";
      try {
        cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
      } catch {
        continue; // gone meanwhile
      }
      if (!marks.some((m) => cmd.includes(m))) continue;
      if (filter.agent !== false || !cmd.includes(" agent run ")) out.push(`${pid} ${cmd}`);
    }
    return out;
  }

  /** The VM's serial console so far ("" before QEMU writes it). */
  serial(vm: string): string {
    try {
      return readFileSync(join(this.state, "vms", vm, "serial.log"), "latin1");
    } catch {
      return "";
    }
  }

  /** Waits until the VM's console, from character `from` on, matches `pattern`; returns the match. */
  async waitForConsole(vm: string, pattern: RegExp, from: number, timeoutMs = 90_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = pattern.exec(this.serial(vm).slice(from));
      if (m !== null) return m;
      if (Date.now() > deadline) {
        throw new Error(`No ${pattern} on the guest console within ${timeoutMs} ms: ${this.serial(vm).slice(from)}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Destroys the lab and its state directory, then asserts no namespace (and no process) of it is left. */
  async destroy(checks: DestroyChecks = {}): Promise<void> {
    const r = await this.vmnet("lab", "destroy");
    await checks.cleanup?.();
    rmSync(this.state, { recursive: true, force: true });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(this.namespaces(), [], "no namespace of the lab is left");
    if (checks.processes !== false) {
      assert.deepEqual(this.processes(checks), [], "no QEMU, agent or helper process of the lab is left");
    }
    if (checks.root !== undefined) {
      assert.deepEqual(rootSnapshot(), checks.root, "the root namespace's links and ruleset are unchanged");
    }
  }
}
