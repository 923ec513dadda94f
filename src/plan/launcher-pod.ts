/**
 * What the controller puts on a VM's pod for networking, rendered purely from the model: KubeVirt's virt-launcher pod
 * (kubevirt-network.md §4.1, §4.3–§4.5) and Virtink's VM pod (virtink-network.md §3.1–§3.2). Only the networking parts:
 * the caller merges them into the rest of the pod (its own annotations, the VM's resources, images).
 */

import type { ClusterConfig } from "../api/cluster-config.ts";
import { isGateEnabled } from "../api/cluster-config.ts";
import type { Dialect, InterfaceSpec, NetworkSpec, Protocol, VmNetworkModel } from "../api/model.ts";
import { LinkState, primaryNetwork } from "../api/model.ts";
import { multusNadKey } from "./common.ts";
import { PlanError, PlanErrorCode } from "./errors.ts";
import { kubevirtPodInterfaceNames, virtinkLinkName } from "./namescheme.ts";
import {
  marshalGoJson,
  NETWORK_INFO_ANNOTATION,
  NETWORK_INFO_PATH,
  NETWORK_INFO_VOLUME,
  networkInfoOf,
  renderNetworkInfo,
} from "./network-info.ts";
import type { DeviceStatusEntry } from "./passthrough-types.ts";
import { VhostUserNetType } from "./passthrough-types.ts";
import type { MemoryOverheadPlan, PlanNad } from "./plan.ts";
import { modelMemoryOverhead, pluginNetworkSelection, resolvePlugin } from "./plugins/registry.ts";
import { VHOST_USER_SOCKET_DIR, vhostUserNetTypeOf } from "./vhost-user.ts";

/** Multus' selection annotation on the pod. */
export const MULTUS_NETWORKS_ANNOTATION = "k8s.v1.cni.cncf.io/networks";
/** Multus' default-network override (KubeVirt, a Multus network with `default: true`). */
export const MULTUS_DEFAULT_NETWORK_ANNOTATION = "v1.multus-cni.io/default-network";
/** The network-status annotation Multus writes, which the pod reads back through the downward API. */
export const MULTUS_NETWORK_STATUS_ANNOTATION = "k8s.v1.cni.cncf.io/network-status";
/** KubeVirt's Istio annotations, set whenever a masquerade interface exists. */
export const ISTIO_KUBEVIRT_INTERFACES_ANNOTATION = "traffic.sidecar.istio.io/kubevirtInterfaces";
export const ISTIO_REROUTE_ANNOTATION = "istio.io/reroute-virtual-interfaces";
/** The VMI annotation (and pod label) that turns Istio injection on. */
export const ISTIO_INJECT = "sidecar.istio.io/inject";
/** The bridge masquerade uses, the only interface Istio is told about. */
export const ISTIO_MASQUERADE_BRIDGE = "k6t-eth0";
/** KubeVirt's device-plugin resources. */
export const KUBEVIRT_TUN_RESOURCE = "devices.kubevirt.io/tun";
export const KUBEVIRT_VHOST_NET_RESOURCE = "devices.kubevirt.io/vhost-net";
/** Virtink's device-plugin resources, added to every VM pod. */
export const VIRTINK_KVM_RESOURCE = "devices.virtink.io/kvm";
export const VIRTINK_TUN_RESOURCE = "devices.virtink.io/tun";
/** kube-ovn's pod annotation carrying a vhost-user NIC's MAC. */
export const KUBE_OVN_DPDK_MAC_ANNOTATION = "ovn-dpdk.default.ovn.kubernetes.io/mac_address";
/** kube-ovn's node label of OVS-DPDK nodes. */
export const KUBE_OVN_DP_TYPE_LABEL = "ovn.kubernetes.io/ovs_dp_type";
/** Where the userspace CNI's OVS keeps vhost-user sockets on the node. */
export const USERSPACE_SOCKET_HOST_PATH = "/usr/local/var/run/openvswitch/";
/** The pod annotation the userspace CNI writes its configuration data into. */
export const USERSPACE_CONFIGURATION_ANNOTATION = "userspace/configuration-data";

/** One Multus `NetworkSelectionElement`, keys in the NAD client's Go struct order (only those vmnet sets). */
export interface NetworkSelectionElement {
  readonly name: string;
  readonly namespace?: string;
  readonly mac?: string;
  readonly interface?: string;
  readonly "cni-args"?: Readonly<Record<string, string>>;
}

