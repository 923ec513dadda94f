/**
 * Shared pieces of the dataplane benchmarks: a registry of what a run created (namespaces, processes, temporary
 * directories) that is emptied on exit, Ctrl-C or SIGTERM; order statistics; and a plain-text table printer.
 * Benchmarks print ratios against baselines measured in the same run, so the numbers mean something on any machine.
 */
import { type ChildProcess, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { hostExecutor } from "../src/host/exec.ts";
import { createNetns, deleteNetns } from "../src/host/netns.ts";

/** Exit status of a run stopped by SIGINT (128 + 2), as shells report it. */
export const INTERRUPTED_EXIT_CODE = 130;

/**
 * Everything a benchmark run created, so it can be removed whatever happens: `close()` in a `finally`, and the signal
 * handlers installed by {@link Resources.guard} for Ctrl-C and SIGTERM, which clean up synchronously and exit.
 */
export class Resources {
  /** Prefix of every namespace of this run: `vmnt-bn-<6 hex>-`. */
  readonly prefix = `vmnt-bn-${randomBytes(3).toString("hex")}-`;
  readonly #namespaces = new Set<string>();
  readonly #children = new Set<ChildProcess>();
  readonly #dirs = new Set<string>();
  readonly #closers: (() => Promise<void>)[] = [];
  #count = 0;
  #signalHandler: ((signal: NodeJS.Signals) => void) | undefined;

  /** Installs SIGINT/SIGTERM handlers that remove everything registered, then exit. */
  guard(): void {
    this.#signalHandler = (signal) => {
      process.stderr.write(`\n${signal}: removing the benchmark's processes, namespaces and files\n`);
      this.closeSync();
      process.exit(signal === "SIGINT" ? INTERRUPTED_EXIT_CODE : 143);
    };
    process.on("SIGINT", this.#signalHandler);
    process.on("SIGTERM", this.#signalHandler);
  }

  /** Creates a namespace `<prefix><role><n>`; it is registered before it exists, so an interrupt cannot leak it. */
  async netns(role: string): Promise<string> {
    this.#count += 1;
    const name = `${this.prefix}${role}${this.#count}`;
    this.#namespaces.add(name);
    await createNetns(name);
    return name;
  }

  /** Deletes a namespace created by {@link netns}. */
  async deleteNetns(name: string): Promise<void> {
    if (!this.#namespaces.delete(name)) return;
    await deleteNetns(name).catch(() => undefined);
  }

  /** A private temporary directory, removed at the end. */
  async tempDir(what: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), `vmnt-bench-${what}-`));
    this.#dirs.add(dir);
    return dir;
  }

  /** Registers a long-running child, killed (by its pid) at the end unless it has exited. */
  child(child: ChildProcess): ChildProcess {
    this.#children.add(child);
    child.once("exit", () => this.#children.delete(child));
    return child;
  }

  /** Registers an async stopper (e.g. a DHCP agent) run by {@link close}, before namespaces go. */
  onClose(fn: () => Promise<void>): void {
    this.#closers.push(fn);
  }

  /** Kills a registered child: SIGTERM, then SIGKILL after `ms`; resolves when it has exited. */
  async kill(child: ChildProcess, ms = 3000): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), ms);
    await exited;
    clearTimeout(timer);
  }

  /** Stops, kills and removes everything registered; never throws. */
  async close(): Promise<void> {
    for (const fn of this.#closers.splice(0)) await fn().catch(() => undefined);
    for (const c of [...this.#children]) await this.kill(c);
    for (const ns of [...this.#namespaces]) await this.deleteNetns(ns);
    for (const d of this.#dirs) await rm(d, { recursive: true, force: true }).catch(() => undefined);
    this.#dirs.clear();
    if (this.#signalHandler !== undefined) {
      process.off("SIGINT", this.#signalHandler);
      process.off("SIGTERM", this.#signalHandler);
      this.#signalHandler = undefined;
    }
  }

  /** The signal path: no awaiting, since the process exits right after. */
  closeSync(): void {
    for (const c of this.#children) {
      if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    }
    for (const ns of this.#namespaces) spawnSync("ip", ["netns", "del", ns], { stdio: "ignore" });
    this.#namespaces.clear();
    for (const d of this.#dirs) rmSync(d, { recursive: true, force: true });
    this.#dirs.clear();
  }
}

/** Runs a `sh -c` script in the root namespace (it enters namespaces itself); throws with its stderr on failure. */
export async function sh(script: string): Promise<string> {
  const { stdout } = await hostExecutor.run("sh", ["-ec", script], { timeoutMs: 600_000 });
  return stdout;
}

/** Single-quotes a word for `sh`. */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * The `q`-quantile (0..1) of the finite `values` by linear interpolation between order statistics; NaN when there
 * are none (a run with nothing to measure reports NaN, which must not poison the others).
 */
export function quantile(values: readonly number[], q: number): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] ?? Number.NaN;
  const b = sorted[hi] ?? Number.NaN;
  return a + (b - a) * (pos - lo);
}

/** The median of `values`. */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** A number with `digits` decimals, or `-` when it is not finite. */
export function fmt(value: number | undefined, digits = 1): string {
  return value === undefined || !Number.isFinite(value) ? "-" : value.toFixed(digits);
}

/** Left-aligned first column, right-aligned others, two spaces between columns. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** Milliseconds since `start` (a `process.hrtime.bigint()` reading). */
export function elapsedMs(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Why the benchmarks cannot run here (not root, a tool missing), or undefined. */
export function missingPrerequisite(tools: readonly string[]): string | undefined {
  if (process.getuid?.() !== 0) return "needs root to create network namespaces";
  for (const tool of tools) {
    const r = spawnSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    if (r.status !== 0) return `"${tool}" is missing`;
  }
  return undefined;
}

/** Parses a positive integer flag value, naming the flag in the error. */
export function positiveInt(flag: string, value: string): number {
  if (!/^\d+$/.test(value) || Number.parseInt(value, 10) < 1) {
    throw new RangeError(`Invalid value "${value}" for "--${flag}": expected a positive integer`);
  }
  return Number.parseInt(value, 10);
}

/** Parses a comma-separated list of non-negative integers. */
export function intList(flag: string, value: string): number[] {
  return value.split(",").map((v) => {
    if (!/^\d+$/.test(v.trim())) {
      throw new RangeError(`Invalid value "${value}" for "--${flag}": expected comma-separated integers`);
    }
    return Number.parseInt(v.trim(), 10);
  });
}

/** The machine, for the report: CPU count and load when the run started (the numbers are relative to it). */
export function machineLine(): string {
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
  return `machine: ${availableParallelism()} CPUs, load average ${load} at start`;
}

/**
 * Runs a benchmark's `main` when `moduleUrl` is the script node was started with (not when a test imports the module),
 * printing to stdout; a failure prints its message to stderr and sets exit code 1.
 */
export async function runIfMain(
  moduleUrl: string,
  main: (out: (line: string) => void) => Promise<unknown>,
): Promise<void> {
  if (moduleUrl !== pathToFileURL(process.argv[1] ?? "").href) return;
  try {
    await main((line) => console.log(line));
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    process.exitCode = 1;
  }
}
