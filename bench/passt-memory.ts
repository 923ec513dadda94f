/**
 * passt's memory with explicit ports against forwarding every port, measured in the same run (the issue: "The
 * benchmark records passt's memory with and without explicit ports").
 *
 * Each case is Debian's passt started the way `vmnet up` starts it: examples/vm-e2e/bindings/passt.yaml admitted with
 * the legacy-bindings KubeVirt CR, planned against a pod namespace of the run's own (veth `eth0` with 10.9.0.5/24 and
 * fd00:9::5/64, default routes), started by `startProcesses` (src/runtime/processes.ts) and stopped by
 * `stopProcesses`. Once its socket is up and it has settled, the run reads its resident set (VmRSS) and proportional
 * set (Pss of smaps_rollup), its open descriptors, and the machine's slab growth since before it started (the
 * kernel's side of its sockets, which RSS does not show; machine-wide, so noisy on a shared host).
 *
 * Cases: **explicit** (the example's one listed port: `-t 80 -u none`), **ranges** `-t 1-N -u 1-N` for each N of
 * `--ranges` that fits the hard RLIMIT_NOFILE (passt opens one socket per port, family and protocol: 4N), and **all
 * ports** (the plan without ports: `-t all -u all`, ~2^18 sockets). When the hard limit is below that need and cannot
 * be raised (no CAP_SYS_RESOURCE), `startProcesses` refuses it and the run reports the refusal, then extrapolates
 * "all ports" with a least-squares line over the range cases (memory and descriptors against ports per protocol, to
 * 65535), marked as extrapolated.
 * Printed: the table, and the ratio all/explicit for RSS and for RSS plus slab growth.
 *
 * Usage: node --import tsx bench/passt-memory.ts [--ranges 1000,2000,4000] [--settle-ms 1000] [--json]
 */
import { chmod, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { PASST_ALL_PORTS_OPEN_FILES } from "../src/plan/passt.ts";
import { type NetworkPlan, planPod } from "../src/plan/plan.ts";
import { discoverPodFacts } from "../src/runtime/discover.ts";
import { ProcessError, parseOpenFilesLimit, startProcesses, stopProcesses } from "../src/runtime/processes.ts";
import { loadVmSpec } from "../src/vm/spec.ts";
import { fmt, intList, machineLine, missingPrerequisite, positiveInt, Resources, sh, table } from "./lib.ts";

const VM_FILE = "examples/vm-e2e/bindings/passt.yaml";
const CR_FILE = "examples/kubevirt/kubevirt-cr-legacy-bindings.yaml";
const KIB = 1024;
/** Ports per protocol passt binds for `all`. */
const ALL_PORTS = 65_535;
/** Descriptors passt holds besides its port sockets (epoll, tap listener, netns, log): kept free under the limit. */
const SPARE_FDS = 64;

/** One measured (or extrapolated) case. */
export interface PasstMemoryCase {
  readonly name: string;
  /** The `-t` and `-u` specifiers. */
  readonly ports: string;
  /** Ports forwarded per protocol (65535 for all). */
  readonly portCount: number;
  readonly rssKiB: number;
  readonly pssKiB: number;
  readonly openFds: number;
  /** Growth of the machine's Slab since before passt started. */
  readonly slabKiB: number;
  readonly extrapolated: boolean;
}

/** The least-squares line `y = a + b x`; with one point, a flat line through it. */
export function fitLine(points: readonly { x: number; y: number }[]): { a: number; b: number } {
  const n = points.length;
  if (n === 0) return { a: Number.NaN, b: Number.NaN };
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  const sxy = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0);
  const b = sxx === 0 ? 0 : sxy / sxx;
  return { a: my - b * mx, b };
}

/** A `kB` field of a /proc file (`VmRSS:`, `Pss:`, `Slab:`), in KiB. */
export function procKiB(text: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(text);
  if (m?.[1] === undefined) throw new Error(`Cannot find "${field}" in the /proc listing`);
  return Number(m[1]);
}

