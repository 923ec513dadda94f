/**
 * The project-built guest: a Debian kernel from /boot (booted as its uncompressed vmlinux through PVH when it can be)
 * plus a gzip'd newc initramfs assembled here from packages installed on the host (busybox-static, the NIC and
 * virtio-serial kernel modules, qemu-guest-agent and its shared libraries, dhcpcd for DHCPv6 when present) and the
 * scripts in src/lab/guest/ (see its README.md). The image is cached under a hash of every input, so a second build
 * with nothing changed only stats files.
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import { access, mkdir, readdir, readFile, realpath, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { gunzip, gzip } from "node:zlib";
import { cachedProbe } from "../host/probe-cache.ts";

const execFileAsync = promisify(execFile);
const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** Bumped whenever the image layout changes in a way file stats and script contents do not capture. */
export const GUEST_IMAGE_FORMAT = 1;

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Default cache directory (gitignored). */
export const DEFAULT_GUEST_CACHE_DIR = join(REPO_ROOT, ".cache", "guest");

/** The guest init prints this on the serial console once its responders and qemu-ga are running. */
export const GUEST_READY_MARKER = "vmnet-guest: ready";

/** The console line the guest prints when `ifname` gets a DHCPv4 lease (the address follows). */
export function guestLeaseMarker(ifname: string): string {
  return `vmnet-guest: lease ${ifname} `;
}

/** What the guest init runs on every ethernet NIC (kernel command line `vmnet.net=`). */
export const GuestNetMode = {
  Dhcp4: "dhcp4",
  Dhcp6: "dhcp6",
} as const;

/** A guest network mode. */
export type GuestNetMode = (typeof GuestNetMode)[keyof typeof GuestNetMode];

/** Options of {@link guestCommandLine}. */
export interface GuestCommandLineOptions {
  /** Clients to run on every NIC; empty means none. Default DHCPv4 and DHCPv6 (with router advertisements). */
  readonly net?: readonly GuestNetMode[];
  /** Guest hostname; default "vmnet-guest". */
  readonly hostname?: string;
  /** TCP echo port; default 7. */
  readonly echoPort?: number;
  /** Serial console device; default ttyS0 (QEMU's first `-serial`). */
  readonly console?: string;
}

const HOSTNAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

/** The kernel command line (`-append`) that boots the guest image with the given network setup. */
export function guestCommandLine(options: GuestCommandLineOptions = {}): string {
  const net = options.net ?? [GuestNetMode.Dhcp4, GuestNetMode.Dhcp6];
  const args = [
    `console=${options.console ?? "ttyS0"}`,
    "quiet",
    "panic=-1",
    `vmnet.net=${net.length === 0 ? "none" : net.join(",")}`,
  ];
  if (options.hostname !== undefined) {
    if (!HOSTNAME.test(options.hostname)) throw new RangeError(`Cannot use guest hostname "${options.hostname}"`);
    args.push(`vmnet.hostname=${options.hostname}`);
  }
  if (options.echoPort !== undefined) {
    if (
      !Number.isInteger(options.echoPort) ||
      options.echoPort < 1 ||
      options.echoPort > 65535 ||
      options.echoPort === 80
    )
      throw new RangeError(`Cannot use guest echo port "${options.echoPort}"`);
    args.push(`vmnet.echo=${options.echoPort}`);
  }
  return args.join(" ");
}

/** Directory holding the init script and the helper scripts copied into the image. */
export const GUEST_SOURCE_DIR = join(REPO_ROOT, "src", "lab", "guest");

/**
 * Kernel modules the guest loads, by module name: every NIC model the planner can emit (virtio, e1000, e1000e, igb,
 * rtl8139 via 8139cp/8139too, ne2k_pci, pcnet), virtio-serial for the guest agent, and AF_PACKET/IPv6 for the DHCP
 * clients. Names that the kernel has built in are skipped; dependencies come from modules.dep.
 */
