/**
 * Reading the KubeVirt CR (`kind: KubeVirt`) into a {@link ClusterConfig}: type checks on the fields vmnet reads, then
 * KubeVirt's config validation (reference §1.5) and vmnet's checks on binding-plugin enums.
 */
import { type Cause, CauseType, cause } from "../admission/cause.ts";
import { type ClusterConfig, DEFAULT_CLUSTER_CONFIG } from "./cluster-config.ts";
import { type Decoded, decodeWith, isObject, type Schema, s } from "./decode.ts";
import { OBJECT_META_SCHEMA } from "./kubevirt.ts";
import type { KvBindingPlugin, KvKubeVirt } from "./kubevirt-types.ts";
import { renderPath } from "./source.ts";

/** Values KubeVirt accepts for `defaultNetworkInterface` (`""` included). */
export const DEFAULT_NETWORK_INTERFACES = ["", "bridge", "slirp", "masquerade"] as const;

/** `InterfaceBindingPlugin.domainAttachmentType` values (`""` means none). */
export const DomainAttachmentType = { Tap: "tap", ManagedTap: "managedTap" } as const;
export type DomainAttachmentType = (typeof DomainAttachmentType)[keyof typeof DomainAttachmentType];

/** `InterfaceBindingPlugin.downwardAPI` values (`""` means none). */
export const NetworkBindingDownwardAPI = { DeviceInfo: "device-info" } as const;

/** `InterfaceBindingPlugin.migration.method` values. */
export const MigrationMethod = { LinkRefresh: "link-refresh" } as const;

const bindingPluginSchema = s.object({
  sidecarImage: s.string,
  networkAttachmentDefinition: s.string,
  domainAttachmentType: s.string,
  migration: s.object({ method: s.string }),
  downwardAPI: s.string,
  computeResourceOverhead: s.object({ limits: s.map(s.any), requests: s.map(s.any) }),
});

const KUBEVIRT_SCHEMA: Schema = s.object({
  apiVersion: s.string,
  kind: s.string,
  metadata: OBJECT_META_SCHEMA,
  spec: s.object({
    configuration: s.object({
      network: s.object({
        defaultNetworkInterface: s.string,
        permitBridgeInterfaceOnPodNetwork: s.boolean,
        permitSlirpInterface: s.boolean,
        binding: s.map(bindingPluginSchema),
      }),
      developerConfiguration: s.object({
        featureGates: s.array(s.string),
        disabledFeatureGates: s.array(s.string),
        useEmulation: s.boolean,
      }),
    }),
  }),
});

const NETWORK = ["spec", "configuration", "network"] as const;

const quoteList = (xs: readonly string[]): string => xs.map((x) => `"${x}"`).join(", ");

/**
 * Reads the cluster configuration from a KubeVirt CR. Fields absent from the CR keep KubeVirt's defaults
 * ({@link DEFAULT_CLUSTER_CONFIG}); a field that fails a check is reported and also keeps its default, so the result
 * is always usable.
 */
export function clusterConfigFromKubeVirt(value: unknown): Decoded<ClusterConfig> {
  const { value: decoded, causes } = decodeWith(value, KUBEVIRT_SCHEMA);
  const cr = (isObject(decoded) ? decoded : {}) as Partial<KvKubeVirt>;
  const network = cr.spec?.configuration?.network ?? {};
  const dev = cr.spec?.configuration?.developerConfiguration ?? {};

  let defaultNetworkInterface = DEFAULT_CLUSTER_CONFIG.defaultNetworkInterface;
  if (network.defaultNetworkInterface !== undefined) {
    if ((DEFAULT_NETWORK_INTERFACES as readonly string[]).includes(network.defaultNetworkInterface)) {
      defaultNetworkInterface = network.defaultNetworkInterface;
    } else {
      causes.push(
        cause(
          CauseType.Invalid,
          renderPath([...NETWORK, "defaultNetworkInterface"]),
          `invalid default-network-interface in config: ${network.defaultNetworkInterface}`,
        ),
      );
    }
  }

  const bindingPlugins: Record<string, KvBindingPlugin> = {};
  for (const [name, plugin] of Object.entries(network.binding ?? {})) {
    bindingPlugins[name] = checkBindingPlugin(name, plugin, causes);
  }

  return {
    value: {
      defaultNetworkInterface,
      permitBridgeInterfaceOnPodNetwork:
        network.permitBridgeInterfaceOnPodNetwork ?? DEFAULT_CLUSTER_CONFIG.permitBridgeInterfaceOnPodNetwork,
      permitSlirpInterface: network.permitSlirpInterface ?? DEFAULT_CLUSTER_CONFIG.permitSlirpInterface,
      bindingPlugins,
      featureGates: dev.featureGates ?? DEFAULT_CLUSTER_CONFIG.featureGates,
      disabledFeatureGates: dev.disabledFeatureGates ?? DEFAULT_CLUSTER_CONFIG.disabledFeatureGates,
      useEmulation: dev.useEmulation ?? DEFAULT_CLUSTER_CONFIG.useEmulation,
    },
    causes,
  };
}

/** Checks the enum-like fields of one binding plugin; a rejected value is removed from the returned plugin. */
function checkBindingPlugin(name: string, plugin: KvBindingPlugin, causes: Cause[]): KvBindingPlugin {
  const out: KvBindingPlugin = { ...plugin };
  const at = (field: string): string => renderPath([...NETWORK, "binding", name, field]);
  const attachment = plugin.domainAttachmentType;
  const attachmentTypes: readonly string[] = Object.values(DomainAttachmentType);
  if (attachment !== undefined && attachment !== "" && !attachmentTypes.includes(attachment)) {
    causes.push(
      cause(
        CauseType.NotSupported,
        at("domainAttachmentType"),
        `Binding plugin "${name}" has unsupported domainAttachmentType "${attachment}": supported values: ${quoteList(attachmentTypes)}`,
      ),
    );
    delete out.domainAttachmentType;
  }
  const downward = plugin.downwardAPI;
  const downwardValues: readonly string[] = Object.values(NetworkBindingDownwardAPI);
  if (downward !== undefined && downward !== "" && !downwardValues.includes(downward)) {
    causes.push(
      cause(
        CauseType.NotSupported,
        at("downwardAPI"),
        `Binding plugin "${name}" has unsupported downwardAPI "${downward}": supported values: ${quoteList(downwardValues)}`,
      ),
    );
    delete out.downwardAPI;
  }
  return out;
}
