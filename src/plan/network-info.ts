/**
 * KubeVirt's `kubevirt.io/network-info` pod annotation (kubevirt-network.md §4.3): virt-controller builds it from the
 * Multus network-status for SR-IOV and device-info plugin interfaces, the launcher reads it back through the
 * downwardAPI file `/etc/podinfo/network-info` and maps each SR-IOV network to its VF's PCI address (§7.4).
 */

import type { ClusterConfig } from "../api/cluster-config.ts";
import type { VmNetworkModel } from "../api/model.ts";
import { LinkState } from "../api/model.ts";
import { PlanError, PlanErrorCode } from "./errors.ts";
import { kubevirtPodInterfaceNames } from "./namescheme.ts";
import type { DeviceInfo, DeviceStatusEntry } from "./passthrough-types.ts";

/** The annotation's name. */
export const NETWORK_INFO_ANNOTATION = "kubevirt.io/network-info";
/** The downwardAPI volume exposing it. */
export const NETWORK_INFO_VOLUME = "network-info-annotation";
/** Where the compute container and device-info sidecars read it. */
export const NETWORK_INFO_PATH = "/etc/podinfo/network-info";

/** One `interfaces[]` entry, keys in KubeVirt's `downwardapi.Interface` order. */
export interface NetworkInfoInterface {
  readonly network: string;
  readonly deviceInfo?: DeviceInfo;
  readonly mac?: string;
  readonly mtu?: number;
}

/** The annotation's value. */
export interface NetworkInfo {
  readonly interfaces: readonly NetworkInfoInterface[];
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
const obj = (v: unknown): Readonly<Record<string, unknown>> | undefined =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Readonly<Record<string, unknown>>) : undefined;

function pick<K extends string>(o: Readonly<Record<string, unknown>>, keys: readonly K[]): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  for (const k of keys) {
    const v = str(o[k]);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/**
 * `device-info` as Go decodes and re-encodes it into the NAD client's `DeviceInfo`: known keys only, in struct order,
 * empty strings dropped (every field is omitempty), a present sub-object kept even when empty. Undefined when
 * `raw` is not an object.
 */
export function deviceInfoOf(raw: unknown): DeviceInfo | undefined {
  const o = obj(raw);
  if (o === undefined) return undefined;
  const sub = <K extends string>(key: string, keys: readonly K[]) => {
    const s = obj(o[key]);
    return s === undefined ? {} : { [key]: pick(s, keys) };
  };
  return {
    ...pick(o, ["type", "version"]),
    ...sub("pci", ["pci-address", "vhost-net", "rdma-device", "pf-pci-address", "representor-device"]),
    ...sub("vdpa", ["parent-device", "driver", "path", "pci-address", "pf-pci-address", "representor-device"]),
    ...sub("vhost-user", ["mode", "path"]),
    ...sub("memif", ["role", "path", "mode"]),
  };
}

/**
 * Parses a `k8s.v1.cni.cncf.io/network-status` value. SyntaxError when it is not a JSON array of objects with a
 * string `name` (KubeVirt logs and ignores such a value; the caller decides).
 */
export function parseNetworkStatus(text: string): DeviceStatusEntry[] {
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed)) throw new SyntaxError("Cannot parse network-status: expected a JSON array");
  return parsed.map((e, i) => {
    const o = obj(e);
    if (o === undefined || typeof o.name !== "string") {
      throw new SyntaxError(`Cannot parse network-status entry ${i}: expected an object with a string "name"`);
    }
    const device = obj(o["device-info"]);
    return {
      name: o.name,
      ...(typeof o.interface === "string" ? { interface: o.interface } : {}),
      ...(typeof o.mac === "string" ? { mac: o.mac } : {}),
      ...(typeof o.mtu === "number" ? { mtu: o.mtu } : {}),
      ...(o.default === true ? { default: true } : {}),
      ...(device === undefined ? {} : { "device-info": device }),
    };
  });
}

/** Options of {@link networkInfoOf}. */
export interface NetworkInfoOptions {
  /** Binding plugins with `downwardAPI: device-info` also get an entry. */
  readonly config?: ClusterConfig;
}

function wantsDeviceInfo(kind: string, plugin: string | undefined, config: ClusterConfig | undefined): boolean {
  if (kind === "sriov") return true;
  return kind === "plugin" && plugin !== undefined && config?.bindingPlugins[plugin]?.downwardAPI === "device-info";
}

/**
 * The network-info KubeVirt computes: one entry per non-absent SR-IOV or device-info plugin interface whose pod
 * interface (named by the scheme the network-status reveals, §4.2) has a network-status entry, sorted by network name.
 * `undefined` when there is no such entry, in which case KubeVirt writes no annotation.
 */