export const GUEST_MODULES = [
  "virtio_pci",
  "virtio_net",
  "virtio_console",
  "e1000",
  "e1000e",
  "igb",
  "8139cp",
  "8139too",
  "ne2k-pci",
  "pcnet32",
  "af_packet",
  "ipv6",
] as const;

const BUSYBOX = "/bin/busybox";
const QEMU_GA = "/usr/sbin/qemu-ga";
const DHCPCD = "/usr/sbin/dhcpcd";

/** Options of {@link buildGuestImage}. */
export interface GuestImageOptions {
  /** Where images are cached; default {@link DEFAULT_GUEST_CACHE_DIR}. */
  readonly cacheDir?: string;
  /** The init script to install as /init; default src/lab/guest/init. */
  readonly initScript?: string;
  /** Kernel release (a /boot/vmlinuz-<release> with /lib/modules/<release>); default the newest such pair. */
  readonly kernelVersion?: string;
}

/** A bootable guest: pass `kernel` to `-kernel` and `initrd` to `-initrd`. */
export interface GuestImage {
  /**
   * The kernel to boot: the uncompressed vmlinux (a PVH-bootable ELF, cached beside the initrd) when the kernel has
   * CONFIG_PVH, else the bzImage. PVH skips decompressing the kernel inside the guest, seconds under TCG.
   */
  readonly kernel: string;
  /** The distribution's compressed kernel (/boot/vmlinuz-<release>). */
  readonly bzImage: string;
  readonly initrd: string;
  /** Hash of every input; part of the initrd's file name. */
  readonly hash: string;
  readonly kernelVersion: string;
  /** Whether this call assembled the initramfs (false: it was already cached). */
  readonly built: boolean;
}

/** One entry of the initramfs. */
type ImageEntry =
  | { readonly kind: "dir"; readonly path: string }
  | { readonly kind: "file"; readonly path: string; readonly source: string; readonly mode: number }
  | { readonly kind: "module"; readonly path: string; readonly source: string }
  | { readonly kind: "data"; readonly path: string; readonly data: Buffer; readonly mode: number }
  | { readonly kind: "symlink"; readonly path: string; readonly target: string }
  | { readonly kind: "chardev"; readonly path: string; readonly major: number; readonly minor: number };

/** Builds (or finds in the cache) the guest initramfs for the host's Debian kernel. */
export async function buildGuestImage(options: GuestImageOptions = {}): Promise<GuestImage> {
  const cacheDir = options.cacheDir ?? DEFAULT_GUEST_CACHE_DIR;
  const initScript = options.initScript ?? join(GUEST_SOURCE_DIR, "init");
  const kernelVersion = options.kernelVersion ?? (await newestKernel());
  const bzImage = `/boot/vmlinuz-${kernelVersion}`;
  await access(bzImage, fsConstants.R_OK).catch((cause: unknown) => {
    throw new Error(`Cannot read kernel "${bzImage}"`, { cause });
  });

  const entries = await imageEntries(kernelVersion, initScript);
  const hash = await hashInputs(bzImage, entries);
  const initrd = join(cacheDir, `initrd-${kernelVersion}-${hash}.cpio.gz`);
  let built = false;
  if (!(await exists(initrd))) {
    await mkdir(cacheDir, { recursive: true });
    await writeAtomically(initrd, await gzipAsync(await writeCpio(entries), { level: 6 }));
    built = true;
    await pruneCache(cacheDir, initrd);
  }
  const kernel = (await kernelHasPvh(kernelVersion)) ? await cachedVmlinux(bzImage, kernelVersion, cacheDir) : bzImage;
  return { kernel, bzImage, initrd, hash, kernelVersion, built };
}

/** Age after which superseded initrds and abandoned temp files are removed from the cache. */
export const GUEST_CACHE_MAX_AGE_MS = 24 * 60 * 60 * 1000;

/**
 * Removes initrds other than `keep` and temp files that have not been written for a day. Recent ones stay: another
 * checkout or test may be booting them right now.
 */