/** A container port (`name` omitted when the spec has none). */
export interface ContainerPort {
  readonly name?: string;
  readonly protocol: Protocol;
  readonly containerPort: number;
}

/** A container env var: a literal, or a downward API field. */
export type EnvVar =
  | { readonly name: string; readonly value: string }
  | { readonly name: string; readonly valueFrom: { readonly fieldRef: { readonly fieldPath: string } } };

/** A pod volume networking adds. */
export type PodVolume =
  | { readonly name: string; readonly emptyDir: Readonly<Record<string, never>> }
  | { readonly name: string; readonly hostPath: { readonly path: string } }
  | {
      readonly name: string;
      readonly downwardAPI: {
        readonly items: readonly { readonly path: string; readonly fieldRef: { readonly fieldPath: string } }[];
      };
    };

/** A volume mount in the compute container. */
export interface VolumeMount {
  readonly name: string;
  readonly mountPath: string;
}

/** Requests and limits per resource name, as quantity strings. */
export interface ResourceRequirements {
  readonly requests: Readonly<Record<string, string>>;
  readonly limits: Readonly<Record<string, string>>;
}

/** A KubeVirt binding plugin's hook sidecar. */
export interface HookSidecar {
  /** `hook-sidecar-<n>`. */
  readonly name: string;
  readonly plugin: string;
  readonly image: string;
  /** `downwardAPI: device-info`: the network-info volume is mounted at `/etc/podinfo`. */
  readonly networkInfoMount: boolean;
  /** Non-root VMIs: the sidecar runs as non-root and drops ALL capabilities. */
  readonly nonRoot: boolean;
}

/** A Virtink init container networking adds (`enable-ip-forward`). */
export interface InitContainer {
  readonly name: string;
  readonly privileged: boolean;
  readonly command: readonly string[];
}

/** The networking parts of the compute container (`compute` in KubeVirt, `cloud-hypervisor` in Virtink). */
export interface ComputeContainerNetworking {
  readonly name: "compute" | "cloud-hypervisor";
  /** Resources networking adds; the VM's own resources come on top. */
  readonly resources: ResourceRequirements;
  readonly capabilities: { readonly add: readonly string[]; readonly drop: readonly string[] };
  readonly ports: readonly ContainerPort[];
  readonly env: readonly EnvVar[];
  readonly volumeMounts: readonly VolumeMount[];
}

/** What {@link renderLauncherPodNetworking} returns. */
export interface LauncherPodNetworking {
  readonly dialect: Dialect;
  /** Pod annotations, in the order the controller sets them. */
  readonly annotations: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
  readonly container: ComputeContainerNetworking;
  /** KubeVirt: memory added to the compute container's request (and limit when set), §4.4. */
  readonly memoryOverhead?: MemoryOverheadPlan;
  readonly volumes: readonly PodVolume[];
  readonly sidecars: readonly HookSidecar[];
  readonly initContainers: readonly InitContainer[];
  readonly nodeSelector: Readonly<Record<string, string>>;
  /** KubeVirt: `spec.hostname`, else the VM name up to its first `.`, at most 63 characters. */
  readonly hostname?: string;
  readonly subdomain?: string;
  /** KubeVirt with Istio injection on: the pod mounts its service account token. */
  readonly automountServiceAccountToken?: true;
}

/** Options of {@link renderLauncherPodNetworking}. */
export interface LauncherPodOptions {
  readonly config: ClusterConfig;
  /**
   * The NADs of the VM's Multus networks with their `k8s.v1.cni.cncf.io/resourceName`. KubeVirt reads them only with
   * `ExternalNetResourceInjection` off; Virtink always (and a vhostUser NAD's `spec.config`).
   */
  readonly nads?: readonly PlanNad[];
  /**
   * KubeVirt: the network-status of the pod whose names carry over (the migration source, or this pod when
   * re-rendering its annotations). Any ordinal `net<N>` name there selects the ordinal scheme; it also fills
   * `kubevirt.io/network-info`.
   */
  readonly networkStatus?: readonly DeviceStatusEntry[];
  /** KubeVirt migration target: with `PodSecondaryInterfaceNamingUpgrade` on, hashed names replace ordinal ones. */
  readonly migrationTarget?: boolean;
  /** KubeVirt `status.runtimeUser != 0`. Default true, as {@link PlanPodOptions.nonRoot}. */
  readonly nonRoot?: boolean;
  /** KubeVirt `spec.domain.devices.autoattachPodInterface`; default true. */
  readonly autoattachPodInterface?: boolean;
  /** The VMI's `sidecar.istio.io/inject` annotation, copied to the pod label. */
  readonly istioInject?: string;
  /**
   * KubeVirt: index of the first network hook sidecar (user hook sidecars from the VMI annotation come first). The
   * plugin sidecars follow in first-use order, where KubeVirt walks a Go map (no stable order).
   */
  readonly firstSidecarIndex?: number;
}

