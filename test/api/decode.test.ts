import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeWith, jsonTypeOf, s } from "../../src/api/decode.ts";
import { decodeKubeVirtVm, decodeKubeVirtVmi, sanitizeCidr, sanitizeIp } from "../../src/api/kubevirt.ts";
import { decodeVirtinkVm } from "../../src/api/virtink.ts";

type Expected = { type: string; field: string; message: string };
const vm = (vmiSpec: unknown) => ({
  apiVersion: "kubevirt.io/v1",
  kind: "VirtualMachine",
  metadata: { name: "vm" },
  spec: { template: { spec: vmiSpec } },
});
const iface = (extra: Record<string, unknown>) =>
  vm({ domain: { devices: { interfaces: [{ name: "a", ...extra }] } } });
const T = "spec.template.spec";
const IF0 = `${T}.domain.devices.interfaces[0]`;

const kubevirtVmCases: { name: string; in: unknown; causes: Expected[] }[] = [
  { name: "a well-typed VM", in: iface({ masquerade: {}, ports: [{ port: 80, protocol: "TCP" }] }), causes: [] },
  {
    name: "a string port",
    in: iface({ ports: [{ port: "80" }] }),
    causes: [
      {
        type: "FieldValueInvalid",
        field: `${IF0}.ports[0].port`,
        message: `Invalid value: "string": ${IF0}.ports[0].port in body must be of type integer`,
      },
    ],
  },
  {
    name: "a fractional port",
    in: iface({ ports: [{ port: 80.5 }] }),
    causes: [
      {
        type: "FieldValueInvalid",
        field: `${IF0}.ports[0].port`,
        message: `Invalid value: "number": ${IF0}.ports[0].port in body must be of type integer`,
      },
    ],
  },
  {
    name: "a numeric interface name",
    in: iface({ name: 7 }),
    causes: [
      {
        type: "FieldValueInvalid",
        field: `${IF0}.name`,
        message: `Invalid value: "integer": ${IF0}.name in body must be of type string`,
      },
    ],
  },
  {
    name: "a binding method given as a string",
    in: iface({ bridge: "yes" }),
    causes: [
      {
        type: "FieldValueInvalid",
        field: `${IF0}.bridge`,
        message: `Invalid value: "string": ${IF0}.bridge in body must be of type object`,
      },
    ],
  },
  {
    name: "a binding method left null (YAML `bridge:`)",
    in: iface({ bridge: null }),
    causes: [
      {
        type: "FieldValueInvalid",
        field: `${IF0}.bridge`,
        message: `Invalid value: "null": ${IF0}.bridge in body must be of type object`,
      },
    ],
  },
  {
    name: "ports given as an object",
    in: iface({ ports: { port: 80 } }),
    causes: [
      {
        type: "FieldValueInvalid",
        field: `${IF0}.ports`,
        message: `Invalid value: "object": ${IF0}.ports in body must be of type array`,
      },
    ],
  },
  {
    name: "a string multus default",
    in: vm({ networks: [{ name: "n", multus: { networkName: "x", default: "true" } }] }),
    causes: [
      {
        type: "FieldValueInvalid",
        field: `${T}.networks[0].multus.default`,
        message: `Invalid value: "string": ${T}.networks[0].multus.default in body must be of type boolean`,
      },
    ],
  },
  {
    name: "an integer NTP server",
    in: iface({ dhcpOptions: { ntpServers: [1] } }),
    causes: [
      {
        type: "FieldValueInvalid",
        field: `${IF0}.dhcpOptions.ntpServers[0]`,
        message: `Invalid value: "integer": ${IF0}.dhcpOptions.ntpServers[0] in body must be of type string`,
      },
    ],
  },
  {
    name: "a string private option code",
    in: iface({ dhcpOptions: { privateOptions: [{ option: "240", value: "x" }] } }),
    causes: [
      {
        type: "FieldValueInvalid",
        field: `${IF0}.dhcpOptions.privateOptions[0].option`,
        message: `Invalid value: "string": ${IF0}.dhcpOptions.privateOptions[0].option in body must be of type integer`,
      },
    ],
  },
  {
    name: "a string multiqueue flag",
    in: vm({ domain: { devices: { networkInterfaceMultiqueue: "yes" } } }),
    causes: [
      {
        type: "FieldValueInvalid",
        field: `${T}.domain.devices.networkInterfaceMultiqueue`,
        message: `Invalid value: "string": ${T}.domain.devices.networkInterfaceMultiqueue in body must be of type boolean`,
      },
    ],
  },
  {
    name: "an annotation with a boolean value",
    in: { apiVersion: "kubevirt.io/v1", kind: "VirtualMachine", metadata: { annotations: { "a/b": true } } },
    causes: [
      {
        type: "FieldValueInvalid",
        field: "metadata.annotations[a/b]",
        message: `Invalid value: "boolean": metadata.annotations[a/b] in body must be of type string`,
      },
    ],
  },
  {
    name: "257 networks",
    in: vm({ networks: Array.from({ length: 257 }, (_, i) => ({ name: `n${i}`, pod: {} })) }),
    causes: [
      { type: "FieldValueInvalid", field: `${T}.networks`, message: "Too many: 257: must have at most 256 items" },
    ],
  },
  {
    name: "257 interfaces",
    in: vm({ domain: { devices: { interfaces: Array.from({ length: 257 }, (_, i) => ({ name: `n${i}` })) } } }),
    causes: [
      {
        type: "FieldValueInvalid",
        field: `${T}.domain.devices.interfaces`,
        message: "Too many: 257: must have at most 256 items",
      },
    ],
  },
  {
    name: "a whole VM that is not an object",
    in: ["not", "a", "vm"],
    causes: [{ type: "FieldValueInvalid", field: "", message: `Invalid value: "array": body must be of type object` }],
  },
];

