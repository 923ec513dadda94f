/**
 * The agent serving a real udhcpc in a pod namespace after the CLI process that started it has exited, and serving it
 * again after being killed with SIGKILL: the next ensureAgent starts a new agent, which re-adopts the recorded pod on
 * its own; reconfigure is recorded and survives a shutdown. Layout as in test/runtime/dhcp: a pod namespace with bridge `k6t-eth0` (only KubeVirt's 169.254.75.10/32)
 * and a veth `tap0` standing in for the tap, its peer `eth0` in a guest namespace.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type AgentClient, ensureAgent } from "../../src/agent/client.ts";
import { readPidfile } from "../../src/agent/lock.ts";
import { agentPaths } from "../../src/agent/paths.ts";
import { AgentErrorCode } from "../../src/agent/protocol.ts";
import { ADOPTING, type AgentPodStatus } from "../../src/agent/server.ts";
import { PodState } from "../../src/runtime/dhcp/agent.ts";
import { addresses, exitOf, ipIn, Lab, missingTool, rootSkipReason, waitFor } from "../runtime/dhcp/harness.ts";
import { bridgeDhcpPlan, bridgedGuest, cleanupAgent, fixtureCli, isAlive, stateDir, waitGone } from "./helpers.ts";

const skip = rootSkipReason() ?? missingTool("/usr/sbin/udhcpc");

const GUEST_MAC = "02:00:00:aa:cc:01";
const GUEST_IP = "10.244.7.5";
const MOVED_IP = "10.244.7.6";

describe("agent serving a pod after its CLI exited, and again after SIGKILL", { skip }, () => {
  const lab = new Lab();
  const dir = stateDir();
  const podId = `pod-${lab.suffix}`;
  const pids: number[] = [];
  let pod = "";
  let guest = "";
  let client: AgentClient | undefined;

  before(async () => {
    pod = await lab.netns("pod");
    guest = await lab.netns("g");
    await bridgedGuest(pod, guest, { bridge: "k6t-eth0", port: "tap0", mac: GUEST_MAC });
    await ipIn(pod, "addr", "add", "169.254.75.10/32", "dev", "k6t-eth0");
  });

  after(async () => {
    client?.close();
    await cleanupAgent(dir, pids);
    await lab.cleanup();
  });

  /** Runs udhcpc once in the guest; returns its exit code (0: it got and applied a lease). */
  async function udhcpc(tries = 5): Promise<number | null> {
    const script = join(lab.dir, "udhcpc.sh");
    writeFileSync(
      script,
      `#!/bin/sh
case "$1" in
deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
bound|renew) ip -4 addr flush dev "$interface"; ip addr add "$ip/$mask" dev "$interface" ;;
esac
exit 0
`,
      { mode: 0o755 },
    );
    const args = ["-i", "eth0", "-f", "-n", "-q", "-t", String(tries), "-T", "1", "-s", script];
    return exitOf(lab.spawnIn(guest, ["udhcpc", ...args]));
  }

  /** The pod's status once the agent no longer adopts or starts it. */
  function waitRunning(c: AgentClient): Promise<AgentPodStatus> {
    return waitFor(
      "the pod to be served again",
      async () => {
        const p = (await c.status()).pods.find((s) => s.podId === podId);
        return p !== undefined && p.state !== ADOPTING && p.state !== PodState.Starting ? p : undefined;
      },
      30_000,
    );
  }

  async function guestAddresses(): Promise<string[]> {
    return (await addresses(guest, "eth0")).filter((a) => a.family === "inet").map((a) => a.cidr);
  }

  it("serves udhcpc after the CLI process that started the agent has exited", async () => {
    const result = await fixtureCli("start", dir, podId, pod, "k6t-eth0", GUEST_MAC, GUEST_IP);
    const agentPid = result.pid as number;
    pids.push(agentPid);
    if (typeof result.spawnedPid === "number") pids.push(result.spawnedPid);
    assert.equal(result.spawnedPid, agentPid, "the CLI process started the agent");
    assert.ok(isAlive(agentPid), "the agent outlives the CLI process");
    assert.equal(await udhcpc(), 0, "udhcpc got a lease");
    assert.deepEqual(await guestAddresses(), [`${GUEST_IP}/24`]);
    const record = JSON.parse(readFileSync(agentPaths(dir).record, "utf8")) as { pods: { podId: string }[] };
    assert.deepEqual(
      record.pods.map((p) => p.podId),
      [podId],
    );
  });

  it("after SIGKILL, ensureAgent starts an agent that re-adopts the pod and serves udhcpc again", async () => {
    const paths = agentPaths(dir);
    const killed = readPidfile(paths.pidfile);
    assert.ok(killed !== undefined);
    process.kill(killed, "SIGKILL");
    await waitGone(killed);
    // The dead agent left its pidfile and socket behind; nothing answers DHCP now.
    assert.ok(existsSync(paths.pidfile) && existsSync(paths.socket));
    await ipIn(guest, "addr", "flush", "dev", "eth0");
    assert.equal(await udhcpc(2), 1, "no lease while no agent runs");

    client = await ensureAgent({ stateDir: dir });
    if (client.spawnedPid !== undefined) pids.push(client.spawnedPid);
    const { pid } = await client.ping();
    assert.notEqual(pid, killed);
    assert.equal(readPidfile(paths.pidfile), pid);
    const served = await waitRunning(client);
    assert.equal(served.state, PodState.Running);
    assert.equal(served.netns, pod);
    assert.deepEqual(served.interfaces, ["k6t-eth0"]);
    assert.equal(await udhcpc(), 0, "udhcpc got a lease from the new agent");
    assert.deepEqual(await guestAddresses(), [`${GUEST_IP}/24`]);
    const stats = await client.stats(podId);
    assert.equal(stats.interfaces["k6t-eth0"]?.dhcpv4?.sent.ack, 1);
  });

  it("a start with another plan is refused; reconfigure serves it, and so does the agent after a shutdown", async () => {
    const c = client;
    assert.ok(c !== undefined);
    const moved = [{ dhcpv4: bridgeDhcpPlan("k6t-eth0", GUEST_MAC, MOVED_IP) }];
    await assert.rejects(c.start(podId, pod, moved), { name: "AgentError", code: AgentErrorCode.AlreadyServed });
    await c.reconfigure(podId, moved);
    const record = JSON.parse(readFileSync(agentPaths(dir).record, "utf8")) as {
      pods: { interfaces: { dhcpv4: { client: { ip: string } } }[] }[];
    };
    assert.equal(record.pods[0]?.interfaces[0]?.dhcpv4.client.ip, MOVED_IP);
    await ipIn(guest, "addr", "flush", "dev", "eth0");
    assert.equal(await udhcpc(), 0);
    assert.deepEqual(await guestAddresses(), [`${MOVED_IP}/24`]);

    // An upgrade: shut the agent down and start the next one, which serves the reconfigured plan on its own.
    await c.shutdown();
    c.close();
    client = await ensureAgent({ stateDir: dir });
    if (client.spawnedPid !== undefined) pids.push(client.spawnedPid);
    await waitRunning(client);
    await ipIn(guest, "addr", "flush", "dev", "eth0");
    assert.equal(await udhcpc(), 0);
    assert.deepEqual(await guestAddresses(), [`${MOVED_IP}/24`]);
  });

  it("a start repeated with the same plan succeeds; stop forgets the pod and udhcpc gets nothing more", async () => {
    const c = client;
    assert.ok(c !== undefined);
    const again = await fixtureCli("start", dir, podId, pod, "k6t-eth0", GUEST_MAC, MOVED_IP);
    assert.equal(again.spawnedPid, null, "the running agent was reused");
    await c.stop(podId);
    const record = JSON.parse(readFileSync(agentPaths(dir).record, "utf8")) as { pods: unknown[] };
    assert.deepEqual(record.pods, []);
    assert.deepEqual((await c.status()).pods, []);
    await ipIn(guest, "addr", "flush", "dev", "eth0");
    assert.equal(await udhcpc(2), 1);
  });
});
