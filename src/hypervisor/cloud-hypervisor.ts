/**
 * Cloud Hypervisor `VmConfig` network entries as Virtink's prerunner writes them to `vm-config.json` (virtink-network.md
 * §6.2): `net[]` for taps and vhost-user, `devices[]` for SR-IOV VFs bound to vfio-pci, `vdpa[]` for vDPA devices, and
 * `memory.shared` for vhost-user. Keys are CH's snake_case API names, in the order Virtink serialises them (sorted), and
 * empty values are omitted as Go's `omitempty` does, except vDPA's `num_queues`, which Virtink always sends.
 */
import type { InterfacePlan, NetworkPlan } from "../plan/plan.ts";
import { passthroughByKind } from "../plan/plan.ts";
import { sriovChNics } from "../plan/sriov.ts";
import { vdpaChNics } from "../plan/vdpa.ts";
import { type VhostUserChOptions, vhostUserChNics } from "../plan/vhost-user.ts";
import { PciAddress } from "./nic-models.ts";

/** A `net[]` entry. */
export interface ChNetEntry {
  readonly id: string;
  readonly mac?: string;
  readonly mtu?: number;
  /** CH counts RX and TX queues together (default 2); set only for multiqueue, which Virtink never asks for. */
  readonly num_queues?: number;
  readonly tap?: string;
  readonly vhost_mode?: "Server" | "Client";
  readonly vhost_socket?: string;
  readonly vhost_user?: boolean;
}

/** A `devices[]` entry (VFIO passthrough). */
export interface ChDeviceEntry {
  readonly id: string;
  readonly path: string;
}

/** A `vdpa[]` entry. */
export interface ChVdpaEntry {
  readonly id: string;
  readonly iommu?: boolean;
  readonly num_queues: number;
  readonly path: string;
}

/** A guest NIC for Cloud Hypervisor, in interface order. */
export type ChNicInput =
  /** bridge or masquerade: the plan's tap. */
  | { readonly kind: "tap"; readonly iface: InterfacePlan }
  /** sriov: the VF from `network-status` `device-info.pci.pci-address`. */
  | { readonly kind: "vfio"; readonly name: string; readonly pciAddress: string }
  /** vdpa: `device-info.vdpa.path` and the interface's `vdpa.numQueues`/`vdpa.iommu`. */
  | {
      readonly kind: "vdpa";
      readonly name: string;
      readonly path: string;
      readonly numQueues: number;
      readonly iommu: boolean;
    }
  /**
   * vhostUser: `socket` is absent for kube-ovn, where Virtink's shadowed-variable bug leaves `vhost_socket` empty
   * (virtink-network.md §4.5); `mtu` is eth0's (kube-ovn) or 1500 (userspace CNI).
   */
  | {
      readonly kind: "vhostUser";
      readonly name: string;
      readonly mac: string;
      readonly mtu: number;
      readonly socket?: string;
    };

/** The network part of a Cloud Hypervisor `VmConfig`. */
export interface ChNetConfig {
  readonly net: readonly ChNetEntry[];
  readonly devices: readonly ChDeviceEntry[];
  readonly vdpa: readonly ChVdpaEntry[];
  /** `memory.shared = true`, needed by vhost-user backends. */
  readonly memoryShared: boolean;
}

/** Options of {@link chNicsOfPlan}. */
export interface ChNicsOptions extends VhostUserChOptions {
  /**
   * The spec's interface names in order. Virtink appends each interface to its array (`net[]`, `devices[]`,
   * `vdpa[]`) while walking the spec, so taps and vhost-user NICs interleave in `net[]`; without it the plan's taps
   * come first, then its passthrough devices.
   */
  readonly order?: readonly string[];
}

/** The CH NICs of a plan: its tap-attached interfaces and its passthrough devices (SR-IOV, vDPA, vhost-user). */
export function chNicsOfPlan(plan: NetworkPlan, options: ChNicsOptions = {}): ChNicInput[] {
  const byKind = passthroughByKind(plan);
  const nics: ChNicInput[] = [
    ...plan.interfaces.map((iface) => ({ kind: "tap" as const, iface })),
    ...sriovChNics(byKind.sriov),
    ...vdpaChNics(byKind.vdpa),
    ...vhostUserChNics(byKind.vhostUser, options),
  ];
  const order = options.order;
  if (order === undefined) return nics;
  const position = (n: ChNicInput) => {
    const at = order.indexOf(n.kind === "tap" ? n.iface.name : n.name);
    return at < 0 ? order.length : at;
  };
  return nics
    .map((n, k) => ({ n, k }))
    .sort((a, b) => position(a.n) - position(b.n) || a.k - b.k)
    .map((x) => x.n);
}

