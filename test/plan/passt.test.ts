import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { InterfaceSpec, VmNetworkModel } from "../../src/api/model.ts";
import { PlanError } from "../../src/plan/errors.ts";
import { passtPorts } from "../../src/plan/passt.ts";
import type { PlanPodOptions } from "../../src/plan/plan.ts";
import { planPod } from "../../src/plan/plan.ts";
import { config, iface, link, multusNet, pod, podNet, vm } from "./fixtures.ts";

const MAC = "0a:58:0a:f4:01:05";
const eth0 = link("eth0", 3, MAC, ["10.244.1.5/24"]);
const passtBinding = { kind: "passtBinding" } as const;
const tcp = (port: number) => ({ protocol: "TCP", port }) as const;
const udp = (port: number) => ({ protocol: "UDP", port }) as const;

describe("passtPorts", () => {
  const cases: { name: string; ports: InterfaceSpec["ports"]; istio?: boolean; want: { tcp: string; udp: string } }[] =
    [
      { name: "no ports forwards everything", ports: [], want: { tcp: "all", udp: "all" } },
      { name: "TCP only leaves UDP closed", ports: [tcp(22), tcp(80)], want: { tcp: "22,80", udp: "none" } },
      { name: "UDP only leaves TCP closed", ports: [udp(53)], want: { tcp: "none", udp: "53" } },
      { name: "duplicates are dropped", ports: [tcp(80), udp(80), tcp(80)], want: { tcp: "80", udp: "80" } },
      {
        name: "Istio with no ports is all TCP but Istio's, no UDP",
        ports: [],
        istio: true,
        want: {
          tcp: "~15000,~15001,~15004,~15006,~15008,~15009,~15020,~15021,~15053,~15090",
          udp: "none",
        },
      },
      {
        name: "Istio exclusions follow the listed ports",
        ports: [tcp(8080), udp(5353)],
        istio: true,
        want: {
          tcp: "8080,~15000,~15001,~15004,~15006,~15008,~15009,~15020,~15021,~15053,~15090",
          udp: "5353",
        },
      },
    ];
  for (const c of cases) {
    it(`passtPorts: ${c.name}`, () => {
      const spec = { name: "default", binding: passtBinding, model: "virtio", ports: c.ports } as const;
      assert.deepEqual(passtPorts({ ...spec, portRanges: [], state: "up" }, { istio: c.istio ?? false }), c.want);
    });
  }
});

