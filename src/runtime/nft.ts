/**
 * The pod's nftables ruleset as one transaction. Tables vmnet created are replaced whole (`add table`, `delete table`,
 * then the plan's contents), so loading the same plan again leaves exactly one copy of everything; tables that
 * existed before vmnet (a shared `ip nat`) get renderNftJson's own flush-and-add of vmnet's chains and sets only.
 */
import type { Nftables, NftCommand, NftFamily, NftJson } from "../host/nftables.ts";
import { renderNftJson } from "../plan/nft.ts";
import type { NetworkPlan } from "../plan/plan.ts";
import type { RecordedNftTable } from "./state.ts";

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

interface ListedName {
  readonly family: string;
  readonly table: string;
  readonly name: string;
}

/** The tables, chains and sets of a listing (`nft -j list ruleset`). */
export function listedObjects(listing: NftJson): {
  tables: { family: string; name: string }[];
  chains: ListedName[];
  sets: ListedName[];
} {
  const tables: { family: string; name: string }[] = [];
  const chains: ListedName[] = [];
  const sets: ListedName[] = [];
  for (const entry of listing.nftables as readonly unknown[]) {
    if (!isObject(entry)) continue;
    const t = entry.table;
    if (isObject(t) && typeof t.family === "string" && typeof t.name === "string") {
      tables.push({ family: t.family, name: t.name });
    }
    for (const [key, out] of [
      ["chain", chains],
      ["set", sets],
      ["map", sets],
    ] as const) {
      const o = entry[key];
      if (isObject(o) && typeof o.family === "string" && typeof o.table === "string" && typeof o.name === "string") {
        out.push({ family: o.family, table: o.table, name: o.name });
      }
    }
  }
  return { tables, chains, sets };
}

/** How each table of the plan stands now: created by vmnet (absent now) or shared (present, with its contents). */
export function recordTables(plan: NetworkPlan, listing: NftJson): RecordedNftTable[] {
  const { tables, chains, sets } = listedObjects(listing);
  return plan.nft.tables.map((t) => {
    const exists = tables.some((x) => x.family === t.family && x.name === t.name);
    const mine = (o: ListedName) => o.family === t.family && o.table === t.name;
    return {
      family: t.family,
      name: t.name,
      created: !exists,
      chains: exists ? chains.filter(mine).map((c) => c.name) : [],
      sets: exists ? sets.filter(mine).map((s) => s.name) : [],
    };
  });
}

/** The table a command works on, and whether it is a flush. */
function commandTable(cmd: NftCommand): { family: NftFamily; table: string; flush: boolean } | undefined {
  const target = "add" in cmd ? cmd.add : "create" in cmd ? cmd.create : "delete" in cmd ? cmd.delete : cmd.flush;
  const flush = "flush" in cmd;
  if ("ruleset" in target) return undefined;
  if ("table" in target) return { family: target.table.family, table: target.table.name, flush };
  const o =
    "chain" in target
      ? target.chain
      : "set" in target
        ? target.set
        : "map" in target
          ? target.map
          : "rule" in target
            ? target.rule
            : target.element;
  return { family: o.family, table: o.table, flush };
}

/**
 * The one transaction that loads the plan's ruleset. `owned` are the tables vmnet created (from the record); they are
 * dropped and rebuilt inside the transaction, which makes the chain and set flushes for them redundant.
 */
export function applyTransaction(plan: NetworkPlan, owned: readonly RecordedNftTable[]): NftJson<NftCommand> {
  const isOwned = (family: NftFamily, name: string) =>
    owned.some((t) => t.created && t.family === family && t.name === name);
  const cmds: NftCommand[] = [];
  for (const t of plan.nft.tables) {
    if (isOwned(t.family, t.name)) {
      cmds.push({ add: { table: { family: t.family, name: t.name } } });
      cmds.push({ delete: { table: { family: t.family, name: t.name } } });
    }
  }
  for (const cmd of renderNftJson(plan.nft).nftables) {
    const target = commandTable(cmd);
    if (target?.flush === true && isOwned(target.family, target.table)) continue;
    cmds.push(cmd);
  }
  return { nftables: cmds };
}

/**
 * The transaction that removes what vmnet added: tables it created, and in shared tables the chains and sets that
 * were not there before (flushed first, so jumps between them do not block the deletes). Undefined when nothing is
 * left to remove.
 */
export function undoTransaction(
  tables: readonly RecordedNftTable[],
  listing: NftJson,
): NftJson<NftCommand> | undefined {
  const now = listedObjects(listing);
  const cmds: NftCommand[] = [];
  const flushes: NftCommand[] = [];
  const deletes: NftCommand[] = [];
  for (const t of tables) {
    const present = now.tables.some((x) => x.family === t.family && x.name === t.name);
    if (!present) continue;
    if (t.created) {
      cmds.push({ delete: { table: { family: t.family, name: t.name } } });
      continue;
    }
    const family = t.family as NftFamily;
    for (const c of now.chains) {
      if (c.family !== t.family || c.table !== t.name || t.chains.includes(c.name)) continue;
      flushes.push({ flush: { chain: { family, table: t.name, name: c.name } } });
      deletes.push({ delete: { chain: { family, table: t.name, name: c.name } } });
    }
    for (const s of now.sets) {
      if (s.family !== t.family || s.table !== t.name || t.sets.includes(s.name)) continue;
      deletes.push({ delete: { set: { family, table: t.name, name: s.name } } });
    }
  }
  const all = [...cmds, ...flushes, ...deletes];
  return all.length === 0 ? undefined : { nftables: all };
}

/** Removes what {@link undoTransaction} names, in one transaction; nothing when nothing is left. */
export async function undoNft(nft: Nftables, tables: readonly RecordedNftTable[]): Promise<void> {
  if (tables.length === 0) return;
  const tx = undoTransaction(tables, await nft.list());
  if (tx !== undefined) await nft.apply(tx);
}
