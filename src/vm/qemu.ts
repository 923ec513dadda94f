/**
 * One VM's QEMU, the way `vmnet up` runs it: inside the pod's network namespace (it opens the planned taps by name),
 * detached in its own process group, paused with `-S` until the plan's post-start QMP actions (`set_link` for NICs
 * planned down) ran, then `cont`. Its pidfile, QMP and guest-agent sockets and serial log are in the VM's directory.
 */
import { readFile, rm, writeFile } from "node:fs/promises";
import { processAlive, readPid, spawnDetached, tail, terminate } from "../host/process.ts";
import { type Accel, accelArgs } from "../hypervisor/accel.ts";
import { probeQemuDevices } from "../hypervisor/nic-models.ts";
import { kubevirtSpareRootPorts, type QemuNic, qemuNicsOf, renderQemuNet } from "../hypervisor/qemu-argv.ts";
import { qemuGuestAgentArgs } from "../hypervisor/qga.ts";
import { QmpClient } from "../hypervisor/qmp.ts";
import { type GuestImage, guestCommandLine } from "../lab/guest-image.ts";
import { type NetworkPlan, passthroughByKind } from "../plan/plan.ts";
import { sriovQemuArgs } from "../plan/sriov.ts";
import { vdpaQemuArgs } from "../plan/vdpa.ts";
import { closeFds, openMacvtapQueues } from "./macvtap-device.ts";
import type { VmPaths } from "./paths.ts";

/** The QEMU binary. */
export const QEMU = "qemu-system-x86_64";

/** What {@link startQemu} needs. */
export interface QemuLaunch {
  readonly name: string;
  readonly netns: string;
  readonly paths: VmPaths;
  readonly image: GuestImage;
  readonly accel: Accel;
  readonly plan: NetworkPlan;
  readonly vcpus?: number;
  readonly memoryMiB?: number;
}

/**
 * The full QEMU argv (without the `ip netns exec` prefix), the QMP actions to run before `cont` and the NICs as
 * rendered. `childFds` are the fds, as QEMU will number them, of each macvtap-backed interface by name. Spare root
 * ports are added as KubeVirt adds them, so NICs can be hot-plugged later.
 */
export async function qemuCommand(
  launch: QemuLaunch,
  childFds: Readonly<Record<string, readonly number[]>> = {},
): Promise<{
  readonly argv: string[];
  readonly postStart: readonly { readonly execute: string; readonly arguments: Readonly<Record<string, unknown>> }[];
  readonly nics: readonly QemuNic[];
}> {
  const vcpus = launch.vcpus ?? 1;
  const passthrough = passthroughByKind(launch.plan);
  const vhostUser = passthrough.vhostUser[0];
  if (vhostUser !== undefined) {
    throw new Error(
      `Cannot boot interface "${vhostUser.name}" under QEMU: vhost-user interfaces are Virtink's, run by Cloud Hypervisor`,
    );
  }
  const nics = qemuNicsOf(launch.plan, childFds);
  const net = renderQemuNet(nics, {
    vcpus,
    available: await probeQemuDevices(QEMU),
    spareRootPorts: kubevirtSpareRootPorts(nics.length),
  });
  const p = launch.paths;
  const argv = [
    QEMU,
    ...qemuMachineArgs({ ...launch, vcpus, serial: p.serial }),
    "-qmp",
    `unix:${p.qmp},server=on,wait=off`,
    "-pidfile",
    p.qemuPid,
    ...net.argv,
    // SR-IOV VFs as vfio-pci and vDPA devices: only those the plan found attached (network-status device-info).
    ...sriovQemuArgs(passthrough.sriov),
    ...vdpaQemuArgs(passthrough.vdpa),
    ...qemuGuestAgentArgs(p.qga),
    "-S",
  ];
  return { argv, postStart: net.postStart, nics };
}

/**
 * The machine every vmnet guest boots on, without devices: q35, accelerator, memory (256 MiB unless given) and CPUs,
 * the serial console logged to `serial`, the lab's kernel and initrd. The bare boot of bench/up.ts runs the same, so
 * its baseline is this guest with vmnet's part taken away.
 */
export function qemuMachineArgs(
  machine: Pick<QemuLaunch, "name" | "image" | "accel" | "vcpus" | "memoryMiB"> & { readonly serial: string },
): string[] {
  return [
    "-name",
    machine.name,
    "-machine",
    "q35",
    ...accelArgs(machine.accel),
    "-m",
    String(machine.memoryMiB ?? 256),
    "-smp",
    String(machine.vcpus ?? 1),
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    "-no-reboot",
    "-serial",
    `file:${machine.serial}`,
    "-kernel",
    machine.image.kernel,
    "-initrd",
    machine.image.initrd,
    "-append",
    guestCommandLine({ hostname: machine.name }),
  ];
}

/**
 * QEMU runs without CAP_NET_RAW, as KubeVirt's virt-launcher runs it: it opens taps by name (CAP_NET_ADMIN) and gets
 * macvtap fds, but needs no raw sockets, and with them libslirp would answer the guest's ICMP through a raw socket
 * where slirp offers no ICMP (the seeds). `setpriv` drops it from the bounding set, so the exec'd QEMU never has it.
 */
