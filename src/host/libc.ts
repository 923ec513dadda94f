/**
 * The libc calls vmnet makes through koffi (setns, raw sockets, device binding, tap ioctls, poll, flock), bound once
 * per thread on first use so that importing a module that may need them costs nothing. Node has no API for network
 * namespaces, SO_BINDTODEVICE, tap devices or flock; everything else stays in TypeScript.
 */
import koffi from "koffi";

/** The bound libc functions. */
export interface Libc {
  setns(fd: number, nstype: number): number;
  socket(domain: number, type: number, protocol: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer, len: number): number;
  bind(fd: number, addr: Buffer, addrlen: number): number;
  sendto(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrlen: number): number;
  /** recvfrom(2) in the calling thread; only ever used on non-blocking sockets, so it never waits. */
  recvfrom(fd: number, buf: Buffer, len: number, addr: Buffer, addrlen: Buffer): number;
  close(fd: number): number;
  if_nametoindex(name: string): number;
  ioctl(fd: number, request: number, arg: Buffer): number;
  /** poll(2) over `nfds` packed `struct pollfd`s (int fd, short events, short revents: 8 bytes each). */
  poll(fds: Buffer, nfds: number, timeoutMs: number): number;
  read(fd: number, buf: Buffer, len: number): number;
  write(fd: number, buf: Buffer, len: number): number;
  flock(fd: number, operation: number): number;
}

/** A libc call failed; `errno` is the C errno. */
export class SyscallError extends Error {
  override readonly name = "SyscallError";
  readonly errno: number;

  constructor(call: string, errno: number) {
    super(`System call "${call}" failed with errno ${errno}`);
    this.errno = errno;
  }
}

/** Returns `rc`, or throws a {@link SyscallError} naming `call` when it is negative. */
export function check(call: string, rc: number): number {
  // koffi keeps the errno of its last call only: read it before any other FFI call can run.
  if (rc < 0) throw new SyscallError(call, koffi.errno());
  return rc;
}

let bound: Libc | undefined;

/** libc, bound on first use. */
export function libc(): Libc {
  if (bound !== undefined) return bound;
  const c = koffi.load("libc.so.6");
  const fns = {
    setns: c.func("int setns(int fd, int nstype)"),
    socket: c.func("int socket(int domain, int type, int protocol)"),
    setsockopt: c.func("int setsockopt(int fd, int level, int name, const void *value, uint32_t len)"),
    bind: c.func("int bind(int fd, const void *addr, uint32_t addrlen)"),
    sendto: c.func("long sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t addrlen)"),
    recvfrom: c.func("long recvfrom(int fd, void *buf, size_t len, int flags, void *addr, void *addrlen)"),
    close: c.func("int close(int fd)"),
    if_nametoindex: c.func("unsigned int if_nametoindex(const char *name)"),
    ioctl: c.func("int ioctl(int fd, unsigned long request, void *arg)"),
    poll: c.func("int poll(void *fds, unsigned long nfds, int timeout)"),
    read: c.func("long read(int fd, void *buf, size_t count)"),
    write: c.func("long write(int fd, const void *buf, size_t count)"),
    flock: c.func("int flock(int fd, int operation)"),
  };
  bound = {
    setns: (fd, nstype) => fns.setns(fd, nstype) as number,
    socket: (d, t, p) => fns.socket(d, t, p) as number,
    setsockopt: (fd, level, name, value, len) => fns.setsockopt(fd, level, name, value, len) as number,
    bind: (fd, addr, addrlen) => fns.bind(fd, addr, addrlen) as number,
    sendto: (fd, buf, len, flags, addr, addrlen) => Number(fns.sendto(fd, buf, len, flags, addr, addrlen)),
    recvfrom: (fd, buf, len, addr, addrlen) => Number(fns.recvfrom(fd, buf, len, 0, addr, addrlen)),
    close: (fd) => fns.close(fd) as number,
    if_nametoindex: (name) => fns.if_nametoindex(name) as number,
    ioctl: (fd, request, arg) => fns.ioctl(fd, request, arg) as number,
    poll: (fds, nfds, timeoutMs) => fns.poll(fds, nfds, timeoutMs) as number,
    read: (fd, buf, len) => Number(fns.read(fd, buf, len)),
    write: (fd, buf, len) => Number(fns.write(fd, buf, len)),
    flock: (fd, operation) => fns.flock(fd, operation) as number,
  };
  return bound;
}
