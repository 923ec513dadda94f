/**
 * Time of `vmnet up` from the call to the guest's lease and to the guest answering HTTP from the lab's client pod,
 * split into vmnet's own work and the guest's boot, with 1 VM running and with N running (vmnet's part must not grow
 * with the VMs already there). Target: vmnet's part at most 1 s, and not growing from 1 to N running.
 *
 * Everything runs in a private state directory (`/tmp/vmnt-bench-up-*`, never /run/vmnet): the lab is created first
 * (timed, the cluster's work in Kubernetes), then the DHCP agent is started once (timed; every later `up` finds it).
 * Each measured `up` boots the masquerade VM of examples/vm/masquerade.yaml (renamed) through `upVm`, timestamping
 * its progress lines, the guest's console markers (the serial log read every 25 ms) and the DHCP exchange on the wire
 * (tcpdump in the pod's namespace), then GETs the guest's page from the client pod until it answers, then takes the
 * VM down again. Alternating with the measured ups, the baseline boots the same kernel and initramfs with a bare
 * `qemu-system-x86_64` (same machine, accelerator, memory, guest agent port; no NIC, no QMP) to the ready marker.
 * After the 1-running iterations, N-1 background VMs are booted in parallel batches and the same is measured again.
 *
 * vmnet's part = admission (loading the VM file) + state-directory bookkeeping and lab lookup + image cache check and
 * accelerator choice (both cached) + wiring (agent connection, discovery, plan, apply) + starting the DHCP service
 * (which runs while QEMU starts) + the DHCP server's answer time on the wire (DISCOVER->OFFER plus REQUEST->ACK).
 * Not in it: the pod's creation (CNI ADD, the cluster's work in Kubernetes; its own column), QEMU's start and the
 * guest's boot (their own columns), and what a `vmnet up` process pays once beyond this in-process call (Node start
 * and module load, QEMU's `-device help` probe, which a process caches): printed once as "per-process extra".
 *
 * Usage: node --import tsx bench/up.ts [--running 20] [--iterations 3] [--batch 4] [--accel auto|tcg|kvm]
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parse, stringify } from "yaml";
import { ensureAgent } from "../src/agent/client.ts";
import { Accel, probeAccel } from "../src/hypervisor/accel.ts";
import { qemuGuestAgentArgs } from "../src/hypervisor/qga.ts";
import { buildGuestImage, GUEST_READY_MARKER, type GuestImage } from "../src/lab/guest-image.ts";
import { podNetnsName } from "../src/lab/pod.ts";
import { CLIENT_POD, destroyLab, ensureLab, type Lab } from "../src/vm/lab.ts";
import { chooseAccel, downVm, stopAgent, upVm } from "../src/vm/lifecycle.ts";
import { launcherPodName, type StatePaths, statePaths, vmPaths } from "../src/vm/paths.ts";
import { QEMU, qemuMachineArgs } from "../src/vm/qemu.ts";
import { loadVmSpec } from "../src/vm/spec.ts";
import { fmt, INTERRUPTED_EXIT_CODE, machineLine, median, missingPrerequisite, runIfMain, table } from "./lib.ts";

/** The target: vmnet's part of one `up`, in milliseconds. */
export const UP_TARGET_MS = 1000;
/**
 * How much vmnet's part may grow from 1 to N running VMs, after dividing out the machine's own slowdown (the bare
 * boot's ratio, when above 1): the rest of the allowance is noise between single runs on a shared machine.
 */
export const UP_GROWTH_LIMIT = 1.25;

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SPEC_TEMPLATE = join(ROOT, "examples/vm/masquerade.yaml");
const LEASE_MARKER = "vmnet-guest: lease eth0 ";
const CONSOLE_POLL_MS = 25;
const BOOT_TIMEOUT_MS = 600_000;
/** Pause after the background VMs booted, before measuring with them running. */
const SETTLE_MS = 10_000;

/** Options of {@link runUpBench}. */
export interface UpBenchOptions {
  /** VMs running during the second measurement, the measured one included; below 2 skips it. */
  readonly running: number;
  readonly iterations: number;
  /** Background VMs booted at once. */
  readonly batch: number;
  readonly accel: Accel | "auto";
  readonly out: (line: string) => void;
}

