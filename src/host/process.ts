/**
 * Detached helper processes (QEMU, passt): started in their own process group with output to a log file, so they
 * outlive the `vmnet up` that started them, and stopped later by pid from a pidfile or a record.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { open, readFile } from "node:fs/promises";

/**
 * Whether a process with this pid runs (EPERM still means it exists). A zombie counts as gone: a detached child
 * whose parent has exited may wait unreaped when PID 1 does not reap.
 */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The state follows the parenthesised command name, which may itself hold ") ".
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts `argv` detached (own process group, stdin closed, stdout and stderr appended to `logFile`). `inheritFds`
 * become the child's fds 3, 4, … in order.
 */
export async function spawnDetached(
  argv: readonly string[],
  logFile: string,
  inheritFds: readonly number[] = [],
): Promise<ChildProcess> {
  const [command, ...args] = argv;
  if (command === undefined) throw new TypeError("Cannot start an empty command");
  const log = await open(logFile, "a", 0o600);
  try {
    const child = spawn(command, args, { detached: true, stdio: ["ignore", log.fd, log.fd, ...inheritFds] });
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", reject);
    });
    child.unref();
    return child;
  } finally {
    await log.close();
  }
}

/** The pid in `pidFile`, or undefined when there is no such file or it holds no pid. */
export async function readPid(pidFile: string): Promise<number | undefined> {
  try {
    const text = (await readFile(pidFile, "utf8")).trim();
    const pid = Number.parseInt(text, 10);
    return Number.isInteger(pid) && pid > 0 && String(pid) === text ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Waits until `pidFile` names a live process; rejects early when `child` exits first, with the tail of `logFile`.
 */
export async function waitForPidFile(
  pidFile: string,
  child: ChildProcess,
  options: { readonly timeoutMs: number; readonly logFile: string; readonly what: string },
): Promise<number> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const pid = await readPid(pidFile);
    if (pid !== undefined && processAlive(pid)) return pid;
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${options.what} exited (${child.signalCode ?? child.exitCode}): ${await tail(options.logFile)}`);
    }
    if (Date.now() >= deadline) throw new Error(`${options.what} did not start within ${options.timeoutMs} ms`);
    await sleep(50);
  }
}

/** The last `bytes` of a log file, on one line, for error messages. */
export async function tail(file: string, bytes = 3000): Promise<string> {
  try {
    const text = await readFile(file, "utf8");
    return text.slice(-bytes).trim().replaceAll("\n", " | ") || "(empty log)";
  } catch {
    return "(no log)";
  }
}

/**
 * Stops process `pid`: SIGTERM, then SIGKILL after `graceMs`; resolves once it is gone (at most `graceMs` + 5 s).
 * A pid that is already gone is fine.
 */
export async function terminate(pid: number, graceMs = 5_000): Promise<void> {
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(pid, s);
    } catch {
      // Already gone.
    }
  };
  if (!processAlive(pid)) return;
  signal("SIGTERM");
  const deadline = Date.now() + graceMs;
  while (processAlive(pid) && Date.now() < deadline) await sleep(50);
  if (!processAlive(pid)) return;
  signal("SIGKILL");
  const hard = Date.now() + 5_000;
  while (processAlive(pid) && Date.now() < hard) await sleep(50);
}
