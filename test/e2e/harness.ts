/**
 * The end-to-end harness: one lab node per test file (real CNI plugins inside a `vmnt-` node namespace), pods made by
 * the bridge/host-local plugins as a kubelet would, VM specs from examples/dataplane admitted and modelled as
 * `vmnet validate` does, wired with `wirePod`, and "guests": network namespaces joined to the planned taps by the
 * lab's tap relay, running real DHCP clients and responders with private state. Everything is recorded and removed in
 * `cleanup()`, which also checks that the root namespace's links and ruleset are as they were.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";
import { admitVm } from "../../src/admission/admit.ts";
import type { ClusterConfig } from "../../src/api/cluster-config.ts";
import type { KvVirtualMachine } from "../../src/api/kubevirt-types.ts";
import type { VmNetworkModel } from "../../src/api/model.ts";
import { kubeVirtObjectToModel, virtinkToModel } from "../../src/api/to-model.ts";
import type { VkVirtualMachine } from "../../src/api/virtink-types.ts";
import { readInputs } from "../../src/cli/input.ts";
import { IprouteNetlink } from "../../src/host/netlink.ts";
import type { NetworkConfig } from "../../src/lab/cni.ts";
import { createNode, type LabNode } from "../../src/lab/node.ts";
import {
  type CreatePodOptions,
  createPod,
  deletePod,
  destroyNode,
  type LabNad,
  type LabPod,
} from "../../src/lab/pod.ts";
import { startTapRelay, type TapRelay } from "../../src/lab/tap-relay.ts";
import type { NetworkPlan } from "../../src/plan/plan.ts";
import type { NadFacts } from "../../src/plan/pod-facts.ts";
import { probePlaceholderKind } from "../../src/runtime/apply.ts";
import { DhcpAgent, type DhcpAgentEvent } from "../../src/runtime/dhcp/agent.ts";
import type { PlaceholderKind } from "../../src/runtime/links.ts";
import { unwirePod, type WiredPod, wirePod } from "../../src/runtime/wire.ts";
import { execIn, exitOf, missingPath, NetnsLab, netnsSkipReason, udhcpcScript, waitFor } from "../support/netns-lab.ts";

export {
  addresses,
  envOf,
  execIn,
  exitOf,
  ipIn,
  linkOf,
  routes,
  tryIn,
  udhcpcScript,
  waitFor,
} from "../support/netns-lab.ts";

const run = promisify(execFile);

/** The repository root. */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Why the e2e tests cannot run here, or undefined. */
export function e2eSkipReason(...extra: string[]): string | undefined {
  return (
    netnsSkipReason("ip", "nft", "unshare", "mount", "busybox", "tcpdump", "python3") ??
    missingPath("/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/dev/net/tun", ...extra)
  );
}

/** A VM example admitted as `vmnet validate --strict` would, and modelled for the planner. */
export interface LoadedVm {
  readonly model: VmNetworkModel;
  readonly config: ClusterConfig;
  /** The NADs as the planner checks them. */
  readonly planNads: NadFacts[];
  /** The NADs as the lab attaches them, by name. */
  readonly labNads: Map<string, LabNad>;
}

/** Loads `examples/dataplane/<file>` (or any example path), asserts it is allowed under `--strict`, models it. */
export function loadVm(file: string, options: { kubevirtConfig?: string; nads?: string[] } = {}): LoadedVm {
  const path = (f: string) => join(ROOT, f);
  const inputs = readInputs({
    main: path(file),
    ...(options.kubevirtConfig === undefined ? {} : { kubevirtConfig: path(options.kubevirtConfig) }),
    nads: (options.nads ?? []).map(path),
  });
  const vm = inputs.vms[0];
  assert.ok(vm !== undefined, `${file} holds a VM`);
  const admission = admitVm(vm, { config: inputs.config, nads: inputs.nads, strict: true });
  assert.equal(admission.allowed, true, `${file} is allowed: ${admission.message ?? ""}`);
  assert.ok(admission.defaulted !== undefined, `${file} defaults`);
  const model =
    vm.kind === "virtink-vm"
      ? virtinkToModel(admission.defaulted as VkVirtualMachine)
      : kubeVirtObjectToModel(admission.defaulted as KvVirtualMachine);
  const planNads: NadFacts[] = [];
  const labNads = new Map<string, LabNad>();
  for (const f of options.nads ?? []) {
    for (const doc of parseAllDocuments(readFileSync(path(f), "utf8"))) {
      const nad = doc.toJS() as { metadata: { name: string; namespace?: string }; spec: { config: string } };
      const namespace = nad.metadata.namespace ?? "default";
      planNads.push({ namespace, name: nad.metadata.name, config: nad.spec.config });
      labNads.set(nad.metadata.name, { name: nad.metadata.name, namespace, config: JSON.parse(nad.spec.config) });
    }
  }
  return { model, config: inputs.config, planNads, labNads };
}