/** One measured `up`, every time in ms. */
export interface UpSample {
  readonly admit: number;
  /** From the call to the "lab:" line: the VM's lock and record, the lab's lookup. */
  readonly lab: number;
  /** Image cache check and accelerator choice. */
  readonly image: number;
  /** The pod's creation (CNI ADD, Multus stand-in): the cluster's work. */
  readonly pod: number;
  /** Agent connection, discovery, plan and apply, up to QEMU's spawn. */
  readonly wire: number;
  /** QEMU's spawn to its `cont` over QMP. */
  readonly qemuStart: number;
  /** From QEMU's `cont` to the DHCP service started in the agent (runs while the guest boots). */
  readonly dhcpStart: number;
  /** The server's answer time on the wire: DISCOVER->OFFER plus REQUEST->ACK (NaN when not captured). */
  readonly dhcpServe: number;
  /** First DISCOVER to ACK on the wire, client's part included (NaN when not captured). */
  readonly dhcpExchange: number;
  /** QEMU's spawn to the guest's ready marker. */
  readonly boot: number;
  /** From the call to the guest's lease marker. */
  readonly toLease: number;
  /** From the call to `upVm` resolving (it polls the console every 200 ms). */
  readonly upReturned: number;
  /** From the call to the first page from the client pod. */
  readonly toReachable: number;
  /** The last (successful) GET's own time: a process in the client pod's namespace. */
  readonly get: number;
  readonly down: number;
  readonly vmnet: number;
}

/** One phase's samples and bare boots. */
export interface UpPhase {
  readonly running: number;
  readonly samples: readonly UpSample[];
  readonly bare: readonly number[];
}

/** What {@link runUpBench} measured. */
export interface UpReport {
  readonly labCreate: number;
  readonly agentStart: number;
  readonly phases: readonly UpPhase[];
  /** Iterations that failed (not in `phases`), with the reason. */
  readonly failures: readonly string[];
}

const now = () => performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs a command; resolves with its exit code and stdout, never rejects. */
function run(argv: readonly string[], timeoutMs: number): Promise<{ code: number; stdout: string }> {
  const [cmd, ...args] = argv;
  return new Promise((resolve) => {
    execFile(cmd ?? "false", args, { timeout: timeoutMs, encoding: "utf8" }, (error, stdout) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout });
    });
  });
}

/**
 * Watches a serial log for guest console markers, reading only the bytes added since the last poll; each marker's
 * time is when the poll first saw it (so at most {@link CONSOLE_POLL_MS} late).
 */
class ConsoleWatch {
  readonly seen = new Map<string, number>();
  #offset = 0;
  #text = "";
  #stopped = false;
  readonly #done: Promise<void>;

