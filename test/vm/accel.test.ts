import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Accel } from "../../src/hypervisor/accel.ts";
import { VmError } from "../../src/vm/errors.ts";
import { chooseAccel } from "../../src/vm/lifecycle.ts";

describe("chooseAccel: TCG by default, KVM only after the probe booted a guest with it", () => {
  const cases = [
    { requested: "tcg", probed: Accel.Kvm, want: Accel.Tcg, probes: 0 },
    { requested: "auto", probed: Accel.Tcg, want: Accel.Tcg, probes: 1 },
    { requested: "auto", probed: Accel.Kvm, want: Accel.Kvm, probes: 1 },
    { requested: "kvm", probed: Accel.Kvm, want: Accel.Kvm, probes: 1 },
    { requested: "kvm", probed: Accel.Tcg, want: "error", probes: 1 },
  ] as const;
  for (const c of cases) {
    test(`${c.requested} with the probe saying ${c.probed} gives ${c.want}`, async () => {
      let probes = 0;
      const probe = async () => {
        probes++;
        return c.probed;
      };
      if (c.want === "error") await assert.rejects(chooseAccel(c.requested, probe), VmError);
      else assert.equal(await chooseAccel(c.requested, probe), c.want);
      assert.equal(probes, c.probes);
    });
  }
});
