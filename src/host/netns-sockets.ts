/**
 * Sockets in other network namespaces, made from the calling thread without a worker per namespace.
 *
 * A socket keeps the network namespace it was created in. {@link inNetns} enters a namespace with setns(2) on the
 * calling thread, runs a synchronous function (the socket(2), setsockopt(2) and bind(2) calls) and always returns to
 * the thread's own namespace in a `finally`, before any other JavaScript or any event-loop callback of this thread can
 * run. The sockets are then served from the thread's event loop like any other. setns(2) with CLONE_NEWNET changes the
 * calling thread only: libuv's pool threads and Node's other threads never leave their namespace, so it is safe on the
 * main thread as long as nothing asynchronous happens inside the function (it is typed to return no promise).
 *
 * What must be resolved in the namespace happens inside the hop too: interface names to indexes (if_nametoindex) and
 * multicast memberships. Sending needs no hop: a datagram leaves through the socket's namespace and bound device.
 */
import dgram from "node:dgram";
import { openSync } from "node:fs";
import koffi from "koffi";
import { assertNetnsName } from "./exec.ts";
import { check, libc as lib, SyscallError } from "./libc.ts";
import { assertInterfaceName } from "./netlink.ts";
import {
  bindToDevice,
  enterNetns,
  type Icmpv6Message,
  Icmpv6Socket,
  type Icmpv6SocketOptions,
  joinGroups,
  setIntOption,
} from "./netns-worker.ts";

export { currentNetnsInode } from "./netns-worker.ts";

// Linux x86-64/arm64 ABI constants (include/uapi/linux/*, asm-generic/socket.h).
const CLONE_NEWNET = 0x40000000;
const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const SO_BROADCAST = 6;
const IPPROTO_IPV6 = 41;
const IPV6_V6ONLY = 26;
const SOCKADDR_IN_LEN = 16;
const SOCKADDR_IN6_LEN = 28;

/** The calling thread's own namespace, opened once: every hop returns to it. */
let home: number | undefined;
/** Set when returning home failed: the thread is in a foreign namespace and must not hop again. */
let stranded: Error | undefined;

function homeFd(): number {
  home ??= openSync("/proc/thread-self/ns/net", "r");
  return home;
}

/**
 * Runs `fn` with the calling thread in network namespace `netns` (`/run/netns/<netns>`) and returns the thread to its
 * own namespace afterwards, also when `fn` throws. Throws when the namespace cannot be entered (`fn` does not run).
 * `fn` must be synchronous: a promise (or other thenable) it returns is refused with a TypeError, since its work would
 * run after the thread came back. If returning fails (it cannot, short of losing CAP_SYS_ADMIN), every later hop
 * throws and so does this one.
 */
export function inNetns<T>(netns: string, fn: () => T): T {
  if (stranded !== undefined) throw stranded;
  assertNetnsName(netns);
  const back = homeFd();
  let result: T;
  try {
    // Returning home also when entering failed: the setns(2) may have succeeded and only the check after it not.
    enterNetns(netns);
    result = fn();
  } finally {
    if (lib().setns(back, CLONE_NEWNET) < 0) {
      stranded = new SyscallError("setns (return to the thread's own namespace)", koffi.errno());
      // Not swallowed by a caller's catch: the process would otherwise serve every later socket from the pod.
      // biome-ignore lint/correctness/noUnsafeFinally: a failed return must win over fn's result or error
      throw stranded;
    }
  }
  if (typeof (result as { then?: unknown } | null)?.then === "function") {
    throw new TypeError(`Cannot hop into network namespace "${netns}" for asynchronous work`);
  }
  return result;
}

/** Options of {@link openUdpInNetns}. */
export interface UdpInNetnsOptions {
  readonly ifname: string;
  readonly family: 4 | 6;
  readonly port: number;
  /** IPv6 multicast groups to join on `ifname`, e.g. `ff02::1:2` (All_DHCP_Relay_Agents_and_Servers). */
  readonly groups?: readonly string[];
}

function wildcardSockaddr(family: 4 | 6, port: number): Buffer {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new RangeError(`Cannot bind to port "${port}"`);
  const sa = Buffer.alloc(family === 4 ? SOCKADDR_IN_LEN : SOCKADDR_IN6_LEN);
  sa.writeUInt16LE(family === 4 ? AF_INET : AF_INET6, 0);
  sa.writeUInt16BE(port, 2);
  return sa;
}

/**
 * In the calling thread's namespace (inside a hop, or in a worker that entered the pod): a UDP socket on the wildcard address bound to one interface (SO_BINDTODEVICE before bind(2), so no
 * datagram from another interface is ever queued), `0.0.0.0:<port>` with broadcast on or `[::]:<port>` IPv6-only and
 * joined to `groups` on that interface. SO_REUSEADDR lets one server per interface share the port. Every option is
 * set on the fd before Node adopts it, because Node would resolve an interface name in the namespace it runs in.
 */
export function openUdpOnDevice(options: UdpInNetnsOptions): dgram.Socket {
  assertInterfaceName(options.ifname);
  const { family } = options;
  const sa = wildcardSockaddr(family, options.port);
  const c = lib();
  const fd = check("socket", c.socket(family === 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  let socket: dgram.Socket | undefined;
  try {
    setIntOption(fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
    bindToDevice(fd, options.ifname);
    if (family === 4) setIntOption(fd, SOL_SOCKET, SO_BROADCAST, 1, "SO_BROADCAST");
    if (family === 6) {
      setIntOption(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1, "IPV6_V6ONLY");
      const groups = options.groups ?? [];
      joinGroups(fd, groups.length === 0 ? 0 : c.if_nametoindex(options.ifname), groups);
    }
    check("bind", c.bind(fd, sa, sa.length));
    socket = dgram.createSocket(family === 4 ? "udp4" : "udp6");
    // Adopting an fd is synchronous (uv_udp_open) and throws on failure; from here on Node owns and closes the fd.
    socket.bind({ fd });
  } catch (e) {
    // The fd is ours until Node adopted it: a socket that never opened its handle does not close it.
    socket?.close();
    c.close(fd);
    throw e;
  }
  return socket;
}

/** {@link openUdpOnDevice} in namespace `netns`, from the calling thread (see {@link inNetns}). */
export function openUdpInNetns(netns: string, options: UdpInNetnsOptions): dgram.Socket {
  return inNetns(netns, () => openUdpOnDevice(options));
}

/**
 * A raw ICMPv6 socket on `options.ifname` in namespace `netns` ({@link Icmpv6Socket}: non-blocking, polled from a
 * timer of the calling thread's event loop, hop limits 255, the interface index resolved in the namespace).
 */
export function openIcmpv6InNetns(
  netns: string,
  options: Icmpv6SocketOptions,
  onMessage: (m: Icmpv6Message) => void,
): Icmpv6Socket {
  return inNetns(netns, () => Icmpv6Socket.open(options, onMessage));
}
