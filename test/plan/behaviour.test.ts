import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { kubevirtBridgeRoutes, sameVendorMac, virtinkBridgeRoutes } from "../../src/plan/bridge.ts";
import { queuesOf } from "../../src/plan/common.ts";
import { renderNftRule, renderNftText } from "../../src/plan/nft.ts";
import { planPod } from "../../src/plan/plan.ts";
import type { PodRoute } from "../../src/plan/pod-facts.ts";
import { config, flannelRoutes, iface, link, multusNet, pod, podNet, vm } from "./fixtures.ts";

const MAC = "0a:58:0a:f4:01:05";
const V4 = ["10.244.1.5/24"];
const masq = { kind: "masquerade" } as const;
const bridge = { kind: "bridge" } as const;
const eth0 = () => pod([link("eth0", 3, MAC, V4)]);

describe("planPod port ranges", () => {
  const model = vm([iface("default", masq, { portRanges: [{ protocol: "TCP", start: 8000, end: 8080 }] })], [podNet()]);
  it("ignores portRanges while the PortRangesSpec gate is off (all ports forwarded)", () => {
    const text = renderNftText(planPod(model, { config: config(), pod: eth0() }).nft);
    assert.match(text, /chain KUBEVIRT_PREINBOUND \{\n\t\tcounter dnat to 10\.0\.2\.2\n/);
    assert.doesNotMatch(text, /8000/);
  });
  it("puts the range into the port set when the gate is on", () => {
    const text = renderNftText(planPod(model, { config: config(["PortRangesSpec"]), pod: eth0() }).nft);
    assert.match(text, /elements = \{ 8000-8080 \}/);
    assert.match(text, /tcp dport @kubevirt_tcp_ports counter dnat to 10\.0\.2\.2/);
  });
});

describe("planPod guest NIC", () => {
  it("takes the spec MAC, then the MAC from status, then the pod NIC's", () => {
    const withSpec = vm([iface("default", bridge, { macAddress: "02:AA:00:00:00:01" })], [podNet()]);
    const without = vm([iface("default", bridge)], [podNet()]);
    const guestMacs = { default: "02:bb:00:00:00:02" };
    const mac = (m: typeof without, g?: typeof guestMacs) =>
      planPod(m, { config: config(), pod: eth0(), ...(g ? { guestMacs: g } : {}) }).interfaces[0]?.guest.mac;
    assert.equal(mac(withSpec, guestMacs), "02:aa:00:00:00:01");
    assert.equal(mac(without, guestMacs), "02:bb:00:00:00:02");
    assert.equal(mac(without), MAC);
  });
  it("gives the DHCP client of a bridge the guest MAC", () => {
    const m = vm([iface("default", bridge, { macAddress: "02:aa:00:00:00:01" })], [podNet()]);
    assert.equal(planPod(m, { config: config(), pod: eth0() }).interfaces[0]?.dhcpv4?.client.mac, "02:aa:00:00:00:01");
  });
  it("leaves out MTU and queues for non-virtio models", () => {
    const g = planPod(vm([iface("default", masq, { model: "e1000" })], [podNet()], { multiqueue: true, vcpus: 4 }), {
      config: config(),
      pod: eth0(),
    }).interfaces[0]?.guest;
    assert.equal(g?.domainModel, "e1000");
    assert.equal(g?.mtu, undefined);
    assert.equal(g?.queues, undefined);
    assert.equal(g?.queueCount, 1);
  });
  it("uses virtio-transitional when asked", () => {
    const g = planPod(vm([iface("default", masq)], [podNet()], { useVirtioTransitional: true }), {
      config: config(),
      pod: eth0(),
    }).interfaces[0]?.guest;
    assert.equal(g?.domainModel, "virtio-transitional");
  });
  it("skips absent interfaces", () => {
    const m = vm(
      [iface("default", masq), iface("blue", bridge, { state: "absent" })],
      [podNet(), multusNet("blue", "b")],
    );
    assert.deepEqual(
      planPod(m, { config: config(), pod: eth0() }).interfaces.map((i) => i.name),
      ["default"],
    );
  });
});

describe("queuesOf", () => {
  const cases: { name: string; model: string; mq: boolean; vcpus: number; want: ReturnType<typeof queuesOf> }[] = [
    { name: "virtio without multiqueue", model: "virtio", mq: false, vcpus: 8, want: { tap: 0, count: 1 } },
    { name: "virtio with multiqueue", model: "virtio", mq: true, vcpus: 8, want: { tap: 8, guest: 8, count: 8 } },
    {
      name: "virtio multiqueue capped at 256",
      model: "virtio",
      mq: true,
      vcpus: 300,
      want: { tap: 256, guest: 256, count: 256 },
    },
    { name: "e1000 with multiqueue", model: "e1000", mq: true, vcpus: 8, want: { tap: 0, count: 1 } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const i = iface("x", masq, { model: c.model as "virtio" });
      assert.deepEqual(queuesOf(vm([i], [], { multiqueue: c.mq, vcpus: c.vcpus }), i), c.want);
    });
  }
});

