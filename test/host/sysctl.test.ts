import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { describe, it } from "node:test";
import { RecordingExecutor } from "../../src/host/exec.ts";
import {
  FakeSysctl,
  interfaceSysctlKey,
  NetnsSysctl,
  ProcSysctl,
  type Sysctl,
  SysctlError,
  type SysctlFailure,
  sysctlPath,
} from "../../src/host/sysctl.ts";
import { kernelSkipReason, withNetns } from "./harness.ts";

describe("sysctl keys", () => {
  const paths: { key: string; path: string }[] = [
    { key: "net.ipv4.ip_forward", path: "/proc/sys/net/ipv4/ip_forward" },
    { key: "net/ipv4/conf/eth0.100/arp_ignore", path: "/proc/sys/net/ipv4/conf/eth0.100/arp_ignore" },
  ];
  for (const p of paths) it(`sysctlPath maps "${p.key}"`, () => assert.equal(sysctlPath(p.key), p.path));
  const bad = ["kernel.hostname", "vm.swappiness", "net", "net..x", "net/ipv4/../../kernel/x"];
  for (const key of bad) it(`rejects "${key}"`, () => assert.throws(() => sysctlPath(key), RangeError));
  it("interfaceSysctlKey switches to slashes for dotted names", () => {
    assert.equal(interfaceSysctlKey("ipv4", "k6t-eth0", "route_localnet"), "net.ipv4.conf.k6t-eth0.route_localnet");
    assert.equal(interfaceSysctlKey("ipv4", "eth0.100", "arp_ignore"), "net/ipv4/conf/eth0.100/arp_ignore");
  });
});

interface SysctlCase {
  name: string;
  key: string;
  value?: string;
  expect?: string;
  error?: SysctlFailure;
}

const cases: SysctlCase[] = [
  { name: "reads the default ip_forward", key: "net.ipv4.ip_forward", expect: "0" },
  { name: "enables IPv4 forwarding", key: "net.ipv4.ip_forward", value: "1", expect: "1" },
  { name: "enables IPv6 forwarding", key: "net.ipv6.conf.all.forwarding", value: "1", expect: "1" },
  { name: "sets arp_ignore", key: "net.ipv4.conf.all.arp_ignore", value: "1", expect: "1" },
  { name: "sets a pair value for passt", key: "net.ipv4.ping_group_range", value: "107 107", expect: "107 107" },
  { name: "reads a pair value normalised", key: "net.ipv4.ping_group_range", expect: "1 0" },
  { name: "sets an unprivileged port start", key: "net.ipv4.ip_unprivileged_port_start", value: "0", expect: "0" },
  { name: "sets a per-interface key", key: "net.ipv4.conf.lo.route_localnet", value: "1", expect: "1" },
  { name: "reading an unknown key", key: "net.ipv4.nope", error: "notFound" },
  { name: "writing an unknown key", key: "net.ipv4.nope", value: "1", error: "notFound" },
  { name: "writing a non-number", key: "net.ipv4.ip_forward", value: "abc", error: "invalid" },
];

async function runCase(s: Sysctl, c: SysctlCase): Promise<void> {
  const act = async () => {
    if (c.value !== undefined) await s.set(c.key, c.value);
    return s.get(c.key);
  };
  if (c.error !== undefined) {
    await assert.rejects(act(), (e: unknown) => e instanceof SysctlError && e.reason === c.error);
  } else {
    assert.equal(await act(), c.expect);
  }
}

interface ManyCase {
  name: string;
  /** Written first with setMany. */
  set?: { key: string; value: string }[];
  /** Read with getMany. */
  get: string[];
  expect?: string[];
  /** The failure and the key it names. */
  error?: { reason: SysctlFailure; key: string };
}

const manyCases: ManyCase[] = [
  {
    name: "getMany reads keys in order, pairs normalised",
    get: ["net.ipv4.ping_group_range", "net.ipv4.ip_forward", "net.ipv4.ip_unprivileged_port_start"],
    expect: ["1 0", "0", "1024"],
  },
  {
    name: "setMany writes every entry at once",
    set: [
      { key: "net.ipv4.ip_forward", value: "1" },
      { key: "net.ipv4.ping_group_range", value: "0 2147483647" },
      { key: "net.ipv4.conf.lo.route_localnet", value: "1" },
    ],
    get: ["net.ipv4.conf.lo.route_localnet", "net.ipv4.ip_forward", "net.ipv4.ping_group_range"],
    expect: ["1", "1", "0 2147483647"],
  },
  {
    name: "getMany names the missing key",
    get: ["net.ipv4.ip_forward", "net.ipv4.nope", "net.ipv4.ping_group_range"],
    error: { reason: "notFound", key: "net.ipv4.nope" },
  },
  {
    name: "setMany names the missing key",
    set: [
      { key: "net.ipv4.ip_forward", value: "1" },
      { key: "net/ipv4/conf/eth0.100/arp_ignore", value: "1" },
    ],
    get: [],
    error: { reason: "notFound", key: "net/ipv4/conf/eth0.100/arp_ignore" },
  },
  {
    name: "setMany goes on after a failing key, as sysctl(8) does",
    set: [
      { key: "net.ipv4.nope", value: "1" },
      { key: "net.ipv4.conf.all.arp_ignore", value: "2" },
    ],
    get: ["net.ipv4.conf.all.arp_ignore"],
    error: { reason: "notFound", key: "net.ipv4.nope" },
    expect: ["2"],
  },
];

