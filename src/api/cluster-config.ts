/**
 * What a KubeVirt CR (`kind: KubeVirt`) tells vmnet: the network configuration and the feature gates (reference §1.5,
 * §1.6). Admission and planning read this, never the raw CR.
 */
import type { KvBindingPlugin } from "./kubevirt-types.ts";

/** Feature gate maturity, which decides the default state (reference §1.6). */
export const GateState = { GA: "GA", Beta: "Beta", Alpha: "Alpha", Discontinued: "Discontinued" } as const;
export type GateState = (typeof GateState)[keyof typeof GateState];

/**
 * The network-related gates and their maturity. `Passt` and `Macvtap` are discontinued upstream; vmnet keeps them as
 * opt-in gates for the core `passt` and `macvtap` bindings the seeds describe (see docs/ARCHITECTURE.md).
 */
export const FEATURE_GATES = {
  PasstBinding: GateState.Beta,
  PortRangesSpec: GateState.Alpha,
  NetworkDevicesWithDRA: GateState.Alpha,
  PodSecondaryInterfaceNamingUpgrade: GateState.Beta,
  ExternalNetResourceInjection: GateState.Beta,
  HotplugNICs: GateState.GA,
  NetworkBindingPlugins: GateState.GA,
  DynamicPodInterfaceNaming: GateState.GA,
  LiveUpdateNADRef: GateState.GA,
  Passt: GateState.Discontinued,
  Macvtap: GateState.Discontinued,
  PasstIPStackMigration: GateState.Discontinued,
} as const satisfies Record<string, GateState>;
export type FeatureGate = keyof typeof FEATURE_GATES;

/** The cluster-wide settings admission and planning need. */
export interface ClusterConfig {
  /** `spec.configuration.network.defaultNetworkInterface`; default `"bridge"`. */
  readonly defaultNetworkInterface: string;
  /** Default true. */
  readonly permitBridgeInterfaceOnPodNetwork: boolean;
  /** Default false. Upstream ignores it; vmnet uses it to opt in to the core slirp binding. */
  readonly permitSlirpInterface: boolean;
  /** `spec.configuration.network.binding`. */
  readonly bindingPlugins: Readonly<Record<string, KvBindingPlugin>>;
  /** As listed in `developerConfiguration.featureGates`. */
  readonly featureGates: readonly string[];
  /** As listed in `developerConfiguration.disabledFeatureGates`. */
  readonly disabledFeatureGates: readonly string[];
  /** `developerConfiguration.useEmulation`. */
  readonly useEmulation: boolean;
}

/** The configuration of a KubeVirt installation with no CR changes. */
export const DEFAULT_CLUSTER_CONFIG: ClusterConfig = {
  defaultNetworkInterface: "bridge",
  permitBridgeInterfaceOnPodNetwork: true,
  permitSlirpInterface: false,
  bindingPlugins: {},
  featureGates: [],
  disabledFeatureGates: [],
  useEmulation: false,
};

/**
 * Whether a gate is on: GA always; Beta unless disabled; Alpha and Discontinued only when listed in `featureGates`.
 * Gate names are case-sensitive, as in KubeVirt.
 */
export function isGateEnabled(config: ClusterConfig, gate: FeatureGate): boolean {
  switch (FEATURE_GATES[gate]) {
    case GateState.GA:
      return true;
    case GateState.Beta:
      return !config.disabledFeatureGates.includes(gate);
    case GateState.Alpha:
    case GateState.Discontinued:
      return config.featureGates.includes(gate);
  }
}
