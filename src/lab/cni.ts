/**
 * Running CNI plugins the way a container runtime's libcni does (CNI spec 1.0 "Execution protocol" and "Network
 * configuration lists"): the plugin binary from a plugin directory, the CNI_* variables in its environment, the
 * network configuration on stdin, one result or error JSON on stdout.
 */
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { CniNetworkConfig } from "../api/nad.ts";
import { assertNetnsName, type Executor, hostExecutor } from "../host/exec.ts";

/** CNI operations vmnet runs (GC and STATUS are not needed by the lab). */
export const CniCommand = { Add: "ADD", Del: "DEL", Check: "CHECK", Version: "VERSION" } as const;
export type CniCommand = (typeof CniCommand)[keyof typeof CniCommand];

/** Where Debian's containernetworking-plugins installs the reference plugins. */
export const DEFAULT_PLUGIN_DIR = "/usr/lib/cni";

/** One plugin's configuration object as written in a network configuration (`type` plus plugin fields). */
export type CniPluginConf = Readonly<Record<string, unknown>> & { readonly type: string };

/** A network configuration normalised to a list: a single-plugin config becomes a one-element `plugins` list. */
export interface NetworkConfig {
  readonly cniVersion: string;
  readonly name: string;
  readonly plugins: readonly CniPluginConf[];
}

/** One interface of a result; `sandbox` is set for interfaces inside the container. */
export interface CniInterface {
  readonly name: string;
  readonly mac?: string;
  readonly mtu?: number;
  readonly sandbox?: string;
}

/** One IP of a result; `interface` indexes {@link CniResult.interfaces}. */
export interface CniIp {
  /** CIDR notation, e.g. `10.244.0.2/24`. */
  readonly address: string;
  readonly gateway?: string;
  readonly interface?: number;
}

/** One route of a result. */
export interface CniRoute {
  readonly dst: string;
  readonly gw?: string;
}

/** DNS information of a result (what the plugin learned, not what the runtime writes to resolv.conf). */
export interface CniDns {
  readonly nameservers?: readonly string[];
  readonly domain?: string;
  readonly search?: readonly string[];
  readonly options?: readonly string[];
}

/** A plugin's ADD result, typed. `raw` is the JSON exactly as printed, handed on as the next `prevResult`. */
export interface CniResult {
  readonly cniVersion: string;
  readonly interfaces: readonly CniInterface[];
  readonly ips: readonly CniIp[];
  readonly routes: readonly CniRoute[];
  readonly dns: CniDns;
  readonly raw: Readonly<Record<string, unknown>>;
}

/** Well-known CNI error codes (spec "Error"); plugins may use 100 and up for their own. */
export const CniErrorCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnvironment: 4,
  IoFailure: 5,
  DecodeFailure: 6,
  InvalidConfig: 7,
  TryAgainLater: 11,
} as const;
export type CniErrorCode = (typeof CniErrorCode)[keyof typeof CniErrorCode];

/** A plugin reported an error (or died without one); carries the spec's `code`, `msg` and `details`. */
export class CniError extends Error {
  override readonly name = "CniError";
  readonly code: number;
  readonly msg: string;
  readonly details: string;
  /** The plugin `type` that failed. */
  readonly plugin: string;
  readonly command: CniCommand;
  /** Whether the same call can succeed later (code 11, "try again later"). */
  readonly retryable: boolean;

  constructor(
    detail: {
      readonly code: number;
      readonly msg: string;
      readonly details?: string;
      readonly plugin: string;
      readonly command: CniCommand;
    },
    options?: { readonly cause?: unknown },
  ) {
    const suffix = detail.details === undefined || detail.details === "" ? "" : ` (${detail.details})`;
    super(
      `CNI plugin "${detail.plugin}" failed ${detail.command} with code ${detail.code}: ${detail.msg}${suffix}`,
      options,
    );
    this.code = detail.code;
    this.msg = detail.msg;
    this.details = detail.details ?? "";
    this.plugin = detail.plugin;
    this.command = detail.command;
    this.retryable = detail.code === CniErrorCode.TryAgainLater;
  }
}

