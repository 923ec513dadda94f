/**
 * Cross-process locks as files holding the owner's pid: `open(O_EXCL)` creates them atomically, and a lock whose
 * owner is gone (a crashed `vmnet up`) is taken over, so a crash never wedges later commands.
 */
import { mkdir, open, readFile, rm, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { processAlive } from "../host/process.ts";

/** A held lock. */
export interface FileLock {
  release(): Promise<void>;
}

/** The lock is held by a live process and did not come free in time. */
export class LockBusyError extends Error {
  override readonly name = "LockBusyError";
}

/**
 * Takes the lock at `path`, waiting up to `timeoutMs` (default 60 s) while a live process holds it. A lock file whose
 * pid is dead or unreadable is removed and retried.
 */
export async function acquireLock(path: string, options: { readonly timeoutMs?: number } = {}): Promise<FileLock> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  await mkdir(dirname(path), { recursive: true });
  for (;;) {
    try {
      const handle = await open(path, "wx", 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return {
        release: async () => {
          const owner = await readOwner(path);
          if (owner === process.pid) await rm(path, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const owner = await readOwner(path);
    if (owner === "writing") {
      // The owner is between open() and write(); only a crash there leaves the file empty for long.
      const age =
        Date.now() -
        (await stat(path).then(
          (s) => s.mtimeMs,
          () => 0,
        ));
      if (age > 5_000) await rm(path, { force: true });
      else await new Promise((r) => setTimeout(r, 20));
      continue;
    }
    if (owner === undefined || !processAlive(owner)) {
      // A stale lock: its owner died. Removing it races only with another taker, and open(O_EXCL) decides then.
      await rm(path, { force: true });
      continue;
    }
    if (Date.now() >= deadline) throw new LockBusyError(`Cannot lock "${path}": process ${owner} holds it`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function readOwner(path: string): Promise<number | "writing" | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return undefined;
  }
  if (text === "") return "writing";
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && String(pid) === text.trim() ? pid : undefined;
}
