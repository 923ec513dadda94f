/**
 * The lab behind `vmnet lab` and `vmnet up`: one node namespace (named from the state directory) whose cluster
 * network is the CNI bridge plugin with host-local IPAM, a `client` pod on it, and a node NIC `eth0` on an L2
 * network with one host (the macvtap lower device). The record in `lab.json` lets
 * every later command, in its own process, find the node again. Nothing in the root namespace changes.
 */
import { spawn } from "node:child_process";
import { readFile, rm, writeFile } from "node:fs/promises";
import { constants } from "node:os";
import { listNetns } from "../host/netns.ts";
import type { NetworkConfig } from "../lab/cni.ts";
import {
  addNodeL2,
  clusterNetworkConfig,
  createNode,
  DEFAULT_POD_CIDR_V4,
  DEFAULT_POD_CIDR_V6,
  type LabNode,
  NODE_L2_HOST,
  nodeHandle,
} from "../lab/node.ts";
import { createPod, destroyNode, type LabPod, loadPod, podNetnsName } from "../lab/pod.ts";
import { VmError } from "./errors.ts";
import { acquireLock } from "./lock.ts";
import { IpFamily, type StatePaths } from "./paths.ts";

export { IpFamily };

/** The pod that always exists in a lab, for reaching VMs by pod IP. */
export const CLIENT_POD = "client";

/** What `lab.json` holds. */
export interface LabRecord {
  readonly version: 1;
  readonly node: string;
  readonly ipFamily: IpFamily;
  readonly ipv4Subnet?: string;
  readonly ipv6Subnet?: string;
  /** The cluster network every pod's eth0 comes from. */
  readonly network: NetworkConfig;
  /**
   * The node's NIC on its L2 network (a macvtap lower device: DP_MACVTAP_CONF `[]` exposes it as
   * `macvtap.network.kubevirt.io/eth0`), the veth end standing for that L2 and the address of its host there.
   * Absent in labs made before it existed.
   */
  readonly l2?: { readonly device: string; readonly peer: string; readonly host: string };
}

/** An existing lab: its record and node handle. */
export interface Lab {
  readonly record: LabRecord;
  readonly node: LabNode;
}

function nodeOf(paths: StatePaths): LabNode {
  return nodeHandle({ name: paths.nodeName, stateDir: paths.labDir });
}

/** The lab of `paths`, or undefined when there is none (no record, or its node namespace is gone). */
export async function loadLab(paths: StatePaths): Promise<Lab | undefined> {
  let text: string;
  try {
    text = await readFile(paths.labRecord, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  const record = JSON.parse(text) as LabRecord;
  if (record.version !== 1 || record.node !== paths.nodeName) {
    throw new SyntaxError(
      `Cannot read lab record "${paths.labRecord}": not a version 1 record of this state directory`,
    );
  }
  if (!(await listNetns()).includes(record.node)) return undefined;
  return { record, node: nodeOf(paths) };
}

/** The cluster network options of an IP family. */
export function subnetsOf(family: IpFamily): { ipv4Subnet?: string; ipv6Subnet?: string } {
  return {
    ...(family === IpFamily.Ipv6 ? {} : { ipv4Subnet: DEFAULT_POD_CIDR_V4 }),
    ...(family === IpFamily.Ipv4 ? {} : { ipv6Subnet: DEFAULT_POD_CIDR_V6 }),
  };
}

/**
 * Returns the lab, creating it (node, cluster network, `client` pod, node NIC on its L2) when missing; `created` says which. Holds the
 * lab lock throughout, so two commands at once create one lab. A half-made lab (node without record) is destroyed
 * and made again.
 */
export async function ensureLab(
  paths: StatePaths,
  family: IpFamily = IpFamily.Ipv4,
): Promise<{ readonly lab: Lab; readonly created: boolean }> {
  const lock = await acquireLock(paths.labLock, { timeoutMs: 120_000 });
  try {
    const existing = await loadLab(paths);
    if (existing !== undefined) return { lab: existing, created: false };
    await destroyNode(nodeOf(paths)).catch(() => {});
    const subnets = subnetsOf(family);
    const network = clusterNetworkConfig(subnets);
    const node = await createNode({ name: paths.nodeName, stateDir: paths.labDir });
    try {
      await createPod({ node, name: CLIENT_POD, primary: network });
      const l2 = await addNodeL2(node);
      const record: LabRecord = {
        version: 1,
        node: node.name,
        ipFamily: family,
        ...subnets,
        network,
        l2: { ...l2, host: NODE_L2_HOST },
      };
      await writeFile(paths.labRecord, `${JSON.stringify(record, null, 2)}\n`);
      return { lab: { record, node }, created: true };
    } catch (e) {
      await destroyNode(node).catch(() => {});
      throw e;
    }
  } finally {
    await lock.release();
  }
}

/** Destroys the lab node (every pod on it, every `<node>-*` namespace) and its record. Missing pieces are fine. */
export async function destroyLab(paths: StatePaths): Promise<void> {
  const lock = await acquireLock(paths.labLock, { timeoutMs: 120_000 });
  try {
    await destroyNode(nodeOf(paths));
    await rm(paths.labRecord, { force: true });
    await rm(paths.vmsDir, { recursive: true, force: true });
  } finally {
    await lock.release();
  }
  await rm(paths.labLock, { force: true });
}

/** A pod of the lab by name. */
export function labPod(lab: Lab, name: string): Promise<LabPod> {
  return loadPod(lab.node, name);
}

/** The pod's IPs in CNI order (eth0's addresses without prefix). */
export function podIPs(pod: LabPod): string[] {
  const eth0 = pod.attachments.find((a) => a.ifname === "eth0");
  return (eth0?.result.ips ?? []).map((ip) => ip.address.split("/")[0] ?? ip.address);
}

/**
 * Runs `argv` inside pod `podName`'s namespace with the caller's stdio; resolves to its exit code (128 + signal
 * number when killed, as a shell reports it).
 */
export async function execInPod(lab: Lab, podName: string, argv: readonly string[]): Promise<number> {
  const netns = podNetnsName(lab.node, podName);
  if (!(await listNetns()).includes(netns)) throw new VmError(`Cannot find pod "${podName}" in the lab`);
  const [command, ...args] = argv;
  if (command === undefined) throw new TypeError("Cannot run an empty command");
  return new Promise((resolve, reject) => {
    const child = spawn("ip", ["netns", "exec", netns, command, ...args], { stdio: "inherit" });
    child.once("error", reject);
    child.once("exit", (code, signal) => resolve(code ?? 128 + (signal === null ? 1 : constants.signals[signal])));
  });
}
