/**
 * Virtink admission as the API server runs it: the mutating webhook's defaults, then the validating webhook.
 */
import type { VkVirtualMachine } from "../../api/virtink-types.ts";
import type { Cause } from "../cause.ts";
import { applyVirtinkDefaults } from "./defaults.ts";
import { virtinkDenialMessage } from "./field-error.ts";
import { validateVirtinkVm } from "./validate.ts";

/** Options of {@link admitVirtink}. */
export interface AdmitVirtinkOptions {
  /** The stored (already defaulted) object on UPDATE; absent on CREATE. */
  readonly old?: VkVirtualMachine;
  /** The random source for generated MACs (node:crypto by default). */
  readonly randomBytes?: (n: number) => Uint8Array;
}

/** The outcome of {@link admitVirtink}. */
export interface VirtinkAdmission {
  readonly allowed: boolean;
  /** One cause per Go `field.Error`, in Virtink's order; `message` is the full `<path>: <body>` text. */
  readonly causes: Cause[];
  /** Virtink never sends admission warnings; kept for symmetry with the KubeVirt admitter. */
  readonly warnings: string[];
  /** The denial text (`result.message`), present only when denied. */
  readonly message?: string;
  /** The object after the mutating webhook, which is what validation saw. */
  readonly defaulted: VkVirtualMachine;
}

/** Defaults `vm` (mutating webhook), then validates the result (validating webhook), as for CREATE or UPDATE. */
export function admitVirtink(vm: VkVirtualMachine, options: AdmitVirtinkOptions = {}): VirtinkAdmission {
  const defaulted = applyVirtinkDefaults(vm, options);
  const causes = validateVirtinkVm(defaulted, { old: options.old });
  if (causes.length === 0) return { allowed: true, causes, warnings: [], defaulted };
  return { allowed: false, causes, warnings: [], message: virtinkDenialMessage(causes), defaulted };
}