describe("planPod sysctls and anti-spoofing", () => {
  it("lists each sysctl once for the pod", () => {
    const m = vm([iface("a", masq), iface("b", masq)], [podNet("a"), multusNet("b", "nb")], { dialect: "virtink" });
    const plan = planPod(m, {
      config: config(),
      pod: pod([link("eth0", 3, MAC, V4), link("net1", 4, "02:00:00:00:00:09", V4)]),
    });
    assert.deepEqual(plan.sysctls, [{ key: "net.ipv4.ip_forward", value: "1" }]);
    assert.equal(plan.interfaces.length, 2);
  });
  it("drops the anti-spoofing table when turned off per interface", () => {
    const plan = planPod(vm([iface("default", masq)], [podNet()]), {
      config: config(),
      pod: eth0(),
      antiSpoofing: { default: false },
    });
    assert.equal(plan.interfaces[0]?.antiSpoof, undefined);
    assert.deepEqual(
      plan.nft.tables.map((t) => `${t.family} ${t.name}`),
      ["ip nat"],
    );
  });
  it("does not give a bridge without pod IPv4 a DHCP server or arp_ignore", () => {
    const i = planPod(vm([iface("default", bridge)], [podNet()]), {
      config: config(),
      pod: pod([link("eth0", 3, MAC, ["fd00::5/64"])]),
    }).interfaces[0];
    assert.equal(i?.dhcpv4, undefined);
    assert.deepEqual(i?.sysctls, []);
    assert.deepEqual(i?.links[0]?.addresses, []);
    assert.deepEqual(i?.links[3]?.addresses, ["fd00::5/64"]);
  });
});

describe("bridge DHCP routes", () => {
  const r = (dst: string, gateway?: string): PodRoute => ({
    dst,
    dev: "eth0",
    family: "ip",
    ...(gateway ? { gateway } : {}),
  });
  it("KubeVirt: router from the first route, own subnet dropped, default last", () => {
    const got = kubevirtBridgeRoutes(flannelRoutes, {
      podIface: "eth0",
      address: { address: "10.244.1.5", prefix: 24 },
    });
    assert.deepEqual(got, {
      gateway: "10.244.1.1",
      routes: [
        { destination: "10.244.0.0/16", gateway: "10.244.1.1" },
        { destination: "0.0.0.0/0", gateway: "10.244.1.1" },
      ],
    });
  });
  it("KubeVirt: no router when the first route is on-link", () => {
    const got = kubevirtBridgeRoutes([r("10.1.2.0/24"), r("default", "10.1.2.1")], {
      podIface: "eth0",
      address: { address: "10.1.2.5", prefix: 24 },
    });
    assert.deepEqual(got, { routes: [{ destination: "0.0.0.0/0", gateway: "10.1.2.1" }] });
  });
  it("Virtink ≤ v0.16: the flannel-like vector of the reference", () => {
    const got = virtinkBridgeRoutes("eth0", [
      r("default", "10.244.1.1"),
      r("10.244.0.0/16", "10.244.1.1"),
      r("10.244.1.0/24"),
    ]);
    const flat = got.routes.flatMap((x) => [x.destination, x.gateway]).join(",");
    assert.equal(got.gateway, "10.244.1.1");
    assert.equal(flat, "10.244.0.0/16,10.244.1.1,10.244.1.0/24,0.0.0.0,0.0.0.0/0,10.244.1.1");
  });
  it("Virtink ≤ v0.16: a default route without gateway is skipped", () => {
    const got = virtinkBridgeRoutes("eth0", [r("default"), r("10.1.2.0/24")]);
    assert.deepEqual(got, { routes: [{ destination: "10.1.2.0/24", gateway: "0.0.0.0" }] });
  });
});

