/**
 * Per-namespace `net.*` sysctls. `/proc/sys/net` shows the namespace of the process that opens it, so reads and
 * writes run `sysctl` inside the target namespace. Only `net.*` keys are accepted: every other sysctl is global and
 * writing it would change the host.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { assertNetnsName, type Executor, HostCommandError, hostExecutor } from "./exec.ts";
import { inNetns } from "./netns-sockets.ts";

/** Why a sysctl access failed. */
export const SysctlFailure = { NotFound: "notFound", Invalid: "invalid", Unknown: "unknown" } as const;
export type SysctlFailure = (typeof SysctlFailure)[keyof typeof SysctlFailure];

/** A sysctl could not be read or written. */
export class SysctlError extends Error {
  override readonly name = "SysctlError";
  readonly key: string;
  readonly reason: SysctlFailure;

  constructor(key: string, reason: SysctlFailure, detail: string, cause?: unknown) {
    super(`Cannot access sysctl "${key}": ${detail}`, cause === undefined ? undefined : { cause });
    this.key = key;
    this.reason = reason;
  }
}

/** One key and its value. */
export interface SysctlEntry {
  readonly key: string;
  readonly value: string;
}

/** What the runtime needs: per-namespace `net.*` sysctls. */
export interface Sysctl {
  /** The value with whitespace runs collapsed to one space (`ping_group_range` reads back tab-separated). */
  get(key: string): Promise<string>;
  set(key: string, value: string): Promise<void>;
  /** The values of `keys`, in order, read at once (one process for {@link ProcSysctl}); fails on the first bad key. */
  getMany?(keys: readonly string[]): Promise<string[]>;
  /**
   * Writes every entry at once (one process for {@link ProcSysctl}). A failing key does not stop the others, as
   * sysctl(8) goes on; the first failure is thrown.
   */
  setMany?(entries: readonly SysctlEntry[]): Promise<void>;
}

/** The values of `keys` in order: {@link Sysctl.getMany} when the adapter has it, else one `get` per key. */
export async function getSysctls(sysctl: Sysctl, keys: readonly string[]): Promise<string[]> {
  if (keys.length === 0) return [];
  if (sysctl.getMany !== undefined) return sysctl.getMany(keys);
  const out: string[] = [];
  for (const k of keys) out.push(await sysctl.get(k));
  return out;
}

/**
 * Writes `entries`: {@link Sysctl.setMany} when the adapter has it, else one `set` per entry. Either way every entry
 * is tried and the first failure is thrown after.
 */
export async function setSysctls(sysctl: Sysctl, entries: readonly SysctlEntry[]): Promise<void> {
  if (entries.length === 0) return;
  if (sysctl.setMany !== undefined) return sysctl.setMany(entries);
  let first: unknown;
  for (const e of entries) {
    try {
      await sysctl.set(e.key, e.value);
    } catch (err) {
      first ??= err;
    }
  }
  if (first !== undefined) throw first;
}

/**
 * Splits a key the way sysctl(8) does: on "/" when the key contains one (so interface names with dots survive,
 * `net/ipv4/conf/eth0.100/arp_ignore`), else on ".".
 */
export function sysctlSegments(key: string): string[] {
  const parts = key.includes("/") ? key.split("/") : key.split(".");
  if (parts[0] !== "net" || parts.length < 3 || parts.some((p) => p === "" || p === "." || p === "..")) {
    throw new RangeError(`Invalid sysctl key "${key}": only per-namespace net.* keys are allowed`);
  }
  return parts;
}

/** Builds a per-interface key (`net.ipv4.conf.<ifname>.<setting>`) that is safe for names containing dots. */
export function interfaceSysctlKey(family: "ipv4" | "ipv6", ifname: string, setting: string): string {
  return ["net", family, "conf", ifname, setting].join(ifname.includes(".") ? "/" : ".");
}

/** The `/proc/sys` path of a key. */
export function sysctlPath(key: string): string {
  return `/proc/sys/${sysctlSegments(key).join("/")}`;
}

function assertValue(key: string, value: string): void {
  if (value === "" || /[\n\0]/.test(value)) throw new RangeError(`Invalid value "${value}" for sysctl "${key}"`);
}

function normalize(value: string): string {
  return value.trim().replace(/\s+/g, " ");
}

function classify(stderr: string): SysctlFailure {
  if (/No such file or directory|cannot stat/i.test(stderr)) return SysctlFailure.NotFound;
  if (/Invalid argument/i.test(stderr)) return SysctlFailure.Invalid;
  return SysctlFailure.Unknown;
}

