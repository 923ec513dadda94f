import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { planPod } from "../../src/plan/plan.ts";
import { config, iface, link, pod, podNet, vm } from "./fixtures.ts";

// The planned passt command line is a contract with Debian's passt (2023-03): run it for real in a throwaway netns and
// check it comes up serving its socket. Listed ports only: "all" needs far more file descriptors than this host allows.
const canRun = process.getuid?.() === 0 && existsSync("/usr/bin/passt");
const ns = `vmnt-pst-${randomBytes(4).toString("hex")}`;
const ip = (...args: string[]) => execFileSync("ip", ["-n", ns, ...args], { stdio: "ignore" });

async function waitFor(condition: () => boolean, message: string): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > 10_000) throw new Error(message);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("planned passt process against Debian's passt", { skip: !canRun && "needs root and /usr/bin/passt" }, () => {
  let dir = "";
  const children: ChildProcess[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "vmnt-passt-"));
    // passt creates its socket after dropping to uid 107, which must be able to reach the run dir.
    chmodSync(dir, 0o755);
    execFileSync("ip", ["netns", "add", ns]);
    ip("link", "add", "eth0", "type", "veth", "peer", "name", "peer0");
    ip("addr", "add", "10.9.0.5/24", "dev", "eth0");
    ip("link", "set", "eth0", "up");
    ip("link", "set", "peer0", "up");
    ip("route", "add", "default", "via", "10.9.0.1");
  });

  after(async () => {
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) {
        const exited = new Promise((r) => c.once("exit", r));
        c.kill("SIGTERM");
        await exited;
      }
    }
    try {
      execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const portCases = [
    {
      name: "TCP and UDP ports",
      ports: [{ protocol: "TCP", port: 8080 } as const, { protocol: "UDP", port: 5353 } as const],
    },
    { name: "UDP only (TCP none)", ports: [{ protocol: "UDP", port: 53 } as const] },
  ];
  for (const [i, c] of portCases.entries()) {
    it(`planned passt process: starts and accepts on its socket with ${c.name}`, async () => {
      const runDir = join(dir, `run${i}`);
      const model = vm([iface("default", { kind: "passtBinding" }, { ports: c.ports })], [podNet()]);
      const plan = planPod(model, {
        config: config(),
        pod: pod([link("eth0", 2, "0a:58:0a:09:00:05", ["10.9.0.5/24"])]),
        runDir,
      });
      const proc = plan.interfaces[0]?.process;
      assert.ok(proc);
      mkdirSync(proc.stateDir, { recursive: true });
      chownSync(proc.stateDir, proc.runAs.uid, proc.runAs.gid);
      const child = spawn("ip", ["netns", "exec", ns, proc.binary, ...proc.args], {
        stdio: ["ignore", "ignore", "pipe"],
      });
      children.push(child);
      let stderr = "";
      child.stderr?.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      await waitFor(
        () => existsSync(proc.socketPath) || child.exitCode !== null,
        `passt made no socket: ${stderr.slice(-500)}`,
      );
      assert.equal(child.exitCode, null, `passt exited: ${stderr.slice(-500)}`);
      await new Promise<void>((resolve, reject) => {
        const s = connect(proc.socketPath, () => {
          s.end();
          resolve();
        });
        s.once("error", reject);
      });
    });
  }
});
