/**
 * Integration-test harness: uniquely named network namespaces (prefix `vmnt-`) that are always deleted, and a skip
 * reason when the machine cannot run kernel tests.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createNetns, deleteNetns, listNetns } from "../../src/host/netns.ts";

/** Why kernel tests cannot run here, or `undefined` when they can (root and iproute2 present). */
export function kernelSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root to create network namespaces";
  const ip = spawnSync("ip", ["-V"], { encoding: "utf8" });
  if (ip.error !== undefined || ip.status !== 0) return "iproute2 (`ip`) is missing";
  return undefined;
}

/** Why nftables tests cannot run here, or `undefined`. */
export function nftSkipReason(): string | undefined {
  const base = kernelSkipReason();
  if (base !== undefined) return base;
  const nft = spawnSync("nft", ["--version"], { encoding: "utf8" });
  return nft.error !== undefined || nft.status !== 0 ? "nftables (`nft`) is missing" : undefined;
}

/** A fresh namespace name: `vmnt-` plus random hex (fits well under any length limit). */
export function uniqueNetnsName(): string {
  return `vmnt-${randomBytes(5).toString("hex")}`;
}

/**
 * Creates `count` namespaces, runs `fn` with their names, and deletes them whatever happens. Deletion failures are
 * reported after `fn`'s own error, never instead of it.
 */
export async function withNetns<T>(count: number, fn: (names: string[]) => Promise<T>): Promise<T> {
  const names: string[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const name = uniqueNetnsName();
      names.push(name);
      await createNetns(name);
    }
    return await fn(names);
  } finally {
    const left = new Set(await listNetns());
    for (const name of names) {
      if (left.has(name)) await deleteNetns(name);
    }
  }
}
