/**
 * The lab's stand-in for kubevirt/macvtap-cni: its device plugin (resources configured by `DP_MACVTAP_CONF`, each a
 * lower device, a mode and a capacity) and its CNI plugin (`"type": "macvtap"`), which together put a macvtap device
 * into the pod under the Multus interface name. The device plugin makes the macvtap on the node's lower device and
 * the CNI moves it into the pod, names it, and sets MAC, MTU and promiscuous mode. Here one call does both inside the
 * node namespace, since /usr/lib/cni has no macvtap plugin.
 *
 * The configuration comes from `createPod`'s `macvtapDevicePluginConfig`, else from the `DP_MACVTAP_CONF` environment
 * variable of the process creating the pod (`vmnet up`), as the device plugin's DaemonSet gets it from its ConfigMap,
 * else `[]`, that ConfigMap's default.
 *
 * Allocation is one file per device slot under the node's state directory, created with O_EXCL, so two `vmnet up`
 * processes at once never hand out more devices than the resource's capacity (the kubelet's device accounting).
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Executor } from "../host/exec.ts";
import { assertInterfaceName, type MacvtapMode } from "../host/netlink.ts";
import { type CniResult, cniVersionAtLeast, type NetworkConfig } from "./cni.ts";
import type { LabNode } from "./node.ts";

/** The device plugin's resource prefix: a NAD asks for `macvtap.network.kubevirt.io/<resource name>`. */
export const MACVTAP_RESOURCE_PREFIX = "macvtap.network.kubevirt.io/";
/** The environment variable the device plugin reads its configuration from (its ConfigMap's key). */
export const DP_MACVTAP_CONF_ENV = "DP_MACVTAP_CONF";
/** Capacity of a resource that sets none (macvtap-cni's README: default 100). */
export const DEFAULT_MACVTAP_CAPACITY = 100;

const MODES: readonly MacvtapMode[] = ["bridge", "vepa", "private", "passthru"];

/** One resource of the device plugin. */
export interface MacvtapResource {
  readonly name: string;
  readonly lowerDevice: string;
  readonly mode: MacvtapMode;
  readonly capacity: number;
}

/**
 * A parsed `DP_MACVTAP_CONF`: the listed resources, or `all` for `[]`, which exposes one resource per node
 * interface, named like it (capacity 100, bridge mode).
 */
export type MacvtapDevicePluginConfig =
  | { readonly kind: "listed"; readonly resources: readonly MacvtapResource[] }
  | { readonly kind: "all" };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Parses `DP_MACVTAP_CONF` (a JSON array of `{name, lowerDevice, mode?, capacity?}`). A trailing comma before `]`
 * or `}` is accepted, as the seed's ConfigMap has one. Throws SyntaxError on bad JSON and TypeError/RangeError naming
 * the entry on bad fields or duplicate names.
 */
export function parseMacvtapDevicePluginConfig(text: string): MacvtapDevicePluginConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.replace(/,(\s*[\]}])/g, "$1"));
  } catch (e) {
    throw new SyntaxError(`Cannot parse ${DP_MACVTAP_CONF_ENV} "${text}": ${(e as Error).message}`, { cause: e });
  }
  if (!Array.isArray(parsed)) throw new TypeError(`Cannot use ${DP_MACVTAP_CONF_ENV}: it must be a JSON array`);
  if (parsed.length === 0) return { kind: "all" };
  const resources: MacvtapResource[] = [];
  parsed.forEach((entry: unknown, i: number) => {
    const at = `${DP_MACVTAP_CONF_ENV}[${i}]`;
    if (!isRecord(entry)) throw new TypeError(`Cannot use ${at}: it must be an object`);
    const { name, lowerDevice, mode, capacity } = entry;
    if (typeof name !== "string" || name === "" || name.includes("/")) {
      throw new TypeError(`Cannot use ${at}: "name" must be a non-empty string without "/"`);
    }
    if (typeof lowerDevice !== "string") throw new TypeError(`Cannot use ${at}: "lowerDevice" must be a string`);
    assertInterfaceName(lowerDevice);
    if (mode !== undefined && !MODES.includes(mode as MacvtapMode)) {
      throw new RangeError(`Cannot use ${at}: mode "${String(mode)}" is not one of ${MODES.join(", ")}`);
    }
    if (capacity !== undefined && !(typeof capacity === "number" && Number.isInteger(capacity) && capacity >= 0)) {
      throw new RangeError(`Cannot use ${at}: capacity "${String(capacity)}" is not a non-negative integer`);
    }
    if (resources.some((r) => r.name === name)) throw new RangeError(`Cannot use ${at}: name "${name}" is repeated`);
    resources.push({
      name,
      lowerDevice,
      mode: (mode as MacvtapMode | undefined) ?? "bridge",
      capacity: (capacity as number | undefined) ?? DEFAULT_MACVTAP_CAPACITY,
    });
  });
  return { kind: "listed", resources };
}

