import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { VmNetworkModel } from "../../src/api/model.ts";
import type { GuestInterface } from "../../src/hypervisor/qga.ts";
import type { DomainInterfaceStatus } from "../../src/hypervisor/qmp.ts";
import type { NetworkStatusEntry } from "../../src/lab/pod.ts";
import { hashedPodInterfaceName } from "../../src/plan/namescheme.ts";
import type { NetworkPlan } from "../../src/plan/plan.ts";
import { planPod } from "../../src/plan/plan.ts";
import type { InterfaceStatusInput, VmiInterfaceStatus } from "../../src/runtime/status.ts";
import {
  addInfoSource,
  interfaceStatuses,
  MAX_GUEST_AGENT_ONLY_INTERFACES,
  removeInfoSource,
  renderStatus,
} from "../../src/runtime/status.ts";
import { config, iface, link, multusNet, pod, podNet, vm } from "../plan/fixtures.ts";

const POD_MAC = "0a:58:0a:f4:01:05";
const POD_V4 = "10.244.1.5";
const POD_V6 = "fd00:10:244:1::5";
const POD_LL = "fe80::858:aff:fef4:105";
const V4 = [`${POD_V4}/24`, `${POD_LL}/64`];
const DUAL = [`${POD_V4}/24`, `${POD_V6}/64`, `${POD_LL}/64`];
const BLUE_MAC = "02:00:00:aa:bb:01";
const BLUE_POD = "pod16477688c0e";
const SRIOV_MAC = "02:00:00:00:00:aa";
const FAST_POD = hashedPodInterfaceName("fast").value;
const masq = { kind: "masquerade" } as const;
const bridge = { kind: "bridge" } as const;
const sriov = { kind: "sriov" } as const;

/** What queryDomainInterfaces reports for the planned NICs of a running QEMU. */
function domainOf(plan: NetworkPlan): DomainInterfaceStatus[] {
  return plan.interfaces.map((i) => ({
    name: i.name,
    mac: i.guest.mac,
    queueCount: i.guest.queueCount,
    linkState: i.guest.linkState,
  }));
}

/** A guest interface as networkGetInterfaces returns it; addresses `ip/prefix`. */
function guest(name: string, mac: string | undefined, cidrs: string[]): GuestInterface {
  return {
    name,
    ...(mac === undefined ? {} : { hardwareAddress: mac }),
    ipAddresses: cidrs.map((c) => {
      const [address = "", prefix = "0"] = c.split("/");
      return { type: address.includes(":") ? "ipv6" : "ipv4", address, prefix: Number(prefix) };
    }),
  };
}

const loopback = guest("lo", "00:00:00:00:00:00", ["127.0.0.1/8", "::1/128"]);

/** Multus' entry for the cluster network (flannel reports eth0) and for a NAD attachment. */
const clusterStatus: NetworkStatusEntry = {
  name: "cbr0",
  interface: "eth0",
  ips: [POD_V4],
  mac: POD_MAC,
  default: true,
  dns: {},
};
const nadStatus = (iface: string, nad: string): NetworkStatusEntry => ({
  name: `default/${nad}`,
  interface: iface,
  mac: "3a:11:22:33:44:55",
  dns: {},
});