export const WITHOUT_NET_RAW = ["setpriv", "--bounding-set", "-net_raw"] as const;

/** A started QEMU: its pid and the NICs as it has them. */
export interface StartedQemu {
  readonly pid: number;
  readonly nics: readonly QemuNic[];
}

/**
 * Opens every macvtap-backed interface's character device (one fd per queue), numbered as QEMU will inherit them
 * (3, 4, … in plan order). The caller closes `fds` once QEMU has them.
 */
async function openMacvtaps(
  launch: QemuLaunch,
): Promise<{ fds: number[]; childFds: Record<string, readonly number[]> }> {
  const fds: number[] = [];
  const childFds: Record<string, readonly number[]> = {};
  try {
    for (const iface of launch.plan.interfaces) {
      const b = iface.guest.backend;
      if (b?.kind !== "macvtap") continue;
      const opened = await openMacvtapQueues(launch.netns, b.link.value, b.queues, launch.paths.dir);
      childFds[iface.name] = opened.map((_, k) => 3 + fds.length + k);
      fds.push(...opened);
    }
    return { fds, childFds };
  } catch (e) {
    closeFds(fds);
    throw e;
  }
}

/**
 * Starts the VM's QEMU and lets the guest run. On failure QEMU is killed again. The pid is written before QEMU starts
 * its own pidfile, so a `down` after a crash here still finds it.
 */
export async function startQemu(launch: QemuLaunch): Promise<StartedQemu> {
  const p = launch.paths;
  for (const f of [p.qmp, p.qga, p.serial, p.qemuPid]) await rm(f, { force: true });
  const macvtaps = await openMacvtaps(launch);
  let child: Awaited<ReturnType<typeof spawnDetached>>;
  let command: Awaited<ReturnType<typeof qemuCommand>>;
  try {
    command = await qemuCommand(launch, macvtaps.childFds);
    // `ip netns exec` and setpriv exec QEMU in place, so the child's pid is QEMU's (and it keeps the inherited fds).
    child = await spawnDetached(
      ["ip", "netns", "exec", launch.netns, ...WITHOUT_NET_RAW, ...command.argv],
      p.qemuLog,
      macvtaps.fds,
    );
  } finally {
    closeFds(macvtaps.fds);
  }
  const { postStart, nics } = command;
  const pid = child.pid;
  if (pid === undefined) throw new Error("Cannot start QEMU: no pid");
  await writeFile(p.qemuPid, `${pid}\n`);
  try {
    const qmp = await QmpClient.connect(p.qmp, { connectTimeoutMs: 30_000, commandTimeoutMs: 30_000 });
    try {
      for (const action of postStart) await qmp.execute(action.execute, action.arguments);
      await qmp.execute("cont");
    } finally {
      qmp.close();
    }
    return { pid, nics };
  } catch (e) {
    await terminate(pid, 1_000);
    const log = await tail(p.qemuLog);
    throw new Error(`Cannot start QEMU: ${e instanceof Error ? e.message : String(e)} (log: ${log})`, { cause: e });
  }
}

/** Stops the VM's QEMU: QMP `quit` when it answers, else SIGTERM then SIGKILL by pidfile. Gone already is fine. */
export async function stopQemu(paths: VmPaths): Promise<void> {
  const pid = await readPid(paths.qemuPid);
  if (pid !== undefined && processAlive(pid)) {
    try {
      const qmp = await QmpClient.connect(paths.qmp, { connectTimeoutMs: 1_000, commandTimeoutMs: 3_000 });
      try {
        await qmp.quit({ timeoutMs: 3_000 });
      } finally {
        qmp.close();
      }
    } catch {
      // QMP gone or stuck: the signals below end it.
    }
    await terminate(pid, 2_000);
  }
  for (const f of [paths.qmp, paths.qga, paths.qemuPid]) await rm(f, { force: true });
}

/**
 * Waits until the serial log holds every marker of `markers`; rejects when QEMU `pid` dies first or after
 * `timeoutMs`. `onMarker` hears each marker as it is first seen.
 */
export async function waitForConsole(
  paths: VmPaths,
  pid: number,
  markers: readonly string[],
  options: {
    readonly timeoutMs: number;
    readonly onMarker?: (marker: string, line: string) => void;
    readonly signal?: AbortSignal;
  },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  const seen = new Set<string>();
  for (;;) {
    const text = await readFile(paths.serial, "latin1").catch(() => "");
    for (const m of markers) {
      if (seen.has(m)) continue;
      const at = text.indexOf(m);
      if (at < 0) continue;
      seen.add(m);
      const end = text.indexOf("\n", at);
      options.onMarker?.(m, text.slice(at, end < 0 ? undefined : end).trim());
    }
    if (seen.size === markers.length) return;
    options.signal?.throwIfAborted();
    if (!processAlive(pid)) {
      throw new Error(
        `QEMU exited before the guest printed "${markers.find((m) => !seen.has(m))}": ${await tail(paths.qemuLog)}`,
      );
    }
    if (Date.now() >= deadline) {
      throw new Error(
        `Timed out after ${options.timeoutMs} ms waiting for "${markers.find((m) => !seen.has(m))}" on the console of "${paths.serial}"`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
