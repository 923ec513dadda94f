/**
 * bin/vmnet's bundle (scripts/build.mjs), run in a copy of the repository so a rebuild never races the real
 * `.cache/dist`: built on first use, rebuilt when a source changes, one consistent result when first runs race, an
 * older build kept while a process runs from it, and the same output as running the sources through tsx.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ROOT } from "../../scripts/build.mjs";

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function runIn(cwd: string, command: string, args: readonly string[], input = ""): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, [...args], { cwd, encoding: "utf8" }, (error, stdout, stderr) => {
      const code = error && typeof error.code === "number" ? error.code : error ? -1 : 0;
      if (code === -1) reject(error);
      else resolve({ code, stdout, stderr });
    });
    child.stdin?.end(input);
  });
}

/** A copy of what the bundle is built from, with the real node_modules linked in. */
function copyRepo(): string {
  const dir = mkdtempSync(join(tmpdir(), "vmnt-build-"));
  for (const path of ["src", "bin", "scripts", "examples", "test/cli/fixtures"]) {
    cpSync(join(ROOT, path), join(dir, path), { recursive: true });
  }
  for (const file of ["package.json", "package-lock.json", "tsconfig.json"]) cpSync(join(ROOT, file), join(dir, file));
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  return dir;
}

const buildId = (dir: string) => readFileSync(join(dir, ".cache", "dist", "stamp"), "utf8").trim();
const builds = (dir: string) => readdirSync(join(dir, ".cache", "builds")).sort();
const vmnet = (dir: string, args: readonly string[], input = "") => runIn(dir, join(dir, "bin", "vmnet"), args, input);
const tsx = (dir: string, args: readonly string[], input = "") =>
  runIn(
    dir,
    process.execPath,
    ["--import", "tsx", "--no-warnings", join(dir, "src", "cli", "main.ts"), ...args],
    input,
  );

const EXAMPLE = "examples/kubevirt/masquerade-ports.yaml";

