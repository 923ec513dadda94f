/**
 * Which of the legacy core bindings (`slirp`, `passt`, `macvtap`) this cluster accepts.
 *
 * Upstream KubeVirt discontinued all three in v1.3: it rejects them on creation and does not count them as a binding
 * method (reference §3.4, §1.6). vmnet's decision (from the issue, overriding the reference): the seeds describe them as
 * working, feature-gated core bindings, so vmnet accepts each one when the cluster opts in the way the seeds say:
 * - `passt` when the `Passt` gate is listed in `developerConfiguration.featureGates`;
 * - `macvtap` when the `Macvtap` gate is listed;
 * - `slirp` when `network.permitSlirpInterface` is true (upstream ignores that field).
 * An accepted legacy binding counts as the interface's one binding method and gets the legacy rules and messages of
 * reference Appendix C; the discontinued-binding and discontinued-gate causes are then not emitted. A binding that is
 * not opted in is rejected exactly as upstream does. This is the only place the decision is made.
 */
import type { ClusterConfig } from "../../api/cluster-config.ts";
import { isGateEnabled } from "../../api/cluster-config.ts";

/** Per legacy binding: true when vmnet accepts it as a working binding. */
export interface LegacyBindings {
  readonly slirp: boolean;
  readonly passt: boolean;
  readonly macvtap: boolean;
}

/** Upstream KubeVirt's behaviour: every legacy binding is discontinued. */
export const UPSTREAM_LEGACY_BINDINGS: LegacyBindings = { slirp: false, passt: false, macvtap: false };

/** vmnet's policy for a cluster configuration (see the module comment). */
export function legacyBindingsFor(config: ClusterConfig): LegacyBindings {
  return {
    slirp: config.permitSlirpInterface,
    passt: isGateEnabled(config, "Passt"),
    macvtap: isGateEnabled(config, "Macvtap"),
  };
}
