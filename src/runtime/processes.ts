/**
 * The helper processes a plan asks for (passt, one per passt interface): started inside the pod netns before the
 * guest attaches, because QEMU's `-netdev stream` connects to the process' socket at start-up. Each runs detached with
 * its own log file, so it outlives the command that started it, and is recorded in `<stateDir>/<podKey>.processes.json`
 * before anything waits on it: `vmnet down`, or the rollback of an `up` that crashed half-way, stops what the record
 * names even when the process that started it is gone.
 *
 * The record keeps each process' start time (field 22 of `/proc/<pid>/stat`) next to its pid, so a stop after a
 * reboot or a long-dead process never signals an unrelated process that reused the pid.
 *
 * File descriptors: passt binds one socket per forwarded port, family and protocol, so forwarding every port needs
 * ~2^18 of them (`ProcessPlan.openFiles`). The process inherits our hard RLIMIT_NOFILE and passt raises its soft limit
 * to it by itself; raising the hard limit needs CAP_SYS_RESOURCE. When the plan needs more than the hard limit and it
 * cannot be raised, starting fails up front with an error naming the interface, the need and the limit, rather than
 * passt's later "Can't open enough sockets": silently forwarding fewer ports than the seeds promise would be worse.
 */
import { type ChildProcess, execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, chown, lstat, mkdir, readFile, rename, rm, rmdir, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { spawnDetached, tail } from "../host/process.ts";
import type { NetworkPlan, ProcessPlan } from "../plan/plan.ts";

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One started process, as recorded. */
export interface ProcessEntry {
  /** The guest interface the process serves. */
  readonly interface: string;
  readonly pid: number;
  /** Field 22 of `/proc/<pid>/stat` when started: tells the process from a later one with the same pid. */
  readonly startTime: string;
  readonly binary: string;
  readonly socketPath: string;
  readonly logFile: string;
  /** Directories this start created (deepest last); removed again, when empty, on stop. */
  readonly createdDirs: readonly string[];
}

/** The record file's content. */
export interface ProcessRecord {
  readonly version: 1;
  readonly netns: string;
  readonly processes: readonly ProcessEntry[];
}

/** Options of {@link startProcesses}. */
export interface StartProcessesOptions {
  /** The pod's network namespace; the processes run inside it. */
  readonly netns: string;
  /** Where the record lives (`<stateDir>/<podKey>.processes.json`) and the logs (`<podKey>.<interface>.log`). */
  readonly stateDir: string;
  readonly podKey: string;
  /** How long to wait for each socket. Default 10 s. */
  readonly socketTimeoutMs?: number;
  /** The command that runs `argv` inside `netns`. Default `ip netns exec <netns>`; tests run without a netns. */
  readonly enterNetns?: (netns: string, argv: readonly string[]) => string[];
  /** The hard RLIMIT_NOFILE processes inherit. Default: read from `/proc/self/limits`. */
  readonly hardOpenFiles?: () => Promise<number>;
  /** Whether the hard RLIMIT_NOFILE can be raised to `n`. Default: try it with `prlimit` on a throwaway `true`. */
  readonly canRaiseOpenFiles?: (n: number) => Promise<boolean>;
}

/** What was started: pass it to {@link stopProcesses}. */
export interface StartedProcesses {
  readonly recordFile: string;
  readonly processes: readonly ProcessEntry[];
}

/** Starting or stopping a plan's process failed. */
export class ProcessError extends Error {
  override readonly name = "ProcessError";
}

/** The record file of pod `podKey`. */
export function processRecordFile(stateDir: string, podKey: string): string {
  return join(stateDir, `${podKey}.processes.json`);
}

/** The plan's processes with the interface each serves, in plan order. */
export function plannedProcesses(plan: NetworkPlan): { readonly iface: string; readonly process: ProcessPlan }[] {
  return plan.interfaces.flatMap((i) => (i.process === undefined ? [] : [{ iface: i.name, process: i.process }]));
}

/** Reads the soft and hard "Max open files" of `/proc/<pid>/limits`. */
export function parseOpenFilesLimit(limits: string): { soft: number; hard: number } {
  const line = limits.split("\n").find((l) => l.startsWith("Max open files"));
  const m = line?.match(/^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/);
  if (m === null || m === undefined) throw new ProcessError('Cannot find "Max open files" in the process limits');
  const value = (s: string | undefined) => (s === "unlimited" ? Number.POSITIVE_INFINITY : Number(s));
  return { soft: value(m[1]), hard: value(m[2]) };
}

async function hardOpenFilesOfSelf(): Promise<number> {
  return parseOpenFilesLimit(await readFile("/proc/self/limits", "utf8")).hard;
}

async function prlimitRaises(n: number): Promise<boolean> {
  try {
    await run("prlimit", [`--nofile=${n}:${n}`, "--", "true"]);
    return true;
  } catch {
    return false;
  }
}

/**
 * The argv that runs `process` in `netns`, with RLIMIT_NOFILE raised to `openFiles` first when the plan needs more
 * than `hardLimit` (prlimit and `ip netns exec` both exec, so the recorded pid is the process' own).
 */
export function processArgv(
  process: ProcessPlan,
  netns: string,
  hardLimit: number,
  enterNetns: (netns: string, argv: readonly string[]) => string[] = ipNetnsExec,
): string[] {
  const inner = enterNetns(netns, [process.binary, ...process.args]);
  if (process.openFiles === undefined || process.openFiles <= hardLimit) return inner;
  return ["prlimit", `--nofile=${process.openFiles}:${process.openFiles}`, "--", ...inner];
}

function ipNetnsExec(netns: string, argv: readonly string[]): string[] {
  return ["ip", "netns", "exec", netns, ...argv];
}

/** Field 22 (start time in clock ticks since boot) of `/proc/<pid>/stat`, or undefined when the pid is gone. */
export async function processStartTime(pid: number): Promise<string | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which may itself hold ") ": state is field 3, start time field 22.
    const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
    if (rest[0] === "Z") return undefined;
    return rest[19];
  } catch {
    return undefined;
  }
}

