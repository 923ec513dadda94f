import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { applyKubeVirtDefaults } from "../../../src/admission/kubevirt/index.ts";
import type { KvVmiSpec } from "../../../src/api/kubevirt-types.ts";
import { cfg, podMasquerade } from "./helpers.ts";

const POD = [{ name: "default", pod: {} }];

describe("applyKubeVirtDefaults (§2)", () => {
  const cases: { name: string; spec: KvVmiSpec; config: ReturnType<typeof cfg>; want: unknown }[] = [
    {
      name: "autoattachPodInterface false: nothing added",
      spec: { domain: { devices: { autoattachPodInterface: false } } },
      config: cfg(),
      want: { spec: { domain: { devices: { autoattachPodInterface: false } } } },
    },
    {
      name: "networks present: no partial completion",
      spec: { networks: [{ name: "x", pod: {} }] },
      config: cfg(),
      want: { spec: { networks: [{ name: "x", pod: {} }] } },
    },
    {
      name: "interfaces present: no partial completion",
      spec: { domain: { devices: { interfaces: [{ name: "x", bridge: {} }] } } },
      config: cfg(),
      want: { spec: { domain: { devices: { interfaces: [{ name: "x", bridge: {} }] } } } },
    },
    {
      name: "bridge default",
      spec: {},
      config: cfg(),
      want: { spec: { domain: { devices: { interfaces: [{ name: "default", bridge: {} }] } }, networks: POD } },
    },
    {
      name: "bridge default when bridge on pod network is not permitted",
      spec: {},
      config: cfg({ permitBridgeInterfaceOnPodNetwork: false }),
      want: { error: "bridge interface is not enabled in kubevirt-config" },
    },
    {
      name: "masquerade default, keeping other devices fields",
      spec: { domain: { devices: { autoattachPodInterface: true, disks: [] } } },
      config: cfg({ defaultNetworkInterface: "masquerade" }),
      want: {
        spec: {
          domain: {
            devices: { autoattachPodInterface: true, disks: [], interfaces: [{ name: "default", masquerade: {} }] },
          },
          networks: POD,
        },
      },
    },
    {
      name: "slirp default is refused upstream-style unless slirp is permitted",
      spec: {},
      config: cfg({ defaultNetworkInterface: "slirp" }),
      want: { error: "slirp interface is deprecated as of v1.3" },
    },
    {
      name: "slirp default with permitSlirpInterface (vmnet decision)",
      spec: {},
      config: cfg({ defaultNetworkInterface: "slirp", permitSlirpInterface: true }),
      want: { spec: { domain: { devices: { interfaces: [{ name: "default", slirp: {} }] } }, networks: POD } },
    },
    {
      name: "empty default binding: a network without interface",
      spec: {},
      config: cfg({ defaultNetworkInterface: "" }),
      want: { spec: { domain: { devices: {} }, networks: POD } },
    },
    {
      name: "empty lists count as absent",
      spec: { networks: [], domain: { devices: { interfaces: [] } } },
      config: cfg({ defaultNetworkInterface: "masquerade" }),
      want: { spec: { domain: { devices: { interfaces: [{ name: "default", masquerade: {} }] } }, networks: POD } },
    },
  ];
  for (const t of cases) it(t.name, () => assert.deepEqual(applyKubeVirtDefaults(t.spec, t.config), t.want));

  it("never mutates its input", () => {
    const input: KvVmiSpec = { domain: { devices: {} } };
    const frozen = JSON.stringify(input);
    const out = applyKubeVirtDefaults(input, cfg());
    assert.equal(JSON.stringify(input), frozen);
    assert.ok("spec" in out && out.spec !== input);
  });

  it("returns a copy even when nothing is added", () => {
    const input = podMasquerade();
    const out = applyKubeVirtDefaults(input, cfg());
    assert.ok("spec" in out);
    assert.notEqual(out.spec, input);
    assert.deepEqual(out.spec, input);
  });
});