const active = (model: VmNetworkModel): InterfaceSpec[] => model.interfaces.filter((i) => i.state !== LinkState.Absent);

function interfaceOf(ifaces: readonly InterfaceSpec[], network: NetworkSpec): InterfaceSpec | undefined {
  return ifaces.find((i) => i.name === network.name);
}

function bump(into: Record<string, string>, resource: string): void {
  into[resource] = String(Number.parseInt(into[resource] ?? "0", 10) + 1);
}

const portsOf = (model: VmNetworkModel): ContainerPort[] =>
  model.interfaces.flatMap((i) =>
    i.ports.map((p) => ({ ...(p.name ? { name: p.name } : {}), protocol: p.protocol, containerPort: p.port })),
  );

/** KubeVirt §4.1: one element per secondary Multus network, plus each plugin NAD element, in `networks` order. */
function kubevirtSelection(model: VmNetworkModel, options: LauncherPodOptions): NetworkSelectionElement[] {
  const ifaces = active(model);
  const status = options.networkStatus ?? [];
  const hashed =
    options.migrationTarget === true && isGateEnabled(options.config, "PodSecondaryInterfaceNamingUpgrade");
  const names = kubevirtPodInterfaceNames(model, {
    existingLinks: hashed ? [] : status.map((s) => s.interface).filter((i): i is string => i !== undefined),
  });
  const primary = primaryNetwork(model);
  const out: NetworkSelectionElement[] = [];
  for (const network of model.networks) {
    const iface = interfaceOf(ifaces, network);
    if (iface === undefined) continue;
    if (network.source.kind === "multus" && network !== primary && !network.source.default) {
      const key = multusNadKey(model, network.source.networkName);
      const podIface = names.get(network.name);
      out.push({
        name: key.name,
        namespace: key.namespace,
        ...(iface.macAddress === undefined ? {} : { mac: iface.macAddress }),
        ...(podIface === undefined ? {} : { interface: podIface.value }),
      });
    }
    if (iface.binding.kind === "plugin") {
      const { registration } = resolvePlugin(options.config, iface.binding.name);
      const selection = pluginNetworkSelection(model, network.name, registration);
      if (selection !== undefined) out.push(selection);
    }
  }
  return out;
}

function kubevirtNad(model: VmNetworkModel, options: LauncherPodOptions, networkName: string): PlanNad {
  const key = multusNadKey(model, networkName);
  const nad = options.nads?.find((n) => n.namespace === key.namespace && n.name === key.name);
  if (nad === undefined) {
    throw new PlanError(
      PlanErrorCode.NadNotFound,
      `failed to locate network attachment definition ${key.namespace}/${key.name}`,
    );
  }
  return nad;
}

