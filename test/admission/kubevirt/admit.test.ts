import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CauseType } from "../../../src/admission/cause.ts";
import { admissionMessage, admitKubeVirt } from "../../../src/admission/kubevirt/index.ts";
import type { KvVirtualMachine, KvVirtualMachineInstance, KvVmiSpec } from "../../../src/api/kubevirt-types.ts";
import { c, cfg, podMasquerade, spec } from "./helpers.ts";

const { Invalid, NotSupported, Required } = CauseType;

const vmi = (s?: KvVmiSpec): KvVirtualMachineInstance => ({
  apiVersion: "kubevirt.io/v1",
  kind: "VirtualMachineInstance",
  metadata: { name: "v" },
  ...(s === undefined ? {} : { spec: s }),
});
const vm = (s?: KvVmiSpec): KvVirtualMachine => ({
  apiVersion: "kubevirt.io/v1",
  kind: "VirtualMachine",
  metadata: { name: "v" },
  spec: { runStrategy: "Always", template: s === undefined ? {} : { spec: s } },
});
const slirpSpec = () => spec([{ name: "default", slirp: {} }], [{ name: "default", pod: {} }]);
const NO_BINDING = "logical default interface must have exactly one binding method or binding plugin";

describe("admitKubeVirt VMI", () => {
  it("create applies the defaults and admits", () => {
    const r = admitKubeVirt(vmi({}), cfg());
    assert.equal(r.allowed, true);
    assert.deepEqual(r.causes, []);
    assert.deepEqual(r.defaulted, {
      ...vmi(),
      spec: {
        domain: { devices: { interfaces: [{ name: "default", bridge: {} }] } },
        networks: [{ name: "default", pod: {} }],
      },
    });
  });

  it("create with a defaulting failure", () => {
    assert.deepEqual(admitKubeVirt(vmi({}), cfg({ defaultNetworkInterface: "slirp" })), {
      allowed: false,
      causes: [],
      warnings: [],
      message: "slirp interface is deprecated as of v1.3",
    });
  });

  it("create with an empty default binding fails on the network without interface", () => {
    const r = admitKubeVirt(vmi({}), cfg({ defaultNetworkInterface: "" }));
    assert.deepEqual(r.causes, [
      c(CauseType.Required, "spec.networks[0].name", "spec.networks[0].name 'default' not found."),
    ]);
  });

  it("create reports creation causes before Validate causes, each once", () => {
    const r = admitKubeVirt(vmi(slirpSpec()), cfg());
    assert.equal(r.allowed, false);
    assert.deepEqual(r.causes, [
      c(Invalid, "spec.domain.devices.interfaces[0].slirp", "Slirp interface support has been discontinued since v1.3"),
      c(Invalid, "spec.domain.devices.interfaces[0]", NO_BINDING),
    ]);
    assert.equal(r.message, `Slirp interface support has been discontinued since v1.3, ${NO_BINDING}`);
  });

  it("create with a slirp default binding, when permitted, adds and admits a slirp interface", () => {
    const r = admitKubeVirt(vmi({}), cfg({ defaultNetworkInterface: "slirp", permitSlirpInterface: true }));
    assert.equal(r.allowed, true);
    assert.deepEqual((r.defaulted as KvVirtualMachineInstance).spec?.domain?.devices?.interfaces, [
      { name: "default", slirp: {} },
    ]);
  });

  it("create with slirp permitted admits", () => {
    assert.equal(admitKubeVirt(vmi(slirpSpec()), cfg({ permitSlirpInterface: true })).allowed, true);
  });

  it("update with an unchanged spec (key order aside) is allowed", () => {
    const old = vmi({
      networks: [{ pod: {}, name: "default" }],
      domain: { devices: { interfaces: [{ name: "default", masquerade: {} }] } },
    });
    assert.equal(admitKubeVirt(vmi(podMasquerade()), cfg(), { old }).allowed, true);
  });

  it("update with a changed spec is restricted, with no field", () => {
    const changed = podMasquerade();
    changed.hostname = "x";
    const r = admitKubeVirt(vmi(changed), cfg(), { old: vmi(podMasquerade()) });
    assert.deepEqual(r, {
      allowed: false,
      causes: [c(NotSupported, "", "update of VMI object is restricted")],
      warnings: [],
      message: "update of VMI object is restricted",
    });
  });
});