async function pruneCache(cacheDir: string, keep: string): Promise<void> {
  const cutoff = Date.now() - GUEST_CACHE_MAX_AGE_MS;
  for (const name of await readdir(cacheDir)) {
    const path = join(cacheDir, name);
    if (path === keep || !(name.startsWith("initrd-") || name.endsWith(".tmp"))) continue;
    const s = await stat(path).catch(() => undefined);
    if (s !== undefined && s.mtimeMs < cutoff) await rm(path, { force: true });
  }
}

/** Concurrent builders each write their own temp file; rename(2) is atomic, and they all produce identical bytes. */
async function writeAtomically(path: string, data: Buffer): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    await writeFile(temp, data);
    await rename(temp, path);
  } finally {
    await rm(temp, { force: true });
  }
}

async function kernelHasPvh(kernelVersion: string): Promise<boolean> {
  const config = await readFile(`/boot/config-${kernelVersion}`, "utf8").catch(() => "");
  return /^CONFIG_PVH=y$/m.test(config);
}

/** The vmlinux inside `bzImage`, extracted once per kernel file (keyed by its size and mtime) into `cacheDir`. */
async function cachedVmlinux(bzImage: string, kernelVersion: string, cacheDir: string): Promise<string> {
  const s = await stat(bzImage);
  const key = createHash("sha256").update(`${bzImage} ${s.size} ${s.mtimeMs}`).digest("hex").slice(0, 16);
  const path = join(cacheDir, `vmlinux-${kernelVersion}-${key}`);
  if (await exists(path)) return path;
  await mkdir(cacheDir, { recursive: true });
  await writeAtomically(path, await extractVmlinux(await readFile(bzImage)));
  return path;
}

/**
 * The uncompressed ELF kernel inside a bzImage. The x86 boot protocol's setup header locates the compressed payload:
 * it starts `payload_offset` (0x248) bytes into the protected-mode code, which follows `setup_sects` (0x1f1) + 1
 * 512-byte sectors, and is `payload_length` (0x24c) bytes long.
 */
export async function extractVmlinux(bzImage: Buffer): Promise<Buffer> {
  if (bzImage.length < 0x250 || bzImage.toString("latin1", 0x202, 0x206) !== "HdrS")
    throw new Error('Cannot find the x86 boot protocol header ("HdrS") in the kernel image');
  const setupSects = bzImage.readUInt8(0x1f1) || 4;
  const start = (setupSects + 1) * 512 + bzImage.readUInt32LE(0x248);
  const payload = bzImage.subarray(start, start + bzImage.readUInt32LE(0x24c));
  let vmlinux: Buffer;
  if (payload[0] === 0x1f && payload[1] === 0x8b) vmlinux = await gunzipAsync(payload);
  else if (payload.subarray(0, 6).equals(Buffer.from("fd377a585a00", "hex")))
    vmlinux = await decompressWith("xz", ["-dc", "--single-stream"], payload);
  else if (payload.subarray(0, 4).equals(Buffer.from("28b52ffd", "hex")))
    vmlinux = await decompressWith("zstd", ["-dc"], payload);
  else throw new Error(`Cannot decompress the kernel payload (magic "${payload.subarray(0, 4).toString("hex")}")`);
  if (!vmlinux.subarray(0, 4).equals(Buffer.from("7f454c46", "hex")))
    throw new Error("Cannot use the decompressed kernel payload: it is not an ELF file");
  return vmlinux;
}

/** Pipes `input` through a decompressor binary. */
function decompressWith(tool: string, args: readonly string[], input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile(tool, args, { encoding: "buffer", maxBuffer: 1 << 30 }, (error, stdout) => {
      if (error !== null) reject(new Error(`Cannot decompress with "${tool}"`, { cause: error }));
      else resolve(stdout);
    });
    child.stdin?.end(input);
  });
}

/** The newest kernel release that has both /boot/vmlinuz-<release> and /lib/modules/<release>/modules.dep. */
export async function newestKernel(): Promise<string> {
  const names = await readdir("/boot").catch(() => [] as string[]);
  const releases: string[] = [];
  for (const name of names) {
    if (!name.startsWith("vmlinuz-")) continue;
    const release = name.slice("vmlinuz-".length);
    if (await exists(`/lib/modules/${release}/modules.dep`)) releases.push(release);
  }
  releases.sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  const newest = releases.at(-1);
  if (newest === undefined) throw new Error(`Cannot find a kernel in "/boot" with modules in "/lib/modules"`);
  return newest;
}

