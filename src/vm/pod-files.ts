/**
 * Files the launcher pod gets from Kubernetes that vmnet's lab must write itself: the downward API's
 * `/etc/podinfo/network-info` for device-info binding plugins (kubevirt-network.md §4.3), kept in the pod's directory
 * under the same relative path, next to the pod's `resolv.conf` and `hostname`.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { ClusterConfig } from "../api/cluster-config.ts";
import type { VmNetworkModel } from "../api/model.ts";
import type { DeviceStatusEntry } from "../plan/passthrough-types.ts";
import { deviceInfoFile } from "../plan/plugins/device-info.ts";

/** The pod's Multus network-status entries (what device-info and SR-IOV planning read); [] before Multus wrote any. */
export function parseNetworkStatus(text: string | undefined): DeviceStatusEntry[] {
  if (text === undefined || text.trim() === "") return [];
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed)) throw new SyntaxError("Cannot read the pod's network-status: expected a JSON array");
  return parsed as DeviceStatusEntry[];
}

/**
 * Writes the network-info file into `podDir` when a device-info plugin needs it; returns its path there, or undefined
 * when no interface asks for it.
 */
export async function writeDeviceInfo(
  podDir: string,
  model: VmNetworkModel,
  networkStatus: readonly DeviceStatusEntry[],
  config: ClusterConfig,
): Promise<string | undefined> {
  const file = deviceInfoFile(model, networkStatus, config);
  if (file === undefined) return undefined;
  const path = join(podDir, file.path);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, file.content, { mode: 0o644 });
  return path;
}