// Realistic scenarios, each from planPod's real output.
const masqV4Model = vm([iface("default", masq)], [podNet()]);
const masqV4 = planPod(masqV4Model, { config: config(), pod: pod([link("eth0", 3, POD_MAC, V4)]) });
const masqDualModel = masqV4Model;
const masqDual = planPod(masqDualModel, {
  config: config(),
  pod: { ...pod([link("eth0", 3, POD_MAC, DUAL)]), podIP: POD_V4 },
});
const masqDualV6First = planPod(masqDualModel, {
  config: config(),
  pod: { ...pod([link("eth0", 3, POD_MAC, DUAL)]), podIP: POD_V6 },
});
const bridgePodModel = vm([iface("default", bridge)], [podNet()]);
const bridgePod = planPod(bridgePodModel, {
  config: config(),
  pod: { ...pod([link("eth0", 3, POD_MAC, DUAL)]), podIP: POD_V4 },
});
const secondaryModel = vm(
  [iface("default", masq), iface("blue", bridge, { macAddress: BLUE_MAC })],
  [podNet(), multusNet("blue", "nad-blue")],
);
const secondary = planPod(secondaryModel, {
  config: config(),
  pod: pod([link("eth0", 3, POD_MAC, V4), link(BLUE_POD, 4, "3a:11:22:33:44:55", [], 1500)]),
});
const multiqueueModel = vm([iface("default", masq)], [podNet()], { multiqueue: true, vcpus: 4 });
const multiqueue = planPod(multiqueueModel, { config: config(), pod: pod([link("eth0", 3, POD_MAC, V4)]) });
const linkDownModel = vm([iface("default", masq, { state: "down" })], [podNet()]);
const linkDown = planPod(linkDownModel, { config: config(), pod: pod([link("eth0", 3, POD_MAC, V4)]) });
const sriovModel = vm(
  [iface("default", masq), iface("fast", sriov, { macAddress: SRIOV_MAC }), iface("slow", sriov)],
  [podNet(), multusNet("fast", "nad-sriov"), multusNet("slow", "nad-sriov")],
);
// Nothing of SR-IOV lives in the pod netns (§5.7), so the plan covers the other interfaces only.
const sriovPlan = planPod(
  { ...sriovModel, interfaces: sriovModel.interfaces.filter((i) => i.binding.kind !== "sriov") },
  { config: config(), pod: pod([link("eth0", 3, POD_MAC, V4)]) },
);
const absentModel = vm(
  [iface("default", masq), iface("blue", bridge, { macAddress: BLUE_MAC, state: "absent" })],
  [podNet(), multusNet("blue", "nad-blue")],
);
const absentPlan = planPod(absentModel, {
  config: config(),
  pod: pod([link("eth0", 3, POD_MAC, V4), link(BLUE_POD, 4, "3a:11:22:33:44:55", [], 1500)]),
});

interface Case {
  readonly name: string;
  readonly input: InterfaceStatusInput;
  readonly want: VmiInterfaceStatus[];
}

function run(cases: readonly Case[]): void {
  for (const c of cases) {
    it(c.name, () => assert.deepStrictEqual(interfaceStatuses(c.input), c.want));
  }
}

const base = (model: VmNetworkModel, plan: NetworkPlan): InterfaceStatusInput => ({
  model,
  plan,
  domain: domainOf(plan),
});

/**
 * The primary masquerade entry as the domain alone reports it, so that a case spells out only what differs: `over`
 * replaces fields, `ips` gives the addresses (none: both IP fields omitted).
 */
function primaryEntry(over: VmiInterfaceStatus = {}, ips: readonly string[] = [POD_V4]): VmiInterfaceStatus {
  return {
    ...(ips[0] === undefined ? {} : { ipAddress: ips[0], ipAddresses: ips }),
    mac: POD_MAC,
    name: "default",
    infoSource: "domain",
    queueCount: 1,
    linkState: "up",
    ...over,
  };
}

describe("planPod fixtures", () => {
  it("give the facts the status cases rely on", () => {
    assert.deepStrictEqual(masqDual.interfaces[0]?.podIPs, [POD_V4, POD_V6]);
    assert.deepStrictEqual(masqDualV6First.interfaces[0]?.podIPs, [POD_V6, POD_V4]);
    assert.deepStrictEqual(bridgePod.interfaces[0]?.podIPs, [POD_V4]);
    assert.equal(secondary.interfaces[1]?.podInterface.value, BLUE_POD);
    assert.equal(multiqueue.interfaces[0]?.guest.queueCount, 4);
    assert.equal(linkDown.interfaces[0]?.guest.linkState, "down");
    assert.deepStrictEqual(
      absentPlan.interfaces.map((i) => i.name),
      ["default"],
    );
  });
});

describe("interfaceStatuses step 1: one entry per domain interface", () => {
  run([
    {
      name: "masquerade: alias, MAC, domain source, one queue, link up",
      input: { ...base(masqV4Model, masqV4), domain: domainOf(masqV4) },
      want: [primaryEntry()],
    },
    {
      name: "multiqueue: queueCount is the driver queues (4 vCPUs)",
      input: base(multiqueueModel, multiqueue),
      want: [primaryEntry({ queueCount: 4 })],
    },
    {
      name: "no driver queues reported: queueCount 1",
      input: {
        ...base(masqV4Model, masqV4),
        domain: [{ name: "default", mac: POD_MAC, queueCount: 0, linkState: "up" }],
      },
      want: [primaryEntry()],
    },
    {
      name: "link down: linkState down",
      input: base(linkDownModel, linkDown),
      want: [primaryEntry({ linkState: "down" })],
    },
    {
      name: "an interface being unplugged (state absent) is dropped even while the domain still has it",
      input: {
        ...base(absentModel, absentPlan),
        domain: [...domainOf(absentPlan), { name: "blue", mac: BLUE_MAC, queueCount: 1, linkState: "up" }],
      },
      want: [primaryEntry()],
    },
  ]);
});

