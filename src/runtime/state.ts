/**
 * The per-pod record of what vmnet applied, kept as one JSON file per pod in a directory the caller owns. Teardown and
 * adoption after a restart read it; it is written atomically (temporary file, then rename) so a crash leaves either
 * the old record or the new one, never half of one.
 *
 * KubeVirt marks a network `started` before touching the pod and `finished` afterwards, and refuses to re-run a
 * network left `started` (`preparation for networks %v cannot be restarted`, reference §5.1). vmnet keeps the same two
 * phases but, finding a record left `started`, rolls back what that record says was being applied and then applies
 * again; {@link ApplyResult.recovered} reports that it did.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { NftFamily } from "../host/nftables.ts";
import type { NetworkPlan } from "../plan/plan.ts";

/** Values of {@link PodNetworkState.phase}. */
export const NetworkPhase = { Started: "started", Finished: "finished" } as const;
export type NetworkPhase = (typeof NetworkPhase)[keyof typeof NetworkPhase];

/** A route as it was before vmnet touched the link it goes through. */
export interface RecordedRoute {
  readonly family: 4 | 6;
  /** `default` or a prefix, as `ip` prints it. */
  readonly dst: string;
  readonly gateway?: string;
  /** `kernel` for connected routes the kernel re-creates by itself. */
  readonly protocol?: string;
  /** As `ip -json route` prints it (absent for an IPv4 route's 0); put back with the route. */
  readonly metric?: number;
}

/** A link CNI made, as it was before vmnet changed it (name, MAC, MTU, master, addresses, routes). */
export interface OriginalLink {
  readonly ifindex: number;
  readonly name: string;
  readonly kind: string | undefined;
  readonly mac: string;
  readonly mtu: number;
  readonly master: string | undefined;
  readonly up: boolean;
  /** Every address except IPv6 link-local ones (the kernel re-creates those), as `ip/prefix`. */
  readonly addresses: readonly string[];
  /** Routes of the main table through this link. */
  readonly routes: readonly RecordedRoute[];
}

/** A link vmnet created and therefore deletes. */
export interface CreatedLink {
  readonly name: string;
  /** Kernel kind: `bridge`, `tun` or `dummy`. */
  readonly kind: string;
}

/** A sysctl vmnet changed, with the value it had before. */
export interface RecordedSysctl {
  readonly key: string;
  readonly previous: string;
}

/**
 * An nftables table the plan writes to. A table vmnet created is deleted whole; in a table that existed before (a
 * shared `ip nat`), only the chains and sets that were not there before are removed.
 */
export interface RecordedNftTable {
  readonly family: NftFamily;
  readonly name: string;
  readonly created: boolean;
  /** For tables that existed before: their chains and sets at that time. */
  readonly chains: readonly string[];
  readonly sets: readonly string[];
}

/** What was applied to one pod, and how to undo it. */
export interface PodNetworkState {
  readonly version: 1;
  readonly phase: NetworkPhase;
  readonly planHash: string;
  readonly createdLinks: readonly CreatedLink[];
  readonly changedLinks: readonly OriginalLink[];
  readonly sysctls: readonly RecordedSysctl[];
  readonly nftTables: readonly RecordedNftTable[];
}

/** A record with nothing in it. */
export function emptyState(planHash: string, phase: NetworkPhase = NetworkPhase.Started): PodNetworkState {
  return { version: 1, phase, planHash, createdLinks: [], changedLinks: [], sysctls: [], nftTables: [] };
}

/**
 * Folds a newer record into an older one: the older record's original facts win (a re-apply must not mistake vmnet's
 * own changes for what CNI left), the newer one adds what it created or changed first.
 */
