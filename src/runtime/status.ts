/**
 * `status.interfaces` computed as KubeVirt computes it (reference kubevirt-network.md §1.8, §8.4): virt-handler's
 * `NetStat.UpdateStatus` from the domain, the pod-interface cache and the guest agent, then virt-controller's
 * `UpdateVMIStatus` from the Multus network-status. Pure: the caller gathers the facts (QMP, QGA, the pod annotation).
 */
import { stringify } from "yaml";
import { isIPv4, stripZone, tryParseIpv6 } from "../api/ip.ts";
import type { VmNetworkModel } from "../api/model.ts";
import { BindingKind, LinkState, primaryNetwork } from "../api/model.ts";
import { kubevirtPodInterfaceNames, PRIMARY_POD_INTERFACE } from "../plan/namescheme.ts";
import type { NetworkPlan } from "../plan/plan.ts";

/** The origins `infoSource` lists, comma+space joined in the order they were added. */
export const InfoSource = { Domain: "domain", GuestAgent: "guest-agent", MultusStatus: "multus-status" } as const;
export type InfoSource = (typeof InfoSource)[keyof typeof InfoSource];

/** Output formats of {@link renderStatus}. */
export const StatusFormat = { Yaml: "yaml", Json: "json" } as const;
export type StatusFormat = (typeof StatusFormat)[keyof typeof StatusFormat];

/**
 * One `status.interfaces[]` entry (`VirtualMachineInstanceNetworkInterface`), empty fields omitted as Go's `omitempty`
 * omits them.
 */
export interface VmiInterfaceStatus {
  readonly ipAddress?: string;
  readonly mac?: string;
  readonly name?: string;
  readonly ipAddresses?: readonly string[];
  readonly podInterfaceName?: string;
  readonly interfaceName?: string;
  readonly infoSource?: string;
  readonly queueCount?: number;
  readonly linkState?: string;
}

/** A domain `<interface>` as the running hypervisor reports it (qmp.ts `DomainInterfaceStatus` fits). */
export interface DomainNic {
  readonly kind?: "interface";
  /** The alias without `ua-`, i.e. the VM interface name. */
  readonly name: string;
  readonly mac: string;
  /** `<driver queues>`; anything below 1 means not set. */
  readonly queueCount: number;
  readonly linkState: "up" | "down";
}

/** A domain `<hostdev>`; only aliases `ua-sriov-<name>` (KubeVirt's SR-IOV prefix) become status entries. */
export interface DomainHostDevice {
  readonly kind: "hostdev";
  /** The libvirt alias as written in the domain, `ua-sriov-<interface name>`. */
  readonly alias: string;
}

/** One device of the domain. */
export type DomainInterface = DomainNic | DomainHostDevice;

/** One address of a guest interface (qga.ts `GuestIpAddress` fits). */
export interface GuestAddress {
  readonly type: "ipv4" | "ipv6";
  readonly address: string;
  readonly prefix: number;
}

/** One interface of `guest-network-get-interfaces` (qga.ts `GuestInterface` fits). */
export interface GuestInterface {
  readonly name: string;
  readonly hardwareAddress?: string;
  readonly ipAddresses: readonly GuestAddress[];
}

/** The parts of a Multus network-status entry KubeVirt reads (lab/pod.ts `NetworkStatusEntry` fits). */
export interface MultusNetworkStatusEntry {
  readonly name: string;
  readonly interface?: string;
  readonly default?: boolean;
}

/** Input of {@link interfaceStatuses}. */
export interface InterfaceStatusInput {
  readonly model: VmNetworkModel;
  /** The plan's `podIPs` per interface is the pod-interface cache (§5.8). */
  readonly plan: NetworkPlan;
  /** Domain NICs in domain order, plus hostdevs. */
  readonly domain: readonly DomainInterface[];
  /** Absent when the guest agent is not connected. */
  readonly guestAgent?: readonly GuestInterface[];
  /** The pod's network-status; absent skips virt-controller's part. */
  readonly networkStatus?: readonly MultusNetworkStatusEntry[];
  /** The status written last time. */
  readonly previous?: readonly VmiInterfaceStatus[];
  /** virt-handler's `MY_POD_IP`: its family goes first in dual-stack cache IPs. */
  readonly podIP?: string;
}