  constructor(
    readonly path: string,
    readonly markers: readonly string[],
  ) {
    this.#done = this.#loop();
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) {
      await this.#poll();
      if (this.markers.every((m) => this.seen.has(m))) return;
      await sleep(CONSOLE_POLL_MS);
    }
  }

  async #poll(): Promise<void> {
    const handle = await open(this.path, "r").catch(() => undefined);
    if (handle === undefined) return;
    try {
      const buf = Buffer.alloc(64 * 1024);
      for (;;) {
        const { bytesRead } = await handle.read(buf, 0, buf.length, this.#offset);
        if (bytesRead === 0) break;
        this.#offset += bytesRead;
        this.#text += buf.toString("latin1", 0, bytesRead);
      }
    } finally {
      await handle.close();
    }
    const t = now();
    for (const m of this.markers) if (!this.seen.has(m) && this.#text.includes(m)) this.seen.set(m, t);
  }

  /** Resolves with the time `marker` was seen; rejects after `timeoutMs`. */
  async waitFor(marker: string, timeoutMs: number, alive: () => boolean = () => true): Promise<number> {
    const deadline = now() + timeoutMs;
    for (;;) {
      const t = this.seen.get(marker);
      if (t !== undefined) return t;
      if (now() > deadline) throw new Error(`Timed out waiting for "${marker}" in "${this.path}"`);
      if (!alive()) throw new Error(`QEMU exited before "${marker}" appeared in "${this.path}"`);
      await sleep(CONSOLE_POLL_MS);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#done;
  }
}

/** A DHCP message seen on the wire: its type and time on this process's clock. */
interface WireMessage {
  readonly type: string;
  readonly at: number;
}

/** Parses `tcpdump -v -tt` output into DHCP message types with their times (epoch seconds -> performance ms). */
export function parseDhcpDump(text: string, epochToPerf: (epochMs: number) => number): WireMessage[] {
  const out: WireMessage[] = [];
  let at: number | undefined;
  for (const line of text.split("\n")) {
    const ts = /^(\d+\.\d+) /.exec(line);
    if (ts?.[1] !== undefined) at = epochToPerf(Number(ts[1]) * 1000);
    const m = /DHCP-Message \(53\), length 1: (\w+)/.exec(line);
    if (m?.[1] !== undefined && at !== undefined) out.push({ type: m[1], at });
  }
  return out;
}

/**
 * The server's answer time (OFFER after the last DISCOVER before it, plus ACK after the last REQUEST before it) and
 * the whole exchange (first DISCOVER to first ACK); NaN where a message is missing. Copies of one packet seen on two
 * interfaces (tap and bridge) differ by microseconds.
 */
export function dhcpTimes(messages: readonly WireMessage[]): { serve: number; exchange: number } {
  const first = (type: string) => messages.find((m) => m.type === type)?.at;
  const lastBefore = (type: string, t: number) => messages.filter((m) => m.type === type && m.at <= t).at(-1)?.at;
  const offer = first("Offer");
  const ack = first("ACK");
  const discover = first("Discover");
  if (offer === undefined || ack === undefined || discover === undefined) return { serve: NaN, exchange: NaN };
  const d = lastBefore("Discover", offer);
  const r = lastBefore("Request", ack);
  const serve = d === undefined || r === undefined ? NaN : offer - d + (ack - r);
  return { serve, exchange: ack - discover };
}

/** Everything the run made, removed by {@link Cleanup.run} from `finally` or a signal handler, once. */
class Cleanup {
  readonly vms = new Set<string>();
  readonly children = new Set<ChildProcess>();
  readonly controller = new AbortController();
  #running: Promise<void> | undefined;

  constructor(
    readonly paths: StatePaths,
    readonly out: (line: string) => void,
  ) {}

  child(c: ChildProcess): ChildProcess {
    this.children.add(c);
    c.once("exit", () => this.children.delete(c));
    return c;
  }

  run(): Promise<void> {
    this.#running ??= this.#clean();
    return this.#running;
  }

  async #clean(): Promise<void> {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    // Several downs at once: each is mostly waiting for QEMU to quit.
    const names = [...this.vms];
    for (let i = 0; i < names.length; i += 5) {
      await Promise.all(
        names.slice(i, i + 5).map((n) =>
          downVm(this.paths, n).catch((e: unknown) => {
            // An interrupted `up` removes its VM itself, possibly between down's look and its lock.
            if ((e as NodeJS.ErrnoException).code !== "ENOENT") this.out(`cleanup: down "${n}": ${String(e)}`);
          }),
        ),
      );
    }
    await stopAgent(this.paths).catch((e: unknown) => this.out(`cleanup: agent: ${String(e)}`));
    await destroyLab(this.paths).catch((e: unknown) => this.out(`cleanup: lab: ${String(e)}`));
    await rm(this.paths.root, { recursive: true, force: true });
  }
}

/** Writes the masquerade VM renamed to `name` into `dir`; returns the file. */
async function specFile(dir: string, name: string): Promise<string> {
  const doc = parse(await readFile(SPEC_TEMPLATE, "utf8")) as { metadata: { name: string } };
  doc.metadata.name = name;
  const file = join(dir, `${name}.yaml`);
  await writeFile(file, stringify(doc));
  return file;
}

