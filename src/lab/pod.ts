/**
 * Lab pods: a network namespace wired the way kubelet + Multus wire a virt-launcher pod. eth0 comes from the cluster
 * network (or a Multus default-network NAD), each secondary NAD is attached under KubeVirt's pod interface name, and
 * the Multus `k8s.v1.cni.cncf.io/network-status` annotation is built from the CNI results.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createNetns, deleteNetns, listNetns, netnsPath } from "../host/netns.ts";
import { hashedPodInterfaceName, PRIMARY_POD_INTERFACE } from "../plan/namescheme.ts";
import { CniCommand, type CniResult, invokeCni, type NetworkConfig, normalizeNetworkConfig } from "./cni.ts";
import { addMacvtap, DP_MACVTAP_CONF_ENV, deleteMacvtap, macvtapCniConfig } from "./macvtap.ts";
import { deleteNode, type LabNode, nodeCniCacheDir, nodeIpamDir, nodePodsDir } from "./node.ts";

/** Multus' pod annotation carrying the attachment results. */
export const NETWORK_STATUS_ANNOTATION = "k8s.v1.cni.cncf.io/network-status";

/** A NetworkAttachmentDefinition as the lab needs it: `config` is a raw CNI config or a decoded one (api/nad.ts). */
export interface LabNad {
  readonly name: string;
  /** Absent means the pod's namespace, as Multus resolves it. */
  readonly namespace?: string;
  readonly config?: unknown;
  /** `k8s.v1.cni.cncf.io/resourceName`: the device-plugin resource a macvtap (or SR-IOV) attachment needs. */
  readonly resourceName?: string;
}

/** One Multus attachment of a pod. */
export interface PodAttachmentRequest {
  readonly nad: LabNad;
  /** KubeVirt network name (`spec.networks[].name`); the pod interface name is hashed from it. */
  readonly networkName: string;
  /** Pod interface; default KubeVirt's hashed `pod<11 hex>` (secondaries) or `eth0` (default network). */
  readonly ifname?: string;
  /** Requested MAC (the networks annotation's `mac`). */
  readonly mac?: string;
}

/** DNS as kubelet writes the pod's resolv.conf. */
export interface PodDnsConfig {
  readonly nameservers: readonly string[];
  readonly searches: readonly string[];
  readonly options: readonly string[];
}

/** Options for {@link createPod}. */
export interface CreatePodOptions {
  readonly node: LabNode;
  /** Pod name; the pod's namespace is `<node>-<name>`. */
  readonly name: string;
  /** Kubernetes namespace. Default `default`. */
  readonly namespace?: string;
  /** The cluster network giving eth0 (see `clusterNetworkConfig`); undefined when `defaultNetwork` replaces it. */
  readonly primary: NetworkConfig | undefined;
  /** Multus default network (`v1.multus-cni.io/default-network`): eth0 comes from this NAD instead. */
  readonly defaultNetwork?: PodAttachmentRequest;
  readonly secondaries?: readonly PodAttachmentRequest[];
  /** Default: kubelet's ClusterFirst for the pod's namespace with cluster DNS 10.96.0.10. */
  readonly dns?: PodDnsConfig;
  /** Default: the pod name. */
  readonly hostname?: string;
  /**
   * The macvtap device plugin's `DP_MACVTAP_CONF` (JSON array; `[]` exposes every node interface). Default: the
   * `DP_MACVTAP_CONF` environment variable, else `[]`, the device plugin's default ConfigMap.
   */
  readonly macvtapDevicePluginConfig?: string;
}

/** One attachment that was added (ADD succeeded), in ADD order. */
export interface PodAttachment {
  /** Name in network-status: the cluster network's name, or `<namespace>/<nad>` for NADs. */
  readonly statusName: string;
  /** KubeVirt network name, when the attachment came from a NAD request. */
  readonly networkName?: string;
  readonly ifname: string;
  readonly isDefault: boolean;
  readonly mac?: string;
  /** The NAD's device-plugin resource, when it names one. */
  readonly resourceName?: string;
  readonly config: NetworkConfig;
  readonly result: CniResult;
}

/** A lab pod. */
export interface LabPod {
  readonly name: string;
  readonly namespace: string;
  /** Name of the pod's network namespace. */
  readonly netns: string;
  readonly netnsPath: string;
  /** The sandbox id passed as CNI_CONTAINERID. */
  readonly containerId: string;
  readonly uid: string;
  /** Pod-private directory: `resolv.conf`, `hostname`, `network-status.json`, `pod.json`. */
  readonly dir: string;
  /** The file the dataplane reads as the pod's /etc/resolv.conf. */
  readonly resolvConfPath: string;
  readonly hostnamePath: string;
  readonly attachments: readonly PodAttachment[];
  /** The `k8s.v1.cni.cncf.io/network-status` annotation value, byte for byte as Multus writes it. */
  readonly networkStatus: string;
}

