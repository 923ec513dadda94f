/**
 * The agent as real processes: agents spawned by ensureAgent (bin/vmnet agent run, detached), short-lived CLI
 * processes (fixtures/cli.ts) racing to start one, raw protocol lines on its socket, shutdown and signals.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { type AgentClient, ensureAgent } from "../../src/agent/client.ts";
import { readPidfile } from "../../src/agent/lock.ts";
import { agentPaths } from "../../src/agent/paths.ts";
import { AgentErrorCode, AgentMethod, MAX_LINE_BYTES } from "../../src/agent/protocol.ts";
import { cleanupAgent, fixtureCli, isAlive, stateDir, waitGone } from "./helpers.ts";

/** Sends `lines` on a fresh connection and collects `count` answer lines (or what came before the close). */
function exchange(socketPath: string, lines: readonly string[], count: number): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    const answers: Record<string, unknown>[] = [];
    let buffer = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`Timed out after ${answers.length} of ${count} answers`));
    }, 60_000);
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answers);
    };
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
        answers.push(JSON.parse(buffer.slice(0, nl)) as Record<string, unknown>);
        buffer = buffer.slice(nl + 1);
      }
      if (answers.length >= count) done();
    });
    socket.on("close", done);
    socket.on("error", () => undefined);
    socket.on("connect", () => {
      for (const line of lines) socket.write(line.endsWith("\n") ? line : `${line}\n`);
    });
  });
}

describe("ensureAgent from three CLI processes at once", () => {
  const dir = stateDir();
  const spawned: number[] = [];
  after(() => cleanupAgent(dir, spawned));

  it("starts exactly one agent, and every process talks to it", async () => {
    const results = await Promise.all([1, 2, 3].map(() => fixtureCli("ensure", dir)));
    for (const r of results) if (typeof r.spawnedPid === "number") spawned.push(r.spawnedPid);
    const pids = new Set(results.map((r) => r.pid));
    assert.equal(pids.size, 1, `one agent answered: ${[...pids].join(", ")}`);
    const agentPid = results[0]?.pid;
    assert.equal(typeof agentPid, "number");
    assert.equal(readPidfile(agentPaths(dir).pidfile), agentPid);
    assert.ok(spawned.includes(agentPid as number), "the agent was spawned by one of the CLI processes");
    // The agents that lost the lock race exit on their own; only the winner stays, after its spawner exited.
    for (const pid of spawned) if (pid !== agentPid) await waitGone(pid);
    assert.ok(isAlive(agentPid as number));
    const log = readFileSync(agentPaths(dir).log, "utf8");
    assert.equal(log.match(/agent pid \d+ serving/g)?.length, 1, log);
    // Every other agent started said why it stopped (at least those whose pid a CLI process reported).
    const losers = spawned.filter((p) => p !== agentPid).length;
    assert.ok((log.match(/Cannot run the agent: agent pid \d+ serves/g)?.length ?? 0) >= losers, log);
  });

  it("the socket is private to its owner (mode 0600)", () => {
    assert.equal(statSync(agentPaths(dir).socket).mode & 0o777, 0o600);
  });
});