/** Why a macvtap device could not be allocated; `retryable` when only the capacity was used up. */
export class MacvtapAllocationError extends Error {
  override readonly name = "MacvtapAllocationError";
  readonly retryable: boolean;
  constructor(message: string, options: { readonly retryable: boolean }) {
    super(message);
    this.retryable = options.retryable;
  }
}

/**
 * The resource a NAD's `resourceName` asks for, checked against the configuration and the node's links (the names
 * `[]` exposes, which the device plugin reads as every link of the node but lo, bridges, macvlans and macvtaps).
 */
export function resolveMacvtapResource(
  config: MacvtapDevicePluginConfig,
  resourceName: string | undefined,
  nodeLinks: readonly string[],
): MacvtapResource {
  if (resourceName === undefined || resourceName === "") {
    throw new MacvtapAllocationError(
      `Cannot allocate a macvtap device: the network attachment definition has no "k8s.v1.cni.cncf.io/resourceName" annotation naming a "${MACVTAP_RESOURCE_PREFIX}<resource>"`,
      { retryable: false },
    );
  }
  const name = resourceName.startsWith(MACVTAP_RESOURCE_PREFIX)
    ? resourceName.slice(MACVTAP_RESOURCE_PREFIX.length)
    : "";
  if (name === "") {
    throw new MacvtapAllocationError(
      `Cannot allocate a macvtap device for resource "${resourceName}": it is not "${MACVTAP_RESOURCE_PREFIX}<resource>"`,
      { retryable: false },
    );
  }
  const exposed =
    config.kind === "all"
      ? nodeLinks.map((l) => ({ name: l, lowerDevice: l, mode: "bridge" as const, capacity: DEFAULT_MACVTAP_CAPACITY }))
      : config.resources;
  const found = exposed.find((r) => r.name === name);
  if (found === undefined) {
    const list = exposed.map((r) => `"${r.name}"`).join(", ") || "none";
    throw new MacvtapAllocationError(
      `Cannot allocate resource "${resourceName}": the macvtap device plugin does not expose it (${DP_MACVTAP_CONF_ENV} exposes ${list}); a pod asking for it stays Pending`,
      { retryable: false },
    );
  }
  if (config.kind === "listed" && !nodeLinks.includes(found.lowerDevice)) {
    throw new MacvtapAllocationError(
      `Cannot allocate resource "${resourceName}": its lower device "${found.lowerDevice}" is not a link of the node`,
      { retryable: false },
    );
  }
  return found;
}

/**
 * Node links `[]` exposes, from `ip -json -details link`: the device plugin offers physical links and bonds, so lo,
 * bridges, macvlan/macvtap children and bridge ports (the pods' host-side veths) are left out.
 */
export function exposableLinks(links: readonly unknown[]): string[] {
  const out: string[] = [];
  for (const l of links) {
    if (!isRecord(l) || typeof l.ifname !== "string" || l.ifname === "lo" || l.master !== undefined) continue;
    const info = isRecord(l.linkinfo) ? l.linkinfo : {};
    const kind = typeof info.info_kind === "string" ? info.info_kind : undefined;
    if (kind === "bridge" || kind === "macvlan" || kind === "macvtap") continue;
    out.push(l.ifname);
  }
  return out;
}

function slotsDir(node: LabNode, resource: string): string {
  return join(node.stateDir, "macvtap-dp", resource);
}

