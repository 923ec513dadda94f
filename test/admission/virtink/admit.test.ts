import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Cause, CauseType, cause } from "../../../src/admission/cause.ts";
import { admitVirtink, virtinkDenialMessage } from "../../../src/admission/virtink/index.ts";
import { vkVm } from "./fixtures.ts";

const m = (message: string): Cause => cause(CauseType.Invalid, "spec", message);

describe("virtinkDenialMessage", () => {
  const cases: ReadonlyArray<{ name: string; causes: Cause[]; want: string }> = [
    { name: "no causes give an empty string", causes: [], want: "" },
    { name: "one cause gives its message alone", causes: [m("a: Required value")], want: "a: Required value" },
    {
      name: "several causes are bracketed and joined with comma-space, in order",
      causes: [m("b: Required value"), m("a: Forbidden: x")],
      want: "[b: Required value, a: Forbidden: x]",
    },
    {
      name: "exact duplicates are removed",
      causes: [m("a: Required value"), m("b: Required value"), m("a: Required value")],
      want: "[a: Required value, b: Required value]",
    },
    {
      name: "one distinct message left drops the brackets",
      causes: [m("a: Required value"), m("a: Required value")],
      want: "a: Required value",
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(virtinkDenialMessage(c.causes), c.want));
  }
});

describe("admitVirtink", () => {
  const rand = (n: number): Uint8Array => Uint8Array.from([0x12, 0x34, 0x56].slice(0, n));

  it("admits the documented masquerade VM with defaults applied", () => {
    const r = admitVirtink(vkVm([{ name: "pod", masquerade: {} }], [{ name: "pod", pod: {} }]), { randomBytes: rand });
    assert.equal(r.allowed, true);
    assert.equal(r.message, undefined);
    assert.deepEqual(r.causes, []);
    assert.deepEqual(r.warnings, []);
    assert.deepEqual(r.defaulted.spec?.instance?.interfaces, [
      { name: "pod", mac: "52:54:00:12:34:56", masquerade: { cidr: "10.0.2.0/30" } },
    ]);
  });

  it("admits an interface with no binding and no MAC, because defaulting runs first", () => {
    const r = admitVirtink(vkVm([{ name: "pod" }], [{ name: "pod", pod: {} }]), { randomBytes: rand });
    assert.equal(r.allowed, true);
    assert.deepEqual(r.defaulted.spec?.instance?.interfaces?.[0]?.bridge, {});
  });

  it("v10: admits vdpa with numQueues 9 and iommu false", () => {
    const vm = vkVm(
      [{ name: "pod" }, { name: "vdpa1", vdpa: { numQueues: 9, iommu: false } }],
      [
        { name: "pod", pod: {} },
        { name: "vdpa1", multus: { networkName: "offload-ovn1" } },
      ],
    );
    assert.equal(admitVirtink(vm, { randomBytes: rand }).allowed, true);
  });

  it("denies with the aggregated Virtink message", () => {
    const r = admitVirtink(
      vkVm(
        [{ name: "pod", mac: "x", masquerade: { cidr: "10.0.2.0/31" } }],
        [{ name: "pod", pod: {}, multus: { networkName: "n" } }],
      ),
    );
    assert.equal(r.allowed, false);
    assert.equal(
      r.message,
      '[spec.instance.interfaces[0].mac: Invalid value: "x": address x: invalid MAC address, ' +
        'spec.instance.interfaces[0].masquerade.cidr: Invalid value: "10.0.2.0/31": must contain at least 4 IPs, ' +
        "spec.networks[0].multus: Forbidden: may not specify more than 1 network source]",
    );
    assert.deepEqual(
      r.causes.map((c) => c.type),
      [CauseType.Invalid, CauseType.Invalid, CauseType.Forbidden],
    );
  });

  it("v24: denies all five bindings with five messages in Virtink's order", () => {
    const r = admitVirtink(
      vkVm(
        [{ name: "pod", mac: "52:54:00:12:34:56", bridge: {}, masquerade: {}, sriov: {}, vdpa: {}, vhostUser: {} }],
        [{ name: "pod", pod: {} }],
      ),
    );
    const p = "spec.instance.interfaces[0]";
    const more = (b: string): string => `${p}.${b}: Forbidden: may not specify more than 1 binding method`;
    assert.equal(
      r.message,
      `[${p}.vhostUser: Forbidden: may not use vhost-user interface without dedicated CPU placement and hugepages, ` +
        `${more("masquerade")}, ${more("sriov")}, ${more("vdpa")}, ${more("vhostUser")}]`,
    );
  });

  it("on update carries MACs over, so omitting them is not a spec change", () => {
    const old = vkVm([{ name: "pod", mac: "52:54:00:dd:0d:5b", bridge: {} }], [{ name: "pod", pod: {} }]);
    const r = admitVirtink(vkVm([{ name: "pod" }], [{ name: "pod", pod: {} }], { spec: { runPolicy: "Always" } }), {
      old,
      randomBytes: rand,
    });
    assert.equal(r.allowed, true);
    assert.equal(r.defaulted.spec?.instance?.interfaces?.[0]?.mac, "52:54:00:dd:0d:5b");
  });

  it("on update denies a renamed interface, whose MAC is then regenerated", () => {
    const old = vkVm([{ name: "pod", mac: "52:54:00:dd:0d:5b", bridge: {} }], [{ name: "pod", pod: {} }]);
    const r = admitVirtink(vkVm([{ name: "eth" }], [{ name: "pod", pod: {} }]), { old, randomBytes: rand });
    assert.equal(r.allowed, false);
    assert.equal(r.message, "spec: Forbidden: VM spec may not be updated except runPolicy, volumes, instance.disks");
    assert.equal(r.defaulted.spec?.instance?.interfaces?.[0]?.mac, "52:54:00:12:34:56");
  });
});