describe("interfaceStatuses step 2: SR-IOV hostdevs", () => {
  const domain = [
    ...domainOf(sriovPlan),
    { kind: "hostdev", alias: "ua-sriov-fast" } as const,
    { kind: "hostdev", alias: "ua-sriov-slow" } as const,
    { kind: "hostdev", alias: "ua-gpu1" } as const,
  ];
  const primary = primaryEntry();
  run([
    {
      name: "name without the prefix, spec MAC (or none), domain source, no queues or link state",
      input: { model: sriovModel, plan: sriovPlan, domain },
      want: [primary, { mac: SRIOV_MAC, name: "fast", infoSource: "domain" }, { name: "slow", infoSource: "domain" }],
    },
    {
      name: "the guest agent fills the VF's IPs (no cache entry) and a VF without spec MAC stays unmatched",
      input: {
        model: sriovModel,
        plan: sriovPlan,
        domain,
        guestAgent: [
          guest("eth1", SRIOV_MAC, ["192.168.10.5/24", "fe80::ff:fe00:aa/64"]),
          guest("eth2", "02:00:00:00:00:bb", ["192.168.20.5/24"]),
        ],
      },
      want: [
        primary,
        {
          ipAddress: "192.168.10.5",
          mac: SRIOV_MAC,
          name: "fast",
          ipAddresses: ["192.168.10.5", "fe80::ff:fe00:aa"],
          interfaceName: "eth1",
          infoSource: "domain, guest-agent",
        },
        { name: "slow", infoSource: "domain" },
        {
          ipAddress: "192.168.20.5",
          mac: "02:00:00:00:00:bb",
          ipAddresses: ["192.168.20.5"],
          interfaceName: "eth2",
          infoSource: "guest-agent",
        },
      ],
    },
  ]);
});

describe("interfaceStatuses step 3: IPs from the pod-interface cache", () => {
  const masqOnly = (ips: string[]): VmiInterfaceStatus[] => [primaryEntry({}, ips)];
  run([
    {
      name: "masquerade dual-stack, MY_POD_IP IPv4: IPv4 first",
      input: { ...base(masqDualModel, masqDual), podIP: POD_V4 },
      want: masqOnly([POD_V4, POD_V6]),
    },
    {
      name: "masquerade dual-stack, MY_POD_IP IPv6: IPv6 first",
      input: { ...base(masqDualModel, masqDual), podIP: POD_V6 },
      want: masqOnly([POD_V6, POD_V4]),
    },
    {
      name: "masquerade dual-stack, cache written IPv6 first, MY_POD_IP IPv4: IPv4 first",
      input: { ...base(masqDualModel, masqDualV6First), podIP: POD_V4 },
      want: masqOnly([POD_V4, POD_V6]),
    },
    {
      name: "without MY_POD_IP the cache order is kept",
      input: base(masqDualModel, masqDualV6First),
      want: masqOnly([POD_V6, POD_V4]),
    },
    {
      name: "bridge on the pod network: the pod IPv6 is never reported",
      input: {
        ...base(bridgePodModel, bridgePod),
        // Even a cache that held the IPv6 must not leak it.
        plan: {
          ...bridgePod,
          interfaces: bridgePod.interfaces.map((i) => ({ ...i, podIPs: [POD_V6, POD_V4] })),
        },
        podIP: POD_V6,
      },
      want: [primaryEntry()],
    },
    {
      name: "bridge secondary without IPAM: no IPs",
      input: base(secondaryModel, secondary),
      want: [primaryEntry(), { mac: BLUE_MAC, name: "blue", infoSource: "domain", queueCount: 1, linkState: "up" }],
    },
  ]);
});

