import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Cause } from "../../../src/admission/cause.ts";
import { CauseType } from "../../../src/admission/cause.ts";
import { validateKubeVirtVmiSpec } from "../../../src/admission/kubevirt/index.ts";
import type { ClusterConfig } from "../../../src/api/cluster-config.ts";
import type { KvVmiSpec } from "../../../src/api/kubevirt-types.ts";
import { c, cfg, podMasquerade, spec } from "./helpers.ts";

const { Invalid, Required, Duplicate, NotSupported, NotFound } = CauseType;
const I0 = "spec.domain.devices.interfaces[0]";
const I1 = "spec.domain.devices.interfaces[1]";

interface Case {
  readonly name: string;
  readonly spec: KvVmiSpec;
  readonly config?: ClusterConfig;
  readonly want: Cause[];
}

function run(cases: readonly Case[]): void {
  for (const t of cases) {
    it(t.name, () => {
      assert.deepEqual(validateKubeVirtVmiSpec(t.spec, "spec", t.config ?? cfg()), t.want);
    });
  }
}

const multus = (name: string, networkName = "nad", dflt?: boolean) => ({
  name,
  multus: dflt === undefined ? { networkName } : { networkName, default: dflt },
});

describe("validateKubeVirtVmiSpec network sources (§3.2)", () => {
  run([
    { name: "one pod network is valid", spec: podMasquerade(), want: [] },
    {
      name: "two pod networks are reported on <root>.interfaces",
      spec: spec(
        [
          { name: "a", masquerade: {} },
          { name: "b", bridge: {} },
        ],
        [
          { name: "a", pod: {} },
          { name: "b", pod: {} },
        ],
      ),
      want: [
        c(Duplicate, "spec.interfaces", "more than one interface is connected to a pod network in spec.interfaces"),
      ],
    },
    {
      name: "two multus default networks",
      spec: spec(
        [
          { name: "a", bridge: {} },
          { name: "b", bridge: {} },
        ],
        [multus("a", "x", true), multus("b", "y", true)],
      ),
      want: [c(Invalid, "spec.networks", "Multus CNI should only have one default network")],
    },
    {
      name: "pod network with a multus default network",
      spec: spec(
        [
          { name: "a", masquerade: {} },
          { name: "b", bridge: {} },
        ],
        [{ name: "a", pod: {} }, multus("b", "x", true)],
      ),
      want: [c(Invalid, "spec.networks", "Pod network cannot be defined when Multus default network is defined")],
    },
    {
      name: "one multus default network is valid",
      spec: spec([{ name: "a", bridge: {} }], [multus("a", "ns/nad", true)]),
      want: [],
    },
    {
      name: "network without a source",
      spec: spec([{ name: "a", bridge: {} }], [{ name: "a" }]),
      want: [c(Required, "spec.networks[0]", "should have a network type")],
    },
    {
      name: "network with two sources",
      spec: spec([{ name: "a", bridge: {} }], [{ name: "a", pod: {}, multus: { networkName: "x" } }]),
      want: [c(Required, "spec.networks[0]", "should have only one network type")],
    },
    {
      name: "only the first multus network without networkName is reported",
      spec: spec(
        [
          { name: "a", bridge: {} },
          { name: "b", bridge: {} },
        ],
        [multus("a", ""), { name: "b", multus: {} }],
      ),
      want: [c(Required, "spec.networks[0]", "CNI delegating plugin must have a networkName")],
    },
  ]);
});

describe("validateKubeVirtVmiSpec interface state (§3.3)", () => {
  const sec = (iface: object) =>
    spec(
      [
        { name: "default", masquerade: {} },
        { name: "red", ...iface },
      ],
      [{ name: "default", pod: {} }, multus("red")],
    );
  run([
    { name: "up, down and absent on a secondary bridge are valid", spec: sec({ bridge: {}, state: "down" }), want: [] },
    { name: "absent on a secondary bridge is valid", spec: sec({ bridge: {}, state: "absent" }), want: [] },
    {
      name: "unknown state value",
      spec: sec({ bridge: {}, state: "sleeping" }),
      want: [c(Invalid, `${I1}.state`, "logical red interface state value is unsupported: sleeping")],
    },
    {
      name: "SR-IOV with state up",
      spec: sec({ sriov: {}, state: "up" }),
      want: [c(Invalid, `${I1}.state`, `"red" interface's state "up" is not supported for SR-IOV NICs`)],
    },
    {
      name: "absent on a non-bridge binding",
      spec: sec({ sriov: {}, state: "absent" }),
      want: [c(Invalid, `${I1}.state`, `"red" interface's state "absent" is supported only for bridge binding`)],
    },
    {
      name: "absent on the default network gets both causes in table order",
      spec: spec([{ name: "default", masquerade: {}, state: "absent" }], [{ name: "default", pod: {} }]),
      want: [
        c(Invalid, `${I0}.state`, `"default" interface's state "absent" is supported only for bridge binding`),
        c(Invalid, `${I0}.state`, `"default" interface's state "absent" is not supported on default networks`),
      ],
    },
  ]);
});