/** The runtime side of one CNI call. */
export interface CniInvocation {
  readonly command: CniCommand;
  readonly containerId: string;
  /** Path of the container's network namespace, e.g. `/run/netns/vmnt-pod`. */
  readonly netns: string;
  readonly ifname: string;
  /** CNI_ARGS pairs; `IgnoreUnknown=1` is always added, as kubelet does, so plugins skip keys they do not know. */
  readonly args?: Readonly<Record<string, string>>;
  /** Requested MAC: `runtimeConfig.mac` for plugins with the `mac` capability, and `MAC` in CNI_ARGS. */
  readonly mac?: string;
  /** Extra runtimeConfig entries, passed only to plugins declaring the capability (libcni's rule). */
  readonly capabilityArgs?: Readonly<Record<string, unknown>>;
  /** Directory holding the plugin binaries (CNI_PATH). Default {@link DEFAULT_PLUGIN_DIR}. */
  readonly pluginDir?: string;
  /** Where ADD results are cached for DEL and CHECK (libcni's `results/` cache). Required for DEL/CHECK prevResult. */
  readonly cacheDir?: string;
  /** host-local `dataDir` injected into every host-local IPAM section that sets none, so the host's /var/lib/cni stays untouched. */
  readonly ipamDataDir?: string;
  /** Named namespace the plugin process runs in: host-side veths, bridges and macvlan masters live there. */
  readonly runNetns?: string;
  readonly executor?: Executor;
  readonly timeoutMs?: number;
}

const PATH_ENV = "/usr/sbin:/usr/bin:/sbin:/bin";

/** Normalises a raw network configuration (single plugin or `plugins` list) or a decoded NAD config. */
export function normalizeNetworkConfig(conf: unknown): NetworkConfig {
  const n = normalizeAny(conf);
  if (n.plugins.length === 0) throw new RangeError(`Cannot use CNI network "${n.name}" with an empty plugins list`);
  return n;
}

function normalizeAny(conf: unknown): NetworkConfig {
  if (isCniNetworkConfig(conf)) {
    return {
      cniVersion: conf.cniVersion ?? "0.3.1",
      name: requireName(conf.name),
      plugins: conf.plugins.map((p) => p.raw as CniPluginConf),
    };
  }
  if (!isRecord(conf)) throw new TypeError("Cannot use a CNI network configuration that is not an object");
  const cniVersion = typeof conf.cniVersion === "string" ? conf.cniVersion : "0.3.1";
  const name = requireName(conf.name);
  if (Array.isArray(conf.plugins)) {
    return { cniVersion, name, plugins: conf.plugins.map((p: unknown, i: number) => asPlugin(p, `plugins[${i}]`)) };
  }
  const { cniVersion: _v, name: _n, ...plugin } = conf;
  return { cniVersion, name, plugins: [asPlugin(plugin, "type")] };
}

function isCniNetworkConfig(v: unknown): v is CniNetworkConfig {
  return isRecord(v) && Array.isArray(v.plugins) && v.plugins.every((p: unknown) => isRecord(p) && isRecord(p.raw));
}

function requireName(name: unknown): string {
  if (typeof name !== "string" || name === "") {
    throw new TypeError('Cannot use a CNI network configuration without a "name"');
  }
  return name;
}

function asPlugin(p: unknown, where: string): CniPluginConf {
  if (!isRecord(p) || typeof p.type !== "string" || p.type === "" || p.type.includes("/")) {
    throw new TypeError(`Cannot use CNI plugin configuration "${where}": it needs a plain "type"`);
  }
  return p as CniPluginConf;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Whether `version` is at least `min` (dotted numeric CNI versions). */
export function cniVersionAtLeast(version: string, min: string): boolean {
  const a = version.split(".").map((x) => Number.parseInt(x, 10) || 0);
  const b = min.split(".").map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d > 0;
  }
  return true;
}

