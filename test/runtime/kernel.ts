/**
 * Kernel-test pieces for the runtime: a pod namespace wired to a "node" namespace by a veth pair, the pod as CNI would
 * leave it (eth0 with IPv4 and/or IPv6, default routes, resolv.conf and hostname files), and readers of the kernel's
 * state inside the namespace.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { VmNetworkModel } from "../../src/api/model.ts";
import { hostExecutor, RecordingExecutor } from "../../src/host/exec.ts";
import { IprouteNetlink } from "../../src/host/netlink.ts";
import { addVethPair } from "../../src/host/netns.ts";
import { canonicalListing, NftCli } from "../../src/host/nftables.ts";
import { ProcSysctl } from "../../src/host/sysctl.ts";
import { planPod } from "../../src/plan/plan.ts";
import { applyPlan, probePlaceholderKind } from "../../src/runtime/apply.ts";
import { discoverPod, discoverPodFacts } from "../../src/runtime/discover.ts";
import type { PlaceholderKind } from "../../src/runtime/links.ts";
import { FileStateStore } from "../../src/runtime/state.ts";
import { teardownPlan } from "../../src/runtime/teardown.ts";
import { sysctlInterface } from "../../src/runtime/undo.ts";
import { withNetns } from "../host/harness.ts";
import { config } from "../plan/fixtures.ts";
import { RESOLV } from "./helpers.ts";

/** The pod NIC's MAC as CNI set it. */
export const POD_MAC = "0a:58:0a:f4:01:05";

/** A pod namespace with its files and state directory. */
export interface KernelPod {
  readonly netns: string;
  readonly dir: string;
  readonly stateDir: string;
  /** What stands in for the renamed NIC on this kernel (this machine's has no dummy driver). */
  readonly placeholder: PlaceholderKind;
}

/** Wires `pod` to `node` (eth0 ↔ veth-pod) and configures the pod NIC with `addresses` and default routes. */
export async function setupPod(pod: string, node: string, addresses: readonly string[]): Promise<KernelPod> {
  const placeholder = await probePlaceholderKind(new IprouteNetlink(pod));
  await addVethPair({ name: "eth0", netns: pod }, { name: "veth-pod", netns: node });
  const ip = (ns: string, args: string[]) => hostExecutor.run("ip", ["-n", ns, ...args]);
  await ip(node, ["link", "set", "veth-pod", "up"]);
  await ip(node, ["address", "add", "10.244.1.1/24", "dev", "veth-pod"]);
  await ip(node, ["address", "add", "fd00:10:244:1::1/64", "dev", "veth-pod", "nodad"]);
  await ip(pod, ["link", "set", "eth0", "address", POD_MAC, "mtu", "1450"]);
  for (const a of addresses) {
    await ip(pod, ["address", "add", a, "dev", "eth0", ...(a.includes(":") ? ["nodad"] : [])]);
  }
  await ip(pod, ["link", "set", "eth0", "up"]);
  if (addresses.some((a) => !a.includes(":"))) await ip(pod, ["route", "add", "default", "via", "10.244.1.1"]);
  if (addresses.some((a) => a.includes(":")))
    await ip(pod, ["-6", "route", "add", "default", "via", "fd00:10:244:1::1"]);
  const dir = await mkdtemp(join(tmpdir(), "vmnt-pod-"));
  await writeFile(join(dir, "resolv.conf"), RESOLV);
  await writeFile(join(dir, "hostname"), "testvm-pod\n");
  return { netns: pod, dir, stateDir: join(dir, "state"), placeholder };
}

/** Removes the pod's files. */
export async function cleanupPod(pod: KernelPod | undefined): Promise<void> {
  if (pod !== undefined) await rm(pod.dir, { recursive: true, force: true });
}

/** Fresh runtime objects for the pod (what a restarted vmnet would build), all spawning through one recorder. */
export function runtimeFor(pod: KernelPod) {
  const executor = new RecordingExecutor(hostExecutor);
  return {
    executor,
    netns: pod.netns,
    netlink: new IprouteNetlink(pod.netns, { executor }),
    nft: new NftCli(pod.netns, { executor }),
    sysctl: new ProcSysctl(pod.netns, { executor }),
    state: new FileStateStore(pod.stateDir, "pod-uid-1"),
    placeholder: pod.placeholder,
  };
}

