import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { currentNetnsInode } from "../../../src/host/netns-sockets.ts";
import type { Dhcpv4Plan } from "../../../src/plan/plan.ts";
import { DhcpAgent, DhcpAgentError, type DhcpAgentEvent, type DhcpPodStatus } from "../../../src/runtime/dhcp/agent.ts";
import { bridgeDhcpPlan, bridgedGuest } from "../../agent/helpers.ts";
import { addresses, exitOf, ipIn, Lab, missingTool, rootSkipReason, waitFor } from "./harness.ts";

const GUEST_MAC = "02:00:00:aa:bb:01";

/** A bridge-binding DHCPv4 plan for the one guest, served on `bridge`. */
function v4(bridge: string, ip: string): Dhcpv4Plan {
  return bridgeDhcpPlan(bridge, GUEST_MAC, ip);
}

describe("DhcpAgent without a namespace", () => {
  it("start rejects a bad configuration before any socket is made, naming the device", async () => {
    const agent = new DhcpAgent();
    const bad = {
      ...v4("k6t-eth0", "10.1.0.5"),
      client: { ...v4("k6t-eth0", "10.1.0.5").client, searchDomains: ["a..b"] },
    };
    await assert.rejects(agent.start("p", "vmnt-never-used", [{ dhcpv4: bad }]), {
      name: "RangeError",
      message: /^Cannot serve DHCP on "k6t-eth0": Search domain is not valid/,
    });
    assert.equal(agent.status("p"), undefined);
  });

  it("start rejects a missing namespace with the setns error and forgets the pod", async () => {
    const agent = new DhcpAgent();
    await assert.rejects(agent.start("p", "vmnt-missing-0000", [{ dhcpv4: v4("k6t-eth0", "10.1.0.5") }]), /ENOENT/);
    assert.deepEqual(agent.pods(), []);
  });

  const unknown: [string, (a: DhcpAgent) => Promise<unknown>][] = [
    ["stats", (a) => a.stats("nope")],
    ["reconfigure", (a) => a.reconfigure("nope", [])],
    ["stop", (a) => a.stop("nope")],
  ];
  for (const [name, call] of unknown) {
    it(`${name} of a pod it does not serve rejects with DhcpAgentError`, async () => {
      await assert.rejects(call(new DhcpAgent()), (e: unknown) => {
        assert.ok(e instanceof DhcpAgentError);
        assert.equal(e.message, `Cannot find DHCP for pod "nope": it is not served`);
        return true;
      });
    });
  }
});

const skip = rootSkipReason() ?? missingTool("/usr/sbin/udhcpc");

