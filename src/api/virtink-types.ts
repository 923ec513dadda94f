/**
 * The network-relevant shapes of Virtink's `virt.virtink.smartx.com/v1alpha1` VirtualMachine (Virtink reference §1.1).
 * Binding methods are "present" when their key exists, even with an empty object.
 */

export const VIRTINK_API_VERSION = "virt.virtink.smartx.com/v1alpha1";

/** `spec.instance.interfaces[]`. */
export interface VkInterface {
  name?: string;
  mac?: string;
  bridge?: Record<string, unknown>;
  masquerade?: { cidr?: string };
  sriov?: Record<string, unknown>;
  vdpa?: { numQueues?: number; iommu?: boolean };
  vhostUser?: Record<string, unknown>;
}

/** `spec.networks[]`. */
export interface VkNetwork {
  name?: string;
  pod?: Record<string, unknown>;
  multus?: { networkName?: string };
}

/** `kind: VirtualMachine` (Virtink), the parts vmnet reads. */
export interface VkVirtualMachine {
  apiVersion: string;
  kind: "VirtualMachine";
  metadata?: { name?: string; namespace?: string; [k: string]: unknown };
  spec?: {
    runPolicy?: string;
    instance?: {
      cpu?: { sockets?: number; coresPerSocket?: number; dedicatedCPUPlacement?: boolean; [k: string]: unknown };
      memory?: { size?: string; hugepages?: Record<string, unknown>; [k: string]: unknown };
      interfaces?: VkInterface[];
      disks?: unknown[];
      [k: string]: unknown;
    };
    networks?: VkNetwork[];
    volumes?: unknown[];
    [k: string]: unknown;
  };
}
