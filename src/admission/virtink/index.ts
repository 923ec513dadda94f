/**
 * Virtink (`virt.virtink.smartx.com/v1alpha1`) admission: defaulting, validation and the denial message.
 */
export { type AdmitVirtinkOptions, admitVirtink, type VirtinkAdmission } from "./admit.ts";
export {
  applyVirtinkDefaults,
  VIRTINK_DEFAULT_MASQUERADE_CIDR,
  VIRTINK_MAC_PREFIX,
  type VirtinkDefaultsOptions,
} from "./defaults.ts";
export { virtinkDenialMessage } from "./field-error.ts";
export {
  VIRTINK_BINDING_METHODS,
  VIRTINK_NETWORK_SOURCES,
  type VirtinkBindingMethod,
  type VirtinkNetworkSource,
  type VirtinkValidateOptions,
  validateVirtinkVm,
} from "./validate.ts";
