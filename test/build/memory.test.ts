/**
 * What a pod costs when vmnet runs from its bundle: test/runtime/dhcp/fixtures/measure-memory.ts bundled with the
 * worker entries (scripts/build.mjs) where tsx is not installed and run by plain node, so the agent must start the
 * bundled pod worker.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { rootSkipReason } from "../runtime/dhcp/harness.ts";
import { type IsolatedBundle, isolatedBundle } from "./isolated.ts";

const run = promisify(execFile);

interface Measurement {
  readonly pods: number;
  readonly rssOnePodMiB: number;
  readonly rssPerPodMiB: number;
  readonly heapPerWorkerMiB: number;
  readonly firstStartMs: number;
  readonly startMsPerPod: number;
}

// Measured 8.8 MiB per pod at 20 pods when bundled (an empty Node 20 worker alone costs 7.9 MiB); this bound catches
// a worker that loads tsx again (about 25 MiB) or much more code than the DHCP servers.
const BUNDLED_RSS_PER_POD_MIB = 14;
const BUNDLED_RSS_ONE_POD_MIB = 18;

describe("bundled pod worker memory", { skip: rootSkipReason() }, () => {
  let built: IsolatedBundle | undefined;
  before(async () => {
    built = await isolatedBundle({ "measure-memory": "test/runtime/dhcp/fixtures/measure-memory.ts" });
  });
  after(() => built?.remove());

  for (const pods of [1, 20]) {
    it(`costs at most ${BUNDLED_RSS_PER_POD_MIB} MiB of RSS per pod with ${pods} pod(s) serving DHCPv4, DHCPv6 and RA`, async (t) => {
      const { stdout } = await run(
        process.execPath,
        ["--expose-gc", join(built?.outdir ?? "", "measure-memory.mjs"), String(pods), randomBytes(3).toString("hex")],
        { env: { ...process.env, UV_THREADPOOL_SIZE: String(pods + 8) }, timeout: 60_000 },
      );
      const m = JSON.parse(stdout) as Measurement;
      t.diagnostic(JSON.stringify(m));
      assert.equal(m.pods, pods);
      assert.ok(m.rssOnePodMiB > 0 && m.rssOnePodMiB <= BUNDLED_RSS_ONE_POD_MIB, JSON.stringify(m));
      if (pods > 1) assert.ok(m.rssPerPodMiB > 0 && m.rssPerPodMiB <= BUNDLED_RSS_PER_POD_MIB, JSON.stringify(m));
      assert.ok(m.heapPerWorkerMiB <= 8, JSON.stringify(m));
    });
  }
});