/** A bridge + host-local network as a kind-like node runs it, with optional extra routes for option 121. */
export function podNetwork(options: {
  name: string;
  bridge: string;
  ipv4?: string;
  ipv6?: string;
  mtu?: number;
  routes?: { dst: string; gw?: string }[];
}): NetworkConfig {
  const ranges: { subnet: string }[][] = [];
  if (options.ipv4 !== undefined) ranges.push([{ subnet: options.ipv4 }]);
  if (options.ipv6 !== undefined) ranges.push([{ subnet: options.ipv6 }]);
  return {
    cniVersion: "0.3.1",
    name: options.name,
    plugins: [
      {
        type: "bridge",
        bridge: options.bridge,
        isGateway: true,
        isDefaultGateway: true,
        ...(options.mtu === undefined ? {} : { mtu: options.mtu }),
        ipam: { type: "host-local", ranges, ...(options.routes === undefined ? {} : { routes: options.routes }) },
      },
    ],
  };
}

/** Snapshot of a namespace's links, addresses, routes and ruleset, comparable before and after. */
export async function netnsSnapshot(ns: string | undefined): Promise<unknown> {
  const ip = (...args: string[]) => run("ip", [...(ns === undefined ? [] : ["-n", ns]), "-json", ...args]);
  const links = (JSON.parse((await ip("link", "show")).stdout) as Record<string, unknown>[])
    .map((l) => ({
      ifindex: l.ifindex,
      ifname: l.ifname,
      address: l.address,
      mtu: l.mtu,
      master: l.master,
      flags: l.flags,
      operstate: l.operstate,
    }))
    .sort((a, b) => Number(a.ifindex) - Number(b.ifindex));
  if (ns === undefined) {
    const nft = await run("nft", ["-j", "list", "ruleset"]);
    return { links, nft: nft.stdout };
  }
  const addrs = (
    JSON.parse((await ip("addr", "show")).stdout) as {
      ifname: string;
      addr_info: { local: string; prefixlen: number; scope: string }[];
    }[]
  )
    .flatMap((l) => l.addr_info.map((a) => `${l.ifname} ${a.local}/${a.prefixlen} ${a.scope}`))
    .sort();
  const routeList = async (family: string) =>
    (JSON.parse((await ip(family, "route", "show", "table", "all")).stdout) as Record<string, unknown>[])
      .map((r) => JSON.stringify([r.type, r.dst, r.gateway, r.dev, r.protocol, r.scope, r.table, r.prefsrc]))
      .sort();
  const nft = await run("ip", ["netns", "exec", ns, "nft", "-j", "list", "ruleset"]);
  return { links, addrs, routes4: await routeList("-4"), routes6: await routeList("-6"), nft: nft.stdout };
}

/** Options of {@link E2eLab.wire}. */
export interface WireInLab {
  /** Guest namespace per VM interface name; interfaces not listed get no guest. */
  readonly guests: Readonly<Record<string, string>>;
  readonly podIP?: string;
}

/** The lab of one test file: a node, pods, guests, relays, wired pods and child processes, all cleaned up. */
export class E2eLab extends NetnsLab {
  readonly events: DhcpAgentEvent[] = [];
  readonly agent = new DhcpAgent({ onEvent: (e) => this.events.push(e) });
  node: LabNode | undefined;
  placeholder: PlaceholderKind | undefined;
  readonly relays = new Map<string, TapRelay[]>();
  readonly #pods: LabPod[] = [];
  readonly #wired = new Set<WiredPod>();
  #root: unknown;