function renderKubevirt(model: VmNetworkModel, options: LauncherPodOptions): LauncherPodNetworking {
  const { config } = options;
  const nonRoot = options.nonRoot !== false;
  const annotations: Record<string, string> = {};
  const selection = kubevirtSelection(model, options);
  if (selection.length > 0) annotations[MULTUS_NETWORKS_ANNOTATION] = marshalGoJson(selection);
  const defaultNetwork = model.networks.find((n) => n.source.kind === "multus" && n.source.default);
  if (defaultNetwork?.source.kind === "multus") {
    annotations[MULTUS_DEFAULT_NETWORK_ANNOTATION] = defaultNetwork.source.networkName;
  }
  if (model.interfaces.some((i) => i.binding.kind === "masquerade")) {
    annotations[ISTIO_KUBEVIRT_INTERFACES_ANNOTATION] = ISTIO_MASQUERADE_BRIDGE;
    annotations[ISTIO_REROUTE_ANNOTATION] = ISTIO_MASQUERADE_BRIDGE;
  }
  const info =
    options.networkStatus === undefined ? undefined : networkInfoOf(model, options.networkStatus, { config });
  if (info !== undefined) annotations[NETWORK_INFO_ANNOTATION] = renderNetworkInfo(info);

  const requests: Record<string, string> = {};
  const limits: Record<string, string> = {};
  // virt-controller puts the tun and vhost-net devices in limits only (extended resources default requests to them).
  if (model.interfaces.length > 0 || options.autoattachPodInterface !== false) limits[KUBEVIRT_TUN_RESOURCE] = "1";
  if (!config.useEmulation && model.interfaces.some((i) => i.model === "virtio")) {
    limits[KUBEVIRT_VHOST_NET_RESOURCE] = "1";
  }
  if (!isGateEnabled(config, "ExternalNetResourceInjection")) {
    for (const n of model.networks) {
      if (n.source.kind !== "multus") continue;
      const resource = kubevirtNad(model, options, n.source.networkName).resourceName;
      if (resource === undefined || resource === "") continue;
      bump(requests, resource);
      bump(limits, resource);
    }
  }

  // Sidecars, the network-info volume and the memory overhead look at every interface, absent ones too.
  const pluginNames = [
    ...new Set(model.interfaces.flatMap((i) => (i.binding.kind === "plugin" ? [i.binding.name] : []))),
  ];
  const plugins = pluginNames.map((name) => {
    const registration = Object.hasOwn(config.bindingPlugins, name) ? config.bindingPlugins[name] : undefined;
    if (registration === undefined) {
      throw new PlanError(
        PlanErrorCode.PluginNotRegistered,
        `couldn't find configuration for network binding: ${name}`,
      );
    }
    return { name, registration };
  });
  const needsNetworkInfo =
    model.interfaces.some((i) => i.binding.kind === "sriov") ||
    plugins.some((p) => p.registration.downwardAPI === "device-info");
  const firstSidecar = options.firstSidecarIndex ?? 0;
  const sidecars: HookSidecar[] = plugins
    .filter((p) => p.registration.sidecarImage !== undefined && p.registration.sidecarImage !== "")
    .map((p, k) => ({
      name: `hook-sidecar-${firstSidecar + k}`,
      plugin: p.name,
      image: p.registration.sidecarImage ?? "",
      networkInfoMount: p.registration.downwardAPI === "device-info",
      nonRoot,
    }));
  const volumes: PodVolume[] = needsNetworkInfo
    ? [
        {
          name: NETWORK_INFO_VOLUME,
          downwardAPI: {
            items: [
              {
                path: NETWORK_INFO_PATH.slice(NETWORK_INFO_PATH.lastIndexOf("/") + 1),
                fieldRef: { fieldPath: `metadata.annotations['${NETWORK_INFO_ANNOTATION}']` },
              },
            ],
          },
        },
      ]
    : [];
  const memoryOverhead = modelMemoryOverhead(model, config);
  const istio = options.istioInject;
  const hostname = (model.hostname ?? model.name.split(".")[0] ?? "").slice(0, 63);
  return {
    dialect: model.dialect,
    annotations,
    labels: istio === undefined ? {} : { [ISTIO_INJECT]: istio },
    container: {
      name: "compute",
      resources: { requests, limits },
      capabilities: {
        add: nonRoot ? ["NET_BIND_SERVICE"] : ["NET_BIND_SERVICE", "SYS_NICE"],
        drop: nonRoot ? ["ALL"] : [],
      },
      ports: portsOf(model),
      env: [],
      volumeMounts: needsNetworkInfo
        ? [{ name: NETWORK_INFO_VOLUME, mountPath: NETWORK_INFO_PATH.slice(0, NETWORK_INFO_PATH.lastIndexOf("/")) }]
        : [],
    },
    ...(memoryOverhead === undefined ? {} : { memoryOverhead }),
    volumes,
    sidecars,
    initContainers: [],
    nodeSelector: {},
    ...(hostname === "" ? {} : { hostname }),
    ...(model.subdomain === undefined ? {} : { subdomain: model.subdomain }),
    ...(istio?.toLowerCase() === "true" ? { automountServiceAccountToken: true as const } : {}),
  };
}

/** The vhost-user keys Virtink reads from a NAD's `spec.config`. */
function vhostUserNadKeys(config: string): { volumeName: string; socketName: string } {
  const parsed = JSON.parse(config) as Readonly<Record<string, unknown>> | null;
  const str = (k: string): string => (typeof parsed?.[k] === "string" ? (parsed[k] as string) : "");
  return { volumeName: str("vhost_user_socket_volume_name"), socketName: str("vhost_user_socket_name") };
}