/** The CNI_ARGS string: `IgnoreUnknown=1` first, then the pairs in insertion order, `;`-separated. */
export function cniArgsString(args: Readonly<Record<string, string>>, mac?: string): string {
  const pairs: [string, string][] = [["IgnoreUnknown", "1"], ...Object.entries(args)];
  if (mac !== undefined) pairs.push(["MAC", mac]);
  for (const [k, v] of pairs) {
    if (/[;=]/.test(k) || v.includes(";")) throw new RangeError(`Cannot pass CNI argument "${k}=${v}"`);
  }
  return pairs.map(([k, v]) => `${k}=${v}`).join(";");
}

/**
 * The stdin of one plugin of a list (spec "Network configuration lists"): the plugin object plus the list's `name`
 * and `cniVersion`, `prevResult` when given, `runtimeConfig` for declared capabilities, and the lab's IPAM dataDir.
 */
export function pluginStdin(
  network: NetworkConfig,
  plugin: CniPluginConf,
  extra: {
    readonly prevResult?: Readonly<Record<string, unknown>>;
    readonly capabilityArgs?: Readonly<Record<string, unknown>>;
    readonly ipamDataDir?: string;
  } = {},
): Record<string, unknown> {
  const conf: Record<string, unknown> = { ...plugin, cniVersion: network.cniVersion, name: network.name };
  const caps = isRecord(plugin.capabilities) ? plugin.capabilities : {};
  const runtimeConfig: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(extra.capabilityArgs ?? {})) {
    if (caps[k] === true) runtimeConfig[k] = v;
  }
  if (Object.keys(runtimeConfig).length > 0) {
    conf.runtimeConfig = { ...(isRecord(plugin.runtimeConfig) ? plugin.runtimeConfig : {}), ...runtimeConfig };
  }
  if (extra.ipamDataDir !== undefined && isRecord(plugin.ipam) && plugin.ipam.type === "host-local") {
    if (plugin.ipam.dataDir === undefined) conf.ipam = { ...plugin.ipam, dataDir: extra.ipamDataDir };
  }
  if (extra.prevResult !== undefined) conf.prevResult = extra.prevResult;
  return conf;
}

/** Path of libcni's cached ADD result for one attachment. */
export function cachedResultPath(cacheDir: string, network: string, containerId: string, ifname: string): string {
  for (const part of [network, containerId, ifname]) {
    if (part === "" || part.includes("/")) throw new RangeError(`Cannot cache a CNI result under "${part}"`);
  }
  return join(cacheDir, "results", `${network}-${containerId}-${ifname}`);
}

/**
 * Runs every plugin of `conf` for one attachment. ADD runs them in order, each getting the previous plugin's result
 * as `prevResult`, and returns the last result (cached when `cacheDir` is set). DEL runs them in reverse order; CHECK
 * in order; both pass the cached ADD result as `prevResult` from CNI 0.4.0 on, and return `undefined`.
 * DEL removes the cache entry after all plugins succeeded.
 */
