/**
 * The planner's one domain error and the one list of its codes (tap-like and passthrough bindings, plugins, the
 * launcher pod). Callers branch on `code`; messages reuse KubeVirt's and Virtink's runtime strings (reference
 * Appendix B, virtink-network.md §4) where they have one.
 */

/** Stable codes of planning failures. */
export const PlanErrorCode = {
  PodLinkMissing: "pod_link_missing",
  VmCidrTooSmall: "vm_cidr_too_small",
  VmCidrInvalid: "vm_cidr_invalid",
  NoGatewayRoute: "no_gateway_route",
  TooFewAddresses: "too_few_addresses",
  NoMoreAddresses: "no_more_addresses",
  /** A unix socket path the plan would use is longer than `sun_path` allows (passt's socket under `runDir`). */
  SocketPathTooLong: "socket_path_too_long",
  NetworkNotFound: "network_not_found",
  NadNotFound: "nad_not_found",
  BridgeIndexOutOfRange: "bridge_index_out_of_range",
  InvalidNtpServer: "invalid_ntp_server",
  /** `binding: {name}` with no `spec.configuration.network.binding.<name>` in the KubeVirt CR. */
  PluginNotRegistered: "plugin_not_registered",
  /** A binding (or binding plugin) used in the dialect that does not have it, e.g. vDPA in a KubeVirt VM. */
  BindingUnsupported: "binding_unsupported",
  /** A binding on a network kind it does not implement (passt and slirp off the pod network, macvtap off Multus). */
  NetworkKindUnsupported: "network_kind_unsupported",
  /** A binding whose feature gate (or CR permit) is off. */
  FeatureGateDisabled: "feature_gate_disabled",
  /** A pod link of the interface's name exists with another link kind than the binding creates. */
  LinkTypeCollision: "link_type_collision",
  /** A macvtap NAD whose `k8s.v1.cni.cncf.io/resourceName` names no lower device. */
  MacvtapLowerDeviceUnknown: "macvtap_lower_device_unknown",
  /** A plugin's `computeResourceOverhead.requests.memory` that is not a Kubernetes quantity. */
  MemoryOverheadInvalid: "memory_overhead_invalid",
  /** A passthrough interface planned without the facts it reads (network-status, the vhost-user environment). */
  PassthroughFactsMissing: "passthrough_facts_missing",
  NetworkInfoInvalid: "network_info_invalid",
  /** KubeVirt's `found no SR-IOV networks to PCI-Address mapping`: Multus may still add device-info. */
  NoSriovMapping: "no_sriov_mapping",
  /** KubeVirt's `PCI-Address for SR-IOV network "x" not found`: Multus may still add device-info. */
  SriovPciAddressNotFound: "sriov_pci_address_not_found",
  InvalidHostPciAddress: "invalid_host_pci_address",
  VhostUserNetTypeMissing: "vhost_user_net_type_missing",
  VhostUserNetTypeUnsupported: "vhost_user_net_type_unsupported",
  VhostUserSocketMissing: "vhost_user_socket_missing",
  VhostUserLinkNotFound: "vhost_user_link_not_found",
  VhostUserConfigInvalid: "vhost_user_config_invalid",
  /** A vhostUser interface without a MAC (Virtink's webhook always defaults one; an unadmitted model may lack it). */
  VhostUserMacMissing: "vhost_user_mac_missing",
} as const;
export type PlanErrorCode = (typeof PlanErrorCode)[keyof typeof PlanErrorCode];

/** Codes where the pod's facts may still change on their own: Multus writes device-info into network-status late. */
const RETRYABLE: ReadonlySet<PlanErrorCode> = new Set([
  PlanErrorCode.NoSriovMapping,
  PlanErrorCode.SriovPciAddressNotFound,
]);

/** Why a NetworkPlan (or a launcher pod) cannot be produced from the given inputs. */
export class PlanError extends Error {
  /** Stable code to branch on. */
  readonly code: PlanErrorCode;
  /**
   * Planning is pure, so only new inputs change the outcome. True where those inputs arrive without anyone acting
   * (the CNI filling network-status), so the caller should re-read the pod facts and plan again.
   */
  readonly retryable: boolean;

  constructor(code: PlanErrorCode, message: string, options?: { readonly cause?: unknown }) {
    super(message, options);
    this.name = "PlanError";
    this.code = code;
    this.retryable = RETRYABLE.has(code);
  }
}
