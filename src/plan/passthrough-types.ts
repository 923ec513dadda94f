/**
 * Types of the passthrough bindings: SR-IOV (KubeVirt and Virtink), and Virtink's vDPA and vhostUser. None of them
 * touches the pod netns (kubevirt-network.md §5.7, virtink-network.md §4.3–§4.5): the CNI hands over a device and the
 * plan only says which one the hypervisor gets. planPod puts these plans in `NetworkPlan.passthrough`; their errors are
 * PlanErrors (errors.ts).
 */

import type { BindingContext, PlanPodOptions } from "./plan.ts";

/** Multus `device-info.pci` (NAD client `PciDevice`, every key omitempty). */
export interface PciDeviceInfo {
  readonly "pci-address"?: string;
  readonly "vhost-net"?: string;
  readonly "rdma-device"?: string;
  readonly "pf-pci-address"?: string;
  readonly "representor-device"?: string;
}

/** Multus `device-info.vdpa` (NAD client `VdpaDevice`). */
export interface VdpaDeviceInfo {
  readonly "parent-device"?: string;
  readonly driver?: string;
  /** The vhost-vdpa character device, e.g. `/dev/vhost-vdpa-0`. */
  readonly path?: string;
  readonly "pci-address"?: string;
  readonly "pf-pci-address"?: string;
  readonly "representor-device"?: string;
}

/** Multus `device-info.vhost-user` (NAD client `VhostDevice`). */
export interface VhostUserDeviceInfo {
  readonly mode?: string;
  readonly path?: string;
}

/** Multus `device-info.memif` (NAD client `MemifDevice`). */
export interface MemifDeviceInfo {
  readonly role?: string;
  readonly path?: string;
  readonly mode?: string;
}

/** Multus `device-info` (Device Information Specification, NAD client `DeviceInfo`). */
export interface DeviceInfo {
  readonly type?: string;
  readonly version?: string;
  readonly pci?: PciDeviceInfo;
  readonly vdpa?: VdpaDeviceInfo;
  readonly "vhost-user"?: VhostUserDeviceInfo;
  readonly memif?: MemifDeviceInfo;
}

/** The parts of a `k8s.v1.cni.cncf.io/network-status` entry passthrough planning reads (lab/pod.ts entries fit). */
export interface DeviceStatusEntry {
  readonly name: string;
  readonly interface?: string;
  readonly mac?: string;
  readonly mtu?: number;
  readonly default?: boolean;
  /** As parsed from JSON; {@link DeviceInfo} after `deviceInfoOf` (network-info.ts). */
  readonly "device-info"?: Readonly<Record<string, unknown>>;
}

/** `NET_TYPE` values Virtink's vhostUser binding knows (the NAD `spec.config` `type`). */
export const VhostUserNetType = { KubeOvn: "kube-ovn", Userspace: "userspace" } as const;
export type VhostUserNetType = (typeof VhostUserNetType)[keyof typeof VhostUserNetType];

/** One userspace-CNI `ConfigurationData` entry of `USERSPACE_CONFIGURATION_DATA`, the keys Virtink reads. */
export interface UserspaceConfigurationData {
  readonly containerId: string;
  readonly ifName: string;
  readonly name?: string;
  readonly config: { readonly vhost: { readonly socketfile: string } };
}

/** The environment Virtink's prerunner reads for vhostUser (virtink-network.md §3.2 step 5, §4.5). */
export interface VhostUserEnv {
  /** `NET_TYPE`; absent is Virtink's `network type not found`. */
  readonly netType?: string;
  /** `VHOST_USER_SOCKET` (kube-ovn). */
  readonly vhostUserSocket?: string;
  /** `USERSPACE_CONFIGURATION_DATA`, as text (userspace CNI); parsed at planning. */
  readonly userspaceConfigurationData?: string;
  /**
   * Directories under `/var/run/vhost-user` that exist in the pod (full paths): the prerunner prefers
   * `/var/run/vhost-user/<containerId[0:12]>/<socketfile>` when that directory exists.
   */
  readonly existingDirectories?: readonly string[];
}

/** Facts the passthrough planners need beyond {@link PodFacts}. */
export interface PassthroughFacts {
  /**
   * The pod's parsed network-status (KubeVirt reads it back through `kubevirt.io/network-info`, Virtink through the
   * `NETWORK_STATUS` env). Absent means the annotation is not there yet.
   */
  readonly networkStatus?: readonly DeviceStatusEntry[];
  readonly vhostUser?: VhostUserEnv;
}

/** The planning options, which carry the passthrough facts as `PlanPodOptions.passthrough` (older name kept). */
export type PassthroughPlanOptions = PlanPodOptions;

/** The context the passthrough planners get: a plain {@link BindingContext} (older name kept). */
export type PassthroughContext = BindingContext;

/** An SR-IOV VF passed through as a VFIO host device. No link state, MTU or MAC: the VF has what the CNI set. */
export interface SriovPlan {
  readonly kind: "sriov";
  readonly name: string;
  readonly network: string;
  /** The pod interface name the network-status entry carries (`net1`, `pod<hash>`, `net<j>` for Virtink). */
  readonly podInterface: string;
  /**
   * The host VF, canonical `dddd:bb:ss.f`, from `device-info.pci.pci-address`. Absent when no VF is attached: KubeVirt
   * when the network is not in network-status yet (not plugged, no `multus-status`); Virtink when no entry with
   * `device-info.pci` matches (it then adds no device and raises no error, quirk 11).
   */
  readonly hostPciAddress?: string;
  /** The spec MAC, handed to the CNI through the Multus selection element, never set on the device by vmnet. */
  readonly cniMac?: string;
  /** libvirt alias `ua-sriov-<name>` (status strips the `sriov-` prefix). */
  readonly alias: string;
  readonly guestPciAddress?: string;
  readonly bootOrder?: number;
}

/** A Virtink vDPA device (Cloud Hypervisor `vdpa[]`). */
export interface VdpaPlan {
  readonly kind: "vdpa";
  readonly name: string;
  readonly network: string;
  readonly podInterface: string;
  /** `device-info.vdpa.path`; absent when no entry matches (Virtink adds nothing, quirk 11). */
  readonly path?: string;
  /** `vdpa.numQueues`, 0 when unset: Virtink always sends it. */
  readonly numQueues: number;
  readonly iommu: boolean;
}

/** A Virtink vhost-user NIC (Cloud Hypervisor `net[]` with `vhost_user`, plus `memory.shared`). */
export interface VhostUserPlan {
  readonly kind: "vhostUser";
  readonly name: string;
  readonly network: string;
  readonly podInterface: string;
  readonly netType: VhostUserNetType;
  readonly mac: string;
  /** eth0's MTU (kube-ovn) or 1500 (userspace). */
  readonly mtu: number;
  /** The backend's socket; vmnet passes it for kube-ovn too, where Virtink loses it (quirk 6). */
  readonly socket: string;
}

/** Everything a passthrough planner returns. */
export type PassthroughPlan = SriovPlan | VdpaPlan | VhostUserPlan;