/** The `net[]` entry of a planned tap: `{id, mac, mtu, tap}`. */
export function chTapEntry(iface: InterfacePlan): ChNetEntry {
  const g = iface.guest;
  if (g.model !== "virtio") {
    throw new TypeError(
      `Cannot give interface "${iface.name}" model "${g.model}": Cloud Hypervisor has only virtio-net`,
    );
  }
  const queues = g.queues ?? 1;
  return {
    id: iface.name,
    mac: g.mac,
    ...(g.mtu === undefined || g.mtu === 0 ? {} : { mtu: g.mtu }),
    ...(queues > 1 ? { num_queues: 2 * queues } : {}),
    tap: g.tapName.value,
  };
}

/** Renders the entries of `nics`, each array in interface order. */
export function renderCloudHypervisorNet(nics: readonly ChNicInput[]): ChNetConfig {
  const net: ChNetEntry[] = [];
  const devices: ChDeviceEntry[] = [];
  const vdpa: ChVdpaEntry[] = [];
  let memoryShared = false;
  for (const n of nics) {
    switch (n.kind) {
      case "tap":
        net.push(chTapEntry(n.iface));
        break;
      case "vfio":
        devices.push({ id: n.name, path: `/sys/bus/pci/devices/${PciAddress.parse(n.pciAddress).toString()}` });
        break;
      case "vdpa":
        if (!Number.isInteger(n.numQueues) || n.numQueues < 0) {
          throw new RangeError(`Cannot use ${n.numQueues} vDPA queues on interface "${n.name}"`);
        }
        vdpa.push({ id: n.name, ...(n.iommu ? { iommu: true } : {}), num_queues: n.numQueues, path: n.path });
        break;
      case "vhostUser":
        net.push({
          id: n.name,
          mac: n.mac,
          ...(n.mtu === 0 ? {} : { mtu: n.mtu }),
          vhost_mode: "Server",
          ...(n.socket === undefined || n.socket === "" ? {} : { vhost_socket: n.socket }),
          vhost_user: true,
        });
        memoryShared = true;
        break;
    }
  }
  return { net, devices, vdpa, memoryShared };
}

/** The network entries of a plan (taps and passthrough devices, see {@link chNicsOfPlan}). */
export function cloudHypervisorNet(plan: NetworkPlan, options: ChNicsOptions = {}): ChNetConfig {
  return renderCloudHypervisorNet(chNicsOfPlan(plan, options));
}

/** The `VmConfig` keys for `config`, empty arrays omitted, ready to merge into the rest of the VM config. */
export function vmConfigFragment(config: ChNetConfig): Record<string, unknown> {
  return {
    ...(config.devices.length > 0 ? { devices: config.devices } : {}),
    ...(config.memoryShared ? { memory: { shared: true } } : {}),
    ...(config.net.length > 0 ? { net: config.net } : {}),
    ...(config.vdpa.length > 0 ? { vdpa: config.vdpa } : {}),
  };
}

/** Virtink's extra locked memory for VFIO and vDPA (`vfioMemoryLockSizeBytes`). */
export const VFIO_MEMLOCK_EXTRA_BYTES = 1 << 30;

/**
 * The `RLIMIT_MEMLOCK` (soft and hard) virt-daemon gives Cloud Hypervisor: guest memory plus 1 GiB when any VFIO or
 * vDPA device is attached, else `undefined` (the limit is left alone) (virtink-network.md §6.3).
 */
export function memlockLimitBytes(config: ChNetConfig, memorySizeBytes: number): number | undefined {
  return config.devices.length > 0 || config.vdpa.length > 0 ? memorySizeBytes + VFIO_MEMLOCK_EXTRA_BYTES : undefined;
}
