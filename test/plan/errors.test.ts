import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseIpPrefix } from "../../src/api/ip.ts";
import type { VmNetworkModel } from "../../src/api/model.ts";
import { kubevirtFakeBridgeIp, virtinkBridgeAddress } from "../../src/plan/bridge.ts";
import { PlanError, PlanErrorCode } from "../../src/plan/errors.ts";
import { macvtapLowerDevice } from "../../src/plan/macvtap.ts";
import { addressesOf } from "../../src/plan/masquerade.ts";
import { parseNetworkInfo, sriovPciAddresses } from "../../src/plan/network-info.ts";
import type { DeviceStatusEntry, VhostUserEnv } from "../../src/plan/passthrough-types.ts";
import type { PlanPodOptions } from "../../src/plan/plan.ts";
import { planPod } from "../../src/plan/plan.ts";
import { config, iface, link, multusNet, pod, podNet, vm } from "./fixtures.ts";

const MAC = "0a:58:0a:f4:01:05";
const V4 = ["10.244.1.5/24"];
const V6 = ["fd00:10:244:1::5/64"];
const masq = { kind: "masquerade" } as const;
const bridge = { kind: "bridge" } as const;
const sriov = { kind: "sriov" } as const;
const vdpa = { kind: "vdpa", numQueues: 0, iommu: false } as const;
const vhostUser = { kind: "vhostUser" } as const;

