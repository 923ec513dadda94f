import { describe, it } from "node:test";
import type { KvBindingPlugin } from "../../src/api/kubevirt-types.ts";
import type { VmNetworkModel } from "../../src/api/model.ts";
import type { PlanPodOptions } from "../../src/plan/plan.ts";
import { planPod } from "../../src/plan/plan.ts";
import type { PodLink } from "../../src/plan/pod-facts.ts";
import { config, iface, link, multusNet, pod, podNet, vm } from "./fixtures.ts";
import { assertPlanGolden } from "./golden.ts";

const DUAL = ["10.244.1.5/24", "fd00:10:244:1::5/64", "fe80::858:aff:fef4:105/64"];
const V4 = ["10.244.1.5/24", "fe80::858:aff:fef4:105/64"];
const MAC = "0a:58:0a:f4:01:05";
const eth0 = link("eth0", 3, MAC, DUAL);
const masq = { kind: "masquerade" } as const;
const tcp = (port: number) => ({ protocol: "TCP", port }) as const;
const udp = (port: number) => ({ protocol: "UDP", port }) as const;
const plugin = (name: string) => ({ kind: "plugin", name }) as const;
const MACVTAP_NAD = {
  namespace: "default",
  name: "macvtapnetwork",
  resourceName: "macvtap.network.kubevirt.io/eth0",
  config: '{"cniVersion":"0.3.1","name":"macvtapnetwork","type":"macvtap","mtu":1500}',
};
/** What macvtap-cni leaves in the pod: a macvtap named like the pod interface. */
const cniMacvtap: PodLink = {
  name: "pod954b3b7236c",
  ifindex: 5,
  mac: "8a:10:00:00:00:07",
  mtu: 9000,
  addresses: [],
  kind: "macvtap",
};

const withPlugins = (plugins: Record<string, KvBindingPlugin>, gates: string[] = []) => ({
  ...config(gates),
  bindingPlugins: plugins,
});

interface GoldenCase {
  readonly name: string;
  readonly model: VmNetworkModel;
  readonly options: PlanPodOptions;
}

const cases: GoldenCase[] = [
  {
    name: "passt-core-all-ports",
    model: vm([iface("default", { kind: "passt" })], [podNet()]),
    options: { config: config(["Passt"]), pod: pod([eth0]) },
  },
  {
    name: "passt-binding-ports-istio",
    model: vm(
      [iface("default", { kind: "passtBinding" }, { ports: [tcp(80), udp(53), tcp(80), tcp(8080)] })],
      [podNet()],
    ),
    options: { config: config(), pod: pod([eth0]), istio: true, nonRoot: false, runDir: "/run/vmnet/pods/p1" },
  },
  {
    name: "passt-plugin-nad-overhead",
    model: vm([iface("default", plugin("passt"), { macAddress: "02:aa:bb:cc:dd:ee" })], [podNet()]),
    options: {
      config: withPlugins({
        passt: {
          sidecarImage: "quay.io/kubevirt/network-passt-binding:v1.4.0",
          networkAttachmentDefinition: "netbindingpasst",
          migration: { method: "link-refresh" },
          computeResourceOverhead: { requests: { memory: "500Mi" } },
        },
      }),
      pod: pod([eth0]),
    },
  },
  {
    name: "slirp-default",
    model: vm([iface("default", { kind: "slirp" })], [podNet()]),
    options: { config: { ...config(), permitSlirpInterface: true }, pod: pod([eth0]) },
  },
  {
    name: "slirp-cidr-ports-rtl8139",
    model: vm(
      [
        iface(
          "default",
          { kind: "slirp" },
          {
            model: "rtl8139",
            macAddress: "DE:AD:00:00:BE:EF",
            ports: [tcp(22), udp(53), tcp(22), udp(53), tcp(53)],
          },
        ),
      ],
      [podNet("default", { vmNetworkCIDR: "10.11.0.0/16" })],
      { subdomain: "mysub" },
    ),
    options: { config: { ...config(), permitSlirpInterface: true }, pod: pod([eth0]) },
  },
  {
    name: "macvtap-core-created",
    model: vm(
      [iface("default", masq), iface("hostnetwork", { kind: "macvtap" })],
      [podNet(), multusNet("hostnetwork", "macvtapnetwork")],
    ),
    options: { config: config(["Macvtap"]), pod: pod([link("eth0", 3, MAC, V4)]), nads: [MACVTAP_NAD] },
  },
  {
    name: "macvtap-plugin-cni-link-multiqueue",
    model: vm(
      [iface("default", masq), iface("hostnetwork", plugin("macvtap"))],
      [podNet(), multusNet("hostnetwork", "macvtapnetwork")],
      { multiqueue: true, vcpus: 2 },
    ),
    options: {
      config: withPlugins({ macvtap: { domainAttachmentType: "tap" } }),
      pod: pod([link("eth0", 3, MAC, V4), { ...cniMacvtap, name: "pod954b3b7236c" }]),
      nads: [{ ...MACVTAP_NAD, config: '{"cniVersion":"0.3.1","name":"macvtapnetwork","type":"macvtap"}' }],
    },
  },
  {
    name: "plugin-managed-tap",
    model: vm([iface("default", plugin("mybridge"))], [podNet()]),
    options: {
      config: withPlugins({ mybridge: { domainAttachmentType: "managedTap", downwardAPI: "device-info" } }),
      pod: pod([eth0]),
      antiSpoofing: { default: true },
    },
  },
  {
    name: "plugin-tap-cni-tap",
    model: vm(
      [iface("default", masq), iface("blue", plugin("vendortap"))],
      [podNet(), multusNet("blue", "team/nad-blue")],
    ),
    options: {
      config: withPlugins({
        vendortap: {
          domainAttachmentType: "tap",
          networkAttachmentDefinition: "kube-system/vendor-net",
          computeResourceOverhead: { requests: { memory: "64M" } },
        },
      }),
      pod: pod([
        link("eth0", 3, MAC, V4),
        link("pod16477688c0e", 4, "02:00:00:0b:0b:0b", [], 1400),
        { ...link("tap16477688c0e", 5, "0e:00:00:00:00:01", [], 1400), kind: "tun" },
      ]),
    },
  },
];

describe("planPod golden files for passt, slirp, macvtap and plugins", () => {
  for (const c of cases) {
    it(`plans "${c.name}" as recorded in golden/${c.name}.json and .nft`, () => {
      assertPlanGolden(c.name, planPod(c.model, c.options));
    });
  }
});
