/**
 * Starts a real QEMU for hypervisor tests: TCG, paused (`-S`), no default devices, QMP on a unix socket in a fresh
 * temporary directory. The process is killed and the directory removed whatever the test does.
 */
import type { ChildProcess } from "node:child_process";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { QmpClient } from "../../src/hypervisor/qmp.ts";

/** Why QEMU tests cannot run here, or `undefined` when they can. */
export function qemuSkipReason(): string | undefined {
  const r = spawnSync("qemu-system-x86_64", ["--version"], { encoding: "utf8" });
  return r.error !== undefined || r.status !== 0 ? "qemu-system-x86_64 is missing" : undefined;
}

/** A running QEMU with its QMP session. */
export interface RunningQemu {
  readonly qmp: QmpClient;
  readonly dir: string;
  readonly stderr: () => string;
}

/**
 * Runs `fn` against a paused q35 (or `machine`) QEMU started with `args`, then quits it. Rejects with QEMU's stderr
 * when QEMU refuses the arguments.
 */
export async function withQemu<T>(
  args: readonly string[],
  fn: (q: RunningQemu) => Promise<T>,
  options: {
    readonly machine?: string;
    readonly smp?: number;
    readonly preArgs?: readonly string[];
    /** Run QEMU inside this network namespace (for taps made there). */
    readonly netns?: string;
    /** Open file descriptors QEMU inherits as fds 3, 4, … (for `-netdev tap,fd=3`). */
    readonly fds?: readonly number[];
    /** More arguments that name files in the run's temporary directory. */
    readonly argsFromDir?: (dir: string) => readonly string[];
  } = {},
): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "vmnt-qemu-"));
  const socket = join(dir, "qmp.sock");
  let stderr = "";
  let child: ChildProcess | undefined;
  let qmp: QmpClient | undefined;
  const exited = new Promise<number | null>((resolve) => {
    const prefix = options.netns === undefined ? [] : ["netns", "exec", options.netns, "qemu-system-x86_64"];
    child = spawn(
      options.netns === undefined ? "qemu-system-x86_64" : "ip",
      [
        ...prefix,
        "-accel",
        "tcg",
        "-machine",
        options.machine ?? "q35",
        "-nodefaults",
        "-display",
        "none",
        "-S",
        "-m",
        "64",
        "-smp",
        String(options.smp ?? 1),
        "-qmp",
        `unix:${socket},server=on,wait=off`,
        ...(options.preArgs ?? []),
        ...(options.argsFromDir?.(dir) ?? []),
        ...args,
      ],
      { stdio: ["ignore", "ignore", "pipe", ...(options.fds ?? [])] },
    );
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (d: string) => {
      stderr += d;
    });
    child.on("exit", (code) => resolve(code));
    child.on("error", () => resolve(-1));
  });
  try {
    const connected = QmpClient.connect(socket, { connectTimeoutMs: 15_000 });
    const early = exited.then((code) => {
      throw new Error(`QEMU exited (${code}) before QMP came up: ${stderr.trim()}`);
    });
    qmp = await Promise.race([connected, early]);
    connected.catch(() => undefined);
    early.catch(() => undefined);
    const result = await fn({ qmp, dir, stderr: () => stderr });
    await qmp.quit({ timeoutMs: 10_000 });
    return result;
  } finally {
    qmp?.close();
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