/** Guest-agent-only interfaces KubeVirt reports at most. */
export const MAX_GUEST_AGENT_ONLY_INTERFACES = 10;

const SRIOV_ALIAS_PREFIX = "sriov-";
const USER_ALIAS_PREFIX = "ua-";
/** qemu-ga reports the loopback with an all-zero hardware address; it is no NIC of the domain. */
const ZERO_MAC = "00:00:00:00:00:00";

/** Go-like working copy: empty string and 0 mean unset, as in the Go struct. */
interface Entry {
  name: string;
  ips: string[];
  mac: string;
  podInterfaceName: string;
  interfaceName: string;
  infoSource: string;
  queueCount: number;
  linkState: string;
}

function entry(fields: Partial<Entry>): Entry {
  return {
    name: "",
    ips: [],
    mac: "",
    podInterfaceName: "",
    interfaceName: "",
    infoSource: "",
    queueCount: 0,
    linkState: "",
    ...fields,
  };
}

function sourcesOf(infoSource: string): string[] {
  return infoSource === "" ? [] : infoSource.split(", ");
}

/** `infoSource` with `source` added at the end; adding one already there changes nothing. */
export function addInfoSource(infoSource: string, source: InfoSource): string {
  const sources = sourcesOf(infoSource);
  return sources.includes(source) ? infoSource : [...sources, source].join(", ");
}

/** `infoSource` without `source`, the others in their order. */
export function removeInfoSource(infoSource: string, source: InfoSource): string {
  return sourcesOf(infoSource)
    .filter((s) => s !== source)
    .join(", ");
}

function isV6LinkLocal(ip: string): boolean {
  if (isIPv4(ip)) return false;
  const bytes = tryParseIpv6(stripZone(ip));
  return bytes !== undefined && bytes[0] === 0xfe && ((bytes[1] ?? 0) & 0xc0) === 0x80;
}

/** Per family, the guest's IPs win only when the status had none of that family or the guest has none; v4 first. */
function mergeIps(status: readonly string[], guest: readonly string[]): string[] {
  const pick = (v4: boolean): readonly string[] => {
    const s = status.filter((ip) => isIPv4(ip) === v4);
    const g = guest.filter((ip) => isIPv4(ip) === v4);
    return s.length === 0 || g.length === 0 ? g : s;
  };
  return [...pick(true), ...pick(false)];
}

/** The cached pod IPs of an interface, the family of `MY_POD_IP` first (a stable partition). */
function cachedIps(podIPs: readonly string[], podIP: string | undefined, dropV6: boolean): string[] {
  const ips = dropV6 ? podIPs.filter(isIPv4) : [...podIPs];
  if (podIP === undefined) return ips;
  const v4First = isIPv4(podIP);
  return [...ips.filter((ip) => isIPv4(ip) === v4First), ...ips.filter((ip) => isIPv4(ip) !== v4First)];
}

/** The Go struct's field order (`VirtualMachineInstanceNetworkInterface` in kubevirt.io/api core/v1). */
const FIELD_ORDER = [
  "ipAddress",
  "mac",
  "name",
  "ipAddresses",
  "podInterfaceName",
  "interfaceName",
  "infoSource",
  "queueCount",
  "linkState",
] as const satisfies readonly (keyof VmiInterfaceStatus)[];

/** `s` with keys in Go order and the values `omitempty` drops (empty string, empty list, 0) left out. */
function ordered(s: VmiInterfaceStatus): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of FIELD_ORDER) {
    const v = s[key];
    if (v === undefined || v === "" || v === 0 || (Array.isArray(v) && v.length === 0)) continue;
    out[key] = Array.isArray(v) ? [...v] : v;
  }
  return out;
}