/** Everything the initramfs holds, in archive order (parents before children). */
async function imageEntries(kernelVersion: string, initScript: string): Promise<ImageEntry[]> {
  const entries: ImageEntry[] = [];
  const dirs = new Set<string>();
  const addDir = (path: string): void => {
    const parent = dirname(path);
    if (parent !== path && parent !== "/") addDir(parent);
    if (path === "/" || dirs.has(path)) return;
    dirs.add(path);
    entries.push({ kind: "dir", path });
  };
  const addFile = (path: string, source: string, mode: number): void => {
    addDir(dirname(path));
    entries.push({ kind: "file", path, source, mode });
  };
  const addData = (path: string, data: string, mode: number): void => {
    addDir(dirname(path));
    entries.push({ kind: "data", path, data: Buffer.from(data), mode });
  };

  for (const dir of ["/proc", "/sys", "/dev", "/run", "/tmp", "/etc", "/var", "/root", "/sbin", "/usr/sbin"])
    addDir(dir);
  // The kernel opens /dev/console for init before init can mount devtmpfs.
  entries.push({ kind: "chardev", path: "/dev/console", major: 5, minor: 1 });

  addFile("/init", initScript, 0o755);

  addFile(BUSYBOX, BUSYBOX, 0o755);
  for (const applet of await busyboxApplets()) {
    const path = `/${applet}`;
    if (path === BUSYBOX) continue;
    addDir(dirname(path));
    entries.push({ kind: "symlink", path, target: BUSYBOX });
  }

  for (const name of (await readdir(GUEST_SOURCE_DIR)).sort()) {
    if (name === "init" || name.endsWith(".md")) continue;
    addFile(`/usr/share/vmnet/${name}`, join(GUEST_SOURCE_DIR, name), 0o755);
  }

  const modules = await resolveModules(`/lib/modules/${kernelVersion}`, GUEST_MODULES);
  for (const rel of modules)
    addFile(`/lib/modules/${kernelVersion}/${rel}`, `/lib/modules/${kernelVersion}/${rel}`, 0o644);
  addData("/etc/vmnet/modules", modules.map((rel) => `/lib/modules/${kernelVersion}/${rel}\n`).join(""), 0o644);

  await access(QEMU_GA, fsConstants.X_OK).catch((cause: unknown) => {
    throw new Error(`Cannot find the guest agent "${QEMU_GA}" (Debian package qemu-guest-agent)`, { cause });
  });
  await access(BUSYBOX, fsConstants.X_OK).catch((cause: unknown) => {
    throw new Error(`Cannot find "${BUSYBOX}" (Debian package busybox-static)`, { cause });
  });
  const binaries = [QEMU_GA];
  if (await exists(DHCPCD)) binaries.push(DHCPCD);
  const libraries = new Set<string>();
  for (const binary of binaries) {
    addFile(binary, binary, 0o755);
    for (const lib of await sharedLibraries(binary)) libraries.add(lib);
  }
  for (const lib of [...libraries].sort()) addFile(lib, lib, 0o755);
  return entries;
}

/** Applet paths relative to / (e.g. "usr/bin/awk"), as the busybox binary itself reports them. */
async function busyboxApplets(): Promise<string[]> {
  return cachedProbe("busybox-applets", [BUSYBOX], async () => {
    const { stdout } = await execFileAsync(BUSYBOX, ["--list-full"]);
    return stdout
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line !== "")
      .sort();
  });
}

/** Shared libraries and the dynamic loader of `binary`, as ldd resolves them on the host. */
export async function sharedLibraries(binary: string): Promise<string[]> {
  // ldd's answer changes with the binary or the loader's cache (a library installed or upgraded).
  return cachedProbe("ldd", [binary, "/etc/ld.so.cache"], () => lddLibraries(binary));
}