describe("interfaceStatuses step 4: guest agent merged by MAC", () => {
  const masqGuest = (ips: string[]): VmiInterfaceStatus[] => [
    primaryEntry({ interfaceName: "eth0", infoSource: "domain, guest-agent" }, ips),
  ];
  const extra = Array.from({ length: MAX_GUEST_AGENT_ONLY_INTERFACES + 1 }, (_, n) =>
    guest(`veth${n}`, `02:42:ac:11:00:${(n + 2).toString(16).padStart(2, "0")}`, [`172.17.${n}.1/16`]),
  );
  run([
    {
      name: "masquerade IPv4: the pod IP is kept over the guest's 10.0.2.2, loopback ignored",
      input: {
        ...base(masqV4Model, masqV4),
        guestAgent: [loopback, guest("eth0", POD_MAC, ["10.0.2.2/24", "fe80::858:aff:fef4:105/64"])],
      },
      want: masqGuest([POD_V4]),
    },
    {
      name: "masquerade dual-stack: pod IPs kept per family, IPv4 then IPv6 after the merge",
      input: {
        ...base(masqDualModel, masqDualV6First),
        podIP: POD_V6,
        guestAgent: [guest("eth0", POD_MAC, ["fd10:0:2::2/120", "10.0.2.2/24", "fe80::858:aff:fef4:105/64"])],
      },
      want: masqGuest([POD_V4, POD_V6]),
    },
    {
      name: "masquerade dual-stack, guest without global IPv6: link-local dropped, so the IPv6 family is cleared",
      input: {
        ...base(masqDualModel, masqDual),
        guestAgent: [guest("eth0", POD_MAC, ["10.0.2.2/24", "fe80::858:aff:fef4:105/64"])],
      },
      want: masqGuest([POD_V4]),
    },
    {
      name: "masquerade, guest agent with no address yet: every family cleared",
      input: { ...base(masqV4Model, masqV4), guestAgent: [guest("eth0", POD_MAC, [])] },
      want: masqGuest([]),
    },
    {
      name: "bridge: the guest's IPv6 (link-local included) fills the family the cache has none of",
      input: {
        ...base(bridgePodModel, bridgePod),
        guestAgent: [guest("enp1s0", POD_MAC, [`${POD_V4}/24`, "2001:db8::5/64", "fe80::858:aff:fef4:105/64"])],
      },
      want: [
        primaryEntry({ interfaceName: "enp1s0", infoSource: "domain, guest-agent" }, [
          POD_V4,
          "2001:db8::5",
          "fe80::858:aff:fef4:105",
        ]),
      ],
    },
    {
      name: "old launcher without the interface name: IPs merged, source unchanged",
      input: { ...base(masqV4Model, masqV4), guestAgent: [guest("", POD_MAC, ["10.0.2.2/24"])] },
      want: [primaryEntry()],
    },
    {
      name: "the MAC must match exactly: an upper-case MAC is another interface",
      input: { ...base(masqV4Model, masqV4), guestAgent: [guest("eth0", POD_MAC.toUpperCase(), ["10.0.2.2/24"])] },
      want: [
        primaryEntry(),
        {
          ipAddress: "10.0.2.2",
          mac: POD_MAC.toUpperCase(),
          ipAddresses: ["10.0.2.2"],
          interfaceName: "eth0",
          infoSource: "guest-agent",
        },
      ],
    },
    {
      name: "eleven guest-agent-only interfaces: the first ten are kept, nameless",
      input: {
        ...base(masqV4Model, masqV4),
        guestAgent: [loopback, guest("eth0", POD_MAC, ["10.0.2.2/24"]), ...extra],
      },
      want: [
        ...masqGuest([POD_V4]),
        ...extra.slice(0, MAX_GUEST_AGENT_ONLY_INTERFACES).map((g) => ({
          ipAddress: g.ipAddresses[0]?.address,
          mac: g.hardwareAddress,
          ipAddresses: g.ipAddresses.map((a) => a.address),
          interfaceName: g.name,
          infoSource: "guest-agent",
        })),
      ],
    },
  ]);
});

describe("interfaceStatuses step 5: the primary first", () => {
  const blue: VmiInterfaceStatus = {
    mac: BLUE_MAC,
    name: "blue",
    infoSource: "domain",
    queueCount: 1,
    linkState: "up",
  };
  run([
    {
      name: "moved to index 0 whatever the domain order",
      input: { ...base(secondaryModel, secondary), domain: [...domainOf(secondary)].reverse() },
      want: [primaryEntry(), blue],
    },
    {
      name: "missing from the domain but in the previous status: `{name}` inserted at the front",
      input: {
        ...base(secondaryModel, secondary),
        domain: domainOf(secondary).filter((d) => d.name === "blue"),
        previous: [{ name: "default", mac: POD_MAC, infoSource: "domain" }, blue],
      },
      want: [{ name: "default" }, blue],
    },
    {
      name: "missing from the domain and never reported: no entry",
      input: { ...base(secondaryModel, secondary), domain: domainOf(secondary).filter((d) => d.name === "blue") },
      want: [blue],
    },
  ]);
});

