/**
 * The network-relevant shapes of KubeVirt's `kubevirt.io/v1` API, as JSON (reference §1). Only what vmnet reads is
 * typed; everything else in a VM is carried through untouched. Binding methods are "present" when their key exists.
 */

export const KUBEVIRT_API_VERSION = "kubevirt.io/v1";

/** `spec.domain.devices.interfaces[].ports[]`. */
export interface KvPort {
  name?: string;
  protocol?: string;
  port?: number;
}

/** `spec.domain.devices.interfaces[].portRanges[]` (gate `PortRangesSpec`). */
export interface KvPortRange {
  protocol?: string;
  start?: number;
  end?: number;
}

/** `DHCPPrivateOptions`. */
export interface KvDhcpPrivateOption {
  option?: number;
  value?: string;
}

/** `DHCPOptions` (reference §1.2). */
export interface KvDhcpOptions {
  bootFileName?: string;
  tftpServerName?: string;
  ntpServers?: string[];
  privateOptions?: KvDhcpPrivateOption[];
}

/** `spec.domain.devices.interfaces[]` (reference §1.1). */
export interface KvInterface {
  name?: string;
  model?: string;
  bridge?: Record<string, unknown>;
  masquerade?: Record<string, unknown>;
  sriov?: Record<string, unknown>;
  passtBinding?: Record<string, unknown>;
  slirp?: Record<string, unknown>;
  macvtap?: Record<string, unknown>;
  passt?: Record<string, unknown>;
  binding?: { name?: string };
  ports?: KvPort[];
  portRanges?: KvPortRange[];
  macAddress?: string;
  bootOrder?: number;
  pciAddress?: string;
  dhcpOptions?: KvDhcpOptions;
  tag?: string;
  acpiIndex?: number;
  state?: string;
}

/** `spec.networks[]` (reference §1.3). */
export interface KvNetwork {
  name?: string;
  pod?: { vmNetworkCIDR?: string; vmIPv6NetworkCIDR?: string };
  multus?: { networkName?: string; default?: boolean };
  resourceClaim?: { claimName?: string; requestName?: string };
}

/** The part of `spec.domain.devices` vmnet reads. */
export interface KvDevices {
  interfaces?: KvInterface[];
  autoattachPodInterface?: boolean;
  networkInterfaceMultiqueue?: boolean;
  useVirtioTransitional?: boolean;
  disks?: { name?: string; bootOrder?: number; [k: string]: unknown }[];
  [k: string]: unknown;
}

/** The part of a VMI spec vmnet reads (`spec` of a VMI, `spec.template.spec` of a VM). */
export interface KvVmiSpec {
  domain?: {
    devices?: KvDevices;
    cpu?: { sockets?: number; cores?: number; threads?: number; [k: string]: unknown };
    launchSecurity?: Record<string, unknown>;
    [k: string]: unknown;
  };
  networks?: KvNetwork[];
  hostname?: string;
  subdomain?: string;
  dnsPolicy?: string;
  dnsConfig?: { nameservers?: string[]; searches?: string[]; options?: { name?: string; value?: string }[] };
  readinessProbe?: Record<string, unknown>;
  livenessProbe?: Record<string, unknown>;
  resourceClaims?: { name?: string; [k: string]: unknown }[];
  [k: string]: unknown;
}

export interface KvObjectMeta {
  name?: string;
  namespace?: string;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  [k: string]: unknown;
}

/** `kind: VirtualMachineInstance`. */
export interface KvVirtualMachineInstance {
  apiVersion: string;
  kind: "VirtualMachineInstance";
  metadata?: KvObjectMeta;
  spec?: KvVmiSpec;
  [k: string]: unknown;
}

/** `kind: VirtualMachine` (KubeVirt). */
export interface KvVirtualMachine {
  apiVersion: string;
  kind: "VirtualMachine";
  metadata?: KvObjectMeta;
  spec?: { running?: boolean; runStrategy?: string; template?: { metadata?: KvObjectMeta; spec?: KvVmiSpec } };
  [k: string]: unknown;
}

/** `InterfaceBindingPlugin` (reference §1.5). */
export interface KvBindingPlugin {
  sidecarImage?: string;
  networkAttachmentDefinition?: string;
  domainAttachmentType?: string;
  migration?: { method?: string };
  downwardAPI?: string;
  computeResourceOverhead?: { limits?: Record<string, string>; requests?: Record<string, string> };
}

/** `kind: KubeVirt` (the CR), the parts vmnet reads. */
export interface KvKubeVirt {
  apiVersion: string;
  kind: "KubeVirt";
  metadata?: KvObjectMeta;
  spec?: {
    configuration?: {
      network?: {
        defaultNetworkInterface?: string;
        permitBridgeInterfaceOnPodNetwork?: boolean;
        permitSlirpInterface?: boolean;
        binding?: Record<string, KvBindingPlugin>;
      };
      developerConfiguration?: {
        featureGates?: string[];
        disabledFeatureGates?: string[];
        useEmulation?: boolean;
      };
      [k: string]: unknown;
    };
    [k: string]: unknown;
  };
}