async function lddLibraries(binary: string): Promise<string[]> {
  const { stdout } = await execFileAsync("ldd", [binary]);
  const libs: string[] = [];
  for (const line of stdout.split("\n")) {
    const match = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)/.exec(line);
    if (match?.[1] !== undefined) libs.push(match[1]);
  }
  if (libs.length === 0) throw new Error(`Cannot find the shared libraries of "${binary}" in ldd's output`);
  return libs;
}

const COMPRESSED_MODULE = /\.ko\.(xz|gz|zst)$/;

/**
 * The bytes of a kernel module file, decompressed when it is a .ko.xz / .ko.gz / .ko.zst (Debian 12 ships plain .ko;
 * later releases compress them).
 */
export async function readModule(path: string): Promise<Buffer> {
  const compression = COMPRESSED_MODULE.exec(path)?.[1];
  if (compression === undefined) return readFile(path);
  if (compression === "gz") return gunzipAsync(await readFile(path));
  return decompressWith(compression === "xz" ? "xz" : "zstd", ["-dc"], await readFile(path));
}

/** A module name as modules.dep and modules.builtin spell it, with "-" and "_" treated alike (as modprobe does). */
function moduleKey(pathOrName: string): string {
  const base = pathOrName.slice(pathOrName.lastIndexOf("/") + 1).replace(/\.ko(\.(xz|gz|zst))?$/, "");
  return base.replaceAll("-", "_");
}

/**
 * The modules to load for `wanted` plus their dependencies, as paths relative to `base` (a /lib/modules/<release>
 * directory), dependencies first. Built-in names are dropped; a name that is neither a module nor built in is an
 * error.
 */
export async function resolveModules(base: string, wanted: readonly string[]): Promise<string[]> {
  const depText = await readFile(join(base, "modules.dep"), "utf8");
  const builtinText = await readFile(join(base, "modules.builtin"), "utf8").catch(() => "");
  const deps = new Map<string, { path: string; deps: string[] }>();
  for (const line of depText.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const path = line.slice(0, colon);
    const rest = line.slice(colon + 1).trim();
    deps.set(moduleKey(path), { path, deps: rest === "" ? [] : rest.split(/\s+/) });
  }
  const builtin = new Set(
    builtinText
      .split("\n")
      .filter((l) => l !== "")
      .map(moduleKey),
  );

  const order: string[] = [];
  const done = new Set<string>();
  const visiting = new Set<string>();
  const visit = (key: string, chain: readonly string[]): void => {
    if (done.has(key)) return;
    const entry = deps.get(key);
    if (entry === undefined) {
      if (builtin.has(key)) return;
      throw new Error(`Cannot find kernel module "${key}" (needed by "${chain.join(" -> ")}") in "${base}"`);
    }
    if (visiting.has(key)) throw new Error(`Cannot order kernel modules: "${key}" depends on itself`);
    visiting.add(key);
    for (const dep of entry.deps) visit(moduleKey(dep), [...chain, key]);
    visiting.delete(key);
    done.add(key);
    order.push(entry.path);
  };
  for (const name of wanted) visit(moduleKey(name), [name]);
  return order;
}

