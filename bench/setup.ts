/**
 * Pod network setup time per binding, against two baselines measured in the same run on the same fresh pod:
 * - floor: the same links, sysctls and rules written as a script: ONE `ip -batch` file and ONE `nft -f` text file
 *   (renderNftText), sysctls by shell redirection, all from one `sh`;
 * - per-rule: one `ip` process per link operation and one `nft add ...` process per table, chain and rule, with one
 *   rule per forwarded port as KubeVirt's nft driver writes them, forked by a shell inside the pod namespace (as
 *   KubeVirt's handler forks `nft` from inside it).
 * vmnet's time covers discovery, planning and apply through the real adapters (IprouteNetlink, NftCli, NetnsSysctl,
 * FileStateStore). Target: vmnet at most 1.3x the floor.
 *
 * Usage: node --import tsx bench/setup.ts [--iterations N] [--ports 1,100,1000] [--dual-ports 100]
 *        [--per-rule-max-ports N] [--cases name,...]
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_CLUSTER_CONFIG } from "../src/api/cluster-config.ts";
import type { InterfaceSpec, PortSpec, VmNetworkModel } from "../src/api/model.ts";
import { type ExecResult, type Executor, hostExecutor, type RunOptions } from "../src/host/exec.ts";
import { IprouteNetlink, type NetlinkOp, renderBatch, renderOp } from "../src/host/netlink.ts";
import { canonicalListing, NftCli, type NftJson } from "../src/host/nftables.ts";
import { NetnsSysctl, sysctlPath } from "../src/host/sysctl.ts";
import { type NftRule, type NftRuleset, type NftTable, renderNftRule, renderNftText } from "../src/plan/nft.ts";
import { type NetworkPlan, planPod } from "../src/plan/plan.ts";
import { applyPlan, probePlaceholderKind } from "../src/runtime/apply.ts";
import { discoverPod, discoverPodFacts, readNetwork } from "../src/runtime/discover.ts";
import { diffLinks, type PlaceholderKind } from "../src/runtime/links.ts";
import { FileStateStore } from "../src/runtime/state.ts";
import {
  elapsedMs,
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
  shellQuote,
  table,
} from "./lib.ts";

/** The target: vmnet's median at most this many times the floor's. */
export const SETUP_TARGET_RATIO = 1.3;

/** The pod NIC's MAC as CNI set it. */
const POD_MAC = "0a:58:0a:f4:01:05";
const POD_IPV4 = "10.244.1.5/24";
const POD_IPV6 = "fd00:10:244:1::5/64";
const RESOLV = "search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\n";

/** One benchmarked binding. */
export interface SetupCase {
  readonly name: string;
  readonly model: VmNetworkModel;
  /** The pod NIC's addresses as CNI left them. */
  readonly addresses: readonly string[];
  readonly ports: number;
}

/** Options of {@link runSetupBench}. */
export interface SetupBenchOptions {
  readonly iterations: number;
  /** Forwarded-port counts of the IPv4 masquerade cases (besides the "all ports" case). */
  readonly ports: readonly number[];
  /** Forwarded-port counts of the dual-stack masquerade cases. */
  readonly dualPorts: readonly number[];
  /** Cases with more ports than this run the per-rule baseline once instead of every iteration. */
  readonly perRuleMaxPorts: number;
  /** Only these cases, by name; all when absent. */
  readonly cases?: readonly string[];
  readonly out: (line: string) => void;
}

/** Medians and counts of one case. */
export interface SetupResult {
  readonly name: string;
  readonly vmnet: readonly number[];
  readonly discoverPlan: readonly number[];
  readonly floor: readonly number[];
  readonly perRule: readonly number[];
  readonly perRuleCapped: boolean;
  /** vmnet's processes by kind. */
  readonly breakdown: Breakdown;
  readonly processes: { readonly vmnet: number; readonly floor: number; readonly perRule: number };
}

function portList(n: number): PortSpec[] {
  // Alternating protocols so both the TCP and the UDP set (or rule family) are exercised.
  return Array.from({ length: n }, (_, i) => ({ protocol: i % 2 === 0 ? "TCP" : "UDP", port: 1024 + i }));
}

function model(binding: "bridge" | "masquerade", ports: number): VmNetworkModel {
  const iface: InterfaceSpec = {
    name: "default",
    binding: { kind: binding },
    model: "virtio",
    ports: portList(ports),
    portRanges: [],
    state: "up",
  };
  return {
    dialect: "kubevirt",
    name: "benchvm",
    namespace: "default",
    interfaces: [iface],
    networks: [{ name: "default", source: { kind: "pod" } }],
    multiqueue: false,
    vcpus: 1,
    useVirtioTransitional: false,
  };
}