/** The plan with passt's `-t`/`-u` specifiers replaced (the range cases, which no port list can express briefly). */
function withPorts(plan: NetworkPlan, tcp: string, udp: string): NetworkPlan {
  return {
    ...plan,
    interfaces: plan.interfaces.map((i) => {
      if (i.process === undefined) return i;
      const args = [...i.process.args];
      args[args.indexOf("-t") + 1] = tcp;
      args[args.indexOf("-u") + 1] = udp;
      const { openFiles: _openFiles, ...process } = i.process;
      return { ...i, process: { ...process, args } };
    }),
  };
}

function portsOf(plan: NetworkPlan): string {
  const args = plan.interfaces[0]?.process?.args ?? [];
  return `-t ${args[args.indexOf("-t") + 1]} -u ${args[args.indexOf("-u") + 1]}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function measure(
  name: string,
  portCount: number,
  plan: NetworkPlan,
  netns: string,
  stateDir: string,
  settleMs: number,
): Promise<PasstMemoryCase> {
  const slabBefore = procKiB(await readFile("/proc/meminfo", "utf8"), "Slab");
  const started = await startProcesses(plan, { netns, stateDir, podKey: "bench", socketTimeoutMs: 60_000 });
  try {
    const pid = started?.processes[0]?.pid;
    if (pid === undefined) throw new Error("The plan started no passt");
    await sleep(settleMs);
    const [status, rollup, fds, meminfo] = await Promise.all([
      readFile(`/proc/${pid}/status`, "utf8"),
      readFile(`/proc/${pid}/smaps_rollup`, "utf8"),
      readdir(`/proc/${pid}/fd`),
      readFile("/proc/meminfo", "utf8"),
    ]);
    return {
      name,
      ports: portsOf(plan),
      portCount,
      rssKiB: procKiB(status, "VmRSS"),
      pssKiB: procKiB(rollup, "Pss"),
      openFds: fds.length,
      slabKiB: procKiB(meminfo, "Slab") - slabBefore,
      extrapolated: false,
    };
  } finally {
    await stopProcesses(stateDir, "bench");
  }
}

/** Runs every case; returns them and what kept "all ports" from running, if anything did. */
export async function runPasstMemory(options: {
  readonly ranges: readonly number[];
  readonly settleMs: number;
}): Promise<{ cases: PasstMemoryCase[]; allRefused?: string; hardLimit: number }> {
  const res = new Resources();
  res.guard();
  try {
    const netns = await res.netns("passt");
    const dir = await res.tempDir("passt");
    // passt creates its socket as uid 107, under this directory.
    await chmod(dir, 0o755);
    await sh(
      [
        `ip -n ${netns} link add eth0 type veth peer name peer0`,
        `ip -n ${netns} addr add 10.9.0.5/24 dev eth0`,
        `ip -n ${netns} addr add fd00:9::5/64 dev eth0 nodad`,
        `ip -n ${netns} link set eth0 up`,
        `ip -n ${netns} link set peer0 up`,
        `ip -n ${netns} route add default via 10.9.0.1`,
        `ip -n ${netns} -6 route add default via fd00:9::1`,
      ].join("\n"),
    );
    await writeFile(join(dir, "resolv.conf"), "nameserver 10.96.0.10\nsearch default.svc.cluster.local\n");
    await writeFile(join(dir, "hostname"), "virt-launcher-bench\n");
    const spec = loadVmSpec(VM_FILE, { kubevirtConfig: CR_FILE });
    const facts = await discoverPodFacts(netns, { podDir: dir });
    const runDir = join(dir, "run");
    const explicit = planPod(spec.model, { config: spec.config, pod: facts, runDir });
    const everyPort = planPod(
      { ...spec.model, interfaces: spec.model.interfaces.map((i) => ({ ...i, ports: [] })) },
      { config: spec.config, pod: facts, runDir },
    );
    const stateDir = join(dir, "state");
    res.onClose(async () => {
      await stopProcesses(stateDir, "bench");
    });
    const hardLimit = parseOpenFilesLimit(await readFile("/proc/self/limits", "utf8")).hard;
    const cases: PasstMemoryCase[] = [];
    cases.push(await measure("explicit", 1, explicit, netns, stateDir, options.settleMs));
    for (const n of options.ranges) {
      // The planner's bound per port (PASST_ALL_PORTS_OPEN_FILES / 65536): both families and both protocols.
      const need = Math.ceil((PASST_ALL_PORTS_OPEN_FILES / 65_536) * n) + SPARE_FDS;
      if (need > hardLimit) {
        process.stderr.write(`range 1-${n} skipped: up to ${need} descriptors exceed the hard limit ${hardLimit}\n`);
        continue;
      }
      const plan = withPorts(explicit, `1-${n}`, `1-${n}`);
      cases.push(await measure(`range 1-${n}`, n, plan, netns, stateDir, options.settleMs));
    }
    try {
      cases.push(await measure("all ports", ALL_PORTS, everyPort, netns, stateDir, options.settleMs));
      return { cases, hardLimit };
    } catch (e) {
      if (!(e instanceof ProcessError)) throw e;
      const ranges = cases.filter((c) => c.name.startsWith("range"));
      const at = (key: "rssKiB" | "pssKiB" | "slabKiB" | "openFds") => {
        const { a, b } = fitLine(ranges.map((c) => ({ x: c.portCount, y: c[key] })));
        return a + b * ALL_PORTS;
      };
      cases.push({
        name: "all ports",
        ports: portsOf(everyPort),
        portCount: ALL_PORTS,
        rssKiB: at("rssKiB"),
        pssKiB: at("pssKiB"),
        openFds: Math.round(at("openFds")),
        slabKiB: at("slabKiB"),
        extrapolated: true,
      });
      return { cases, allRefused: e.message, hardLimit };
    }
  } finally {
    await res.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      ranges: { type: "string", default: "1000,2000,4000" },
      "settle-ms": { type: "string", default: "1000" },
      json: { type: "boolean", default: false },
    },
  });
  const missing = missingPrerequisite(["ip", "passt", "prlimit"]);
  if (missing !== undefined) {
    process.stderr.write(`bench/passt-memory: ${missing}\n`);
    process.exit(2);
  }
  const ranges = intList("ranges", values.ranges);
  const settleMs = positiveInt("settle-ms", values["settle-ms"]);
  const machine = machineLine();
  const result = await runPasstMemory({ ranges, settleMs });
  const explicit = result.cases.find((c) => c.name === "explicit");
  const all = result.cases.find((c) => c.name === "all ports");
  const ratio = (f: (c: PasstMemoryCase) => number) =>
    explicit === undefined || all === undefined ? Number.NaN : f(all) / f(explicit);
  const rssRatio = ratio((c) => c.rssKiB);
  const totalRatio = ratio((c) => c.rssKiB + Math.max(0, c.slabKiB));
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ...result, rssRatio, totalRatio }, null, 2)}\n`);
    return;
  }
  process.stdout.write(`${machine}\nhard RLIMIT_NOFILE: ${result.hardLimit}\n\n`);
  process.stdout.write(
    `${table(
      ["case", "ports", "RSS MiB", "PSS MiB", "fds", "slab growth MiB"],
      result.cases.map((c) => [
        c.extrapolated ? `${c.name} (extrapolated)` : c.name,
        c.ports,
        fmt(c.rssKiB / KIB, 2),
        fmt(c.pssKiB / KIB, 2),
        String(c.openFds),
        fmt(c.slabKiB / KIB, 1),
      ]),
    )}\n\n`,
  );
  if (result.allRefused !== undefined) {
    process.stdout.write(`all ports not run here: ${result.allRefused}\n`);
    process.stdout.write("all ports extrapolated: least squares over the range cases, against ports per protocol\n");
  }
  process.stdout.write(`passt RSS, all ports / explicit ports: ${fmt(rssRatio, 2)}\n`);
  process.stdout.write(`passt RSS + kernel slab growth, all ports / explicit ports: ${fmt(totalRatio, 2)}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((e: unknown) => {
    process.stderr.write(`bench/passt-memory: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