describe("interfaceStatuses steps 6 and 7: virt-controller's fields carried over from the previous status", () => {
  const previous: VmiInterfaceStatus[] = [
    { name: "default", podInterfaceName: "eth0", infoSource: "domain, guest-agent" },
    { name: "blue", podInterfaceName: BLUE_POD, infoSource: "domain, guest-agent, multus-status" },
    { mac: "02:42:ac:11:00:02", podInterfaceName: "bogus", infoSource: "guest-agent, multus-status" },
  ];
  run([
    {
      name: "multus-status for spec interfaces and podInterfaceName for named entries",
      input: {
        ...base(secondaryModel, secondary),
        previous,
        guestAgent: [guest("eth0", POD_MAC, ["10.0.2.2/24"]), guest("docker0", "02:42:ac:11:00:02", [])],
      },
      want: [
        primaryEntry({ podInterfaceName: "eth0", interfaceName: "eth0", infoSource: "domain, guest-agent" }),
        {
          mac: BLUE_MAC,
          name: "blue",
          podInterfaceName: BLUE_POD,
          infoSource: "domain, multus-status",
          queueCount: 1,
          linkState: "up",
        },
        { mac: "02:42:ac:11:00:02", interfaceName: "docker0", infoSource: "guest-agent" },
      ],
    },
  ]);
});

describe("interfaceStatuses virt-controller: network-status", () => {
  const primary = (podInterfaceName: string): VmiInterfaceStatus =>
    primaryEntry({ podInterfaceName, interfaceName: "eth0", infoSource: "domain, guest-agent" });
  const guests = [loopback, guest("eth0", POD_MAC, ["10.0.2.2/24"]), guest("eth1", BLUE_MAC, ["192.0.2.7/24"])];
  const blueBase = {
    ipAddress: "192.0.2.7",
    mac: BLUE_MAC,
    name: "blue",
    ipAddresses: ["192.0.2.7"],
    interfaceName: "eth1",
    queueCount: 1,
    linkState: "up",
  };
  run([
    {
      name: "bridge secondary on a hashed pod interface: multus-status added, podInterfaceName set",
      input: {
        ...base(secondaryModel, secondary),
        guestAgent: guests,
        networkStatus: [clusterStatus, nadStatus(BLUE_POD, "nad-blue")],
      },
      want: [
        primary("eth0"),
        { ...blueBase, podInterfaceName: BLUE_POD, infoSource: "domain, guest-agent, multus-status" },
      ],
    },
    {
      name: "a legacy ordinal name in network-status selects the ordinal scheme (net1)",
      input: {
        ...base(secondaryModel, secondary),
        guestAgent: guests,
        networkStatus: [clusterStatus, nadStatus("net1", "nad-blue")],
      },
      want: [
        primary("eth0"),
        { ...blueBase, podInterfaceName: "net1", infoSource: "domain, guest-agent, multus-status" },
      ],
    },
    {
      name: "the default entry names the primary pod interface (dynamic naming)",
      input: {
        ...base(secondaryModel, secondary),
        guestAgent: guests,
        networkStatus: [{ ...clusterStatus, interface: "ens3" }, nadStatus(BLUE_POD, "nad-blue")],
      },
      want: [
        primary("ens3"),
        { ...blueBase, podInterfaceName: BLUE_POD, infoSource: "domain, guest-agent, multus-status" },
      ],
    },
    {
      name: "a default entry without interface (Calico) or no default entry: eth0",
      input: {
        ...base(secondaryModel, secondary),
        guestAgent: guests,
        networkStatus: [{ name: "k8s-pod-network", ips: [POD_V4], default: true, dns: {} }],
      },
      want: [primary("eth0"), { ...blueBase, podInterfaceName: BLUE_POD, infoSource: "domain, guest-agent" }],
    },
    {
      name: "gone from network-status: multus-status removed, the other sources keep their order",
      input: {
        ...base(secondaryModel, secondary),
        guestAgent: guests,
        previous: [{ name: "blue", podInterfaceName: BLUE_POD, infoSource: "domain, multus-status, guest-agent" }],
        networkStatus: [clusterStatus],
      },
      want: [primary("eth0"), { ...blueBase, podInterfaceName: BLUE_POD, infoSource: "domain, guest-agent" }],
    },
    {
      name: "before the domain exists: primary `{name}` and the secondary from network-status alone",
      input: {
        model: secondaryModel,
        plan: secondary,
        domain: [],
        networkStatus: [clusterStatus, nadStatus(BLUE_POD, "nad-blue")],
      },
      want: [
        { name: "default", podInterfaceName: "eth0" },
        { name: "blue", podInterfaceName: BLUE_POD, infoSource: "multus-status" },
      ],
    },
    {
      name: "an absent interface is not re-created from a stale network-status entry",
      input: { ...base(absentModel, absentPlan), networkStatus: [clusterStatus, nadStatus(BLUE_POD, "nad-blue")] },
      want: [primaryEntry({ podInterfaceName: "eth0" })],
    },
    {
      name: "SR-IOV VF in network-status: multus-status on the hostdev entry, a VF in neither gets no entry, guest-agent-only entries last",
      input: {
        model: sriovModel,
        plan: sriovPlan,
        domain: [...domainOf(sriovPlan), { kind: "hostdev", alias: "ua-sriov-fast" }],
        guestAgent: [guest("eth9", "02:42:ac:11:00:09", [])],
        networkStatus: [clusterStatus, nadStatus(FAST_POD, "nad-sriov")],
      },
      want: [
        primaryEntry({ podInterfaceName: "eth0" }),
        { mac: SRIOV_MAC, name: "fast", podInterfaceName: FAST_POD, infoSource: "domain, multus-status" },
        { mac: "02:42:ac:11:00:09", interfaceName: "eth9", infoSource: "guest-agent" },
      ],
    },
  ]);
});

