/**
 * KubeVirt (`kubevirt.io/v1`) admission for vmnet: defaulting and validation with KubeVirt's exact causes.
 */
export {
  type AdmissionResult,
  type AdmitOptions,
  admissionMessage,
  admitKubeVirt,
  MAX_REPORTED_CAUSES,
} from "./admit.ts";
export { applyKubeVirtDefaults, DEFAULT_NETWORK_NAME } from "./defaults.ts";
export { type LegacyBindings, legacyBindingsFor, UPSTREAM_LEGACY_BINDINGS } from "./legacy.ts";
export { validateKubeVirtCreation, validateKubeVirtVmiSpec } from "./vmi-spec.ts";
