import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { InputError } from "../../src/cli/input.ts";
import { loadVmSpec, podAttachments } from "../../src/vm/spec.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const ex = (p: string) => join(ROOT, "examples", p);
const dir = mkdtempSync(join(tmpdir(), "vmnt-spec-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("loadVmSpec and podAttachments", () => {
  test("loadVmSpec gives planner and lab the NAD's resourceName", () => {
    const spec = loadVmSpec(ex("vm-e2e/macvtap/vm-core.yaml"), {
      kubevirtConfig: ex("kubevirt/kubevirt-cr-legacy-bindings.yaml"),
      nads: [ex("vm-e2e/macvtap/nad-macvtap.yaml")],
    });
    assert.deepEqual(
      spec.planNads.map((n) => [n.namespace, n.name, n.resourceName]),
      [["default", "macvtapnetwork", "macvtap.network.kubevirt.io/dataplane"]],
    );
    assert.equal(spec.labNads.get("default/macvtapnetwork")?.resourceName, "macvtap.network.kubevirt.io/dataplane");
  });

  const cases: {
    readonly name: string;
    readonly file: string;
    readonly config?: string;
    readonly nads: string[];
    readonly want: { networkName: string; mac?: string }[];
  }[] = [
    {
      name: "a secondary with macAddress carries it as the selection's mac",
      file: "vm-e2e/macvtap/vm-core.yaml",
      config: "kubevirt/kubevirt-cr-legacy-bindings.yaml",
      nads: ["vm-e2e/macvtap/nad-macvtap.yaml"],
      want: [{ networkName: "hostnetwork", mac: "02:00:00:5e:00:0a" }],
    },
    {
      name: "a secondary without macAddress has no mac",
      file: "vm-e2e/macvtap/vm-plugin.yaml",
      config: "kubevirt/kubevirt-cr-macvtap-binding.yaml",
      nads: ["vm-e2e/macvtap/nad-macvtap.yaml"],
      want: [{ networkName: "hostnetwork" }],
    },
  ];
  for (const c of cases) {
    test(`podAttachments: ${c.name}`, () => {
      const spec = loadVmSpec(ex(c.file), {
        ...(c.config === undefined ? {} : { kubevirtConfig: ex(c.config) }),
        nads: c.nads.map(ex),
      });
      const got = podAttachments(spec);
      assert.equal(got.defaultNetwork, undefined);
      assert.deepEqual(
        got.secondaries.map((s) => ({ networkName: s.networkName, ...(s.mac === undefined ? {} : { mac: s.mac }) })),
        c.want,
      );
      assert.equal(got.secondaries[0]?.nad.resourceName, "macvtap.network.kubevirt.io/dataplane");
    });
  }

  test("podAttachments names the missing NAD and the flag that gives it", () => {
    const file = join(dir, "vm.yaml");
    const vm = readFileSync(ex("vm-e2e/macvtap/vm-core.yaml"), "utf8").replace(
      "networkName: macvtapnetwork",
      "networkName: other/macvtapnetwork",
    );
    writeFileSync(file, vm);
    const spec = loadVmSpec(file, {
      kubevirtConfig: ex("kubevirt/kubevirt-cr-legacy-bindings.yaml"),
      nads: [ex("vm-e2e/macvtap/nad-macvtap.yaml")],
    });
    assert.throws(
      () => podAttachments(spec),
      (e: unknown) =>
        e instanceof InputError &&
        e.message === 'Cannot find NetworkAttachmentDefinition "other/macvtapnetwork": pass it with --nad',
    );
  });
});
