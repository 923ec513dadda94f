import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { admitVm, combineAdmissions, defaultVm } from "../../src/admission/admit.ts";
import { clusterConfigFromKubeVirt } from "../../src/api/kubevirt-cr.ts";
import { loadObjects } from "../../src/api/load.ts";
import { decodeNad } from "../../src/api/nad.ts";
import { type InputFiles, readInputs } from "../../src/cli/input.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const EXAMPLES = join(ROOT, "examples");

/** Every example YAML file, relative to the repository root. */
function exampleFiles(): string[] {
  const out: string[] = [];
  for (const dir of readdirSync(EXAMPLES, { withFileTypes: true })) {
    if (!dir.isDirectory()) continue;
    for (const f of readdirSync(join(EXAMPLES, dir.name))) {
      if (f.endsWith(".yaml")) out.push(relative(ROOT, join(EXAMPLES, dir.name, f)));
    }
  }
  return out.sort();
}

const OUTCOMES = ["allowed", "warned", "denied", "config"] as const;
type Outcome = (typeof OUTCOMES)[number];

interface Expectation {
  readonly outcome: Outcome;
  readonly kubevirtConfig?: string;
  readonly nads: string[];
  readonly line: string;
}

/** Reads the `# vmnet-expect: <outcome> [--kubevirt-config FILE] [--nad FILE]...` lines of an example. */
function expectations(file: string): Expectation[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  return [...text.matchAll(/^# vmnet-expect: *(.*)$/gm)].map((m) => {
    const line = m[1] ?? "";
    const [outcome, ...args] = line.trim().split(/\s+/);
    assert.ok(OUTCOMES.includes(outcome as Outcome), `${file}: unknown outcome in "${line}"`);
    let kubevirtConfig: string | undefined;
    const nads: string[] = [];
    for (let i = 0; i < args.length; i += 2) {
      const value = args[i + 1];
      assert.ok(value, `${file}: "${args[i]}" needs a value in "${line}"`);
      if (args[i] === "--kubevirt-config") kubevirtConfig = value;
      else if (args[i] === "--nad") nads.push(value);
      else assert.fail(`${file}: unknown argument "${args[i]}" in "${line}"`);
    }
    return { outcome: outcome as Outcome, ...(kubevirtConfig ? { kubevirtConfig } : {}), nads, line };
  });
}

/** A deterministic random source that never repeats within a run, so generated MACs stay distinct. */
function counterBytes(): (n: number) => Uint8Array {
  let next = 0;
  return (n) => Uint8Array.from({ length: n }, (_, i) => (i === n - 1 ? ++next : 0));
}

function admit(file: string, e: Expectation, strict: boolean) {
  const files: InputFiles = {
    main: join(ROOT, file),
    ...(e.kubevirtConfig ? { kubevirtConfig: join(ROOT, e.kubevirtConfig) } : {}),
    nads: e.nads.map((n) => join(ROOT, n)),
  };
  const inputs = readInputs(files);
  const objects = inputs.vms.map((vm) =>
    admitVm(vm, { config: inputs.config, nads: inputs.nads, strict, randomBytes: counterBytes() }),
  );
  return { inputs, admission: combineAdmissions(objects) };
}

const files = exampleFiles();

describe("examples", () => {
  it("are there, one directory per dialect or object type", () => {
    assert.ok(files.some((f) => f.startsWith("examples/kubevirt/")));
    assert.ok(files.some((f) => f.startsWith("examples/virtink/")));
    assert.ok(files.some((f) => f.startsWith("examples/nads/")));
  });
  it("are all listed in examples/README.md", () => {
    const readme = readFileSync(join(EXAMPLES, "README.md"), "utf8");
    for (const f of files) assert.ok(readme.includes(relative("examples", f)), `${f} is not in examples/README.md`);
  });
  for (const file of files) {
    describe(file, () => {
      const expected = expectations(file);
      it("records its expected outcome", () => assert.ok(expected.length > 0, "no # vmnet-expect: line"));
      for (const e of expected) {
        if (e.outcome === "config") {
          it("is a KubeVirt CR or NADs that decode cleanly", () => {
            const objs = loadObjects(readFileSync(join(ROOT, file), "utf8"), file);
            assert.ok(objs.length > 0);
            for (const o of objs) {
              if (o.kind === "kubevirt-cr") assert.deepEqual(clusterConfigFromKubeVirt(o.doc.value).causes, []);
              else if (o.kind === "nad") assert.deepEqual(decodeNad(o.doc.value).causes, []);
              else assert.fail(`a "config" example holds a ${o.kind}`);
            }
          });
          continue;
        }
        it(`is ${e.line}`, () => {
          const { admission } = admit(file, e, false);
          const summary = JSON.stringify({
            causes: admission.causes,
            warnings: admission.warnings,
            message: admission.message,
          });
          if (e.outcome === "denied") {
            assert.equal(admission.allowed, false, summary);
            return;
          }
          assert.equal(admission.allowed, true, summary);
          // KubeVirt's own warnings (e.g. spec.running deprecated) do not count: only vmnet's findings warn.
          const findings = admission.objects.flatMap((o) => o.findings);
          const strict = admit(file, e, true).admission.allowed;
          if (e.outcome === "allowed") {
            assert.deepEqual(findings, []);
            assert.equal(strict, true, "--strict denies it");
          } else {
            assert.ok(findings.length > 0, "no vmnet warning");
            assert.equal(strict, false, "--strict allows it");
          }
        });
        if (e.outcome !== "denied") {
          it(`defaults cleanly (${e.line})`, () => {
            const { inputs } = admit(file, e, false);
            for (const vm of inputs.vms) {
              const d = defaultVm(vm, { config: inputs.config });
              assert.equal(d.allowed, true);
            }
          });
        }
      }
    });
  }
});
