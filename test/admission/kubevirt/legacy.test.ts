import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CauseType } from "../../../src/admission/cause.ts";
import {
  UPSTREAM_LEGACY_BINDINGS,
  validateKubeVirtCreation,
  validateKubeVirtVmiSpec,
} from "../../../src/admission/kubevirt/index.ts";
import { validateDiscontinuedGates } from "../../../src/admission/kubevirt/network.ts";
import { c, cfg, spec } from "./helpers.ts";

const { Invalid, NotSupported } = CauseType;
const I0 = "spec.domain.devices.interfaces[0]";
const NO_BINDING = "logical default interface must have exactly one binding method or binding plugin";
const POD = [{ name: "default", pod: {} }];
const MULTUS = [{ name: "default", multus: { networkName: "macvtapnetwork" } }];

describe("legacy bindings when not enabled (upstream behaviour)", () => {
  const cases = [
    { binding: "slirp", field: "slirp", msg: "Slirp interface support has been discontinued since v1.3", nets: POD },
    { binding: "passt", field: "passt", msg: "Passt network binding has been discontinued since v1.3", nets: POD },
    {
      binding: "macvtap",
      field: "macvtap",
      msg: "Macvtap network binding has been discontinued since v1.3",
      nets: MULTUS,
    },
  ] as const;
  for (const t of cases) {
    const s = spec([{ name: "default", [t.binding]: {} }], [...t.nets]);
    it(`${t.binding} is not counted as a binding`, () => {
      assert.deepEqual(validateKubeVirtVmiSpec(s, "spec", cfg()), [c(Invalid, I0, NO_BINDING)]);
    });
    it(`${t.binding} is rejected on creation at …interfaces[i].${t.field}`, () => {
      assert.deepEqual(validateKubeVirtCreation(s, "spec", cfg()), [c(Invalid, `${I0}.${t.field}`, t.msg)]);
    });
  }

  it("creation causes per interface in slirp, passt, macvtap order", () => {
    const s = spec([{ name: "default", macvtap: {}, passt: {}, slirp: {} }], POD);
    assert.deepEqual(
      validateKubeVirtCreation(s, "spec", cfg()).map((x) => x.field),
      [`${I0}.slirp`, `${I0}.passt`, `${I0}.macvtap`],
    );
  });

  it("upstream: a listed discontinued gate with its binding in use gives a field-less cause, in gate order", () => {
    const s = spec([{ name: "default", passt: {}, macvtap: {} }], POD);
    assert.deepEqual(
      validateDiscontinuedGates(
        s,
        cfg({ featureGates: ["Macvtap", "PasstIPStackMigration", "Passt"] }),
        UPSTREAM_LEGACY_BINDINGS,
      ),
      [
        c(
          NotSupported,
          "",
          "Macvtap network binding is discontinued since v1.3. Please refer to Kubevirt user guide for alternatives.",
        ),
        c(
          NotSupported,
          "",
          "Passt network binding is discontinued since v1.3. Please refer to Kubevirt user guide for alternatives.",
        ),
      ],
    );
  });

  it("upstream: a listed gate whose binding is unused gives nothing", () => {
    const s = spec([{ name: "default", masquerade: {} }], POD);
    assert.deepEqual(validateDiscontinuedGates(s, cfg({ featureGates: ["Passt"] }), UPSTREAM_LEGACY_BINDINGS), []);
  });
});

describe("legacy bindings when enabled (vmnet decision)", () => {
  const passtOn = cfg({ featureGates: ["Passt"] });
  const macvtapOn = cfg({ featureGates: ["Macvtap"] });
  const slirpOn = cfg({ permitSlirpInterface: true });
  const cases = [
    { name: "passt on the pod network", s: spec([{ name: "default", passt: {} }], POD), config: passtOn, want: [] },
    {
      name: "passt on a multus network",
      s: spec([{ name: "default", passt: {} }], MULTUS),
      config: passtOn,
      want: [c(Invalid, `${I0}.name`, "Passt interface only implemented with pod network")],
    },
    {
      name: "passt with an extra multus network",
      s: spec(
        [
          { name: "default", passt: {} },
          { name: "red", bridge: {} },
        ],
        [...POD, { name: "red", multus: { networkName: "nad" } }],
      ),
      config: passtOn,
      want: [c(Invalid, `${I0}.name`, "Passt interface is only supported as the single interface of the VMI")],
    },
    {
      name: "macvtap on a multus network",
      s: spec([{ name: "default", macvtap: {} }], MULTUS),
      config: macvtapOn,
      want: [],
    },
    {
      name: "macvtap on the pod network",
      s: spec([{ name: "default", macvtap: {} }], POD),
      config: macvtapOn,
      want: [c(Invalid, `${I0}.name`, "Macvtap interface only implemented with Multus network")],
    },
    { name: "slirp on the pod network", s: spec([{ name: "default", slirp: {} }], POD), config: slirpOn, want: [] },
    {
      name: "slirp on a multus network",
      s: spec([{ name: "default", slirp: {} }], MULTUS),
      config: slirpOn,
      want: [c(Invalid, `${I0}.name`, "Slirp interface only implemented with pod network")],
    },
    {
      name: "an enabled legacy binding counts as a binding method",
      s: spec([{ name: "default", slirp: {}, masquerade: {} }], POD),
      config: slirpOn,
      want: [c(Invalid, I0, NO_BINDING)],
    },
    {
      name: "enabling one legacy binding does not enable another",
      s: spec([{ name: "default", slirp: {} }], POD),
      config: passtOn,
      want: [c(Invalid, I0, NO_BINDING)],
    },
  ];
  for (const t of cases) it(t.name, () => assert.deepEqual(validateKubeVirtVmiSpec(t.s, "spec", t.config), t.want));

  it("no creation cause and no discontinued-gate cause for enabled bindings", () => {
    const s = spec([{ name: "default", passt: {}, macvtap: {}, slirp: {} }], POD);
    const config = cfg({ featureGates: ["Passt", "Macvtap"], permitSlirpInterface: true });
    assert.deepEqual(validateKubeVirtCreation(s, "spec", config), []);
  });
});
