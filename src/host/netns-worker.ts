/**
 * A `worker_threads` worker whose thread lives in a pod's network namespace (the lab's tap relay uses it; the DHCP
 * agent serves every pod from one thread through the setns hop of netns-sockets.ts instead), and the FFI shim for
 * setns, SO_BINDTODEVICE and raw ICMPv6 sockets that both use.
 *
 * setns(2) with CLONE_NEWNET changes the namespace of the calling THREAD only. The worker calls it (through koffi)
 * before its own module loads, so every socket its event loop opens belongs to the pod while the main thread stays
 * in the root namespace. Node has no API for setns, SO_BINDTODEVICE or raw ICMPv6 sockets; this file is the only
 * FFI shim for them and holds no protocol logic.
 */
import { closeSync, fstatSync, openSync, statSync } from "node:fs";
import { type ResourceLimits, Worker } from "node:worker_threads";
import koffi from "koffi";
import { formatIpv6, parseIpv6 } from "../api/ip.ts";
import { assertNetnsName } from "./exec.ts";
import { check, libc as lib, SyscallError } from "./libc.ts";
import { assertInterfaceName } from "./netlink.ts";
import { netnsPath } from "./netns.ts";

// Linux x86-64/arm64 ABI constants (include/uapi/linux/*, asm-generic/socket.h).
const CLONE_NEWNET = 0x40000000;
const AF_INET6 = 10;
const SOCK_RAW = 3;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const IPPROTO_IPV6 = 41;
const IPPROTO_ICMPV6 = 58;
const SOL_SOCKET = 1;
const SO_BINDTODEVICE = 25;
const IPV6_UNICAST_HOPS = 16;
const IPV6_MULTICAST_HOPS = 18;
const IPV6_ADD_MEMBERSHIP = 20;
const ICMP6_FILTER = 1;
const SOCKADDR_IN6_LEN = 28;
const EINTR = 4;
const EAGAIN = 11;

// ---- main-thread side ----------------------------------------------------------------------------------------------

/** Options of {@link startNetnsWorker}. */
export interface NetnsWorkerOptions {
  /** Heap limits of the worker, passed to the Worker constructor. */
  readonly resourceLimits?: ResourceLimits;
}

function needsTsx(url: string): boolean {
  return /\.(c|m)?ts$/.test(new URL(url).pathname);
}

/** What scripts/build.mjs defines in the bundle: its directory (from the root) and worker entries by source path. */
interface BundleLayout {
  readonly dist: string;
  readonly entries: Readonly<Record<string, string>>;
}

declare const VMNET_BUNDLE: BundleLayout | undefined;

/** The bundle's layout when this code runs from it, else undefined (sources under tsx). */
const BUNDLE: BundleLayout | undefined = typeof VMNET_BUNDLE === "undefined" ? undefined : VMNET_BUNDLE;

/**
 * The module a worker imports for `url`: from the bundle, a source module that is a bundle entry (the tap relay, this
 * file) maps to its bundled file, so the worker loads plain JavaScript without tsx. `import.meta.url`
 * in the bundle still names the source file (scripts/build.mjs), so the repository root is two levels up from here.
 */
function workerModuleUrl(url: string): string {
  if (BUNDLE === undefined) return url;
  const root = new URL("../../", import.meta.url);
  const dist = new URL(`${BUNDLE.dist}/`, root);
  const fromRoot = decodeURIComponent(new URL(url).pathname).slice(decodeURIComponent(root.pathname).length);
  const bundled = url.startsWith(root.href) ? BUNDLE.entries[fromRoot] : undefined;
  return bundled === undefined ? url : new URL(bundled, dist).href;
}

/**
 * Starts a worker whose thread enters the named namespace, then imports `moduleUrl` with `workerData`.
 *
 * Workers do not inherit tsx's loader hooks on Node 20 (hooks registered by `--import tsx` stay on the main
 * thread's loader), so for TypeScript modules the bootstrap registers tsx's ESM API in the worker first. From the
 * bundle, bundled worker modules need no tsx (see {@link workerModuleUrl}).
 * A failing setns surfaces as the worker's `error` event, before `moduleUrl` runs.
 */
