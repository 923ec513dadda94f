import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { findNad, nadFactsFrom } from "../../../src/admission/vmnet/nad-facts.ts";
import { decodeNad } from "../../../src/api/nad.ts";

describe("nadFactsFrom", () => {
  const facts = (value: unknown) => {
    const d = decodeNad(value);
    assert.deepEqual(d.causes, []);
    return nadFactsFrom(d.value);
  };
  it("reads a single-plugin config with its MTU and the resourceName annotation (macvtap seed)", () => {
    assert.deepEqual(
      facts({
        apiVersion: "k8s.cni.cncf.io/v1",
        kind: "NetworkAttachmentDefinition",
        metadata: {
          name: "macvtapnetwork",
          annotations: { "k8s.v1.cni.cncf.io/resourceName": "macvtap.network.kubevirt.io/eth0" },
        },
        spec: { config: '{ "cniVersion": "0.3.1", "name": "macvtapnetwork", "type": "macvtap", "mtu": 1500 }' },
      }),
      {
        name: "macvtapnetwork",
        resourceName: "macvtap.network.kubevirt.io/eth0",
        plugins: [{ type: "macvtap", mtu: 1500 }],
      },
    );
  });
  it("reads a plugin chain in order (ptp-mac seed)", () => {
    assert.deepEqual(
      facts({
        apiVersion: "k8s.cni.cncf.io/v1",
        kind: "NetworkAttachmentDefinition",
        metadata: { name: "ptp-mac", namespace: "lab" },
        spec: {
          config:
            '{"cniVersion":"0.3.1","name":"ptp-mac","plugins":[{"type":"ptp","ipam":{"type":"host-local","subnet":"10.1.1.0/24"}},{"type":"tuning"}]}',
        },
      }),
      { name: "ptp-mac", namespace: "lab", plugins: [{ type: "ptp" }, { type: "tuning" }] },
    );
  });
  it("keeps a macvlan mode", () => {
    const f = facts({
      apiVersion: "k8s.cni.cncf.io/v1",
      kind: "NetworkAttachmentDefinition",
      metadata: { name: "m" },
      spec: { config: '{"type":"macvlan","mode":"passthru"}' },
    });
    assert.deepEqual(f.plugins, [{ type: "macvlan", mode: "passthru" }]);
  });
  it("gives no plugins without a config", () => {
    assert.deepEqual(
      facts({ apiVersion: "k8s.cni.cncf.io/v1", kind: "NetworkAttachmentDefinition", metadata: { name: "empty" } })
        .plugins,
      [],
    );
  });
});

describe("findNad", () => {
  const nads = [
    { name: "a", plugins: [] },
    { name: "b", namespace: "other", plugins: [] },
  ];
  const cases: readonly [string, string | undefined, string | undefined][] = [
    ["a", undefined, "a"],
    ["default/a", undefined, "a"],
    ["ns1/a", "ns1", "a"],
    ["ns1/a", undefined, undefined],
    ["b", undefined, undefined],
    ["other/b", undefined, "b"],
    ["b", "other", "b"],
  ];
  for (const [networkName, vmNs, want] of cases) {
    it(`resolves ${networkName} from namespace ${vmNs ?? "(default)"} to ${want ?? "nothing"}`, () => {
      assert.equal(findNad(nads, networkName, vmNs)?.name, want);
    });
  }
});