function renderVirtink(model: VmNetworkModel, options: LauncherPodOptions): LauncherPodNetworking {
  const annotations: Record<string, string> = {};
  const nodeSelector: Record<string, string> = {};
  const requests: Record<string, string> = { [VIRTINK_KVM_RESOURCE]: "1", [VIRTINK_TUN_RESOURCE]: "1" };
  const limits: Record<string, string> = { [VIRTINK_KVM_RESOURCE]: "1", [VIRTINK_TUN_RESOURCE]: "1" };
  const env: EnvVar[] = [];
  const volumes: PodVolume[] = [];
  const volumeMounts: VolumeMount[] = [];
  const initContainers: InitContainer[] = [];
  const selection: NetworkSelectionElement[] = [];
  let userspaceDone = false;
  for (const network of model.networks) {
    const iface = model.interfaces.find((i) => i.name === network.name);
    if (iface === undefined) {
      throw new PlanError(PlanErrorCode.NetworkNotFound, `interface not found for network: ${network.name}`);
    }
    if (iface.binding.kind === "masquerade") {
      initContainers.push({
        name: "enable-ip-forward",
        privileged: true,
        command: ["sysctl", "-w", "net.ipv4.ip_forward=1"],
      });
    }
    if (network.source.kind !== "multus") continue;
    const { networkName } = network.source;
    selection.push({
      name: networkName,
      ...(iface.macAddress === undefined || iface.macAddress === "" ? {} : { mac: iface.macAddress }),
      interface: virtinkLinkName(model, network).value,
    });
    // Virtink GETs the NAD in the VM's namespace under the whole networkName.
    const nad = options.nads?.find((n) => n.namespace === model.namespace && n.name === networkName);
    if (nad === undefined) {
      throw new PlanError(
        PlanErrorCode.NadNotFound,
        `get NAD: network-attachment-definitions.k8s.cni.cncf.io "${networkName}" not found`,
      );
    }
    if (nad.resourceName !== undefined && nad.resourceName !== "") {
      bump(requests, nad.resourceName);
      bump(limits, nad.resourceName);
    }
    env.push({
      name: "NETWORK_STATUS",
      valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${MULTUS_NETWORK_STATUS_ANNOTATION}']` } },
    });
    if (iface.binding.kind !== "vhostUser") continue;
    const nadConfig = nad.config ?? "";
    const netType = vhostUserNetTypeOf(nadConfig);
    if (netType === VhostUserNetType.KubeOvn) {
      const keys = vhostUserNadKeys(nadConfig);
      nodeSelector[KUBE_OVN_DP_TYPE_LABEL] = "userspace";
      annotations[KUBE_OVN_DPDK_MAC_ANNOTATION] = iface.macAddress ?? "";
      volumes.push({ name: keys.volumeName, emptyDir: {} });
      volumeMounts.push({ name: keys.volumeName, mountPath: VHOST_USER_SOCKET_DIR });
      env.push({ name: "VHOST_USER_SOCKET", value: `${VHOST_USER_SOCKET_DIR}/${keys.socketName}` });
      env.push({ name: "NET_TYPE", value: VhostUserNetType.KubeOvn });
    } else if (!userspaceDone) {
      userspaceDone = true;
      volumes.push({ name: "vhost-user-sockets", hostPath: { path: USERSPACE_SOCKET_HOST_PATH } });
      volumeMounts.push({ name: "vhost-user-sockets", mountPath: VHOST_USER_SOCKET_DIR });
      env.push({
        name: "USERSPACE_CONFIGURATION_DATA",
        valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${USERSPACE_CONFIGURATION_ANNOTATION}']` } },
      });
      env.push({ name: "NET_TYPE", value: VhostUserNetType.Userspace });
    }
  }
  if (selection.length > 0) annotations[MULTUS_NETWORKS_ANNOTATION] = marshalGoJson(selection);
  return {
    dialect: model.dialect,
    annotations,
    labels: {},
    container: {
      name: "cloud-hypervisor",
      resources: { requests, limits },
      capabilities: { add: ["SYS_ADMIN", "NET_ADMIN", "SYS_RESOURCE"], drop: [] },
      ports: [],
      env,
      volumeMounts,
    },
    volumes,
    sidecars: [],
    initContainers,
    nodeSelector,
  };
}

/**
 * The networking parts of the VM's pod, as virt-controller (KubeVirt) or Virtink's controller renders them. PlanError
 * `plugin_not_registered` for a plugin the CR lacks, `nad_not_found` for a NAD the controller would fail to GET,
 * `vhost_user_*` for a vhostUser NAD Virtink refuses.
 */
export function renderLauncherPodNetworking(model: VmNetworkModel, options: LauncherPodOptions): LauncherPodNetworking {
  return model.dialect === "virtink" ? renderVirtink(model, options) : renderKubevirt(model, options);
}