/** The cases of a run: bridge, masquerade IPv4 with all ports and with each port count, dual-stack masquerade. */
export function setupCases(ports: readonly number[], dualPorts: readonly number[]): SetupCase[] {
  return [
    { name: "bridge-ipv4", model: model("bridge", 0), addresses: [POD_IPV4], ports: 0 },
    { name: "masq-ipv4-all", model: model("masquerade", 0), addresses: [POD_IPV4], ports: 0 },
    ...ports.map((n) => ({ name: `masq-ipv4-${n}`, model: model("masquerade", n), addresses: [POD_IPV4], ports: n })),
    ...dualPorts.map((n) => ({
      name: `masq-dual-${n}`,
      model: model("masquerade", n),
      addresses: [POD_IPV4, POD_IPV6],
      ports: n,
    })),
  ];
}

// ---- where vmnet's time goes ---------------------------------------------------------------------------------------

/** Kinds of process vmnet starts during one setup. */
export const ProcessKind = {
  IpRead: "ip read",
  IpBatch: "ip -batch",
  SysctlGet: "sysctl get",
  SysctlSet: "sysctl set",
  NftList: "nft list",
  NftLoad: "nft load",
  Other: "other",
} as const;
export type ProcessKind = (typeof ProcessKind)[keyof typeof ProcessKind];

/** What kind of process a run of `program args` is. */
export function processKind(program: string, args: readonly string[]): ProcessKind {
  // The netlink snapshot is an `ip -json -batch` run: a read, where a plain `ip -batch` writes.
  if (program === "ip")
    return args.includes("-batch") && !args.includes("-json") ? ProcessKind.IpBatch : ProcessKind.IpRead;
  if (program === "sysctl") return args.includes("-w") ? ProcessKind.SysctlSet : ProcessKind.SysctlGet;
  if (program === "nft") return args.includes("-f") ? ProcessKind.NftLoad : ProcessKind.NftList;
  return ProcessKind.Other;
}

/** One timed process run. */
interface TimedCall {
  readonly kind: ProcessKind;
  readonly ms: number;
}

/** Wraps the host executor and times every process, by kind. */
class TimingExecutor implements Executor {
  readonly calls: TimedCall[] = [];

  async run(program: string, args: readonly string[], options?: RunOptions): Promise<ExecResult> {
    const t0 = process.hrtime.bigint();
    try {
      return await hostExecutor.run(program, args, options);
    } finally {
      this.calls.push({ kind: processKind(program, args), ms: elapsedMs(t0) });
    }
  }
}

/** Per kind: how many processes one setup started and their summed wall time (median over iterations). */
export type Breakdown = Partial<Record<ProcessKind, { readonly count: number; readonly ms: number }>>;

function breakdownOf(runs: readonly (readonly TimedCall[])[]): Breakdown {
  const out: Breakdown = {};
  for (const kind of Object.values(ProcessKind)) {
    const per = runs.map((calls) => calls.filter((c) => c.kind === kind));
    const count = median(per.map((p) => p.length));
    if (count > 0) out[kind] = { count, ms: median(per.map((p) => p.reduce((a, c) => a + c.ms, 0))) };
  }
  return out;
}

// ---- the baselines' scripts ----------------------------------------------------------------------------------------

/** `echo value > /proc/sys/...` lines: what a script does instead of spawning `sysctl`. */
function sysctlLines(plan: NetworkPlan): string[] {
  return plan.sysctls.map((s) => `echo ${shellQuote(s.value)} > ${sysctlPath(s.key)}`);
}

/** Rules with a named-set match expanded to one rule per element, the way KubeVirt writes one rule per port. */
export function expandSetRefs(rule: NftRule, table: NftTable): NftRule[] {
  let out: NftRule[] = [{ ...rule, matches: [] }];
  for (const m of rule.matches) {
    const right = m.right;
    if (typeof right === "object" && "setRef" in right) {
      const set = table.sets.find((s) => s.name === right.setRef);
      if (set === undefined) throw new RangeError(`Cannot expand unknown set "${right.setRef}"`);
      out = out.flatMap((r) => set.elements.map((e) => ({ ...r, matches: [...r.matches, { ...m, right: e }] })));
    } else {
      out = out.map((r) => ({ ...r, matches: [...r.matches, m] }));
    }
  }
  return out;
}

