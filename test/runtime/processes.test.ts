import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { PortSpec } from "../../src/api/model.ts";
import { FakeNftables } from "../../src/host/nftables-fake.ts";
import type { NetworkPlan, ProcessPlan } from "../../src/plan/plan.ts";
import { planPod } from "../../src/plan/plan.ts";
import { PlaceholderKind } from "../../src/runtime/links.ts";
import {
  liveProcesses,
  ProcessError,
  parseOpenFilesLimit,
  processArgv,
  processRecordFile,
  processStartTime,
  readProcessRecord,
  startProcesses,
  stopProcesses,
} from "../../src/runtime/processes.ts";
import { MemoryStateStore } from "../../src/runtime/state.ts";
import { unwirePod, WireError, WireStep, wirePod } from "../../src/runtime/wire.ts";
import { config, iface, link, pod, podNet, vm } from "../plan/fixtures.ts";
import { fakePod, LinkedFakeSysctl, podFiles } from "./helpers.ts";

const isRoot = process.getuid?.() === 0;
const noNetns = (_netns: string, argv: readonly string[]) => [...argv];

/** A passt plan for a pod with eth0 at 10.9.0.5, its run dir under `runDir`. */
function passtPlan(runDir: string, ports: readonly PortSpec[] = [{ protocol: "TCP", port: 8080 }]): NetworkPlan {
  const model = vm([iface("default", { kind: "passtBinding" }, { ports })], [podNet()]);
  return planPod(model, {
    config: config(),
    pod: pod([link("eth0", 2, "0a:58:0a:09:00:05", ["10.9.0.5/24"])]),
    runDir,
  });
}

// Stands in for passt: listens on the socket it is given, or exits, or never listens, as `mode` says.
const FAKE = `
const [socket, mode] = process.argv.slice(1);
console.error("fake helper starting in mode " + mode);
if (mode === "exit") process.exit(3);
if (mode === "listen") require("node:net").createServer().listen(socket);
setInterval(() => {}, 1000);
`;

/** The plan with each process replaced by the fake helper in `mode`. */
function withFake(plan: NetworkPlan, mode: "listen" | "exit" | "silent"): NetworkPlan {
  return {
    ...plan,
    interfaces: plan.interfaces.map((i) =>
      i.process === undefined
        ? i
        : { ...i, process: { ...i.process, binary: process.execPath, args: ["-e", FAKE, i.process.socketPath, mode] } },
    ),
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.startsWith("Z") === false;
  } catch {
    return false;
  }
}

describe("parseOpenFilesLimit", () => {
  const cases = [
    {
      name: "numbers",
      text: "Max cpu time              unlimited            unlimited            seconds\nMax open files            1024                 20000                files\n",
      want: { soft: 1024, hard: 20000 },
    },
    {
      name: "unlimited hard",
      text: "Max open files            4096                 unlimited            files\n",
      want: { soft: 4096, hard: Number.POSITIVE_INFINITY },
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(parseOpenFilesLimit(c.text), c.want));
  }
  it("rejects limits without the line", () => {
    assert.throws(() => parseOpenFilesLimit("Max processes 1 1 processes\n"), ProcessError);
  });
});

describe("processArgv", () => {
  const base: ProcessPlan = {
    binary: "/usr/bin/passt",
    args: ["--foreground"],
    socketPath: "/run/x/s",
    stateDir: "/run/x",
    runAs: { uid: 107, gid: 107 },
  };
  const cases = [
    {
      name: "no open-file need",
      process: base,
      hard: 1024,
      want: ["ip", "netns", "exec", "ns1", "/usr/bin/passt", "--foreground"],
    },
    {
      name: "need within the hard limit",
      process: { ...base, openFiles: 1000 },
      hard: 1024,
      want: ["ip", "netns", "exec", "ns1", "/usr/bin/passt", "--foreground"],
    },
    {
      name: "need beyond the hard limit: prlimit raises it first",
      process: { ...base, openFiles: 262_144 },
      hard: 20_000,
      want: ["prlimit", "--nofile=262144:262144", "--", "ip", "netns", "exec", "ns1", "/usr/bin/passt", "--foreground"],
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(processArgv(c.process, "ns1", c.hard), c.want));
  }
});

