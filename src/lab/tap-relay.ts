/**
 * The lab's way to put a "guest" on a planned tap without a VM: a relay that holds the pod's persistent tap open (as
 * QEMU would) and copies every frame between it and a new tap device inside a guest network namespace, where real
 * DHCP clients, responders and raw senders run. The real tap, its anti-spoofing chain and the bridge stay in the path;
 * the guest-side tap gets the guest MAC the plan chose, so it looks like the VM's NIC.
 *
 * How it works, and why:
 * - A tap is attached by opening /dev/net/tun and TUNSETIFF with its name; the kernel looks the name up in the network
 *   namespace of the thread that OPENED /dev/net/tun. So one `worker_threads` worker (src/host/netns-worker.ts)
 *   enters the pod namespace, opens and attaches the pod's tap, then setns(2)s into the guest namespace and opens a
 *   second /dev/net/tun there, whose TUNSETIFF creates the guest tap (not persistent: it vanishes with the fd).
 * - The worker then runs a synchronous poll(2) loop (100 ms timeout) over both non-blocking fds and copies frames with
 *   read(2)/write(2) through koffi. The thread is the worker's own, so nothing waits on libuv's 4-thread pool (blocking
 *   `fs.read` calls there would starve every other fs call of the process with a few relays).
 * - The main thread stops it through a SharedArrayBuffer flag the loop checks each round; the same buffer carries
 *   frame counters. Closing the fds gives the pod tap back its NO-CARRIER state and deletes the guest tap.
 * This file is both the main-thread API and the worker module (selected by `workerData.kind`).
 */
import { closeSync, constants, openSync } from "node:fs";
import { isMainThread, parentPort, type Worker, workerData } from "node:worker_threads";
import koffi from "koffi";
import { type Executor, hostExecutor } from "../host/exec.ts";
import { type Libc, libc } from "../host/libc.ts";
import { assertInterfaceName } from "../host/netlink.ts";
import { enterNetns, ifIndex, startNetnsWorker } from "../host/netns-worker.ts";

// include/uapi/linux/if_tun.h, asm-generic/ioctl.h, poll.h.
const TUNSETIFF = 0x400454ca;
const IFF_TAP = 0x0002;
const IFF_MULTI_QUEUE = 0x0100;
const IFF_NO_PI = 0x1000;
const IFREQ_SIZE = 40;
const POLLIN = 0x0001;
const EAGAIN = 11;
const MAX_FRAME = 65_536;
const POLL_MS = 100;

const WORKER_KIND = "vmnet-tap-relay";

/** Slots of the shared counter array. */
const Slot = { Stop: 0, ToGuest: 1, FromGuest: 2, Errors: 3 } as const;

interface RelayWorkerData {
  readonly kind: typeof WORKER_KIND;
  readonly podTap: string;
  readonly multiQueue: boolean;
  readonly guestNetns: string;
  readonly guestIfname: string;
  readonly shared: SharedArrayBuffer;
}

type RelayMessage = { readonly ready: true } | { readonly error: string };

/** Options of {@link startTapRelay}. */
export interface TapRelayOptions {
  /** The pod namespace holding the planned (persistent) tap. */
  readonly podNetns: string;
  /** The planned tap, e.g. `tap0` (KubeVirt) or the Virtink tap name. */
  readonly podTap: string;
  /** Whether the tap was created multi-queue (TUNSETIFF must say so too). Default false. */
  readonly multiQueue?: boolean;
  /** The guest namespace; must exist. */
  readonly guestNetns: string;
  /** Name of the guest's NIC inside `guestNetns`. Default `eth0`. */
  readonly guestIfname?: string;
  /** The guest MAC the plan chose (`plan.interfaces[i].guest.mac`). */
  readonly guestMac: string;
  /** Runs `ip` for the guest link's MAC and state. Default: the host executor. */
  readonly executor?: Executor;
  /** How long the worker may take to attach both taps. Default 10 s. */
  readonly timeoutMs?: number;
}

/** Frames copied so far. */
export interface TapRelayStats {
  /** From the pod tap to the guest (what the bridge delivered to the "VM"). */
  readonly toGuest: number;
  /** From the guest into the pod tap (what the "VM" sent). */
  readonly fromGuest: number;
  /** Reads or writes that failed for another reason than "try again". */
  readonly errors: number;
}

/** A running relay. */
export interface TapRelay {
  readonly guestNetns: string;
  readonly guestIfname: string;
  stats(): TapRelayStats;
  /** Stops copying, closes both taps (the guest tap disappears) and ends the worker. Idempotent. */
  close(): Promise<void>;
}

/**
 * Attaches the pod's tap and creates the guest's, with the guest MAC, up, then relays frames until `close()`.
 * Rejects (and cleans up) when either tap cannot be opened.
 */