/** One `nft add ...` command per table, chain and (set-expanded) rule. */
export function perRuleNftCommands(ruleset: NftRuleset): string[] {
  const cmds: string[] = [];
  for (const t of ruleset.tables) {
    cmds.push(`add table ${t.family} ${t.name}`);
    for (const c of t.chains) {
      if (c.hook === undefined) {
        cmds.push(`add chain ${t.family} ${t.name} ${c.name}`);
      } else {
        const dev = c.hook.device === undefined ? "" : ` device "${c.hook.device}"`;
        const h = c.hook;
        cmds.push(
          `add chain ${t.family} ${t.name} ${c.name} { type ${h.type} hook ${h.hook}${dev} priority ${h.priority}; policy ${h.policy}; }`,
        );
      }
    }
    for (const c of t.chains) {
      for (const r of c.rules) {
        for (const e of expandSetRefs(r, t)) cmds.push(`add rule ${t.family} ${t.name} ${c.name} ${renderNftRule(e)}`);
      }
    }
  }
  return cmds;
}

interface Baselines {
  readonly ops: readonly NetlinkOp[];
  /** Root-namespace `sh` script: one `ip -batch`, then sysctls and one `nft -f` in the pod. */
  readonly floorScript: string;
  /** Script run by `sh -e` inside the pod namespace: one process per op and per nft command. */
  readonly perRuleFile: string;
  readonly perRuleProcesses: number;
}

async function writeBaselines(dir: string, pod: string, plan: NetworkPlan, ops: NetlinkOp[]): Promise<Baselines> {
  const batch = join(dir, "links.batch");
  const rules = join(dir, "rules.nft");
  await writeFile(batch, renderBatch(ops));
  await writeFile(rules, renderNftText(plan.nft));
  const inPod = [...sysctlLines(plan), ...(plan.nft.tables.length > 0 ? [`nft -f ${rules}`] : [])].join("\n");
  const floorScript = `ip -n ${pod} -batch ${batch}\nip netns exec ${pod} sh -ec ${shellQuote(inPod)}\n`;
  const nftCmds = perRuleNftCommands(plan.nft);
  const perRule = [
    ...ops.map((op) => `ip ${renderOp(op)}`),
    ...sysctlLines(plan),
    ...nftCmds.map((c) => `nft ${shellQuote(c)}`),
  ];
  const perRuleFile = join(dir, "per-rule.sh");
  await writeFile(perRuleFile, `${perRule.join("\n")}\n`);
  return { ops, floorScript, perRuleFile, perRuleProcesses: 1 + ops.length + nftCmds.length };
}

// ---- the pod -------------------------------------------------------------------------------------------------------

interface BenchPod {
  readonly pod: string;
  readonly node: string;
  readonly dir: string;
  readonly stateDir: string;
  readonly c: SetupCase;
  /** Sysctl paths and values of a fresh pod, put back between iterations. */
  restore: string[];
}

/** Makes the pod as CNI leaves it: eth0 (veth to the node) with MAC, MTU, addresses and default routes. */
async function wirePod(p: BenchPod): Promise<void> {
  const { pod, node } = p;
  const v4 = p.c.addresses.some((a) => !a.includes(":"));
  const v6 = p.c.addresses.some((a) => a.includes(":"));
  const lines = [
    `ip -n ${pod} link add name eth0 type veth peer name veth-pod netns ${node}`,
    `ip -n ${node} address add 10.244.1.1/24 dev veth-pod`,
    `ip -n ${node} address add fd00:10:244:1::1/64 dev veth-pod nodad`,
    `ip -n ${node} link set veth-pod up`,
    `ip -n ${pod} link set eth0 address ${POD_MAC} mtu 1450`,
    ...p.c.addresses.map((a) => `ip -n ${pod} address add ${a} dev eth0${a.includes(":") ? " nodad" : ""}`),
    `ip -n ${pod} link set eth0 up`,
    ...(v4 ? [`ip -n ${pod} route add default via 10.244.1.1`] : []),
    ...(v6 ? [`ip -n ${pod} -6 route add default via fd00:10:244:1::1`] : []),
  ];
  await sh(lines.join("\n"));
}

