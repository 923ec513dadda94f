/**
 * DHCPv4 exchanges per second and latency, measured with Kea's perfdhcp from a guest namespace, against vmnet's
 * server (the production DhcpAgent: one thread for every pod, device-bound sockets opened in the pod's namespace)
 * and against `kea-dhcp4` with the same single reservation and the same options, in the same run. Target: vmnet's
 * rate at least Kea's.
 *
 * Each server gets its own pod namespace laid out as the masquerade binding leaves it (bridge `k6t-eth0` with
 * 10.0.2.1/24, a veth `tap0` as its port standing in for the tap) and its own guest namespace (`eth0`, the reserved
 * MAC, 10.0.2.100/24 for perfdhcp, which acts as a relay agent and so needs an address to put in giaddr). Runs
 * alternate between the servers so drift in the machine's load hits both alike.
 *
 * A server's capacity is the best completed-exchange rate over a sweep of requested rates: asking far beyond
 * capacity only makes perfdhcp itself take CPU from the server it measures (both share the machine's cores).
 *
 * Usage: node --import tsx bench/dhcp.ts [--seconds N] [--rates 1000,2000,4000,8000] [--latency-rate N] [--repeats N]
 *        [--kea-threads N]
 */
import { spawn } from "node:child_process";
import { closeSync as closeFd, openSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { InterfaceName } from "../src/plan/namescheme.ts";
import type { Dhcpv4Plan } from "../src/plan/plan.ts";
import { DhcpAgent } from "../src/runtime/dhcp/agent.ts";
import {
  fmt,
  intList,
  machineLine,
  median,
  missingPrerequisite,
  positiveInt,
  quantile,
  Resources,
  runIfMain,
  sh,
  table,
} from "./lib.ts";

/** The target: vmnet's exchanges per second at least this fraction of Kea's. */
export const DHCP_TARGET_RATIO = 1;

const CLIENT_MAC = "0a:58:0a:f4:01:05";
const BRIDGE = "k6t-eth0";
const SERVER_CIDR = "10.0.2.1/24";
/** perfdhcp's own address: it relays, so replies come back to giaddr:67. */
const PERF_CIDR = "10.0.2.100/24";

/** The one client both servers serve: what vmnet's masquerade plan gives a guest. */
export const BENCH_DHCP_PLAN: Dhcpv4Plan = {
  serverInterface: InterfaceName.of(BRIDGE),
  serverIdentifier: "10.0.2.1",
  filterClientMac: true,
  client: {
    mac: CLIENT_MAC,
    ip: "10.0.2.2",
    prefix: 24,
    subnetMask: "255.255.255.0",
    router: "10.0.2.1",
    routes: [],
    dnsServers: ["10.96.0.10"],
    searchDomains: ["default.svc.cluster.local", "svc.cluster.local", "cluster.local"],
    domainName: "default.svc.cluster.local",
    hostname: "benchvm",
    mtu: 1450,
    leaseSeconds: 86_313_600,
  },
  options: { ntpServers: [], privateOptions: [] },
};

/** The network of `ip`/`prefix` in CIDR form, e.g. `10.0.2.0/24` for 10.0.2.2 and 24. */
export function networkOf(ip: string, prefix: number): string {
  const value = ip.split(".").reduce((acc, octet) => acc * 256 + Number.parseInt(octet, 10), 0);
  const size = 2 ** (32 - prefix);
  const network = Math.floor(value / size) * size;
  const octets = [24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256);
  return `${octets.join(".")}/${prefix}`;
}

/**
 * kea-dhcp4's configuration for the same client: the reservation, and every option vmnet sends with `always-send`
 * (vmnet sends all configured options, as KubeVirt does; Kea by default only requested ones). No pool: the
 * reservation is the only address. Leases in memory only.
 */
export function keaConfig(plan: Dhcpv4Plan, threads: number): unknown {
  const c = plan.client;
  const option = (name: string, data: string) => ({ name, data, "always-send": true });
  return {
    Dhcp4: {
      "interfaces-config": { interfaces: [plan.serverInterface.value] },
      "lease-database": { type: "memfile", persist: false },
      "valid-lifetime": c.leaseSeconds,
      ...(threads > 0
        ? {
            "multi-threading": { "enable-multi-threading": true, "thread-pool-size": threads, "packet-queue-size": 64 },
          }
        : {}),
      subnet4: [
        {
          id: 1,
          subnet: networkOf(c.ip, c.prefix),
          interface: plan.serverInterface.value,
          "option-data": [
            ...(c.router === undefined ? [] : [option("routers", c.router)]),
            option("domain-name-servers", c.dnsServers.join(", ")),
            ...(c.domainName === undefined ? [] : [option("domain-name", c.domainName)]),
            option("domain-search", c.searchDomains.join(", ")),
            ...(c.mtu === undefined ? [] : [option("interface-mtu", String(c.mtu))]),
          ],
          reservations: [
            { "hw-address": c.mac, "ip-address": c.ip, ...(c.hostname === undefined ? {} : { hostname: c.hostname }) },
          ],
        },
      ],
      loggers: [{ name: "kea-dhcp4", output_options: [{ output: "stdout" }], severity: "WARN" }],
    },
  };
}

// ---- perfdhcp ------------------------------------------------------------------------------------------------------

/** One direction of perfdhcp's report: DISCOVER-OFFER or REQUEST-ACK. */
export interface PerfExchange {
  readonly sent: number;
  readonly received: number;
  readonly drops: number;
  readonly orphans: number;
  readonly minMs: number;
  readonly avgMs: number;
  readonly maxMs: number;
  readonly stdMs: number;
  /** Per-packet delays from `-x t` (successful exchanges only). */
  readonly delaysMs: readonly number[];
}

/** What one perfdhcp run reports. */
export interface PerfReport {
  /** Completed 4-way exchanges per second ("Rate:"). */
  readonly rate: number;
  readonly discoverOffer: PerfExchange;
  readonly requestAck: PerfExchange;
}

function section(text: string, title: string): string {
  const start = text.indexOf(`***Statistics for: ${title}***`);
  if (start < 0) throw new SyntaxError(`Cannot find "${title}" statistics in perfdhcp output`);
  const end = text.indexOf("***", start + title.length + 20);
  return text.slice(start, end < 0 ? undefined : end);
}

function field(text: string, name: string): number {
  const m = new RegExp(`^${name}: ([0-9.]+)`, "m").exec(text);
  if (m?.[1] === undefined) throw new SyntaxError(`Cannot find "${name}" in perfdhcp output`);
  return Number.parseFloat(m[1]);
}

/** A delay, NaN when perfdhcp has none to report (it prints "inf" or "n/a" when nothing was answered). */
function delay(text: string, name: string): number {
  const m = new RegExp(`^${name}: ([0-9.]+) ms`, "m").exec(text);
  return m?.[1] === undefined ? Number.NaN : Number.parseFloat(m[1]);
}

function timestamps(text: string, title: string): number[] {
  const start = text.indexOf(`***Timestamps for packets: ${title}***`);
  if (start < 0) return [];
  const end = text.indexOf("***", start + title.length + 30);
  const body = text.slice(start, end < 0 ? undefined : end);
  const out: number[] = [];
  for (const m of body.matchAll(/sent \/ received: ([0-9.]+) \/ ([0-9.]+)/g)) {
    out.push((Number.parseFloat(m[2] ?? "") - Number.parseFloat(m[1] ?? "")) * 1000);
  }
  return out;
}

function exchange(text: string, title: string): PerfExchange {
  const s = section(text, title);
  return {
    sent: field(s, "sent packets"),
    received: field(s, "received packets"),
    drops: field(s, "drops"),
    orphans: field(s, "orphans"),
    minMs: delay(s, "min delay"),
    avgMs: delay(s, "avg delay"),
    maxMs: delay(s, "max delay"),
    stdMs: delay(s, "std deviation"),
    delaysMs: timestamps(text, title),
  };
}

/** Parses perfdhcp's final report (with `-x t` timestamps when present). */
export function parsePerfdhcp(text: string): PerfReport {
  const m = /^Rate: ([0-9.]+) /m.exec(text);
  if (m?.[1] === undefined) throw new SyntaxError("Cannot find the exchange rate in perfdhcp output");
  return {
    rate: Number.parseFloat(m[1]),
    discoverOffer: exchange(text, "DISCOVER-OFFER"),
    requestAck: exchange(text, "REQUEST-ACK"),
  };
}

/** Runs perfdhcp in `guest`; exit 3 (some exchanges not completed) is a result, not a failure. */
async function perfdhcp(res: Resources, guest: string, args: readonly string[], timeoutMs: number): Promise<string> {
  // perfdhcp exits without flushing a block-buffered stdout; line buffering keeps the whole report.
  const child = res.child(
    spawn("ip", ["netns", "exec", guest, "stdbuf", "-oL", "perfdhcp", "-4", "-l", "eth0", ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on("data", (b: Buffer) => out.push(b));
  child.stderr?.on("data", (b: Buffer) => err.push(b));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  clearTimeout(timer);
  const stdout = Buffer.concat(out).toString("utf8");
  if (code !== 0 && code !== 3) {
    throw new Error(`perfdhcp ${args.join(" ")} failed with exit code ${code}: ${Buffer.concat(err).toString("utf8")}`);
  }
  return stdout;
}

/** Waits until one DORA exchange completes (the server is up), or throws after `ms` with perfdhcp's last report. */
async function waitForServer(res: Resources, guest: string, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  // A few exchanges over two seconds, and -W to wait for late replies: with a single exchange perfdhcp may exit
  // before a slow OFFER (the first needs ARP) arrives, or before sending the REQUEST it calls for.
  const probe = ["-R", "1", "-b", `mac=${CLIENT_MAC}`, "-r", "4", "-p", "2", "-W", "1000000"];
  for (;;) {
    let text = "";
    try {
      text = await perfdhcp(res, guest, probe, 10_000);
      if (parsePerfdhcp(text).requestAck.received > 0) return;
    } catch (e) {
      text = `${text}\n${e instanceof Error ? e.message : String(e)}`;
    }
    if (Date.now() > deadline)
      throw new Error(`${what} did not answer perfdhcp within ${ms} ms; perfdhcp said:\n${text}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

// ---- layout and servers --------------------------------------------------------------------------------------------

interface Layout {
  readonly pod: string;
  readonly guest: string;
}

async function layout(res: Resources, role: string): Promise<Layout> {
  const pod = await res.netns(`${role}p`);
  const guest = await res.netns(`${role}g`);
  await sh(
    [
      `ip -n ${pod} link add name tap0 type veth peer name eth0 address ${CLIENT_MAC} netns ${guest}`,
      `ip -n ${pod} link add name ${BRIDGE} type bridge`,
      `ip -n ${pod} link set tap0 master ${BRIDGE} up`,
      `ip -n ${pod} address add ${SERVER_CIDR} dev ${BRIDGE}`,
      `ip -n ${pod} link set ${BRIDGE} up`,
      `ip -n ${guest} address add ${PERF_CIDR} dev eth0`,
      `ip -n ${guest} link set eth0 up`,
    ].join("\n"),
  );
  return { pod, guest };
}

async function startKea(res: Resources, pod: string, threads: number): Promise<{ log: string }> {
  const dir = await res.tempDir("kea");
  const config = join(dir, "kea-dhcp4.json");
  const log = join(dir, "kea-dhcp4.log");
  await writeFile(config, JSON.stringify(keaConfig(BENCH_DHCP_PLAN, threads), null, 2));
  const fd = openSync(log, "w");
  try {
    const child = spawn("ip", ["netns", "exec", pod, "kea-dhcp4", "-c", config], {
      stdio: ["ignore", fd, fd],
      // Lock and pid files go to the temporary directory, not /run/kea.
      env: { ...process.env, KEA_LOCKFILE_DIR: dir, KEA_PIDFILE_DIR: dir },
    });
    res.child(child);
    child.once("exit", (code) => {
      if (code !== 0 && code !== null) process.stderr.write(`kea-dhcp4 exited with code ${code}, see its log\n`);
    });
  } finally {
    closeFd(fd);
  }
  return { log };
}

// ---- the run -------------------------------------------------------------------------------------------------------

/** Options of {@link runDhcpBench}. */
export interface DhcpBenchOptions {
  /** Length of each perfdhcp run. */
  readonly seconds: number;
  /** Requested exchanges per second of the throughput runs; each server's best completed rate counts. */
  readonly rates: readonly number[];
  /** Requested rate of the latency runs: well below saturation, so latency is service time, not queueing. */
  readonly latencyRate: number;
  /** Throughput and latency runs per server; medians are reported. */
  readonly repeats: number;
  /** kea-dhcp4 multi-threading pool size; 0 keeps Kea's default (single-threaded). */
  readonly keaThreads: number;
  readonly out: (line: string) => void;
}

/** One server's runs: per requested rate of the sweep, and at the latency rate. */
export interface ServerRuns {
  readonly sweep: Map<number, PerfReport[]>;
  readonly paced: PerfReport[];
}

/** Both servers' numbers. */
export interface DhcpBenchResult {
  readonly vmnet: ServerRuns;
  readonly kea: ServerRuns;
}

/** The requested rate whose median completed rate is highest, with that median. */
export function bestRate(sweep: ReadonlyMap<number, readonly PerfReport[]>): { requested: number; rate: number } {
  let best = { requested: 0, rate: Number.NaN };
  for (const [requested, reports] of sweep) {
    const rate = median(reports.map((r) => r.rate));
    if (Number.isFinite(rate) && !(best.rate >= rate)) best = { requested, rate };
  }
  return best;
}

function row(name: string, reports: readonly PerfReport[], requested?: number): string[] {
  const pick = (f: (r: PerfReport) => number) => median(reports.map(f));
  const delays = (f: (r: PerfReport) => PerfExchange) => reports.flatMap((r) => f(r).delaysMs);
  const doDelays = delays((r) => r.discoverOffer);
  const raDelays = delays((r) => r.requestAck);
  const most = (f: (r: PerfReport) => number) => Math.max(...reports.map(f));
  return [
    name,
    ...(requested === undefined ? [] : [String(requested)]),
    fmt(pick((r) => r.rate)),
    fmt(
      pick((r) => r.discoverOffer.drops + r.requestAck.drops),
      0,
    ),
    fmt(
      pick((r) => r.discoverOffer.avgMs),
      3,
    ),
    fmt(quantile(doDelays, 0.99), 3),
    fmt(
      most((r) => r.discoverOffer.maxMs),
      3,
    ),
    fmt(
      pick((r) => r.requestAck.avgMs),
      3,
    ),
    fmt(quantile(raDelays, 0.99), 3),
    fmt(
      most((r) => r.requestAck.maxMs),
      3,
    ),
    String(doDelays.length + raDelays.length),
  ];
}

const HEADER = ["server", "exch/s", "drops", "DO avg", "DO p99", "DO max", "RA avg", "RA p99", "RA max", "samples"];

/** Runs the throughput and latency comparisons and prints them; everything is removed whatever happens. */
export async function runDhcpBench(options: DhcpBenchOptions): Promise<DhcpBenchResult> {
  const why = missingPrerequisite(["ip", "perfdhcp", "kea-dhcp4", "stdbuf"]);
  if (why !== undefined) throw new Error(`Cannot run the DHCP benchmark: ${why}`);
  const out = options.out;
  const res = new Resources();
  res.guard();
  const result: DhcpBenchResult = {
    vmnet: { sweep: new Map(), paced: [] },
    kea: { sweep: new Map(), paced: [] },
  };
  out("vmnet DHCPv4 benchmark: perfdhcp DORA exchanges against vmnet's server and kea-dhcp4, one reserved MAC");
  out(machineLine());
  out(`namespaces: ${res.prefix}*`);
  out("vmnet server: DhcpAgent (src/runtime/dhcp), production: one thread for every pod, device-bound sockets");
  let keaLog = "";
  try {
    const v = await layout(res, "v");
    const k = await layout(res, "k");
    const agent = new DhcpAgent({
      onEvent: (e) => {
        if (e.kind === "exited")
          out(`vmnet's DHCP servers failed: ${e.error.message}, reopening in ${e.restartInMs} ms`);
        if (e.kind === "warning") out(`vmnet's DHCP servers warn: ${e.message}`);
      },
    });
    res.onClose(() => agent.stopAll());
    await agent.start("bench-pod", v.pod, [{ dhcpv4: BENCH_DHCP_PLAN }]);
    keaLog = (await startKea(res, k.pod, options.keaThreads)).log;
    out(
      `kea-dhcp4: ${options.keaThreads > 0 ? `multi-threaded, ${options.keaThreads} threads` : "default (single-threaded)"}`,
    );
    await waitForServer(res, v.guest, "vmnet's DHCP server");
    await waitForServer(res, k.guest, "kea-dhcp4");

    const base = ["-R", "1", "-b", `mac=${CLIENT_MAC}`, "-p", String(options.seconds), "-x", "t"];
    const timeout = options.seconds * 1000 + 30_000;
    for (let i = 0; i < options.repeats; i++) {
      for (const [name, l, into] of [
        ["vmnet", v, result.vmnet],
        ["kea", k, result.kea],
      ] as const) {
        out(`run ${i + 1}/${options.repeats}: ${name} at ${[...options.rates, options.latencyRate].join(", ")}/s ...`);
        for (const rate of options.rates) {
          const report = parsePerfdhcp(await perfdhcp(res, l.guest, [...base, "-r", String(rate)], timeout));
          into.sweep.set(rate, [...(into.sweep.get(rate) ?? []), report]);
        }
        into.paced.push(
          parsePerfdhcp(await perfdhcp(res, l.guest, [...base, "-r", String(options.latencyRate)], timeout)),
        );
      }
    }
    const stats = (await agent.stats("bench-pod")).interfaces[BRIDGE];
    out(
      `vmnet's counters: ${stats?.dhcpv4?.sent.offer ?? 0} offers, ${stats?.dhcpv4?.sent.ack ?? 0} acks, ` +
        `${stats?.dhcpv4?.sent.nak ?? 0} naks, ${Object.values(stats?.transport.sendErrors ?? {}).reduce((a, b) => a + b, 0)} send errors`,
    );
  } catch (e) {
    if (keaLog !== "") {
      const text = await readFile(keaLog, "utf8").catch(() => "");
      out(`kea-dhcp4 log (last lines):\n${text.split("\n").slice(-15).join("\n")}`);
    }
    throw e;
  } finally {
    await res.close();
  }
  out("");
  const vBest = bestRate(result.vmnet.sweep);
  const kBest = bestRate(result.kea.sweep);
  out(
    `sweep: perfdhcp asks for ${options.rates.join(", ")} exchanges/s, ${options.seconds} s each, ${options.repeats} run(s)`,
  );
  const sweepRows = (name: string, runs: ServerRuns) =>
    [...runs.sweep].map(([requested, reports]) => row(name, reports, requested));
  out(
    table(
      ["server", "asked/s", ...HEADER.slice(1)],
      [...sweepRows("vmnet", result.vmnet), ...sweepRows("kea-dhcp4", result.kea)],
    ),
  );
  out("");
  out(`paced: ${options.latencyRate} exchanges/s for ${options.seconds} s, ${options.repeats} run(s)`);
  out(table(HEADER, [row("vmnet", result.vmnet.paced), row("kea-dhcp4", result.kea.paced)]));
  out("");
  out('asked/s = requested rate; exch/s = completed DORA exchanges per second (perfdhcp\'s "Rate");');
  out("drops = unanswered DISCOVERs plus REQUESTs; DO = DISCOVER->OFFER, RA = REQUEST->ACK delays in ms.");
  out("avg is perfdhcp's own (median over runs), max the largest of any run; p99 is computed from");
  out("perfdhcp's per-packet timestamps (-x t) of all answered packets of all runs; samples = how many.");
  out("perfdhcp acts as a relay agent (giaddr 10.0.2.100), so both servers answer by unicast to giaddr:67.");
  out("perfdhcp and both servers share this machine's CPUs.");
  for (const [name, runs, best] of [
    ["vmnet", result.vmnet, vBest],
    ["kea-dhcp4", result.kea, kBest],
  ] as const) {
    const reports = runs.sweep.get(best.requested) ?? [];
    const drops = median(reports.map((r) => r.discoverOffer.drops + r.requestAck.drops));
    if (best.requested === Math.max(...options.rates) && drops === 0) {
      out(
        `note: ${name} kept up with the highest rate asked, so its capacity is above what was measured: raise --rates`,
      );
    }
  }
  const ratio = vBest.rate / kBest.rate;
  out(
    `best rate: vmnet ${fmt(vBest.rate)}/s (asked ${vBest.requested}/s), kea-dhcp4 ${fmt(kBest.rate)}/s ` +
      `(asked ${kBest.requested}/s); ratio vmnet/kea ${fmt(ratio, 2)}; ` +
      `target (vmnet >= kea): ${ratio >= DHCP_TARGET_RATIO ? "met" : "NOT met"}`,
  );
  return result;
}

/** Parses the command line of `bench/dhcp.ts`. */
export function parseDhcpArgs(argv: readonly string[]): Omit<DhcpBenchOptions, "out"> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      seconds: { type: "string", default: "5" },
      rates: { type: "string", default: "1000,2000,4000,8000" },
      "latency-rate": { type: "string", default: "200" },
      repeats: { type: "string", default: "3" },
      "kea-threads": { type: "string", default: "0" },
    },
    strict: true,
  });
  return {
    seconds: positiveInt("seconds", values.seconds),
    rates: intList("rates", values.rates).map((r) => positiveInt("rates", String(r))),
    latencyRate: positiveInt("latency-rate", values["latency-rate"]),
    repeats: positiveInt("repeats", values.repeats),
    keaThreads: values["kea-threads"] === "0" ? 0 : positiveInt("kea-threads", values["kea-threads"]),
  };
}

await runIfMain(import.meta.url, (out) => runDhcpBench({ ...parseDhcpArgs(process.argv.slice(2)), out }));
