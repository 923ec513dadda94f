/**
 * vmnet's own memory per VM: the resident set of the process that serves DHCPv4, DHCPv6 and router advertisements
 * (the production DhcpAgent) with 1, 20 and 50 pods, each pod a namespace laid out as the masquerade binding leaves it
 * (bridge `k6t-eth0`, a veth `tap0` as its port). Target: at most 8 MiB per pod, flat as pods are added (for scale,
 * passt alone can take 800 MiB per VM).
 *
 * Pods are added in one process up to each count in turn; after each step the run waits until every pod has sent its
 * first router advertisement (so every pod's sockets work) and collects garbage, then reads the RSS. Reported per
 * step: RSS, growth over the RSS before the first pod, growth per pod (the marginal cost, against the target) and RSS
 * divided by pods (which also spreads the fixed cost of Node, tsx and the loaded modules), and the CPU the idle
 * process takes (RA timers and the ICMPv6 sockets' polling) over the next 2 s.
 *
 * Usage: node --import tsx bench/memory.ts [--pods 1,20,50] [--json]
 */
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { InterfaceName } from "../src/plan/namescheme.ts";
import { DhcpAgent } from "../src/runtime/dhcp/agent.ts";
import type { DhcpInterfacePlan } from "../src/runtime/dhcp/config.ts";
import { fmt, intList, machineLine, positiveInt, Resources, runIfMain, table } from "./lib.ts";

/** The target: RSS growth per served pod, in MiB. */
export const MEMORY_TARGET_MIB_PER_POD = 8;

const MIB = 1024 * 1024;
/** How long the idle CPU time is sampled after each step. */
const IDLE_SAMPLE_MS = 2000;
const BRIDGE = InterfaceName.of("k6t-eth0");

/** One pod's DHCPv4, DHCPv6 and RA, as the masquerade binding plans them. */
export const BENCH_MEMORY_PLAN: DhcpInterfacePlan = {
  dhcpv4: {
    serverInterface: BRIDGE,
    serverIdentifier: "10.0.2.1",
    filterClientMac: false,
    client: {
      mac: "02:00:00:aa:bb:01",
      ip: "10.0.2.2",
      prefix: 24,
      subnetMask: "255.255.255.0",
      router: "10.0.2.1",
      routes: [],
      dnsServers: ["10.96.0.10"],
      searchDomains: ["default.svc.cluster.local", "svc.cluster.local", "cluster.local"],
      mtu: 1450,
      leaseSeconds: 86_313_600,
    },
    options: { ntpServers: [], privateOptions: [] },
  },
  dhcpv6: {
    serverInterface: BRIDGE,
    serverDuidMac: "02:00:00:00:00:00",
    clientAddress: "fd10:0:2::2",
    preferredLifetime: 86_313_600,
    validLifetime: 86_313_600,
    dnsServers: ["fd00:10:96::a"],
    searchDomains: ["cluster.local"],
  },
  ra: {
    interface: BRIDGE,
    sourceMac: "02:00:00:00:00:00",
    sourceAddress: "fe80::ff:fe00:0",
    managed: true,
    otherConfig: true,
    curHopLimit: 64,
    routerLifetime: 1800,
    minIntervalSeconds: 200,
    maxIntervalSeconds: 600,
    mtu: 1450,
    prefixes: [
      { prefix: "fd10:0:2::/120", onLink: true, autonomous: false, validLifetime: 86_400, preferredLifetime: 86_400 },
    ],
  },
};

/** One step of the run. */
export interface MemoryPoint {
  readonly pods: number;
  readonly rssMiB: number;
  /** RSS growth over the RSS before the first pod, divided by `pods`. */
  readonly perPodMiB: number;
  /** RSS divided by `pods`: the fixed cost of the process spread over its pods. */
  readonly rssPerPodMiB: number;
  /** Time to start the pods added in this step, per pod. */
  readonly startMsPerPod: number;
  /** CPU time of the process while idle (no client), in percent of one core: timers and ICMPv6 polling. */
  readonly idleCpuPercent: number;
}

/** What {@link runMemoryBench} measured. */
export interface MemoryReport {
  readonly baseRssMiB: number;
  readonly points: readonly MemoryPoint[];
}