/** The real {@link Sysctl}: `sysctl` run through `ip netns exec` in the named namespace. */
export class ProcSysctl implements Sysctl {
  readonly #netns: string;
  readonly #executor: Executor;

  /** `netns` is required: the root namespace's sysctls are never touched. */
  constructor(netns: string, options: { readonly executor?: Executor } = {}) {
    assertNetnsName(netns);
    this.#netns = netns;
    this.#executor = options.executor ?? hostExecutor;
  }

  /** Runs sysctl(8) on `keys`; a failure is blamed on the first key its message names (sysctl goes on after one). */
  async #run(keys: readonly string[], args: string[]): Promise<string> {
    try {
      const { stdout } = await this.#executor.run("sysctl", args, { netns: this.#netns });
      return stdout;
    } catch (e) {
      if (!(e instanceof HostCommandError) || e.exitCode < 0) throw e;
      const key = keys.find((k) => namedIn(e.stderr, k)) ?? keys[0] ?? "";
      throw new SysctlError(key, classify(e.stderr), e.stderr.trim(), e);
    }
  }

  async get(key: string): Promise<string> {
    sysctlSegments(key);
    return normalize(await this.#run([key], ["-n", key]));
  }

  async set(key: string, value: string): Promise<void> {
    sysctlSegments(key);
    assertValue(key, value);
    await this.#run([key], ["-q", "-w", `${key}=${value}`]);
  }

  /** One `sysctl -n k1 k2 ...`: sysctl(8) prints one value per line, in argument order. */
  async getMany(keys: readonly string[]): Promise<string[]> {
    if (keys.length === 0) return [];
    for (const k of keys) sysctlSegments(k);
    const lines = (await this.#run(keys, ["-n", ...keys])).split("\n");
    if (lines.at(-1) === "") lines.pop();
    if (lines.length !== keys.length) {
      const key = keys[Math.min(lines.length, keys.length - 1)] ?? "";
      throw new SysctlError(
        key,
        SysctlFailure.Unknown,
        `sysctl printed ${lines.length} values for ${keys.length} keys`,
      );
    }
    return lines.map(normalize);
  }

  /** One `sysctl -q -w k1=v1 k2=v2 ...`. */
  async setMany(entries: readonly SysctlEntry[]): Promise<void> {
    if (entries.length === 0) return;
    for (const e of entries) {
      sysctlSegments(e.key);
      assertValue(e.key, e.value);
    }
    await this.#run(
      entries.map((e) => e.key),
      ["-q", "-w", ...entries.map((e) => `${e.key}=${e.value}`)],
    );
  }
}

/** Whether a sysctl(8) error message is about `key` (it names keys as given, and paths under /proc/sys). */
function namedIn(stderr: string, key: string): boolean {
  const path = sysctlPath(key);
  return stderr.includes(`"${key}"`) || stderr.includes(`${path}:`) || stderr.includes(`${path} `);
}

/** The failure of a /proc/sys access by its errno code. */
function failureOf(e: unknown): SysctlFailure {
  const code = typeof e === "object" && e !== null && "code" in e ? e.code : undefined;
  if (code === "ENOENT") return SysctlFailure.NotFound;
  if (code === "EINVAL") return SysctlFailure.Invalid;
  return SysctlFailure.Unknown;
}

/**
 * {@link Sysctl} without a process: the calling thread enters the namespace (`inNetns`, a synchronous setns(2) hop
 * that always returns), reads or writes the `/proc/sys` files, and comes back before any other JavaScript runs.
 * `/proc/sys/net` resolves against the opening thread's namespace, so this touches the pod's keys only; the hop
 * also checks the thread really is in `netns` before it opens anything.
 */
export class NetnsSysctl implements Sysctl {
  readonly #netns: string;

  /** `netns` is required: the root namespace's sysctls are never touched. */
  constructor(netns: string) {
    assertNetnsName(netns);
    this.#netns = netns;
  }

  #hop(fn: () => string[]): string[] {
    // inNetns checks that the thread really is in the namespace before `fn` opens anything.
    return inNetns(this.#netns, fn);
  }

  async get(key: string): Promise<string> {
    const [value = ""] = await this.getMany([key]);
    return value;
  }

  async set(key: string, value: string): Promise<void> {
    await this.setMany([{ key, value }]);
  }