/** One entry of the network-status annotation (field order as Multus' Go struct). */
export interface NetworkStatusEntry {
  readonly name: string;
  readonly interface?: string;
  readonly ips?: readonly string[];
  readonly mac?: string;
  readonly mtu?: number;
  readonly default?: boolean;
  readonly dns: {
    readonly nameservers?: readonly string[];
    readonly domain?: string;
    readonly search?: readonly string[];
    readonly options?: readonly string[];
  };
  readonly "device-info"?: Readonly<Record<string, unknown>>;
  readonly gateway?: readonly string[];
}

/** One or more steps of {@link deletePod} failed; the namespace and pod directory were removed anyway. */
export class PodTeardownError extends AggregateError {
  override readonly name = "PodTeardownError";
}

/** kubelet's ClusterFirst resolv.conf contents for a pod in `namespace`. */
export function clusterFirstDns(namespace: string, clusterDns = "10.96.0.10"): PodDnsConfig {
  return {
    nameservers: [clusterDns],
    searches: [`${namespace}.svc.cluster.local`, "svc.cluster.local", "cluster.local"],
    options: ["ndots:5"],
  };
}

/** resolv.conf text in kubelet's layout (search, nameserver, options lines). */
export function renderResolvConf(dns: PodDnsConfig): string {
  const lines: string[] = [];
  if (dns.searches.length > 0) lines.push(`search ${dns.searches.join(" ")}`);
  for (const ns of dns.nameservers) lines.push(`nameserver ${ns}`);
  if (dns.options.length > 0) lines.push(`options ${dns.options.join(" ")}`);
  return `${lines.join("\n")}\n`;
}

/**
 * The network-status entry Multus builds from one attachment's result (CreateNetworkStatus): interface and MAC of the
 * (last) interface with a sandbox, every IP without its prefix, the result's DNS, and the gateways of default routes.
 */
export function networkStatusEntry(result: CniResult, name: string, isDefault: boolean): NetworkStatusEntry {
  let iface: { name: string; mac?: string; mtu?: number } | undefined;
  for (const i of result.interfaces) if (i.sandbox !== undefined) iface = i;
  const ips = result.ips.map((ip) => stripPrefix(ip.address));
  const gateway = result.routes
    .filter((r) => (r.dst === "0.0.0.0/0" || r.dst === "::/0") && r.gw !== undefined)
    .map((r) => r.gw ?? "");
  const dns = {
    ...(result.dns.nameservers === undefined ? {} : { nameservers: result.dns.nameservers }),
    ...(result.dns.domain === undefined ? {} : { domain: result.dns.domain }),
    ...(result.dns.search === undefined ? {} : { search: result.dns.search }),
    ...(result.dns.options === undefined ? {} : { options: result.dns.options }),
  };
  return {
    name,
    ...(iface === undefined || iface.name === "" ? {} : { interface: iface.name }),
    ...(ips.length === 0 ? {} : { ips }),
    ...(iface?.mac === undefined || iface.mac === "" ? {} : { mac: iface.mac }),
    ...(iface?.mtu === undefined || iface.mtu === 0 ? {} : { mtu: iface.mtu }),
    ...(isDefault ? { default: true } : {}),
    dns,
    ...(gateway.length === 0 ? {} : { gateway }),
  };
}

function stripPrefix(cidr: string): string {
  const slash = cidr.indexOf("/");
  return slash < 0 ? cidr : cidr.slice(0, slash);
}

/**
 * The annotation text exactly as Multus writes it (SetNetworkStatus): each entry `json.MarshalIndent`ed with four
 * spaces, joined with "," inside "[...]", with Go's HTML-safe escaping of `<`, `>` and `&`.
 */
export function renderNetworkStatus(entries: readonly NetworkStatusEntry[]): string {
  return `[${entries.map((e) => goEscape(JSON.stringify(e, undefined, 4))).join(",")}]`;
}

// encoding/json escapes these even inside strings; JSON.stringify does not.
function goEscape(json: string): string {
  return json
    .replaceAll("<", "\\u003c")
    .replaceAll(">", "\\u003e")
    .replaceAll("&", "\\u0026")
    .replaceAll("\u2028", "\\u2028")
    .replaceAll("\u2029", "\\u2029");
}

