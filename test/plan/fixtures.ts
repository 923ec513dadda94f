/** Builders for planning inputs shared by the plan tests. */

import type { ClusterConfig } from "../../src/api/cluster-config.ts";
import { DEFAULT_CLUSTER_CONFIG } from "../../src/api/cluster-config.ts";
import type { InterfaceSpec, NetworkSpec, VmNetworkModel } from "../../src/api/model.ts";
import { networkOf, primaryNetwork } from "../../src/api/model.ts";
import { kubevirtPodInterfaceNames, virtinkLinkName } from "../../src/plan/namescheme.ts";
import { NftBuilder } from "../../src/plan/nft.ts";
import type { PassthroughContext, PassthroughPlanOptions } from "../../src/plan/passthrough-types.ts";
import type { LinkAddress, PodFacts, PodLink, PodRoute } from "../../src/plan/pod-facts.ts";
import { parseResolvConf } from "../../src/plan/pod-facts.ts";

/** An interface with KubeVirt's defaults for everything not given. */
export function iface(
  name: string,
  binding: InterfaceSpec["binding"],
  extra: Partial<InterfaceSpec> = {},
): InterfaceSpec {
  return { name, binding, model: "virtio", ports: [], portRanges: [], state: "up", ...extra };
}

/** A VM model with one vCPU and no multiqueue unless overridden. */
export function vm(
  interfaces: InterfaceSpec[],
  networks: NetworkSpec[],
  extra: Partial<VmNetworkModel> = {},
): VmNetworkModel {
  return {
    dialect: "kubevirt",
    name: "testvm",
    namespace: "default",
    interfaces,
    networks,
    multiqueue: false,
    vcpus: 1,
    useVirtioTransitional: false,
    ...extra,
  };
}

/** The pod network. */
export const podNet = (
  name = "default",
  extra: { vmNetworkCIDR?: string; vmIPv6NetworkCIDR?: string } = {},
): NetworkSpec => ({
  name,
  source: { kind: "pod", ...extra },
});

/** A secondary Multus network. */
export const multusNet = (name: string, networkName: string): NetworkSpec => ({
  name,
  source: { kind: "multus", networkName, default: false },
});

const addr = (cidr: string): LinkAddress => {
  const [address = "", prefix = "0"] = cidr.split("/");
  return { address, prefix: Number.parseInt(prefix, 10) };
};

/** A veth as CNI leaves it. */
export function link(name: string, ifindex: number, mac: string, addresses: string[], mtu = 1450): PodLink {
  return { name, ifindex, mac, mtu, addresses: addresses.map(addr), kind: "veth" };
}

/** The loopback every pod has. */
export const lo: PodLink = {
  name: "lo",
  ifindex: 1,
  mac: "00:00:00:00:00:00",
  mtu: 65536,
  addresses: [addr("127.0.0.1/8"), addr("::1/128")],
  kind: "loopback",
};

/** Routes a flannel-like CNI installs for `eth0` with 10.244.1.5/24. */
export const flannelRoutes: PodRoute[] = [
  { dst: "default", gateway: "10.244.1.1", dev: "eth0", family: "ip" },
  { dst: "10.244.0.0/16", gateway: "10.244.1.1", dev: "eth0", family: "ip" },
  { dst: "10.244.1.0/24", dev: "eth0", family: "ip" },
  { dst: "fd00:10:244:1::/64", dev: "eth0", family: "ip6" },
  { dst: "default", gateway: "fd00:10:244:1::1", dev: "eth0", family: "ip6" },
];

/** A typical cluster resolv.conf, with an IPv6 resolver too. */
export const clusterResolv =
  "search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\nnameserver fd00:10:96::a\noptions ndots:5\n";

/** Pod facts from links and routes with the cluster resolv.conf. */
export function pod(links: PodLink[], routes: PodRoute[] = flannelRoutes, resolv = clusterResolv): PodFacts {
  return { links: [lo, ...links], routes, resolvConf: parseResolvConf(resolv), hostname: "testvm" };
}

/** The default cluster config, optionally with Alpha gates enabled. */
export function config(featureGates: string[] = []): ClusterConfig {
  return { ...DEFAULT_CLUSTER_CONFIG, featureGates };
}

/** The context planPod builds for interface `name` of `model`, for calling a passthrough planner on its own. */
export function passthroughContext(
  model: VmNetworkModel,
  name: string,
  options: PassthroughPlanOptions,
): PassthroughContext {
  const spec = model.interfaces.find((i) => i.name === name);
  const network = spec === undefined ? undefined : networkOf(model, spec);
  if (spec === undefined || network === undefined) throw new Error(`test model has no interface "${name}"`);
  const podInterface =
    model.dialect === "virtink"
      ? virtinkLinkName(model, network)
      : kubevirtPodInterfaceNames(model, { existingLinks: options.pod.links.map((l) => l.name) }).get(network.name);
  if (podInterface === undefined) throw new Error(`no pod interface for "${name}"`);
  return {
    model,
    iface: spec,
    network,
    index: model.interfaces.indexOf(spec),
    primary: network === primaryNetwork(model),
    podInterface,
    podLink: options.pod.links.find((l) => l.name === podInterface.value),
    pod: options.pod,
    dns: options.pod.resolvConf,
    options,
    nft: new NftBuilder(),
  };
}
