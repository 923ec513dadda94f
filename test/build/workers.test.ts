/**
 * Worker modules started from the bundle: test/lab/tap-relay.test.ts bundled with vmnet's entries where tsx is not
 * installed, so `startTapRelay` (which passes its own module URL) must get the bundled tap relay as its worker.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { rootSkipReason } from "../runtime/dhcp/harness.ts";
import { type IsolatedBundle, isolatedBundle } from "./isolated.ts";

const run = promisify(execFile);

describe("bundled worker modules", { skip: rootSkipReason() }, () => {
  let built: IsolatedBundle | undefined;
  before(async () => {
    built = await isolatedBundle({ "tap-relay-test": "test/lab/tap-relay.test.ts" });
  });
  after(() => built?.remove());

  it("runs the tap relay's own tests from the bundle without tsx", async () => {
    const { stdout } = await run(
      process.execPath,
      ["--test", "--test-reporter=tap", join(built?.outdir ?? "", "tap-relay-test.mjs")],
      // Without the runner's context variable, which would make the inner runner report to ours instead of stdout.
      {
        timeout: 60_000,
        env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "NODE_TEST_CONTEXT")),
      },
    );
    assert.match(stdout, /^# pass [1-9]/m, stdout);
    assert.match(stdout, /^# fail 0$/m, stdout);
    assert.match(stdout, /^# skipped 0$/m, stdout);
  });
});