/** Name of a pod's network namespace on `node`. */
export function podNetnsName(node: LabNode, podName: string): string {
  return `${node.name}-${podName}`;
}

/** The pod-private directory of `podName` on `node`. */
export function podDir(node: LabNode, podName: string): string {
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(podName)) {
    throw new RangeError(`Invalid pod name "${podName}": it must be a DNS-1123 subdomain`);
  }
  return join(nodePodsDir(node), podName);
}

/** An attachment before its CNI ADD. */
type PlannedAttachment = Omit<PodAttachment, "result">;

function nadConfig(
  nad: LabNad,
  podNamespace: string,
): { statusName: string; config: NetworkConfig; resourceName?: string } {
  const ns = nad.namespace ?? podNamespace;
  if (nad.config === undefined) {
    throw new TypeError(`Cannot attach network attachment definition "${ns}/${nad.name}": it has no CNI config`);
  }
  return {
    statusName: `${ns}/${nad.name}`,
    config: normalizeNetworkConfig(nad.config),
    ...(nad.resourceName === undefined ? {} : { resourceName: nad.resourceName }),
  };
}

/** A NAD attachment: eth0 for the Multus default network, else a secondary under KubeVirt's hashed name. */
function nadAttachment(s: PodAttachmentRequest, namespace: string, isDefault: boolean): PlannedAttachment {
  return {
    ...nadConfig(s.nad, namespace),
    networkName: s.networkName,
    ifname: s.ifname ?? (isDefault ? PRIMARY_POD_INTERFACE : hashedPodInterfaceName(s.networkName).value),
    isDefault,
    ...(s.mac === undefined ? {} : { mac: s.mac }),
  };
}

function planAttachments(options: CreatePodOptions, namespace: string): PlannedAttachment[] {
  const planned: PlannedAttachment[] = [];
  if (options.primary !== undefined && options.defaultNetwork !== undefined) {
    throw new TypeError("Cannot use both a cluster network and a Multus default network for eth0");
  }
  if (options.primary !== undefined) {
    const config = normalizeNetworkConfig(options.primary);
    planned.push({ statusName: config.name, ifname: PRIMARY_POD_INTERFACE, isDefault: true, config });
  } else if (options.defaultNetwork !== undefined) {
    planned.push(nadAttachment(options.defaultNetwork, namespace, true));
  }
  for (const s of options.secondaries ?? []) planned.push(nadAttachment(s, namespace, false));
  const seen = new Set<string>();
  for (const p of planned) {
    if (seen.has(p.ifname)) throw new RangeError(`Cannot attach two networks as pod interface "${p.ifname}"`);
    seen.add(p.ifname);
  }
  return planned;
}

interface PodRecord {
  readonly name: string;
  readonly namespace: string;
  readonly netns: string;
  readonly containerId: string;
  readonly uid: string;
  readonly attachments: readonly PodAttachment[];
}

function cniArgs(rec: { name: string; namespace: string; containerId: string; uid: string }): Record<string, string> {
  // What kubelet's dockershim/CRI passes to the pod network (and Multus to its delegates).
  return {
    K8S_POD_NAMESPACE: rec.namespace,
    K8S_POD_NAME: rec.name,
    K8S_POD_INFRA_CONTAINER_ID: rec.containerId,
    K8S_POD_UID: rec.uid,
  };
}

/** The device plugin configuration a pod's attachments are allocated from. */
function devicePluginConfigOf(options: { readonly macvtapDevicePluginConfig?: string }): string {
  return options.macvtapDevicePluginConfig ?? process.env[DP_MACVTAP_CONF_ENV] ?? "[]";
}

async function cni(
  node: LabNode,
  rec: PodRecord | Omit<PodRecord, "attachments">,
  a: PlannedAttachment,
  command: CniCommand,
  devicePluginConfig = "[]",
): Promise<CniResult | undefined> {
  // /usr/lib/cni has no macvtap plugin: the lab plays macvtap-cni and its device plugin itself (lab/macvtap.ts).
  const macvtap = macvtapCniConfig(a.config);
  if (macvtap !== undefined) {
    if (command === CniCommand.Del) {
      await deleteMacvtap(node, { podNetns: rec.netns, ifname: a.ifname });
      return undefined;
    }
    if (command !== CniCommand.Add) return undefined;
    return addMacvtap({
      node,
      config: a.config,
      cni: macvtap,
      resourceName: a.resourceName,
      devicePluginConfig,
      podNetns: rec.netns,
      podNetnsPath: netnsPath(rec.netns),
      ifname: a.ifname,
      ...(a.mac === undefined ? {} : { mac: a.mac }),
    });
  }
  return invokeCni(a.config, {
    command,
    containerId: rec.containerId,
    netns: netnsPath(rec.netns),
    ifname: a.ifname,
    args: cniArgs(rec),
    ...(a.mac === undefined ? {} : { mac: a.mac }),
    pluginDir: node.pluginDir,
    cacheDir: nodeCniCacheDir(node),
    ipamDataDir: nodeIpamDir(node),
    runNetns: node.name,
    executor: node.executor,
  });
}

