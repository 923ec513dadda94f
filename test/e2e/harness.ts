/**
 * The end-to-end harness: one lab node per test file (real CNI plugins inside a `vmnt-` node namespace), pods made by
 * the bridge/host-local plugins as a kubelet would, VM specs from examples/dataplane admitted and modelled as
 * `vmnet validate` does, wired with `wirePod`, and "guests": network namespaces joined to the planned taps by the
 * lab's tap relay, running real DHCP clients and responders with private state. Everything is recorded and removed in
 * `cleanup()`, which also checks that the root namespace's links and ruleset are as they were.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
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

const run = promisify(execFile);

/** The repository root. */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Why the e2e tests cannot run here, or undefined. */
export function e2eSkipReason(...extra: string[]): string | undefined {
  if (process.getuid?.() !== 0) return "needs root to create network namespaces";
  for (const tool of ["ip", "nft", "unshare", "mount", "busybox", "tcpdump", "python3"]) {
    const r = spawnSync(tool, ["--version"], { stdio: "ignore" });
    if (r.error !== undefined) return `"${tool}" is missing`;
  }
  const missing = ["/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/dev/net/tun", ...extra].find(
    (p) => !existsSync(p),
  );
  return missing === undefined ? undefined : `"${missing}" is missing`;
}

/** `ip -n <ns> ...`. */
export async function ipIn(ns: string, ...args: string[]): Promise<string> {
  return (await run("ip", ["-n", ns, ...args])).stdout;
}

/** Runs a command inside a namespace; returns stdout. */
export async function execIn(ns: string, ...args: string[]): Promise<string> {
  return (await run("ip", ["netns", "exec", ns, ...args], { timeout: 30_000 })).stdout;
}

