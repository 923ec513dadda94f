import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ROOT, vmnet } from "./run.ts";

/** Text-output cases: the golden file records the command, its exit code, stdout and stderr. */
const CASES: readonly { readonly name: string; readonly args: readonly string[] }[] = [
  { name: "denied-kubevirt", args: ["validate", "test/cli/fixtures/denied-kubevirt.yaml"] },
  { name: "warned-kubevirt", args: ["validate", "test/cli/fixtures/warned-kubevirt.yaml"] },
  { name: "warned-kubevirt-strict", args: ["validate", "--strict", "test/cli/fixtures/warned-kubevirt.yaml"] },
  { name: "denied-virtink", args: ["validate", "test/cli/fixtures/denied-virtink.yaml"] },
  { name: "two-vms", args: ["validate", "test/cli/fixtures/two-vms.yaml"] },
  {
    name: "virtink-update",
    args: ["validate", "--old", "test/cli/fixtures/virtink-old.yaml", "test/cli/fixtures/virtink-new.yaml"],
  },
  { name: "slirp-discontinued", args: ["validate", "examples/kubevirt/slirp.yaml"] },
  {
    name: "bridge-default-refused",
    args: [
      "validate",
      "--kubevirt-config",
      "examples/kubevirt/kubevirt-cr-no-pod-bridge.yaml",
      "examples/kubevirt/bridge-default-refused.yaml",
    ],
  },
  { name: "syntax-error", args: ["validate", "test/cli/fixtures/syntax-error.txt"] },
];

const update = process.env.UPDATE_GOLDEN === "1";

describe("vmnet text output (golden files in test/cli/golden; UPDATE_GOLDEN=1 rewrites them)", {
  concurrency: 3,
}, () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const r = await vmnet(c.args);
      const got = `$ vmnet ${c.args.join(" ")}\nexit ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
      const file = join(ROOT, "test/cli/golden", `${c.name}.txt`);
      if (update || !existsSync(file)) {
        assert.ok(update, `${file} is missing; run with UPDATE_GOLDEN=1 to create it`);
        writeFileSync(file, got);
        return;
      }
      assert.equal(got, readFileSync(file, "utf8"));
    });
  }
});
