import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { AgentClient, ensureAgent } from "../../src/agent/client.ts";
import { agentPaths } from "../../src/agent/paths.ts";
import { parseAgentArgs, runAgentCommand } from "../../src/cli/agent.ts";
import { UsageError } from "../../src/cli/args.ts";
import { waitFor } from "../runtime/dhcp/harness.ts";
import { cleanupAgent, stateDir } from "./helpers.ts";

const VMNET = fileURLToPath(new URL("../../bin/vmnet", import.meta.url));
const io = { stdout: () => undefined, stderr: () => undefined };

function vmnet(args: readonly string[]) {
  const child = spawn(VMNET, [...args], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (c: string) => {
    stderr += c;
  });
  const exit = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.once("exit", (code) => resolve({ code, stderr })),
  );
  return { child, exit };
}

describe("vmnet agent", () => {
  it("parses run with and without --state-dir", () => {
    assert.deepEqual(parseAgentArgs(["run"]), { stateDir: "/run/vmnet" });
    assert.deepEqual(parseAgentArgs(["run", "--state-dir", "/tmp/x"]), { stateDir: "/tmp/x" });
    assert.deepEqual(parseAgentArgs(["run", "--state-dir=/tmp/y"]), { stateDir: "/tmp/y" });
  });

  const usage: { name: string; argv: string[] }[] = [
    { name: "no subcommand", argv: [] },
    { name: "an unknown subcommand", argv: ["stop"] },
    { name: "a positional argument", argv: ["run", "extra"] },
    { name: "an unknown flag", argv: ["run", "--bogus"] },
    { name: "--state-dir without a value", argv: ["run", "--state-dir"] },
  ];
  for (const c of usage) {
    it(`refuses ${c.name} as a usage error`, async () => {
      assert.throws(() => parseAgentArgs(c.argv), UsageError);
      await assert.rejects(runAgentCommand(c.argv, io), UsageError);
    });
  }

  it("run serves in the foreground until SIGTERM, then exits 0 having removed socket and pidfile", async () => {
    const dir = stateDir();
    const { child, exit } = vmnet(["agent", "run", "--state-dir", dir]);
    try {
      const client = await waitFor(
        "the agent to answer",
        () => AgentClient.connect(agentPaths(dir).socket).catch(() => undefined),
        30_000,
      );
      assert.equal((await client.ping()).pid, child.pid);
      client.close();
      child.kill("SIGTERM");
      const { code } = await exit;
      assert.equal(code, 0);
      assert.equal(existsSync(agentPaths(dir).socket), false);
      assert.equal(existsSync(agentPaths(dir).pidfile), false);
    } finally {
      child.kill("SIGKILL");
      await cleanupAgent(dir);
    }
  });

  it("run with a bad flag exits 2 with a usage message", async () => {
    const { code, stderr } = await vmnet(["agent", "run", "--bogus"]).exit;
    assert.equal(code, 2);
    assert.match(stderr, /^vmnet agent: Unknown flag "--bogus"/);
  });

  it("run exits 1 naming the running agent when another one serves the state directory", async () => {
    const dir = stateDir();
    const client = await ensureAgent({ stateDir: dir });
    const { pid } = await client.ping();
    client.close();
    try {
      const { code, stderr } = await vmnet(["agent", "run", "--state-dir", dir]).exit;
      assert.equal(code, 1);
      assert.match(stderr, new RegExp(`^vmnet agent: Cannot run the agent: agent pid ${pid} serves "${dir}"\\n$`));
    } finally {
      await cleanupAgent(dir, [pid]);
    }
  });
});