describe("startProcesses and stopProcesses with a fake helper", { skip: !isRoot && "needs root (chown)" }, () => {
  let dir = "";
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "vmnt-proc-"));
    chmodSync(dir, 0o755);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("refuses a state dir whose parent uid 107 cannot search, before starting anything", async () => {
    const closed = join(dir, "closed");
    mkdirSync(closed, { mode: 0o700 });
    const stateDir = join(dir, "state0");
    const plan = withFake(passtPlan(join(closed, "run")), "listen");
    await assert.rejects(
      startProcesses(plan, { netns: "n", stateDir, podKey: "pod0", enterNetns: noNetns }),
      (e: unknown) =>
        e instanceof ProcessError &&
        e.message ===
          `Cannot start "${process.execPath}" for interface "default": uid 107 cannot reach "${closed}" (mode 0700) to create "${join(closed, "run", "passt-eth0.socket")}"`,
    );
    assert.equal(existsSync(processRecordFile(stateDir, "pod0")), false);
    assert.equal(existsSync(join(closed, "run")), false);
  });

  it("returns undefined for a plan without processes", async () => {
    const model = vm([iface("default", { kind: "bridge" })], [podNet()]);
    const plan = planPod(model, {
      config: config(),
      pod: pod([link("eth0", 2, "0a:58:0a:09:00:05", ["10.9.0.5/24"])]),
    });
    const state = join(dir, "none");
    assert.equal(await startProcesses(plan, { netns: "n", stateDir: state, podKey: "p" }), undefined);
    assert.equal(existsSync(state), false);
  });

  it("starts in a state dir owned by runAs, records the pid durably, and stop removes everything", async () => {
    const runDir = join(dir, "run1", "ns", "vm");
    const stateDir = join(dir, "state1");
    const plan = withFake(passtPlan(runDir), "listen");
    const started = await startProcesses(plan, { netns: "n", stateDir, podKey: "pod1", enterNetns: noNetns });
    assert.ok(started);
    const [entry] = started.processes;
    assert.ok(entry);
    assert.equal(entry.interface, "default");
    assert.ok(alive(entry.pid));
    assert.equal(entry.startTime, await processStartTime(entry.pid));
    assert.ok(lstatSync(entry.socketPath).isSocket());
    assert.equal(statSync(runDir).uid, 107);
    assert.equal(statSync(runDir).gid, 107);
    assert.deepEqual(entry.createdDirs, [join(dir, "run1"), join(dir, "run1", "ns"), runDir]);
    const record = await readProcessRecord(stateDir, "pod1");
    assert.deepEqual(record, { version: 1, netns: "n", processes: [entry] });
    assert.equal((await liveProcesses(record)).length, 1);

    assert.equal(await stopProcesses(stateDir, "pod1"), 1);
    assert.equal(alive(entry.pid), false);
    assert.equal(existsSync(processRecordFile(stateDir, "pod1")), false);
    assert.equal(existsSync(join(dir, "run1")), false);
    assert.equal(await stopProcesses(stateDir, "pod1"), 0, "a second stop finds nothing");
  });

  const failures = [
    { name: "exits before its socket", mode: "exit" as const, message: /exited \(status 3\).*fake helper starting/ },
    {
      name: "never makes its socket",
      mode: "silent" as const,
      message: /did not create .* within 1500 ms: fake helper/,
    },
  ];
  for (const [k, c] of failures.entries()) {
    it(`fails naming the interface with the log tail when the helper ${c.name}, leaving nothing`, async () => {
      const runDir = join(dir, `fail${k}`);
      const stateDir = join(dir, `fstate${k}`);
      const plan = withFake(passtPlan(runDir), c.mode);
      const error = await startProcesses(plan, {
        netns: "n",
        stateDir,
        podKey: "pod2",
        enterNetns: noNetns,
        socketTimeoutMs: 1500,
      }).then(
        () => assert.fail("startProcesses should fail"),
        (e: unknown) => e,
      );
      assert.ok(error instanceof ProcessError);
      assert.match(error.message, /for interface "default"/);
      assert.match(error.message, c.message);
      assert.equal(existsSync(processRecordFile(stateDir, "pod2")), false);
      assert.equal(existsSync(runDir), false);
    });
  }

  it("refuses up front when every port needs more open files than the limit allows", async () => {
    const stateDir = join(dir, "state3");
    const plan = withFake(passtPlan(join(dir, "run3"), []), "listen");
    assert.equal(plan.interfaces[0]?.process?.openFiles, 262_144);
    let raised = 0;
    await assert.rejects(
      startProcesses(plan, {
        netns: "n",
        stateDir,
        podKey: "pod3",
        enterNetns: noNetns,
        hardOpenFiles: async () => 20_000,
        canRaiseOpenFiles: async (n) => {
          raised = n;
          return false;
        },
      }),
      (e: unknown) =>
        e instanceof ProcessError &&
        e.message ===
          `Cannot start "${process.execPath}" for interface "default": forwarding every port needs 262144 open files but the hard limit is 20000 and cannot be raised (list the interface's ports, or raise the limit)`,
    );
    assert.equal(raised, 262_144);
    assert.equal(existsSync(stateDir), false);
  });

  it("does not signal a process that reused a recorded pid", async () => {
    const stateDir = join(dir, "state4");
    const child = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      const pid = child.pid;
      assert.ok(pid);
      const startTime = await processStartTime(pid);
      assert.ok(startTime);
      execFileSync("mkdir", ["-p", stateDir]);
      const entry = {
        interface: "default",
        pid,
        startTime: String(Number(startTime) - 1),
        binary: "/usr/bin/passt",
        socketPath: join(stateDir, "gone.socket"),
        logFile: join(stateDir, "gone.log"),
        createdDirs: [],
      };
      writeFileSync(
        processRecordFile(stateDir, "pod4"),
        JSON.stringify({ version: 1, netns: "n", processes: [entry] }),
      );
      assert.equal(await stopProcesses(stateDir, "pod4"), 1);
      assert.ok(alive(pid), "the unrelated process still runs");
    } finally {
      child.kill("SIGKILL");
    }
  });
});

