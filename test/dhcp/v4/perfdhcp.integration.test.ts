import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { Dhcp4ServerConfig } from "../../../src/dhcp/v4/config.ts";
import { masqueradeConfig } from "./helpers.ts";

// Kea's perfdhcp acts as a relay agent (giaddr set, port 67), so this drives the relay addressing path with a few
// hundred random MACs against a masquerade (any client) configuration. Correctness only; no timing is asserted.
const canRun = process.getuid?.() === 0 && existsSync("/usr/sbin/perfdhcp");

const suffix = randomBytes(4).toString("hex");
const ns = `vmnt-d4ps-${suffix}`;
const relayNs = `vmnt-d4pr-${suffix}`;
const harness = fileURLToPath(new URL("./udp-harness.ts", import.meta.url));
const [masquerade] = masqueradeConfig.interfaces;
const config: Dhcp4ServerConfig = {
  interfaces: masquerade ? [{ ...masquerade, ifindex: undefined }] : [],
};

async function waitFor(condition: () => boolean, message: string): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > 15_000) throw new Error(message);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("Dhcp4Server with Kea perfdhcp as a relay", { skip: !canRun }, () => {
  let server: ChildProcess | undefined;
  let serverOutput = "";

  before(async () => {
    execFileSync("ip", ["netns", "add", ns]);
    execFileSync("ip", ["netns", "add", relayNs]);
    const ip = (n: string, ...args: string[]) => execFileSync("ip", ["-n", n, ...args], { stdio: "pipe" });
    ip(ns, "link", "add", "r0", "type", "veth", "peer", "name", "s0");
    ip(ns, "link", "set", "r0", "netns", relayNs);
    ip(ns, "addr", "add", "169.254.75.10/16", "dev", "s0");
    ip(relayNs, "addr", "add", "169.254.75.20/16", "dev", "r0");
    for (const dev of ["lo", "s0"]) ip(ns, "link", "set", dev, "up");
    for (const dev of ["lo", "r0"]) ip(relayNs, "link", "set", dev, "up");
    server = spawn("ip", ["netns", "exec", ns, process.execPath, "--import", "tsx", harness, JSON.stringify(config)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    server.stdout?.on("data", (d: Buffer) => {
      serverOutput += d.toString();
    });
    await waitFor(() => serverOutput.includes("ready"), "DHCP harness did not start");
  });

  after(() => {
    if (server?.pid !== undefined && server.exitCode === null) server.kill("SIGKILL");
    for (const name of [ns, relayNs]) {
      try {
        execFileSync("ip", ["netns", "del", name], { stdio: "ignore" });
      } catch {
        // Already gone (setup failed before creating it).
      }
    }
  });

  it("answers every relayed DISCOVER and REQUEST of 200 clients, with no drops on either side", async () => {
    const perf = ["perfdhcp", "-4", "-l", "r0", "-r", "100", "-n", "200", "-p", "20", "-W", "2000000", "169.254.75.10"];
    // perfdhcp exits non-zero when any exchange is unanswered; -W waits 2 s for the last replies after the 200th.
    const run = spawnSync("ip", ["netns", "exec", relayNs, ...perf], { encoding: "utf8", timeout: 60_000 });
    const output = run.stdout;
    const sections = output.split("***Statistics for: ").slice(1);
    const counts = Object.fromEntries(
      sections.map((s) => [s.slice(0, s.indexOf("*")), /received packets: (\d+)/.exec(s)?.[1]]),
    );
    assert.equal(counts["DISCOVER-OFFER"], "200");
    assert.equal(counts["REQUEST-ACK"], "200");
    assert.equal((output.match(/^drops: 0$/gm) ?? []).length, 2, output);
    assert.equal(run.status, 0, `perfdhcp exit status ${run.status}: ${run.stderr}`);

    const exited = new Promise((resolve) => server?.once("exit", resolve));
    server?.kill("SIGTERM");
    await exited;
    const report = JSON.parse(serverOutput.slice(serverOutput.indexOf("{"))) as {
      stats: { sent: { offer: number; ack: number; nak: number }; dropped: Record<string, number> };
    };
    assert.equal(report.stats.sent.offer, 200);
    assert.equal(report.stats.sent.ack, 200);
    assert.equal(report.stats.sent.nak, 0);
    assert.deepEqual(
      Object.entries(report.stats.dropped).filter(([, n]) => n > 0),
      [],
    );
  });
});
