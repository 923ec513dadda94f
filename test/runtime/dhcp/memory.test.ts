/**
 * What the DHCP agent's process costs with 1, 20 and 50 pods each served (DHCPv4, DHCPv6 and RA), measured by
 * bench/memory.ts in a process of its own. The numbers are printed, not asserted (they depend on the machine); the
 * test asserts that every step completed with every pod serving, which the benchmark checks before it measures.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { MemoryReport } from "../../../bench/memory.ts";
import { rootSkipReason } from "./harness.ts";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

describe("DhcpAgent memory with 1, 20 and 50 pods", { skip: rootSkipReason() }, () => {
  it("serves every pod at each step and reports the process's RSS", async (t) => {
    const { stdout } = await run(
      process.execPath,
      ["--import", "tsx", "bench/memory.ts", "--pods", "1,20,50", "--json"],
      { cwd: ROOT, timeout: 120_000 },
    );
    const report = JSON.parse(stdout) as MemoryReport;
    for (const p of report.points) {
      t.diagnostic(
        `${p.pods} pods: RSS ${p.rssMiB.toFixed(1)} MiB, ${p.perPodMiB.toFixed(2)} MiB per pod over ${report.baseRssMiB.toFixed(1)} MiB before the first`,
      );
    }
    assert.deepEqual(
      report.points.map((p) => p.pods),
      [1, 20, 50],
    );
  });
});
