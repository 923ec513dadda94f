import { describe, it } from "node:test";
import type { VmNetworkModel } from "../../src/api/model.ts";
import type { PlanPodOptions } from "../../src/plan/plan.ts";
import { planPod } from "../../src/plan/plan.ts";
import { config, flannelRoutes, iface, link, multusNet, pod, podNet, vm } from "./fixtures.ts";
import { assertPlanGolden } from "./golden.ts";

const V4 = ["10.244.1.5/24", "fe80::858:aff:fef4:105/64"];
const V6 = ["fd00:10:244:1::5/64", "fe80::858:aff:fef4:105/64"];
const DUAL = ["10.244.1.5/24", "fd00:10:244:1::5/64", "fe80::858:aff:fef4:105/64"];
const MAC = "0a:58:0a:f4:01:05";
const masq = { kind: "masquerade" } as const;
const bridge = { kind: "bridge" } as const;
const tcp = (port: number) => ({ protocol: "TCP", port }) as const;
const udp = (port: number) => ({ protocol: "UDP", port }) as const;

interface GoldenCase {
  readonly name: string;
  readonly model: VmNetworkModel;
  readonly options: PlanPodOptions;
}

const cases: GoldenCase[] = [
  {
    name: "bridge-pod-ipv4",
    model: vm([iface("default", bridge)], [podNet()]),
    options: { config: config(), pod: pod([link("eth0", 3, MAC, V4)]) },
  },
  {
    name: "bridge-multus-no-ip",
    model: vm(
      [iface("default", masq), iface("blue", bridge, { macAddress: "02:00:00:aa:bb:01" })],
      [podNet(), multusNet("blue", "nad-blue")],
    ),
    options: {
      config: config(),
      pod: pod([link("eth0", 3, MAC, V4), link("pod16477688c0e", 4, "3a:11:22:33:44:55", [], 1500)]),
      antiSpoofing: { blue: true },
    },
  },
  {
    name: "masquerade-ipv4-no-ports",
    model: vm([iface("default", masq)], [podNet()]),
    options: { config: config(), pod: pod([link("eth0", 3, MAC, V4)]) },
  },
  {
    name: "masquerade-ipv6-only",
    model: vm([iface("default", masq)], [podNet()]),
    options: {
      config: config(),
      pod: pod(
        [link("eth0", 3, MAC, V6)],
        flannelRoutes.filter((r) => r.family === "ip6"),
      ),
    },
  },
  {
    name: "masquerade-dual-stack-1-port",
    model: vm([iface("default", masq, { ports: [tcp(80)] })], [podNet()]),
    options: { config: config(), pod: pod([link("eth0", 3, MAC, DUAL)]) },
  },
  {
    name: "masquerade-ipv4-3-ports",
    model: vm([iface("default", masq, { ports: [tcp(22), udp(53), tcp(80)] })], [podNet()]),
    options: { config: config(), pod: pod([link("eth0", 3, MAC, V4)]) },
  },
  {
    name: "masquerade-ipv4-duplicate-ports",
    model: vm([iface("default", masq, { ports: [tcp(80), udp(80), { name: "http", ...tcp(80) }] })], [podNet()]),
    options: { config: config(), pod: pod([link("eth0", 3, MAC, V4)]) },
  },
  {
    name: "masquerade-dual-stack-port-ranges",
    model: vm(
      [
        iface("default", masq, {
          portRanges: [
            { protocol: "TCP", start: 22, end: 22 },
            { protocol: "TCP", start: 8000, end: 8080 },
            { protocol: "UDP", start: 5000, end: 5001 },
          ],
        }),
      ],
      [podNet()],
    ),
    options: { config: config(["PortRangesSpec"]), pod: pod([link("eth0", 3, MAC, DUAL)]) },
  },
  {
    name: "masquerade-custom-cidr-multiqueue",
    model: vm(
      [iface("default", masq, { macAddress: "02:00:00:12:34:56", bootOrder: 1, pciAddress: "0000:01:00.0" })],
      [podNet("default", { vmNetworkCIDR: "192.168.100.0/24", vmIPv6NetworkCIDR: "fd20:0:1::/64" })],
      { multiqueue: true, vcpus: 4, subdomain: "mysub" },
    ),
    options: { config: config(), pod: pod([link("eth0", 3, MAC, DUAL, 9000)]), nonRoot: false },
  },
  {
    name: "masquerade-istio-legacy-migration",
    model: vm([iface("default", masq, { model: "e1000", state: "down" })], [podNet()]),
    options: { config: config(), pod: pod([link("eth0", 3, MAC, V4)]), istio: true, legacyMigrationPorts: true },
  },
  {
    name: "virtink-masquerade-default-cidr",
    model: vm([iface("default", masq, { macAddress: "52:54:00:12:34:56" })], [podNet()], { dialect: "virtink" }),
    options: { config: config(), pod: pod([link("eth0", 3, MAC, V4)]) },
  },
  {
    name: "virtink-bridge-pod-and-multus",
    model: vm(
      [
        iface("pod", bridge, { macAddress: "52:54:00:00:00:01" }),
        iface("sec", bridge, { macAddress: "52:54:00:00:00:02" }),
      ],
      [podNet("pod"), multusNet("sec", "nad-sec")],
      { dialect: "virtink" },
    ),
    options: {
      config: config(),
      pod: pod([link("eth0", 3, MAC, V4), link("net1", 4, "52:54:00:00:00:02", [], 1500)]),
    },
  },
];

describe("planPod golden files", () => {
  for (const c of cases) {
    it(`plans "${c.name}" as recorded in golden/${c.name}.json and .nft`, () => {
      assertPlanGolden(c.name, planPod(c.model, c.options));
    });
  }
});