/** Removes everything the last method made (rules, links, sysctls, vmnet's record) and wires the pod afresh. */
async function resetPod(p: BenchPod): Promise<void> {
  const inPod = [
    "nft flush ruleset",
    'for l in $(ls /sys/class/net); do [ "$l" = lo ] || ip link del "$l" 2>/dev/null || true; done',
    ...p.restore,
  ].join("\n");
  await sh(`ip netns exec ${p.pod} sh -ec ${shellQuote(inPod)}\nrm -rf ${p.stateDir}`);
  await wirePod(p);
}

/** The global sysctls the plan writes, with the values a fresh pod has (per-link keys vanish with their links). */
async function restoreLines(pod: string, plan: NetworkPlan): Promise<string[]> {
  const out: string[] = [];
  for (const s of plan.sysctls) {
    const path = sysctlPath(s.key);
    const { stdout, code } = await hostExecutor.run("cat", [path], { netns: pod, allowFailure: true });
    if (code === 0) out.push(`echo ${shellQuote(stdout.trim())} > ${path}`);
  }
  return out;
}

// ---- checking that the three methods did the same work -------------------------------------------------------------

interface Snapshot {
  readonly links: string[];
  readonly addresses: string[];
  readonly routes: string[];
  readonly sysctls: string[];
  readonly ruleset: string;
  readonly chains: string[];
}

async function snapshot(pod: string, plan: NetworkPlan): Promise<Snapshot> {
  const ip = async (args: string[]) => {
    const { stdout } = await hostExecutor.run("ip", ["-n", pod, "-json", ...args]);
    return (stdout.trim() === "" ? [] : JSON.parse(stdout)) as Record<string, unknown>[];
  };
  const links = (await ip(["-details", "link", "show"])).map((l) => {
    const kind = (l.linkinfo as { info_kind?: string } | undefined)?.info_kind ?? "-";
    const up = Array.isArray(l.flags) && l.flags.includes("UP");
    // A tap gets a random MAC when nobody sets one.
    const mac = kind === "tun" ? "" : String(l.address);
    return `${String(l.ifname)} ${kind} ${mac} mtu ${String(l.mtu)} master ${String(l.master ?? "-")} ${up ? "up" : "down"}`;
  });
  const addresses = (await ip(["address", "show"])).flatMap((l) =>
    (Array.isArray(l.addr_info) ? (l.addr_info as Record<string, unknown>[]) : [])
      .filter((a) => a.scope === "global")
      .map((a) => `${String(l.ifname)} ${String(a.local)}/${String(a.prefixlen)}`),
  );
  const routes = [...(await ip(["-4", "route", "show"])), ...(await ip(["-6", "route", "show"]))]
    .filter((r) => !String(r.dst).startsWith("fe80"))
    .map((r) => `${String(r.dst)} via ${String(r.gateway ?? "-")} dev ${String(r.dev)}`);
  const sysctls: string[] = [];
  for (const s of plan.sysctls) {
    const { stdout } = await hostExecutor.run("cat", [sysctlPath(s.key)], { netns: pod, allowFailure: true });
    sysctls.push(`${s.key}=${stdout.trim()}`);
  }
  const { stdout } = await hostExecutor.run("nft", ["-j", "list", "ruleset"], { netns: pod });
  const listing = canonicalListing(JSON.parse(stdout) as NftJson);
  const chains = listing.flatMap((o) => {
    const c = (o as { chain?: { family: string; table: string; name: string } }).chain;
    return c === undefined ? [] : [`${c.family} ${c.table} ${c.name}`];
  });
  return {
    links: links.sort(),
    addresses: addresses.sort(),
    routes: routes.sort(),
    sysctls,
    ruleset: JSON.stringify(listing),
    chains: chains.sort(),
  };
}

function compare(what: string, a: Snapshot, b: Snapshot, fullRuleset: boolean): void {
  const keys: (keyof Snapshot)[] = ["links", "addresses", "routes", "sysctls", fullRuleset ? "ruleset" : "chains"];
  for (const k of keys) {
    const x = JSON.stringify(a[k]);
    const y = JSON.stringify(b[k]);
    if (x !== y) throw new Error(`The ${what} left different ${k} than vmnet: ${y} instead of ${x}`);
  }
}

// ---- the run -------------------------------------------------------------------------------------------------------

