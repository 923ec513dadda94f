/**
 * Lab integration-test helpers: a skip reason when the real CNI plugins cannot run, a throwaway node, and a snapshot
 * of the root namespace to prove the lab never touches it.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ExecResult, hostExecutor } from "../../src/host/exec.ts";
import { DEFAULT_PLUGIN_DIR } from "../../src/lab/cni.ts";
import { createNode, type LabNode } from "../../src/lab/node.ts";
import { kernelSkipReason, nftSkipReason, uniqueNetnsName } from "../host/harness.ts";

/** Why the lab tests cannot run here, or `undefined`. */
export function labSkipReason(): string | undefined {
  const base = kernelSkipReason() ?? nftSkipReason();
  if (base !== undefined) return base;
  if (!existsSync(join(DEFAULT_PLUGIN_DIR, "bridge")))
    return `the CNI plugins are missing (${DEFAULT_PLUGIN_DIR}/bridge)`;
  const busybox = spawnSync("busybox", ["true"]);
  if (busybox.error !== undefined || busybox.status !== 0) return "busybox (for ping) is missing";
  return undefined;
}

/** A fresh node with a unique `vmnt-` name and a temporary state directory. */
export async function freshNode(): Promise<LabNode> {
  const stateDir = await mkdtemp(join(tmpdir(), "vmnt-lab-"));
  return createNode({ name: uniqueNetnsName(), stateDir });
}

/** What must be identical before and after a lab test file: the root namespace's links and nftables ruleset. */
export async function rootSnapshot(): Promise<{ links: unknown; ruleset: string }> {
  const links = await hostExecutor.run("ip", ["-json", "link"]);
  const ruleset = await hostExecutor.run("nft", ["list", "ruleset"]);
  // Counters and timestamps are not state; addresses, names, flags and masters are.
  const parsed: unknown = JSON.parse(links.stdout);
  return { links: parsed, ruleset: ruleset.stdout };
}

/** `busybox ping` once from `netns` to `ip`, allowing failure; resolves with the exit code and output. */
export function ping(netns: string, ip: string, timeoutS = 2): Promise<ExecResult> {
  return hostExecutor.run("busybox", ["ping", "-c", "1", "-W", String(timeoutS), ip], { netns, allowFailure: true });
}

/** `ip -json <args>` in `netns`, parsed. */
export async function ipJson(netns: string, args: readonly string[]): Promise<unknown[]> {
  const { stdout } = await hostExecutor.run("ip", ["-n", netns, "-json", ...args]);
  const parsed: unknown = JSON.parse(stdout === "" ? "[]" : stdout);
  return Array.isArray(parsed) ? parsed : [];
}

/** Names of the links in `netns`. */
export async function linkNames(netns: string): Promise<string[]> {
  return (await ipJson(netns, ["link"])).flatMap((l) =>
    typeof l === "object" && l !== null && "ifname" in l && typeof l.ifname === "string" ? [l.ifname] : [],
  );
}

/** MAC of link `ifname` in `netns`. */
export async function linkMac(netns: string, ifname: string): Promise<string> {
  const [l] = await ipJson(netns, ["link", "show", "dev", ifname]);
  if (typeof l === "object" && l !== null && "address" in l && typeof l.address === "string") return l.address;
  throw new Error(`No MAC for "${ifname}" in "${netns}"`);
}
