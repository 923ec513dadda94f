/**
 * The lab's "node": one network namespace standing in for a Kubernetes node. CNI plugins run INSIDE it, so the bridges,
 * host-side veths and macvlan masters they create or use live there and the root namespace stays untouched.
 */
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { assertNetnsName, type Executor, hostExecutor } from "../host/exec.ts";
import { assertInterfaceName } from "../host/netlink.ts";
import { createNetns, deleteNetns, listNetns, netnsPath } from "../host/netns.ts";
import { ProcSysctl } from "../host/sysctl.ts";
import { DEFAULT_PLUGIN_DIR, type NetworkConfig } from "./cni.ts";

/** The node namespace name `vmnet lab` uses when none is given. */
export const DEFAULT_NODE_NAME = "vmnet-node";
/** Parent of every node's state directory unless one is given. */
export const DEFAULT_LAB_STATE_ROOT = "/run/vmnet-lab";

/** A created lab node. */
export interface LabNode {
  /** Name of the node's network namespace. */
  readonly name: string;
  /** `/run/netns/<name>`. */
  readonly netnsPath: string;
  /** Lab-private state: host-local IPAM data, the CNI result cache and one directory per pod. */
  readonly stateDir: string;
  /** Directory of the CNI plugin binaries. */
  readonly pluginDir: string;
  readonly executor: Executor;
}

/** Options for {@link createNode}. */
export interface CreateNodeOptions {
  /** Namespace name; default {@link DEFAULT_NODE_NAME}. */
  readonly name?: string;
  /** State directory; default `/run/vmnet-lab/<name>`. Removed by {@link deleteNode}. */
  readonly stateDir?: string;
  readonly pluginDir?: string;
  readonly executor?: Executor;
}

/** host-local `dataDir` of the node: leases live here, never in the host's /var/lib/cni. */
export function nodeIpamDir(node: LabNode): string {
  return join(node.stateDir, "ipam");
}

/** libcni-style cache of ADD results, read back for DEL and CHECK. */
export function nodeCniCacheDir(node: LabNode): string {
  return join(node.stateDir, "cni-cache");
}

/** Directory holding one subdirectory per pod (resolv.conf, hostname, pod record). */
export function nodePodsDir(node: LabNode): string {
  return join(node.stateDir, "pods");
}

/** The handle of an existing node, without touching the system (for `vmnet lab` commands after `create`). */
export function nodeHandle(options: CreateNodeOptions = {}): LabNode {
  const name = options.name ?? DEFAULT_NODE_NAME;
  return {
    name,
    netnsPath: netnsPath(name),
    stateDir: options.stateDir ?? join(DEFAULT_LAB_STATE_ROOT, name),
    pluginDir: options.pluginDir ?? DEFAULT_PLUGIN_DIR,
    executor: options.executor ?? hostExecutor,
  };
}

/**
 * Creates the node namespace with IPv4 and IPv6 forwarding on (it routes between pods and its uplinks, as a node
 * does) and its state directory. On failure, whatever was created is removed again.
 */
export async function createNode(options: CreateNodeOptions = {}): Promise<LabNode> {
  const node = nodeHandle(options);
  await createNetns(node.name, { executor: node.executor });
  try {
    const sysctl = new ProcSysctl(node.name, { executor: node.executor });
    await sysctl.set("net.ipv4.ip_forward", "1");
    await sysctl.set("net.ipv6.conf.all.forwarding", "1");
    // Bridges and veths the plugins create later inherit "default": skip IPv6 duplicate address detection so the
    // gateway address is usable at once instead of after ~1 s of DAD (no other host can hold it in the lab).
    await sysctl.set("net.ipv6.conf.default.accept_dad", "0");
    await mkdir(nodeIpamDir(node), { recursive: true });
    await mkdir(nodeCniCacheDir(node), { recursive: true });
    await mkdir(nodePodsDir(node), { recursive: true });
    return node;
  } catch (e) {
    await deleteNetns(node.name, { executor: node.executor }).catch(() => {});
    await rm(node.stateDir, { recursive: true, force: true });
    throw e;
  }
}

/** Deletes the node namespace (and every link in it) and its state directory. Missing pieces are not an error. */
export async function deleteNode(node: LabNode): Promise<void> {
  const existing = await listNetns({ executor: node.executor });
  if (existing.includes(node.name)) await deleteNetns(node.name, { executor: node.executor });
  await rm(node.stateDir, { recursive: true, force: true });
}

/** Options for {@link addNodeLink}. */
export interface NodeLinkOptions {
  readonly mtu?: number;
  /** Name of the veth's other end; default `<ifname>-peer`. */
  readonly peer?: string;
  /**
   * An existing namespace to put the other end into: the node's L2 network (a switch port with hosts behind it), so
   * what a macvlan/macvtap on the link sends reaches something with an address. Default: the other end stays in the
   * node, unused.
   */
  readonly peerNetns?: string;
}

/**
 * Adds a link inside the node, up, to serve as a macvlan/macvtap/vlan master (the lab's stand-in for a node NIC such
 * as `eth0`). It is one end of a veth pair: a veth needs no extra kernel module, where the dummy driver may be
 * missing. The other end is up, in the node or in `peerNetns`.
 */
