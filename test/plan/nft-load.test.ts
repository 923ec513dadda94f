/**
 * Loads every golden plan's ruleset into a real kernel, in a network namespace this test creates: the rendered text
 * must pass `nft -c`, and the JSON transaction must load, twice, leaving exactly the planned rules.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { NftRuleset } from "../../src/plan/nft.ts";
import { renderNftJson, renderNftText } from "../../src/plan/nft.ts";
import { GOLDEN } from "./golden.ts";

const NS = `vmnt-plan-${randomBytes(4).toString("hex")}`;
const canRun = process.getuid?.() === 0;
let dir = "";

function inNs(args: string[]): string {
  return execFileSync("ip", ["netns", "exec", NS, ...args], { encoding: "utf8", stdio: "pipe" });
}

/** nft reads `-f -` through /dev/stdin, which cannot be opened on node's socket pipes: use a file. */
function load(flags: string[], text: string): void {
  const file = join(dir, `${randomBytes(4).toString("hex")}.nft`);
  writeFileSync(file, text);
  try {
    inNs(["nft", ...flags, "-f", file]);
  } finally {
    rmSync(file);
  }
}

describe("golden rulesets in a real kernel", { skip: !canRun && "needs root for a network namespace" }, () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "vmnt-plan-"));
    execFileSync("ip", ["netns", "add", NS]);
  });
  after(() => {
    execFileSync("ip", ["netns", "delete", NS]);
    rmSync(dir, { recursive: true, force: true });
  });

  // Only whole network plans carry a ruleset; the passthrough goldens (SR-IOV, vDPA, vhost-user) hold other plans.
  const goldens = readdirSync(GOLDEN).filter(
    (f) => f.endsWith(".json") && "nft" in (JSON.parse(readFileSync(join(GOLDEN, f), "utf8")) as object),
  );
  it("finds the planPod goldens to load", () => assert.ok(goldens.length > 0, `no ruleset among ${GOLDEN}/*.json`));
  for (const file of goldens) {
    it(`loads ${file} idempotently`, () => {
      const ruleset = (JSON.parse(readFileSync(join(GOLDEN, file), "utf8")) as { nft: NftRuleset }).nft;
      inNs(["nft", "flush", "ruleset"]);
      load(["-c"], renderNftText(ruleset));
      const json = JSON.stringify(renderNftJson(ruleset));
      load(["-j"], json);
      load(["-j"], json);
      const listed = JSON.parse(inNs(["nft", "-j", "list", "ruleset"])) as { nftables: Record<string, unknown>[] };
      const rules = listed.nftables.filter((o) => "rule" in o).length;
      const planned = ruleset.tables.reduce((n, t) => n + t.chains.reduce((m, c) => m + c.rules.length, 0), 0);
      assert.equal(rules, planned);
      const sets = listed.nftables.filter((o) => "set" in o).length;
      assert.equal(
        sets,
        ruleset.tables.reduce((n, t) => n + t.sets.length, 0),
      );
    });
  }
});
