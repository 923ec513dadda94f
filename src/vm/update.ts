/**
 * `vmnet update`: a new spec for a VM that runs, applied the way KubeVirt applies a VM template change to its running
 * VMI (reference §8.1, §8.2): a new bridge interface on a secondary Multus network is hot-plugged (Multus attaches the
 * network, the pod side is planned and applied on top of what is applied, DHCP is served for it, QEMU gets the NIC in
 * a spare root port), `state: absent` hot-unplugs one (QEMU first, then its pod side and the Multus attachment),
 * `state: up/down` sets the link. Everything else KubeVirt marks RestartRequired, and vmnet refuses it.
 *
 * The running VM's model keeps an unplugged interface as `absent` (KubeVirt's VMI keeps it until it left status): the
 * planner numbers interfaces by position (the bridge's `169.254.75.1<idx>`), so dropping it would re-plan every
 * interface after it. For the same reason new interfaces go after the running ones, as KubeVirt appends them to the
 * VMI, whatever their place in the new spec.
 */

import { ensureAgent } from "../agent/client.ts";
import type { InterfaceSpec, NetworkSpec, VmNetworkModel } from "../api/model.ts";
import { processAlive, readPid } from "../host/process.ts";
import { probeQemuDevices } from "../hypervisor/nic-models.ts";
import { type QemuNic, qemuNetId, qemuNicOfInterface } from "../hypervisor/qemu-argv.ts";
import { flattenPci, hotplugNic, QmpClient, unplugNic } from "../hypervisor/qmp.ts";
import type { LabPod } from "../lab/pod.ts";
import { attachNetwork, detachNetwork, loadPod } from "../lab/pod.ts";
import { type InterfacePlan, type NetworkPlan, planPod } from "../plan/plan.ts";
import { applyPlan, podNetworkOf, probePlaceholderKind } from "../runtime/apply.ts";
import { discoverPod } from "../runtime/discover.ts";
import { FileStateStore } from "../runtime/state.ts";
import { podAdapters } from "../runtime/wire.ts";
import { VmError } from "./errors.ts";
import { loadLab } from "./lab.ts";
import { requireRecord, VmPhase, type VmRecord, writeRecord } from "./lifecycle.ts";
import { acquireLock } from "./lock.ts";
import type { StatePaths } from "./paths.ts";
import { loadPlan, savePlan } from "./plan-file.ts";
import { QEMU } from "./qemu.ts";
import { podAttachments, type VmSpec } from "./spec.ts";

/** Kinds of {@link UpdateStep}. */
export const UpdateStepKind = { Link: "link", Unplug: "unplug", Plug: "plug" } as const;
export type UpdateStepKind = (typeof UpdateStepKind)[keyof typeof UpdateStepKind];

/** One change a running VM takes, in the order {@link diffUpdate} lists them: links, unplugs, plugs. */
export type UpdateStep =
  | { readonly kind: "link"; readonly iface: string; readonly state: "up" | "down" }
  | { readonly kind: "unplug"; readonly iface: string; readonly network: NetworkSpec }
  | { readonly kind: "plug"; readonly iface: string; readonly network: NetworkSpec };

/** What a new spec changes on a running VM. */
export interface UpdateDiff {
  readonly steps: readonly UpdateStep[];
  /** The running VM's model once the steps are done (unplugged interfaces kept as `absent`, new ones last). */
  readonly model: VmNetworkModel;
}

/** The new spec changes what only a restart applies (KubeVirt's RestartRequired); `fields` names each change. */
export class RestartRequiredError extends VmError {
  readonly fields: readonly string[];

  constructor(vm: string, fields: readonly string[]) {
    super(
      `Cannot update VM "${vm}" while it runs: ${fields.join("; ")} ${fields.length === 1 ? "needs" : "need"} a restart ` +
        `(KubeVirt marks the VM RestartRequired); run "vmnet down ${vm}" and "vmnet up" with the new spec`,
    );
    this.fields = fields;
  }
}