describe("wirePod with a passt interface (fake pod, fake helper)", { skip: !isRoot && "needs root (chown)" }, () => {
  let dir = "";
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "vmnt-proc-"));
    chmodSync(dir, 0o755);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  // Stands in for `ip netns exec <netns> passt ...`: the fake helper listening on the planned socket.
  const enterFake = (_netns: string, argv: readonly string[]) => {
    const socket = argv[argv.indexOf("--socket") + 1] ?? "";
    return [process.execPath, "-e", FAKE, socket, "listen"];
  };
  const model = vm(
    [iface("default", { kind: "passtBinding" }, { ports: [{ protocol: "TCP", port: 80 }] })],
    [podNet()],
  );
  const options = (k: number, attachGuest: (plan: NetworkPlan) => Promise<() => Promise<void>>) => {
    const kernel = fakePod();
    return {
      netns: "vmnt-fake",
      podDir: "/pod",
      config: config(),
      stateDir: join(dir, `state${k}`),
      podKey: "pod",
      agent: { start: async () => {}, stop: async () => {} },
      adapters: { netlink: kernel, nft: new FakeNftables(), sysctl: new LinkedFakeSysctl(kernel) },
      state: new MemoryStateStore(),
      placeholder: PlaceholderKind.Bridge,
      readFile: podFiles(),
      plan: { runDir: join(dir, `run${k}`) },
      processes: { enterNetns: enterFake, hardOpenFiles: async () => 20_000 },
      attachGuest,
    };
  };

  it("starts passt before the guest attaches, and unwirePod stops it", async () => {
    let socketAtAttach = false;
    const wired = await wirePod(
      model,
      options(1, async (plan) => {
        const socket = plan.interfaces[0]?.process?.socketPath ?? "";
        socketAtAttach = lstatSync(socket).isSocket();
        return async () => {};
      }),
    );
    assert.ok(socketAtAttach, "the socket exists when the guest attaches");
    const pid = wired.processes?.processes[0]?.pid;
    assert.ok(pid !== undefined && alive(pid));
    await unwirePod(wired);
    assert.equal(alive(pid), false);
    assert.equal(existsSync(processRecordFile(join(dir, "state1"), "pod")), false);
  });

  it("a failing attach stops the started passt in the rollback", async () => {
    let pid: number | undefined;
    const error = await wirePod(
      model,
      options(2, async () => {
        pid = (await readProcessRecord(join(dir, "state2"), "pod"))?.processes[0]?.pid;
        throw new Error("injected attach failure");
      }),
    ).then(
      () => assert.fail("wirePod should fail"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof WireError);
    assert.equal(error.step, WireStep.Attach);
    assert.deepEqual(error.rollbackErrors, []);
    assert.ok(pid !== undefined, "passt was recorded before the attach");
    assert.equal(alive(pid), false);
    assert.equal(existsSync(processRecordFile(join(dir, "state2"), "pod")), false);
  });

  it("a passt that cannot start fails the processes step and undoes the applied plan", async () => {
    const o = options(3, async () => async () => {});
    const error = await wirePod(model, {
      ...o,
      processes: { ...o.processes, hardOpenFiles: async () => 20_000, enterNetns: (_n, argv) => ["false", ...argv] },
    }).then(
      () => assert.fail("wirePod should fail"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof WireError);
    assert.equal(error.step, WireStep.Processes);
    assert.match(error.message, /for interface "default" exited \(status 1\)/);
    assert.equal(await o.state.load(), undefined, "the applied plan's record is undone");
  });
});

