/** Running a benchmark script the way a person does, for the smoke tests of test/bench. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { listNetns } from "../../src/host/netns.ts";

/** The repository root, where the benchmarks run from. */
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Runs `node --import tsx <script> args` from the repository root; resolves with its exit code and output. */
export function runBench(
  script: string,
  args: readonly string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", script, ...args], { cwd: ROOT });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("close", (code) =>
      resolve({ code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") }),
    );
  });
}

/** The `vmnt-bn-<hex>-` prefix a run printed, and the namespaces with it that still exist. */
export async function leftNamespaces(stdout: string): Promise<string[]> {
  const m = /namespaces: (vmnt-bn-[0-9a-f]+-)\*/.exec(stdout);
  assert.ok(m?.[1] !== undefined, "the run names its namespace prefix");
  const prefix = m[1];
  return (await listNetns()).filter((n) => n.startsWith(prefix));
}
