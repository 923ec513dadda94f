/**
 * The planner's one domain error. Callers branch on `code`; messages reuse KubeVirt's runtime strings (reference
 * Appendix B) where KubeVirt has one.
 */

/** Stable codes of planning failures. */
export const PlanErrorCode = {
  PodLinkMissing: "pod_link_missing",
  VmCidrTooSmall: "vm_cidr_too_small",
  VmCidrInvalid: "vm_cidr_invalid",
  NoGatewayRoute: "no_gateway_route",
  TooFewAddresses: "too_few_addresses",
  NoMoreAddresses: "no_more_addresses",
  BindingNotPlanned: "binding_not_planned",
  NetworkNotFound: "network_not_found",
  NadNotFound: "nad_not_found",
  BridgeIndexOutOfRange: "bridge_index_out_of_range",
  InvalidNtpServer: "invalid_ntp_server",
} as const;
export type PlanErrorCode = (typeof PlanErrorCode)[keyof typeof PlanErrorCode];

/** Why a NetworkPlan cannot be produced from the given inputs. Retrying with the same inputs never helps. */
export class PlanError extends Error {
  /** Stable code to branch on. */
  readonly code: PlanErrorCode;
  /** Always false: planning is pure, only different inputs (new pod facts, a fixed spec) change the outcome. */
  readonly retryable = false;

  constructor(code: PlanErrorCode, message: string, options?: { readonly cause?: unknown }) {
    super(message, options);
    this.name = "PlanError";
    this.code = code;
  }
}