/** Boots the image with a bare QEMU (no NIC, no QMP) to the ready marker; returns spawn -> ready in ms. */
async function bareBoot(dir: string, image: GuestImage, accel: Accel, cleanup: Cleanup): Promise<number> {
  const serial = join(dir, "bare-serial.log");
  await rm(serial, { force: true });
  const argv = [
    ...qemuMachineArgs({ name: "bare", image, accel, serial }),
    ...qemuGuestAgentArgs(join(dir, "bare-qga.sock")),
  ];
  const start = now();
  const child = cleanup.child(spawn(QEMU, argv, { stdio: "ignore" }));
  const exited = new Promise((r) => child.once("exit", r));
  const watch = new ConsoleWatch(serial, [GUEST_READY_MARKER]);
  try {
    const ready = await watch.waitFor(GUEST_READY_MARKER, BOOT_TIMEOUT_MS, () => child.exitCode === null);
    return ready - start;
  } finally {
    await watch.stop();
    child.kill("SIGKILL");
    await exited;
  }
}

/** GETs the guest's page from the client pod until it answers with its hostname; returns when and the last GET's time. */
async function reach(lab: Lab, ip: string, name: string): Promise<{ at: number; get: number }> {
  const netns = podNetnsName(lab.node, CLIENT_POD);
  // Under heavy load (20 TCG guests on 2 cores) the guest's responder took 12 s after its lease to answer.
  const deadline = now() + 300_000;
  for (;;) {
    const start = now();
    // A long timeout per GET: a slow guest's page (a shell script run per connection) must not be cut off and retried.
    const r = await run(["ip", "netns", "exec", netns, "wget", "-qO-", "-T", "30", `http://${ip}/`], 40_000);
    const at = now();
    if (r.code === 0 && r.stdout.includes(`hostname ${name}`)) return { at, get: at - start };
    if (at > deadline) throw new Error(`VM "${name}" did not answer http://${ip}/ from the client pod`);
    await sleep(50);
  }
}

/** Starts tcpdump for DHCPv4 in `netns`; `stop()` ends it and returns the messages seen. */
function captureDhcp(netns: string, cleanup: Cleanup): { stop: () => Promise<WireMessage[]> } {
  const argv = [
    "netns",
    "exec",
    netns,
    "tcpdump",
    "-i",
    "any",
    "-n",
    "-v",
    "-tt",
    "-l",
    "udp and (port 67 or port 68)",
  ];
  const child = cleanup.child(spawn("ip", argv, { stdio: ["ignore", "pipe", "ignore"] }));
  const chunks: Buffer[] = [];
  child.stdout?.on("data", (b: Buffer) => chunks.push(b));
  const closed = new Promise((r) => child.once("close", r));
  return {
    stop: async () => {
      child.kill("SIGTERM");
      await closed;
      const epochToPerf = (ms: number) => ms - performance.timeOrigin;
      return parseDhcpDump(Buffer.concat(chunks).toString("utf8"), epochToPerf);
    },
  };
}

