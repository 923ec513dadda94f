import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_POD_CIDRS, parsePodCidrs } from "../../../src/admission/vmnet/common.ts";
import { checkKubeVirtSpec } from "../../../src/admission/vmnet/kubevirt.ts";
import type { NadFacts } from "../../../src/admission/vmnet/nad-facts.ts";
import { type ClusterConfig, DEFAULT_CLUSTER_CONFIG } from "../../../src/api/cluster-config.ts";
import type { KvInterface, KvNetwork } from "../../../src/api/kubevirt-types.ts";

interface Case {
  readonly name: string;
  readonly interfaces: KvInterface[];
  readonly networks: KvNetwork[];
  readonly config?: ClusterConfig;
  readonly nads?: NadFacts[];
  readonly podCidrs?: string[];
  /** Expected findings as `field: message fragment`; empty means none. */
  readonly want: readonly (readonly [string, string])[];
}

const I = "spec.domain.devices.interfaces";
const N = "spec.networks";
const pod = (name = "default", extra: KvNetwork["pod"] = {}): KvNetwork => ({ name, pod: extra });
const multus = (name: string, networkName: string): KvNetwork => ({ name, multus: { networkName } });
const nad = (name: string, type: string, extra: Partial<NadFacts> = {}, mtu?: number): NadFacts => ({
  name,
  plugins: [{ type, ...(mtu === undefined ? {} : { mtu }) }],
  ...extra,
});
const withPlugin: ClusterConfig = {
  ...DEFAULT_CLUSTER_CONFIG,
  bindingPlugins: { macvtap: { domainAttachmentType: "tap" } },
};

