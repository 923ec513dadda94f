/**
 * What vmnet's own checks need to know about a NetworkAttachmentDefinition, independent of how it was parsed.
 */
import type { NetworkAttachmentDefinition } from "../../api/nad.ts";

/** One CNI plugin of a NAD's config (a single-plugin config is a list of one). */
export interface CniPluginFacts {
  readonly type: string;
  readonly mtu?: number;
  /** macvlan/ipvlan `mode` (e.g. `passthru`), when given. */
  readonly mode?: string;
}

/** A NAD as vmnet's checks see it. */
export interface NadFacts {
  readonly name: string;
  /** Absent when the NAD names none; it is then taken to live in the VM's namespace. */
  readonly namespace?: string;
  /** The `k8s.v1.cni.cncf.io/resourceName` annotation. */
  readonly resourceName?: string;
  /** The plugin chain; the first entry is the main plugin that creates the pod interface. */
  readonly plugins: readonly CniPluginFacts[];
}

/** The namespace a VM lives in when its metadata names none. */
export const DEFAULT_NAMESPACE = "default";

/**
 * Finds the NAD a multus `networkName` (`<nad>` or `<namespace>/<nad>`) refers to, resolving a bare name in the VM's
 * namespace as KubeVirt does. A NAD without a namespace is taken to be in the VM's namespace.
 */
export function findNad(
  nads: readonly NadFacts[],
  networkName: string,
  vmNamespace: string | undefined,
): NadFacts | undefined {
  const vmNs = vmNamespace || DEFAULT_NAMESPACE;
  const slash = networkName.indexOf("/");
  const ns = slash >= 0 ? networkName.slice(0, slash) : vmNs;
  const name = slash >= 0 ? networkName.slice(slash + 1) : networkName;
  return nads.find((n) => n.name === name && (n.namespace || vmNs) === ns);
}

/** The facts of a decoded NAD: the plugin chain's types, MTUs and macvlan/ipvlan modes. */
export function nadFactsFrom(nad: NetworkAttachmentDefinition): NadFacts {
  return {
    name: nad.name,
    ...(nad.namespace ? { namespace: nad.namespace } : {}),
    ...(nad.resourceName ? { resourceName: nad.resourceName } : {}),
    plugins: (nad.config?.plugins ?? []).map((p) => ({
      type: p.type,
      ...(p.mtu === undefined ? {} : { mtu: p.mtu }),
      ...(typeof p.raw.mode === "string" ? { mode: p.raw.mode } : {}),
    })),
  };
}
