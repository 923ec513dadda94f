import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type CniPluginConfig,
  decodeNad,
  JsonSyntaxError,
  parseCniConfig,
  parseJsonStrict,
} from "../../src/api/nad.ts";
import { parseDocuments } from "../../src/api/source.ts";

const load = (yaml: string) => {
  const [doc] = parseDocuments(yaml, "nad.yaml");
  return decodeNad(doc?.value);
};

// Every NAD of the seeds (KubeVirt interfaces & networks, the macvtap plugin, Virtink networking), as written there.
const seedCases: {
  name: string;
  yaml: string;
  nad: { name: string; resourceName?: string; cniVersion?: string; configName?: string };
  plugins: Omit<CniPluginConfig, "raw">[];
}[] = [
  {
    name: "bridge-test",
    yaml: `apiVersion: "k8s.cni.cncf.io/v1"
kind: NetworkAttachmentDefinition
metadata:
  name: bridge-test
spec:
  config: '{
      "cniVersion": "0.3.1",
      "name": "bridge-test",
      "type": "bridge",
      "bridge": "br1",
      "disableContainerInterface": true
    }'
`,
    nad: { name: "bridge-test", cniVersion: "0.3.1", configName: "bridge-test" },
    plugins: [{ type: "bridge", bridge: "br1", disableContainerInterface: true }],
  },
  {
    name: "bridge-test with IPAM",
    yaml: `apiVersion: "k8s.cni.cncf.io/v1"
kind: NetworkAttachmentDefinition
metadata:
  name: bridge-test
spec:
  config: '{
      "cniVersion": "0.3.1",
      "name": "bridge-test",
      "type": "bridge",
      "bridge": "br1",
      "ipam": {
        "type": "host-local",
        "subnet": "10.250.250.0/24"
      }
    }'
`,
    nad: { name: "bridge-test", cniVersion: "0.3.1", configName: "bridge-test" },
    plugins: [
      {
        type: "bridge",
        bridge: "br1",
        ipam: { type: "host-local", subnet: "10.250.250.0/24", raw: { type: "host-local", subnet: "10.250.250.0/24" } },
      },
    ],
  },
  {
    name: "ptp-mac (a plugins list)",
    yaml: `apiVersion: "k8s.cni.cncf.io/v1"
kind: NetworkAttachmentDefinition
metadata:
  name: ptp-mac
spec:
  config: '{
      "cniVersion": "0.3.1",
      "name": "ptp-mac",
      "plugins": [
        {
          "type": "ptp",
          "ipam": {
            "type": "host-local",
            "subnet": "10.1.1.0/24"
          }
        },
        {
          "type": "tuning"
        }
      ]
    }'
`,
    nad: { name: "ptp-mac", cniVersion: "0.3.1", configName: "ptp-mac" },
    plugins: [
      {
        type: "ptp",
        ipam: { type: "host-local", subnet: "10.1.1.0/24", raw: { type: "host-local", subnet: "10.1.1.0/24" } },
      },
      { type: "tuning" },
    ],
  },
  {
    name: "br-spoof-check (macspoofchk)",
    yaml: `apiVersion: "k8s.cni.cncf.io/v1"
kind: NetworkAttachmentDefinition
metadata:
  name: br-spoof-check
spec:
  config: '{
            "cniVersion": "0.3.1",
            "name": "br-spoof-check",
            "type": "bridge",
            "bridge": "br10",
            "disableContainerInterface": true,
            "macspoofchk": true
        }'
`,
    nad: { name: "br-spoof-check", cniVersion: "0.3.1", configName: "br-spoof-check" },
    plugins: [{ type: "bridge", bridge: "br10", disableContainerInterface: true, macspoofchk: true }],
  },
  {
    name: "macvtapnetwork (resourceName, mtu)",
    yaml: `---
kind: NetworkAttachmentDefinition
apiVersion: k8s.cni.cncf.io/v1
metadata:
  name: macvtapnetwork
  annotations:
    k8s.v1.cni.cncf.io/resourceName: macvtap.network.kubevirt.io/eth0
spec:
  config: '{
      "cniVersion": "0.3.1",
      "name": "macvtapnetwork",
      "type": "macvtap",
      "mtu": 1500
    }'
`,
    nad: {
      name: "macvtapnetwork",
      resourceName: "macvtap.network.kubevirt.io/eth0",
      cniVersion: "0.3.1",
      configName: "macvtapnetwork",
    },
    plugins: [{ type: "macvtap", mtu: 1500 }],
  },
  {
    name: "ovs-vlan-100 (vlan, no name)",
    yaml: `apiVersion: "k8s.cni.cncf.io/v1"
kind: NetworkAttachmentDefinition
metadata:
  name: ovs-vlan-100
spec:
  config: '{
      "cniVersion": "0.3.1",
      "type": "ovs",
      "bridge": "br1",
      "vlan": 100
    }'
`,
    nad: { name: "ovs-vlan-100", cniVersion: "0.3.1" },
    plugins: [{ type: "ovs", bridge: "br1", vlan: 100 }],
  },
  {
    name: "ovs-br1 (Virtink, block scalar)",
    yaml: `apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  name: ovs-br1
spec:
  config: |
    {
      "cniVersion": "0.3.1",
      "type": "ovs",
      "bridge": "br1"
    }
`,
    nad: { name: "ovs-br1", cniVersion: "0.3.1" },
    plugins: [{ type: "ovs", bridge: "br1" }],
  },
  {
    name: "mellanox-sriov-25g (Virtink sriov, resourceName)",
    yaml: `apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  name: mellanox-sriov-25g
  annotations:
    k8s.v1.cni.cncf.io/resourceName: intel.com/mellanox_SRIOV_25G
spec:
  config: |
    {
      "cniVersion": "0.3.1",
      "type": "sriov"
    }
`,
    nad: { name: "mellanox-sriov-25g", resourceName: "intel.com/mellanox_SRIOV_25G", cniVersion: "0.3.1" },
    plugins: [{ type: "sriov" }],
  },
];