/** CNI ADD of one attachment; a failed ADD is undone with DEL (also for the failed attachment, as runtimes do). */
async function add(
  node: LabNode,
  rec: Omit<PodRecord, "attachments">,
  a: PlannedAttachment,
  devicePluginConfig: string,
): Promise<PodAttachment> {
  let result: CniResult | undefined;
  try {
    result = await cni(node, rec, a, CniCommand.Add, devicePluginConfig);
  } catch (e) {
    await cni(node, rec, a, CniCommand.Del).catch(() => {});
    throw e;
  }
  if (result === undefined) throw new Error(`CNI ADD of "${a.statusName}" returned no result`);
  return { ...a, result };
}

/**
 * Creates the pod: its namespace (loopback up, as the runtime's `loopback` plugin would), eth0, every secondary in
 * order, the resolv.conf and hostname files and the network-status annotation. When a step fails, everything done so
 * far is torn down (CNI DEL, also for the failed attachment, as runtimes do) and the error is rethrown.
 */
export async function createPod(options: CreatePodOptions): Promise<LabPod> {
  const { node } = options;
  const namespace = options.namespace ?? "default";
  const dir = podDir(node, options.name);
  const planned = planAttachments(options, namespace);
  const netns = podNetnsName(node, options.name);
  const base = {
    name: options.name,
    namespace,
    netns,
    containerId: randomBytes(32).toString("hex"),
    uid: randomUUID(),
  };
  await mkdir(dir, { recursive: false }).catch((e: unknown) => {
    if (e instanceof Error && "code" in e && e.code === "EEXIST") {
      throw new RangeError(`Cannot create pod "${options.name}": it exists on node "${node.name}"`);
    }
    throw e;
  });
  const attachments: PodAttachment[] = [];
  let created = false;
  try {
    await createNetns(netns, { executor: node.executor });
    created = true;
    for (const a of planned) attachments.push(await add(node, base, a, devicePluginConfigOf(options)));
    return await writePodFiles(node, { ...base, attachments }, options);
  } catch (e) {
    const rec: PodRecord = { ...base, attachments };
    await teardown(node, rec, created).catch(() => {});
    throw e;
  }
}

async function writePodFiles(node: LabNode, rec: PodRecord, options: CreatePodOptions): Promise<LabPod> {
  const dir = podDir(node, rec.name);
  await writeFile(join(dir, "resolv.conf"), renderResolvConf(options.dns ?? clusterFirstDns(rec.namespace)));
  await writeFile(join(dir, "hostname"), `${options.hostname ?? rec.name}\n`);
  return saveRecord(node, rec);
}

function podFromRecord(node: LabNode, rec: PodRecord, networkStatus: string): LabPod {
  const dir = podDir(node, rec.name);
  return {
    ...rec,
    netnsPath: netnsPath(rec.netns),
    dir,
    resolvConfPath: join(dir, "resolv.conf"),
    hostnamePath: join(dir, "hostname"),
    networkStatus,
  };
}

async function saveRecord(node: LabNode, rec: PodRecord): Promise<LabPod> {
  const dir = podDir(node, rec.name);
  const networkStatus = renderNetworkStatus(
    rec.attachments.map((a) => networkStatusEntry(a.result, a.statusName, a.isDefault)),
  );
  await writeFile(join(dir, "network-status.json"), networkStatus);
  await writeFile(join(dir, "pod.json"), `${JSON.stringify(rec, undefined, 2)}\n`);
  return podFromRecord(node, rec, networkStatus);
}

function recordOf(pod: LabPod): PodRecord {
  return {
    name: pod.name,
    namespace: pod.namespace,
    netns: pod.netns,
    containerId: pod.containerId,
    uid: pod.uid,
    attachments: pod.attachments,
  };
}

/**
 * Adds one Multus secondary attachment to an existing pod (a NIC hotplug: Multus' dynamic attachment), appended to
 * the network-status annotation and the pod record. A failed ADD is undone with DEL, as at pod creation. Returns the
 * updated pod; the caller's `pod` object is stale afterwards.
 */