export function startNetnsWorker(
  netns: string,
  moduleUrl: URL | string,
  workerData?: unknown,
  options: NetnsWorkerOptions = {},
): Worker {
  assertNetnsName(netns);
  const target = workerModuleUrl(new URL(moduleUrl).href);
  const self = workerModuleUrl(import.meta.url);
  const lines: string[] = [];
  if (needsTsx(target) || needsTsx(self)) {
    const tsxApi = import.meta.resolve("tsx/esm/api");
    lines.push(`const { register } = await import(${JSON.stringify(tsxApi)});`, "register();");
  }
  lines.push(
    `const { enterNetns } = await import(${JSON.stringify(self)});`,
    `enterNetns(${JSON.stringify(netns)});`,
    `await import(${JSON.stringify(target)});`,
  );
  const boot = new URL(`data:text/javascript,${encodeURIComponent(lines.join("\n"))}`);
  return new Worker(boot, {
    workerData,
    ...(options.resourceLimits === undefined ? {} : { resourceLimits: options.resourceLimits }),
  });
}

// ---- worker side ---------------------------------------------------------------------------------------------------

/**
 * Moves the calling thread into the named network namespace (setns(2) on `/run/netns/<name>`) and checks that it is
 * there: callers open sockets and write sysctls on the strength of it, so a thread left elsewhere throws.
 */
export function enterNetns(netns: string): void {
  const fd = openSync(netnsPath(netns), "r");
  try {
    const target = fstatSync(fd, { bigint: true }).ino;
    check("setns", lib().setns(fd, CLONE_NEWNET));
    if (currentNetnsInode() !== target) {
      throw new Error(`Cannot enter network namespace "${netns}": the thread is elsewhere`);
    }
  } finally {
    closeSync(fd);
  }
}

/** The inode of the calling thread's network namespace (`/proc/thread-self/ns/net`): tells namespaces apart. */
export function currentNetnsInode(): bigint {
  return statSync("/proc/thread-self/ns/net", { bigint: true }).ino;
}

/** SO_BINDTODEVICE: the socket only receives from, and only sends through, interface `ifname`. */
export function bindToDevice(fd: number, ifname: string): void {
  assertInterfaceName(ifname);
  const name = Buffer.from(`${ifname}\0`, "utf8");
  check("setsockopt(SO_BINDTODEVICE)", lib().setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name, name.length));
}

/** The interface index of `ifname` in the calling thread's namespace (0 when missing). */
export function ifIndex(ifname: string): number {
  return lib().if_nametoindex(ifname);
}

/** setsockopt(2) with an int value; throws {@link SyscallError} naming `what`. */
export function setIntOption(fd: number, level: number, name: number, value: number, what: string): void {
  const b = Buffer.alloc(4);
  b.writeInt32LE(value);
  check(`setsockopt(${what})`, lib().setsockopt(fd, level, name, b, 4));
}

/** IPV6_ADD_MEMBERSHIP (struct ipv6_mreq: group, then interface index) for each of `groups` on interface `ifindex`. */
export function joinGroups(fd: number, ifindex: number, groups: readonly string[]): void {
  for (const group of groups) {
    const mreq = Buffer.alloc(20);
    mreq.set(parseIpv6(group), 0);
    mreq.writeInt32LE(ifindex, 16);
    check("setsockopt(IPV6_ADD_MEMBERSHIP)", lib().setsockopt(fd, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, mreq, 20));
  }
}

/** One received ICMPv6 message (without the IPv6 header, as raw sockets deliver it). */
export interface Icmpv6Message {
  readonly data: Buffer;
  readonly source: string;
  readonly scopeId: number;
}

