/**
 * GuestAgent against the real qemu-ga, run on this host in unix-listen mode inside a network namespace of its own, so
 * what it reports as the "guest's" interfaces is a veth this test made.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { GuestAgent, GuestAgentError, GuestAgentErrorCode, qemuGuestAgentArgs } from "../../src/hypervisor/qga.ts";
import { kernelSkipReason, withNetns } from "../host/harness.ts";
import { qemuSkipReason, withQemu } from "./qemu-harness.ts";

function skipReason(): string | undefined {
  const k = kernelSkipReason();
  if (k !== undefined) return k;
  const r = spawnSync("qemu-ga", ["--version"], { encoding: "utf8" });
  return r.error !== undefined || r.status !== 0 ? "qemu-ga is missing" : undefined;
}

const ip = (ns: string, ...args: string[]) => {
  const r = spawnSync("ip", ["-n", ns, ...args], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
};

describe("GuestAgent against a real qemu-ga", { skip: skipReason() }, () => {
  it("GuestAgent pings, lists the namespace's interfaces and runs a command", async () => {
    await withNetns(1, async ([ns = ""]) => {
      ip(ns, "link", "add", "vmnt0", "address", "02:00:00:12:34:56", "type", "veth", "peer", "name", "vmnt1");
      ip(ns, "addr", "add", "10.0.2.2/24", "dev", "vmnt0");
      ip(ns, "link", "set", "vmnt0", "up");
      const dir = mkdtempSync(join(tmpdir(), "vmnt-qga-"));
      const sock = join(dir, "qga.sock");
      let agent: ChildProcess | undefined;
      let ga: GuestAgent | undefined;
      try {
        agent = spawn(
          "ip",
          ["netns", "exec", ns, "qemu-ga", "-m", "unix-listen", "-p", sock, "-t", dir, "-f", join(dir, "qga.pid")],
          { stdio: "ignore" },
        );
        ga = await GuestAgent.connect(sock, { connectTimeoutMs: 10_000 });
        await ga.waitUntilReady({ timeoutMs: 10_000 });
        await ga.ping();
        const ifaces = await ga.networkGetInterfaces();
        const dummy = ifaces.find((i) => i.name === "vmnt0");
        assert.ok(dummy, JSON.stringify(ifaces));
        assert.equal(dummy.hardwareAddress, "02:00:00:12:34:56");
        assert.ok(dummy.ipAddresses.some((a) => a.type === "ipv4" && a.address === "10.0.2.2" && a.prefix === 24));
        writeFileSync(join(dir, "probe.txt"), "vmnet probe\n");
        assert.equal((await ga.readFile(join(dir, "probe.txt"))).toString(), "vmnet probe\n");
        const r = await ga.exec("/bin/sh", ["-c", "printf out; printf err >&2; exit 3"], { pollIntervalMs: 20 });
        assert.equal(r.exitCode, 3);
        assert.equal(r.stdout.toString(), "out");
        assert.equal(r.stderr.toString(), "err");
      } finally {
        ga?.close();
        if (agent !== undefined && agent.exitCode === null) {
          const exited = new Promise((r) => agent?.once("exit", r));
          agent.kill("SIGTERM");
          await exited;
        }
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});

describe("qemuGuestAgentArgs against a real QEMU", { skip: qemuSkipReason() }, () => {
  it("QEMU accepts the agent channel and listens on its socket; with no guest the handshake times out", async () => {
    await withQemu(
      [],
      async (q) => {
        const sock = join(q.dir, "qga.sock");
        assert.equal(
          await q.qmp.execute("qom-get", { path: "/machine/peripheral/qga0-serial", property: "type" }),
          "virtio-serial-pci",
        );
        const ga = await GuestAgent.connect(sock, { connectTimeoutMs: 5000 });
        try {
          await assert.rejects(
            ga.sync({ timeoutMs: 300 }),
            (e: unknown) => e instanceof GuestAgentError && e.code === GuestAgentErrorCode.Timeout,
          );
        } finally {
          ga.close();
        }
      },
      { argsFromDir: (dir) => qemuGuestAgentArgs(join(dir, "qga.sock")) },
    );
  });
});