function toStatus(e: Entry): VmiInterfaceStatus {
  return {
    ...(e.ips[0] === undefined ? {} : { ipAddress: e.ips[0] }),
    ...(e.mac === "" ? {} : { mac: e.mac }),
    ...(e.name === "" ? {} : { name: e.name }),
    ...(e.ips.length === 0 ? {} : { ipAddresses: [...e.ips] }),
    ...(e.podInterfaceName === "" ? {} : { podInterfaceName: e.podInterfaceName }),
    ...(e.interfaceName === "" ? {} : { interfaceName: e.interfaceName }),
    ...(e.infoSource === "" ? {} : { infoSource: e.infoSource }),
    ...(e.queueCount === 0 ? {} : { queueCount: e.queueCount }),
    ...(e.linkState === "" ? {} : { linkState: e.linkState }),
  };
}

/** virt-handler's `NetStat.UpdateStatus` (§8.4 steps 1–7). */
function handlerStatuses(input: InterfaceStatusInput): Entry[] {
  const { model, plan } = input;
  const specByName = new Map(model.interfaces.map((i) => [i.name, i]));
  const previous = input.previous ?? [];
  const prevByName = (name: string): VmiInterfaceStatus | undefined => previous.find((p) => p.name === name);

  // 1. Domain NICs.
  const out: Entry[] = [];
  for (const d of input.domain) {
    if (d.kind === "hostdev") continue;
    out.push(
      entry({
        name: d.name,
        mac: d.mac,
        infoSource: InfoSource.Domain,
        queueCount: Number.isInteger(d.queueCount) && d.queueCount > 0 ? d.queueCount : 1,
        linkState: d.linkState,
      }),
    );
  }
  // 2. SR-IOV hostdevs: no MAC in the domain, so the spec's (possibly none).
  for (const d of input.domain) {
    if (d.kind !== "hostdev") continue;
    const alias = d.alias.startsWith(USER_ALIAS_PREFIX) ? d.alias.slice(USER_ALIAS_PREFIX.length) : d.alias;
    if (!alias.startsWith(SRIOV_ALIAS_PREFIX)) continue;
    const name = alias.slice(SRIOV_ALIAS_PREFIX.length);
    out.push(entry({ name, mac: specByName.get(name)?.macAddress ?? "", infoSource: InfoSource.Domain }));
  }
  // Absent interfaces are being unplugged: KubeVirt drops them from its cache and status.
  const kept = out.filter((e) => specByName.get(e.name)?.state !== LinkState.Absent);

  // 3. Pod-interface cache; interfaces without one (SR-IOV) have no cached IPs.
  for (const e of kept) {
    const spec = specByName.get(e.name);
    if (spec === undefined) continue;
    const cached = plan.interfaces.find((p) => p.name === e.name);
    e.ips = cachedIps(cached?.podIPs ?? [], input.podIP, spec.binding.kind === BindingKind.Bridge);
  }

  // 4. Guest agent, matched by exact MAC against what the domain reported.
  const domainEntries = [...kept];
  let guestOnly = 0;
  for (const g of input.guestAgent ?? []) {
    const mac = g.hardwareAddress ?? "";
    if (mac === "" || mac === ZERO_MAC) continue;
    const guestIps = g.ipAddresses.map((a) => a.address);
    const match = domainEntries.find((e) => e.mac === mac);
    if (match) {
      const masquerade = specByName.get(match.name)?.binding.kind === BindingKind.Masquerade;
      match.interfaceName = g.name;
      match.ips = mergeIps(match.ips, masquerade ? guestIps.filter((ip) => !isV6LinkLocal(ip)) : guestIps);
      // An old launcher sent guest data without the interface name; KubeVirt then keeps the source as it was.
      if (g.name !== "") match.infoSource = addInfoSource(match.infoSource, InfoSource.GuestAgent);
    } else if (guestOnly < MAX_GUEST_AGENT_ONLY_INTERFACES) {
      guestOnly++;
      kept.push(entry({ mac, ips: guestIps, interfaceName: g.name, infoSource: InfoSource.GuestAgent }));
    }
  }

  // 5. The primary first, re-created as `{name}` when the domain lost it but the last status had it.
  const primary = primaryNetwork(model);
  if (primary && specByName.get(primary.name)?.state !== LinkState.Absent) {
    const at = kept.findIndex((e) => e.name === primary.name);
    if (at > 0) kept.unshift(...kept.splice(at, 1));
    else if (at < 0 && prevByName(primary.name)) kept.unshift(entry({ name: primary.name }));
  }

  for (const e of kept) {
    if (e.name === "") continue;
    const prev = prevByName(e.name);
    if (!prev) continue;
    // 6. multus-status is virt-controller's to set; the handler carries it over.
    if (specByName.has(e.name) && sourcesOf(prev.infoSource ?? "").includes(InfoSource.MultusStatus)) {
      e.infoSource = addInfoSource(e.infoSource, InfoSource.MultusStatus);
    }
    // 7. So is podInterfaceName.
    if (prev.podInterfaceName) e.podInterfaceName = prev.podInterfaceName;
  }
  return kept;
}