export async function attachNetwork(
  node: LabNode,
  pod: LabPod,
  attachment: PodAttachmentRequest,
  options: { readonly macvtapDevicePluginConfig?: string } = {},
): Promise<LabPod> {
  const a = nadAttachment(attachment, pod.namespace, false);
  if (pod.attachments.some((x) => x.ifname === a.ifname)) {
    throw new RangeError(`Cannot attach two networks as pod interface "${a.ifname}"`);
  }
  const rec = recordOf(pod);
  const added = await add(node, rec, a, devicePluginConfigOf(options));
  return saveRecord(node, { ...rec, attachments: [...rec.attachments, added] });
}

/**
 * Removes one secondary attachment (by KubeVirt network name or pod interface name) from an existing pod: CNI DEL,
 * then the network-status annotation and record without it. Returns the updated pod. Throws RangeError when the pod
 * has no such secondary attachment; the default network (eth0) cannot be detached.
 */
export async function detachNetwork(node: LabNode, pod: LabPod, name: string): Promise<LabPod> {
  const a = pod.attachments.find((x) => !x.isDefault && (x.networkName === name || x.ifname === name));
  if (a === undefined) {
    throw new RangeError(`Cannot detach network "${name}" from pod "${pod.namespace}/${pod.name}": it is not attached`);
  }
  const rec = recordOf(pod);
  await cni(node, rec, a, CniCommand.Del);
  return saveRecord(node, { ...rec, attachments: rec.attachments.filter((x) => x !== a) });
}

/** Reads back a pod created earlier on `node` (e.g. by another `vmnet lab` invocation). */
export async function loadPod(node: LabNode, podName: string): Promise<LabPod> {
  const dir = podDir(node, podName);
  const rec = JSON.parse(await readFile(join(dir, "pod.json"), "utf8")) as PodRecord;
  const networkStatus = await readFile(join(dir, "network-status.json"), "utf8");
  return podFromRecord(node, rec, networkStatus);
}

/**
 * Deletes the pod: CNI DEL for every attachment in reverse ADD order (secondaries last-first, then eth0, as Multus
 * does), then the namespace and the pod directory, always. Failed steps are collected into a
 * {@link PodTeardownError} thrown at the end.
 */
export async function deletePod(node: LabNode, pod: LabPod): Promise<void> {
  await teardown(node, pod, true);
}

async function teardown(node: LabNode, rec: PodRecord, netnsCreated: boolean): Promise<void> {
  const errors: unknown[] = [];
  for (const a of [...rec.attachments].reverse()) {
    try {
      await cni(node, rec, a, CniCommand.Del);
    } catch (e) {
      errors.push(e);
    }
  }
  if (netnsCreated) {
    try {
      const left = await listNetns({ executor: node.executor });
      if (left.includes(rec.netns)) await deleteNetns(rec.netns, { executor: node.executor });
    } catch (e) {
      errors.push(e);
    }
  }
  try {
    await rm(podDir(node, rec.name), { recursive: true, force: true });
  } catch (e) {
    errors.push(e);
  }
  if (errors.length > 0) {
    throw new PodTeardownError(errors, `Cannot fully delete pod "${rec.namespace}/${rec.name}" on node "${node.name}"`);
  }
}

/**
 * Tears the whole lab node down (`vmnet lab destroy`): every recorded pod through {@link deletePod}, any namespace
 * still named `<node>-*`, then the node. Keeps going past failures and reports them together at the end.
 */
export async function destroyNode(node: LabNode): Promise<void> {
  const errors: unknown[] = [];
  let podNames: string[] = [];
  try {
    podNames = await readdir(nodePodsDir(node));
  } catch (e) {
    if (!(e instanceof Error && "code" in e && e.code === "ENOENT")) errors.push(e);
  }
  for (const name of podNames) {
    try {
      await deletePod(node, await loadPod(node, name));
    } catch (e) {
      errors.push(e);
    }
  }
  try {
    const prefix = `${node.name}-`;
    for (const ns of await listNetns({ executor: node.executor })) {
      if (ns.startsWith(prefix)) await deleteNetns(ns, { executor: node.executor });
    }
  } catch (e) {
    errors.push(e);
  }
  try {
    await deleteNode(node);
  } catch (e) {
    errors.push(e);
  }
  if (errors.length > 0) throw new PodTeardownError(errors, `Cannot fully destroy lab node "${node.name}"`);
}