  async getMany(keys: readonly string[]): Promise<string[]> {
    const paths = keys.map(sysctlPath);
    if (paths.length === 0) return [];
    return this.#hop(() =>
      paths.map((path, i) => {
        try {
          return normalize(readFileSync(path, "utf8"));
        } catch (e) {
          const key = keys[i] ?? "";
          throw new SysctlError(key, failureOf(e), e instanceof Error ? e.message : String(e), e);
        }
      }),
    );
  }

  /** Every entry is tried, as sysctl(8) does; the first failure is thrown after. */
  async setMany(entries: readonly SysctlEntry[]): Promise<void> {
    const writes = entries.map((e) => {
      assertValue(e.key, e.value);
      return { key: e.key, path: sysctlPath(e.key), value: e.value };
    });
    if (writes.length === 0) return;
    let first: SysctlError | undefined;
    this.#hop(() => {
      for (const w of writes) {
        try {
          writeFileSync(w.path, w.value);
        } catch (e) {
          first ??= new SysctlError(w.key, failureOf(e), e instanceof Error ? e.message : String(e), e);
        }
      }
      return [];
    });
    if (first !== undefined) throw first;
  }
}

/** Keys a fresh namespace has, with their kernel defaults (the subset the runtime touches). */
export const FAKE_SYSCTL_DEFAULTS: Readonly<Record<string, string>> = {
  "net.ipv4.ip_forward": "0",
  "net.ipv4.ping_group_range": "1 0",
  "net.ipv4.ip_unprivileged_port_start": "1024",
  "net.ipv6.conf.all.forwarding": "0",
  "net.ipv6.conf.default.forwarding": "0",
  "net.ipv6.conf.all.accept_dad": "1",
  "net.ipv6.conf.default.accept_dad": "1",
  "net.ipv6.conf.all.disable_ipv6": "0",
  "net.ipv6.conf.default.disable_ipv6": "0",
  "net.ipv4.conf.all.arp_ignore": "0",
  "net.ipv4.conf.default.arp_ignore": "0",
  "net.ipv4.conf.all.route_localnet": "0",
  "net.ipv4.conf.default.route_localnet": "0",
  "net.ipv4.conf.lo.arp_ignore": "0",
  "net.ipv4.conf.lo.route_localnet": "0",
};

const PAIR_KEYS = new Set(["net.ipv4.ping_group_range"]);

/**
 * In-memory {@link Sysctl}: known keys only (unknown ones fail as missing files do), integers where the kernel
 * wants integers. {@link addInterface} copies the `conf.default` entries, as the kernel does for a new link.
 */
export class FakeSysctl implements Sysctl {
  readonly #values = new Map<string, string>();

  constructor(initial: Readonly<Record<string, string>> = FAKE_SYSCTL_DEFAULTS) {
    for (const [k, v] of Object.entries(initial)) this.#values.set(sysctlSegments(k).join("."), v);
  }

  /** Creates the `net.ipv{4,6}.conf.<ifname>.*` keys from the `default` ones. */
  addInterface(ifname: string): void {
    for (const [k, v] of [...this.#values]) {
      const m = /^net\.(ipv4|ipv6)\.conf\.default\.(.+)$/.exec(k);
      if (m?.[1] !== undefined && m[2] !== undefined) this.#values.set(`net.${m[1]}.conf.${ifname}.${m[2]}`, v);
    }
  }

  #id(key: string): string {
    return sysctlSegments(key).join(".");
  }

  async get(key: string): Promise<string> {
    const v = this.#values.get(this.#id(key));
    if (v === undefined) throw new SysctlError(key, SysctlFailure.NotFound, "No such file or directory");
    return v;
  }

  async set(key: string, value: string): Promise<void> {
    const id = this.#id(key);
    assertValue(key, value);
    if (!this.#values.has(id)) throw new SysctlError(key, SysctlFailure.NotFound, "No such file or directory");
    const shape = PAIR_KEYS.has(id) ? /^\s*-?\d+\s+-?\d+\s*$/ : /^\s*-?\d+\s*$/;
    if (!shape.test(value)) throw new SysctlError(key, SysctlFailure.Invalid, "Invalid argument");
    this.#values.set(id, normalize(value));
  }

  async getMany(keys: readonly string[]): Promise<string[]> {
    return Promise.all(keys.map((k) => this.get(k)));
  }

  /** Like sysctl(8): every entry is tried, the first failure is thrown after. */
  async setMany(entries: readonly SysctlEntry[]): Promise<void> {
    let first: unknown;
    for (const e of entries) {
      try {
        await this.set(e.key, e.value);
      } catch (err) {
        first ??= err;
      }
    }
    if (first !== undefined) throw first;
  }
}