describe("validateKubeVirtVmiSpec binding (§3.4)", () => {
  run([
    {
      name: "no binding at all",
      spec: spec([{ name: "default" }], [{ name: "default", pod: {} }]),
      want: [c(Invalid, I0, "logical default interface must have exactly one binding method or binding plugin")],
    },
    {
      name: "binding method and plugin together",
      spec: spec([{ name: "default", bridge: {}, binding: { name: "p" } }], [{ name: "default", pod: {} }]),
      want: [c(Invalid, I0, "logical default interface must have exactly one binding method or binding plugin")],
    },
    {
      name: "plugin alone is one binding",
      spec: spec([{ name: "default", binding: { name: "p" } }], [{ name: "default", pod: {} }]),
      want: [],
    },
    {
      name: "masquerade on a multus network",
      spec: spec([{ name: "red", masquerade: {} }], [multus("red")]),
      want: [c(Invalid, `${I0}.name`, "Masquerade interface only implemented with pod network")],
    },
    {
      name: "masquerade with the reserved bridge MAC",
      spec: spec(
        [{ name: "default", masquerade: {}, macAddress: "02:00:00:00:00:00" }],
        [{ name: "default", pod: {} }],
      ),
      want: [
        c(
          Invalid,
          `${I0}.macAddress`,
          "The requested MAC address is reserved for the in-pod bridge. Please choose another one.",
        ),
      ],
    },
    {
      name: "reserved MAC compare is case-sensitive",
      spec: spec(
        [{ name: "default", masquerade: {}, macAddress: "02:00:00:00:00:0A" }],
        [{ name: "default", pod: {} }],
      ),
      want: [],
    },
    {
      name: "bridge on pod network when not permitted",
      spec: spec([{ name: "default", bridge: {} }], [{ name: "default", pod: {} }]),
      config: cfg({ permitBridgeInterfaceOnPodNetwork: false }),
      want: [c(Invalid, `${I0}.name`, "Bridge on pod network configuration is not enabled under kubevirt-config")],
    },
    {
      name: "bridge on pod network when permitted",
      spec: spec([{ name: "default", bridge: {} }], [{ name: "default", pod: {} }]),
      want: [],
    },
    {
      name: "passtBinding with its Beta gate disabled",
      spec: spec([{ name: "default", passtBinding: {} }], [{ name: "default", pod: {} }]),
      config: cfg({ disabledFeatureGates: ["PasstBinding"] }),
      want: [c(Invalid, `${I0}.name`, "PasstBinding feature gate is not enabled")],
    },
    {
      name: "passtBinding on the pod network with its Beta gate on by default",
      spec: spec([{ name: "default", passtBinding: {} }], [{ name: "default", pod: {} }]),
      want: [],
    },
    {
      name: "passtBinding on a multus network",
      spec: spec([{ name: "red", passtBinding: {} }], [multus("red")]),
      want: [c(Invalid, `${I0}.name`, "PasstBinding interface only implemented with pod network")],
    },
  ]);
});