export async function invokeCni(conf: unknown, invocation: CniInvocation): Promise<CniResult | undefined> {
  if (invocation.command === CniCommand.Version) {
    throw new TypeError('Cannot run "VERSION" through invokeCni: use cniPluginVersions');
  }
  const network = normalizeNetworkConfig(conf);
  if (invocation.runNetns !== undefined) assertNetnsName(invocation.runNetns);
  const capabilityArgs: Record<string, unknown> = { ...(invocation.capabilityArgs ?? {}) };
  if (invocation.mac !== undefined) capabilityArgs.mac = invocation.mac;
  const cache =
    invocation.cacheDir === undefined
      ? undefined
      : cachedResultPath(invocation.cacheDir, network.name, invocation.containerId, invocation.ifname);
  const withPrev = cniVersionAtLeast(network.cniVersion, "0.4.0");

  if (invocation.command === CniCommand.Add) {
    let prev: CniResult | undefined;
    for (const plugin of network.plugins) {
      const stdin = pluginStdin(network, plugin, {
        capabilityArgs,
        ...(prev === undefined ? {} : { prevResult: prev.raw }),
        ...(invocation.ipamDataDir === undefined ? {} : { ipamDataDir: invocation.ipamDataDir }),
      });
      const out = await runPlugin(plugin.type, stdin, invocation);
      prev = parseCniResult(out, plugin.type, invocation.command);
    }
    if (prev === undefined) throw new RangeError(`Cannot add CNI network "${network.name}" without plugins`);
    if (cache !== undefined) {
      await mkdir(dirname(cache), { recursive: true });
      await writeFile(cache, `${JSON.stringify(prev.raw)}\n`);
    }
    return prev;
  }

  if (invocation.command === CniCommand.Check && !withPrev) {
    throw new CniError({
      code: CniErrorCode.IncompatibleVersion,
      msg: `configuration version "${network.cniVersion}" does not support the CHECK command`,
      plugin: network.plugins[0]?.type ?? "",
      command: invocation.command,
    });
  }
  const cached = withPrev && cache !== undefined ? await readCached(cache) : undefined;
  const order = invocation.command === CniCommand.Del ? [...network.plugins].reverse() : network.plugins;
  for (const plugin of order) {
    const stdin = pluginStdin(network, plugin, {
      capabilityArgs,
      ...(cached === undefined ? {} : { prevResult: cached }),
      ...(invocation.ipamDataDir === undefined ? {} : { ipamDataDir: invocation.ipamDataDir }),
    });
    await runPlugin(plugin.type, stdin, invocation);
  }
  if (invocation.command === CniCommand.Del && cache !== undefined) await rm(cache, { force: true });
  return undefined;
}

async function readCached(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    const parsed: unknown = JSON.parse(await readFile(path, "utf8"));
    return isRecord(parsed) ? parsed : undefined;
  } catch (e) {
    if (isRecord(e) && e.code === "ENOENT") return undefined;
    throw e;
  }
}

async function runPlugin(type: string, stdin: Record<string, unknown>, inv: CniInvocation): Promise<string> {
  return exec(type, stdin, inv, [
    `CNI_CONTAINERID=${inv.containerId}`,
    `CNI_NETNS=${inv.netns}`,
    `CNI_IFNAME=${inv.ifname}`,
    `CNI_ARGS=${cniArgsString(inv.args ?? {}, inv.mac)}`,
  ]);
}

type ExecContext = Pick<CniInvocation, "command" | "pluginDir" | "runNetns" | "executor" | "timeoutMs">;

async function exec(type: string, stdin: unknown, ctx: ExecContext, vars: readonly string[]): Promise<string> {
  const pluginDir = ctx.pluginDir ?? DEFAULT_PLUGIN_DIR;
  // `env -i` gives the plugin exactly the CNI variables (no stray CNI_* from our own environment); the Executor runs
  // it through `ip netns exec` when runNetns is set, so the plugin's host side lands in that namespace.
  const env = [`PATH=${PATH_ENV}`, `CNI_COMMAND=${ctx.command}`, ...vars, `CNI_PATH=${pluginDir}`];
  const executor = ctx.executor ?? hostExecutor;
  const result = await executor.run("env", ["-i", ...env, join(pluginDir, type)], {
    stdin: JSON.stringify(stdin),
    allowFailure: true,
    timeoutMs: ctx.timeoutMs ?? 30_000,
    ...(ctx.runNetns === undefined ? {} : { netns: ctx.runNetns }),
  });
  if (result.code !== 0) {
    throw parseCniError(result.stdout, result.stderr, { plugin: type, command: ctx.command, exitCode: result.code });
  }
  return result.stdout;
}

