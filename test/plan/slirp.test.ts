import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { InterfaceSpec, NicModel } from "../../src/api/model.ts";
import { PlanError } from "../../src/plan/errors.ts";
import { planPod } from "../../src/plan/plan.ts";
import { slirpHostForwards, slirpModel } from "../../src/plan/slirp.ts";
import { config, iface, link, multusNet, pod, podNet, vm } from "./fixtures.ts";

const slirp = { kind: "slirp" } as const;
const permitted = { ...config(), permitSlirpInterface: true };
const eth0 = link("eth0", 3, "0a:58:0a:f4:01:05", ["10.244.1.5/24"]);

describe("slirpHostForwards", () => {
  const cases: { name: string; ports: InterfaceSpec["ports"]; want: ReturnType<typeof slirpHostForwards> }[] = [
    { name: "no ports forward nothing", ports: [], want: [] },
    {
      name: "protocols are lowercased, order kept",
      ports: [
        { protocol: "UDP", port: 53 },
        { protocol: "TCP", port: 22 },
      ],
      want: [
        { protocol: "udp", port: 53 },
        { protocol: "tcp", port: 22 },
      ],
    },
    {
      name: "the same port and protocol twice is forwarded once",
      ports: [
        { protocol: "TCP", port: 80, name: "http" },
        { protocol: "TCP", port: 80, name: "web" },
      ],
      want: [{ protocol: "tcp", port: 80 }],
    },
    {
      name: "the same port on both protocols is forwarded twice",
      ports: [
        { protocol: "TCP", port: 53 },
        { protocol: "UDP", port: 53 },
      ],
      want: [
        { protocol: "tcp", port: 53 },
        { protocol: "udp", port: 53 },
      ],
    },
  ];
  for (const c of cases) {
    it(`slirpHostForwards: ${c.name}`, () => {
      assert.deepEqual(slirpHostForwards(iface("default", slirp, { ports: c.ports })), c.want);
    });
  }
});

describe("slirpModel", () => {
  const cases: [NicModel, NicModel][] = [
    ["virtio", "e1000"],
    ["e1000", "e1000"],
    ["rtl8139", "rtl8139"],
    ["e1000e", "e1000"],
    ["igb", "e1000"],
    ["ne2k_pci", "e1000"],
    ["pcnet", "e1000"],
  ];
  for (const [asked, used] of cases) {
    it(`slirpModel: "${asked}" becomes "${used}"`, () => assert.equal(slirpModel(asked), used));
  }
});

describe("planPod slirp", () => {
  it("planPod slirp: nothing changes in the pod netns", () => {
    const p = planPod(vm([iface("default", slirp)], [podNet()]), { config: permitted, pod: pod([eth0]) });
    assert.deepEqual(p.sysctls, []);
    assert.deepEqual(p.interfaces[0]?.links, []);
    assert.deepEqual(p.nft, { tables: [] });
  });

  it("planPod slirp: works without a pod link, reporting no pod IPs", () => {
    const p = planPod(vm([iface("default", slirp)], [podNet()]), { config: permitted, pod: pod([]) });
    assert.deepEqual(p.interfaces[0]?.podIPs, []);
  });

  it("planPod slirp: the DNS search list is the pod's resolv.conf one", () => {
    const resolv = "search ns1.svc.example.org svc.example.org\nnameserver 10.0.0.10\n";
    const p = planPod(vm([iface("default", slirp)], [podNet()]), { config: permitted, pod: pod([eth0], [], resolv) });
    const backend = p.interfaces[0]?.guest.backend;
    assert.equal(backend?.kind, "user");
    assert.deepEqual(backend.kind === "user" ? backend.dnsSearch : [], ["ns1.svc.example.org", "svc.example.org"]);
  });

  const errors = [
    {
      name: "without permitSlirpInterface",
      model: vm([iface("default", slirp)], [podNet()]),
      cfg: config(),
      code: "feature_gate_disabled",
      message: "Slirp interface is not enabled in kubevirt-config",
    },
    {
      name: "on a Multus network",
      model: vm([iface("blue", slirp)], [multusNet("blue", "nad")]),
      cfg: permitted,
      code: "network_kind_unsupported",
      message: "Slirp interface only implemented with pod network",
    },
  ];
  for (const c of errors) {
    it(`planPod slirp: refuses ${c.name}`, () => {
      assert.throws(
        () => planPod(c.model, { config: c.cfg, pod: pod([eth0]) }),
        (e: unknown) => e instanceof PlanError && e.code === c.code && e.message === c.message,
      );
    });
  }
});