/** One measured `up` of VM `name`, then reaching it, then its `down`. */
async function measureUp(
  paths: StatePaths,
  lab: Lab,
  dir: string,
  name: string,
  options: UpBenchOptions,
  cleanup: Cleanup,
): Promise<UpSample> {
  const file = await specFile(dir, name);
  const marks = new Map<string, number>();
  const vm = vmPaths(paths, name);
  let watch: ConsoleWatch | undefined;
  let capture: ReturnType<typeof captureDhcp> | undefined;
  cleanup.vms.add(name);
  const t0 = now();
  const spec = loadVmSpec(file);
  const tAdmit = now();
  try {
    const { record } = await upVm(paths, spec, {
      accel: options.accel,
      bootTimeoutMs: BOOT_TIMEOUT_MS,
      signal: cleanup.controller.signal,
      progress: (line) => {
        const t = now();
        const key = /^(lab|image|pod|plan applied|qemu|dhcp|failed)\b/.exec(line)?.[1];
        if (key !== undefined && !marks.has(key)) marks.set(key, t);
        if (key === "qemu") {
          // After startQemu removed the old serial log; the guest's DHCP comes seconds later.
          watch = new ConsoleWatch(vm.serial, [GUEST_READY_MARKER, LEASE_MARKER]);
          capture = captureDhcp(podNetnsName(lab.node, launcherPodName(name)), cleanup);
        }
      },
    });
    const tUp = now();
    const ip = record.podIPs[0];
    if (ip === undefined) throw new Error(`VM "${name}" has no pod IP`);
    if (watch === undefined || capture === undefined) throw new Error(`VM "${name}": no "qemu" progress line`);
    const ready = await watch.waitFor(GUEST_READY_MARKER, 5_000);
    const lease = await watch.waitFor(LEASE_MARKER, 5_000);
    const reached = await reach(lab, ip, name);
    const dhcp = dhcpTimes(await capture.stop());
    const mark = (k: string) => {
      const t = marks.get(k);
      if (t === undefined) throw new Error(`VM "${name}": no "${k}" progress line`);
      return t;
    };
    const tDown = now();
    await downVm(paths, name);
    cleanup.vms.delete(name);
    const down = now() - tDown;
    const s = {
      admit: tAdmit - t0,
      lab: mark("lab") - tAdmit,
      image: mark("image") - mark("lab"),
      pod: mark("pod") - mark("image"),
      wire: mark("plan applied") - mark("pod"),
      qemuStart: mark("qemu") - mark("plan applied"),
      dhcpStart: mark("dhcp") - mark("qemu"),
      dhcpServe: dhcp.serve,
      dhcpExchange: dhcp.exchange,
      boot: ready - mark("plan applied"),
      toLease: lease - t0,
      upReturned: tUp - t0,
      toReachable: reached.at - t0,
      get: reached.get,
      down,
    };
    const vmnet = s.admit + s.lab + s.image + s.wire + s.dhcpStart + (Number.isFinite(s.dhcpServe) ? s.dhcpServe : 0);
    return { ...s, vmnet };
  } finally {
    await watch?.stop();
    await capture?.stop();
  }
}

/** Boots `count` background VMs, `batch` at a time; resolves with the wall time. */
async function bootBackground(
  paths: StatePaths,
  dir: string,
  count: number,
  options: UpBenchOptions,
  cleanup: Cleanup,
): Promise<number> {
  const start = now();
  for (let i = 0; i < count; i += options.batch) {
    const names = Array.from({ length: Math.min(options.batch, count - i) }, (_, k) => `bg-${i + k + 1}`);
    await Promise.all(
      names.map(async (name) => {
        const spec = loadVmSpec(await specFile(dir, name));
        cleanup.vms.add(name);
        await upVm(paths, spec, {
          accel: options.accel,
          bootTimeoutMs: BOOT_TIMEOUT_MS,
          signal: cleanup.controller.signal,
        });
      }),
    );
    options.out(`  background VMs running: ${i + names.length}/${count} (${fmt((now() - start) / 1000)} s)`);
  }
  return now() - start;
}

/** What one `vmnet up` process pays beyond the in-process call: Node + the CLI bundle, QEMU's device probe. */
async function perProcessExtra(): Promise<{ cli: number; deviceProbe: number }> {
  let start = now();
  const cli = await run([join(ROOT, "bin/vmnet"), "validate", SPEC_TEMPLATE], 60_000);
  const cliMs = cli.code === 0 ? now() - start : NaN;
  start = now();
  const probe = await run([QEMU, "-device", "help"], 60_000);
  return { cli: cliMs, deviceProbe: probe.code === 0 ? now() - start : NaN };
}

const COLUMNS: readonly (readonly [string, keyof UpSample])[] = [
  ["vmnet part", "vmnet"],
  ["  admit", "admit"],
  ["  lock+lab lookup", "lab"],
  ["  image+accel (cached)", "image"],
  ["  wire (plan, apply)", "wire"],
  ["  dhcp service start", "dhcpStart"],
  ["  dhcp answers (wire)", "dhcpServe"],
  ["pod creation (CNI)", "pod"],
  ["qemu start", "qemuStart"],
  ["guest boot", "boot"],
  ["dhcp exchange (wire)", "dhcpExchange"],
  ["to lease", "toLease"],
  ["up returned", "upReturned"],
  ["to reachable", "toReachable"],
  ["  last GET", "get"],
  ["down", "down"],
];