describe("decodeKubeVirtVm", () => {
  for (const c of kubevirtVmCases) {
    it(`reports ${c.name}`, () => {
      const got = decodeKubeVirtVm(c.in).causes.map(({ type, field, message }) => ({ type, field, message }));
      assert.deepEqual(got, c.causes);
    });
  }
  it("drops wrong-typed fields and keeps unknown ones", () => {
    const d = decodeKubeVirtVm(iface({ ports: [{ port: "80", name: "http" }], futureField: { x: 1 } }));
    const i0 = d.value.spec?.template?.spec?.domain?.devices?.interfaces?.[0];
    assert.deepEqual(i0, { name: "a", ports: [{ name: "http" }], futureField: { x: 1 } });
  });
  it("drops wrong-typed list items", () => {
    const d = decodeKubeVirtVm(iface({ dhcpOptions: { ntpServers: ["1.2.3.4", 5] } }));
    assert.deepEqual(d.value.spec?.template?.spec?.domain?.devices?.interfaces?.[0]?.dhcpOptions?.ntpServers, [
      "1.2.3.4",
    ]);
  });
  it("does not change its input", () => {
    const input = iface({ ports: [{ port: "80" }], dhcpOptions: { ntpServers: ["010.0.0.1"] } });
    const before = JSON.stringify(input);
    decodeKubeVirtVm(input);
    assert.equal(JSON.stringify(input), before);
  });
});

describe("decodeKubeVirtVmi", () => {
  it("reports paths under spec", () => {
    const d = decodeKubeVirtVmi({
      apiVersion: "kubevirt.io/v1",
      kind: "VirtualMachineInstance",
      spec: { domain: { devices: { interfaces: [{ name: "a", acpiIndex: "1" }] } } },
    });
    assert.deepEqual(
      d.causes.map((c) => c.message),
      [`Invalid value: "string": spec.domain.devices.interfaces[0].acpiIndex in body must be of type integer`],
    );
  });
});

// KubeVirt's UnmarshalJSON normalisation (reference §1.2, §1.3).
const ntpCases: { in: string; out: string }[] = [
  { in: "010.000.001.002", out: "10.0.1.2" },
  { in: "10.0.1.2", out: "10.0.1.2" },
  { in: "::ffff:10.0.1.2", out: "10.0.1.2" },
  { in: "2001:DB8::1", out: "2001:db8::1" },
  { in: "ntp.example.com", out: "ntp.example.com" },
  { in: "256.1.1.1", out: "256.1.1.1" },
];
describe("ntpServers normalisation", () => {
  for (const c of ntpCases) {
    it(`turns ${c.in} into ${c.out}`, () => {
      const d = decodeKubeVirtVmi({
        apiVersion: "kubevirt.io/v1",
        kind: "VirtualMachineInstance",
        spec: { domain: { devices: { interfaces: [{ name: "a", dhcpOptions: { ntpServers: [c.in] } }] } } },
      });
      assert.deepEqual(d.value.spec?.domain?.devices?.interfaces?.[0]?.dhcpOptions?.ntpServers, [c.out]);
      assert.equal(sanitizeIp(c.in) ?? c.in, c.out);
    });
  }
});

