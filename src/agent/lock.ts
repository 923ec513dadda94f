/**
 * The agent's pidfile, locked with flock(2) for as long as the agent lives. The kernel drops the lock when the
 * process dies however it dies, so a pidfile left by a dead agent is simply locked again by the next one: there is no
 * "is that pid still alive" guess (a reused pid would fool it) and no window in which two takers both see it stale.
 *
 * Release unlinks the file while still holding the lock. A contender that opened the old file before the unlink gets
 * the lock on an unlinked inode, sees that the path no longer names it, and starts over on the new file.
 */
// libuv opens every file with O_CLOEXEC, so the lock is never inherited by a child process.
import {
  closeSync,
  constants,
  fstatSync,
  ftruncateSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import koffi from "koffi";
import { libc } from "../host/libc.ts";

const LOCK_EX = 2;
const LOCK_NB = 4;
const EWOULDBLOCK = 11;
const EINTR = 4;

function flock(fd: number, op: number): number {
  return libc().flock(fd, op);
}

/** A held pidfile lock. */
export interface PidLock {
  readonly path: string;
  /** Removes the pidfile, then drops the lock. Idempotent. */
  release(): void;
}

/** The outcome of {@link acquirePidLock}: the lock, or the pid written by its holder (undefined if unreadable). */
export type PidLockResult =
  | { readonly acquired: true; readonly lock: PidLock }
  | { readonly acquired: false; readonly holder: number | undefined };

/** The pid written in a pidfile, or undefined when it is missing or holds no pid. */
export function readPidfile(path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
  const m = /^(\d+)\n?$/.exec(text);
  if (m === null) return undefined;
  const pid = Number.parseInt(m[1] ?? "", 10);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

function sameFile(fd: number, path: string): boolean {
  try {
    const a = fstatSync(fd);
    const b = statSync(path);
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
}

/** Locks `path` (created with mode 0600) and writes this process's pid into it, or reports who holds it. */
export function acquirePidLock(path: string): PidLockResult {
  for (let attempt = 0; attempt < 20; attempt++) {
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
    let rc = flock(fd, LOCK_EX | LOCK_NB);
    while (rc < 0 && koffi.errno() === EINTR) rc = flock(fd, LOCK_EX | LOCK_NB);
    if (rc < 0) {
      const errno = koffi.errno();
      closeSync(fd);
      if (errno === EWOULDBLOCK) return { acquired: false, holder: readPidfile(path) };
      throw new Error(`Cannot lock "${path}": flock failed with errno ${errno}`);
    }
    if (!sameFile(fd, path)) {
      // The previous holder unlinked it after we opened it: lock the file that is there now.
      closeSync(fd);
      continue;
    }
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n`, 0);
    let held = true;
    return {
      acquired: true,
      lock: {
        path,
        release() {
          if (!held) return;
          held = false;
          try {
            if (sameFile(fd, path)) unlinkSync(path);
          } finally {
            closeSync(fd);
          }
        },
      },
    };
  }
  throw new Error(`Cannot lock "${path}": it kept being replaced`);
}
