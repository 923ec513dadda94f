/**
 * bench/memory.ts in a tiny configuration, so its code cannot rot: it must serve every pod, print its table and
 * verdict, and leave no namespace behind. The numbers are never asserted (the target belongs to the benchmark).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { missingPrerequisite } from "../../bench/lib.ts";
import { parseMemoryArgs } from "../../bench/memory.ts";
import { leftNamespaces, runBench } from "./run.ts";

describe("bench/memory.ts in a tiny configuration", { skip: missingPrerequisite(["ip"]) }, () => {
  it("runMemoryBench serves 1 and then 2 pods, prints a row for each and the verdict", async () => {
    const r = await runBench("bench/memory.ts", ["--pods", "2,1"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^pods +RSS MiB +per pod MiB +RSS\/pods MiB +start ms\/pod +idle CPU %$/m);
    assert.match(r.stdout, /^1 +[0-9.]+ +[-0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+$/m);
    assert.match(r.stdout, /^2 +[0-9.]+ +[-0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+$/m);
    assert.match(r.stdout, /^per pod at most [-0-9.]+ MiB; target \(per pod <= 8 MiB\): (met|NOT met)$/m);
    assert.deepEqual(await leftNamespaces(r.stdout), []);
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
