/**
 * The VM lifecycle behind `vmnet up`, `down`, `link`, `exec` and `list`, each run in its own process: everything a
 * later command needs is in the VM's record (`<state>/vms/<name>/vm.json`), written under the VM's lock before any
 * step that leaves something behind, so `down` can remove whatever a crashed `up` left.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { type AgentClient, ensureAgent } from "../agent/client.ts";
import { agentPaths } from "../agent/paths.ts";
import { AgentError, AgentErrorCode } from "../agent/protocol.ts";
import { deleteNetns, listNetns } from "../host/netns.ts";
import { processAlive, readPid } from "../host/process.ts";
import { Accel, probeAccel } from "../hypervisor/accel.ts";
import { type QemuNic, qemuNetId } from "../hypervisor/qemu-argv.ts";
import { GuestAgent, type GuestInterface } from "../hypervisor/qga.ts";
import { type DomainInterfaceStatus, QmpClient, queryDomainInterfaces } from "../hypervisor/qmp.ts";
import { buildGuestImage, GUEST_READY_MARKER, guestLeaseMarker } from "../lab/guest-image.ts";
import { createPod, deletePod, loadPod, type NetworkStatusEntry, podNetnsName } from "../lab/pod.ts";
import type { NetworkPlan } from "../plan/plan.ts";
import { stopProcesses } from "../runtime/processes.ts";
import { FileStateStore } from "../runtime/state.ts";
import { interfaceStatuses, type VmiInterfaceStatus } from "../runtime/status.ts";
import { undoRecord } from "../runtime/undo.ts";
import { podAdapters, wirePod } from "../runtime/wire.ts";
import { VmError } from "./errors.ts";
import { ensureLab, type IpFamily, loadLab, podIPs } from "./lab.ts";
import { acquireLock } from "./lock.ts";
import { isVmName, launcherPodName, type StatePaths, type VmPaths, vmPaths } from "./paths.ts";
import { loadPlan, savePlan } from "./plan-file.ts";
import { parseNetworkStatus, writeDeviceInfo } from "./pod-files.ts";
import { startQemu, stopQemu, waitForConsole } from "./qemu.ts";
import { podAttachments, type VmSpec } from "./spec.ts";

/** Where a VM is in its life. */
export const VmPhase = { Creating: "Creating", Running: "Running", Failed: "Failed" } as const;
export type VmPhase = (typeof VmPhase)[keyof typeof VmPhase];

/** The per-VM record. */
export interface VmRecord {
  readonly version: 1;
  readonly name: string;
  readonly namespace: string;
  readonly phase: VmPhase;
  readonly pod: string;
  readonly netns: string;
  /** The pod's id for the runtime's network record and the DHCP service. */
  readonly podKey: string;
  readonly podIPs: readonly string[];
  readonly accel?: Accel;
  /** The guest NICs as QEMU has them, in plan order. */
  readonly nics: readonly QemuNic[];
  /** Link states set with `vmnet link` (QEMU cannot report them). */
  readonly linkStates: Readonly<Record<string, "up" | "down">>;
  /** Multus' network-status annotation of the pod. */
  readonly networkStatus?: string;
  readonly error?: string;
}