describe("DhcpAgent in a pod namespace", { skip }, () => {
  const lab = new Lab();
  let pod = "";
  let guest = "";
  const agents: DhcpAgent[] = [];

  before(async () => {
    pod = await lab.netns("apod");
    guest = await lab.netns("aguest");
    await bridgedGuest(pod, guest, { bridge: "k6t-a", port: "tapa", mac: GUEST_MAC });
    // k6t-b's port leads nowhere: a second served device without a client.
    await ipIn(pod, "link", "add", "k6t-b", "type", "bridge");
    await ipIn(pod, "link", "set", "k6t-b", "up");
    await ipIn(pod, "link", "add", "tapb", "type", "veth", "peer", "name", "tapbp");
    await ipIn(pod, "link", "set", "tapbp", "up");
    await ipIn(pod, "link", "set", "tapb", "master", "k6t-b", "up");
  });

  after(async () => {
    for (const a of agents) await a.stopAll().catch(() => undefined);
    await lab.cleanup();
  });

  async function lease(): Promise<string | undefined> {
    await ipIn(guest, "addr", "flush", "dev", "eth0");
    const script = join(lab.dir, "udhcpc.sh");
    writeFileSync(script, '#!/bin/sh\n[ "$1" = bound ] && ip addr add "$ip/$mask" dev "$interface"\nexit 0\n', {
      mode: 0o755,
    });
    const child = lab.spawnIn(guest, ["udhcpc", "-i", "eth0", "-f", "-n", "-q", "-t", "2", "-T", "1", "-s", script]);
    if ((await exitOf(child)) !== 0) return undefined;
    return (await addresses(guest, "eth0")).find((a) => a.family === "inet")?.cidr;
  }

  it("start of a pod already served rejects; a device that is missing fails the start with ENODEV", async () => {
    const agent = new DhcpAgent();
    agents.push(agent);
    await agent.start("twice", pod, [{ dhcpv4: v4("k6t-a", "10.1.0.5") }]);
    await assert.rejects(agent.start("twice", pod, []), DhcpAgentError);
    await agent.stop("twice");
    await assert.rejects(agent.start("missing", pod, [{ dhcpv4: v4("k6t-zz", "10.1.0.5") }]), /errno 19/);
    assert.equal(agent.status("missing"), undefined);
  });

  it("reconfigure changes a lease in place, adds a device and removes one", async () => {
    const agent = new DhcpAgent();
    agents.push(agent);
    await agent.start("re", pod, [{ dhcpv4: v4("k6t-a", "10.1.0.5") }]);
    assert.equal(await lease(), "10.1.0.5/24");
    await agent.reconfigure("re", [{ dhcpv4: v4("k6t-a", "10.1.0.6") }, { dhcpv4: v4("k6t-b", "10.2.0.6") }]);
    assert.deepEqual(Object.keys((await agent.stats("re")).interfaces), ["k6t-a", "k6t-b"]);
    assert.equal(await lease(), "10.1.0.6/24");
    // Lease records and counters of k6t-a survived the update.
    assert.equal((await agent.stats("re")).interfaces["k6t-a"]?.dhcpv4?.sent.ack, 2);
    await agent.reconfigure("re", [{ dhcpv4: v4("k6t-b", "10.2.0.6") }]);
    assert.deepEqual(Object.keys((await agent.stats("re")).interfaces), ["k6t-b"]);
    assert.equal(await lease(), undefined, "k6t-a is no longer served");
    await assert.rejects(agent.reconfigure("re", [{ dhcpv4: v4("k6t-zz", "10.1.0.5") }]), /errno 19/);
    assert.equal(agent.status("re")?.state, "running");
    await agent.stop("re");
  });

  it("a pod that fails is reopened with exponential backoff and the error surfaced; other pods keep serving", async () => {
    let left = 2;
    const events: DhcpAgentEvent[] = [];
    const statusAtExit: (DhcpPodStatus | undefined)[] = [];
    const agent: DhcpAgent = new DhcpAgent({
      backoff: { initialMs: 100, maxMs: 1000, resetAfterMs: 60_000 },
      onEvent: (e) => {
        events.push(e);
        if (e.kind === "exited") statusAtExit.push(agent.status("crash"));
      },
      // The pod's own failure entry point, as a throwing handler reaches it; the other pod is never failed.
      onOpened: (podId, fail) => {
        if (podId !== "crash" || left === 0) return;
        left -= 1;
        const message = `Injected failure, ${left} left`;
        setImmediate(() => fail(new Error(message)));
      },
    });
    agents.push(agent);
    await agent.start("other", pod, [{ dhcpv4: v4("k6t-b", "10.2.0.6") }]);
    await agent.start("crash", pod, [{ dhcpv4: v4("k6t-a", "10.1.0.5") }]);
    await waitFor("two restarts", () =>
      events.filter((e) => e.kind === "ready" && e.podId === "crash").length === 3 ? true : undefined,
    );
    const exits = events.flatMap((e) => (e.kind === "exited" ? [e] : []));
    assert.deepEqual(
      exits.map((e) => [e.podId, e.restartInMs]),
      [
        ["crash", 100],
        ["crash", 200],
      ],
    );
    assert.match(exits[0]?.error.message ?? "", /Injected failure, 1 left/);
    assert.deepEqual(
      statusAtExit.map((s) => s?.state),
      ["backoff", "backoff"],
    );
    const status = agent.status("crash");
    assert.equal(status?.state, "running");
    assert.equal(status?.restarts, 2);
    assert.match(status?.lastError ?? "", /Injected failure, 0 left/);
    const stats = await agent.stats("crash");
    assert.equal(stats.restarts, 2);
    assert.equal(await lease(), "10.1.0.5/24", "the reopened pod serves");
    assert.deepEqual(agent.status("other"), {
      state: "running",
      netns: pod,
      restarts: 0,
      interfaces: ["k6t-b"],
    });
  });

  it("serving many pods leaves the agent's thread in its own namespace", async () => {
    const before = currentNetnsInode();
    const agent = new DhcpAgent();
    agents.push(agent);
    await agent.start("ns-a", pod, [{ dhcpv4: v4("k6t-a", "10.1.0.5") }]);
    await assert.rejects(agent.start("ns-b", pod, [{ dhcpv4: v4("k6t-zz", "10.1.0.5") }]), /errno 19/);
    assert.equal(currentNetnsInode(), before);
    await agent.stop("ns-a");
  });
});