async function runManyCase(s: Sysctl, c: ManyCase): Promise<void> {
  assert.ok(s.getMany !== undefined && s.setMany !== undefined);
  const getMany = s.getMany.bind(s);
  const setMany = s.setMany.bind(s);
  const act = async () => {
    if (c.set !== undefined) await setMany(c.set);
    return getMany(c.get);
  };
  if (c.error !== undefined) {
    const { reason, key } = c.error;
    await assert.rejects(act(), (e: unknown) => e instanceof SysctlError && e.reason === reason && e.key === key);
    if (c.expect !== undefined) assert.deepEqual(await getMany(c.get), c.expect);
  } else {
    assert.deepEqual(await act(), c.expect);
  }
}

describe("Sysctl contract: FakeSysctl", () => {
  for (const c of cases) it(c.name, () => runCase(new FakeSysctl(), c));
  for (const c of manyCases) it(c.name, () => runManyCase(new FakeSysctl(), c));
  it("addInterface copies conf.default values", async () => {
    const s = new FakeSysctl();
    await s.set("net.ipv4.conf.default.arp_ignore", "2");
    s.addInterface("k6t-eth0");
    assert.equal(await s.get("net.ipv4.conf.k6t-eth0.arp_ignore"), "2");
  });
});

describe("Sysctl contract: ProcSysctl in a fresh namespace", { skip: kernelSkipReason() }, () => {
  for (const c of cases) {
    it(c.name, () => withNetns(1, ([ns = ""]) => runCase(new ProcSysctl(ns), c)));
  }
  for (const c of manyCases) {
    it(c.name, () => withNetns(1, ([ns = ""]) => runManyCase(new ProcSysctl(ns), c)));
  }

  it("getMany and setMany start one process each, with keys in sysctl(8)'s slash form", async () => {
    await withNetns(1, async ([ns = ""]) => {
      const rec = new RecordingExecutor();
      const s = new ProcSysctl(ns, { executor: rec });
      const keys = ["net.ipv4.ip_forward", "net/ipv4/conf/lo/arp_ignore", "net.ipv4.ping_group_range"];
      await s.setMany([
        { key: "net.ipv4.ip_forward", value: "1" },
        { key: "net/ipv4/conf/lo/arp_ignore", value: "2" },
      ]);
      assert.deepEqual(await s.getMany(keys), ["1", "2", "1 0"]);
      assert.deepEqual(
        rec.calls.map((c) => [c.program, ...c.args]),
        [
          ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net/ipv4/conf/lo/arp_ignore=2"],
          ["sysctl", "-n", ...keys],
        ],
      );
      assert.deepEqual(await s.getMany([]), []);
      await s.setMany([]);
      assert.equal(rec.calls.length, 2, "nothing to read or write starts nothing");
    });
  });

  it("a write stays inside its namespace", async () => {
    await withNetns(2, async ([a = "", b = ""]) => {
      const rec = new RecordingExecutor();
      await new ProcSysctl(a, { executor: rec }).set("net.ipv4.ip_forward", "1");
      assert.equal(rec.calls.length, 1);
      assert.equal(await new ProcSysctl(a).get("net.ipv4.ip_forward"), "1");
      assert.equal(await new ProcSysctl(b).get("net.ipv4.ip_forward"), "0");
    });
  });

  it("rejects a global key without spawning anything", async () => {
    await assert.rejects(new NetnsSysctl("vmnt-unused").set("kernel.hostname", "x"), RangeError);
    const rec = new RecordingExecutor();
    await assert.rejects(new ProcSysctl("vmnt-unused", { executor: rec }).set("kernel.hostname", "x"), RangeError);
    assert.equal(rec.calls.length, 0);
  });
});

describe("Sysctl contract: NetnsSysctl (no process) in a fresh namespace", { skip: kernelSkipReason() }, () => {
  for (const c of cases) {
    it(c.name, () => withNetns(1, ([ns = ""]) => runCase(new NetnsSysctl(ns), c)));
  }
  for (const c of manyCases) {
    it(c.name, () => withNetns(1, ([ns = ""]) => runManyCase(new NetnsSysctl(ns), c)));
  }

  it("a write stays inside its namespace and the thread comes back", async () => {
    await withNetns(2, async ([a = "", b = ""]) => {
      const home = statSync("/proc/thread-self/ns/net").ino;
      await new NetnsSysctl(a).setMany([{ key: "net.ipv4.ip_forward", value: "1" }]);
      assert.equal(statSync("/proc/thread-self/ns/net").ino, home);
      assert.equal(await new ProcSysctl(a).get("net.ipv4.ip_forward"), "1");
      assert.equal(await new ProcSysctl(b).get("net.ipv4.ip_forward"), "0");
      assert.equal(await new NetnsSysctl(b).get("net.ipv4.ip_forward"), "0");
    });
  });

  it("a namespace that does not exist is refused before anything is opened", async () => {
    await assert.rejects(new NetnsSysctl("vmnt-missing-0").get("net.ipv4.ip_forward"), /ENOENT|no such file/i);
  });
});