describe("sameVendorMac", () => {
  it("keeps the OUI, is reproducible, and never returns the original", () => {
    const a = sameVendorMac("52:54:00:12:34:56", "ns/vm/eth0");
    assert.match(a, /^52:54:00:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$/);
    assert.equal(sameVendorMac("52:54:00:12:34:56", "ns/vm/eth0"), a);
    assert.notEqual(sameVendorMac(a, "ns/vm/eth0"), a);
  });
});

describe("renderNftRule", () => {
  it("prints KubeVirt's rulespecs (§5.4)", () => {
    assert.equal(
      renderNftRule({
        matches: [{ op: "==", left: { payload: { protocol: "ip", field: "saddr" } }, right: "10.0.2.2" }],
        counter: true,
        verdict: { kind: "masquerade" },
      }),
      "ip saddr 10.0.2.2 counter masquerade",
    );
    assert.equal(
      renderNftRule({
        matches: [
          { op: "==", left: { payload: { protocol: "tcp", field: "dport" } }, right: { set: [49152, 49153] } },
          { op: "==", left: { payload: { protocol: "ip6", field: "saddr" } }, right: "::1" },
        ],
        counter: true,
        verdict: { kind: "return" },
      }),
      "tcp dport { 49152, 49153 } ip6 saddr ::1 counter return",
    );
  });
});

describe("planPod re-run and pod IPs", () => {
  it("reuses an uplink already renamed to <T>-nic and the dummy holding the original MAC", () => {
    const facts = pod([
      { ...link("eth0", 7, MAC, ["10.244.1.5/24"]), kind: "dummy" },
      link("eth0-nic", 3, "0a:58:0a:f4:ff:ff", []),
    ]);
    const i = planPod(vm([iface("default", bridge)], [podNet()]), { config: config(), pod: facts }).interfaces[0];
    const uplink = i?.links[1];
    assert.equal(uplink?.ifindex, 3);
    assert.equal(uplink?.renameFrom, undefined);
    assert.equal(i?.guest.mac, MAC);
    assert.equal(i?.dhcpv4?.client.ip, "10.244.1.5");
  });
  it("orders dual-stack pod IPs by the family of MY_POD_IP", () => {
    const dual = [link("eth0", 3, MAC, ["10.244.1.5/24", "fd00::5/64"])];
    const ips = (podIP?: string) =>
      planPod(vm([iface("default", masq)], [podNet()]), {
        config: config(),
        pod: { ...pod(dual), ...(podIP ? { podIP } : {}) },
      }).interfaces[0]?.podIPs;
    assert.deepEqual(ips("fd00::5"), ["fd00::5", "10.244.1.5"]);
    assert.deepEqual(ips("10.244.1.5"), ["10.244.1.5", "fd00::5"]);
    assert.deepEqual(ips(), ["10.244.1.5", "fd00::5"]);
  });
});