export function networkInfoOf(
  model: VmNetworkModel,
  networkStatus: readonly DeviceStatusEntry[],
  options: NetworkInfoOptions = {},
): NetworkInfo | undefined {
  const names = kubevirtPodInterfaceNames(model, {
    existingLinks: networkStatus.map((s) => s.interface).filter((i): i is string => i !== undefined),
  });
  const byPodIface = new Map<string, DeviceStatusEntry>();
  for (const s of networkStatus) if (s.interface !== undefined) byPodIface.set(s.interface, s);
  const interfaces: NetworkInfoInterface[] = [];
  for (const iface of model.interfaces) {
    if (iface.state === LinkState.Absent) continue;
    const plugin = iface.binding.kind === "plugin" ? iface.binding.name : undefined;
    if (!wantsDeviceInfo(iface.binding.kind, plugin, options.config)) continue;
    const podIface = names.get(iface.name);
    const entry = podIface === undefined ? undefined : byPodIface.get(podIface.value);
    if (entry === undefined) continue; // not plugged yet
    const deviceInfo = deviceInfoOf(entry["device-info"]);
    interfaces.push({
      network: iface.name,
      ...(deviceInfo === undefined ? {} : { deviceInfo }),
      ...(entry.mac === undefined || entry.mac === "" ? {} : { mac: entry.mac }),
      ...(entry.mtu === undefined || entry.mtu === 0 ? {} : { mtu: entry.mtu }),
    });
  }
  if (interfaces.length === 0) return undefined;
  // Go's cmp.Compare on strings: byte order, which for JS strings of BMP characters is code-unit order.
  interfaces.sort((a, b) => (a.network < b.network ? -1 : a.network > b.network ? 1 : 0));
  return { interfaces };
}

/**
 * `value` as Go's `json.Marshal` writes it: compact, keys in insertion order (build objects in Go struct order), `<`,
 * `>`, `&`, U+2028 and U+2029 escaped.
 */
export function marshalGoJson(value: unknown): string {
  return JSON.stringify(value)
    .replaceAll("<", "\\u003c")
    .replaceAll(">", "\\u003e")
    .replaceAll("&", "\\u0026")
    .replaceAll("\u2028", "\\u2028")
    .replaceAll("\u2029", "\\u2029");
}

/** The annotation text as Go's `json.Marshal` writes it (see {@link marshalGoJson}). */
export function renderNetworkInfo(info: NetworkInfo): string {
  return marshalGoJson(info.interfaces.length === 0 ? {} : info);
}

/** Parses the annotation (or the downwardAPI file); PlanError `network_info_invalid` on bad JSON. */
export function parseNetworkInfo(text: string): NetworkInfo {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new PlanError(
      PlanErrorCode.NetworkInfoInvalid,
      `failed to create PCI address pool with network status from file: failed to unmarshal network-info annotation: ${(cause as Error).message}`,
      { cause },
    );
  }
  const o = obj(parsed);
  const list = o?.interfaces;
  if (o === undefined || (list !== undefined && !Array.isArray(list))) {
    throw new PlanError(
      PlanErrorCode.NetworkInfoInvalid,
      "failed to create PCI address pool with network status from file: failed to unmarshal network-info annotation: expected an object with an interfaces array",
    );
  }
  const interfaces: NetworkInfoInterface[] = [];
  for (const e of (list ?? []) as readonly unknown[]) {
    const i = obj(e);
    if (i === undefined || typeof i.network !== "string") continue;
    const deviceInfo = deviceInfoOf(i.deviceInfo);
    interfaces.push({
      network: i.network,
      ...(deviceInfo === undefined ? {} : { deviceInfo }),
      ...(str(i.mac) === undefined ? {} : { mac: i.mac as string }),
      ...(typeof i.mtu === "number" && i.mtu !== 0 ? { mtu: i.mtu } : {}),
    });
  }
  return { interfaces };
}

/**
 * The launcher's SR-IOV PCI address pool (`PCIAddressWithNetworkStatusPool`): network name to the VF's
 * `deviceInfo.pci.pci-address`, entries without one left out. Each address is handed out once.
 */
export class SriovPciPool {
  readonly #byNetwork: Map<string, string>;

  private constructor(byNetwork: Map<string, string>) {
    this.#byNetwork = byNetwork;
  }

  /** The pool of `info`. */
  static of(info: NetworkInfo): SriovPciPool {
    const m = new Map<string, string>();
    for (const i of info.interfaces) {
      const a = i.deviceInfo?.pci?.["pci-address"];
      if (a !== undefined && a !== "") m.set(i.network, a);
    }
    return new SriovPciPool(m);
  }

  /** How many networks still have an address. */
  get size(): number {
    return this.#byNetwork.size;
  }

  /** Takes the address of `network`; KubeVirt's `PCI-Address for SR-IOV network "x" not found` when there is none. */
  pop(network: string): string {
    const a = this.#byNetwork.get(network);
    if (a === undefined) {
      throw new PlanError(
        PlanErrorCode.SriovPciAddressNotFound,
        `PCI-Address for SR-IOV network ${JSON.stringify(network)} not found`,
      );
    }
    this.#byNetwork.delete(network);
    return a;
  }
}

/**
 * The host PCI address of every SR-IOV network, as the launcher resolves them from network-info, in `networks` order.
 * Throws KubeVirt's `found no SR-IOV networks to PCI-Address mapping` when the mapping is empty and
 * `PCI-Address for SR-IOV network "x" not found` for a network without an address.
 */
export function sriovPciAddresses(info: NetworkInfo | undefined, networks: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  if (networks.length === 0) return out;
  const pool = SriovPciPool.of(info ?? { interfaces: [] });
  if (pool.size === 0) {
    throw new PlanError(PlanErrorCode.NoSriovMapping, "found no SR-IOV networks to PCI-Address mapping");
  }
  for (const n of networks) out.set(n, pool.pop(n));
  return out;
}
