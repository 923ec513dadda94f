import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { VmNetworkModel } from "../../src/api/model.ts";
import {
  hashedPodInterfaceName,
  InterfaceName,
  isOrdinalName,
  kubevirtBridgeName,
  kubevirtNicName,
  kubevirtPodInterfaceNames,
  kubevirtTapName,
  ordinalPodInterfaceName,
  virtinkBridgeName,
  virtinkLinkName,
  virtinkNicName,
  virtinkTapName,
} from "../../src/plan/namescheme.ts";

function model(networks: VmNetworkModel["networks"]): VmNetworkModel {
  return {
    dialect: "kubevirt",
    name: "vm",
    namespace: "ns",
    interfaces: [],
    networks,
    multiqueue: false,
    vcpus: 1,
    useVirtioTransitional: false,
  };
}

const pod = { kind: "pod" } as const;
const multus = (networkName: string) => ({ kind: "multus", networkName, default: false }) as const;

describe("hashedPodInterfaceName", () => {
  const vectors: [string, string][] = [
    ["blue", "pod16477688c0e"],
    ["red", "podb1f51a511f1"],
    ["network1", "poda7662f44d65"],
    ["network2", "pod27f4a77f94e"],
  ];
  for (const [net, want] of vectors) {
    it(`hashes "${net}" to KubeVirt's "${want}"`, () => {
      assert.equal(hashedPodInterfaceName(net).value, want);
    });
  }
});

describe("InterfaceName.of", () => {
  const valid = ["eth0", "k6t-16477688c0e", "16477688c0e-nic", "a", "x".repeat(15)];
  for (const n of valid) it(`accepts "${n}"`, () => assert.equal(InterfaceName.of(n).value, n));
  const invalid = ["", "x".repeat(16), "é".repeat(8), "a/b", "a b", "a\tb", ".", "..", "a:b"];
  for (const n of invalid) it(`rejects ${JSON.stringify(n)}`, () => assert.throws(() => InterfaceName.of(n)));
  it("serialises to the plain name", () =>
    assert.equal(JSON.stringify({ n: InterfaceName.of("eth0") }), '{"n":"eth0"}'));
  it("isValid mirrors of", () => {
    assert.equal(InterfaceName.isValid("eth0"), true);
    assert.equal(InterfaceName.isValid("a/b"), false);
  });
});

describe("KubeVirt derived names", () => {
  const cases: { pod: string; primary: boolean; bridge: string; nic: string; tap: string }[] = [
    { pod: "eth0", primary: true, bridge: "k6t-eth0", nic: "eth0-nic", tap: "tap0" },
    { pod: "pod16477688c0e", primary: false, bridge: "k6t-16477688c0e", nic: "16477688c0e-nic", tap: "tap16477688c0e" },
    { pod: "net1", primary: false, bridge: "k6t-net1", nic: "net1-nic", tap: "tap1" },
  ];
  for (const c of cases) {
    it(`names the devices of pod interface "${c.pod}"`, () => {
      const p = InterfaceName.of(c.pod);
      assert.equal(kubevirtBridgeName(p).value, c.bridge);
      assert.equal(kubevirtNicName(p).value, c.nic);
      assert.equal(kubevirtTapName(p, c.primary).value, c.tap);
    });
  }
});

describe("isOrdinalName and ordinalPodInterfaceName", () => {
  it("recognises net<N> only", () => {
    assert.deepEqual(["net1", "net12", "eth0", "netx", "pod1234"].map(isOrdinalName), [
      true,
      true,
      false,
      false,
      false,
    ]);
  });
  it("builds net<N> and rejects N < 1", () => {
    assert.equal(ordinalPodInterfaceName(2).value, "net2");
    assert.throws(() => ordinalPodInterfaceName(0), RangeError);
  });
});

describe("kubevirtPodInterfaceNames", () => {
  const m = model([
    { name: "default", source: pod },
    { name: "blue", source: multus("nad-blue") },
    { name: "red", source: multus("nad-red") },
  ]);
  it("uses eth0 and hashed names for new pods", () => {
    const names = kubevirtPodInterfaceNames(m, { existingLinks: ["lo", "eth0", "pod16477688c0e"] });
    assert.deepEqual(
      [...names].map(([k, v]) => [k, v.value]),
      [
        ["default", "eth0"],
        ["blue", "pod16477688c0e"],
        ["red", "podb1f51a511f1"],
      ],
    );
  });
  it("uses ordinal names when the pod already has an ordinal link", () => {
    const names = kubevirtPodInterfaceNames(m, { existingLinks: ["eth0", "net1", "net2"] });
    assert.deepEqual(
      [...names.values()].map((v) => v.value),
      ["eth0", "net1", "net2"],
    );
  });
  it("prefers a podInterfaceName from status", () => {
    const names = kubevirtPodInterfaceNames(m, { overrides: { default: "ovn0" } });
    assert.equal(names.get("default")?.value, "ovn0");
  });
  it("treats a default Multus network as primary", () => {
    const names = kubevirtPodInterfaceNames(
      model([
        { name: "blue", source: { kind: "multus", networkName: "b", default: true } },
        { name: "red", source: multus("r") },
      ]),
      { existingLinks: ["net1"] },
    );
    assert.deepEqual(
      [...names.values()].map((v) => v.value),
      ["eth0", "net1"],
    );
  });
});

describe("Virtink names", () => {
  const m = {
    ...model([
      { name: "a", source: multus("x") },
      { name: "p", source: pod },
      { name: "b", source: multus("y") },
    ]),
    dialect: "virtink",
  } as const;
  it("names links eth0 and net<index in spec.networks>", () => {
    assert.deepEqual(
      m.networks.map((n) => virtinkLinkName(m, n).value),
      ["net0", "eth0", "net2"],
    );
  });
  it("derives br-, tap- and -nic names from the link", () => {
    const l = InterfaceName.of("net1");
    assert.deepEqual(
      [virtinkBridgeName(l).value, virtinkTapName(l).value, virtinkNicName(l).value],
      ["br-net1", "tap-net1", "net1-nic"],
    );
  });
});
