/**
 * Helpers of the agent tests (and of the DHCP agent's, test/runtime/dhcp/agent.test.ts): state directories under /tmp,
 * a fixture CLI process (a short-lived "vmnet" command that uses the agent and exits), process liveness by /proc, a
 * cleanup that stops every agent a test started, and a bridge-binding pod layout with its DHCPv4 plan.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { AgentClient } from "../../src/agent/client.ts";
import { readPidfile } from "../../src/agent/lock.ts";
import { agentPaths } from "../../src/agent/paths.ts";
import { InterfaceName } from "../../src/plan/namescheme.ts";
import type { Dhcpv4Plan } from "../../src/plan/plan.ts";
import { ipIn } from "../runtime/dhcp/harness.ts";

const run = promisify(execFile);

const FIXTURE = fileURLToPath(new URL("./fixtures/cli.ts", import.meta.url));

/** A fresh state directory (short, so the socket path stays within `sun_path`). */
export function stateDir(): string {
  return mkdtempSync(join(tmpdir(), "vmnt-agent-"));
}

/** Whether `pid` is a live process (a zombie counts as dead: it is only waiting to be reaped). */
export function isAlive(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return false;
  }
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state !== "Z" && state !== "X";
}

/** Polls until `pid` is gone; throws after `ms`. */
export async function waitGone(pid: number, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (isAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for pid ${pid} to exit`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Runs the fixture CLI (`fixtures/cli.ts <args>`) to its end and parses the JSON line it prints. */
export async function fixtureCli(...args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run(process.execPath, ["--import", "tsx", FIXTURE, ...args], { timeout: 90_000 });
  return JSON.parse(stdout) as Record<string, unknown>;
}

/** Shuts down the agent of `dir` (or kills it when it does not answer), kills `pids`, removes `dir`. */
export async function cleanupAgent(dir: string, pids: readonly number[] = []): Promise<void> {
  const paths = agentPaths(dir);
  try {
    const client = await AgentClient.connect(paths.socket);
    await client.shutdown(15_000).catch(() => undefined);
    client.close();
  } catch {
    // No agent answers: the kills below are all there is to do.
  }
  const holder = readPidfile(paths.pidfile);
  for (const pid of [...pids, ...(holder === undefined ? [] : [holder])]) {
    if (pid === process.pid || !isAlive(pid)) continue;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Gone in between.
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

/** A bridge-binding DHCPv4 plan: `ip`/24 for the guest `mac`, router `.1`, served on `bridge`. */
export function bridgeDhcpPlan(bridge: string, mac: string, ip: string): Dhcpv4Plan {
  const gateway = ip.replace(/\.\d+$/, ".1");
  return {
    serverInterface: InterfaceName.of(bridge),
    serverIdentifier: "169.254.75.10",
    filterClientMac: true,
    client: {
      mac,
      ip,
      prefix: 24,
      subnetMask: "255.255.255.0",
      router: gateway,
      routes: [],
      dnsServers: ["10.96.0.10"],
      searchDomains: ["default.svc.cluster.local"],
      hostname: "vm1",
      mtu: 1500,
      leaseSeconds: 86_400,
    },
    options: { ntpServers: [], privateOptions: [] },
  };
}

/**
 * The pod side of a bridge binding in namespace `pod`: bridge `bridge` (up) with port `port`, a veth standing in for
 * the tap, whose peer `eth0` (MAC `mac`, up) is the guest's NIC in namespace `guest`.
 */
export async function bridgedGuest(
  pod: string,
  guest: string,
  layout: { readonly bridge: string; readonly port: string; readonly mac: string },
): Promise<void> {
  const { bridge, port, mac } = layout;
  await ipIn(pod, "link", "add", bridge, "type", "bridge");
  await ipIn(pod, "link", "set", bridge, "up");
  await ipIn(pod, "link", "add", port, "type", "veth", "peer", "name", "eth0", "address", mac, "netns", guest);
  await ipIn(guest, "link", "set", "eth0", "up");
  await ipIn(pod, "link", "set", port, "master", bridge, "up");
}