/** Prints the per-sample and summary tables and the verdicts. */
function report(r: UpReport, out: (line: string) => void): void {
  out("");
  out("every measured up (ms):");
  const short = ["running", "vmnet", "lab", "image", "wire", "dhcpSt", "dhcpAns", "pod", "qemu", "boot", "bare"];
  const rows: string[][] = [];
  for (const p of r.phases) {
    p.samples.forEach((s, i) => {
      rows.push([
        String(p.running),
        ...[s.vmnet, s.lab, s.image, s.wire, s.dhcpStart, s.dhcpServe, s.pod, s.qemuStart, s.boot].map((v) => fmt(v)),
        fmt(p.bare[i]),
      ]);
    });
  }
  out(table(short, rows));
  out("");
  const [one, many] = r.phases;
  if (one === undefined) return;
  const med = (p: UpPhase, k: keyof UpSample) => median(p.samples.map((s) => s[k]));
  const header = ["median ms", `${one.running} running`];
  if (many !== undefined) header.push(`${many.running} running`, `${many.running}/${one.running}`);
  const line = (label: string, a: number, b: number | undefined, digits = 1) =>
    b === undefined ? [label, fmt(a, digits)] : [label, fmt(a, digits), fmt(b, digits), fmt(b / a, 2)];
  const summary = COLUMNS.map(([label, k]) => line(label, med(one, k), many && med(many, k)));
  const bareOne = median(one.bare);
  const bareMany = many && median(many.bare);
  summary.push(line("bare QEMU boot (baseline)", bareOne, bareMany));
  summary.push(
    line("guest boot / bare boot", med(one, "boot") / bareOne, many && med(many, "boot") / (bareMany ?? NaN), 2),
  );
  out(table(header, summary));
  out("");
  const vOne = med(one, "vmnet");
  const verdicts: string[] = [];
  // NaN (every iteration of a phase failed) is no verdict either way.
  const holds = (ok: boolean, value: number) => (!Number.isFinite(value) ? "not measured" : ok ? "met" : "NOT met");
  verdicts.push(
    `target (vmnet part <= ${UP_TARGET_MS} ms): ${one.running} running ${fmt(vOne)} ms ${holds(vOne <= UP_TARGET_MS, vOne)}`,
  );
  if (many !== undefined) {
    const vMany = med(many, "vmnet");
    verdicts.push(`; ${many.running} running ${fmt(vMany)} ms ${holds(vMany <= UP_TARGET_MS, vMany)}`);
  }
  out(verdicts.join(""));
  if (many !== undefined && bareMany !== undefined) {
    const raw = med(many, "vmnet") / vOne;
    const slowdown = Math.max(1, bareMany / bareOne);
    const growth = raw / slowdown;
    out(
      `target (vmnet part not growing: ${many.running}/${one.running} <= ${UP_GROWTH_LIMIT} after the machine's ` +
        `slowdown): raw ${fmt(raw, 2)}, bare boot ${fmt(bareMany / bareOne, 2)}, growth ${fmt(growth, 2)} ` +
        `${holds(growth <= UP_GROWTH_LIMIT, growth)}`,
    );
  }
  if (r.failures.length > 0) {
    out(`failed iterations (not in the tables): ${r.failures.length}`);
    for (const f of r.failures) out(`  ${f}`);
  }
}

