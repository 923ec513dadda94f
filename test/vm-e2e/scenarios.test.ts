/**
 * The VM specs and NADs of examples/vm-e2e/scenarios (booted by seeds.test.ts) give what their `# vmnet-expect:`
 * line records: `vmnet validate` allows the VMs with the NADs named there, and the NADs are configuration only.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ROOT, vmnet } from "../cli/run.ts";

const DIR = "examples/vm-e2e/scenarios";

/** Each scenario file with the words of its `# vmnet-expect:` line. */
const FILES = readdirSync(join(ROOT, DIR))
  .filter((f) => f.endsWith(".yaml"))
  .sort()
  .map((f) => {
    const line = /^# vmnet-expect: *(.*)$/m.exec(readFileSync(join(ROOT, DIR, f), "utf8"))?.[1] ?? "";
    return { file: `${DIR}/${f}`, expect: line.trim().split(/\s+/) };
  });

describe("examples/vm-e2e/scenarios", () => {
  test("holds the scenarios seeds.test.ts boots", () => {
    assert.ok(FILES.length >= 9, FILES.map((f) => f.file).join(", "));
  });

  for (const { file, expect } of FILES) {
    const [outcome, ...args] = expect;
    test(`${file} is ${expect.join(" ")}`, async () => {
      if (outcome === "config") {
        const r = await vmnet(["validate", file]);
        assert.equal(r.code, 2, "a NAD alone holds no VM to admit");
        assert.match(r.stderr, /no VirtualMachine or VirtualMachineInstance in this file/);
        assert.match(readFileSync(join(ROOT, file), "utf8"), /^kind: NetworkAttachmentDefinition$/m);
        return;
      }
      assert.equal(outcome, "allowed", `${file}: unexpected outcome "${outcome}"`);
      const r = await vmnet(["validate", ...args, file]);
      assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /: allowed$/m);
      assert.doesNotMatch(r.stdout, /warn/i);
    });
  }
});