/** Options of {@link Icmpv6Socket.open}. */
export interface Icmpv6SocketOptions {
  readonly ifname: string;
  /** Multicast groups to join on `ifname`, e.g. `ff02::2` (all routers) to hear router solicitations. */
  readonly groups?: readonly string[];
  /** ICMPv6 types to receive (ICMP6_FILTER); all when absent. */
  readonly types?: readonly number[];
  /**
   * How often the socket is polled, in ms; a message waits at most this long. Default 100 ms: RFC 4861 §6.2.6 lets a
   * router delay a solicited advertisement by up to 0.5 s anyway.
   */
  readonly pollMs?: number;
  /**
   * Called once when reading fails (the socket is closed then). Without it the error is thrown from the poll timer,
   * i.e. it becomes the thread's uncaught exception, as an unhandled dgram 'error' event would.
   */
  readonly onError?: (error: Error) => void;
}

/** `struct pollfd`: int fd, short events, short revents. */
const POLLFD_SIZE = 8;
const POLLIN = 0x1;

/** Messages read per poll tick at most, so a flooding peer cannot hold the event loop. */
const MAX_READS_PER_TICK = 64;

function sockaddrIn6(address: string, scopeId: number): Buffer {
  const sa = Buffer.alloc(SOCKADDR_IN6_LEN);
  sa.writeUInt16LE(AF_INET6, 0);
  sa.set(parseIpv6(address), 8);
  sa.writeUInt32LE(scopeId, 24);
  return sa;
}

/**
 * A raw ICMPv6 socket on one interface, for router advertisements (Node has no raw sockets). Hop limits are 255 as
 * RFC 4861 requires; the kernel fills in the ICMPv6 checksum. The socket is non-blocking; every `pollMs` one poll(2)
 * over all open sockets of that interval finds the ones with data, which are drained with synchronous `recvfrom` calls
 * until EAGAIN: no read ever waits, and none runs on libuv's thread pool, which the process's fs and DNS calls need (a
 * blocking read per socket there stalled every pod once four advertised). The hop limit of received packets is not
 * checked.
 */
export class Icmpv6Socket {
  readonly #fd: number;
  readonly #ifindex: number;
  readonly #onMessage: (m: Icmpv6Message) => void;
  readonly #onError: ((error: Error) => void) | undefined;
  readonly #pollMs: number;
  readonly #buf = Buffer.alloc(65536);
  readonly #addr = Buffer.alloc(SOCKADDR_IN6_LEN);
  readonly #addrlen = Buffer.alloc(4);
  #closed = false;