/** virt-controller's `UpdateVMIStatus` part: podInterfaceName and multus-status from the network-status (§4.3, §8.4). */
function controllerStatuses(
  model: VmNetworkModel,
  current: readonly Entry[],
  networkStatus: readonly MultusNetworkStatusEntry[],
): Entry[] {
  const absent = new Set(model.interfaces.filter((i) => i.state === LinkState.Absent).map((i) => i.name));
  const specNetworks = new Set(model.networks.map((n) => n.name));
  const byName = (name: string): Entry | undefined => current.find((e) => e.name === name);
  const out: Entry[] = [];

  const primary = primaryNetwork(model);
  if (primary && !absent.has(primary.name)) {
    const e = byName(primary.name) ?? entry({ name: primary.name });
    e.podInterfaceName = networkStatus.find((s) => s.default === true)?.interface || PRIMARY_POD_INTERFACE;
    out.push(e);
  }

  const reported = new Set(networkStatus.map((s) => s.interface).filter((i): i is string => i !== undefined));
  // Any ordinal name in the network-status selects the legacy scheme (§4.2).
  const names = kubevirtPodInterfaceNames(model, { existingLinks: [...reported] });
  for (const net of model.networks) {
    if (net === primary || net.source.kind !== "multus" || absent.has(net.name)) continue;
    const podIface = names.get(net.name)?.value;
    if (podIface === undefined) throw new Error(`could not find the pod interface name for network [${net.name}]`);
    let e = byName(net.name);
    if (reported.has(podIface)) {
      if (e) e.infoSource = addInfoSource(e.infoSource, InfoSource.MultusStatus);
      else e = entry({ name: net.name, infoSource: InfoSource.MultusStatus });
    } else if (e) {
      e.infoSource = removeInfoSource(e.infoSource, InfoSource.MultusStatus);
    }
    if (e) {
      e.podInterfaceName = podIface;
      out.push(e);
    }
  }
  // Statuses of no spec network (guest-agent-only ones) stay as they are, last.
  for (const e of current) if (!specNetworks.has(e.name)) out.push(e);
  return out;
}

/**
 * The VM's `status.interfaces` as KubeVirt reports it: domain NICs and SR-IOV hostdevs, cached pod IPs, the guest
 * agent's data merged by MAC, the primary first, then (with `networkStatus`) virt-controller's pod interface names and
 * `multus-status`.
 */
export function interfaceStatuses(input: InterfaceStatusInput): VmiInterfaceStatus[] {
  const handled = handlerStatuses(input);
  const final =
    input.networkStatus === undefined ? handled : controllerStatuses(input.model, handled, input.networkStatus);
  return final.map(toStatus);
}

/** `status: { interfaces: [...] }` as YAML or JSON, keys in the Go struct's order, empty fields and list omitted. */
export function renderStatus(statuses: readonly VmiInterfaceStatus[], format: StatusFormat): string {
  const interfaces = statuses.map(ordered);
  const doc = { status: interfaces.length === 0 ? {} : { interfaces } };
  if (format === StatusFormat.Json) return `${JSON.stringify(doc, null, 2)}\n`;
  return stringify(doc, { lineWidth: 0 });
}