describe("bin/vmnet bundle", { concurrency: false }, () => {
  const dirs: string[] = [];
  const fresh = () => {
    const dir = copyRepo();
    dirs.push(dir);
    return dir;
  };
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  describe("in one copy", { concurrency: false }, () => {
    let dir = "";
    before(() => {
      dir = fresh();
    });

    it("builds on first use, then reuses the build", async () => {
      const first = await vmnet(dir, ["validate", EXAMPLE]);
      assert.equal(first.code, 0, first.stderr);
      assert.equal(first.stdout, `${EXAMPLE}: VirtualMachine "masquerade-ports": allowed\n`);
      const id = buildId(dir);
      assert.ok(existsSync(join(dir, ".cache", "builds", id, "vmnet.mjs")));
      assert.ok(existsSync(join(dir, ".cache", "builds", id, "tap-relay.mjs")));
      await vmnet(dir, ["validate", EXAMPLE]);
      assert.equal(buildId(dir), id);
      assert.deepEqual(builds(dir), [id]);
    });

    it("rebuilds when a source changes and removes the old build", async () => {
      const before = buildId(dir);
      const main = join(dir, "src", "cli", "main.ts");
      const text = readFileSync(main, "utf8");
      assert.ok(text.includes("Usage: vmnet"));
      writeFileSync(main, text.replace("Usage: vmnet", "Usage (changed): vmnet"));
      // Newer than the stamp whatever the file system's timestamp granularity.
      const later = new Date(statSync(join(dir, ".cache", "dist", "stamp")).mtimeMs + 2000);
      utimesSync(main, later, later);
      const r = await vmnet(dir, ["help"]);
      assert.match(r.stdout + r.stderr, /^Usage \(changed\): vmnet/m);
      assert.notEqual(buildId(dir), before);
      assert.deepEqual(builds(dir), [buildId(dir)]);
    });

    it("rebuilds when a source file is added", async () => {
      const before = buildId(dir);
      // A new file changes its directory's mtime even when nothing imports it yet.
      writeFileSync(join(dir, "src", "api", "zz-new.ts"), "export const x = 1;\n");
      const later = new Date(statSync(join(dir, ".cache", "dist", "stamp")).mtimeMs + 2000);
      utimesSync(join(dir, "src", "api"), later, later);
      assert.equal((await vmnet(dir, ["validate", EXAMPLE])).code, 0);
      assert.notEqual(buildId(dir), before);
    });

    it("keeps a build while a process runs from it", async () => {
      const old = buildId(dir);
      // `validate -` waits for standard input: a process that runs from the old build for as long as we like.
      const child = spawn(process.execPath, [join(dir, ".cache", "builds", old, "vmnet.mjs"), "validate", "-"], {
        cwd: dir,
        stdio: ["pipe", "pipe", "pipe"],
      });
      let out = "";
      child.stdout.on("data", (b: Buffer) => {
        out += b.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
      try {
        const later = new Date(statSync(join(dir, ".cache", "dist", "stamp")).mtimeMs + 2000);
        utimesSync(join(dir, "src", "api", "zz-new.ts"), later, later);
        assert.equal((await vmnet(dir, ["validate", EXAMPLE])).code, 0);
        assert.notEqual(buildId(dir), old);
        assert.deepEqual(builds(dir), [old, buildId(dir)].sort());
        child.stdin.end(readFileSync(join(dir, EXAMPLE)));
        assert.equal(await exited, 0);
        assert.equal(out, `-: VirtualMachine "masquerade-ports": allowed\n`);
      } finally {
        child.kill();
      }
      // The next build prunes it.
      const later = new Date(statSync(join(dir, ".cache", "dist", "stamp")).mtimeMs + 2000);
      utimesSync(join(dir, "src", "api", "zz-new.ts"), later, later);
      assert.equal((await vmnet(dir, ["validate", EXAMPLE])).code, 0);
      assert.deepEqual(builds(dir), [buildId(dir)]);
    });

    // One entry per command: the bundle must print exactly what the sources print.
    const commands: readonly { readonly name: string; readonly args: readonly string[]; readonly input?: string }[] = [
      { name: "validate (text)", args: ["validate", EXAMPLE] },
      { name: "validate -o json, denied", args: ["validate", "-o", "json", "test/cli/fixtures/denied-kubevirt.yaml"] },
      { name: "validate -o yaml, warned", args: ["validate", "-o", "yaml", "test/cli/fixtures/warned-kubevirt.yaml"] },
      { name: "default -o yaml", args: ["default", "-o", "yaml", "examples/kubevirt/pod-masquerade.yaml"] },
      { name: "validate from standard input", args: ["validate", "-"], input: "kind: Nope\n" },
      { name: "unreadable input", args: ["validate", "test/cli/fixtures/syntax-error.txt"] },
      { name: "unknown command", args: ["frobnicate"] },
      { name: "help", args: ["help"] },
    ];
    for (const c of commands) {
      it(`prints what tsx prints: ${c.name}`, async () => {
        const [bundled, sources] = await Promise.all([vmnet(dir, c.args, c.input), tsx(dir, c.args, c.input)]);
        assert.deepEqual(bundled, sources);
        // The bundle ran, not the tsx fallback.
        assert.equal(existsSync(join(dir, ".cache", "build.log")), false);
      });
    }
  });

  it("builds once and gives every racing first run the same result", async () => {
    const dir = fresh();
    const runs = await Promise.all(Array.from({ length: 6 }, () => vmnet(dir, ["validate", EXAMPLE])));
    for (const r of runs) {
      assert.deepEqual(r, { code: 0, stdout: `${EXAMPLE}: VirtualMachine "masquerade-ports": allowed\n`, stderr: "" });
    }
    assert.deepEqual(builds(dir), [buildId(dir)]);
    assert.equal(existsSync(join(dir, ".cache", "build.lock")), false);
    assert.equal(existsSync(join(dir, ".cache", "build.log")), false);
  });
});
