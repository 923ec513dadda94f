import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseIpPrefix } from "../../src/api/ip.ts";
import type { VmNetworkModel } from "../../src/api/model.ts";
import { kubevirtFakeBridgeIp, virtinkBridgeAddress } from "../../src/plan/bridge.ts";
import { PlanError } from "../../src/plan/errors.ts";
import { addressesOf } from "../../src/plan/masquerade.ts";
import type { PlanPodOptions } from "../../src/plan/plan.ts";
import { planPod } from "../../src/plan/plan.ts";
import { config, iface, link, multusNet, pod, podNet, vm } from "./fixtures.ts";

const MAC = "0a:58:0a:f4:01:05";
const V4 = ["10.244.1.5/24"];
const V6 = ["fd00:10:244:1::5/64"];
const masq = { kind: "masquerade" } as const;
const bridge = { kind: "bridge" } as const;

function expectPlanError(fn: () => unknown, code: string, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof PlanError, `expected a PlanError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.message, message);
    assert.equal(e.retryable, false);
    return true;
  });
}

describe("planPod errors", () => {
  const cases: { name: string; model: VmNetworkModel; options: PlanPodOptions; code: string; message: string }[] = [
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
      name: "an SR-IOV interface",
      model: vm([iface("sriov", { kind: "sriov" })], [multusNet("sriov", "nad-sriov")]),
      options: { config: config(), pod: pod([link("eth0", 3, MAC, V4)]) },
      code: "binding_not_planned",
      message: 'Binding "sriov" of interface "sriov" has no planner yet',
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
