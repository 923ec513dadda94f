/**
 * One Multus attachment added to or removed from a lab pod that exists, as Multus' dynamic-networks controller does
 * when the pod's networks annotation changes (reference §8.2 steps 2–3): CNI ADD (or DEL) of that NAD under the pod
 * interface name KubeVirt's naming scheme gives, then the pod's record and its network-status annotation rewritten,
 * so `deletePod` later deletes exactly what is attached. The record layout is the one src/lab/pod.ts writes
 * (`pod.json`, `network-status.json` in the pod's directory).
 */
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { netnsPath } from "../host/netns.ts";
import { hashedPodInterfaceName } from "../plan/namescheme.ts";
import { CniCommand, type CniResult, invokeCni, normalizeNetworkConfig } from "./cni.ts";
import { type LabNode, nodeCniCacheDir, nodeIpamDir } from "./node.ts";
import {
  type LabPod,
  loadPod,
  networkStatusEntry,
  type PodAttachment,
  type PodAttachmentRequest,
  podDir,
  renderNetworkStatus,
} from "./pod.ts";

type AttachmentTarget = Pick<PodAttachment, "config" | "ifname" | "mac">;

function cni(node: LabNode, pod: LabPod, a: AttachmentTarget, command: CniCommand): Promise<CniResult | undefined> {
  return invokeCni(a.config, {
    command,
    containerId: pod.containerId,
    netns: netnsPath(pod.netns),
    ifname: a.ifname,
    // What kubelet's runtime passes to the pod network, and Multus to its delegates (as pod.ts does).
    args: {
      K8S_POD_NAMESPACE: pod.namespace,
      K8S_POD_NAME: pod.name,
      K8S_POD_INFRA_CONTAINER_ID: pod.containerId,
      K8S_POD_UID: pod.uid,
    },
    ...(a.mac === undefined ? {} : { mac: a.mac }),
    pluginDir: node.pluginDir,
    cacheDir: nodeCniCacheDir(node),
    ipamDataDir: nodeIpamDir(node),
    runNetns: node.name,
    executor: node.executor,
  });
}

/** Rewrites the pod's record and network-status with `attachments`; returns the pod as re-read. */
async function saveAttachments(node: LabNode, pod: LabPod, attachments: readonly PodAttachment[]): Promise<LabPod> {
  const dir = podDir(node, pod.name);
  const record = {
    name: pod.name,
    namespace: pod.namespace,
    netns: pod.netns,
    containerId: pod.containerId,
    uid: pod.uid,
    attachments,
  };
  const status = renderNetworkStatus(attachments.map((a) => networkStatusEntry(a.result, a.statusName, a.isDefault)));
  const suffix = `.${process.pid}.tmp`;
  await writeFile(join(dir, `network-status.json${suffix}`), status);
  await writeFile(join(dir, `pod.json${suffix}`), `${JSON.stringify(record, undefined, 2)}\n`);
  await rename(join(dir, `network-status.json${suffix}`), join(dir, "network-status.json"));
  await rename(join(dir, `pod.json${suffix}`), join(dir, "pod.json"));
  return loadPod(node, pod.name);
}

/**
 * Attaches one secondary network to pod `podName` (CNI ADD under KubeVirt's hashed pod interface name unless the
 * request names one). A failed ADD is followed by a DEL, as runtimes do, and nothing is recorded.
 */
export async function attachNetwork(node: LabNode, podName: string, request: PodAttachmentRequest): Promise<LabPod> {
  const pod = await loadPod(node, podName);
  if (pod.attachments.some((a) => a.networkName === request.networkName)) {
    throw new RangeError(`Cannot attach network "${request.networkName}" to pod "${podName}": it is attached`);
  }
  const ns = request.nad.namespace ?? pod.namespace;
  if (request.nad.config === undefined) {
    throw new TypeError(
      `Cannot attach network attachment definition "${ns}/${request.nad.name}": it has no CNI config`,
    );
  }
  const target: Omit<PodAttachment, "result"> = {
    statusName: `${ns}/${request.nad.name}`,
    networkName: request.networkName,
    ifname: request.ifname ?? hashedPodInterfaceName(request.networkName).value,
    isDefault: false,
    ...(request.mac === undefined ? {} : { mac: request.mac }),
    config: normalizeNetworkConfig(request.nad.config),
  };
  if (pod.attachments.some((a) => a.ifname === target.ifname)) {
    throw new RangeError(`Cannot attach two networks as pod interface "${target.ifname}"`);
  }
  let result: CniResult | undefined;
  try {
    result = await cni(node, pod, target, CniCommand.Add);
    if (result === undefined) throw new Error(`CNI ADD of "${target.statusName}" returned no result`);
  } catch (e) {
    await cni(node, pod, target, CniCommand.Del).catch(() => {});
    throw e;
  }
  const attached: PodAttachment = { ...target, result };
  try {
    return await saveAttachments(node, pod, [...pod.attachments, attached]);
  } catch (e) {
    await cni(node, pod, attached, CniCommand.Del).catch(() => {});
    throw e;
  }
}

/** Detaches the secondary network `networkName` from pod `podName` (CNI DEL) and forgets it. */
export async function detachNetwork(node: LabNode, podName: string, networkName: string): Promise<LabPod> {
  const pod = await loadPod(node, podName);
  const attachment = pod.attachments.find((a) => a.networkName === networkName && !a.isDefault);
  if (attachment === undefined) {
    throw new RangeError(`Cannot detach network "${networkName}" from pod "${podName}": it is not attached`);
  }
  await cni(node, pod, attachment, CniCommand.Del);
  return saveAttachments(
    node,
    pod,
    pod.attachments.filter((a) => a !== attachment),
  );
}
