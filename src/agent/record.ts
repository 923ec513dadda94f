/**
 * `<stateDir>/agent-pods.json`: the pods the agent serves, so that an agent started again (after a crash or an
 * upgrade) serves them without any CLI call. Written whole to a temp file, fsynced, then renamed over the record, so
 * a crash leaves either the old or the new record, never half of one.
 */
import { randomBytes } from "node:crypto";
import { open, readFile, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import type { DhcpInterfacePlan } from "../runtime/dhcp/config.ts";
import { decodeInterfaces } from "./protocol.ts";

/** Version of the record's format. */
export const RECORD_VERSION = 1;

/** One served pod as recorded. */
export interface RecordedPod {
  readonly podId: string;
  readonly netns: string;
  readonly interfaces: readonly DhcpInterfacePlan[];
}

/** The record could not be read; the agent moves it aside and starts empty. */
export class RecordError extends Error {
  override readonly name = "RecordError";
}

/** Reads the record at `path`: [] when there is none; throws {@link RecordError} when it is unreadable. */
export async function readRecord(path: string): Promise<RecordedPod[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new RecordError(`Cannot read pod record "${path}": ${e instanceof Error ? e.message : e}`, { cause: e });
  }
  try {
    const v = JSON.parse(text) as { version?: unknown; pods?: unknown };
    if (v.version !== RECORD_VERSION) throw new Error(`version "${String(v.version)}" is not ${RECORD_VERSION}`);
    if (!Array.isArray(v.pods)) throw new Error('"pods" is not an array');
    return v.pods.map((p: { podId?: unknown; netns?: unknown; interfaces?: unknown }) => {
      if (typeof p.podId !== "string" || typeof p.netns !== "string") throw new Error("a pod lacks podId or netns");
      return { podId: p.podId, netns: p.netns, interfaces: decodeInterfaces(p.interfaces) };
    });
  } catch (e) {
    throw new RecordError(`Cannot read pod record "${path}": ${e instanceof Error ? e.message : e}`, { cause: e });
  }
}

/** Replaces the record at `path` with `pods`, atomically. */
export async function writeRecord(path: string, pods: readonly RecordedPod[]): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  const text = `${JSON.stringify({ version: RECORD_VERSION, pods }, null, 2)}\n`;
  const fh = await open(tmp, "wx", 0o600);
  try {
    await fh.writeFile(text, "utf8");
    await fh.sync();
  } catch (e) {
    await fh.close();
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  // The rename itself survives a power loss only once the directory is synced.
  const dir = await open(dirname(path), "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