const CASES: readonly Case[] = [
  {
    name: "masquerade on the pod network with defaults is clean",
    interfaces: [{ name: "default", masquerade: {} }],
    networks: [pod()],
    want: [],
  },
  {
    name: "vmNetworkCIDR that does not parse",
    interfaces: [{ name: "default", masquerade: {} }],
    networks: [pod("default", { vmNetworkCIDR: "10.0.2/24" })],
    want: [[`${N}[0].pod.vmNetworkCIDR`, 'vmNetworkCIDR "10.0.2/24" is not a valid IPv4 CIDR']],
  },
  {
    name: "vmNetworkCIDR given an IPv6 CIDR",
    interfaces: [{ name: "default", masquerade: {} }],
    networks: [pod("default", { vmNetworkCIDR: "fd10::/120" })],
    want: [[`${N}[0].pod.vmNetworkCIDR`, "is not a valid IPv4 CIDR"]],
  },
  {
    name: "vmIPv6NetworkCIDR that does not parse",
    interfaces: [{ name: "default", masquerade: {} }],
    networks: [pod("default", { vmIPv6NetworkCIDR: "fd10:0:2::/200" })],
    want: [[`${N}[0].pod.vmIPv6NetworkCIDR`, 'vmIPv6NetworkCIDR "fd10:0:2::/200" is not a valid IPv6 CIDR']],
  },
  {
    name: "vmNetworkCIDR with fewer than 4 addresses",
    interfaces: [{ name: "default", masquerade: {} }],
    networks: [pod("default", { vmNetworkCIDR: "10.0.2.0/31" })],
    want: [[`${N}[0].pod.vmNetworkCIDR`, "fewer than 4 addresses"]],
  },
  {
    name: "vmNetworkCIDR inside the default lab pod CIDR",
    interfaces: [{ name: "default", masquerade: {} }],
    networks: [pod("default", { vmNetworkCIDR: "10.244.7.0/24" })],
    want: [[`${N}[0].pod.vmNetworkCIDR`, 'overlaps the pod network "10.244.0.0/16"']],
  },
  {
    name: "vmIPv6NetworkCIDR inside the default lab pod CIDR",
    interfaces: [{ name: "default", masquerade: {} }],
    networks: [pod("default", { vmIPv6NetworkCIDR: "fd00:10:244:1::/120" })],
    want: [[`${N}[0].pod.vmIPv6NetworkCIDR`, 'overlaps the pod network "fd00:10:244::/56"']],
  },
  {
    name: "vmNetworkCIDR inside a pod CIDR given as an option",
    interfaces: [{ name: "default", masquerade: {} }],
    networks: [pod("default", { vmNetworkCIDR: "10.0.2.0/24" })],
    podCidrs: ["10.0.0.0/16"],
    want: [[`${N}[0].pod.vmNetworkCIDR`, 'overlaps the pod network "10.0.0.0/16"']],
  },
  {
    name: "vmNetworkCIDR clear of a pod CIDR given as an option",
    interfaces: [{ name: "default", masquerade: {} }],
    networks: [pod("default", { vmNetworkCIDR: "10.244.7.0/24", vmIPv6NetworkCIDR: "fd10:0:2::/120" })],
    podCidrs: ["10.96.0.0/12"],
    want: [],
  },
  {
    name: "vmNetworkCIDR on a bridge interface has no effect",
    interfaces: [{ name: "default", bridge: {} }],
    networks: [pod("default", { vmNetworkCIDR: "10.0.2.0/24" })],
    want: [[`${N}[0].pod.vmNetworkCIDR`, 'vmNetworkCIDR has no effect on interface "default"']],
  },
  {
    name: "binding plugin that the KubeVirt CR does not register",
    interfaces: [
      { name: "default", masquerade: {} },
      { name: "hostnetwork", binding: { name: "macvtap" } },
    ],
    networks: [pod(), multus("hostnetwork", "macvtapnetwork")],
    want: [[`${I}[1].binding.name`, "unable to find the network binding plugin 'macvtap' in Kubevirt configuration"]],
  },
  {
    name: "binding plugin that the KubeVirt CR registers",
    interfaces: [
      { name: "default", masquerade: {} },
      { name: "hostnetwork", binding: { name: "macvtap" } },
    ],
    networks: [pod(), multus("hostnetwork", "macvtapnetwork")],
    config: withPlugin,
    want: [],
  },
  {
    name: "bridge on a macvlan NAD",
    interfaces: [{ name: "test1", bridge: {} }],
    networks: [{ name: "test1", multus: { networkName: "macvlan-test", default: true } }],
    nads: [nad("macvlan-test", "macvlan", {}, undefined)],
    want: [[`${I}[0].bridge`, 'Bridge binding does not work with the "macvlan" CNI']],
  },
  {
    name: "bridge on a macvlan NAD in passthru mode is still refused for KubeVirt",
    interfaces: [{ name: "test1", bridge: {} }],
    networks: [multus("test1", "mv")],
    nads: [{ name: "mv", plugins: [{ type: "macvlan", mode: "passthru" }] }],
    want: [[`${I}[0].bridge`, '"macvlan" CNI']],
  },
  {
    name: "bridge on an ipvlan NAD",
    interfaces: [{ name: "red", bridge: {} }],
    networks: [multus("red", "ipvlan-net")],
    nads: [nad("ipvlan-net", "ipvlan")],
    want: [[`${I}[0].bridge`, '"ipvlan" CNI']],
  },
  {
    name: "sriov on a macvlan NAD is not a bridge problem",
    interfaces: [{ name: "red", sriov: {} }],
    networks: [multus("red", "mv")],
    nads: [nad("mv", "macvlan")],
    want: [],
  },
  {
    name: "bridge on a bridge NAD",
    interfaces: [{ name: "red", bridge: {} }],
    networks: [multus("red", "br")],
    nads: [nad("br", "bridge")],
    want: [],
  },
  {
    name: "multus network whose NAD is not among those given",
    interfaces: [{ name: "red", bridge: {} }],
    networks: [multus("red", "blue")],
    nads: [nad("br", "bridge")],
    want: [[`${N}[0].multus.networkName`, 'Network attachment definition "blue" is not among the given ones ("br")']],
  },
  {
    name: "multus network in another namespace than its NAD",
    interfaces: [{ name: "red", bridge: {} }],
    networks: [multus("red", "other/br")],
    nads: [nad("br", "bridge", { namespace: "default" })],
    want: [[`${N}[0].multus.networkName`, 'Network attachment definition "other/br" is not among the given ones']],
  },
  {
    name: "multus network naming the namespace of its NAD",
    interfaces: [{ name: "red", bridge: {} }],
    networks: [multus("red", "default/sriov-net")],
    nads: [nad("sriov-net", "sriov")],
    want: [],
  },
  {
    name: "multus network with no NADs given is not checked",
    interfaces: [{ name: "red", bridge: {} }],
    networks: [multus("red", "blue")],
    want: [],
  },
  {
    name: "NAD MTU above 65535",
    interfaces: [{ name: "red", bridge: {} }],
    networks: [multus("red", "br")],
    nads: [nad("br", "bridge", {}, 70000)],
    want: [[`${N}[0].multus.networkName`, "sets MTU 70000"]],
  },
  {
    name: "NAD MTU below 68",
    interfaces: [{ name: "red", bridge: {} }],
    networks: [multus("red", "br")],
    nads: [nad("br", "bridge", {}, 67)],
    want: [[`${N}[0].multus.networkName`, "sets MTU 67"]],
  },
  {
    name: "NAD MTU of 9000",
    interfaces: [{ name: "red", bridge: {} }],
    networks: [multus("red", "br")],
    nads: [nad("br", "bridge", {}, 9000)],
    want: [],
  },
  {
    name: "macvtap NAD without the device plugin resource name",
    interfaces: [{ name: "hostnetwork", binding: { name: "macvtap" } }],
    networks: [multus("hostnetwork", "macvtapnetwork")],
    config: withPlugin,
    nads: [nad("macvtapnetwork", "macvtap", {}, 1500)],
    want: [[`${N}[0].multus.networkName`, "macvtap CNI but its"]],
  },
  {
    name: "macvtap NAD with a resource name of another device plugin",
    interfaces: [{ name: "hostnetwork", binding: { name: "macvtap" } }],
    networks: [multus("hostnetwork", "macvtapnetwork")],
    config: withPlugin,
    nads: [nad("macvtapnetwork", "macvtap", { resourceName: "intel.com/sriov" })],
    want: [[`${N}[0].multus.networkName`, '"macvtap.network.kubevirt.io/<device>"']],
  },
  {
    name: "macvtap NAD with the device plugin resource name",
    interfaces: [{ name: "hostnetwork", binding: { name: "macvtap" } }],
    networks: [multus("hostnetwork", "macvtapnetwork")],
    config: withPlugin,
    nads: [nad("macvtapnetwork", "macvtap", { resourceName: "macvtap.network.kubevirt.io/eth0" }, 1500)],
    want: [],
  },
  {
    name: "duplicate MAC addresses spelled differently",
    interfaces: [
      { name: "default", masquerade: {}, macAddress: "de:ad:00:00:be:af" },
      { name: "red", bridge: {}, macAddress: "DE-AD-00-00-BE-AF" },
    ],
    networks: [pod(), multus("red", "red")],
    want: [[`${I}[1].macAddress`, 'MAC address "DE-AD-00-00-BE-AF" is also used by interface "default"']],
  },
  {
    name: "distinct MAC addresses",
    interfaces: [
      { name: "default", masquerade: {}, macAddress: "de:ad:00:00:be:af" },
      { name: "red", bridge: {}, macAddress: "de:ad:00:00:be:b0" },
    ],
    networks: [pod(), multus("red", "red")],
    want: [],
  },
  {
    name: "multicast MAC address",
    interfaces: [{ name: "default", masquerade: {}, macAddress: "01:1c:ba:0a:45:88" }],
    networks: [pod()],
    want: [[`${I}[0].macAddress`, "is a multicast address"]],
  },
  {
    name: "broadcast MAC address is multicast too",
    interfaces: [{ name: "default", masquerade: {}, macAddress: "ff:ff:ff:ff:ff:ff" }],
    networks: [pod()],
    want: [[`${I}[0].macAddress`, "is a multicast address"]],
  },
  {
    name: "all-zero MAC address",
    interfaces: [{ name: "default", masquerade: {}, macAddress: "00-00-00-00-00-00" }],
    networks: [pod()],
    want: [[`${I}[0].macAddress`, "is all zeros"]],
  },
  {
    name: "malformed MAC is left to KubeVirt",
    interfaces: [{ name: "default", masquerade: {}, macAddress: "zz:00:00:00:00:00" }],
    networks: [pod()],
    want: [],
  },
  {
    name: "ports on a bridge interface",
    interfaces: [{ name: "red", bridge: {}, ports: [{ port: 80 }] }],
    networks: [multus("red", "red")],
    want: [[`${I}[0].ports`, "Ports have no effect on a bridge interface"]],
  },
  {
    name: "ports on a masquerade interface",
    interfaces: [{ name: "default", masquerade: {}, ports: [{ port: 80 }] }],
    networks: [pod()],
    want: [],
  },
  {
    name: "a second masquerade interface is left to KubeVirt, which denies it on any network",
    interfaces: [
      { name: "default", masquerade: {} },
      { name: "red", masquerade: {} },
    ],
    networks: [pod(), multus("red", "red")],
    want: [],
  },
  {
    name: "sriov with state down is left to KubeVirt's own cause",
    interfaces: [{ name: "sriov-net", sriov: {}, state: "down" }],
    networks: [multus("sriov-net", "default/sriov-net")],
    want: [],
  },
];