/** The interface fields compared between the running and the new spec; `state` is the one that may change. */
const INTERFACE_FIELDS = [
  "binding",
  "model",
  "macAddress",
  "ports",
  "portRanges",
  "pciAddress",
  "bootOrder",
  "dhcpOptions",
  "tag",
  "acpiIndex",
] as const satisfies readonly (keyof InterfaceSpec)[];

/** VM-wide fields that change the guest's devices or the plan of every interface. */
const VM_FIELDS = [
  "dialect",
  "multiqueue",
  "vcpus",
  "hostname",
  "subdomain",
  "useVirtioTransitional",
] as const satisfies readonly (keyof VmNetworkModel)[];

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Why an interface cannot be hot-plugged (reference §8.2: bridge on a secondary Multus network only), if it cannot. */
function hotplugRefusal(
  model: VmNetworkModel,
  iface: InterfaceSpec,
  network: NetworkSpec | undefined,
): string | undefined {
  const what = `Cannot hot-plug interface "${iface.name}"`;
  if (network === undefined) return `${what}: it has no network of that name`;
  if (network.source.kind === "pod") return undefined; // a restart, reported with the other fields
  if (network.source.default) return undefined;
  if (model.dialect !== "kubevirt") return `${what}: Virtink VMs take no NIC hotplug; restart the VM`;
  if (iface.binding.kind === "sriov") {
    return `${what}: an SR-IOV NIC needs a new pod (KubeVirt migrates the VM for it); restart the VM`;
  }
  if (iface.binding.kind !== "bridge") {
    const binding = iface.binding.kind === "plugin" ? iface.binding.name : iface.binding.kind;
    return `${what}: only bridge interfaces on secondary Multus networks can be hot-plugged, not binding "${binding}"`;
  }
  return undefined;
}

/**
 * The steps that take the running VM (`running`, its link states as last set in `linkStates`) to `next`, as KubeVirt
 * decides them (reference §8.1 IsRestartRequired, §8.2): pure. Throws {@link RestartRequiredError} listing every
 * change that needs a restart, or a {@link VmError} for an interface that cannot be hot-plugged.
 */
export function diffUpdate(
  running: VmNetworkModel,
  next: VmNetworkModel,
  linkStates: Readonly<Record<string, "up" | "down">> = {},
): UpdateDiff {
  if (running.name !== next.name || running.namespace !== next.namespace) {
    throw new VmError(
      `Cannot update VM "${running.namespace}/${running.name}" with the spec of "${next.namespace}/${next.name}"`,
    );
  }
  const restart: string[] = [];
  for (const f of VM_FIELDS) if (!same(running[f], next[f])) restart.push(f);
  const links: UpdateStep[] = [];
  const unplugs: UpdateStep[] = [];
  const plugs: UpdateStep[] = [];
  const refusals: string[] = [];
  const interfaces: InterfaceSpec[] = [];
  const networks: NetworkSpec[] = [];
  const runningNetwork = (name: string) => running.networks.find((n) => n.name === name);
  const nextNetwork = (name: string) => next.networks.find((n) => n.name === name);
  const plug = (iface: InterfaceSpec) => {
    const network = nextNetwork(iface.name);
    const refusal = hotplugRefusal(next, iface, network);
    if (refusal !== undefined) refusals.push(refusal);
    else if (network !== undefined && (network.source.kind === "pod" || network.source.default)) {
      restart.push(
        `interface "${iface.name}" added on the ${network.source.kind === "pod" ? "pod" : "default"} network`,
      );
    } else if (network !== undefined) plugs.push({ kind: "plug", iface: iface.name, network });
    interfaces.push(iface);
    if (network !== undefined) networks.push(network);
  };
  for (const r of running.interfaces) {
    const n = next.interfaces.find((i) => i.name === r.name);
    const rNet = runningNetwork(r.name);
    const current = r.state === "absent" ? "absent" : (linkStates[r.name] ?? r.state);
    if (current === "absent") {
      // Gone from the guest and the pod: the new spec may leave it out, keep it absent, or plug it again.
      if (n === undefined || n.state === "absent") {
        interfaces.push(r);
        if (rNet !== undefined) networks.push(rNet);
      } else plug(n);
      continue;
    }
    if (n === undefined) {
      restart.push(`interface "${r.name}" removed (set its state to absent to unplug it)`);
      continue;
    }
    const changed = INTERFACE_FIELDS.filter((f) => !same(r[f], n[f]));
    if (changed.length > 0) restart.push(`interface "${r.name}" ${changed.join(", ")}`);
    const nNet = nextNetwork(r.name);
    if (!same(rNet, nNet)) restart.push(`network "${r.name}" ${nNet === undefined ? "removed" : "source"}`);
    if (n.state === "absent") {
      if (rNet !== undefined) unplugs.push({ kind: "unplug", iface: r.name, network: rNet });
    } else if (n.state !== current) {
      links.push({ kind: "link", iface: r.name, state: n.state });
    }
    interfaces.push({ ...r, state: n.state });
    if (rNet !== undefined) networks.push(rNet);
  }
  for (const n of next.interfaces) {
    if (running.interfaces.some((r) => r.name === n.name)) continue;
    // KubeVirt copies a new interface to the VMI only when it is not absent.
    if (n.state === "absent") continue;
    plug(n);
  }
  if (restart.length > 0) throw new RestartRequiredError(running.name, restart);
  if (refusals.length > 0) throw new VmError(refusals.join("; "));
  return { steps: [...links, ...unplugs, ...plugs], model: { ...running, interfaces, networks } };
}