// The real thing: Debian's passt in a namespace of our own, through the default `ip netns exec` path.
const canRunPasst = isRoot && existsSync("/usr/bin/passt");
describe("startProcesses with Debian's passt", { skip: !canRunPasst && "needs root and /usr/bin/passt" }, () => {
  const ns = `vmnt-prc-${randomBytes(4).toString("hex")}`;
  let dir = "";
  const ip = (...args: string[]) => execFileSync("ip", ["-n", ns, ...args], { stdio: "ignore" });
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "vmnt-proc-"));
    // passt makes its socket as uid 107 after dropping privileges: it must reach the run dir.
    chmodSync(dir, 0o755);
    execFileSync("ip", ["netns", "add", ns]);
    ip("link", "add", "eth0", "type", "veth", "peer", "name", "peer0");
    ip("addr", "add", "10.9.0.5/24", "dev", "eth0");
    ip("link", "set", "eth0", "up");
    ip("link", "set", "peer0", "up");
    ip("route", "add", "default", "via", "10.9.0.1");
  });
  after(async () => {
    await stopProcesses(join(dir, "state"), "real").catch(() => {});
    try {
      execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("starts passt in the pod netns as uid 107, serving its socket, and stops it", async () => {
    const stateDir = join(dir, "state");
    const plan = passtPlan(join(dir, "run"), [
      { protocol: "TCP", port: 8080 },
      { protocol: "UDP", port: 5353 },
    ]);
    const started = await startProcesses(plan, { netns: ns, stateDir, podKey: "real" });
    const entry = started?.processes[0];
    assert.ok(entry);
    assert.equal(
      statSync(`/proc/${entry.pid}/ns/net`).ino,
      statSync(`/run/netns/${ns}`).ino,
      "passt runs in the pod netns",
    );
    const status = readFileSync(`/proc/${entry.pid}/status`, "utf8");
    assert.match(status, /^Uid:\s+107\s/m);
    await new Promise<void>((resolve, reject) => {
      const s = connect(entry.socketPath, () => {
        s.destroy();
        resolve();
      });
      s.once("error", reject);
    });
    assert.equal(await stopProcesses(stateDir, "real"), 1);
    assert.equal(alive(entry.pid), false);
  });

  it("refuses forwarding every port when the hard limit is below passt's need and cannot be raised", async (t) => {
    const hard = parseOpenFilesLimit(readFileSync("/proc/self/limits", "utf8")).hard;
    if (hard >= 262_144) return t.skip("this host's limit allows every port");
    let probe: ChildProcess | undefined;
    try {
      probe = spawn("prlimit", ["--nofile=262144:262144", "--", "true"], { stdio: "ignore" });
      const code = await new Promise((r) => probe?.once("exit", r));
      if (code === 0) return t.skip("this host can raise the limit");
    } finally {
      probe?.kill();
    }
    await assert.rejects(
      startProcesses(passtPlan(join(dir, "run-all"), []), {
        netns: ns,
        stateDir: join(dir, "state-all"),
        podKey: "all",
      }),
      new RegExp(
        `for interface "default": forwarding every port needs 262144 open files but the hard limit is ${hard}`,
      ),
    );
  });
});
