import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { processAlive } from "../../src/host/process.ts";
import { acquireLock, LockBusyError } from "../../src/vm/lock.ts";

const dir = mkdtempSync(join(tmpdir(), "vmnt-lock-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A pid that certainly ran and is gone now. */
function deadPid(): number {
  const r = spawnSync("sh", ["-c", "echo $$"], { encoding: "utf8" });
  return Number.parseInt(r.stdout.trim(), 10);
}

describe("processAlive", () => {
  test("this process is alive; an exited one and nonsense pids are not", () => {
    assert.equal(processAlive(process.pid), true);
    assert.equal(processAlive(deadPid()), false);
    assert.equal(processAlive(0), false);
    assert.equal(processAlive(-1), false);
    assert.equal(processAlive(1.5), false);
  });
});

describe("acquireLock", () => {
  test("writes the owner's pid and removes the file on release", async () => {
    const path = join(dir, "a.lock");
    const lock = await acquireLock(path);
    assert.equal(readFileSync(path, "utf8"), `${process.pid}\n`);
    await lock.release();
    assert.throws(() => readFileSync(path));
  });

  test("waits while a live process holds it, then fails with LockBusyError", async () => {
    const path = join(dir, "b.lock");
    const held = await acquireLock(path);
    await assert.rejects(acquireLock(path, { timeoutMs: 300 }), LockBusyError);
    await held.release();
  });

  test("a second taker gets the lock once the first releases it", async () => {
    const path = join(dir, "c.lock");
    const first = await acquireLock(path);
    const order: string[] = [];
    const second = acquireLock(path, { timeoutMs: 5_000 }).then((l) => {
      order.push("second");
      return l;
    });
    await new Promise((r) => setTimeout(r, 200));
    order.push("released");
    await first.release();
    await (await second).release();
    assert.deepEqual(order, ["released", "second"]);
  });

  test("takes over a lock whose owner died (a crashed command)", async () => {
    const path = join(dir, "d.lock");
    writeFileSync(path, `${deadPid()}\n`);
    const lock = await acquireLock(path, { timeoutMs: 1_000 });
    assert.equal(readFileSync(path, "utf8"), `${process.pid}\n`);
    await lock.release();
  });

  test("takes over an empty lock file once it is old (a crash between create and write)", async () => {
    const path = join(dir, "e.lock");
    writeFileSync(path, "");
    const old = new Date(Date.now() - 60_000);
    utimesSync(path, old, old);
    const lock = await acquireLock(path, { timeoutMs: 1_000 });
    await lock.release();
  });

  test("release leaves a lock another process has taken over alone", async () => {
    const path = join(dir, "f.lock");
    const lock = await acquireLock(path);
    writeFileSync(path, "1\n");
    await lock.release();
    assert.equal(readFileSync(path, "utf8"), "1\n");
  });
});