/** Options of {@link updateVm}. */
export interface UpdateOptions {
  /** Reports each step as it finishes. */
  readonly progress?: (line: string) => void;
  /** How long the guest may take to release an unplugged NIC (`DEVICE_DELETED`). Default 60 s. */
  readonly unplugTimeoutMs?: number;
}

/** What {@link updateVm} did. */
export interface UpdateResult {
  readonly record: VmRecord;
  readonly steps: readonly UpdateStep[];
}

/** The free hot-plug ports of the running QEMU: empty root ports (`pci.<n>`), as KubeVirt leaves them (§7.6). */
async function freeHotplugBuses(qmp: QmpClient): Promise<string[]> {
  return flattenPci(await qmp.queryPci())
    .filter((d) => /^pci\.\d+$/.test(d.qdevId) && d.description === "PCI bridge" && d.bridgeDevices.length === 0)
    .map((d) => d.qdevId);
}

/** An interface plan as applying compares it: the guest's link state is QEMU's, not the pod's. */
function podSide(i: InterfacePlan): string {
  return JSON.stringify({ ...i, guest: { ...i.guest, linkState: undefined } });
}

/**
 * Applies `spec` to the running VM `spec.model.name` under its lock, one progress line per step; any failure undoes
 * what this update did, in reverse, and is rethrown. Returns the new record and the steps done (none when the spec
 * changes nothing).
 */
