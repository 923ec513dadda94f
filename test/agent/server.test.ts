/**
 * runAgent in this process: the lock against a second agent, and what it does with its pod record at start (pods in
 * namespaces that are gone are dropped, pods that fail to start are retried and can be stopped, an unreadable record
 * is moved aside). Needs root for the one namespace it creates.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import { AgentClient } from "../../src/agent/client.ts";
import { agentPaths } from "../../src/agent/paths.ts";
import { AgentError, AgentErrorCode } from "../../src/agent/protocol.ts";
import { readRecord, writeRecord } from "../../src/agent/record.ts";
import { ADOPTING, type RunningAgent, runAgent } from "../../src/agent/server.ts";
import { rootSkipReason, waitFor } from "../runtime/dhcp/harness.ts";
import { cleanupAgent, stateDir } from "./helpers.ts";

async function started(dir: string, log: string[]): Promise<{ agent: RunningAgent; client: AgentClient }> {
  const agent = await runAgent({
    stateDir: dir,
    handleSignals: false,
    log: (line) => log.push(line),
    adoptBackoff: { initialMs: 50, maxMs: 100 },
  });
  return { agent, client: await AgentClient.connect(agent.paths.socket) };
}

describe("runAgent", () => {
  const dirs: string[] = [];
  const fresh = () => {
    const d = stateDir();
    dirs.push(d);
    return d;
  };
  after(async () => {
    for (const d of dirs) await cleanupAgent(d);
  });

  it("refuses to run a second agent on the same state directory (locked)", async () => {
    const dir = fresh();
    const { agent, client } = await started(dir, []);
    try {
      await assert.rejects(
        runAgent({ stateDir: dir, handleSignals: false, log: () => undefined }),
        (e: unknown) =>
          e instanceof AgentError && e.code === AgentErrorCode.Locked && e.message.includes(`${process.pid}`),
      );
      assert.equal((await client.ping()).pid, process.pid);
    } finally {
      client.close();
      await agent.shutdown("test");
    }
    assert.equal(existsSync(agent.paths.socket), false);
    assert.equal(existsSync(agent.paths.pidfile), false);
  });

  it("drops recorded pods whose namespace is gone", async () => {
    const dir = fresh();
    const paths = agentPaths(dir);
    await writeRecord(paths.record, [
      { podId: "gone", netns: `vmnt-gone-${randomBytes(3).toString("hex")}`, interfaces: [] },
    ]);
    const log: string[] = [];
    const { agent, client } = await started(dir, log);
    try {
      await waitFor("the record to be rewritten", async () =>
        (await readRecord(paths.record)).length === 0 ? true : undefined,
      );
      assert.deepEqual((await client.status()).pods, []);
      assert.ok(log.some((l) => l.includes('pod "gone"') && l.includes("dropped")));
    } finally {
      client.close();
      await agent.shutdown("test");
    }
  });

  it("moves an unreadable record aside and serves no pods", async () => {
    const dir = fresh();
    writeFileSync(agentPaths(dir).record, "{not json");
    const { agent, client } = await started(dir, []);
    try {
      assert.deepEqual((await client.status()).pods, []);
      assert.ok(readdirSync(dir).some((f) => f.startsWith("agent-pods.json.unreadable-")));
    } finally {
      client.close();
      await agent.shutdown("test");
    }
  });

  const skip = rootSkipReason();
  it("retries a recorded pod that fails to start, reports it adopting, and stop forgets it", { skip }, async () => {
    const dir = fresh();
    const paths = agentPaths(dir);
    const netns = `vmnt-adopt-${randomBytes(3).toString("hex")}`;
    execFileSync("ip", ["netns", "add", netns]);
    const log: string[] = [];
    let running: { agent: RunningAgent; client: AgentClient } | undefined;
    try {
      // A plan the DHCP agent refuses (no client): every adoption attempt fails before any worker starts.
      const interfaces = JSON.parse('[{"dhcpv4":{"serverInterface":"br0"}}]');
      await writeRecord(paths.record, [{ podId: "broken", netns, interfaces }]);
      running = await started(dir, log);
      const { client } = running;
      await waitFor("a retry", () => (log.filter((l) => l.includes("retry in")).length >= 2 ? true : undefined));
      const [pod] = (await client.status()).pods;
      assert.equal(pod?.podId, "broken");
      assert.equal(pod?.state, ADOPTING);
      assert.equal(typeof pod?.lastError, "string");
      await assert.rejects(client.stats("broken"), { code: AgentErrorCode.NotServed });
      await client.stop("broken");
      assert.deepEqual((await client.status()).pods, []);
      assert.deepEqual(await readRecord(paths.record), []);
    } finally {
      running?.client.close();
      await running?.agent.shutdown("test");
      execFileSync("ip", ["netns", "del", netns]);
    }
  });
});