const cidrCases: { in: string; out: string }[] = [
  { in: "10.0.2.0/24", out: "10.0.2.0/24" },
  { in: "010.000.002.001/024", out: "10.0.2.1/24" },
  { in: "10.0.2.7/24", out: "10.0.2.7/24" },
  { in: "not-a-cidr", out: "not-a-cidr" },
  { in: "10.0.2.0/33", out: "10.0.2.0/33" },
];
describe("vmNetworkCIDR normalisation", () => {
  for (const c of cidrCases) {
    it(`turns ${c.in} into ${c.out}`, () => {
      const d = decodeKubeVirtVm(vm({ networks: [{ name: "default", pod: { vmNetworkCIDR: c.in } }] }));
      assert.equal(d.value.spec?.template?.spec?.networks?.[0]?.pod?.vmNetworkCIDR, c.out);
      assert.equal(sanitizeCidr(c.in) ?? c.in, c.out);
    });
  }
  it("leaves vmIPv6NetworkCIDR as written", () => {
    const d = decodeKubeVirtVm(vm({ networks: [{ name: "default", pod: { vmIPv6NetworkCIDR: "FD10:0:2::/120" } }] }));
    assert.equal(d.value.spec?.template?.spec?.networks?.[0]?.pod?.vmIPv6NetworkCIDR, "FD10:0:2::/120");
  });
});

const vk = (spec: unknown) => ({ apiVersion: "virt.virtink.smartx.com/v1alpha1", kind: "VirtualMachine", spec });
const virtinkCases: { name: string; in: unknown; causes: Expected[] }[] = [
  {
    name: "a well-typed VM",
    in: vk({
      instance: { interfaces: [{ name: "pod", vdpa: { numQueues: 2, iommu: true } }] },
      networks: [{ name: "pod", pod: {} }],
    }),
    causes: [],
  },
  {
    name: "an interface without a name key",
    in: vk({ instance: { interfaces: [{ bridge: {} }] } }),
    causes: [{ type: "FieldValueRequired", field: "spec.instance.interfaces[0].name", message: "Required value" }],
  },
  {
    name: "a network without a name key",
    in: vk({ networks: [{ pod: {} }] }),
    causes: [{ type: "FieldValueRequired", field: "spec.networks[0].name", message: "Required value" }],
  },
  {
    name: "multus without networkName",
    in: vk({ networks: [{ name: "m", multus: {} }] }),
    causes: [{ type: "FieldValueRequired", field: "spec.networks[0].multus.networkName", message: "Required value" }],
  },
  {
    name: "an empty name, which the schema allows",
    in: vk({ networks: [{ name: "", multus: { networkName: "" } }] }),
    causes: [],
  },
  {
    name: "a string vdpa.numQueues",
    in: vk({ instance: { interfaces: [{ name: "v", vdpa: { numQueues: "4" } }] } }),
    causes: [
      {
        type: "FieldValueInvalid",
        field: "spec.instance.interfaces[0].vdpa.numQueues",
        message: `Invalid value: "string": spec.instance.interfaces[0].vdpa.numQueues in body must be of type integer`,
      },
    ],
  },
  {
    name: "an integer mac",
    in: vk({ instance: { interfaces: [{ name: "v", mac: 5 }] } }),
    causes: [
      {
        type: "FieldValueInvalid",
        field: "spec.instance.interfaces[0].mac",
        message: `Invalid value: "integer": spec.instance.interfaces[0].mac in body must be of type string`,
      },
    ],
  },
  {
    name: "a string coresPerSocket",
    in: vk({ instance: { cpu: { coresPerSocket: "2" } } }),
    causes: [
      {
        type: "FieldValueInvalid",
        field: "spec.instance.cpu.coresPerSocket",
        message: `Invalid value: "string": spec.instance.cpu.coresPerSocket in body must be of type integer`,
      },
    ],
  },
];

describe("decodeVirtinkVm", () => {
  for (const c of virtinkCases) {
    it(`reports ${c.name}`, () => {
      const got = decodeVirtinkVm(c.in).causes.map(({ type, field, message }) => ({ type, field, message }));
      assert.deepEqual(got, c.causes);
    });
  }
  it("keeps a memory size given as a number (int-or-string)", () => {
    const d = decodeVirtinkVm(vk({ instance: { memory: { size: 1073741824 } } }));
    assert.deepEqual(d.causes, []);
    assert.equal(d.value.spec?.instance?.memory?.size, 1073741824);
  });
});

describe("jsonTypeOf", () => {
  const cases: { in: unknown; out: string }[] = [
    { in: 1, out: "integer" },
    { in: 1.5, out: "number" },
    { in: "1", out: "string" },
    { in: null, out: "null" },
    { in: [], out: "array" },
    { in: {}, out: "object" },
    { in: false, out: "boolean" },
  ];
  for (const c of cases) it(`is ${c.out} for ${JSON.stringify(c.in)}`, () => assert.equal(jsonTypeOf(c.in), c.out));
  it("accepts an integer where a number is expected", () => {
    assert.deepEqual(decodeWith(3, s.number, { path: ["x"] }), { value: 3, causes: [] });
  });
  it("prefixes cause paths with the given path", () => {
    const d = decodeWith({ a: "1" }, s.object({ a: s.integer }), { path: ["spec", "x"] });
    assert.deepEqual(d.value, {});
    assert.deepEqual(
      d.causes.map((c) => c.message),
      ['Invalid value: "string": spec.x.a in body must be of type integer'],
    );
  });
});