export async function addNodeLink(node: LabNode, ifname: string, options: NodeLinkOptions = {}): Promise<void> {
  const peer = options.peer ?? `${ifname}-peer`;
  assertInterfaceName(ifname);
  assertInterfaceName(peer);
  if (options.peerNetns !== undefined) assertNetnsName(options.peerNetns);
  const mtu = options.mtu === undefined ? [] : ["mtu", String(options.mtu)];
  const peerNs = options.peerNetns === undefined ? [] : ["netns", options.peerNetns];
  await node.executor.run("ip", [
    "-n",
    node.name,
    "link",
    "add",
    ifname,
    ...mtu,
    "type",
    "veth",
    "peer",
    "name",
    peer,
    ...mtu,
    ...peerNs,
  ]);
  await node.executor.run("ip", ["-n", options.peerNetns ?? node.name, "link", "set", "dev", peer, "up"]);
  await node.executor.run("ip", ["-n", node.name, "link", "set", "dev", ifname, "up"]);
}

/** The node NIC every lab node gets, on the node's L2 network: what the seed's `macvtap.network.kubevirt.io/eth0` names. */
export const NODE_L2_DEVICE = "eth0";
/** The veth end across {@link NODE_L2_DEVICE}'s wire: the node's L2 network, with one host address on it. */
export const NODE_L2_PEER = "eth0-peer";
/** The address of the host on the node's L2 network (TEST-NET-2), on {@link NODE_L2_PEER}. */
export const NODE_L2_HOST = "198.51.100.1/24";

/**
 * Gives the node its NIC {@link NODE_L2_DEVICE} on an L2 network: a veth whose other end, {@link NODE_L2_PEER}, holds
 * {@link NODE_L2_HOST}, so macvtap/macvlan guests on the NIC have a host to reach. Both ends stay in the node
 * namespace (no extra namespace to clean up); what a macvtap on `eth0` sends leaves by the wire and arrives on the
 * peer, unlike traffic to an address on the lower device itself, which a macvtap never reaches.
 */
export async function addNodeL2(node: LabNode): Promise<{ readonly device: string; readonly peer: string }> {
  await addNodeLink(node, NODE_L2_DEVICE, { peer: NODE_L2_PEER });
  await node.executor.run("ip", ["-n", node.name, "address", "add", NODE_L2_HOST, "dev", NODE_L2_PEER]);
  return { device: NODE_L2_DEVICE, peer: NODE_L2_PEER };
}

/** Options for {@link clusterNetworkConfig}. At least one of `ipv4Subnet` and `ipv6Subnet` is needed. */
export interface ClusterNetworkOptions {
  /** Network name, reported as the `default: true` network-status entry. Default `vmnet-pod-network`. */
  readonly name?: string;
  /** Node bridge the pods attach to. Default `cni0`. */
  readonly bridge?: string;
  /** e.g. `10.244.0.0/24`; the gateway is the first address, on the node bridge. */
  readonly ipv4Subnet?: string;
  /** e.g. `fd00:10:244::/64`. */
  readonly ipv6Subnet?: string;
  readonly mtu?: number;
  /** Masquerade traffic leaving the pod subnet (iptables rules the bridge plugin adds INSIDE the node). Default off. */
  readonly ipMasq?: boolean;
  readonly cniVersion?: string;
}

/** Default IPv4 pod CIDR of the lab's cluster network. */
export const DEFAULT_POD_CIDR_V4 = "10.244.0.0/24";
/** Default IPv6 pod CIDR of the lab's cluster network. */
export const DEFAULT_POD_CIDR_V6 = "fd00:10:244::/64";

/**
 * The cluster (pod) network as a kind-like node runs it: the bridge plugin with host-local IPAM, one range per family,
 * the bridge holding the gateway addresses (`isGateway`) and a default route per family through them
 * (`isDefaultGateway`), then `tuning` so a requested MAC (runtimeConfig `mac`) is honoured as well.
 */
export function clusterNetworkConfig(options: ClusterNetworkOptions = {}): NetworkConfig {
  const ranges: { subnet: string }[][] = [];
  if (options.ipv4Subnet !== undefined) ranges.push([{ subnet: options.ipv4Subnet }]);
  if (options.ipv6Subnet !== undefined) ranges.push([{ subnet: options.ipv6Subnet }]);
  if (ranges.length === 0) throw new RangeError("Cannot build a cluster network without an IPv4 or IPv6 subnet");
  const bridge = options.bridge ?? "cni0";
  assertInterfaceName(bridge);
  return {
    cniVersion: options.cniVersion ?? "0.3.1",
    name: options.name ?? "vmnet-pod-network",
    plugins: [
      {
        type: "bridge",
        bridge,
        isGateway: true,
        isDefaultGateway: true,
        ...(options.mtu === undefined ? {} : { mtu: options.mtu }),
        ...(options.ipMasq === true ? { ipMasq: true } : {}),
        ipam: { type: "host-local", ranges },
      },
      { type: "tuning", capabilities: { mac: true } },
    ],
  };
}
