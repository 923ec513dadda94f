/**
 * Golden-file checks shared by the plan tests: each compares what a run produces with the file committed under
 * `golden/`, and rewrites the file first only when UPDATE_GOLDEN=1.
 */

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { renderNftText } from "../../src/plan/nft.ts";
import type { NetworkPlan } from "../../src/plan/plan.ts";

/** The folder of the committed golden files. */
export const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), "golden");
const UPDATE = process.env.UPDATE_GOLDEN === "1";

/** Asserts that `actual` is the text of `golden/<file>` (rewritten first under UPDATE_GOLDEN=1). */
export function assertGolden(file: string, actual: string): void {
  const path = join(GOLDEN, file);
  if (UPDATE) {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(path, actual);
  }
  assert.equal(actual, readFileSync(path, "utf8"), `golden ${file} differs (UPDATE_GOLDEN=1 to rewrite)`);
}

/** Asserts that a planPod result is `golden/<name>.json` (as JSON) and its ruleset `golden/<name>.nft` (as text). */
export function assertPlanGolden(name: string, plan: NetworkPlan): void {
  const json = JSON.parse(JSON.stringify(plan)) as unknown;
  const nft = renderNftText(plan.nft);
  const jsonPath = join(GOLDEN, `${name}.json`);
  const nftPath = join(GOLDEN, `${name}.nft`);
  if (UPDATE) {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(jsonPath, `${JSON.stringify(json, null, 2)}\n`);
    writeFileSync(nftPath, nft);
    // Keep rewritten files in the layout `biome check` wants; the comparison below parses them anyway.
    execFileSync("npx", ["biome", "format", "--write", jsonPath], { stdio: "ignore" });
  }
  assert.deepEqual(json, JSON.parse(readFileSync(jsonPath, "utf8")));
  assert.equal(nft, readFileSync(nftPath, "utf8"));
}
