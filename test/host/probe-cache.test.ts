import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { cachedProbe, resolveOnPath } from "../../src/host/probe-cache.ts";

const root = mkdtempSync(join(tmpdir(), "vmnt-probe-"));
after(() => rmSync(root, { recursive: true, force: true }));

describe("cachedProbe", () => {
  it("computes once while the input files stay the same, again when one changes", async () => {
    const dir = join(root, "a");
    const input = join(root, "a-input");
    writeFileSync(input, "v1");
    let calls = 0;
    const probe = () => cachedProbe("p", [input], async () => ++calls, { dir });
    assert.equal(await probe(), 1);
    assert.equal(await probe(), 1);
    writeFileSync(input, "v2 longer");
    utimesSync(input, new Date(), new Date(Date.now() + 5_000));
    assert.equal(await probe(), 2);
    assert.equal(await probe(), 2);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith(".tmp")),
      [],
    );
  });

  it("does not cache when an input is missing", async () => {
    const dir = join(root, "b");
    let calls = 0;
    const probe = () => cachedProbe("p", [join(root, "nope")], async () => ++calls, { dir });
    assert.equal(await probe(), 1);
    assert.equal(await probe(), 2);
  });

  it("computes again over a damaged entry", async () => {
    const dir = join(root, "c");
    const input = join(root, "c-input");
    writeFileSync(input, "x");
    let calls = 0;
    const probe = () => cachedProbe("p", [input], async () => ++calls, { dir });
    assert.equal(await probe(), 1);
    for (const f of readdirSync(dir)) writeFileSync(join(dir, f), "{broken");
    assert.equal(await probe(), 2);
  });

  it("keeps different names apart for the same inputs", async () => {
    const dir = join(root, "d");
    const input = join(root, "d-input");
    writeFileSync(input, "x");
    assert.equal(await cachedProbe("one", [input], async () => "1", { dir }), "1");
    assert.equal(await cachedProbe("two", [input], async () => "2", { dir }), "2");
  });
});

describe("resolveOnPath", () => {
  const cases = [
    { name: "a path is itself", command: "/bin/x", path: "", want: "/bin/x" },
    { name: "sh is found on PATH", command: "sh", path: "/nonexistent:/bin", want: "/bin/sh" },
    { name: "nothing on an empty PATH", command: "sh", path: "", want: undefined },
  ];
  for (const c of cases) it(c.name, async () => assert.equal(await resolveOnPath(c.command, c.path), c.want));
});
