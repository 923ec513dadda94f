/**
 * Undoing a record: what apply's rollback and teardown share. Everything is compared with the kernel first, so undoing
 * a record twice, or one whose changes only partly happened, is fine.
 */
import type { Netlink, NetlinkOp } from "../host/netlink.ts";
import type { Nftables } from "../host/nftables.ts";
import { getSysctls, type Sysctl as SysctlAdapter, setSysctls, sysctlSegments } from "../host/sysctl.ts";
import { readNetwork } from "./discover.ts";
import { undoLinkOps } from "./links.ts";
import { undoNft } from "./nft.ts";
import type { PodNetworkState, RecordedSysctl } from "./state.ts";

/** The host adapters of one pod namespace. */
export interface PodAdapters {
  readonly netlink: Netlink;
  readonly nft: Nftables;
  readonly sysctl: SysctlAdapter;
}

/** The interface a per-interface key (`net.ipv4.conf.<ifname>.<setting>`) names, if it names one. */
export function sysctlInterface(key: string): string | undefined {
  const parts = sysctlSegments(key);
  if (parts[2] !== "conf" || parts.length < 5) return undefined;
  const name = parts.slice(3, -1).join(".");
  return name === "all" || name === "default" ? undefined : name;
}

/** Puts `sysctls` back that differ now: one read of them all, one write of those that differ. */
async function restoreSysctls(sysctl: SysctlAdapter, sysctls: readonly RecordedSysctl[]): Promise<RecordedSysctl[]> {
  const now = await getSysctls(
    sysctl,
    sysctls.map((s) => s.key),
  );
  const differ = sysctls.filter((s, i) => now[i] !== s.previous);
  await setSysctls(
    sysctl,
    differ.map((s) => ({ key: s.key, value: s.previous })),
  );
  return differ;
}

/** What undoing did. */
export interface UndoResult {
  readonly ops: readonly NetlinkOp[];
  readonly sysctls: readonly RecordedSysctl[];
}

/**
 * Removes the record's nftables objects (one transaction), deletes its links and restores the changed ones (one
 * batch), then puts its sysctls back, except those of links it created (they went with the links). Every step runs
 * even if an earlier one failed; the first failure is thrown at the end.
 */
export async function undoRecord(record: PodNetworkState, adapters: PodAdapters): Promise<UndoResult> {
  const errors: unknown[] = [];
  try {
    await undoNft(adapters.nft, record.nftTables);
  } catch (e) {
    errors.push(e);
  }
  let ops: NetlinkOp[] = [];
  try {
    const { views, routes } = await readNetwork(adapters.netlink);
    ops = undoLinkOps({ created: record.createdLinks, changed: record.changedLinks }, views, routes);
    if (ops.length > 0) await adapters.netlink.batch(ops);
  } catch (e) {
    errors.push(e);
  }
  const created = new Set(record.createdLinks.map((l) => l.name));
  const toRestore = record.sysctls.filter((s) => {
    const iface = sysctlInterface(s.key);
    return iface === undefined || !created.has(iface);
  });
  let restored: RecordedSysctl[] = [];
  try {
    restored = await restoreSysctls(adapters.sysctl, toRestore);
  } catch {
    // One key failing (its link gone, say) must not stop the others: key by key, every failure collected.
    restored = [];
    for (const s of toRestore) {
      try {
        if ((await adapters.sysctl.get(s.key)) !== s.previous) {
          await adapters.sysctl.set(s.key, s.previous);
          restored.push(s);
        }
      } catch (e) {
        errors.push(e);
      }
    }
  }
  if (errors.length > 0) throw errors[0];
  return { ops, sysctls: restored };
}