export async function startTapRelay(options: TapRelayOptions): Promise<TapRelay> {
  const guestIfname = options.guestIfname ?? "eth0";
  assertInterfaceName(options.podTap);
  assertInterfaceName(guestIfname);
  const shared = new SharedArrayBuffer(4 * 4);
  const counters = new Int32Array(shared);
  const data: RelayWorkerData = {
    kind: WORKER_KIND,
    podTap: options.podTap,
    multiQueue: options.multiQueue ?? false,
    guestNetns: options.guestNetns,
    guestIfname,
    shared,
  };
  const worker = startNetnsWorker(options.podNetns, new URL(import.meta.url), data);
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  const stop = async () => {
    Atomics.store(counters, Slot.Stop, 1);
    await exited;
  };
  try {
    await readyOf(worker, options.timeoutMs ?? 10_000, options.podTap);
    const executor = options.executor ?? hostExecutor;
    await executor.run("ip", [
      "-n",
      options.guestNetns,
      "link",
      "set",
      "dev",
      guestIfname,
      "address",
      options.guestMac,
      "up",
    ]);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    guestNetns: options.guestNetns,
    guestIfname,
    stats: () => ({
      toGuest: Atomics.load(counters, Slot.ToGuest),
      fromGuest: Atomics.load(counters, Slot.FromGuest),
      errors: Atomics.load(counters, Slot.Errors),
    }),
    close: stop,
  };
}

function readyOf(worker: Worker, timeoutMs: number, tap: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`Tap relay for "${tap}" did not attach within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (error?: Error) => {
      clearTimeout(timer);
      worker.off("message", onMessage);
      worker.off("error", onError);
      worker.off("exit", onExit);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onMessage = (m: RelayMessage) => done("error" in m ? new Error(m.error) : undefined);
    const onError = (e: Error) => done(e);
    const onExit = (code: number) =>
      done(new Error(`Tap relay for "${tap}" exited with code ${code} before attaching`));
    worker.on("message", onMessage);
    worker.on("error", onError);
    worker.on("exit", onExit);
  });
}

// ---- worker side ---------------------------------------------------------------------------------------------------

/** Opens /dev/net/tun in the calling thread's namespace and attaches (or creates) tap `name`. */
function openTap(c: Libc, name: string, multiQueue: boolean): number {
  const fd = openSync("/dev/net/tun", constants.O_RDWR | constants.O_NONBLOCK);
  const ifr = Buffer.alloc(IFREQ_SIZE);
  ifr.write(name, 0, 15, "utf8");
  ifr.writeUInt16LE(IFF_TAP | IFF_NO_PI | (multiQueue ? IFF_MULTI_QUEUE : 0), 16);
  if (c.ioctl(fd, TUNSETIFF, ifr) < 0) {
    const errno = koffi.errno();
    closeSync(fd);
    throw new Error(`Cannot attach tap "${name}": TUNSETIFF failed with errno ${errno}`);
  }
  return fd;
}

/** Copies every frame waiting on `from` to `to`, counting them (writes to a guest link still down fail with EIO and count as errors). */
function drain(c: Libc, from: number, to: number, buf: Buffer, counters: Int32Array, slot: number): void {
  for (;;) {
    const n = c.read(from, buf, buf.length);
    if (n < 0) {
      if (koffi.errno() !== EAGAIN) Atomics.add(counters, Slot.Errors, 1);
      return;
    }
    if (n === 0) return;
    // A full queue on the other side drops the frame, as a congested link would.
    if (c.write(to, buf, n) < 0) Atomics.add(counters, Slot.Errors, 1);
    else Atomics.add(counters, slot, 1);
  }
}

function runRelay(data: RelayWorkerData): void {
  const c = libc();
  const counters = new Int32Array(data.shared);
  const fds: number[] = [];
  try {
    // TUNSETIFF with an unknown name CREATES a tap: attaching must not invent one where the plan made none.
    if (ifIndex(data.podTap) === 0) throw new Error(`Cannot attach tap "${data.podTap}": it does not exist`);
    const podFd = openTap(c, data.podTap, data.multiQueue);
    fds.push(podFd);
    enterNetns(data.guestNetns);
    const guestFd = openTap(c, data.guestIfname, false);
    fds.push(guestFd);
    parentPort?.postMessage({ ready: true } satisfies RelayMessage);
    const pfds = Buffer.alloc(16);
    pfds.writeInt32LE(podFd, 0);
    pfds.writeInt16LE(POLLIN, 4);
    pfds.writeInt32LE(guestFd, 8);
    pfds.writeInt16LE(POLLIN, 12);
    const buf = Buffer.alloc(MAX_FRAME);
    while (Atomics.load(counters, Slot.Stop) === 0) {
      pfds.writeInt16LE(0, 6);
      pfds.writeInt16LE(0, 14);
      const ready = c.poll(pfds, 2, POLL_MS);
      if (ready <= 0) continue;
      if (pfds.readInt16LE(6) !== 0) drain(c, podFd, guestFd, buf, counters, Slot.ToGuest);
      if (pfds.readInt16LE(14) !== 0) drain(c, guestFd, podFd, buf, counters, Slot.FromGuest);
    }
  } catch (e) {
    parentPort?.postMessage({ error: e instanceof Error ? e.message : String(e) } satisfies RelayMessage);
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}

function isRelayData(value: unknown): value is RelayWorkerData {
  return typeof value === "object" && value !== null && "kind" in value && value.kind === WORKER_KIND;
}

if (!isMainThread && isRelayData(workerData)) runRelay(workerData);