function expectPlanError(fn: () => unknown, code: string, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof PlanError, `expected a PlanError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.message, message);
    assert.equal(e.retryable, code === "no_sriov_mapping" || code === "sriov_pci_address_not_found");
    return true;
  });
}

interface PlanPodErrorCase {
  readonly name: string;
  readonly model: VmNetworkModel;
  readonly options: PlanPodOptions;
  readonly code: string;
  readonly message: string;
}

const cases: PlanPodErrorCase[] = [
  {
    name: "bridge without its pod link",
    model: vm([iface("default", bridge)], [podNet()]),
    options: { config: config(), pod: pod([]) },
    code: "pod_link_missing",
    message: "pod link (eth0) is missing",
  },
  {
    name: "masquerade without its pod link",
    model: vm([iface("default", masq)], [podNet()]),
    options: { config: config(), pod: pod([link("eth1", 3, MAC, V4)]) },
    code: "pod_link_missing",
    message: "pod link (eth0) is missing",
  },
  {
    name: "a secondary bridge whose hashed link is missing",
    model: vm([iface("blue", bridge)], [multusNet("blue", "nad-blue")]),
    options: { config: config(), pod: pod([link("eth0", 3, MAC, V4)]) },
    code: "pod_link_missing",
    message: "pod link (pod16477688c0e) is missing",
  },
  {
    name: "an IPv4 VM CIDR with one host address",
    model: vm([iface("default", masq)], [podNet("default", { vmNetworkCIDR: "10.0.2.0/31" })]),
    options: { config: config(), pod: pod([link("eth0", 3, MAC, V4)]) },
    code: "vm_cidr_too_small",
    message: "VM CIDR subnet is too small, at least 2 host addresses are required: 10.0.2.0/31",
  },
  {
    name: "an IPv6 VM CIDR with one host address",
    model: vm([iface("default", masq)], [podNet("default", { vmIPv6NetworkCIDR: "fd10:0:2::/127" })]),
    options: { config: config(), pod: pod([link("eth0", 3, MAC, V6)]) },
    code: "vm_cidr_too_small",
    message: "VM CIDR subnet is too small, at least 2 host addresses are required: fd10:0:2::/127",
  },
  {
    name: "an unparsable VM CIDR",
    model: vm([iface("default", masq)], [podNet("default", { vmNetworkCIDR: "10.0.2.0/33" })]),
    options: { config: config(), pod: pod([link("eth0", 3, MAC, V4)]) },
    code: "vm_cidr_invalid",
    message: "failed to parse VM CIDR: 10.0.2.0/33, invalid CIDR address: 10.0.2.0/33",
  },
  {
    name: "an IPv6 CIDR given as vmNetworkCIDR",
    model: vm([iface("default", masq)], [podNet("default", { vmNetworkCIDR: "fd00::/120" })]),
    options: { config: config(), pod: pod([link("eth0", 3, MAC, V4)]) },
    code: "vm_cidr_invalid",
    message: "failed to parse VM CIDR: fd00::/120, invalid CIDR address: fd00::/120",
  },
  {
    name: "a bridge pod NIC with IPv4 but no IPv4 route",
    model: vm([iface("default", bridge)], [podNet()]),
    options: { config: config(), pod: pod([link("eth0", 3, MAC, V4)], []) },
    code: "no_gateway_route",
    message: "no gateway address found in routes for eth0",
  },
  {
    name: "a Virtink masquerade /31",
    model: vm([iface("default", { kind: "masquerade", cidr: "10.0.2.0/31" })], [podNet()], { dialect: "virtink" }),
    options: { config: config(), pod: pod([link("eth0", 3, MAC, V4)]) },
    code: "no_more_addresses",
    message: 'no more available IP in subnet "10.0.2.0/31"',
  },
  {
    name: "an SR-IOV interface without the pod's network-status",
    model: vm([iface("sriov", sriov)], [multusNet("sriov", "nad-sriov")]),
    options: { config: config(), pod: pod([link("eth0", 3, MAC, V4)]) },
    code: "passthrough_facts_missing",
    message:
      'Cannot plan interface "sriov" (binding "sriov"): the pod\'s network-status (passthrough.networkStatus, [] before Multus writes it) is not given',
  },
  {
    name: "a vDPA interface with passthrough facts but no network-status",
    model: vm([iface("vdpa", vdpa)], [multusNet("vdpa", "nad-vdpa")], { dialect: "virtink" }),
    options: { config: config(), pod: pod([link("eth0", 3, MAC, V4)]), passthrough: {} },
    code: "passthrough_facts_missing",
    message:
      'Cannot plan interface "vdpa" (binding "vdpa"): the pod\'s network-status (passthrough.networkStatus, [] before Multus writes it) is not given',
  },
  {
    name: "a vhostUser interface without the vhost-user environment",
    model: vm([iface("dpdk", vhostUser, { macAddress: "52:54:00:00:00:01" })], [multusNet("dpdk", "ovs")], {
      dialect: "virtink",
    }),
    options: { config: config(), pod: pod([link("eth0", 3, MAC, V4)]), passthrough: { networkStatus: [] } },
    code: "passthrough_facts_missing",
    message:
      'Cannot plan interface "dpdk" (binding "vhostUser"): the vhost-user environment (passthrough.vhostUser: NET_TYPE, VHOST_USER_SOCKET or USERSPACE_CONFIGURATION_DATA) is not given',
  },
  {
    name: "a vhostUser interface without a MAC",
    model: vm([iface("dpdk", vhostUser)], [multusNet("dpdk", "ovs")], { dialect: "virtink" }),
    options: {
      config: config(),
      pod: pod([link("eth0", 3, MAC, V4)]),
      passthrough: { vhostUser: { netType: "kube-ovn", vhostUserSocket: "/var/run/vhost-user/sock" } },
    },
    code: "vhost_user_mac_missing",
    message: 'Cannot plan vhost-user interface "dpdk": it has no MAC (Virtink\'s webhook always sets one)',
  },
  {
    name: "a vDPA interface in a KubeVirt VM",
    model: vm([iface("vdpa", vdpa)], [multusNet("vdpa", "nad-vdpa")]),
    options: { config: config(), pod: pod([link("eth0", 3, MAC, V4)]), passthrough: { networkStatus: [] } },
    code: "binding_unsupported",
    message: 'Cannot plan interface "vdpa" as vDPA: binding "vdpa" in a kubevirt VM',
  },
  {
    name: "a KubeVirt SR-IOV network in network-status without device-info",
    model: vm([iface("sriov", sriov)], [multusNet("sriov", "nad-sriov")]),
    options: {
      config: config(),
      pod: pod([link("eth0", 3, MAC, V4)]),
      passthrough: { networkStatus: [{ name: "default/nad-sriov", interface: "podf767c48f0c6" }] },
    },
    code: "no_sriov_mapping",
    message: "found no SR-IOV networks to PCI-Address mapping",
  },
  {
    name: "a binding plugin the CR does not register",
    model: vm([iface("default", { kind: "plugin", name: "vendortap" })], [podNet()]),
    options: { config: config(), pod: pod([link("eth0", 3, MAC, V4)]) },
    code: "plugin_not_registered",
    message: "unable to find the network binding plugin 'vendortap' in Kubevirt configuration",
  },
  {
    name: "the passt plugin on a Multus network",
    model: vm([iface("blue", { kind: "plugin", name: "passt" })], [multusNet("blue", "nad-blue")]),
    options: {
      config: { ...config(), bindingPlugins: { passt: {} } },
      pod: pod([link("eth0", 3, MAC, V4), link("pod16477688c0e", 4, MAC, [])]),
    },
    code: "network_kind_unsupported",
    message: 'Binding plugin "passt" of interface "blue" only implemented with pod network',
  },
  {
    name: "a managedTap plugin in a Virtink VM",
    model: vm([iface("default", { kind: "plugin", name: "mt" })], [podNet()], { dialect: "virtink" }),
    options: {
      config: { ...config(), bindingPlugins: { mt: { domainAttachmentType: "managedTap" } } },
      pod: pod([link("eth0", 3, MAC, V4)]),
    },
    code: "binding_unsupported",
    message: 'Binding plugin "mt" needs a KubeVirt VM',
  },
  {
    name: "a plugin memory overhead that is not a quantity",
    model: vm([iface("default", { kind: "plugin", name: "vendortap" })], [podNet()]),
    options: {
      config: {
        ...config(),
        bindingPlugins: { vendortap: { computeResourceOverhead: { requests: { memory: "lots" } } } },
      },
      pod: pod([link("eth0", 3, MAC, V4)]),
    },
    code: "memory_overhead_invalid",
    message: 'Cannot add the memory overhead "lots" of "plugin/vendortap": it is not a quantity',
  },
  {
    name: "an interface without a network",
    model: vm([iface("lonely", bridge)], [podNet()]),
    options: { config: config(), pod: pod([link("eth0", 3, MAC, V4)]) },
    code: "network_not_found",
    message: "failed to find network lonely",
  },
  {
    name: "a Multus network whose NAD is not known",
    model: vm([iface("blue", bridge)], [multusNet("blue", "other/nad-blue")]),
    options: {
      config: config(),
      pod: pod([link("eth0", 3, MAC, V4)]),
      nads: [{ namespace: "default", name: "nad-blue" }],
    },
    code: "nad_not_found",
    message: "failed to locate network attachment definition other/nad-blue",
  },
  {
    name: "an IPv6 NTP server",
    model: vm([iface("default", masq, { dhcpOptions: { ntpServers: ["fd00::1"], privateOptions: [] } })], [podNet()]),
    options: { config: config(), pod: pod([link("eth0", 3, MAC, V4)]) },
    code: "invalid_ntp_server",
    message: "Could not parse NTP server as IPv4 address: fd00::1",
  },
];

describe("planPod errors", () => {
  for (const c of cases)
    it(`rejects ${c.name}`, () => expectPlanError(() => planPod(c.model, c.options), c.code, c.message));
});

describe("address helpers errors", () => {
  it("addressesOf rejects a network of fewer than 4 addresses", () => {
    expectPlanError(
      () => addressesOf(parseIpPrefix("10.0.2.0/31") ?? assert.fail()),
      "too_few_addresses",
      "less than 4 addresses on network",
    );
  });
  it("kubevirtFakeBridgeIp concatenates the index and stops at 99", () => {
    assert.equal(kubevirtFakeBridgeIp(0), "169.254.75.10");
    assert.equal(kubevirtFakeBridgeIp(12), "169.254.75.112");
    assert.throws(() => kubevirtFakeBridgeIp(100), PlanError);
  });
  it("virtinkBridgeAddress uses 200+j and stops at 55", () => {
    assert.equal(virtinkBridgeAddress(0), "169.254.200.1/30");
    assert.equal(virtinkBridgeAddress(55), "169.254.255.1/30");
    assert.throws(() => virtinkBridgeAddress(56), PlanError);
  });
});

const eth0 = link("eth0", 3, MAC, V4);
const byName = (name: string): PlanPodErrorCase => cases.find((c) => c.name === name) ?? assert.fail(`no case ${name}`);
const fromCase = (name: string) => () => {
  const c = byName(name);
  return planPod(c.model, c.options);
};
const dpdkModel = vm([iface("dpdk", vhostUser, { macAddress: "52:54:00:00:00:01" })], [multusNet("dpdk", "ovs")], {
  dialect: "virtink",
});
const planDpdk = (env: VhostUserEnv) => () =>
  planPod(dpdkModel, { config: config(), pod: pod([eth0]), passthrough: { vhostUser: env } });
const sriovWith = (networkStatus: DeviceStatusEntry[]) => () =>
  planPod(vm([iface("sriov", sriov)], [multusNet("sriov", "nad-sriov")]), {
    config: config(),
    pod: pod([eth0]),
    passthrough: { networkStatus },
  });

/** One producer per code, so a code nobody can produce does not linger. */
const producers: Record<PlanErrorCode, () => unknown> = {
  pod_link_missing: fromCase("bridge without its pod link"),
  vm_cidr_too_small: fromCase("an IPv4 VM CIDR with one host address"),
  vm_cidr_invalid: fromCase("an unparsable VM CIDR"),
  no_gateway_route: fromCase("a bridge pod NIC with IPv4 but no IPv4 route"),
  too_few_addresses: () => addressesOf(parseIpPrefix("10.0.2.0/31") ?? assert.fail()),
  no_more_addresses: fromCase("a Virtink masquerade /31"),
  socket_path_too_long: () =>
    planPod(vm([iface("default", { kind: "passtBinding" })], [podNet()]), {
      config: config(),
      pod: pod([eth0]),
      runDir: `/run/${"x".repeat(90)}`,
    }),
  network_not_found: fromCase("an interface without a network"),
  nad_not_found: fromCase("a Multus network whose NAD is not known"),
  bridge_index_out_of_range: () => kubevirtFakeBridgeIp(100),
  invalid_ntp_server: fromCase("an IPv6 NTP server"),
  plugin_not_registered: fromCase("a binding plugin the CR does not register"),
  binding_unsupported: fromCase("a vDPA interface in a KubeVirt VM"),
  network_kind_unsupported: fromCase("the passt plugin on a Multus network"),
  feature_gate_disabled: () =>
    planPod(vm([iface("default", { kind: "slirp" })], [podNet()]), { config: config(), pod: pod([eth0]) }),
  link_type_collision: () =>
    planPod(vm([iface("mv", { kind: "macvtap" })], [multusNet("mv", "mvt")]), {
      config: config(["Macvtap"]),
      pod: pod([eth0, link("podd1829078fe0", 4, MAC, [])]),
      nads: [{ namespace: "default", name: "mvt", resourceName: "macvtap.network.kubevirt.io/eth0" }],
    }),
  macvtap_lower_device_unknown: () => macvtapLowerDevice({ namespace: "default", name: "mvt" }),
  memory_overhead_invalid: fromCase("a plugin memory overhead that is not a quantity"),
  passthrough_facts_missing: fromCase("an SR-IOV interface without the pod's network-status"),
  network_info_invalid: () => parseNetworkInfo("{"),
  no_sriov_mapping: fromCase("a KubeVirt SR-IOV network in network-status without device-info"),
  sriov_pci_address_not_found: () =>
    sriovPciAddresses({ interfaces: [{ network: "b", deviceInfo: { pci: { "pci-address": "0000:3b:10.0" } } }] }, [
      "a",
    ]),
  invalid_host_pci_address: sriovWith([
    { name: "default/nad-sriov", interface: "podf767c48f0c6", "device-info": { pci: { "pci-address": "3b:10.0" } } },
  ]),
  vhost_user_net_type_missing: planDpdk({}),
  vhost_user_net_type_unsupported: planDpdk({ netType: "bridge" }),
  vhost_user_socket_missing: planDpdk({ netType: "kube-ovn" }),
  vhost_user_link_not_found: planDpdk({ netType: "userspace", userspaceConfigurationData: "[]" }),
  vhost_user_config_invalid: planDpdk({ netType: "userspace", userspaceConfigurationData: "" }),
  vhost_user_mac_missing: fromCase("a vhostUser interface without a MAC"),
};

describe("every PlanErrorCode has a producer", () => {
  for (const code of Object.values(PlanErrorCode)) {
    it(`${code} is produced`, () => {
      const produce = producers[code];
      assert.throws(produce, (e: unknown) => {
        assert.ok(e instanceof PlanError, `expected a PlanError, got ${String(e)}`);
        assert.equal(e.code, code, e.message);
        return true;
      });
    });
  }
});