describe("checkKubeVirtSpec", () => {
  for (const c of CASES) {
    it(c.name, () => {
      const causes = checkKubeVirtSpec(
        { domain: { devices: { interfaces: c.interfaces } }, networks: c.networks },
        {
          root: "spec",
          config: c.config ?? DEFAULT_CLUSTER_CONFIG,
          podCidrs: parsePodCidrs(c.podCidrs ?? DEFAULT_POD_CIDRS),
          ...(c.nads ? { nads: c.nads } : {}),
        },
      );
      assert.equal(causes.length, c.want.length, JSON.stringify(causes, null, 1));
      c.want.forEach(([field, fragment], k) => {
        assert.equal(causes[k]?.field, field);
        assert.ok(causes[k]?.message.includes(fragment), `${causes[k]?.message} lacks ${fragment}`);
      });
    });
  }
  it("renders fields under spec.template.spec for a VM", () => {
    const causes = checkKubeVirtSpec(
      { domain: { devices: { interfaces: [{ name: "default", masquerade: {}, macAddress: "01:00:00:00:00:01" }] } } },
      { root: "spec.template.spec", config: DEFAULT_CLUSTER_CONFIG, podCidrs: [] },
    );
    assert.equal(causes[0]?.field, "spec.template.spec.domain.devices.interfaces[0].macAddress");
  });
});
