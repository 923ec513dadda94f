/**
 * KubeVirt's network defaulting (reference §2, `SetDefaultNetworkInterface`): the auto-attached pod interface.
 */
import type { ClusterConfig } from "../../api/cluster-config.ts";
import type { KvInterface, KvVmiSpec } from "../../api/kubevirt-types.ts";
import { type LegacyBindings, legacyBindingsFor } from "./legacy.ts";

/** Name of the auto-attached interface and network. */
export const DEFAULT_NETWORK_NAME = "default";

/**
 * Applies the auto-attach pod interface rule to a copy of `spec`; the input is never modified. Returns the upstream
 * error string when the configured default binding is not allowed.
 */
export function applyKubeVirtDefaults(spec: KvVmiSpec, config: ClusterConfig): { spec: KvVmiSpec } | { error: string } {
  return applyDefaultsWith(spec, config, legacyBindingsFor(config));
}

/** {@link applyKubeVirtDefaults} with an explicit legacy-binding policy (upstream behaviour for tests). */
export function applyDefaultsWith(
  spec: KvVmiSpec,
  config: ClusterConfig,
  legacy: LegacyBindings,
): { spec: KvVmiSpec } | { error: string } {
  const out = structuredClone(spec);
  const devices = out.domain?.devices;
  if (devices?.autoattachPodInterface === false) return { spec: out };
  if ((out.networks?.length ?? 0) > 0 || (devices?.interfaces?.length ?? 0) > 0) return { spec: out };

  let iface: KvInterface | undefined;
  switch (config.defaultNetworkInterface) {
    case "bridge":
      if (!config.permitBridgeInterfaceOnPodNetwork)
        return { error: "bridge interface is not enabled in kubevirt-config" };
      iface = { name: DEFAULT_NETWORK_NAME, bridge: {} };
      break;
    case "masquerade":
      iface = { name: DEFAULT_NETWORK_NAME, masquerade: {} };
      break;
    case "slirp":
      // vmnet accepts slirp when the cluster opts in (see legacy.ts); upstream always refuses it.
      if (!legacy.slirp) return { error: "slirp interface is deprecated as of v1.3" };
      iface = { name: DEFAULT_NETWORK_NAME, slirp: {} };
      break;
    default:
      // Only "" reaches this: a pod network without an interface, which admission then rejects (reference §2 step 4).
      break;
  }
  const domain = out.domain ?? {};
  out.domain = domain;
  const outDevices = domain.devices ?? {};
  domain.devices = outDevices;
  if (iface) outDevices.interfaces = [iface];
  out.networks = [{ name: DEFAULT_NETWORK_NAME, pod: {} }];
  return { spec: out };
}