/** Runs the benchmark; everything it made is removed when it ends, fails or is interrupted. */
export async function runUpBench(options: UpBenchOptions): Promise<UpReport> {
  const out = options.out;
  const root = await mkdtemp(join(tmpdir(), "vmnt-bench-up-"));
  const paths = statePaths(root);
  const cleanup = new Cleanup(paths, out);
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`\n${signal}: taking the benchmark's VMs down and destroying its lab\n`);
    cleanup.controller.abort(new Error("Interrupted"));
    void cleanup.run().finally(() => process.exit(signal === "SIGINT" ? INTERRUPTED_EXIT_CODE : 143));
  };
  // Listening (not once): a second Ctrl-C must not kill the process halfway through its cleanup.
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    out(machineLine());
    out(`state directory: ${root} (lab node ${paths.nodeName})`);
    const image = await buildGuestImage();
    const accel = await chooseAccel(options.accel, () => probeAccel({ kernel: image.kernel, initrd: image.initrd }));
    out(`image: kernel ${image.kernelVersion}, accelerator ${accel}`);
    const extra = await perProcessExtra();
    out(
      `per-process extra of a "vmnet up" (not in the tables): Node and the CLI (vmnet validate) ${fmt(extra.cli)} ms, ` +
        `QEMU device probe ${fmt(extra.deviceProbe)} ms`,
    );
    let start = now();
    const { lab } = await ensureLab(paths);
    const labCreate = now() - start;
    start = now();
    (await ensureAgent({ stateDir: paths.root })).close();
    const agentStart = now() - start;
    out(`lab created in ${fmt(labCreate)} ms (cluster's work); DHCP agent started in ${fmt(agentStart)} ms (once)`);
    const phases: UpPhase[] = [];
    const failures: string[] = [];
    const measure = async (running: number) => {
      const samples: UpSample[] = [];
      const bare: number[] = [];
      for (let i = 1; i <= options.iterations; i++) {
        const bareMs = await bareBoot(root, image, accel, cleanup);
        const name = `up${running}-${i}`;
        let s: UpSample;
        try {
          s = await measureUp(paths, lab, root, name, options, cleanup);
        } catch (e) {
          // One failed iteration (a timeout under load) loses its pair, not the run's other numbers.
          if (cleanup.controller.signal.aborted) throw e;
          failures.push(`${running} running, iteration ${i}: ${e instanceof Error ? e.message : String(e)}`);
          out(`  ${failures.at(-1)}`);
          await downVm(paths, name).catch(() => {});
          cleanup.vms.delete(name);
          continue;
        }
        samples.push(s);
        bare.push(bareMs);
        out(
          `  ${running} running, iteration ${i}: vmnet ${fmt(s.vmnet)} ms (wire ${fmt(s.wire)}), ` +
            `pod ${fmt(s.pod)} ms, boot ${fmt(s.boot)} ms (bare ${fmt(bareMs)} ms), lease ${fmt(s.toLease)} ms, ` +
            `reachable ${fmt(s.toReachable)} ms`,
        );
      }
      phases.push({ running, samples, bare });
    };
    out("measuring with 1 running");
    await measure(1);
    if (options.running >= 2) {
      out(`booting ${options.running - 1} background VMs, ${options.batch} at a time`);
      const wall = await bootBackground(paths, root, options.running - 1, options, cleanup);
      out(`  booted in ${fmt(wall / 1000)} s; letting them settle for ${SETTLE_MS / 1000} s`);
      // A guest just past its ready line still runs its DHCPv6 client and responders' start: not the steady state.
      await sleep(SETTLE_MS);
      out(`measuring with ${options.running} running`);
      await measure(options.running);
    }
    const result: UpReport = { labCreate, agentStart, phases, failures };
    report(result, out);
    return result;
  } finally {
    await cleanup.run();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/** Parses the command line. */
export function parseUpArgs(argv: readonly string[]): Omit<UpBenchOptions, "out"> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      running: { type: "string", default: "20" },
      iterations: { type: "string", default: "3" },
      batch: { type: "string", default: "4" },
      accel: { type: "string", default: "auto" },
    },
  });
  const int = (flag: string, value: string, min: number) => {
    if (!/^\d+$/.test(value) || Number.parseInt(value, 10) < min) {
      throw new RangeError(`Invalid value "${value}" for "--${flag}": expected an integer of at least ${min}`);
    }
    return Number.parseInt(value, 10);
  };
  const accel = values.accel;
  if (accel !== "auto" && accel !== Accel.Tcg && accel !== Accel.Kvm) {
    throw new RangeError(`Invalid value "${accel}" for "--accel": expected auto, tcg or kvm`);
  }
  return {
    running: int("running", values.running, 0),
    iterations: int("iterations", values.iterations, 1),
    batch: int("batch", values.batch, 1),
    accel,
  };
}

await runIfMain(import.meta.url, async (out) => {
  const missing = missingPrerequisite(["ip", "nft", QEMU, "tcpdump", "wget"]);
  if (missing !== undefined) throw new Error(`Cannot run: ${missing}`);
  await runUpBench({ ...parseUpArgs(process.argv.slice(2)), out });
});
