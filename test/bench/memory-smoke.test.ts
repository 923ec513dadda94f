/**
 * bench/memory.ts in a tiny configuration, so its code cannot rot: it must serve every pod, print its table and
 * verdict, and leave no namespace behind. The numbers are never asserted (the target belongs to the benchmark).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { missingPrerequisite } from "../../bench/lib.ts";
import { parseMemoryArgs } from "../../bench/memory.ts";
import { listNetns } from "../../src/host/netns.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "bench/memory.ts", ...args], { cwd: ROOT });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("close", (code) =>
      resolve({ code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") }),
    );
  });
}

describe("bench/memory.ts in a tiny configuration", { skip: missingPrerequisite(["ip"]) }, () => {
  it("runMemoryBench serves 1 and then 2 pods, prints a row for each and the verdict", async () => {
    const r = await runBench(["--pods", "2,1"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^pods +RSS MiB +per pod MiB +RSS\/pods MiB +start ms\/pod +idle CPU %$/m);
    assert.match(r.stdout, /^1 +[0-9.]+ +[-0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+$/m);
    assert.match(r.stdout, /^2 +[0-9.]+ +[-0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+$/m);
    assert.match(r.stdout, /^per pod at most [-0-9.]+ MiB; target \(per pod <= 8 MiB\): (met|NOT met)$/m);
    const prefix = /namespaces: (vmnt-bn-[0-9a-f]+-)\*/.exec(r.stdout)?.[1];
    assert.ok(prefix !== undefined, "the run names its namespace prefix");
    assert.deepEqual(
      (await listNetns()).filter((n) => n.startsWith(prefix)),
      [],
    );
  });
});

describe("parseMemoryArgs", () => {
  const cases: [string[], { counts: number[]; json: boolean }][] = [
    [[], { counts: [1, 20, 50], json: false }],
    [["--pods", "3,7", "--json"], { counts: [3, 7], json: true }],
  ];
  for (const [argv, want] of cases) {
    it(`reads ${JSON.stringify(argv)}`, () => {
      assert.deepEqual(parseMemoryArgs(argv), want);
    });
  }

  it("refuses a pod count of 0", () => {
    assert.throws(() => parseMemoryArgs(["--pods", "0"]), /Invalid value "0" for "--pods"/);
  });
});