/** Runs a command inside a namespace; returns its exit code and output instead of throwing. */
export async function tryIn(ns: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("ip", ["netns", "exec", ns, ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Global and link-local addresses of a device as `address/prefix` (IPv4 and IPv6), with scope. */
export async function addresses(ns: string, dev: string): Promise<{ family: string; cidr: string; scope: string }[]> {
  const out = JSON.parse(await ipIn(ns, "-json", "addr", "show", "dev", dev)) as {
    addr_info: { family: string; local: string; prefixlen: number; scope: string }[];
  }[];
  return (out[0]?.addr_info ?? []).map((a) => ({
    family: a.family,
    cidr: `${a.local}/${a.prefixlen}`,
    scope: a.scope,
  }));
}

/** Routes of one family through `dev`, as `dst` or `dst via gateway`. */
export async function routes(ns: string, family: "-4" | "-6", dev: string): Promise<string[]> {
  const out = JSON.parse(await ipIn(ns, family, "-json", "route", "show", "dev", dev)) as {
    dst: string;
    gateway?: string;
  }[];
  return out.map((r) => (r.gateway === undefined ? r.dst : `${r.dst} via ${r.gateway}`));
}

/** A link's MTU and MAC. */
export async function linkOf(ns: string, dev: string): Promise<{ mtu: number; mac: string }> {
  const out = JSON.parse(await ipIn(ns, "-json", "link", "show", "dev", dev)) as { mtu: number; address: string }[];
  return { mtu: out[0]?.mtu ?? 0, mac: out[0]?.address ?? "" };
}

/** Polls `probe` until it returns a value, or throws after `ms`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits for a child to exit (killing it after `ms`); returns its exit code. */
export function exitOf(child: ChildProcess, ms = 20_000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), ms);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
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

/** A udhcpc script that applies the lease (address, MTU, option 121 or router) and records resolv.conf and env. */
export function udhcpcScript(dir: string, name: string): { script: string; resolv: string; env: string } {
  const resolv = join(dir, `${name}.resolv.conf`);
  const env = join(dir, `${name}.env`);
  const script = join(dir, `${name}.sh`);
  writeFileSync(
    script,
    `#!/bin/sh
case "$1" in
deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
bound|renew)
  ip -4 addr flush dev "$interface"
  ip addr add "$ip/$mask" dev "$interface"
  [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
  if [ -n "$staticroutes" ]; then
    set -- $staticroutes
    while [ $# -ge 2 ]; do
      if [ "$2" = 0.0.0.0 ]; then ip route replace "$1" dev "$interface"; else ip route replace "$1" via "$2" dev "$interface"; fi
      shift 2
    done
  elif [ -n "$router" ]; then
    ip route replace default via "\${router%% *}" dev "$interface"
  fi
  { [ -n "$search" ] && echo "search $search"; for d in $dns; do echo "nameserver $d"; done; } > ${resolv}
  env > ${env}
  ;;
esac
exit 0
`,
    { mode: 0o755 },
  );
  return { script, resolv, env };
}

/** `KEY=value` lines as a map. */
export function envOf(path: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) out.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return out;
}

/** Options of {@link E2eLab.wire}. */
export interface WireInLab {
  /** Guest namespace per VM interface name; interfaces not listed get no guest. */
  readonly guests: Readonly<Record<string, string>>;
  readonly podIP?: string;
}

/** The lab of one test file: a node, pods, guests, relays, wired pods and child processes, all cleaned up. */
export class E2eLab {
  readonly suffix = randomBytes(3).toString("hex");
  readonly dir = mkdtempSync(join(tmpdir(), "vmnt-e2e-"));
  readonly events: DhcpAgentEvent[] = [];
  readonly agent = new DhcpAgent({ onEvent: (e) => this.events.push(e) });
  node: LabNode | undefined;
  placeholder: PlaceholderKind | undefined;
  readonly relays = new Map<string, TapRelay[]>();
  readonly #pods: LabPod[] = [];
  readonly #guests: string[] = [];
  readonly #children: ChildProcess[] = [];
  readonly #wired = new Set<WiredPod>();
  #root: unknown;

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
  async guest(role: string): Promise<string> {
    const name = `vmnt-g${role}-${this.suffix}`;
    await run("ip", ["netns", "add", name]);
    this.#guests.push(name);
    await execIn(name, "sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.accept_dad=0");
    await ipIn(name, "link", "set", "lo", "up");
    return name;
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

  /** Starts a long-running command in a namespace; killed in cleanup(). Output is collected. */
  spawnIn(ns: string, args: readonly string[]): ChildProcess & { out: () => string } {
    const child = spawn("ip", ["netns", "exec", ns, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    this.#children.push(child);
    return Object.assign(child, { out: () => out });
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

  /**
   * A client's private root: `<dir>/<name>/etc` (Debian's dhclient hooks plus one recording the lease's host name and
   * the UTS host name, an empty resolv.conf) bound over /etc, tmpfs on /run and the lease dirs, and a new UTS
   * namespace named "localhost" (so dhclient-script applies the host-name option, inside it only).
   */
  clientRoot(name: string): { etc: string; wrap: (command: string) => string[] } {
    const etc = join(this.dir, name, "etc");
    const exitHooks = join(etc, "dhcp", "dhclient-exit-hooks.d");
    mkdirSync(exitHooks, { recursive: true });
    mkdirSync(join(etc, "dhcp", "dhclient-enter-hooks.d"), { recursive: true });
    const hook = "/etc/dhcp/dhclient-exit-hooks.d/rfc3442-classless-routes";
    if (existsSync(hook)) cpSync(hook, join(exitHooks, "rfc3442-classless-routes"));
    if (existsSync("/etc/dhcp/dhclient.conf")) cpSync("/etc/dhcp/dhclient.conf", join(etc, "dhcp", "dhclient.conf"));
    writeFileSync(
      join(exitHooks, "zz-vmnet-record"),
      'echo "$reason new_host_name=$new_host_name uts=$(hostname)" >> /etc/vmnet-record\n',
    );
    writeFileSync(join(etc, "fstab"), "");
    writeFileSync(join(etc, "resolv.conf"), "");
    writeFileSync(join(etc, "vmnet-record"), "");
    const mounts = [
      `mount --bind ${etc} /etc`,
      "mount -t tmpfs vmnt /run",
      "mount -t tmpfs vmnt /var/lib/dhcp",
      "mount -t tmpfs vmnt /var/lib/dhcpcd",
      "hostname localhost",
    ].join(" && ");
    return {
      etc,
      wrap: (command) => [
        "unshare",
        "-m",
        "-u",
        "--propagation",
        "private",
        "sh",
        "-c",
        `${mounts} && exec ${command}`,
      ],
    };
  }

  /**
   * Stops every child, relay and wired pod, the agent, deletes pods, guests and the node, removes the temp dir, and
   * asserts the root namespace's links and ruleset are unchanged and no namespace of this lab is left.
   */
  async cleanup(): Promise<void> {
    const errors: unknown[] = [];
    const attempt = async (f: () => Promise<unknown>) => {
      try {
        await f();
      } catch (e) {
        errors.push(e);
      }
    };
    for (const child of this.#children) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(timer);
    }
    for (const w of [...this.#wired]) await attempt(() => this.unwire(w));
    for (const rs of this.relays.values()) for (const r of rs) await attempt(() => r.close());
    await attempt(() => this.agent.stopAll());
    for (const p of [...this.#pods]) await attempt(() => this.deletePod(p));
    for (const g of this.#guests) await attempt(() => run("ip", ["netns", "del", g]));
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