async function runCase(res: Resources, c: SetupCase, options: SetupBenchOptions): Promise<SetupResult> {
  const dir = await res.tempDir(c.name);
  const p: BenchPod = {
    pod: await res.netns("pod"),
    node: await res.netns("node"),
    dir,
    stateDir: join(dir, "state"),
    c,
    restore: [],
  };
  await writeFile(join(p.dir, "resolv.conf"), RESOLV);
  await writeFile(join(p.dir, "hostname"), "benchvm-pod\n");
  try {
    const placeholder: PlaceholderKind = await probePlaceholderKind(new IprouteNetlink(p.pod));
    await wirePod(p);
    // The scripts are written once from the plan on a fresh pod; every fresh pod is wired identically.
    const refFacts = await discoverPodFacts(p.pod, { podDir: p.dir });
    const refPlan = planPod(c.model, { config: DEFAULT_CLUSTER_CONFIG, pod: refFacts });
    const ops = diffLinks(refPlan, (await readNetwork(new IprouteNetlink(p.pod))).views, { placeholder });
    p.restore = await restoreLines(p.pod, refPlan);
    const base = await writeBaselines(p.dir, p.pod, refPlan, ops);

    const vmnet: number[] = [];
    const discoverPlan: number[] = [];
    const floor: number[] = [];
    const perRule: number[] = [];
    const perRuleCapped = c.ports > options.perRuleMaxPorts && options.iterations > 1;
    let vmnetProcesses = 0;
    const timed: TimedCall[][] = [];
    let reference: Snapshot | undefined;
    for (let i = 0; i < options.iterations; i++) {
      // Methods take turns within an iteration, so drift in the machine's load hits all three alike.
      await resetPod(p);
      const executor = new TimingExecutor();
      const netlink = new IprouteNetlink(p.pod, { executor });
      const adapters = {
        netns: p.pod,
        netlink,
        nft: new NftCli(p.pod, { executor }),
        sysctl: new NetnsSysctl(p.pod),
        state: new FileStateStore(p.stateDir, "bench-pod"),
        placeholder,
      };
      const t0 = process.hrtime.bigint();
      const { facts, kernel } = await discoverPod(p.pod, { netlink, nft: adapters.nft, podDir: p.dir });
      const plan = planPod(c.model, { config: DEFAULT_CLUSTER_CONFIG, pod: facts });
      discoverPlan.push(elapsedMs(t0));
      const applied = await applyPlan(plan, { ...adapters, discovered: kernel });
      vmnet.push(elapsedMs(t0));
      vmnetProcesses = executor.calls.length;
      timed.push(executor.calls);
      if (JSON.stringify(applied.ops) !== JSON.stringify(base.ops)) {
        throw new Error(`vmnet applied other link operations than the baselines: ${JSON.stringify(applied.ops)}`);
      }
      if (i === 0) reference = await snapshot(p.pod, refPlan);

      await resetPod(p);
      const t1 = process.hrtime.bigint();
      await sh(base.floorScript);
      floor.push(elapsedMs(t1));
      if (i === 0 && reference !== undefined) compare("floor script", reference, await snapshot(p.pod, refPlan), true);

      if (!perRuleCapped || i === 0) {
        await resetPod(p);
        const t2 = process.hrtime.bigint();
        await hostExecutor.run("sh", ["-e", base.perRuleFile], { netns: p.pod, timeoutMs: 600_000 });
        perRule.push(elapsedMs(t2));
        if (i === 0 && reference !== undefined)
          compare("per-rule script", reference, await snapshot(p.pod, refPlan), false);
      }
    }
    return {
      name: c.name,
      vmnet,
      discoverPlan,
      floor,
      perRule,
      perRuleCapped,
      breakdown: breakdownOf(timed),
      processes: { vmnet: vmnetProcesses, floor: floorProcesses(refPlan), perRule: base.perRuleProcesses },
    };
  } finally {
    await res.deleteNetns(p.pod);
    await res.deleteNetns(p.node);
  }
}

/** The floor's processes: sh, ip -batch, ip netns exec (which execs sh), and nft when there are rules. */
function floorProcesses(plan: NetworkPlan): number {
  return plan.nft.tables.length > 0 ? 4 : 3;
}

/** The results as the printed table. */
export function renderSetupTable(results: readonly SetupResult[]): string {
  const rows = results.map((r) => {
    const v = median(r.vmnet);
    const f = median(r.floor);
    const pr = median(r.perRule);
    const ratio = v / f;
    return [
      r.name,
      fmt(v),
      fmt(quantile(r.vmnet, 0.9)),
      fmt(median(r.discoverPlan)),
      fmt(f),
      `${fmt(pr)}${r.perRuleCapped ? "*" : ""}`,
      fmt(ratio, 2),
      fmt(pr / f, 2),
      ratio <= SETUP_TARGET_RATIO ? "yes" : "NO",
      `${r.processes.vmnet}/${r.processes.floor}/${r.processes.perRule}`,
    ];
  });
  return table(
    [
      "case",
      "vmnet med",
      "vmnet p90",
      "disc+plan",
      "floor med",
      "per-rule med",
      "vmnet/floor",
      "per-rule/floor",
      `<=${SETUP_TARGET_RATIO}x`,
      "procs v/f/p",
    ],
    rows,
  );
}