/** Hash of the kernel, every file's path, size and mtime, the contents of generated entries and the format version. */
async function hashInputs(kernel: string, entries: readonly ImageEntry[]): Promise<string> {
  const hash = createHash("sha256");
  hash.update(`vmnet-guest-image ${GUEST_IMAGE_FORMAT}\n`);
  const kernelStat = await stat(kernel);
  hash.update(`kernel ${kernel} ${kernelStat.size} ${kernelStat.mtimeMs}\n`);
  for (const entry of entries) {
    switch (entry.kind) {
      case "dir":
        hash.update(`dir ${entry.path}\n`);
        break;
      case "file": {
        const s = await stat(entry.source);
        hash.update(`file ${entry.path} ${entry.source} ${entry.mode} ${s.size} ${s.mtimeMs}\n`);
        // Scripts are small and edited in place within one mtime tick by tools and tests; hash their content too.
        if (entry.source.startsWith(GUEST_SOURCE_DIR) || entry.path === "/init")
          hash.update(await readFile(entry.source));
        break;
      }
      case "module": {
        const s = await stat(entry.source);
        hash.update(`module ${entry.path} ${entry.source} ${s.size} ${s.mtimeMs}\n`);
        break;
      }
      case "data":
        hash.update(`data ${entry.path} ${entry.mode} ${entry.data.length}\n`);
        hash.update(entry.data);
        break;
      case "symlink":
        hash.update(`symlink ${entry.path} ${entry.target}\n`);
        break;
      case "chardev":
        hash.update(`chardev ${entry.path} ${entry.major}:${entry.minor}\n`);
        break;
    }
  }
  return hash.digest("hex").slice(0, 16);
}

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

/** Serialises `entries` as a newc ("070701") cpio archive, the format the kernel unpacks into its rootfs. */
async function writeCpio(entries: readonly ImageEntry[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let ino = 1;
  for (const entry of entries) {
    switch (entry.kind) {
      case "dir":
        chunks.push(
          ...cpioRecord({ name: entry.path, mode: S_IFDIR | 0o755, ino: ino++, nlink: 2, data: Buffer.alloc(0) }),
        );
        break;
      case "file": {
        // Host libraries are often symlinks (libc.so.6 -> libc-2.36.so); the image gets the target's bytes.
        const data = await readFile(await realpath(entry.source));
        chunks.push(...cpioRecord({ name: entry.path, mode: S_IFREG | entry.mode, ino: ino++, nlink: 1, data }));
        break;
      }
      case "module": {
        const data = await readModule(entry.source);
        chunks.push(...cpioRecord({ name: entry.path, mode: S_IFREG | 0o644, ino: ino++, nlink: 1, data }));
        break;
      }
      case "data":
        chunks.push(
          ...cpioRecord({ name: entry.path, mode: S_IFREG | entry.mode, ino: ino++, nlink: 1, data: entry.data }),
        );
        break;
      case "symlink":
        chunks.push(
          ...cpioRecord({
            name: entry.path,
            mode: S_IFLNK | 0o777,
            ino: ino++,
            nlink: 1,
            data: Buffer.from(entry.target),
          }),
        );
        break;
      case "chardev":
        chunks.push(
          ...cpioRecord({
            name: entry.path,
            mode: S_IFCHR | 0o600,
            ino: ino++,
            nlink: 1,
            data: Buffer.alloc(0),
            rdevMajor: entry.major,
            rdevMinor: entry.minor,
          }),
        );
        break;
    }
  }
  chunks.push(...cpioRecord({ name: "TRAILER!!!", mode: 0, ino: 0, nlink: 1, data: Buffer.alloc(0) }));
  return Buffer.concat(chunks);
}

interface CpioRecord {
  readonly name: string;
  readonly mode: number;
  readonly ino: number;
  readonly nlink: number;
  readonly data: Buffer;
  readonly rdevMajor?: number;
  readonly rdevMinor?: number;
}

/** One newc header + name + data, each padded to 4 bytes. mtime is 0 so identical inputs give identical archives. */
export function cpioRecord(record: CpioRecord): Buffer[] {
  const name = record.name.replace(/^\/+/, "");
  const nameBytes = Buffer.from(`${name}\0`);
  const fields = [
    record.ino,
    record.mode,
    0, // uid
    0, // gid
    record.nlink,
    0, // mtime
    record.data.length,
    0, // devmajor
    0, // devminor
    record.rdevMajor ?? 0,
    record.rdevMinor ?? 0,
    nameBytes.length,
    0, // check
  ];
  const header = Buffer.from(`070701${fields.map((f) => f.toString(16).padStart(8, "0")).join("")}`, "ascii");
  const pad = (n: number): Buffer => Buffer.alloc((4 - (n % 4)) % 4);
  return [header, nameBytes, pad(header.length + nameBytes.length), record.data, pad(record.data.length)];
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
