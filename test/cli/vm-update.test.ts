/**
 * `vmnet update` as a real process without a lab: usage errors exit 2, a denied spec and a VM that does not exist or
 * does not run exit 1 with one line, and nothing is created. The specs of examples/vm-e2e/update (which
 * test/vm-e2e/update.test.ts applies to a real guest) validate as their `# vmnet-expect:` lines record.
 */
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { TestLab } from "../support/vm-lab.ts";
import { ROOT } from "./run.ts";

// No lab is ever created: the tests only need vmnet run against a private, empty state directory.
const lab = new TestLab("vmnt-update-", { timeout: 60_000 });
const STATE = lab.state;
const vmnet = (...args: string[]) => lab.vmnet(...args);
after(() => rmSync(STATE, { recursive: true, force: true }));

const DIR = "examples/vm-e2e/update";

describe("vmnet update: usage errors exit 2 and create nothing", () => {
  const cases = [
    { args: ["update"], stderr: /^vmnet update: "vmnet update" needs -f VM\.yaml$/m },
    { args: ["update", "a.yaml", "b.yaml"], stderr: /^vmnet update: "vmnet update" takes one VM file$/m },
    { args: ["update", "-f", "a.yaml", "b.yaml"], stderr: /^vmnet update: "vmnet update" takes one VM file$/m },
    { args: ["update", "-f", "no-such.yaml"], stderr: /no-such\.yaml: cannot read: no such file/ },
  ];
  for (const c of cases) {
    test(`vmnet ${c.args.join(" ")}`, async () => {
      const r = await vmnet(...c.args);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, c.stderr);
      assert.equal(r.stdout, "");
      assert.deepEqual(readdirSync(STATE), [], "nothing was created");
    });
  }
});

describe("vmnet update: failures exit 1 with one line", () => {
  test("a spec the webhook denies is refused", async () => {
    const r = await vmnet("update", "-f", "examples/kubevirt/slirp.yaml");
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^vmnet update: Slirp interface support has been discontinued/m);
    assert.deepEqual(readdirSync(STATE), []);
  });

  test("a VM that does not exist", async () => {
    const r = await vmnet("update", "-f", `${DIR}/2-link-up.yaml`);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, `vmnet update: Cannot find VM "e2e-upd" in "${STATE}"\n`);
    assert.deepEqual(readdirSync(STATE), [], "no VM directory was made for it");
  });

  test("a VM whose up did not finish", async () => {
    const dir = join(STATE, "vms", "e2e-upd");
    mkdirSync(dir, { recursive: true });
    const record = {
      version: 1,
      name: "e2e-upd",
      namespace: "default",
      phase: "Creating",
      pod: "virt-launcher-e2e-upd",
      netns: "vmnt-none-virt-launcher-e2e-upd",
      podKey: "vmnt-none-virt-launcher-e2e-upd",
      podIPs: [],
      nics: [],
      bindings: {},
      linkStates: {},
    };
    writeFileSync(join(dir, "vm.json"), JSON.stringify(record));
    try {
      const r = await vmnet("update", "-f", `${DIR}/2-link-up.yaml`);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr, 'vmnet update: Cannot update VM "e2e-upd": it is not running (phase Creating)\n');
      assert.equal(readFileSync(join(dir, "vm.json"), "utf8"), JSON.stringify(record), "the record is unchanged");
    } finally {
      rmSync(join(STATE, "vms"), { recursive: true, force: true });
    }
  });

  test("the help names the command", async () => {
    const r = await vmnet("help");
    assert.match(r.stdout, /^ {2}update {5}Apply a changed spec to a running VM/m);
    assert.match(r.stdout, /^vmnet update -f VM\.yaml \[--nad FILE\]\.\.\. \[--kubevirt-config FILE\]$/m);
  });
});

describe(DIR, () => {
  const files = readdirSync(join(ROOT, DIR))
    .filter((f) => f.endsWith(".yaml"))
    .sort();
  test("holds the steps update.test.ts applies", () => {
    assert.deepEqual(files, [
      "1-link-down.yaml",
      "2-link-up.yaml",
      "3-plug.yaml",
      "4-unplug.yaml",
      "5-no-free-port.yaml",
      "nad-upd.yaml",
      "restart-model.yaml",
    ]);
  });
  for (const f of files) {
    const file = `${DIR}/${f}`;
    const expect = (/^# vmnet-expect: *(.*)$/m.exec(readFileSync(join(ROOT, file), "utf8"))?.[1] ?? "")
      .trim()
      .split(/\s+/);
    test(`${file} is ${expect.join(" ")}`, async () => {
      const [outcome, ...args] = expect;
      const r = await vmnet("validate", ...args, file);
      if (outcome === "config") {
        assert.equal(r.code, 2, "a NAD alone holds no VM to admit");
        assert.match(r.stderr, /no VirtualMachine or VirtualMachineInstance in this file/);
        return;
      }
      assert.equal(outcome, "allowed");
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /: allowed$/m);
    });
  }
});