async function writeRecord(file: string, record: ProcessRecord): Promise<void> {
  const tmp = `${file}.${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
}

/** Reads pod `podKey`'s record; undefined when there is none. */
export async function readProcessRecord(stateDir: string, podKey: string): Promise<ProcessRecord | undefined> {
  try {
    return JSON.parse(await readFile(processRecordFile(stateDir, podKey), "utf8")) as ProcessRecord;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

/**
 * The first existing ancestor of `dir` that `uid`/`gid` cannot search, with its mode. passt creates its socket after
 * dropping to them, so an unreachable parent would only show as a socket that never appears.
 */
export async function unreachableAncestor(
  dir: string,
  uid: number,
  gid: number,
): Promise<{ dir: string; mode: number } | undefined> {
  if (uid === 0) return undefined;
  for (let d = dirname(dir); ; d = dirname(d)) {
    const st = await stat(d).catch(() => undefined);
    if (st !== undefined) {
      const bit = st.uid === uid ? 0o100 : st.gid === gid ? 0o010 : 0o001;
      if ((st.mode & bit) === 0) return { dir: d, mode: st.mode & 0o777 };
    }
    if (d === dirname(d)) return undefined;
  }
}

/** Creates `dir` and its missing parents, each mode 0755 owned by `uid:gid`; returns those it created, outermost first. */
async function makeStateDir(dir: string, uid: number, gid: number): Promise<string[]> {
  const missing: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    const exists = await stat(d).then(
      () => true,
      () => false,
    );
    if (exists || d === dirname(d)) break;
    missing.unshift(d);
  }
  await mkdir(dir, { recursive: true, mode: 0o755 });
  // Only the innermost directory belongs to the process; the parents only need to let it through.
  for (const d of missing) await chmod(d, 0o755);
  await chown(dir, uid, gid);
  return missing;
}

async function isSocket(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isSocket();
  } catch {
    return false;
  }
}

/**
 * Starts every process of `plan` in `options.netns`: creates its state dir owned by its `runAs`, checks the open-file
 * limit it needs, starts it detached, records it, and waits until its socket exists. Fails with a {@link ProcessError}
 * naming the interface (with the process' log tail when it exited or did not make its socket in time), after stopping
 * whatever this call started. Returns undefined when the plan has no process.
 */
export async function startProcesses(
  plan: NetworkPlan,
  options: StartProcessesOptions,
): Promise<StartedProcesses | undefined> {
  const planned = plannedProcesses(plan);
  if (planned.length === 0) return undefined;
  const recordFile = processRecordFile(options.stateDir, options.podKey);
  const hardLimit = await (options.hardOpenFiles ?? hardOpenFilesOfSelf)();
  const canRaise = options.canRaiseOpenFiles ?? prlimitRaises;
  for (const { iface, process } of planned) {
    if (process.openFiles === undefined || process.openFiles <= hardLimit) continue;
    if (!(await canRaise(process.openFiles))) {
      throw new ProcessError(
        `Cannot start "${process.binary}" for interface "${iface}": forwarding every port needs ${process.openFiles} open files but the hard limit is ${hardLimit} and cannot be raised (list the interface's ports, or raise the limit)`,
      );
    }
  }
  await mkdir(options.stateDir, { recursive: true });
  const started: ProcessEntry[] = [];
  const record = (): ProcessRecord => ({ version: 1, netns: options.netns, processes: started });
  try {
    for (const { iface, process } of planned) {
      const blocked = await unreachableAncestor(process.stateDir, process.runAs.uid, process.runAs.gid);
      if (blocked !== undefined) {
        throw new ProcessError(
          `Cannot start "${process.binary}" for interface "${iface}": uid ${process.runAs.uid} cannot reach "${blocked.dir}" (mode ${blocked.mode.toString(8).padStart(4, "0")}) to create "${process.socketPath}"`,
        );
      }
      const createdDirs = await makeStateDir(process.stateDir, process.runAs.uid, process.runAs.gid);
      // A socket left by a killed process would pass the wait below before the new one listens.
      await rm(process.socketPath, { force: true });
      const logFile = join(options.stateDir, `${options.podKey}.${iface}.log`);
      const argv = processArgv(process, options.netns, hardLimit, options.enterNetns);
      const child = await spawnDetached(argv, logFile);
      const pid = child.pid;
      if (pid === undefined) throw new ProcessError(`Cannot start "${process.binary}" for interface "${iface}"`);
      const startTime = (await processStartTime(pid)) ?? "";
      started.push({
        interface: iface,
        pid,
        startTime,
        binary: process.binary,
        socketPath: process.socketPath,
        logFile,
        createdDirs,
      });
      await writeRecord(recordFile, record());
      await waitForSocket(child, process, iface, logFile, options.socketTimeoutMs ?? 10_000);
    }
    return { recordFile, processes: started };
  } catch (e) {
    await stopEntries(started).catch(() => {});
    await rm(recordFile, { force: true });
    throw e;
  }
}

