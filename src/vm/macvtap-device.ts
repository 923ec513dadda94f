/**
 * Opening a macvtap's character device for QEMU. The kernel names it `tap<ifindex>` after the ifindex the link had
 * when it was made, in the namespace it was made in, so after a move into the pod the name cannot be derived from the
 * pod's ifindex; the pod namespace's sysfs (`/sys/class/net/<link>/macvtap/tap<N>/dev`) gives the device numbers.
 * vmnet makes its own device node from them in the VM's directory: `/dev/tap<N>` exists only where udev runs, and
 * would name another namespace's device when ifindexes collide.
 */
import { execFile } from "node:child_process";
import { closeSync, constants, openSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A macvtap's character device as sysfs names it. */
export interface MacvtapDevice {
  /** `tap<N>`. */
  readonly name: string;
  readonly major: number;
  readonly minor: number;
}

/** Parses `ip netns exec … sh` output lines `tap<N> <major>:<minor>`; undefined when there is no such line. */
export function parseMacvtapDevice(text: string): MacvtapDevice | undefined {
  for (const line of text.split("\n")) {
    const m = /^(tap\d+) (\d+):(\d+)$/u.exec(line.trim());
    if (m?.[1] !== undefined && m[2] !== undefined && m[3] !== undefined) {
      return { name: m[1], major: Number(m[2]), minor: Number(m[3]) };
    }
  }
  return undefined;
}

/** The character device of macvtap `link` in network namespace `netns`; an Error when the link is no macvtap. */
export async function findMacvtapDevice(netns: string, link: string): Promise<MacvtapDevice> {
  if (!/^[A-Za-z0-9_.-]{1,15}$/u.test(link)) throw new TypeError(`Cannot use "${link}" as a link name`);
  // `ip netns exec` mounts the namespace's own sysfs, so /sys/class/net lists the pod's links.
  const script = `for d in /sys/class/net/${link}/macvtap/tap*; do [ -e "$d/dev" ] && echo "\${d##*/} $(cat "$d/dev")"; done; true`;
  const { stdout } = await run("ip", ["netns", "exec", netns, "sh", "-c", script]);
  const device = parseMacvtapDevice(stdout);
  if (device === undefined) {
    throw new Error(`Cannot find the character device of macvtap "${link}" in "${netns}": is it a macvtap link?`);
  }
  return device;
}

/**
 * Opens macvtap `link`'s character device `queues` times (one fd per queue pair; the kernel makes a queue per open)
 * through a device node made at `<dir>/<tapN>` and removed again. The caller passes the fds to QEMU and closes them.
 */
export async function openMacvtapQueues(netns: string, link: string, queues: number, dir: string): Promise<number[]> {
  const device = await findMacvtapDevice(netns, link);
  const node = join(dir, device.name);
  await rm(node, { force: true });
  await run("mknod", ["-m", "0600", node, "c", String(device.major), String(device.minor)]);
  const fds: number[] = [];
  try {
    for (let q = 0; q < Math.max(queues, 1); q++) {
      // A plain fd, not a FileHandle: a FileHandle closes its fd when garbage collected, and QEMU inherits these.
      fds.push(openSync(node, constants.O_RDWR));
    }
    return fds;
  } catch (e) {
    closeFds(fds);
    throw e;
  } finally {
    await rm(node, { force: true });
  }
}

/** Closes fds opened by {@link openMacvtapQueues}; already closed ones are skipped. */
export function closeFds(fds: readonly number[]): void {
  for (const fd of fds) {
    try {
      closeSync(fd);
    } catch {
      // Closed already.
    }
  }
}