/** Discovers the pod's facts (with the record, if any) and plans `model` on them. */
export async function planOn(pod: KernelPod, model: VmNetworkModel, rt: ReturnType<typeof runtimeFor>) {
  const recorded = await rt.state.load();
  const facts = await discoverPodFacts(pod.netns, {
    netlink: rt.netlink,
    podDir: pod.dir,
    ...(recorded === undefined ? {} : { state: recorded }),
  });
  return planPod(model, { config: config(), pod: facts, antiSpoofing: { default: true } });
}

/** `ip -json` output inside the namespace, parsed. */
export async function ipJson(netns: string, args: string[]): Promise<Record<string, unknown>[]> {
  const { stdout } = await hostExecutor.run("ip", ["-n", netns, "-json", ...args]);
  return stdout.trim() === "" ? [] : (JSON.parse(stdout) as Record<string, unknown>[]);
}

/** A sysctl read inside the namespace. */
export async function sysctlIn(netns: string, key: string): Promise<string> {
  const { stdout } = await hostExecutor.run("sysctl", ["-n", key], { netns });
  return stdout.trim();
}

/** `nft -j list ruleset` inside the namespace, without metainfo. */
export async function nftObjects(netns: string): Promise<Record<string, unknown>[]> {
  const { stdout } = await hostExecutor.run("nft", ["-j", "list", "ruleset"], { netns });
  const parsed = JSON.parse(stdout) as { nftables: Record<string, unknown>[] };
  return parsed.nftables.filter((o) => !("metainfo" in o));
}

/**
 * The namespace's links, addresses and routes in a comparable form; IPv6 link-local addresses and routes come back
 * with the link's carrier a moment after it goes up, so callers poll with {@link eventually}.
 */
export async function kernelSnapshot(netns: string): Promise<unknown> {
  const links = (await ipJson(netns, ["link", "show"])).map((l) => ({
    ifname: l.ifname,
    ifindex: l.ifindex,
    address: l.address,
    mtu: l.mtu,
    master: l.master,
    up: Array.isArray(l.flags) && l.flags.includes("UP"),
  }));
  const addresses = (await ipJson(netns, ["address", "show"])).flatMap((l) =>
    (Array.isArray(l.addr_info) ? (l.addr_info as Record<string, unknown>[]) : []).map(
      (a) => `${String(l.ifname)} ${String(a.local)}/${String(a.prefixlen)} ${String(a.scope)}`,
    ),
  );
  const routes = [...(await ipJson(netns, ["-4", "route", "show"])), ...(await ipJson(netns, ["-6", "route", "show"]))]
    .map((r) => `${String(r.dst)} via ${String(r.gateway ?? "-")} dev ${String(r.dev)} proto ${String(r.protocol)}`)
    .sort();
  return { links, addresses: addresses.sort(), routes };
}