  private constructor(
    fd: number,
    ifindex: number,
    options: Icmpv6SocketOptions,
    onMessage: (m: Icmpv6Message) => void,
  ) {
    this.#fd = fd;
    this.#ifindex = ifindex;
    this.#onMessage = onMessage;
    this.#onError = options.onError;
    this.#pollMs = options.pollMs ?? 100;
    let group = Icmpv6Socket.#groups.get(this.#pollMs);
    if (group === undefined) {
      const sockets = new Set<Icmpv6Socket>();
      group = { sockets, timer: setInterval(() => Icmpv6Socket.#tick(sockets), this.#pollMs) };
      Icmpv6Socket.#groups.set(this.#pollMs, group);
    }
    group.sockets.add(this);
  }

  /**
   * Open sockets by poll interval. One timer and one poll(2) per tick serve every socket of an interval, and only the
   * sockets with something to read are drained: an idle agent serving many pods makes one call per tick, not one per
   * advertising device.
   */
  static readonly #groups = new Map<number, { readonly timer: NodeJS.Timeout; readonly sockets: Set<Icmpv6Socket> }>();

  static #tick(sockets: Set<Icmpv6Socket>): void {
    const list = [...sockets];
    const fds = Buffer.alloc(list.length * POLLFD_SIZE);
    list.forEach((sock, k) => {
      fds.writeInt32LE(sock.#fd, k * POLLFD_SIZE);
      fds.writeInt16LE(POLLIN, k * POLLFD_SIZE + 4);
    });
    const ready = lib().poll(fds, list.length, 0);
    if (ready <= 0) return;
    list.forEach((sock, k) => {
      // POLLERR/POLLHUP wake it too: the read then reports the error.
      if (fds.readInt16LE(k * POLLFD_SIZE + 6) !== 0) sock.#drain();
    });
  }

  /** Opens the socket in the calling thread's namespace and starts delivering messages to `onMessage`. */
  static open(options: Icmpv6SocketOptions, onMessage: (m: Icmpv6Message) => void): Icmpv6Socket {
    assertInterfaceName(options.ifname);
    const pollMs = options.pollMs ?? 100;
    if (!Number.isFinite(pollMs) || pollMs < 1) throw new RangeError(`Cannot poll every "${pollMs}" ms`);
    const c = lib();
    const ifindex = c.if_nametoindex(options.ifname);
    if (ifindex === 0) throw new RangeError(`Cannot find interface "${options.ifname}"`);
    const fd = check("socket", c.socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMPV6));
    try {
      setIntOption(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 255, "IPV6_UNICAST_HOPS");
      setIntOption(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 255, "IPV6_MULTICAST_HOPS");
      bindToDevice(fd, options.ifname);
      if (options.types !== undefined) {
        // struct icmp6_filter: 256 bits, a SET bit BLOCKS that type (Linux semantics).
        const filter = Buffer.alloc(32, 0xff);
        for (const t of options.types) {
          const word = t >> 5;
          filter.writeUInt32LE((filter.readUInt32LE(word * 4) & ~(1 << (t & 31))) >>> 0, word * 4);
        }
        check("setsockopt(ICMP6_FILTER)", c.setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, filter, 32));
      }
      joinGroups(fd, ifindex, options.groups ?? []);
    } catch (e) {
      c.close(fd);
      throw e;
    }
    return new Icmpv6Socket(fd, ifindex, { ...options, pollMs }, onMessage);
  }

  /** Reads until EAGAIN (or the per-tick cap); a failed read closes the socket and is reported at once. */
  #drain(): void {
    const c = lib();
    for (let i = 0; i < MAX_READS_PER_TICK && !this.#closed; i++) {
      this.#addrlen.writeUInt32LE(SOCKADDR_IN6_LEN);
      const n = c.recvfrom(this.#fd, this.#buf, this.#buf.length, this.#addr, this.#addrlen);
      if (n < 0) {
        const errno = koffi.errno();
        if (errno === EAGAIN || errno === EINTR) return;
        this.#fail(new SyscallError("recvfrom", errno));
        return;
      }
      // onMessage runs like a dgram 'message' listener: what it throws is the thread's uncaught exception.
      this.#onMessage({
        data: Buffer.from(this.#buf.subarray(0, n)),
        source: formatIpv6(this.#addr.subarray(8, 24)),
        scopeId: this.#addr.readUInt32LE(24),
      });
    }
  }

  #fail(error: Error): void {
    this.#shut();
    if (this.#onError === undefined) throw error;
    this.#onError(error);
  }

  #shut(): void {
    if (this.#closed) return;
    this.#closed = true;
    const group = Icmpv6Socket.#groups.get(this.#pollMs);
    group?.sockets.delete(this);
    if (group !== undefined && group.sockets.size === 0) {
      clearInterval(group.timer);
      Icmpv6Socket.#groups.delete(this.#pollMs);
    }
    lib().close(this.#fd);
  }

  /** Whether the socket is closed (by {@link close} or after a read error). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Sends one ICMPv6 message to `destination` (link-local and multicast go out of this socket's interface). */
  send(message: Buffer, destination: string): void {
    if (this.#closed) throw new Error("Cannot send on a closed ICMPv6 socket");
    const sa = sockaddrIn6(destination, this.#ifindex);
    check("sendto", lib().sendto(this.#fd, message, message.length, 0, sa, sa.length));
  }

  /**
   * Stops polling and closes the fd at once: no read is ever in flight, so the fd number cannot be reused under one.
   * Resolves when closed (a promise, so callers written for the earlier asynchronous reader keep working).
   */
  close(): Promise<void> {
    this.#shut();
    return Promise.resolve();
  }
}