describe("planPod passt", () => {
  it("planPod passt: the guest NIC is a stream backend on the process socket and status gets the pod IPs", () => {
    const plan = planPod(vm([iface("default", passtBinding)], [podNet()]), { config: config(), pod: pod([eth0]) });
    const p = plan.interfaces[0];
    assert.ok(p?.process);
    assert.deepEqual(p.guest.backend, { kind: "stream", socketPath: p.process.socketPath });
    assert.deepEqual(p.podIPs, ["10.244.1.5"]);
    assert.deepEqual(p.links, []);
    assert.equal(p.guest.mtu, undefined);
  });

  it("planPod passt: multiqueue does not apply to the single-queue stream backend", () => {
    const model = vm([iface("default", passtBinding)], [podNet()], { multiqueue: true, vcpus: 4 });
    const g = planPod(model, { config: config(), pod: pod([eth0]) }).interfaces[0]?.guest;
    assert.equal(g?.queues, undefined);
    assert.equal(g?.queueCount, 1);
  });

  it("planPod passt: a spec MAC is used as is and not marked generated", () => {
    const model = vm([iface("default", passtBinding, { macAddress: "02:11:22:33:44:55" })], [podNet()]);
    const g = planPod(model, { config: config(), pod: pod([eth0]) }).interfaces[0]?.guest;
    assert.equal(g?.mac, "02:11:22:33:44:55");
    assert.equal(g?.macGenerated, undefined);
  });

  it("planPod passt: generated MACs are stable across runs and differ between VMs", () => {
    const opts = { config: config(), pod: pod([eth0]) };
    const a = planPod(vm([iface("default", passtBinding)], [podNet()]), opts).interfaces[0]?.guest.mac;
    const b = planPod(vm([iface("default", passtBinding)], [podNet()]), opts).interfaces[0]?.guest.mac;
    const c = planPod(vm([iface("default", passtBinding)], [podNet()], { name: "other" }), opts).interfaces[0]?.guest
      .mac;
    assert.equal(a, b);
    assert.notEqual(a, c);
  });

  const openFiles: { name: string; ports: InterfaceSpec["ports"]; istio: boolean; want: number | undefined }[] = [
    { name: "no ports (binds every port)", ports: [], istio: false, want: 262_144 },
    { name: "Istio exclusions only (every port but those)", ports: [], istio: true, want: 262_144 },
    { name: "listed ports", ports: [tcp(80)], istio: false, want: undefined },
    { name: "listed ports with Istio exclusions", ports: [tcp(80)], istio: true, want: undefined },
  ];
  for (const c of openFiles) {
    it(`planPod passt: asks for ${c.want ?? "no extra"} open files with ${c.name}`, () => {
      const model = vm([iface("default", passtBinding, { ports: c.ports })], [podNet()]);
      const p = planPod(model, { config: config(), pod: pod([eth0]), istio: c.istio });
      assert.equal(p.interfaces[0]?.process?.openFiles, c.want);
    });
  }

  it("planPod passt: DNS servers and search list come from the pod's resolv.conf", () => {
    const resolv = "search a.example b.example\nnameserver 10.0.0.10\nnameserver fd00::10\n";
    const p = planPod(vm([iface("default", passtBinding)], [podNet()]), {
      config: config(),
      pod: pod([eth0], [], resolv),
    });
    const args = p.interfaces[0]?.process?.args ?? [];
    const at = args.indexOf("--dns");
    assert.deepEqual(args.slice(at, at + 6), [
      "--dns",
      "10.0.0.10",
      "--dns",
      "fd00::10",
      "--search",
      "a.example b.example",
    ]);
  });

  const errors: { name: string; model: VmNetworkModel; options: PlanPodOptions; message: string; code: string }[] = [
    {
      name: "core passt without the Passt gate",
      model: vm([iface("default", { kind: "passt" })], [podNet()]),
      options: { config: config(), pod: pod([eth0]) },
      code: "feature_gate_disabled",
      message: "Passt feature gate is not enabled",
    },
    {
      name: "passtBinding with the PasstBinding gate disabled",
      model: vm([iface("default", passtBinding)], [podNet()]),
      options: { config: { ...config(), disabledFeatureGates: ["PasstBinding"] }, pod: pod([eth0]) },
      code: "feature_gate_disabled",
      message: "PasstBinding feature gate is not enabled",
    },
    {
      name: "core passt on a Multus network",
      model: vm([iface("blue", { kind: "passt" })], [multusNet("blue", "nad")]),
      options: { config: config(["Passt"]), pod: pod([eth0, link("pod16477688c0e", 4, MAC, [])]) },
      code: "network_kind_unsupported",
      message: "Passt interface only implemented with pod network",
    },
    {
      name: "passtBinding on a Multus network",
      model: vm([iface("blue", passtBinding)], [multusNet("blue", "nad")]),
      options: { config: config(), pod: pod([eth0, link("pod16477688c0e", 4, MAC, [])]) },
      code: "network_kind_unsupported",
      message: "PasstBinding interface only implemented with pod network",
    },
    {
      name: "no pod link",
      model: vm([iface("default", passtBinding)], [podNet()]),
      options: { config: config(), pod: pod([]) },
      code: "pod_link_missing",
      message: "pod link (eth0) is missing",
    },
    {
      name: "a socket path over sun_path",
      model: vm([iface("default", passtBinding)], [podNet()]),
      options: { config: config(), pod: pod([eth0]), runDir: `/run/${"x".repeat(90)}` },
      code: "socket_path_too_long",
      message: `Cannot use passt socket path "/run/${"x".repeat(90)}/passt-eth0.socket": it must be at most 107 bytes`,
    },
  ];
  for (const c of errors) {
    it(`planPod passt: refuses ${c.name}`, () => {
      assert.throws(
        () => planPod(c.model, c.options),
        (e: unknown) => e instanceof PlanError && e.code === c.code && e.message === c.message,
      );
    });
  }
});