describe("validateKubeVirtVmiSpec names (§3.5)", () => {
  run([
    {
      name: "duplicate network name reported at the later one",
      spec: spec(
        [{ name: "default", masquerade: {} }],
        [
          { name: "default", pod: {} },
          { name: "default", pod: {} },
        ],
      ),
      want: [
        c(Duplicate, "spec.interfaces", "more than one interface is connected to a pod network in spec.interfaces"),
        c(
          Duplicate,
          "spec.networks[1].name",
          `Network with name "default" already exists, every network must have a unique name`,
        ),
      ],
    },
    {
      name: "network without interface",
      spec: spec([{ name: "default", masquerade: {} }], [{ name: "default", pod: {} }, multus("blue")]),
      want: [c(Required, "spec.networks[1].name", "spec.networks[1].name 'blue' not found.")],
    },
    {
      name: "duplicate interface name",
      spec: spec(
        [
          { name: "default", masquerade: {} },
          { name: "default", masquerade: {} },
        ],
        [{ name: "default", pod: {} }],
      ),
      want: [c(Duplicate, `${I1}.name`, "Only one interface can be connected to one specific network")],
    },
    {
      name: "interface without network (masquerade also fails its pod check)",
      spec: spec([{ name: "default", masquerade: {} }], []),
      want: [
        c(Invalid, `${I0}.name`, "Masquerade interface only implemented with pod network"),
        c(Invalid, `${I0}.name`, "spec.domain.devices.interfaces[0].name 'default' not found."),
      ],
    },
    {
      name: "bad interface name format (no length limit)",
      spec: spec([{ name: "a.b", masquerade: {} }], [{ name: "a.b", pod: {} }]),
      want: [
        c(
          Invalid,
          `${I0}.name`,
          "Network interface name can only contain alphabetical characters, numbers, dashes (-) or underscores (_)",
        ),
      ],
    },
    {
      name: "long names are fine",
      spec: spec([{ name: "x".repeat(300), masquerade: {} }], [{ name: "x".repeat(300), pod: {} }]),
      want: [],
    },
  ]);
});

describe("validateKubeVirtVmiSpec model, MAC, PCI (§3.6)", () => {
  const one = (iface: object) => spec([{ name: "default", masquerade: {}, ...iface }], [{ name: "default", pod: {} }]);
  run([
    ...["e1000", "e1000e", "igb", "ne2k_pci", "pcnet", "rtl8139", "virtio"].map((model) => ({
      name: `model ${model} is valid`,
      spec: one({ model }),
      want: [],
    })),
    {
      name: "unknown model names the path of the name",
      spec: one({ model: "Virtio" }),
      want: [c(NotSupported, `${I0}.model`, `interface ${I0}.name uses model Virtio that is not supported.`)],
    },
    {
      name: "malformed MAC",
      spec: one({ macAddress: "de:ad:00:00:be" }),
      want: [c(Invalid, `${I0}.macAddress`, `interface ${I0}.name has malformed MAC address (de:ad:00:00:be).`)],
    },
    {
      name: "8-byte MAC is too long",
      spec: one({ macAddress: "de:ad:00:00:be:af:be:af" }),
      want: [
        c(Invalid, `${I0}.macAddress`, `interface ${I0}.name has too long MAC address (de:ad:00:00:be:af:be:af).`),
      ],
    },
    { name: "dash MAC is valid", spec: one({ macAddress: "DE-AD-00-00-BE-AF" }), want: [] },
    {
      name: "malformed PCI address (the API doc example)",
      spec: one({ pciAddress: "0000:81:01.10" }),
      want: [c(Invalid, `${I0}.pciAddress`, `interface ${I0}.name has malformed PCI address (0000:81:01.10).`)],
    },
    { name: "valid PCI address", spec: one({ pciAddress: "0000:81:01.7" }), want: [] },
  ]);
});

describe("validateKubeVirtVmiSpec ports (§3.7)", () => {
  const withPorts = (ports: object[], net: object = { name: "default", pod: {} }) =>
    spec([{ name: "default", masquerade: {}, ports }], [net as never]);
  const P = `${I0}.ports`;
  run([
    {
      name: "valid ports",
      spec: withPorts([
        { name: "http", port: 80, protocol: "TCP" },
        { port: 53, protocol: "UDP" },
      ]),
      want: [],
    },
    {
      name: "duplicate port name",
      spec: withPorts([
        { name: "http", port: 80 },
        { name: "http", port: 81 },
      ]),
      want: [c(Duplicate, `${P}[1].name`, "Duplicate name of the port: http")],
    },
    {
      name: "invalid IANA_SVC_NAME",
      spec: withPorts([{ name: "HTTP", port: 80 }]),
      want: [c(Invalid, `${P}[0].name`, "Invalid name of the port: HTTP")],
    },
    {
      name: "port 0 gets only the mandatory error",
      spec: withPorts([{ port: 0 }]),
      want: [c(Required, `${P}[0].port`, "Port field is mandatory.")],
    },
    {
      name: "port 65536 is out of range",
      spec: withPorts([{ port: 65536 }]),
      want: [c(Invalid, `${P}[0].port`, "Port field must be in range 0 < x < 65536.")],
    },
    {
      name: "negative port is out of range",
      spec: withPorts([{ port: -1 }]),
      want: [c(Invalid, `${P}[0].port`, "Port field must be in range 0 < x < 65536.")],
    },
    {
      name: "lowercase protocol",
      spec: withPorts([{ port: 80, protocol: "tcp" }]),
      want: [c(Invalid, `${P}[0].protocol`, "Unknown protocol, only TCP or UDP allowed")],
    },
    {
      name: "ports on a multus network are not validated",
      spec: spec([{ name: "red", bridge: {}, ports: [{ port: 0, protocol: "x" }] }], [multus("red")]),
      want: [],
    },
  ]);
});

