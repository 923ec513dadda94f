/**
 * The KubeVirt webhooks as vmnet runs them (reference §3.1): VMI create/update and VM create/update, with KubeVirt's
 * 422 message format.
 */
import type { ClusterConfig } from "../../api/cluster-config.ts";
import type { KvVirtualMachine, KvVirtualMachineInstance, KvVmiSpec } from "../../api/kubevirt-types.ts";
import { type Cause, CauseType, cause } from "../cause.ts";
import { applyKubeVirtDefaults } from "./defaults.ts";
import { legacyBindingsFor } from "./legacy.ts";
import { validateDiscontinuedBindings, validateDiscontinuedGates, validateNetworkSpec } from "./network.ts";
import { hostnameRules, laterRules, validateKubeVirtVmiSpec } from "./vmi-spec.ts";

/** The verdict of one admission request. */
export interface AdmissionResult {
  readonly allowed: boolean;
  /** As in KubeVirt's `details.causes`: at most the first {@link MAX_REPORTED_CAUSES}. */
  readonly causes: Cause[];
  readonly warnings: string[];
  /** KubeVirt's `status.message` when denied. */
  readonly message?: string;
  /** The object with defaults applied to its VMI spec (what the mutating webhook or VM controller produces). */
  readonly defaulted?: object;
}

/** Options of {@link admitKubeVirt}. */
export interface AdmitOptions<T> {
  /** The stored object: present for an update, absent for a create. */
  readonly old?: T;
}

/** KubeVirt reports at most this many causes and summarises the rest in the message. */
export const MAX_REPORTED_CAUSES = 10;

/**
 * Builds KubeVirt's 422 `status.message`: the first 10 cause messages joined with ", ", then
 * ", and N more validation errors" when there are more.
 */
export function admissionMessage(causes: readonly Cause[]): string {
  const shown = causes.slice(0, MAX_REPORTED_CAUSES).map((c) => c.message);
  const rest = causes.length - shown.length;
  return rest > 0 ? `${shown.join(", ")}, and ${rest} more validation errors` : shown.join(", ");
}

function verdict(causes: readonly Cause[], defaulted?: object): AdmissionResult {
  const base = defaulted === undefined ? {} : { defaulted };
  if (causes.length === 0) return { allowed: true, causes: [], warnings: [], ...base };
  return {
    allowed: false,
    causes: causes.slice(0, MAX_REPORTED_CAUSES),
    warnings: [],
    message: admissionMessage(causes),
    ...base,
  };
}

/**
 * Admits a KubeVirt VM or VMI as KubeVirt's webhooks would, with vmnet's legacy-binding policy (see legacy.ts).
 * - VMI create: defaults (mutating webhook), then discontinued gates, `ValidateCreation`, and the VMI spec rules with
 *   root `spec`.
 * - VMI update: any spec change is refused (`update of VMI object is restricted`, no field), as for a non-KubeVirt
 *   user.
 * - VM create: defaults on a copy of `spec.template.spec`; then, each returning early when it finds anything, the
 *   discontinued gates, `ValidateCreation` with root `spec` (KubeVirt's quirk: e.g.
 *   `spec.domain.devices.interfaces[0].slirp`), and the VMI spec rules with root `spec.template.spec`.
 * - VM update: the VMI spec rules only.
 * A defaulting failure denies the request with the defaulting error as message and no causes.
 */
export function admitKubeVirt(
  obj: KvVirtualMachine | KvVirtualMachineInstance,
  config: ClusterConfig,
  options: AdmitOptions<KvVirtualMachine | KvVirtualMachineInstance> = {},
): AdmissionResult {
  return obj.kind === "VirtualMachineInstance" ? admitVmi(obj, config, options.old) : admitVm(obj, config, options.old);
}

function defaultingFailure(error: string): AdmissionResult {
  return { allowed: false, causes: [], warnings: [], message: error };
}

function admitVmi(
  vmi: KvVirtualMachineInstance,
  config: ClusterConfig,
  old: KvVirtualMachine | KvVirtualMachineInstance | undefined,
): AdmissionResult {
  if (old !== undefined) {
    if (jsonEqual(old.spec ?? {}, vmi.spec ?? {})) return verdict([]);
    return verdict([cause(CauseType.NotSupported, "", "update of VMI object is restricted")]);
  }
  const defaulted = applyKubeVirtDefaults(vmi.spec ?? {}, config);
  if ("error" in defaulted) return defaultingFailure(defaulted.error);
  const spec = defaulted.spec;
  const legacy = legacyBindingsFor(config);
  // Upstream runs the network `Validate()` twice on VMI create: once in the SIG-network spec validator (right after
  // `ValidateCreation`) and again inside `ValidateVirtualMachineInstanceSpec`, so each of its causes is probably
  // reported twice (reference §3.1). vmnet reports each once, at its first position.
  const causes = [
    ...validateDiscontinuedGates(spec, config, legacy),
    ...validateDiscontinuedBindings(spec, "spec", legacy),
    ...validateNetworkSpec(spec, "spec", config, legacy),
    ...hostnameRules(spec, "spec"),
    ...laterRules(spec, "spec"),
  ];
  return verdict(causes, { ...vmi, spec });
}

function admitVm(
  vm: KvVirtualMachine,
  config: ClusterConfig,
  old: KvVirtualMachine | KvVirtualMachineInstance | undefined,
): AdmissionResult {
  const template = vm.spec?.template;
  if (template === undefined || template === null) {
    return verdict([cause(CauseType.Required, "spec.template", "missing virtual machine template.")]);
  }
  const defaulted = applyKubeVirtDefaults(template.spec ?? {}, config);
  if ("error" in defaulted) return defaultingFailure(defaulted.error);
  const spec: KvVmiSpec = defaulted.spec;
  const result = { ...vm, spec: { ...vm.spec, template: { ...template, spec } } };
  if (old === undefined) {
    // The VM webhook returns early on each of these, before validating the template (vms-admitter.go).
    const legacy = legacyBindingsFor(config);
    const gates = validateDiscontinuedGates(template.spec ?? {}, config, legacy);
    if (gates.length > 0) return verdict(gates, result);
    const creation = validateDiscontinuedBindings(spec, "spec", legacy);
    if (creation.length > 0) return verdict(creation, result);
  }
  const admitted = verdict(validateKubeVirtVmiSpec(spec, "spec.template.spec", config), result);
  // KubeVirt attaches warnings to allowed responses only.
  if (admitted.allowed && vm.spec?.running !== undefined && vm.spec.running !== null) {
    return { ...admitted, warnings: ["spec.running is deprecated, please use spec.runStrategy instead."] };
  }
  return admitted;
}

/** Structural equality of JSON values, ignoring key order (Go's `equality.Semantic.DeepEqual` on decoded specs). */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  const ak = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const bk = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ak.length !== bk.length) return false;
  return ak.every(
    (k) => Object.hasOwn(b, k) && jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
  );
}