describe("admitKubeVirt VM", () => {
  it("create reports ValidateCreation with root spec and returns before validating the template", () => {
    const r = admitKubeVirt(vm(slirpSpec()), cfg());
    assert.deepEqual(r.causes, [
      c(Invalid, "spec.domain.devices.interfaces[0].slirp", "Slirp interface support has been discontinued since v1.3"),
    ]);
  });

  it("create validates the template with root spec.template.spec when creation checks pass", () => {
    const s = spec([{ name: "default", masquerade: {}, model: "x" }], [{ name: "default", pod: {} }]);
    assert.deepEqual(admitKubeVirt(vm(s), cfg()).causes, [
      c(
        NotSupported,
        "spec.template.spec.domain.devices.interfaces[0].model",
        "interface spec.template.spec.domain.devices.interfaces[0].name uses model x that is not supported.",
      ),
    ]);
  });

  it("update runs Validate only", () => {
    const r = admitKubeVirt(vm(slirpSpec()), cfg(), { old: vm(slirpSpec()) });
    assert.deepEqual(r.causes, [c(Invalid, "spec.template.spec.domain.devices.interfaces[0]", NO_BINDING)]);
  });

  it("validates the defaulted copy and returns it", () => {
    const r = admitKubeVirt(vm({}), cfg({ defaultNetworkInterface: "masquerade" }));
    assert.equal(r.allowed, true);
    const d = r.defaulted as KvVirtualMachine;
    assert.deepEqual(d.spec?.template?.spec?.networks, [{ name: "default", pod: {} }]);
    assert.equal(d.spec?.runStrategy, "Always");
  });

  it("warns about spec.running on an admitted VM", () => {
    const o = vm(podMasquerade());
    o.spec = { ...o.spec, running: true };
    assert.deepEqual(admitKubeVirt(o, cfg()).warnings, [
      "spec.running is deprecated, please use spec.runStrategy instead.",
    ]);
    assert.deepEqual(admitKubeVirt(vm(podMasquerade()), cfg()).warnings, []);
  });

  it("a template without spec is validated as an empty spec", () => {
    assert.equal(admitKubeVirt(vm(), cfg()).allowed, true);
  });

  it("a missing template", () => {
    const o: KvVirtualMachine = { apiVersion: "kubevirt.io/v1", kind: "VirtualMachine", spec: {} };
    assert.deepEqual(admitKubeVirt(o, cfg()).causes, [
      c(Required, "spec.template", "missing virtual machine template."),
    ]);
  });
});

describe("admissionMessage and truncation", () => {
  const many = (n: number) =>
    spec(
      Array.from({ length: n }, (_, i) => ({ name: `n${i}` })),
      Array.from({ length: n }, (_, i) => ({ name: `n${i}`, pod: {} })).slice(0, 1),
    );

  it("exactly 10 causes: all listed, no suffix", () => {
    const causes = Array.from({ length: 10 }, (_, i) => c(Invalid, "f", `m${i}`));
    assert.equal(admissionMessage(causes), "m0, m1, m2, m3, m4, m5, m6, m7, m8, m9");
  });

  it("12 causes: first 10 then the count of the rest", () => {
    const causes = Array.from({ length: 12 }, (_, i) => c(Invalid, "f", `m${i}`));
    assert.equal(admissionMessage(causes), "m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, and 2 more validation errors");
  });

  it("admitKubeVirt reports only the first 10 causes, like details.causes", () => {
    // 8 interfaces without binding, 7 of them without network: 8 + 7 = 15 causes.
    const r = admitKubeVirt(vmi(many(8)), cfg());
    assert.equal(r.causes.length, 10);
    const binding = Array.from(
      { length: 8 },
      (_, i) => `logical n${i} interface must have exactly one binding method or binding plugin`,
    );
    const missing = [1, 2].map((i) => `spec.domain.devices.interfaces[${i}].name 'n${i}' not found.`);
    assert.equal(r.message, `${[...binding, ...missing].join(", ")}, and 5 more validation errors`);
    assert.deepEqual(
      r.causes.map((x) => x.message),
      [...binding, ...missing],
    );
  });
});