describe("validateKubeVirtVmiSpec portRanges (§3.8)", () => {
  const on = cfg({ featureGates: ["PortRangesSpec"] });
  const R = `${I0}.portRanges`;
  const withRanges = (portRanges: object[], extra: object = {}) =>
    spec([{ name: "default", masquerade: {}, portRanges, ...extra }], [{ name: "default", pod: {} }]);
  run([
    {
      name: "gate off, any network type",
      spec: spec([{ name: "red", bridge: {}, portRanges: [] }], [multus("red")]),
      want: [
        c(
          Invalid,
          `${I0}.name`,
          "portRanges is specified on interface but the PortRangesSpec feature gate is not enabled",
        ),
      ],
    },
    { name: "gate on, valid ranges", spec: withRanges([{ protocol: "TCP", start: 1, end: 10 }]), config: on, want: [] },
    {
      name: "with ports",
      spec: withRanges([{ protocol: "TCP", start: 1, end: 10 }], { ports: [{ port: 80 }] }),
      config: on,
      want: [c(Invalid, `${I0}.name`, "Cannot define both ports and portRanges on interface")],
    },
    {
      name: "not masquerade",
      spec: spec(
        [{ name: "default", passtBinding: {}, portRanges: [{ protocol: "TCP", start: 1, end: 2 }] }],
        [{ name: "default", pod: {} }],
      ),
      config: on,
      want: [c(Invalid, `${I0}.name`, "portRanges are only supported on masquerade interfaces")],
    },
    {
      name: "more than 10 skips per-entry checks",
      spec: withRanges(Array.from({ length: 11 }, () => ({ protocol: "bad" }))),
      config: on,
      want: [c(Invalid, R, "No more than 10 portRanges are allowed")],
    },
    {
      name: "per-entry first-match chain",
      spec: withRanges([
        { protocol: "", start: 0, end: 0 },
        { protocol: "TCP", start: 0, end: 0 },
        { protocol: "UDP", start: 1, end: 65536 },
        { protocol: "TCP", start: 9, end: 3 },
      ]),
      config: on,
      want: [
        c(Invalid, `${R}[0].protocol`, "Unknown protocol, only TCP or UDP allowed"),
        c(Invalid, `${R}[1].start`, "Start must be a valid port number, 0 < x < 65536"),
        c(Invalid, `${R}[2].end`, "End must be a valid port number, 0 < x < 65536"),
        c(Invalid, `${R}[3].start`, "Start must be less than or equal to end"),
      ],
    },
    {
      name: "overlap within a protocol, after sorting",
      spec: withRanges([
        { protocol: "TCP", start: 20, end: 30 },
        { protocol: "UDP", start: 1, end: 100 },
        { protocol: "TCP", start: 1, end: 20 },
      ]),
      config: on,
      want: [c(Invalid, R, "TCP portRanges [1-20] and [20-30] overlap")],
    },
  ]);
});

describe("validateKubeVirtVmiSpec DHCP options (§3.9)", () => {
  const withDhcp = (dhcpOptions: object) =>
    spec([{ name: "default", masquerade: {}, dhcpOptions }], [{ name: "default", pod: {} }]);
  run([
    {
      name: "valid options",
      spec: withDhcp({ ntpServers: ["10.0.0.1"], privateOptions: [{ option: 224, value: "x" }] }),
      want: [],
    },
    {
      name: "duplicate private options reported on the root, then each out of range",
      spec: withDhcp({ privateOptions: [{ option: 1 }, { option: 1 }, { option: 254 }] }),
      want: [
        c(Invalid, "spec", "Found Duplicates: you have provided duplicate DHCPPrivateOptions"),
        c(Invalid, "spec", "provided DHCPPrivateOptions are out of range, must be in range 224 to 254"),
        c(Invalid, "spec", "provided DHCPPrivateOptions are out of range, must be in range 224 to 254"),
      ],
    },
    {
      name: "IPv6 and garbage NTP servers",
      spec: withDhcp({ ntpServers: ["10.0.0.1", "fd00::1", "ntp.example.com", "::ffff:10.0.0.2"] }),
      want: [
        c(Invalid, `${I0}.dhcpOptions.ntpServers[1]`, "NTP servers must be a list of valid IPv4 addresses."),
        c(Invalid, `${I0}.dhcpOptions.ntpServers[2]`, "NTP servers must be a list of valid IPv4 addresses."),
      ],
    },
  ]);
});

