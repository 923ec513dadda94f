/**
 * A `worker_threads` worker per pod whose thread lives in the pod's network namespace.
 *
 * setns(2) with CLONE_NEWNET changes the namespace of the calling THREAD only. The worker calls it (through koffi)
 * before its own module loads, so every socket its event loop opens belongs to the pod while the main thread stays
 * in the root namespace. Node has no API for setns, SO_BINDTODEVICE or raw ICMPv6 sockets; this file is the only
 * FFI shim for them and holds no protocol logic.
 */
import dgram from "node:dgram";
import { closeSync, openSync } from "node:fs";
import { type ResourceLimits, Worker } from "node:worker_threads";
import koffi from "koffi";
import { assertNetnsName } from "./exec.ts";
import { formatIpv6, parseIpv6 } from "./inet6.ts";
import { assertInterfaceName } from "./netlink.ts";
import { netnsPath } from "./netns.ts";

// Linux x86-64/arm64 ABI constants (include/uapi/linux/*, asm-generic/socket.h).
const CLONE_NEWNET = 0x40000000;
const AF_INET6 = 10;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const IPPROTO_IPV6 = 41;
const IPPROTO_ICMPV6 = 58;
const SOL_SOCKET = 1;
const SO_BINDTODEVICE = 25;
const SO_RCVTIMEO = 20;
const IPV6_UNICAST_HOPS = 16;
const IPV6_MULTICAST_HOPS = 18;
const IPV6_ADD_MEMBERSHIP = 20;
const ICMP6_FILTER = 1;
const SOCKADDR_IN6_LEN = 28;

/** libc functions, bound on first use so that importing this module costs nothing in the main thread. */
interface Libc {
  setns(fd: number, nstype: number): number;
  socket(domain: number, type: number, protocol: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer, len: number): number;
  sendto(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrlen: number): number;
  /** recvfrom(2) on koffi's thread pool; `done` gets the byte count or -1. */
  recvfromAsync(
    fd: number,
    buf: Buffer,
    len: number,
    addr: Buffer,
    addrlen: Buffer,
    done: (err: unknown, res: unknown) => void,
  ): void;
  close(fd: number): number;
  if_nametoindex(name: string): number;
}

let libc: Libc | undefined;

function lib(): Libc {
  if (libc !== undefined) return libc;
  const c = koffi.load("libc.so.6");
  const bound = {
    setns: c.func("int setns(int fd, int nstype)"),
    socket: c.func("int socket(int domain, int type, int protocol)"),
    setsockopt: c.func("int setsockopt(int fd, int level, int name, const void *value, uint32_t len)"),
    sendto: c.func("long sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t addrlen)"),
    recvfrom: c.func("long recvfrom(int fd, void *buf, size_t len, int flags, void *addr, void *addrlen)"),
    close: c.func("int close(int fd)"),
    if_nametoindex: c.func("unsigned int if_nametoindex(const char *name)"),
  };
  libc = {
    setns: (fd, nstype) => bound.setns(fd, nstype) as number,
    socket: (d, t, p) => bound.socket(d, t, p) as number,
    setsockopt: (fd, level, name, value, len) => bound.setsockopt(fd, level, name, value, len) as number,
    sendto: (fd, buf, len, flags, addr, addrlen) => Number(bound.sendto(fd, buf, len, flags, addr, addrlen)),
    recvfromAsync: (fd, buf, len, addr, addrlen, done) => bound.recvfrom.async(fd, buf, len, 0, addr, addrlen, done),
    close: (fd) => bound.close(fd) as number,
    if_nametoindex: (name) => bound.if_nametoindex(name) as number,
  };
  return libc;
}

/** A socket-level syscall failed. */
export class SocketShimError extends Error {
  override readonly name = "SocketShimError";
  readonly errno: number;

  constructor(call: string, errno: number) {
    super(`System call "${call}" failed with errno ${errno}`);
    this.errno = errno;
  }
}

function check(call: string, rc: number): number {
  if (rc < 0) throw new SocketShimError(call, koffi.errno());
  return rc;
}

// ---- main-thread side ----------------------------------------------------------------------------------------------

/** Options of {@link startNetnsWorker}. */
export interface NetnsWorkerOptions {
  /** Heap limits of the worker, passed to the Worker constructor. */
  readonly resourceLimits?: ResourceLimits;
}

function needsTsx(url: string): boolean {
  return /\.(c|m)?ts$/.test(new URL(url).pathname);
}