/** Polls `read` until it deep-equals `expected` (by JSON) or `ms` pass; returns the last value read. */
export async function eventually<T>(read: () => Promise<T>, expected: unknown, ms = 4000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (JSON.stringify(v) === JSON.stringify(expected) || Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The snapshot once eth0's IPv6 link-local address (which needs carrier) is there and nothing changes any more. */
export async function settledSnapshot(netns: string): Promise<unknown> {
  let last = "";
  for (let i = 0; i < 40; i++) {
    const snap = await kernelSnapshot(netns);
    const text = JSON.stringify(snap);
    if (text === last && text.includes('"eth0 fe80:')) return snap;
    last = text;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Namespace "${netns}" did not settle: ${last}`);
}

/** Spawns of one kind in a recorder: `ip -batch` runs and `nft -f` runs. */
export function spawnCounts(rt: ReturnType<typeof runtimeFor>, from = 0): { ipBatch: number; nftLoad: number } {
  const { ipBatch, nftLoad } = processCounts(rt, from);
  return { ipBatch, nftLoad };
}

/** Every process a recorder saw since `from`, by kind. */
export function processCounts(rt: ReturnType<typeof runtimeFor>, from = 0) {
  const calls = rt.executor.calls.slice(from);
  const count = (program: string, write: string, isWrite: boolean) =>
    calls.filter((c) => c.program === program && c.args.includes(write) === isWrite).length;
  // A netlink snapshot is an `ip -json -batch` run too: it reads, where a plain `ip -batch` writes.
  const ipWrites = calls.filter((c) => c.program === "ip" && c.args.includes("-batch") && !c.args.includes("-json"));
  return {
    ipRead: count("ip", "-json", true),
    ipBatch: ipWrites.length,
    sysctlGet: count("sysctl", "-w", false),
    sysctlSet: count("sysctl", "-w", true),
    nftList: count("nft", "-f", false),
    nftLoad: count("nft", "-f", true),
    total: calls.length,
  };
}

/**
 * Plan → apply → `check` the kernel → apply again (zero ops, same ruleset) → restart (new objects, discover, plan,
 * apply: zero ops) → teardown (twice) → the namespace is as before, nft is empty, sysctls are back.
 */
export async function roundTrip(
  model: VmNetworkModel,
  addresses: readonly string[],
  check: (netns: string) => Promise<void>,
): Promise<void> {
  await withNetns(2, async ([pod = "", node = ""]) => {
    let kp: KernelPod | undefined;
    try {
      kp = await setupPod(pod, node, addresses);
      const before = await settledSnapshot(pod);
      const sysctlKeys = ["net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding", "net.ipv4.conf.all.arp_ignore"];
      const sysctlsBefore = await Promise.all(sysctlKeys.map((k) => sysctlIn(pod, k)));
      const rt = runtimeFor(kp);
      const { facts, kernel } = await discoverPod(kp.netns, { netlink: rt.netlink, nft: rt.nft, podDir: kp.dir });
      const plan = planPod(model, { config: config(), pod: facts, antiSpoofing: { default: true } });
      // Discovery reads links, addresses and both route tables in one snapshot; the ruleset is read over a netfilter
      // socket in the namespace, no process.
      assert.deepEqual([processCounts(rt).ipRead, processCounts(rt).nftList, processCounts(rt).total], [1, 0, 1]);
      const mark = rt.executor.calls.length;
      const first = await applyPlan(plan, { ...rt, discovered: kernel });
      assert.ok(first.ops.length > 0);
      const tables = plan.nft.tables.length > 0 ? 1 : 0;
      const created = new Set(
        first.ops.flatMap((o) => (o.op === "addBridge" || o.op === "addDummy" || o.op === "addTap" ? [o.name] : [])),
      );
      // Keys of links the batch creates have no previous value worth reading.
      const readsSysctls = plan.sysctls.some((x) => !created.has(sysctlInterface(x.key) ?? "")) ? 1 : 0;
      const setsSysctls = first.sysctls.length > 0 ? 1 : 0;
      // Apply works from discovery's reads; the sysctls take one process to read and one to write, the ruleset's load
      // one transaction.
      assert.deepEqual(processCounts(rt, mark), {
        ipRead: 0,
        ipBatch: 1,
        sysctlGet: readsSysctls,
        sysctlSet: setsSysctls,
        nftList: 0,
        nftLoad: tables,
        total: 1 + readsSysctls + setsSysctls + tables,
      });
      await check(pod);
      const ruleset = await nftObjects(pod);
      const stripped = () => nftObjects(pod).then((o) => canonicalListing({ nftables: o as never }));
      const rules = canonicalListing({ nftables: ruleset as never });

      const mark2 = rt.executor.calls.length;
      const again = await applyPlan(plan, rt);
      assert.deepEqual(again.ops, []);
      assert.deepEqual(again.sysctls, []);
      // Without discovery's read apply takes its own snapshot; the record knows the tables, so no listing.
      assert.deepEqual(processCounts(rt, mark2), {
        ipRead: 1,
        ipBatch: 0,
        sysctlGet: plan.sysctls.length > 0 ? 1 : 0,
        sysctlSet: 0,
        nftList: 0,
        nftLoad: tables,
        total: 1 + (plan.sysctls.length > 0 ? 1 : 0) + tables,
      });
      assert.deepEqual(await stripped(), rules);

      const restarted = runtimeFor(kp);
      const replanned = await planOn(kp, model, restarted);
      assert.deepEqual(replanned, plan);
      const adopted = await applyPlan(replanned, restarted);
      assert.deepEqual(adopted.ops, []);
      assert.equal(adopted.recovered, false);
      assert.equal(spawnCounts(restarted).ipBatch, 0);
      assert.deepEqual(await stripped(), rules);
      await check(pod);

      const down = await teardownPlan(plan, restarted);
      assert.equal(down.usedRecord, true);
      const after = await eventually(() => kernelSnapshot(pod), before);
      assert.deepEqual(after, before);
      assert.deepEqual(await nftObjects(pod), []);
      assert.deepEqual(await Promise.all(sysctlKeys.map((k) => sysctlIn(pod, k))), sysctlsBefore);
      const twice = await teardownPlan(plan, runtimeFor(kp));
      assert.deepEqual(twice.ops, []);
      assert.deepEqual(await kernelSnapshot(pod), before);
    } finally {
      await cleanupPod(kp);
    }
  });
}