describe("validateKubeVirtVmiSpec DRA networks (§3.10)", () => {
  const on = cfg({ featureGates: ["NetworkDevicesWithDRA"] });
  const dra = (extra: KvVmiSpec = {}) =>
    spec(
      [
        { name: "a", sriov: {} },
        { name: "b", sriov: {} },
      ],
      [
        { name: "a", resourceClaim: { claimName: "c", requestName: "r" } },
        { name: "b", resourceClaim: { claimName: "c", requestName: "r" } },
      ],
      { resourceClaims: [{ name: "c" }], ...extra },
    );
  run([
    {
      name: "SR-IOV and binding plugin interfaces on distinct claims are valid",
      spec: spec(
        [
          { name: "a", sriov: {} },
          { name: "b", binding: { name: "p" } },
        ],
        [
          { name: "a", resourceClaim: { claimName: "c", requestName: "r1" } },
          { name: "b", resourceClaim: { claimName: "c", requestName: "r2" } },
        ],
        { resourceClaims: [{ name: "c" }] },
      ),
      config: on,
      want: [],
    },
    {
      name: "gate off returns the single gate cause",
      spec: dra(),
      want: [
        c(
          Invalid,
          "spec.networks",
          "vmi.spec.networks contains DRA networks but NetworkDevicesWithDRA feature gate is not enabled",
        ),
      ],
    },
    {
      name: "mixed with multus returns the single mixing cause",
      spec: spec(
        [
          { name: "a", sriov: {} },
          { name: "m", bridge: {} },
        ],
        [{ name: "a", resourceClaim: {} }, multus("m")],
      ),
      config: on,
      want: [
        c(Invalid, "spec.networks", "mixing Multus and DRA resourceClaim networks in the same VMI is not supported"),
      ],
    },
    {
      name: "duplicate claim/request pair (the first use is fine)",
      spec: dra(),
      config: on,
      want: [c(Duplicate, "spec.networks[1]", `duplicate claimName/requestName combination "c/r"`)],
    },
    {
      name: "wrong binding, missing names, unknown claim",
      spec: spec(
        [
          { name: "a", bridge: {} },
          { name: "b", sriov: {} },
        ],
        [
          { name: "a", resourceClaim: {} },
          { name: "b", resourceClaim: { claimName: "nope", requestName: "r" } },
        ],
      ),
      config: on,
      want: [
        c(Invalid, "spec.domain.devices.interfaces", `DRA network "a" requires an SR-IOV or binding plugin interface`),
        c(Required, "spec.networks[0].resourceClaim.claimName", "claimName is required for DRA network"),
        c(Required, "spec.networks[0].resourceClaim.requestName", "requestName is required for DRA network"),
        c(
          NotFound,
          "spec.networks[1].resourceClaim.claimName",
          `network references resourceClaim "nope" which is not defined in spec.resourceClaims`,
        ),
      ],
    },
  ]);
});

describe("validateKubeVirtVmiSpec rule order (§3.1)", () => {
  it("emits the Validate() steps in KubeVirt's order", () => {
    const s = spec(
      [
        { name: "a", state: "weird", model: "bad" },
        { name: "a", bridge: {} },
      ],
      [{ name: "a", pod: {} }, { name: "a", pod: {} }, { name: "z" }],
    );
    const fields = validateKubeVirtVmiSpec(s, "spec", cfg()).map((x) => x.message.slice(0, 30));
    assert.deepEqual(fields, [
      "more than one interface is con",
      "should have a network type",
      "logical a interface state valu",
      "logical a interface must have ",
      'Network with name "a" already ',
      "spec.networks[2].name 'z' not ",
      "Only one interface can be conn",
      "interface spec.domain.devices.",
    ]);
  });
});