export async function updateVm(paths: StatePaths, spec: VmSpec, options: UpdateOptions = {}): Promise<UpdateResult> {
  const progress = options.progress ?? (() => {});
  const name = spec.model.name;
  // Checked before locking: taking the lock of a VM that does not exist would create its directory.
  const { vm } = await requireRecord(paths, name);
  const lock = await acquireLock(vm.lock);
  try {
    // Read again under the lock: a down or update may have changed it meanwhile.
    let { record } = await requireRecord(paths, name);
    const pid = await readPid(vm.qemuPid);
    if (record.phase !== VmPhase.Running || pid === undefined || !processAlive(pid)) {
      throw new VmError(`Cannot update VM "${name}": it is not running (phase ${record.phase})`);
    }
    const { netns, podKey, pod: podName } = record;
    const { plan: runningPlan, model: runningModel } = await loadPlan(vm.plan);
    const diff = diffUpdate(runningModel, spec.model, record.linkStates);
    if (diff.steps.length === 0) {
      progress("nothing to change");
      return { record, steps: [] };
    }
    const undo: { what: string; run: () => Promise<unknown> }[] = [];
    const qmp = await QmpClient.connect(vm.qmp, { connectTimeoutMs: 2_000, commandTimeoutMs: 30_000 });
    try {
      const linkStates: Record<string, "up" | "down"> = { ...record.linkStates };
      let nics: QemuNic[] = [...record.nics];
      let plan: NetworkPlan = runningPlan;
      let networkStatus = record.networkStatus;
      for (const step of diff.steps) {
        if (step.kind !== "link") continue;
        const before = linkStates[step.iface] ?? nics.find((n) => n.name === step.iface)?.linkState ?? "up";
        await qmp.setLink(qemuNetId(step.iface), step.state === "up");
        undo.push({ what: `link of "${step.iface}"`, run: () => qmp.setLink(qemuNetId(step.iface), before === "up") });
        linkStates[step.iface] = step.state;
        progress(`link: "${step.iface}" ${step.state}`);
      }
      const unplugs = diff.steps.filter((s) => s.kind === "unplug");
      const plugs = diff.steps.filter((s) => s.kind === "plug");
      if (unplugs.length + plugs.length === 0) {
        // Only link states: the pod side stays as it is; the saved plan says what QEMU now has.
        plan = {
          ...runningPlan,
          interfaces: runningPlan.interfaces.map((i) => {
            const s = linkStates[i.name];
            return s === undefined ? i : { ...i, guest: { ...i.guest, linkState: s } };
          }),
        };
      } else {
        const lab = await loadLab(paths);
        if (lab === undefined) throw new VmError(`Cannot update VM "${name}": its lab is gone`);
        const node = lab.node;
        const vcpus = spec.model.vcpus;
        for (const step of unplugs) {
          const nic = nics.find((n) => n.name === step.iface);
          if (nic === undefined) throw new VmError(`Cannot unplug interface "${step.iface}": QEMU does not have it`);
          await unplugNic(qmp, nic, { timeoutMs: options.unplugTimeoutMs ?? 60_000 });
          nics = nics.filter((n) => n !== nic);
          undo.push({
            what: `unplug of "${step.iface}"`,
            run: async () => hotplugNic(qmp, nic, { vcpus, ...busOf(await freeHotplugBuses(qmp)) }),
          });
          progress(`qemu: unplugged "${step.iface}" (guest released it)`);
        }
        const requests = podAttachments(spec).secondaries;
        let pod: LabPod = await loadPod(node, podName);
        for (const step of plugs) {
          const request = requests.find((r) => r.networkName === step.network.name);
          if (request === undefined) throw new VmError(`Cannot find the Multus network of interface "${step.iface}"`);
          pod = await attachNetwork(node, pod, request);
          undo.push({
            what: `attachment of "${step.iface}"`,
            run: async () => detachNetwork(node, await loadPod(node, podName), step.network.name),
          });
          const attached = pod.attachments.find((a) => a.networkName === step.network.name);
          progress(`pod: attached "${attached?.statusName}" as "${attached?.ifname}"`);
        }
        networkStatus = pod.networkStatus;

        const adapters = podAdapters(netns);
        const state = new FileStateStore(vm.networkDir, podKey);
        const placeholder = await probePlaceholderKind(adapters.netlink);
        const guestMacs = Object.fromEntries(runningPlan.interfaces.map((i) => [i.name, i.guest.mac]));
        const podIP = record.podIPs[0];
        const podDir = pod.dir;
        const planAndApply = async (model: VmNetworkModel) => {
          const recorded = await state.load();
          const { facts, kernel } = await discoverPod(netns, {
            netlink: adapters.netlink,
            nft: adapters.nft,
            podDir,
            ...(podIP === undefined ? {} : { podIP }),
            ...(recorded === undefined ? {} : { state: recorded }),
          });
          const planned = planPod(model, { config: spec.config, pod: facts, nads: spec.planNads, guestMacs });
          for (const i of planned.interfaces) {
            const before = runningPlan.interfaces.find((r) => r.name === i.name);
            if (before !== undefined && podSide(before) !== podSide(i)) {
              throw new VmError(`Cannot update VM "${name}": planning again changes running interface "${i.name}"`);
            }
          }
          await applyPlan(planned, { ...adapters, netns: netns, state, placeholder, discovered: kernel });
          return planned;
        };
        plan = await planAndApply(diff.model);
        undo.push({ what: "pod network", run: () => planAndApply(runningModel) });
        const changed = [...plugs, ...unplugs].map((s) => `${s.iface} (${s.kind === "plug" ? "added" : "removed"})`);
        progress(`plan applied: ${changed.join(", ")}`);

        const before = podNetworkOf(runningPlan, netns).services;
        const after = podNetworkOf(plan, netns).services;
        if (!same(before, after)) {
          const serve = async (services: typeof after, previous: typeof after) => {
            const agent = await ensureAgent({ stateDir: paths.root });
            try {
              if (services.length === 0) await agent.stop(podKey);
              else if (previous.length === 0) await agent.start(podKey, netns, services);
              else await agent.reconfigure(podKey, services);
            } finally {
              agent.close();
            }
          };
          await serve(after, before);
          undo.push({ what: "DHCP", run: () => serve(before, after) });
          progress(
            `dhcp: ${after.length === 0 ? "nothing to serve" : `serving ${after.map((s) => s.name).join(", ")}`}`,
          );
        }

        const available = await probeQemuDevices(QEMU);
        for (const step of plugs) {
          const iface = plan.interfaces.find((i) => i.name === step.iface);
          if (iface === undefined) throw new VmError(`Cannot hot-plug interface "${step.iface}": the plan has no NIC`);
          const nic = qemuNicOfInterface(iface);
          const buses = await freeHotplugBuses(qmp);
          if (buses.length === 0) {
            throw new VmError(
              `Cannot hot-plug interface "${step.iface}": no free PCIe root port left (KubeVirt leaves 4 minus the interfaces at start)`,
            );
          }
          await hotplugNic(qmp, nic, { vcpus, available, ...busOf(buses) });
          nics = [...nics, nic];
          undo.push({ what: `NIC "${step.iface}"`, run: () => unplugNic(qmp, nic, { timeoutMs: 30_000 }) });
          progress(`qemu: plugged "${step.iface}" (${nic.model}, ${nic.mac ?? "no MAC"}) into "${buses[0]}"`);
        }

        for (const step of unplugs) {
          const request = { nad: nadOfAttachment(pod, step.network.name), networkName: step.network.name };
          pod = await detachNetwork(node, pod, step.network.name);
          undo.push({
            what: `detach of "${step.iface}"`,
            run: async () => attachNetwork(node, await loadPod(node, podName), request),
          });
          progress(`pod: detached network "${step.network.name}"`);
        }
        networkStatus = pod.networkStatus;
      }

      const unplugged = new Set(unplugs.map((s) => s.iface));
      for (const n of unplugged) delete linkStates[n];
      record = {
        ...record,
        nics,
        linkStates,
        ...(networkStatus === undefined ? {} : { networkStatus }),
      };
      await savePlan(vm.plan, plan, diff.model);
      await writeRecord(vm, record);
      return { record, steps: diff.steps };
    } catch (e) {
      const failures: string[] = [];
      for (const u of undo.reverse()) {
        try {
          await u.run();
        } catch (x) {
          failures.push(`${u.what}: ${x instanceof Error ? x.message : String(x)}`);
        }
      }
      const why = e instanceof Error ? e.message : String(e);
      progress(failures.length === 0 ? `failed: ${why}; rolled back` : `failed: ${why}; rolling back failed too`);
      if (failures.length === 0) throw e;
      throw new VmError(`${why}; rolling back failed too: ${failures.join("; ")} (run "vmnet down ${name}")`, {
        cause: e,
      });
    } finally {
      qmp.close();
    }
  } finally {
    await lock.release();
  }
}

function busOf(buses: readonly string[]): { bus?: string } {
  const bus = buses[0];
  return bus === undefined ? {} : { bus };
}

/** The NAD an attachment of the pod came from, to attach it again when a rollback needs it. */
function nadOfAttachment(pod: LabPod, networkName: string): { name: string; namespace: string; config: unknown } {
  const a = pod.attachments.find((x) => x.networkName === networkName);
  if (a === undefined) throw new VmError(`Cannot detach network "${networkName}": the pod does not have it`);
  const [namespace = pod.namespace, name = a.statusName] = a.statusName.split("/");
  return { name, namespace, config: a.config };
}