/** A garbage collection now: `--expose-gc` set at run time, so the benchmark needs no node flag. */
function collector(): () => void {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Lays out a pod namespace: bridge `k6t-eth0` up with the veth `tap0` as its port (its peer up too). */
function layOut(netns: string): void {
  const batch = [
    "link add k6t-eth0 type bridge",
    "link add tap0 type veth peer name guest0",
    "link set guest0 up",
    "link set tap0 master k6t-eth0 up",
    "link set k6t-eth0 up",
  ].join("\n");
  const r = spawnSync("ip", ["-n", netns, "-batch", "-"], { input: `${batch}\n`, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`Cannot lay out namespace "${netns}": ${r.stderr.trim()}`);
}

/** Waits until every pod serves DHCPv4 and DHCPv6 and has sent a router advertisement; throws after `ms`. */
async function waitServing(agent: DhcpAgent, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  let waiting: string[] = [];
  while (Date.now() < deadline) {
    waiting = [];
    for (const id of agent.pods()) {
      const s = (await agent.stats(id)).interfaces["k6t-eth0"];
      const ok = s?.dhcpv4 !== undefined && s.dhcpv6 !== undefined && s.ra !== undefined && s.transport.sent > 0;
      if (!ok) waiting.push(id);
    }
    if (waiting.length === 0) return;
    await sleep(200);
  }
  throw new Error(`Pods ${waiting.map((w) => `"${w}"`).join(", ")} sent no router advertisement within ${ms} ms`);
}

/** Serves pods step by step up to each of `counts` (ascending) and reads the process's RSS after each step. */
export async function runMemoryBench(options: {
  readonly counts: readonly number[];
  readonly out: (line: string) => void;
  readonly json?: boolean;
}): Promise<MemoryReport> {
  const counts = [...options.counts].sort((a, b) => a - b);
  const max = counts.at(-1) ?? 0;
  const gc = collector();
  const resources = new Resources();
  resources.guard();
  const agent = new DhcpAgent({
    onEvent: (e) => {
      if (e.kind === "exited") options.out(`pod "${e.podId}" failed: ${e.error.message}`);
    },
  });
  resources.onClose(() => agent.stopAll());
  const settle = async () => {
    await sleep(500);
    gc();
    await sleep(200);
    gc();
  };
  try {
    if (!options.json) {
      options.out(machineLine());
      options.out(`namespaces: ${resources.prefix}*`);
    }
    const names: string[] = [];
    for (let i = 0; i < max; i++) {
      const ns = await resources.netns("mem");
      layOut(ns);
      names.push(ns);
    }
    await settle();
    const base = process.memoryUsage().rss;
    const points: MemoryPoint[] = [];
    let served = 0;
    for (const count of counts) {
      const started = process.hrtime.bigint();
      const added = count - served;
      for (; served < count; served++) await agent.start(`pod${served}`, names[served] ?? "", [BENCH_MEMORY_PLAN]);
      const startMs = Number(process.hrtime.bigint() - started) / 1e6;
      await waitServing(agent);
      await settle();
      const rss = process.memoryUsage().rss;
      const cpu = process.cpuUsage();
      const idleFrom = process.hrtime.bigint();
      await sleep(IDLE_SAMPLE_MS);
      const used = process.cpuUsage(cpu);
      const idleCpuPercent =
        ((used.user + used.system) / 1000 / (Number(process.hrtime.bigint() - idleFrom) / 1e6)) * 100;
      points.push({
        pods: count,
        rssMiB: rss / MIB,
        perPodMiB: (rss - base) / MIB / count,
        rssPerPodMiB: rss / MIB / count,
        startMsPerPod: added > 0 ? startMs / added : 0,
        idleCpuPercent,
      });
    }
    const report: MemoryReport = { baseRssMiB: base / MIB, points };
    if (options.json) {
      options.out(JSON.stringify(report));
      return report;
    }
    options.out(`RSS before the first pod: ${fmt(report.baseRssMiB)} MiB (Node, tsx, the agent's modules)`);
    options.out(
      table(
        ["pods", "RSS MiB", "per pod MiB", "RSS/pods MiB", "start ms/pod", "idle CPU %"],
        points.map((p) => [
          String(p.pods),
          fmt(p.rssMiB),
          fmt(p.perPodMiB, 2),
          fmt(p.rssPerPodMiB),
          fmt(p.startMsPerPod),
          fmt(p.idleCpuPercent),
        ]),
      ),
    );
    const worst = Math.max(...points.map((p) => p.perPodMiB));
    const verdict = worst <= MEMORY_TARGET_MIB_PER_POD ? "met" : "NOT met";
    options.out(
      `per pod at most ${fmt(worst, 2)} MiB; target (per pod <= ${MEMORY_TARGET_MIB_PER_POD} MiB): ${verdict}`,
    );
    return report;
  } finally {
    await resources.close();
  }
}

/** Parses the command line. */
export function parseMemoryArgs(argv: readonly string[]): { counts: number[]; json: boolean } {
  const { values } = parseArgs({
    args: [...argv],
    options: { pods: { type: "string", default: "1,20,50" }, json: { type: "boolean", default: false } },
  });
  return {
    counts: intList("pods", values.pods).map((n) => positiveInt("pods", String(n))),
    json: values.json,
  };
}

await runIfMain(import.meta.url, (out) => runMemoryBench({ ...parseMemoryArgs(process.argv.slice(2)), out }));