describe("addInfoSource and removeInfoSource", () => {
  const cases: { name: string; got: string; want: string }[] = [
    { name: "add to empty", got: addInfoSource("", "domain"), want: "domain" },
    { name: "add appends", got: addInfoSource("domain", "guest-agent"), want: "domain, guest-agent" },
    {
      name: "add existing is a no-op",
      got: addInfoSource("domain, guest-agent", "domain"),
      want: "domain, guest-agent",
    },
    {
      name: "remove keeps the others' order",
      got: removeInfoSource("domain, multus-status, guest-agent", "multus-status"),
      want: "domain, guest-agent",
    },
    { name: "remove the last source", got: removeInfoSource("multus-status", "multus-status"), want: "" },
    { name: "remove a missing source", got: removeInfoSource("domain", "guest-agent"), want: "domain" },
  ];
  for (const c of cases) it(c.name, () => assert.equal(c.got, c.want));
});

describe("renderStatus", () => {
  const statuses: VmiInterfaceStatus[] = [
    {
      linkState: "up",
      queueCount: 1,
      infoSource: "domain, guest-agent, multus-status",
      interfaceName: "eth1",
      podInterfaceName: BLUE_POD,
      ipAddresses: ["192.0.2.7"],
      name: "blue",
      mac: BLUE_MAC,
      ipAddress: "192.0.2.7",
    },
    { name: "slow", infoSource: "domain", ipAddresses: [], mac: "", queueCount: 0 },
  ];
  const cases: { name: string; statuses: VmiInterfaceStatus[]; format: "yaml" | "json"; want: string }[] = [
    {
      name: "YAML in Go field order, empty fields omitted",
      statuses,
      format: "yaml",
      want: `status:
  interfaces:
    - ipAddress: 192.0.2.7
      mac: ${BLUE_MAC}
      name: blue
      ipAddresses:
        - 192.0.2.7
      podInterfaceName: ${BLUE_POD}
      interfaceName: eth1
      infoSource: domain, guest-agent, multus-status
      queueCount: 1
      linkState: up
    - name: slow
      infoSource: domain
`,
    },
    {
      name: "JSON in Go field order, empty fields omitted",
      statuses,
      format: "json",
      want: `{
  "status": {
    "interfaces": [
      {
        "ipAddress": "192.0.2.7",
        "mac": "${BLUE_MAC}",
        "name": "blue",
        "ipAddresses": [
          "192.0.2.7"
        ],
        "podInterfaceName": "${BLUE_POD}",
        "interfaceName": "eth1",
        "infoSource": "domain, guest-agent, multus-status",
        "queueCount": 1,
        "linkState": "up"
      },
      {
        "name": "slow",
        "infoSource": "domain"
      }
    ]
  }
}
`,
    },
    { name: "no interfaces: the list is omitted (YAML)", statuses: [], format: "yaml", want: "status: {}\n" },
    { name: "no interfaces: the list is omitted (JSON)", statuses: [], format: "json", want: '{\n  "status": {}\n}\n' },
  ];
  for (const c of cases) it(c.name, () => assert.equal(renderStatus(c.statuses, c.format), c.want));
});
