import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { admitVirtink, applyVirtinkDefaults, validateVirtinkVm } from "../../../src/admission/virtink/index.ts";
import { parsePath } from "../../../src/api/source.ts";
import type { VkInterface, VkNetwork, VkVirtualMachine } from "../../../src/api/virtink-types.ts";

const text = fc.oneof(
  fc.constantFrom("", "pod", "a", "10.0.2.0/30", "fd10::/66", "52:54:00:12:34:56", "C6-1C-BA-0A-45-88"),
  fc.string({ maxLength: 24 }),
  fc.string({ unit: "grapheme", maxLength: 8 }),
);
const empty = fc.constant({});

const iface: fc.Arbitrary<VkInterface> = fc.record(
  {
    name: text,
    mac: text,
    bridge: empty,
    masquerade: fc.record({ cidr: text }, { requiredKeys: [] }),
    sriov: empty,
    vdpa: fc.record({ numQueues: fc.integer(), iommu: fc.boolean() }, { requiredKeys: [] }),
    vhostUser: empty,
  },
  { requiredKeys: [] },
);

const network: fc.Arbitrary<VkNetwork> = fc.record(
  { name: text, pod: empty, multus: fc.record({ networkName: text }, { requiredKeys: [] }) },
  { requiredKeys: [] },
);

const vm: fc.Arbitrary<VkVirtualMachine> = fc
  .record(
    {
      runPolicy: text,
      instance: fc.record(
        {
          cpu: fc.record(
            { sockets: fc.nat(), coresPerSocket: fc.nat(), dedicatedCPUPlacement: fc.boolean() },
            { requiredKeys: [] },
          ),
          memory: fc.record({ size: text, hugepages: empty }, { requiredKeys: [] }),
          interfaces: fc.array(iface, { maxLength: 4 }),
          disks: fc.array(fc.record({ name: text }), { maxLength: 2 }),
        },
        { requiredKeys: [] },
      ),
      networks: fc.array(network, { maxLength: 4 }),
      volumes: fc.array(fc.record({ name: text }), { maxLength: 2 }),
    },
    { requiredKeys: [] },
  )
  .map((spec): VkVirtualMachine => ({ apiVersion: "virt.virtink.smartx.com/v1alpha1", kind: "VirtualMachine", spec }));

const maybeVm = fc.option(vm, { nil: undefined });

describe("validateVirtinkVm on arbitrary typed VMs", () => {
  it("never throws and every cause field is a spec path that prefixes its message", () => {
    fc.assert(
      fc.property(vm, maybeVm, (v, old) => {
        const causes = validateVirtinkVm(v, old === undefined ? {} : { old });
        for (const c of causes) {
          assert.equal(parsePath(c.field)[0], "spec");
          assert.ok(c.message.startsWith(`${c.field}: `), c.message);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("after defaulting never reports a missing MAC, binding or masquerade CIDR", () => {
    fc.assert(
      fc.property(vm, maybeVm, (v, old) => {
        const r = admitVirtink(v, old === undefined ? {} : { old });
        const bad = r.causes.filter(
          (c) =>
            /^spec\.instance\.interfaces\[\d+\]$/.test(c.field) ||
            /\.masquerade\.cidr: Required value$/.test(c.message) ||
            /\.mac: Required value$/.test(c.message),
        );
        assert.deepEqual(bad, []);
        assert.equal(r.allowed, r.causes.length === 0);
      }),
      { numRuns: 200 },
    );
  });

  it("defaulting is idempotent", () => {
    fc.assert(
      fc.property(vm, (v) => {
        const once = applyVirtinkDefaults(v);
        assert.deepEqual(applyVirtinkDefaults(once), once);
      }),
      { numRuns: 200 },
    );
  });
});