/** Where vmnet's time goes, per case: processes of each kind and their summed time. */
export function renderBreakdownTable(results: readonly SetupResult[]): string {
  const kinds = Object.values(ProcessKind).filter((k) => results.some((r) => r.breakdown[k] !== undefined));
  return table(
    ["case", ...kinds],
    results.map((r) => [
      r.name,
      ...kinds.map((k) => {
        const b = r.breakdown[k];
        return b === undefined ? "-" : `${b.count} / ${fmt(b.ms)}`;
      }),
    ]),
  );
}

/** Runs every case and prints the table; namespaces and files are removed whatever happens. */
export async function runSetupBench(options: SetupBenchOptions): Promise<SetupResult[]> {
  const why = missingPrerequisite(["ip", "nft"]);
  if (why !== undefined) throw new Error(`Cannot run the setup benchmark: ${why}`);
  const res = new Resources();
  res.guard();
  const out = options.out;
  const cases = setupCases(options.ports, options.dualPorts).filter(
    (c) => options.cases === undefined || options.cases.includes(c.name),
  );
  out("vmnet setup benchmark: pod network setup time per binding (milliseconds, wall clock)");
  out(machineLine());
  out(`iterations: ${options.iterations}; namespaces: ${res.prefix}*`);
  const results: SetupResult[] = [];
  try {
    for (const c of cases) {
      out(`running ${c.name} ...`);
      results.push(await runCase(res, c, options));
    }
  } finally {
    await res.close();
  }
  out("");
  out(renderSetupTable(results));
  out("");
  out("vmnet = discover + plan + apply through IprouteNetlink, NftCli, NetnsSysctl and FileStateStore;");
  out("disc+plan = the discovery and planning part of it. floor = one `ip -batch` + one `nft -f` + sysctls");
  out("from one shell. per-rule = one process per link op and per nft table/chain/rule, one rule per port");
  out("(KubeVirt's nft driver). procs = processes each method starts. Each method starts from a fresh pod;");
  out("the first iteration checks that all three leave the same links, addresses, routes, sysctls and chains.");
  out("");
  out("where vmnet's time goes: processes of each kind per setup / their summed wall time in ms (medians);");
  out("discovery reads links, addresses, both route tables (1 `ip` run) and the ruleset at once (apply reuses them),");
  out("and apply runs some processes side by side, so the sums exceed their share of the wall time.");
  out(renderBreakdownTable(results));
  if (results.some((r) => r.perRuleCapped)) {
    out(
      `* per-rule ran once (not ${options.iterations} times) for cases with more than ${options.perRuleMaxPorts} ports; ` +
        "raise --per-rule-max-ports to run every iteration.",
    );
  }
  const failed = results.filter((r) => median(r.vmnet) / median(r.floor) > SETUP_TARGET_RATIO).map((r) => r.name);
  out(
    failed.length === 0
      ? `target (vmnet <= ${SETUP_TARGET_RATIO}x floor): met in every case`
      : `target (vmnet <= ${SETUP_TARGET_RATIO}x floor): NOT met for ${failed.join(", ")}`,
  );
  return results;
}

/** Parses the command line of `bench/setup.ts`. */
export function parseSetupArgs(argv: readonly string[]): Omit<SetupBenchOptions, "out"> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      iterations: { type: "string", default: "10" },
      ports: { type: "string", default: "1,100,1000" },
      "dual-ports": { type: "string", default: "100" },
      "per-rule-max-ports": { type: "string", default: "100" },
      cases: { type: "string" },
    },
    strict: true,
  });
  return {
    iterations: positiveInt("iterations", values.iterations),
    ports: intList("ports", values.ports),
    dualPorts: intList("dual-ports", values["dual-ports"]),
    perRuleMaxPorts: intList("per-rule-max-ports", values["per-rule-max-ports"])[0] ?? 100,
    ...(values.cases === undefined ? {} : { cases: values.cases.split(",") }),
  };
}

await runIfMain(import.meta.url, (out) => runSetupBench({ ...parseSetupArgs(process.argv.slice(2)), out }));