export function mergeStates(older: PodNetworkState | undefined, newer: PodNetworkState): PodNetworkState {
  if (older === undefined) return newer;
  const links = [...older.createdLinks];
  for (const l of newer.createdLinks) if (!links.some((x) => x.name === l.name)) links.push(l);
  const changed = [...older.changedLinks];
  for (const l of newer.changedLinks) if (!changed.some((x) => x.ifindex === l.ifindex)) changed.push(l);
  const sysctls = [...older.sysctls];
  for (const s of newer.sysctls) if (!sysctls.some((x) => x.key === s.key)) sysctls.push(s);
  const tables = [...older.nftTables];
  for (const t of newer.nftTables) {
    if (!tables.some((x) => x.family === t.family && x.name === t.name)) tables.push(t);
  }
  return {
    version: 1,
    phase: newer.phase,
    planHash: newer.planHash,
    createdLinks: links,
    changedLinks: changed,
    sysctls,
    nftTables: tables,
  };
}

/** A stable hash of a plan (SHA-256 of its JSON), to tell whether the applied plan changed. */
export function planHash(plan: NetworkPlan): string {
  return createHash("sha256").update(JSON.stringify(plan), "utf8").digest("hex");
}

/** Loads and saves one pod's record. */
export interface StateStore {
  load(): Promise<PodNetworkState | undefined>;
  save(state: PodNetworkState): Promise<void>;
  remove(): Promise<void>;
}

const POD_KEY = /^[A-Za-z0-9_.-]{1,200}$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Checks the shape of a parsed record; throws SyntaxError naming the file when it is not one. */
export function parseState(text: string, file = "state"): PodNetworkState {
  const v: unknown = JSON.parse(text);
  const ok =
    isObject(v) &&
    v.version === 1 &&
    (v.phase === NetworkPhase.Started || v.phase === NetworkPhase.Finished) &&
    typeof v.planHash === "string" &&
    Array.isArray(v.createdLinks) &&
    Array.isArray(v.changedLinks) &&
    Array.isArray(v.sysctls) &&
    Array.isArray(v.nftTables);
  if (!ok) throw new SyntaxError(`Cannot parse pod network state "${file}": not a version 1 record`);
  return v as unknown as PodNetworkState;
}

/** A {@link StateStore} keeping `<dir>/<podKey>.json`. */
export class FileStateStore implements StateStore {
  readonly #dir: string;
  readonly #file: string;

  /** `podKey` names the pod (e.g. its UID); it becomes the file name, so it is restricted to `[A-Za-z0-9_.-]`. */
  constructor(dir: string, podKey: string) {
    if (!POD_KEY.test(podKey) || podKey === "." || podKey === "..") {
      throw new RangeError(`Invalid pod key "${podKey}": use 1 to 200 of [A-Za-z0-9_.-]`);
    }
    this.#dir = dir;
    this.#file = join(dir, `${podKey}.json`);
  }

  /** The record's path. */
  get path(): string {
    return this.#file;
  }

  async load(): Promise<PodNetworkState | undefined> {
    let text: string;
    try {
      text = await readFile(this.#file, "utf8");
    } catch (e) {
      if (isObject(e) && e.code === "ENOENT") return undefined;
      throw e;
    }
    return parseState(text, this.#file);
  }

  async save(state: PodNetworkState): Promise<void> {
    await mkdir(this.#dir, { recursive: true, mode: 0o750 });
    const tmp = `${this.#file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
    try {
      await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
      await rename(tmp, this.#file);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  async remove(): Promise<void> {
    await rm(this.#file, { force: true });
  }
}

/** A {@link StateStore} in memory, for unit tests and callers that keep no files. */
export class MemoryStateStore implements StateStore {
  #state: PodNetworkState | undefined;
  /** Every record saved, in order. */
  readonly saved: PodNetworkState[] = [];

  async load(): Promise<PodNetworkState | undefined> {
    return this.#state === undefined ? undefined : structuredClone(this.#state);
  }

  async save(state: PodNetworkState): Promise<void> {
    this.#state = structuredClone(state);
    this.saved.push(structuredClone(state));
  }

  async remove(): Promise<void> {
    this.#state = undefined;
  }
}