describe("agent control protocol", () => {
  const dir = stateDir();
  let client: AgentClient | undefined;
  let pid = 0;

  before(async () => {
    client = await ensureAgent({ stateDir: dir });
    pid = (await client.ping()).pid;
  });
  after(async () => {
    client?.close();
    await cleanupAgent(dir, client?.spawnedPid === undefined ? [] : [client.spawnedPid]);
  });

  const cases: { name: string; line: string; id: unknown; code: string }[] = [
    { name: "not JSON", line: "hello", id: null, code: AgentErrorCode.BadRequest },
    { name: "not an object", line: "[1,2]", id: null, code: AgentErrorCode.BadRequest },
    { name: "no method", line: '{"id":1}', id: 1, code: AgentErrorCode.BadRequest },
    { name: "object id", line: '{"id":{},"method":"ping"}', id: null, code: AgentErrorCode.BadRequest },
    { name: "unknown method", line: '{"id":2,"method":"explode"}', id: 2, code: AgentErrorCode.UnknownMethod },
    {
      name: "params not an object",
      line: '{"id":3,"method":"ping","params":[]}',
      id: 3,
      code: AgentErrorCode.BadRequest,
    },
    { name: "start without params", line: '{"id":4,"method":"start"}', id: 4, code: AgentErrorCode.BadRequest },
    {
      name: "start with a path as netns",
      line: '{"id":5,"method":"start","params":{"podId":"p","netns":"../../etc","interfaces":[]}}',
      id: 5,
      code: AgentErrorCode.BadRequest,
    },
    {
      name: "start with interfaces not a list",
      line: '{"id":6,"method":"start","params":{"podId":"p","netns":"vmnt-x","interfaces":{}}}',
      id: 6,
      code: AgentErrorCode.BadRequest,
    },
    {
      name: "start with a bad interface name",
      line: '{"id":7,"method":"start","params":{"podId":"p","netns":"vmnt-x","interfaces":[{"ra":{"interface":"a-name-that-is-too-long"}}]}}',
      id: 7,
      code: AgentErrorCode.BadRequest,
    },
    {
      name: "start with a plan missing its client",
      line: '{"id":8,"method":"start","params":{"podId":"p","netns":"vmnt-x","interfaces":[{"dhcpv4":{"serverInterface":"br0"}}]}}',
      id: 8,
      code: AgentErrorCode.Failed,
    },
    {
      name: "start in a namespace that does not exist",
      line: '{"id":"s","method":"start","params":{"podId":"p","netns":"vmnt-absent-ns","interfaces":[]}}',
      id: "s",
      code: AgentErrorCode.Failed,
    },
    {
      name: "stop of an unknown pod",
      line: '{"id":9,"method":"stop","params":{"podId":"q"}}',
      id: 9,
      code: "not-served",
    },
    {
      name: "stats of an unknown pod",
      line: '{"id":10,"method":"stats","params":{"podId":"q"}}',
      id: 10,
      code: "not-served",
    },
    {
      name: "reconfigure of an unknown pod",
      line: '{"id":11,"method":"reconfigure","params":{"podId":"q","interfaces":[]}}',
      id: 11,
      code: AgentErrorCode.NotServed,
    },
  ];

  for (const c of cases) {
    it(`answers ${c.name} with "${c.code}" and keeps serving`, async () => {
      // Answers may come in any order (a ping does not wait for a start): match them by id.
      const answers = await exchange(agentPaths(dir).socket, [c.line, '{"id":"after","method":"ping"}'], 2);
      const answer = answers.find((a) => a.id === c.id);
      const pong = answers.find((a) => a.id === "after");
      const error = answer?.error as { code?: string; message?: string; retryable?: boolean } | undefined;
      assert.equal(answer?.id, c.id);
      assert.equal(error?.code, c.code, JSON.stringify(answer));
      assert.equal(error?.retryable, false);
      assert.equal(typeof error?.message, "string");
      assert.deepEqual(pong, { id: "after", result: { pid, version: 1 } });
    });
  }

  it("refuses a line longer than the limit, closes that connection only", async () => {
    const answers = await exchange(agentPaths(dir).socket, ["x".repeat(MAX_LINE_BYTES + 1024)], 1);
    assert.equal((answers[0]?.error as { code?: string } | undefined)?.code, AgentErrorCode.BadRequest);
    assert.equal((await client?.ping())?.pid, pid);
  });

  it("failed starts leave nothing served or recorded", async () => {
    const status = await client?.status();
    assert.deepEqual(status?.pods, []);
    // No thread-pool size any more: nothing of the DHCP agent uses libuv's pool.
    assert.deepEqual(Object.keys(status ?? {}).sort(), ["pid", "pods", "stateDir", "uptimeMs", "version"]);
    const record = agentPaths(dir).record;
    if (existsSync(record)) assert.deepEqual(JSON.parse(readFileSync(record, "utf8")).pods, []);
  });

  it("the client rejects with the agent's code and whether a retry can help", async () => {
    await assert.rejects(client?.stop("nobody") ?? Promise.reject(new Error("no client")), {
      name: "AgentError",
      code: AgentErrorCode.NotServed,
      retryable: false,
    });
  });
});

describe("agent shutdown", () => {
  it("shutdown stops the agent and removes its socket and pidfile", async () => {
    const dir = stateDir();
    const client = await ensureAgent({ stateDir: dir });
    const pid = (await client.ping()).pid;
    try {
      const paths = agentPaths(dir);
      assert.ok(existsSync(paths.socket) && existsSync(paths.pidfile));
      await client.shutdown();
      assert.equal(existsSync(paths.socket), false);
      assert.equal(existsSync(paths.pidfile), false);
      await waitGone(pid);
    } finally {
      client.close();
      await cleanupAgent(dir, [pid]);
    }
  });

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`${signal} stops the agent and removes its socket and pidfile`, async () => {
      const dir = stateDir();
      const client = await ensureAgent({ stateDir: dir });
      const pid = (await client.ping()).pid;
      client.close();
      try {
        process.kill(pid, signal);
        await waitGone(pid);
        assert.equal(existsSync(agentPaths(dir).socket), false);
        assert.equal(existsSync(agentPaths(dir).pidfile), false);
      } finally {
        await cleanupAgent(dir, [pid]);
      }
    });
  }

  it("ensureAgent called while the agent shuts down ends up connected to a running agent", async () => {
    const dir = stateDir();
    const first = await ensureAgent({ stateDir: dir });
    const pids = [(await first.ping()).pid];
    try {
      const asked = first.request(AgentMethod.Shutdown);
      const second = await ensureAgent({ stateDir: dir });
      if (second.spawnedPid !== undefined) pids.push(second.spawnedPid);
      await asked;
      const pong = await second.ping();
      pids.push(pong.pid);
      assert.equal(readPidfile(agentPaths(dir).pidfile), pong.pid);
      second.close();
    } finally {
      first.close();
      await cleanupAgent(dir, pids);
    }
  });

  it("a pidfile and socket left by a dead agent are taken over", async () => {
    const dir = stateDir();
    const paths = agentPaths(dir);
    // A pid that is not running: the lock is what counts, so even a live pid in the file would be taken over.
    writeFileSync(paths.pidfile, "4194303\n");
    writeFileSync(paths.socket, "");
    const client = await ensureAgent({ stateDir: dir });
    const pid = (await client.ping()).pid;
    client.close();
    try {
      assert.notEqual(pid, 4194303);
      assert.equal(readPidfile(paths.pidfile), pid);
    } finally {
      await cleanupAgent(dir, [pid]);
    }
  });

  it("ensureAgent with spawn false fails as unavailable and retryable when no agent runs", async () => {
    const dir = stateDir();
    try {
      await assert.rejects(ensureAgent({ stateDir: dir, spawn: false }), {
        name: "AgentError",
        code: AgentErrorCode.Unavailable,
        retryable: true,
      });
    } finally {
      await cleanupAgent(dir);
    }
  });
});
