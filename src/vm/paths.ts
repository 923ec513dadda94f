/**
 * The state directory of `vmnet up` and friends: every command is its own process, so everything a later command
 * needs (the lab, each VM's record, its QEMU's pidfile and sockets, serial log) lives in files here.
 *
 * Layout: `<state>/lab.json` and `<state>/lab/` (the node's CNI state), `<state>/vms/<name>/` per VM, and the shared
 * DHCP/RA agent's `agent.*` files (src/agent/paths.ts).
 */
import { createHash } from "node:crypto";
import { join, resolve } from "node:path";

/** IP families of the lab's pod network (`--ip-family`). */
export const IpFamily = { Ipv4: "ipv4", Ipv6: "ipv6", Dual: "dual" } as const;
export type IpFamily = (typeof IpFamily)[keyof typeof IpFamily];

/** Where state lives unless `--state-dir` or `VMNET_STATE_DIR` says otherwise. */
export const DEFAULT_STATE_DIR = "/run/vmnet";

/** The state directory: the flag, else `VMNET_STATE_DIR`, else {@link DEFAULT_STATE_DIR}, made absolute. */
export function stateDirOf(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const dir =
    flag ?? (env.VMNET_STATE_DIR === undefined || env.VMNET_STATE_DIR === "" ? undefined : env.VMNET_STATE_DIR);
  return resolve(dir ?? DEFAULT_STATE_DIR);
}

/** The files of one state directory. */
export interface StatePaths {
  readonly root: string;
  readonly labRecord: string;
  readonly labLock: string;
  /** The node's own state (host-local IPAM, CNI cache, pods). */
  readonly labDir: string;
  readonly vmsDir: string;
  /**
   * The lab node's namespace name: `vmnt-` plus a hash of the state directory, so labs of different state
   * directories never collide and a second process finds the same node.
   */
  readonly nodeName: string;
}

/** The layout under `root`. */
export function statePaths(root: string): StatePaths {
  const hash = createHash("sha256").update(root).digest("hex").slice(0, 8);
  return {
    root,
    labRecord: join(root, "lab.json"),
    labLock: join(root, "lab.lock"),
    labDir: join(root, "lab"),
    vmsDir: join(root, "vms"),
    nodeName: `vmnt-${hash}`,
  };
}

/** The files of one VM. */
export interface VmPaths {
  readonly dir: string;
  readonly record: string;
  /** The network plan and model (plan-file.ts). */
  readonly plan: string;
  /** The last `status.interfaces` reported, KubeVirt's "previous" status for the next report. */
  readonly status: string;
  readonly lock: string;
  readonly qemuPid: string;
  readonly qmp: string;
  readonly qga: string;
  readonly serial: string;
  readonly qemuLog: string;
  /** The runtime's pod network record (wirePod's `stateDir`). */
  readonly networkDir: string;
}

const VM_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Whether `name` is a DNS label, as {@link assertVmName} requires. */
export function isVmName(name: string): boolean {
  return VM_NAME.test(name);
}

/** Throws RangeError unless `name` is a DNS label (what KubeVirt requires of a VMI name, and the guest hostname). */
export function assertVmName(name: string): void {
  if (!VM_NAME.test(name)) {
    throw new RangeError(`Cannot use VM name "${name}": it must be a DNS label (lowercase letters, digits, "-")`);
  }
}

/** The layout of VM `name` under `paths`. */
export function vmPaths(paths: StatePaths, name: string): VmPaths {
  assertVmName(name);
  const dir = join(paths.vmsDir, name);
  return {
    dir,
    record: join(dir, "vm.json"),
    plan: join(dir, "plan.json"),
    status: join(dir, "status.json"),
    lock: join(dir, "lock"),
    qemuPid: join(dir, "qemu.pid"),
    qmp: join(dir, "qmp.sock"),
    qga: join(dir, "qga.sock"),
    serial: join(dir, "serial.log"),
    qemuLog: join(dir, "qemu.log"),
    networkDir: join(dir, "network"),
  };
}

/** The lab pod that runs VM `name` (KubeVirt names it `virt-launcher-<vmi>-<random>`; one VM, one pod here). */
export function launcherPodName(name: string): string {
  return `virt-launcher-${name}`;
}
