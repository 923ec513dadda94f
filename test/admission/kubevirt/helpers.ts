/** Builders shared by the KubeVirt admission tests. */

import type { Cause, CauseType } from "../../../src/admission/cause.ts";
import { type ClusterConfig, DEFAULT_CLUSTER_CONFIG } from "../../../src/api/cluster-config.ts";
import type { KvInterface, KvNetwork, KvVmiSpec } from "../../../src/api/kubevirt-types.ts";

/** A VMI spec with the given interfaces and networks (and any other top-level fields). */
export function spec(interfaces: KvInterface[], networks: KvNetwork[], extra: Partial<KvVmiSpec> = {}): KvVmiSpec {
  return { ...extra, domain: { ...extra.domain, devices: { ...extra.domain?.devices, interfaces } }, networks };
}

/** The pod network `default` with a masquerade interface: valid everywhere. */
export const podMasquerade = (): KvVmiSpec =>
  spec([{ name: "default", masquerade: {} }], [{ name: "default", pod: {} }]);

/** A cluster config: the defaults plus overrides. */
export function cfg(over: Partial<ClusterConfig> = {}): ClusterConfig {
  return { ...DEFAULT_CLUSTER_CONFIG, ...over };
}

/** A cause literal for assertions. */
export function c(type: CauseType, field: string, message: string): Cause {
  return { type, field, message };
}