/**
 * Starts a worker whose thread enters the named namespace, then imports `moduleUrl` with `workerData`.
 *
 * Workers do not inherit tsx's loader hooks on Node 20 (hooks registered by `--import tsx` stay on the main
 * thread's loader), so for TypeScript modules the bootstrap registers tsx's ESM API in the worker first.
 * A failing setns surfaces as the worker's `error` event, before `moduleUrl` runs.
 */
export function startNetnsWorker(
  netns: string,
  moduleUrl: URL | string,
  workerData?: unknown,
  options: NetnsWorkerOptions = {},
): Worker {
  assertNetnsName(netns);
  const target = new URL(moduleUrl).href;
  const self = import.meta.url;
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

/** Moves the calling thread into the named network namespace (setns(2) on `/run/netns/<name>`). */
export function enterNetns(netns: string): void {
  const fd = openSync(netnsPath(netns), "r");
  try {
    check("setns", lib().setns(fd, CLONE_NEWNET));
  } finally {
    closeSync(fd);
  }
}

/**
 * The file descriptor of a bound dgram socket. Node exposes none; this reads the libuv handle through the internal
 * state symbol (`socket[kStateSymbol].handle.fd`, older releases `socket._handle.fd`). Kept in one place so a Node
 * upgrade that moves it breaks one function. Throws when the socket is not bound yet (no fd exists before bind).
 */
export function dgramSocketFd(socket: dgram.Socket): number {
  const holder = socket as unknown as Record<string | symbol, unknown>;
  const candidates: unknown[] = [holder._handle];
  for (const sym of Object.getOwnPropertySymbols(socket)) {
    const state = holder[sym];
    if (typeof state === "object" && state !== null && "handle" in state) candidates.push(state.handle);
  }
  for (const handle of candidates) {
    if (typeof handle === "object" && handle !== null && "fd" in handle) {
      const fd = handle.fd;
      if (typeof fd === "number" && fd >= 0) return fd;
    }
  }
  throw new Error("Cannot find the file descriptor of the dgram socket: is it bound?");
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

/** Options of {@link openUdpOnDevice}. */
export interface UdpOnDeviceOptions {
  readonly ifname: string;
  readonly family: 4 | 6;
  readonly port: number;
  /** IPv6 multicast groups to join on `ifname`, e.g. `ff02::1:2` (All_DHCP_Relay_Agents_and_Servers). */
  readonly groups?: readonly string[];
}

/**
 * A UDP socket on the wildcard address bound to one interface: `0.0.0.0:<port>` (broadcast enabled) or
 * `[::]:<port>` joined to `groups` on that interface. `reuseAddr` lets one server per interface share the port.
 * Must run in the namespace's thread (a {@link startNetnsWorker} worker).
 */
export function openUdpOnDevice(options: UdpOnDeviceOptions): Promise<dgram.Socket> {
  assertInterfaceName(options.ifname);
  const socket = dgram.createSocket({ type: options.family === 4 ? "udp4" : "udp6", reuseAddr: true });
  return new Promise((resolve, reject) => {
    socket.once("error", reject);
    socket.bind({ port: options.port, address: options.family === 4 ? "0.0.0.0" : "::" }, () => {
      try {
        bindToDevice(dgramSocketFd(socket), options.ifname);
        if (options.family === 4) socket.setBroadcast(true);
        for (const group of options.groups ?? []) socket.addMembership(group, `::%${options.ifname}`);
        socket.off("error", reject);
        resolve(socket);
      } catch (e) {
        socket.close();
        reject(e);
      }
    });
  });
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
  /** How long one blocking read waits before checking for close; bounds close latency. Default 200 ms. */
  readonly pollMs?: number;
}

function sockaddrIn6(address: string, scopeId: number): Buffer {
  const sa = Buffer.alloc(SOCKADDR_IN6_LEN);
  sa.writeUInt16LE(AF_INET6, 0);
  parseIpv6(address).copy(sa, 8);
  sa.writeUInt32LE(scopeId, 24);
  return sa;
}

/**
 * A raw ICMPv6 socket on one interface, for router advertisements (Node has no raw sockets). Hop limits are 255 as
 * RFC 4861 requires; the kernel fills in the ICMPv6 checksum. Reads are blocking `recvfrom` calls run on koffi's
 * async thread pool (the fd is already in the namespace, so the reading thread's namespace does not matter), with
 * SO_RCVTIMEO so {@link close} is noticed within `pollMs`. The hop limit of received packets is not checked.
 */
export class Icmpv6Socket {
  readonly #fd: number;
  readonly #ifindex: number;
  #closed = false;
  #done: Promise<void>;

  private constructor(fd: number, ifindex: number, onMessage: (m: Icmpv6Message) => void) {
    this.#fd = fd;
    this.#ifindex = ifindex;
    this.#done = this.#loop(onMessage);
    // A failed read (or a throwing onMessage) ends the loop; the error is reported by close(), not as unhandled.
    this.#done.catch(() => {});
  }

  /** Opens the socket in the calling thread's namespace and starts delivering messages to `onMessage`. */
  static open(options: Icmpv6SocketOptions, onMessage: (m: Icmpv6Message) => void): Icmpv6Socket {
    assertInterfaceName(options.ifname);
    const c = lib();
    const ifindex = c.if_nametoindex(options.ifname);
    if (ifindex === 0) throw new RangeError(`Cannot find interface "${options.ifname}"`);
    const fd = check("socket", c.socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6));
    try {
      const int = (v: number) => {
        const b = Buffer.alloc(4);
        b.writeInt32LE(v);
        return b;
      };
      check("setsockopt(IPV6_UNICAST_HOPS)", c.setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, int(255), 4));
      check("setsockopt(IPV6_MULTICAST_HOPS)", c.setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, int(255), 4));
      bindToDevice(fd, options.ifname);
      const tv = Buffer.alloc(16);
      const pollMs = options.pollMs ?? 200;
      tv.writeBigInt64LE(BigInt(Math.floor(pollMs / 1000)), 0);
      tv.writeBigInt64LE(BigInt((pollMs % 1000) * 1000), 8);
      check("setsockopt(SO_RCVTIMEO)", c.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16));
      if (options.types !== undefined) {
        // struct icmp6_filter: 256 bits, a SET bit BLOCKS that type (Linux semantics).
        const filter = Buffer.alloc(32, 0xff);
        for (const t of options.types) {
          const word = t >> 5;
          filter.writeUInt32LE((filter.readUInt32LE(word * 4) & ~(1 << (t & 31))) >>> 0, word * 4);
        }
        check("setsockopt(ICMP6_FILTER)", c.setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, filter, 32));
      }
      for (const group of options.groups ?? []) {
        const mreq = Buffer.alloc(20);
        parseIpv6(group).copy(mreq, 0);
        mreq.writeInt32LE(ifindex, 16);
        check("setsockopt(IPV6_ADD_MEMBERSHIP)", c.setsockopt(fd, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, mreq, 20));
      }
    } catch (e) {
      c.close(fd);
      throw e;
    }
    return new Icmpv6Socket(fd, ifindex, onMessage);
  }

  async #loop(onMessage: (m: Icmpv6Message) => void): Promise<void> {
    const c = lib();
    const buf = Buffer.alloc(65536);
    const addr = Buffer.alloc(SOCKADDR_IN6_LEN);
    const addrlen = Buffer.alloc(4);
    try {
      while (!this.#closed) {
        addrlen.writeUInt32LE(SOCKADDR_IN6_LEN);
        const n = await new Promise<number>((resolve, reject) => {
          c.recvfromAsync(this.#fd, buf, buf.length, addr, addrlen, (err, res) =>
            err ? reject(err) : resolve(Number(res)),
          );
        });
        // -1 is the SO_RCVTIMEO tick (EAGAIN); the errno of koffi's pool thread is not readable from here.
        if (n < 0 || this.#closed) continue;
        onMessage({
          data: Buffer.from(buf.subarray(0, n)),
          source: formatIpv6(addr.subarray(8, 24)),
          scopeId: addr.readUInt32LE(24),
        });
      }
    } finally {
      // Closed only once no read is in flight, so the fd number cannot be reused under a pending recvfrom.
      this.#closed = true;
      c.close(this.#fd);
    }
  }

  /** Sends one ICMPv6 message to `destination` (link-local and multicast go out of this socket's interface). */
  send(message: Buffer, destination: string): void {
    if (this.#closed) throw new Error("Cannot send on a closed ICMPv6 socket");
    const sa = sockaddrIn6(destination, this.#ifindex);
    check("sendto", lib().sendto(this.#fd, message, message.length, 0, sa, sa.length));
  }

  /** Stops reading and closes the socket once the pending read returns; rejects if reading had failed. */
  close(): Promise<void> {
    this.#closed = true;
    return this.#done;
  }
}