/** The slot owner recorded in a slot file: the pod namespace and interface the device went to. */
function ownerOf(podNetns: string, ifname: string): string {
  return `${podNetns}/${ifname}\n`;
}

async function allocateSlot(node: LabNode, resource: MacvtapResource, owner: string): Promise<string> {
  const dir = slotsDir(node, resource.name);
  await mkdir(dir, { recursive: true });
  for (let i = 0; i < resource.capacity; i++) {
    const path = join(dir, String(i));
    try {
      const fh = await open(path, "wx");
      await fh.writeFile(owner);
      await fh.close();
      return path;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
  }
  throw new MacvtapAllocationError(
    `Cannot allocate resource "${MACVTAP_RESOURCE_PREFIX}${resource.name}": all ${resource.capacity} devices are in use; a pod asking for it stays Pending until one is freed`,
    { retryable: true },
  );
}

/** Frees every slot held by `podNetns/ifname` (any resource). */
async function releaseSlots(node: LabNode, owner: string): Promise<void> {
  const root = join(node.stateDir, "macvtap-dp");
  let resources: string[];
  try {
    resources = await readdir(root);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw e;
  }
  for (const r of resources) {
    for (const slot of await readdir(join(root, r))) {
      const path = join(root, r, slot);
      const text = await readFile(path, "utf8").catch(() => "");
      if (text === owner) await rm(path, { force: true });
    }
  }
}

/** How many devices of each resource are allocated on the node, by resource name. */
export async function macvtapAllocations(node: LabNode): Promise<Record<string, number>> {
  const root = join(node.stateDir, "macvtap-dp");
  const out: Record<string, number> = {};
  let resources: string[] = [];
  try {
    resources = await readdir(root);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  for (const r of resources) out[r] = (await readdir(join(root, r))).length;
  return out;
}

/** The macvtap plugin's settings from a NAD's CNI config (macvtap-cni: `mtu`, `promiscMode`; `deviceID` is ours). */
export interface MacvtapCniConfig {
  readonly mtu?: number;
  readonly promiscMode: boolean;
}

/** Whether a network config is the macvtap CNI (a single `"type": "macvtap"` plugin). Throws when chained. */
export function macvtapCniConfig(config: NetworkConfig): MacvtapCniConfig | undefined {
  const i = config.plugins.findIndex((p) => p.type === "macvtap");
  if (i < 0) return undefined;
  if (config.plugins.length !== 1) {
    throw new TypeError(`Cannot attach CNI network "${config.name}": the lab runs the macvtap plugin only on its own`);
  }
  const p = config.plugins[0] ?? { type: "macvtap" };
  const mtu = p.mtu;
  if (mtu !== undefined && !(typeof mtu === "number" && Number.isInteger(mtu) && mtu > 0)) {
    throw new RangeError(
      `Cannot attach CNI network "${config.name}": macvtap "mtu" "${String(mtu)}" is not a positive integer`,
    );
  }
  return { ...(mtu === undefined ? {} : { mtu }), promiscMode: p.promiscMode === true };
}

/** One macvtap attachment, as pod.ts hands it over. */
export interface MacvtapAttach {
  readonly node: LabNode;
  readonly config: NetworkConfig;
  readonly cni: MacvtapCniConfig;
  /** The NAD's `k8s.v1.cni.cncf.io/resourceName`. */
  readonly resourceName: string | undefined;
  /** `DP_MACVTAP_CONF` text. */
  readonly devicePluginConfig: string;
  readonly podNetns: string;
  readonly podNetnsPath: string;
  readonly ifname: string;
  readonly mac?: string;
}

async function ipJsonOf(executor: Executor, args: readonly string[]): Promise<unknown[]> {
  const { stdout } = await executor.run("ip", ["-json", ...args]);
  const parsed: unknown = JSON.parse(stdout === "" ? "[]" : stdout);
  return Array.isArray(parsed) ? parsed : [];
}

/**
 * ADD: allocates a device of the NAD's resource, makes the macvtap on its lower device in the node, moves it into the
 * pod as `ifname` with the MAC, MTU and promiscuous mode asked for, up, and returns macvtap-cni's result (the one
 * sandbox interface, no IPs). On failure the device and its slot are freed again.
 */
export async function addMacvtap(a: MacvtapAttach): Promise<CniResult> {
  const { node } = a;
  assertInterfaceName(a.ifname);
  const dpConfig = parseMacvtapDevicePluginConfig(a.devicePluginConfig);
  const nodeLinks = exposableLinks(await ipJsonOf(node.executor, ["-n", node.name, "-details", "link", "show"]));
  const resource = resolveMacvtapResource(dpConfig, a.resourceName, nodeLinks);
  const owner = ownerOf(a.podNetns, a.ifname);
  const slot = await allocateSlot(node, resource, owner);
  // The device plugin's own name for the device while it sits in the node; unique per call.
  const tmp = `mvtp${randomBytes(4).toString("hex")}`;
  let moved = false;
  try {
    const mac = a.mac === undefined ? [] : ["address", a.mac];
    await node.executor.run("ip", [
      "-n",
      node.name,
      "link",
      "add",
      "link",
      resource.lowerDevice,
      "name",
      tmp,
      ...mac,
      "type",
      "macvtap",
      "mode",
      resource.mode,
    ]);
    await node.executor.run("ip", ["-n", node.name, "link", "set", "dev", tmp, "netns", a.podNetns]);
    moved = true;
    const mtu = a.cni.mtu === undefined ? [] : ["mtu", String(a.cni.mtu)];
    const promisc = a.cni.promiscMode ? ["promisc", "on"] : [];
    await node.executor.run("ip", ["-n", a.podNetns, "link", "set", "dev", tmp, "name", a.ifname, ...mtu, ...promisc]);
    await node.executor.run("ip", ["-n", a.podNetns, "link", "set", "dev", a.ifname, "up"]);
    const [link] = await ipJsonOf(node.executor, ["-n", a.podNetns, "link", "show", "dev", a.ifname]);
    const macNow = isRecord(link) && typeof link.address === "string" ? link.address : "";
    const mtuNow = isRecord(link) && typeof link.mtu === "number" ? link.mtu : undefined;
    // Interface `mtu` exists in results from CNI 1.1.0 on; older results (the seed's 0.3.1) have none.
    const withMtu = mtuNow !== undefined && cniVersionAtLeast(a.config.cniVersion, "1.1.0");
    const iface = { name: a.ifname, mac: macNow, ...(withMtu ? { mtu: mtuNow } : {}), sandbox: a.podNetnsPath };
    const raw = { cniVersion: a.config.cniVersion, interfaces: [iface], ips: [], dns: {} };
    return { cniVersion: a.config.cniVersion, interfaces: [iface], ips: [], routes: [], dns: {}, raw };
  } catch (e) {
    const where = moved ? ["-n", a.podNetns] : ["-n", node.name];
    for (const name of moved ? [tmp, a.ifname] : [tmp]) {
      await node.executor.run("ip", [...where, "link", "del", "dev", name], { allowFailure: true });
    }
    await rm(slot, { force: true });
    throw e;
  }
}

/**
 * DEL: deletes the pod's macvtap `ifname` if it is still there and frees its device slot. Idempotent, as CNI DEL must
 * be: a missing namespace or link is fine.
 */
export async function deleteMacvtap(
  node: LabNode,
  pod: { readonly podNetns: string; readonly ifname: string },
): Promise<void> {
  const show = ["-n", pod.podNetns, "-json", "-details", "link", "show", "dev", pod.ifname];
  const links = await node.executor.run("ip", show, {
    allowFailure: true,
  });
  if (links.code === 0) {
    const parsed: unknown = JSON.parse(links.stdout === "" ? "[]" : links.stdout);
    const link = Array.isArray(parsed) ? parsed[0] : undefined;
    const kind = isRecord(link) && isRecord(link.linkinfo) ? link.linkinfo.info_kind : undefined;
    // Only a macvtap: vmnet may have renamed links, and DEL must not remove someone else's.
    if (kind === "macvtap") {
      await node.executor.run("ip", ["-n", pod.podNetns, "link", "del", "dev", pod.ifname], { allowFailure: true });
    }
  }
  await releaseSlots(node, ownerOf(pod.podNetns, pod.ifname));
}
