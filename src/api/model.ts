/**
 * The one internal model of a VM's networking that both dialects (KubeVirt and Virtink) map into, after defaulting
 * and admission. Planning, runtime and rendering are written once against it.
 */

/** Where a VM spec came from. */
export const Dialect = { KubeVirt: "kubevirt", Virtink: "virtink" } as const;
export type Dialect = (typeof Dialect)[keyof typeof Dialect];

/** Every binding vmnet knows, across both dialects. */
export const BindingKind = {
  Bridge: "bridge",
  Masquerade: "masquerade",
  Sriov: "sriov",
  PasstBinding: "passtBinding",
  Slirp: "slirp",
  Passt: "passt",
  Macvtap: "macvtap",
  Plugin: "plugin",
  Vdpa: "vdpa",
  VhostUser: "vhostUser",
} as const;
export type BindingKind = (typeof BindingKind)[keyof typeof BindingKind];

export type Binding =
  | { readonly kind: "bridge" }
  | {
      readonly kind: "masquerade" /** Virtink's `masquerade.cidr`; KubeVirt uses the network's CIDRs. */;
      readonly cidr?: string;
    }
  | { readonly kind: "sriov" }
  | { readonly kind: "passtBinding" }
  | { readonly kind: "slirp" }
  | { readonly kind: "passt" }
  | { readonly kind: "macvtap" }
  | { readonly kind: "plugin"; readonly name: string }
  | { readonly kind: "vdpa"; readonly numQueues: number; readonly iommu: boolean }
  | { readonly kind: "vhostUser" };

/** NIC models a guest can be given. */
export const NicModel = {
  Virtio: "virtio",
  E1000: "e1000",
  E1000e: "e1000e",
  Igb: "igb",
  Ne2kPci: "ne2k_pci",
  Pcnet: "pcnet",
  Rtl8139: "rtl8139",
} as const;
export type NicModel = (typeof NicModel)[keyof typeof NicModel];

/** Link states an interface can ask for. */
export const LinkState = { Up: "up", Down: "down", Absent: "absent" } as const;
export type LinkState = (typeof LinkState)[keyof typeof LinkState];

export const Protocol = { TCP: "TCP", UDP: "UDP" } as const;
export type Protocol = (typeof Protocol)[keyof typeof Protocol];

export interface PortSpec {
  readonly name?: string;
  readonly protocol: Protocol;
  readonly port: number;
}

export interface PortRangeSpec {
  readonly protocol: Protocol;
  readonly start: number;
  readonly end: number;
}

export interface DhcpOptionsSpec {
  readonly bootFileName?: string;
  readonly tftpServerName?: string;
  readonly ntpServers: readonly string[];
  readonly privateOptions: readonly { readonly option: number; readonly value: string }[];
}

/** A guest NIC and how it is bound to its network. */
export interface InterfaceSpec {
  readonly name: string;
  readonly binding: Binding;
  /** Empty in the spec means virtio. */
  readonly model: NicModel;
  /** Lowercase colon form, when the spec (or Virtink's defaulting) gives one. */
  readonly macAddress?: string;
  readonly ports: readonly PortSpec[];
  readonly portRanges: readonly PortRangeSpec[];
  readonly pciAddress?: string;
  readonly bootOrder?: number;
  readonly dhcpOptions?: DhcpOptionsSpec;
  readonly tag?: string;
  readonly acpiIndex?: number;
  /** `""` in the spec means up. */
  readonly state: LinkState;
}

export type NetworkSource =
  | {
      readonly kind: "pod";
      /** KubeVirt's default 10.0.2.0/24 is applied at planning, not here: absent means "not set". */
      readonly vmNetworkCIDR?: string;
      readonly vmIPv6NetworkCIDR?: string;
    }
  | {
      readonly kind: "multus";
      /** `<nad>` or `<namespace>/<nad>`, as written. */
      readonly networkName: string;
      readonly default: boolean;
    };

export interface NetworkSpec {
  readonly name: string;
  readonly source: NetworkSource;
}

/** A VM's networking, whatever the dialect. Interfaces and networks pair by name. */
export interface VmNetworkModel {
  readonly dialect: Dialect;
  readonly name: string;
  readonly namespace: string;
  readonly interfaces: readonly InterfaceSpec[];
  readonly networks: readonly NetworkSpec[];
  /** virtio-net multiqueue requested (KubeVirt `networkInterfaceMultiqueue`). */
  readonly multiqueue: boolean;
  /** Number of vCPUs (sockets x cores x threads), which sets the queue count under multiqueue. */
  readonly vcpus: number;
  readonly hostname?: string;
  readonly subdomain?: string;
  readonly useVirtioTransitional: boolean;
}

/** The network an interface is bound to, if any. */
export function networkOf(model: VmNetworkModel, iface: InterfaceSpec): NetworkSpec | undefined {
  return model.networks.find((n) => n.name === iface.name);
}

/** The primary network: the first `pod` network, or the first multus network with `default: true`. */
export function primaryNetwork(model: VmNetworkModel): NetworkSpec | undefined {
  return model.networks.find((n) => n.source.kind === "pod" || (n.source.kind === "multus" && n.source.default));
}