describe("decodeNad on the seeds", () => {
  for (const c of seedCases) {
    it(`reads ${c.name}`, () => {
      const d = load(c.yaml);
      assert.deepEqual(d.causes, []);
      assert.equal(d.value.name, c.nad.name);
      assert.equal(d.value.resourceName, c.nad.resourceName);
      assert.equal(d.value.config?.cniVersion, c.nad.cniVersion);
      assert.equal(d.value.config?.name, c.nad.configName);
      const plugins = d.value.config?.plugins ?? [];
      assert.deepEqual(
        plugins.map(({ raw: _raw, ...typed }) => typed),
        c.plugins,
      );
      for (const p of plugins) assert.equal(p.raw.type, p.type);
    });
  }
  it("keeps unknown plugin fields in raw", () => {
    const d = load(`apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata: {name: n, namespace: ns}
spec:
  config: '{"cniVersion":"1.0.0","type":"bridge","isGateway":true,"ipMasq":false,"hairpinMode":true,
    "ipam":{"type":"static","addresses":[{"address":"10.10.0.1/24"}],"routes":[{"dst":"0.0.0.0/0"}]}}'
`);
    assert.deepEqual(d.causes, []);
    const p = d.value.config?.plugins[0];
    assert.equal(d.value.namespace, "ns");
    assert.equal(p?.isGateway, true);
    assert.equal(p?.ipMasq, false);
    assert.equal(p?.raw.hairpinMode, true);
    assert.equal(p?.ipam?.type, "static");
    assert.equal(p?.ipam?.subnet, undefined);
    assert.deepEqual(p?.ipam?.raw.routes, [{ dst: "0.0.0.0/0" }]);
  });
  it("has no config when spec.config is absent", () => {
    const d = decodeNad({
      apiVersion: "k8s.cni.cncf.io/v1",
      kind: "NetworkAttachmentDefinition",
      metadata: { name: "x" },
    });
    assert.deepEqual(d.causes, []);
    assert.equal(d.value.config, undefined);
  });
});