  constructor() {
    super("vmnt-e2e-");
  }

  /** Records the root namespace and creates the node `vmnt-n<suffix>`. */
  async start(): Promise<LabNode> {
    this.#root = await netnsSnapshot(undefined);
    this.node = await createNode({ name: `vmnt-n${this.suffix}`, stateDir: join(this.dir, "node") });
    return this.node;
  }

  #node(): LabNode {
    assert.ok(this.node !== undefined, "the lab node exists");
    return this.node;
  }

  /** Creates a pod on the node (its namespace is `<node>-<name>`). */
  async pod(name: string, options: Omit<CreatePodOptions, "node" | "name">): Promise<LabPod> {
    const pod = await createPod({ node: this.#node(), name, ...options });
    this.#pods.push(pod);
    if (this.placeholder === undefined) this.placeholder = await probePlaceholderKind(new IprouteNetlink(pod.netns));
    return pod;
  }

  /** Deletes a pod created by {@link pod} (CNI DEL, namespace gone). */
  async deletePod(pod: LabPod): Promise<void> {
    const i = this.#pods.indexOf(pod);
    if (i >= 0) this.#pods.splice(i, 1);
    await deletePod(this.#node(), pod);
  }

  /** A guest namespace `vmnt-g<role>-<suffix>` with DAD off (a VM's NIC has no DAD wait in the lab either). */
  guest(role: string): Promise<string> {
    return this.netns(`g${role}`);
  }

  /** Wires `pod` for `vm` with the shared agent; each listed interface's guest joins its tap through a relay. */
  async wire(pod: LabPod, vm: LoadedVm, options: WireInLab): Promise<WiredPod> {
    const attachGuest = async (plan: NetworkPlan) => {
      const started: TapRelay[] = [];
      try {
        for (const i of plan.interfaces) {
          const guestNetns = options.guests[i.name];
          if (guestNetns === undefined) continue;
          started.push(
            await startTapRelay({
              podNetns: pod.netns,
              podTap: i.guest.tapName.value,
              guestNetns,
              guestMac: i.guest.mac,
            }),
          );
        }
      } catch (e) {
        for (const r of started) await r.close();
        throw e;
      }
      this.relays.set(pod.netns, started);
      return async () => {
        this.relays.delete(pod.netns);
        for (const r of started) await r.close();
      };
    };
    const wired = await wirePod(vm.model, {
      netns: pod.netns,
      podDir: pod.dir,
      config: vm.config,
      nads: vm.planNads,
      stateDir: join(this.dir, "state"),
      podKey: pod.uid,
      agent: this.agent,
      ...(this.placeholder === undefined ? {} : { placeholder: this.placeholder }),
      ...(options.podIP === undefined ? {} : { podIP: options.podIP }),
      attachGuest,
    });
    this.#wired.add(wired);
    return wired;
  }

  /** Unwires a pod wired by {@link wire}. */
  async unwire(wired: WiredPod): Promise<void> {
    this.#wired.delete(wired);
    await unwirePod(wired);
  }

  /** Unwires `wired` and asserts its pod namespace is again exactly `cniMade`, its {@link netnsSnapshot} before wiring. */
  async unwireToCni(wired: WiredPod, cniMade: unknown, message?: string): Promise<void> {
    await this.unwire(wired);
    assert.deepEqual(await netnsSnapshot(wired.netns), cniMade, message);
  }

  /** Asserts what the last unwire leaves: the agent serves no pod and no tap relay is open. */
  assertAllUnwired(): void {
    assert.deepEqual(this.agent.pods(), []);
    assert.equal(this.relays.size, 0);
  }

  /** Starts `nettool serve` in `ns` and waits until it listens. */
  async serve(ns: string, ports: { tcp?: number[]; udp?: number[] }) {
    const args = [
      ...(ports.tcp === undefined ? [] : ["--tcp", ports.tcp.join(",")]),
      ...(ports.udp === undefined ? [] : ["--udp", ports.udp.join(",")]),
    ];
    const child = this.spawnIn(ns, [PYTHON, NETTOOL, "serve", ...args]);
    await waitFor(`responders in ${ns}`, () => (child.out().includes("listening") ? true : undefined));
    return child;
  }

  /** Starts `nettool peer` in `ns`; `peer()` resolves to the address of the first TCP peer. */
  async peerPrinter(ns: string, port: number): Promise<{ peer: () => Promise<string> }> {
    const child = this.spawnIn(ns, [PYTHON, NETTOOL, "peer", String(port)]);
    await waitFor(`peer printer in ${ns}`, () => (child.out().includes("listening") ? true : undefined));
    return {
      peer: () => waitFor(`a peer in ${ns}`, () => /peer (\S+)/.exec(child.out())?.[1], 5000),
    };
  }

  /** Runs udhcpc on the guest's eth0 until it has a lease (or fails); returns the recorded files and exit code. */
  async udhcpc(ns: string, name: string, extra: string[] = []) {
    const files = udhcpcScript(this.dir, name);
    const args = ["-i", "eth0", "-f", "-n", "-q", "-t", "4", "-T", "1", "-s", files.script, ...extra];
    const child = this.spawnIn(ns, [
      "busybox",
      "udhcpc",
      ...args,
      "-O",
      "search",
      "-O",
      "staticroutes",
      "-O",
      "mtu",
      "-O",
      "hostname",
    ]);
    const code = await exitOf(child);
    return { ...files, code, log: child.out() };
  }

  /** A client's private root (see {@link NetnsLab.clientRoot}) that also records the host name dhclient applied. */
  override clientRoot(name: string): { etc: string; wrap: (command: string) => string[] } {
    return super.clientRoot(name, { recordHostName: true });
  }

  /**
   * Stops every child, relay and wired pod, the agent, deletes pods, guests and the node, removes the temp dir, and
   * asserts the root namespace's links and ruleset are unchanged and no namespace of this lab is left.
   */
  override async cleanup(): Promise<void> {
    const errors: unknown[] = [];
    const attempt = async (f: () => Promise<unknown>) => {
      try {
        await f();
      } catch (e) {
        errors.push(e);
      }
    };
    await this.stopChildren();
    for (const w of [...this.#wired]) await attempt(() => this.unwire(w));
    for (const rs of this.relays.values()) for (const r of rs) await attempt(() => r.close());
    await attempt(() => this.agent.stopAll());
    for (const p of [...this.#pods]) await attempt(() => this.deletePod(p));
    for (const g of this.namespaces) await attempt(() => run("ip", ["netns", "del", g]));
    if (this.node !== undefined) {
      const node = this.node;
      await attempt(() => destroyNode(node));
    }
    rmSync(this.dir, { recursive: true, force: true });
    if (errors.length > 0) throw new AggregateError(errors, "Cannot clean the e2e lab up");
    const left = (await run("ip", ["netns", "list"])).stdout.split("\n").filter((l) => l.includes(this.suffix));
    assert.deepEqual(left, [], "no namespace of this lab is left");
    if (this.#root !== undefined) assert.deepEqual(await netnsSnapshot(undefined), this.#root, "root netns unchanged");
  }
}

/** Debian's python3 when present (the pyenv shim costs a bash start per call). */
export const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
/** The e2e network tools (responders, connect, peer printer, raw frames). */
export const NETTOOL = fileURLToPath(new URL("./nettool.py", import.meta.url));

/** What `nettool connect` printed: the responder's answer, "refused" or "timeout". */
export async function connectFrom(ns: string, host: string, port: number, udp = false): Promise<string> {
  return (await execIn(ns, PYTHON, NETTOOL, "connect", host, String(port), ...(udp ? ["--udp"] : []))).trim();
}

/** Per-rule packet counters of the anti-spoofing chain of `tap`, in rule order. */
export async function antiSpoofCounters(ns: string, tap: string): Promise<number[]> {
  const out = JSON.parse(
    await execIn(ns, "nft", "-j", "list", "chain", "netdev", "vmnet_antispoof", `antispoof_${tap}`),
  ) as {
    nftables: { rule?: { expr: { counter?: { packets: number } }[] } }[];
  };
  return out.nftables.flatMap((o) =>
    o.rule === undefined ? [] : [o.rule.expr.find((e) => e.counter !== undefined)?.counter?.packets ?? 0],
  );
}