/** Reads a VM's record, or undefined when there is none. */
export async function readRecord(paths: VmPaths): Promise<VmRecord | undefined> {
  try {
    return JSON.parse(await readFile(paths.record, "utf8")) as VmRecord;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

/** Replaces a VM's record atomically (callers hold the VM's lock). */
export async function writeRecord(paths: VmPaths, record: VmRecord): Promise<void> {
  const tmp = `${paths.record}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, paths.record);
}

/** Options of {@link upVm}. */
export interface UpOptions {
  readonly ipFamily?: IpFamily;
  /** Reports each step as it finishes. */
  readonly progress?: (line: string) => void;
  /** Default "auto": KVM only when the probe boots a guest with it. */
  readonly accel?: Accel | "auto";
  /** Boot wait (ready marker and lease). Default 240 s. */
  readonly bootTimeoutMs?: number;
  /** Aborting (Ctrl-C) stops at the next step and removes what was made, as a failure does. */
  readonly signal?: AbortSignal;
}

/** How an up VM is reached. */
export interface UpResult {
  readonly record: VmRecord;
}

/**
 * Creates the lab if missing, the VM's pod (CNI, Multus attachments), wires it (plan, apply, QEMU attached, DHCP/RA
 * sidecar) and waits until the guest is ready and leased. On failure everything done is removed again (as `down`).
 */
export async function upVm(paths: StatePaths, spec: VmSpec, options: UpOptions = {}): Promise<UpResult> {
  const progress = options.progress ?? (() => {});
  const check = () => options.signal?.throwIfAborted();
  const name = spec.model.name;
  const vm = vmPaths(paths, name);
  await mkdir(vm.dir, { recursive: true });
  const lock = await acquireLock(vm.lock);
  try {
    const existing = await readRecord(vm);
    if (existing !== undefined) {
      throw new VmError(`VM "${name}" already exists (phase ${existing.phase}); run "vmnet down ${name}" first`);
    }
    const { lab, created } = await ensureLab(paths, options.ipFamily);
    progress(`lab: ${created ? "created" : "found"} node "${lab.node.name}" (${lab.record.ipFamily})`);
    if (!created && options.ipFamily !== undefined && options.ipFamily !== lab.record.ipFamily) {
      progress(`lab: --ip-family ${options.ipFamily} ignored: it applies when the lab is created`);
    }
    const podName = launcherPodName(name);
    const netns = podNetnsName(lab.node, podName);
    let record: VmRecord = {
      version: 1,
      name,
      namespace: spec.model.namespace,
      phase: VmPhase.Creating,
      pod: podName,
      netns,
      podKey: netns,
      podIPs: [],
      nics: [],
      linkStates: {},
    };
    await writeRecord(vm, record);
    try {
      check();
      const image = await buildGuestImage();
      const accel = await chooseAccel(options.accel ?? "auto", () =>
        probeAccel({ kernel: image.kernel, initrd: image.initrd }),
      );
      progress(`image: kernel ${image.kernelVersion}, accelerator ${accel}`);
      check();
      const attachments = podAttachments(spec);
      const pod = await createPod({
        node: lab.node,
        name: podName,
        namespace: spec.model.namespace,
        primary: attachments.defaultNetwork === undefined ? lab.record.network : undefined,
        ...attachments,
      });
      const ips = podIPs(pod);
      // Written with the NICs once QEMU runs: `down` after a crash needs only the pod and netns, on disk already.
      record = { ...record, podIPs: ips, accel, networkStatus: pod.networkStatus };
      progress(`pod: "${podName}" IPs ${ips.join(", ") || "(none)"}`);
      const networkStatus = parseNetworkStatus(pod.networkStatus);
      const deviceInfo = await writeDeviceInfo(pod.dir, spec.model, networkStatus, spec.config);
      if (deviceInfo !== undefined) progress(`pod: device-info for binding plugins in "${deviceInfo}"`);
      check();
      let qemuPid: number | undefined;
      let markers: string[] = [GUEST_READY_MARKER];
      const agent = await ensureAgent({ stateDir: paths.root });
      const wired = await wirePod(spec.model, {
        netns,
        podDir: pod.dir,
        config: spec.config,
        nads: spec.planNads,
        stateDir: vm.networkDir,
        podKey: record.podKey,
        agent,
        // SR-IOV and vDPA are planned from the VF the network-status' device-info names.
        plan: { passthrough: { networkStatus } },
        ...(ips[0] === undefined ? {} : { podIP: ips[0] }),
        attachGuest: async (plan, helpers) => {
          await savePlan(vm.plan, plan, spec.model);
          markers = bootMarkers(plan);
          check();
          progress(`plan applied: ${plan.interfaces.map((i) => `${i.name} (${i.binding})`).join(", ")}`);
          for (const h of helpers?.processes ?? []) {
            progress(`${h.binary.split("/").pop()}: serving ${h.interface} on "${h.socketPath}" (pid ${h.pid})`);
          }
          const { pid, nics } = await startQemu({
            name,
            netns,
            paths: vm,
            image,
            accel,
            plan,
            vcpus: spec.model.vcpus,
          });
          record = { ...record, nics };
          await writeRecord(vm, record);
          qemuPid = pid;
          progress(`qemu: started (pid ${pid})`);
          return () => stopQemu(vm);
        },
      }).finally(() => agent.close());
      progress(`dhcp: ${wired.served ? "serving" : "nothing to serve"}`);
      if (qemuPid === undefined) throw new Error("Cannot boot: the plan has no guest NIC to attach QEMU to");
      await waitForConsole(vm, qemuPid, markers, {
        timeoutMs: options.bootTimeoutMs ?? 240_000,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        onMarker: (_m, line) => progress(`guest: ${line.replace(/^vmnet-guest: /, "")}`),
      });
      record = { ...record, phase: VmPhase.Running };
      await writeRecord(vm, record);
      return { record };
    } catch (e) {
      progress(`failed: ${e instanceof Error ? e.message : String(e)}; removing what was made`);
      await teardown(paths, vm, record).catch(() => {});
      throw e;
    }
  } finally {
    await lock.release();
  }
}

function noAgent(e: unknown): boolean {
  return e instanceof AgentError && (e.code === AgentErrorCode.Unavailable || e.code === AgentErrorCode.ConnectionLost);
}

/** Runs `f` with the state directory's agent, when one runs (none is started); false when there was none. */
async function withRunningAgent(paths: StatePaths, f: (agent: AgentClient) => Promise<void>): Promise<boolean> {
  let agent: AgentClient;
  try {
    agent = await ensureAgent({ stateDir: paths.root, spawn: false });
  } catch (e) {
    if (noAgent(e)) return false;
    throw e;
  }
  try {
    await f(agent);
  } finally {
    agent.close();
  }
  return true;
}

/** Stops the shared agent serving `podKey`; no agent running, or the pod not served, is fine. */
async function stopDhcp(paths: StatePaths, podKey: string): Promise<void> {
  await withRunningAgent(paths, async (agent) => {
    try {
      await agent.stop(podKey);
    } catch (e) {
      if (!(e instanceof AgentError && e.code === AgentErrorCode.NotServed)) throw e;
    }
  });
}

/** Shuts the state directory's agent down, when one runs (`vmnet lab destroy`: no process is left behind). */
export async function stopAgent(paths: StatePaths): Promise<void> {
  if (!(await withRunningAgent(paths, (agent) => agent.shutdown()))) return;
  // Every pod is gone with the lab, so the agent's record of served pods and its log go too.
  const files = agentPaths(paths.root);
  await rm(files.record, { force: true });
  await rm(files.log, { force: true });
}

/**
 * The accelerator for `requested`: TCG when asked; otherwise KVM only when the probe (cached per host boot) booted a
 * guest with it. Asking for KVM where the probe says it does not boot is an error rather than a hung guest.
 */
export async function chooseAccel(requested: Accel | "auto", probe: () => Promise<Accel>): Promise<Accel> {
  if (requested === Accel.Tcg) return Accel.Tcg;
  const probed = await probe();
  if (requested === Accel.Kvm && probed !== Accel.Kvm) {
    throw new VmError('Cannot use "--accel kvm": the KVM probe did not boot a guest on this host (use tcg or auto)');
  }
  return probed;
}

/**
 * The console lines that say the guest is up: its ready marker, then a DHCPv4 lease on every NIC vmnet serves DHCPv4
 * on and a DHCPv6 lease on every NIC it serves DHCPv6 on, except NICs whose link starts down (`state: down`): their
 * guest sees no carrier and cannot lease until `vmnet link ... up`. The guest names NICs eth0, eth1, ... in PCI order,
 * which is the plan's order when no interface asks for a PCI address.
 */
export function bootMarkers(plan: NetworkPlan): string[] {
  const markers = [GUEST_READY_MARKER];
  const ordered = plan.interfaces.every((i) => i.guest.pciAddress === undefined);
  if (!ordered) return markers;
  plan.interfaces.forEach((iface, k) => {
    if (iface.guest.linkState === "down") return;
    if (iface.dhcpv4 !== undefined) markers.push(guestLeaseMarker(`eth${k}`));
    if (iface.dhcpv6 !== undefined) markers.push(`${GUEST_LEASE6_PREFIX}eth${k} `);
  });
  return markers;
}

/** The console line the guest prints for a DHCPv6 lease (src/lab/guest/README.md: `lease6 <if> <ipv6>`). */
export const GUEST_LEASE6_PREFIX = "vmnet-guest: lease6 ";

/** What `down` did not manage to remove. */
export class TeardownIncompleteError extends AggregateError {
  override readonly name = "TeardownIncompleteError";
}

/**
 * Removes VM `name`: DHCP sidecar, QEMU (quit, then signals), the plan's helper processes (passt), the pod network (the runtime's record undone), the pod
 * (CNI DEL, namespace), the VM's directory. Works on whatever a crashed `up` left; returns false when there was nothing.
 */
export async function downVm(paths: StatePaths, name: string): Promise<boolean> {
  const vm = vmPaths(paths, name);
  const exists = await readdir(vm.dir).then(
    () => true,
    () => false,
  );
  if (!exists) return false;
  const lock = await acquireLock(vm.lock, { timeoutMs: 300_000 });
  try {
    await teardown(paths, vm, await readRecord(vm));
    return true;
  } finally {
    await lock.release();
  }
}

async function teardown(paths: StatePaths, vm: VmPaths, record: VmRecord | undefined): Promise<void> {
  const errors: unknown[] = [];
  const attempt = async (f: () => Promise<unknown>) => {
    try {
      await f();
    } catch (e) {
      errors.push(e);
    }
  };
  if (record !== undefined) await attempt(() => stopDhcp(paths, record.podKey));
  await attempt(() => stopQemu(vm));
  // passt outlives QEMU (it waits for the next guest); it is recorded next to the network record.
  if (record !== undefined) await attempt(() => stopProcesses(vm.networkDir, record.podKey));
  const lab = await loadLab(paths).catch(() => undefined);
  if (record !== undefined) {
    const namespaces = await listNetns();
    if (namespaces.includes(record.netns)) {
      await attempt(async () => {
        const state = new FileStateStore(vm.networkDir, record.podKey);
        const saved = await state.load();
        if (saved === undefined) return;
        await undoRecord(saved, podAdapters(record.netns));
        await state.remove();
      });
    }
    if (lab !== undefined) {
      await attempt(async () => {
        const pod = await loadPod(lab.node, record.pod).catch(() => undefined);
        if (pod !== undefined) await deletePod(lab.node, pod);
      });
    }
    // A pod whose record was never written (crash inside CNI ADD) still has its namespace.
    await attempt(async () => {
      if ((await listNetns()).includes(record.netns)) await deleteNetns(record.netns);
    });
  }
  if (errors.length > 0) {
    await attempt(() => writeFile(`${vm.dir}/down-errors.txt`, errors.map(String).join("\n")));
    throw new TeardownIncompleteError(errors, `Cannot fully remove VM "${vm.dir}"; run "vmnet down" again`);
  }
  await rm(vm.dir, { recursive: true, force: true });
}

/** One line of `vmnet list`. */
export interface VmSummary {
  readonly name: string;
  readonly phase: VmPhase | "Stopped";
  readonly podIPs: readonly string[];
  readonly accel?: Accel;
}

/** Every VM of the state directory, by name; a VM whose QEMU is gone shows as Stopped. */
export async function listVms(paths: StatePaths): Promise<VmSummary[]> {
  const names = await readdir(paths.vmsDir).catch(() => [] as string[]);
  const out: VmSummary[] = [];
  for (const name of names.sort()) {
    // Anything that is not a VM name was not made by vmnet.
    if (!isVmName(name)) continue;
    const vm = vmPaths(paths, name);
    const record = await readRecord(vm).catch(() => undefined);
    if (record === undefined) continue;
    const pid = await readPid(vm.qemuPid);
    const running = pid !== undefined && processAlive(pid);
    out.push({
      name,
      phase: record.phase === VmPhase.Running && !running ? "Stopped" : record.phase,
      podIPs: record.podIPs,
      ...(record.accel === undefined ? {} : { accel: record.accel }),
    });
  }
  return out;
}

/** The record of a VM that exists, or a {@link VmError}. */
export async function requireRecord(paths: StatePaths, name: string): Promise<{ vm: VmPaths; record: VmRecord }> {
  const vm = vmPaths(paths, name);
  const record = await readRecord(vm);
  if (record === undefined) throw new VmError(`Cannot find VM "${name}" in "${paths.root}"`);
  return { vm, record };
}

/** Sets interface `iface`'s link up or down in the running QEMU (`set_link`) and records it. */
export async function setVmLink(paths: StatePaths, name: string, iface: string, up: boolean): Promise<void> {
  // Checked before locking: taking the lock of a VM that does not exist would create its directory.
  const { vm } = await requireRecord(paths, name);
  const lock = await acquireLock(vm.lock);
  try {
    const { record } = await requireRecord(paths, name);
    if (!record.nics.some((n) => n.name === iface)) {
      const known = record.nics.map((n) => `"${n.name}"`).join(", ");
      throw new VmError(`Cannot find interface "${iface}" on VM "${name}" (it has ${known || "none"})`);
    }
    const qmp = await QmpClient.connect(vm.qmp, { connectTimeoutMs: 2_000 });
    try {
      await qmp.setLink(qemuNetId(iface), up);
    } finally {
      qmp.close();
    }
    await writeRecord(vm, { ...record, linkStates: { ...record.linkStates, [iface]: up ? "up" : "down" } });
  } finally {
    await lock.release();
  }
}

/** Runs `argv` in the guest through the guest agent; resolves with its exit code and output. */
export async function execInVm(
  paths: StatePaths,
  name: string,
  argv: readonly string[],
  options: { readonly timeoutMs?: number } = {},
): Promise<{ exitCode: number; stdout: Buffer; stderr: Buffer }> {
  const { vm } = await requireRecord(paths, name);
  const [command, ...args] = argv;
  if (command === undefined) throw new TypeError("Cannot run an empty command");
  const agent = await GuestAgent.connect(vm.qga, { connectTimeoutMs: 5_000, commandTimeoutMs: 10_000 });
  try {
    await agent.waitUntilReady({ timeoutMs: 30_000 });
    const r = await agent.exec(command, args, { timeoutMs: options.timeoutMs ?? 60_000 });
    return { exitCode: r.exitCode ?? 128 + (r.signal ?? 1), stdout: r.stdout, stderr: r.stderr };
  } finally {
    agent.close();
  }
}

/**
 * The VM's `status.interfaces` as KubeVirt computes it, from the running QEMU (domain), the guest agent (when it
 * answers within a few seconds) and the pod's network-status.
 */
export async function vmStatus(paths: StatePaths, name: string): Promise<VmiInterfaceStatus[]> {
  const { vm, record } = await requireRecord(paths, name);
  const { plan, model } = await loadPlan(vm.plan);
  const linkStates = new Map(Object.entries(record.linkStates));
  const qmp = await QmpClient.connect(vm.qmp, { connectTimeoutMs: 2_000 });
  let domain: DomainInterfaceStatus[];
  try {
    domain = await queryDomainInterfaces(qmp, record.nics, { linkStates });
  } finally {
    qmp.close();
  }
  let guestAgent: GuestInterface[] | undefined;
  try {
    const agent = await GuestAgent.connect(vm.qga, { connectTimeoutMs: 2_000, commandTimeoutMs: 5_000 });
    try {
      await agent.waitUntilReady({ timeoutMs: 5_000 });
      guestAgent = await agent.networkGetInterfaces();
    } finally {
      agent.close();
    }
  } catch {
    // KubeVirt reports without the guest agent's part when it is not connected.
  }
  const networkStatus =
    record.networkStatus === undefined ? undefined : (JSON.parse(record.networkStatus) as NetworkStatusEntry[]);
  const previous = await readFile(vm.status, "utf8").then(
    (text) => JSON.parse(text) as VmiInterfaceStatus[],
    () => undefined,
  );
  const statuses = interfaceStatuses({
    model,
    plan,
    domain,
    ...(guestAgent === undefined ? {} : { guestAgent }),
    ...(networkStatus === undefined ? {} : { networkStatus }),
    ...(previous === undefined ? {} : { previous }),
    ...(record.podIPs[0] === undefined ? {} : { podIP: record.podIPs[0] }),
  });
  // KubeVirt computes each status from the last one (e.g. keeping what only the guest agent reported).
  const tmp = `${vm.status}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(statuses)}\n`, { mode: 0o600 });
  await rename(tmp, vm.status);
  return statuses;
}