async function waitForSocket(
  child: ChildProcess,
  process: ProcessPlan,
  iface: string,
  logFile: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await isSocket(process.socketPath)) return;
    if (child.exitCode !== null || child.signalCode !== null) {
      const how = child.signalCode ?? `status ${child.exitCode}`;
      throw new ProcessError(
        `"${process.binary}" for interface "${iface}" exited (${how}) before creating "${process.socketPath}": ${await tail(logFile)}`,
      );
    }
    if (Date.now() >= deadline) {
      throw new ProcessError(
        `"${process.binary}" for interface "${iface}" did not create "${process.socketPath}" within ${timeoutMs} ms: ${await tail(logFile)}`,
      );
    }
    await sleep(50);
  }
}

/** Signals `pid` when it is still the recorded process: SIGTERM, SIGKILL after `graceMs`; resolves once it is gone. */
async function terminate(entry: ProcessEntry, graceMs: number): Promise<void> {
  const same = async () => {
    const now = await processStartTime(entry.pid);
    return now !== undefined && (entry.startTime === "" || now === entry.startTime);
  };
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(entry.pid, s);
    } catch {
      // Already gone.
    }
  };
  if (!(await same())) return;
  signal("SIGTERM");
  const deadline = Date.now() + graceMs;
  while ((await same()) && Date.now() < deadline) await sleep(50);
  if (!(await same())) return;
  signal("SIGKILL");
  const hard = Date.now() + 5_000;
  while ((await same()) && Date.now() < hard) await sleep(50);
  if (await same()) throw new ProcessError(`Cannot stop "${entry.binary}" (pid ${entry.pid}) of "${entry.interface}"`);
}

async function stopEntries(entries: readonly ProcessEntry[], graceMs = 3_000): Promise<void> {
  const errors: unknown[] = [];
  for (const entry of [...entries].reverse()) {
    try {
      await terminate(entry, graceMs);
      await rm(entry.socketPath, { force: true });
      await rm(entry.logFile, { force: true });
      for (const d of [...entry.createdDirs].reverse()) await rmdir(d).catch(() => {});
    } catch (e) {
      errors.push(e);
    }
  }
  if (errors.length > 0) throw new AggregateError(errors, "Cannot stop every helper process");
}

/**
 * Stops what pod `podKey`'s record names (SIGTERM, then SIGKILL), removes their sockets, logs and the directories
 * their start created, then the record. No record is fine: nothing was started, or it was already stopped. Returns
 * how many recorded processes there were.
 */
export async function stopProcesses(stateDir: string, podKey: string): Promise<number> {
  const record = await readProcessRecord(stateDir, podKey);
  if (record === undefined) return 0;
  await stopEntries(record.processes);
  await rm(processRecordFile(stateDir, podKey), { force: true });
  return record.processes.length;
}

/** The running processes of a record (`vmnet status`-style checks and tests). */
export async function liveProcesses(record: ProcessRecord): Promise<ProcessEntry[]> {
  const out: ProcessEntry[] = [];
  for (const entry of record.processes) {
    const now = await processStartTime(entry.pid);
    if (now !== undefined && (entry.startTime === "" || now === entry.startTime)) out.push(entry);
  }
  return out;
}