/** The CNI versions plugin `type` supports (its VERSION answer), run the same way as ADD (`runNetns` included). */
export async function cniPluginVersions(type: string, options: Omit<ExecContext, "command"> = {}): Promise<string[]> {
  asPlugin({ type }, "type");
  const out = await exec(type, { cniVersion: "1.0.0" }, { ...options, command: CniCommand.Version }, []);
  let parsed: unknown;
  try {
    parsed = JSON.parse(out);
  } catch (e) {
    throw new CniError(
      {
        code: CniErrorCode.DecodeFailure,
        msg: "VERSION answer is not JSON",
        plugin: type,
        command: CniCommand.Version,
      },
      { cause: e },
    );
  }
  const versions = isRecord(parsed) ? parsed.supportedVersions : undefined;
  if (!Array.isArray(versions) || !versions.every((v) => typeof v === "string")) {
    throw new CniError({
      code: CniErrorCode.DecodeFailure,
      msg: "VERSION answer has no supportedVersions",
      plugin: type,
      command: CniCommand.Version,
    });
  }
  return versions;
}

/** Turns a failed plugin's output into a {@link CniError}; output that is not error JSON becomes code 999. */
export function parseCniError(
  stdout: string,
  stderr: string,
  context: { readonly plugin: string; readonly command: CniCommand; readonly exitCode: number },
): CniError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    parsed = undefined;
  }
  if (isRecord(parsed) && typeof parsed.code === "number" && typeof parsed.msg === "string") {
    return new CniError({
      code: parsed.code,
      msg: parsed.msg,
      ...(typeof parsed.details === "string" ? { details: parsed.details } : {}),
      plugin: context.plugin,
      command: context.command,
    });
  }
  const text = (stderr.trim() || stdout.trim()).split("\n").slice(-3).join(" ");
  return new CniError({
    code: 999,
    msg: `exited with code ${context.exitCode} without an error result`,
    details: text,
    plugin: context.plugin,
    command: context.command,
  });
}

/** Parses a plugin's ADD output (CNI 0.3.x, 0.4.0 or 1.0.0 result) into a {@link CniResult}. */
export function parseCniResult(stdout: string, plugin: string, command: CniCommand = CniCommand.Add): CniResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch (e) {
    throw new CniError(
      { code: CniErrorCode.DecodeFailure, msg: "result is not JSON", details: stdout.slice(0, 200), plugin, command },
      { cause: e },
    );
  }
  if (!isRecord(parsed)) {
    throw new CniError({ code: CniErrorCode.DecodeFailure, msg: "result is not an object", plugin, command });
  }
  const interfaces = arrayOf(parsed.interfaces).map((i): CniInterface => {
    const o = isRecord(i) ? i : {};
    return {
      name: typeof o.name === "string" ? o.name : "",
      ...(typeof o.mac === "string" ? { mac: o.mac } : {}),
      ...(typeof o.mtu === "number" ? { mtu: o.mtu } : {}),
      ...(typeof o.sandbox === "string" && o.sandbox !== "" ? { sandbox: o.sandbox } : {}),
    };
  });
  const ips = arrayOf(parsed.ips).flatMap((i): CniIp[] => {
    if (!isRecord(i) || typeof i.address !== "string") return [];
    return [
      {
        address: i.address,
        ...(typeof i.gateway === "string" ? { gateway: i.gateway } : {}),
        ...(typeof i.interface === "number" ? { interface: i.interface } : {}),
      },
    ];
  });
  const routes = arrayOf(parsed.routes).flatMap((r): CniRoute[] =>
    isRecord(r) && typeof r.dst === "string" ? [{ dst: r.dst, ...(typeof r.gw === "string" ? { gw: r.gw } : {}) }] : [],
  );
  const d = isRecord(parsed.dns) ? parsed.dns : {};
  const dns: CniDns = {
    ...(strings(d.nameservers) ? { nameservers: d.nameservers } : {}),
    ...(typeof d.domain === "string" ? { domain: d.domain } : {}),
    ...(strings(d.search) ? { search: d.search } : {}),
    ...(strings(d.options) ? { options: d.options } : {}),
  };
  return {
    cniVersion: typeof parsed.cniVersion === "string" ? parsed.cniVersion : "",
    interfaces,
    ips,
    routes,
    dns,
    raw: parsed,
  };
}

function arrayOf(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function strings(v: unknown): v is string[] {
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "string");
}
