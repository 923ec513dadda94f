import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { acquirePidLock, readPidfile } from "../../src/agent/lock.ts";

describe("acquirePidLock", () => {
  const dir = mkdtempSync(join(tmpdir(), "vmnt-lock-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("locks, writes the pid, refuses a second taker naming the holder, and removes the file on release", () => {
    const path = join(dir, "a.pid");
    const first = acquirePidLock(path);
    assert.ok(first.acquired);
    assert.equal(readPidfile(path), process.pid);
    // flock locks belong to the open file description, so a second open in this process conflicts like another process.
    assert.deepEqual(acquirePidLock(path), { acquired: false, holder: process.pid });
    first.lock.release();
    first.lock.release();
    assert.equal(existsSync(path), false);
    const again = acquirePidLock(path);
    assert.ok(again.acquired);
    again.lock.release();
  });

  it("takes over a pidfile nobody holds a lock on, whatever it says", () => {
    const path = join(dir, "stale.pid");
    writeFileSync(path, "4194303\nand more garbage");
    const result = acquirePidLock(path);
    assert.ok(result.acquired);
    assert.equal(readPidfile(path), process.pid);
    result.lock.release();
  });

  it("release leaves a pidfile alone that is no longer the one it locked", () => {
    const path = join(dir, "replaced.pid");
    const result = acquirePidLock(path);
    assert.ok(result.acquired);
    rmSync(path);
    writeFileSync(path, "1\n");
    result.lock.release();
    assert.equal(readPidfile(path), 1);
  });
});

describe("readPidfile", () => {
  const dir = mkdtempSync(join(tmpdir(), "vmnt-lock-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const cases: { text: string | undefined; want: number | undefined }[] = [
    { text: "123\n", want: 123 },
    { text: "123", want: 123 },
    { text: "", want: undefined },
    { text: "0\n", want: undefined },
    { text: "12a\n", want: undefined },
    { text: "-5\n", want: undefined },
    { text: undefined, want: undefined },
  ];
  for (const [i, c] of cases.entries()) {
    it(`reads ${JSON.stringify(c.text)} as ${c.want}`, () => {
      const path = join(dir, `${i}.pid`);
      if (c.text !== undefined) writeFileSync(path, c.text);
      assert.equal(readPidfile(path), c.want);
    });
  }
});
