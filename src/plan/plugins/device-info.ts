/**
 * The downward API file device-info plugins read (kubevirt-network.md §4.3): the `kubevirt.io/network-info`
 * annotation exposed at `/etc/podinfo/network-info`. Its content is built by network-info.ts; this module decides
 * whether a pod needs the file and what it holds before Multus has reported anything.
 */
import type { ClusterConfig } from "../../api/cluster-config.ts";
import type { VmNetworkModel } from "../../api/model.ts";
import { LinkState } from "../../api/model.ts";
import { NETWORK_INFO_PATH, networkInfoOf, renderNetworkInfo } from "../network-info.ts";
import type { DeviceStatusEntry } from "../passthrough-types.ts";

/** The file to write in the pod: where, and its exact bytes. */
export interface DeviceInfoFile {
  readonly path: string;
  readonly content: string;
}

/** Whether any non-absent interface uses a plugin registered with `downwardAPI: device-info`. */
export function needsDeviceInfoFile(model: VmNetworkModel, config: ClusterConfig): boolean {
  return model.interfaces.some((i) => {
    if (i.state === LinkState.Absent || i.binding.kind !== "plugin") return false;
    const name = i.binding.name;
    return Object.hasOwn(config.bindingPlugins, name) && config.bindingPlugins[name]?.downwardAPI === "device-info";
  });
}

/**
 * The network-info file for a pod with device-info plugins, from the pod's network-status; undefined when no plugin
 * asks for it. Before any entry is known the annotation is absent, and a downward API file of an absent annotation is
 * empty, so the content is then `""`.
 */
export function deviceInfoFile(
  model: VmNetworkModel,
  networkStatus: readonly DeviceStatusEntry[],
  config: ClusterConfig,
): DeviceInfoFile | undefined {
  if (!needsDeviceInfoFile(model, config)) return undefined;
  const info = networkInfoOf(model, networkStatus, { config });
  return { path: NETWORK_INFO_PATH, content: info === undefined ? "" : renderNetworkInfo(info) };
}