const errorCases: { name: string; config: string; type: string; message: string }[] = [
  {
    name: "a trailing comma",
    config: '{\n  "type": "bridge",\n}',
    type: "FieldValueInvalid",
    message: 'Invalid JSON in spec.config: unexpected character "}", expected a string at line 3, column 1',
  },
  {
    name: "a truncated text",
    config: '{"type": "bridge"',
    type: "FieldValueInvalid",
    message: 'Invalid JSON in spec.config: unexpected end of input, expected "," or "}" at line 1, column 18',
  },
  {
    name: "single quotes",
    config: "{'type': 'bridge'}",
    type: "FieldValueInvalid",
    message: `Invalid JSON in spec.config: unexpected character "'", expected a string at line 1, column 2`,
  },
  {
    name: "a missing type",
    config: '{"cniVersion": "0.3.1", "name": "x"}',
    type: "FieldValueRequired",
    message: "Invalid CNI configuration: type is required",
  },
  {
    name: "a plugin in a list without type",
    config: '{"cniVersion": "0.3.1", "plugins": [{"type": "ptp"}, {"capabilities": {}}]}',
    type: "FieldValueRequired",
    message: "Invalid CNI configuration: plugins[1].type is required",
  },
  {
    name: "a string mtu",
    config: '{"type": "macvtap", "mtu": "1500"}',
    type: "FieldValueInvalid",
    message: "Invalid CNI configuration: mtu must be of type integer, not string",
  },
  {
    name: "a JSON array",
    config: "[]",
    type: "FieldValueInvalid",
    message: "Invalid CNI configuration: must be a JSON object, not array",
  },
  {
    name: "an empty plugins list",
    config: '{"plugins": []}',
    type: "FieldValueRequired",
    message: "Invalid CNI configuration: plugins must not be empty",
  },
];

describe("parseCniConfig errors", () => {
  for (const c of errorCases) {
    it(`reports ${c.name} on spec.config`, () => {
      const d = decodeNad({
        apiVersion: "k8s.cni.cncf.io/v1",
        kind: "NetworkAttachmentDefinition",
        metadata: { name: "x" },
        spec: { config: c.config },
      });
      assert.deepEqual(
        d.causes.map(({ type, field, message }) => ({ type, field, message })),
        [{ type: c.type, field: "spec.config", message: c.message }],
      );
    });
  }
  it("reports a NAD without a name", () => {
    const d = decodeNad({ apiVersion: "k8s.cni.cncf.io/v1", kind: "NetworkAttachmentDefinition", spec: {} });
    assert.deepEqual(
      d.causes.map((c) => [c.field, c.type]),
      [["metadata.name", "FieldValueRequired"]],
    );
  });
  it("keeps the well-formed plugins of a list with a bad one", () => {
    const d = parseCniConfig('{"plugins": [{"type": "ptp"}, 5, {"type": "tuning"}]}');
    assert.deepEqual(
      d.value?.plugins.map((p) => p.type),
      ["ptp", "tuning"],
    );
    assert.equal(d.causes.length, 1);
  });
});

describe("parseJsonStrict", () => {
  const valid = ['{"a": [1, -2.5e3, true, false, null, "x\\u00e9\\n"]}', "  0 ", '"s"', "[]"];
  for (const text of valid) {
    it(`parses ${JSON.stringify(text)} as JSON.parse does`, () =>
      assert.deepEqual(parseJsonStrict(text), JSON.parse(text)));
  }
  const invalid: { text: string; line: number; column: number }[] = [
    { text: "01", line: 1, column: 2 },
    { text: '{"a":\n  tru}', line: 2, column: 3 },
    { text: '"\\x"', line: 1, column: 3 },
    { text: "", line: 1, column: 1 },
    { text: "[1,]", line: 1, column: 4 },
    { text: "1.", line: 1, column: 3 },
  ];
  for (const c of invalid) {
    it(`rejects ${JSON.stringify(c.text)} at ${c.line}:${c.column}`, () => {
      assert.throws(
        () => parseJsonStrict(c.text),
        (e: unknown) => e instanceof JsonSyntaxError && e.position.line === c.line && e.position.column === c.column,
      );
    });
  }
});
