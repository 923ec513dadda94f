import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  emptyState,
  FileStateStore,
  mergeStates,
  NetworkPhase,
  type PodNetworkState,
  parseState,
} from "../../src/runtime/state.ts";

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "vmnt-state-"));
  dirs.push(d);
  return d;
}
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const sample: PodNetworkState = {
  ...emptyState("abc", NetworkPhase.Finished),
  createdLinks: [{ name: "k6t-eth0", kind: "bridge" }],
  changedLinks: [
    {
      ifindex: 2,
      name: "eth0",
      kind: "veth",
      mac: "0a:58:0a:f4:01:05",
      mtu: 1450,
      master: undefined,
      up: true,
      addresses: ["10.244.1.5/24"],
      routes: [{ family: 4, dst: "default", gateway: "10.244.1.1", protocol: "boot" }],
    },
  ],
  sysctls: [{ key: "net.ipv4.conf.all.arp_ignore", previous: "0" }],
  nftTables: [{ family: "ip", name: "nat", created: true, chains: [], sets: [] }],
};

describe("FileStateStore", () => {
  it("FileStateStore round-trips a record and leaves no temporary file", async () => {
    const dir = join(await tempDir(), "nested");
    const store = new FileStateStore(dir, "uid-1");
    assert.equal(await store.load(), undefined);
    await store.save(sample);
    const loaded = await store.load();
    assert.deepEqual(loaded, JSON.parse(JSON.stringify(sample)));
    assert.deepEqual(await readdir(dir), ["uid-1.json"]);
    assert.equal((await stat(store.path)).mode & 0o777, 0o600);
    await store.remove();
    await store.remove();
    assert.equal(await store.load(), undefined);
  });

  it("FileStateStore replaces a record whole (rename), never appends", async () => {
    const store = new FileStateStore(await tempDir(), "uid-2");
    await store.save(sample);
    await store.save({ ...sample, phase: NetworkPhase.Started, planHash: "def" });
    const text = await readFile(store.path, "utf8");
    assert.equal(parseState(text).planHash, "def");
  });

  it("FileStateStore rejects pod keys that are not plain file names", () => {
    for (const key of ["", "..", "a/b", "a b"]) {
      assert.throws(() => new FileStateStore("/tmp", key), RangeError, key);
    }
  });

  it("FileStateStore names a corrupt record in its error", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "uid-3.json"), '{"version":2}');
    await assert.rejects(new FileStateStore(dir, "uid-3").load(), SyntaxError);
  });
});

describe("mergeStates", () => {
  it("mergeStates keeps the first recorded originals and adds what is new", () => {
    const newer: PodNetworkState = {
      ...emptyState("new"),
      createdLinks: [
        { name: "k6t-eth0", kind: "bridge" },
        { name: "tap0", kind: "tun" },
      ],
      changedLinks: [{ ...(sample.changedLinks[0] as PodNetworkState["changedLinks"][number]), name: "eth0-nic" }],
      sysctls: [
        { key: "net.ipv4.conf.all.arp_ignore", previous: "1" },
        { key: "net.ipv4.ip_forward", previous: "0" },
      ],
    };
    const merged = mergeStates(sample, newer);
    assert.equal(merged.planHash, "new");
    assert.equal(merged.phase, NetworkPhase.Started);
    assert.deepEqual(
      merged.createdLinks.map((l) => l.name),
      ["k6t-eth0", "tap0"],
    );
    assert.equal(merged.changedLinks[0]?.name, "eth0");
    assert.deepEqual(merged.sysctls, [
      { key: "net.ipv4.conf.all.arp_ignore", previous: "0" },
      { key: "net.ipv4.ip_forward", previous: "0" },
    ]);
  });
});
