/**
 * Which QEMU accelerator boots guests on this host. /dev/kvm can exist and still hang nested guests at boot, so KVM
 * counts only after a real boot of the project image reaches the guest's ready marker within a short timeout; anything
 * else means TCG. The verdict is cached per host boot, kernel release and QEMU version.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import { access, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { promisify } from "node:util";
import { cachedProbe, resolveOnPath } from "../host/probe-cache.ts";
import { DEFAULT_GUEST_CACHE_DIR, GUEST_READY_MARKER, guestCommandLine } from "../lab/guest-image.ts";

const execFileAsync = promisify(execFile);

/** QEMU accelerators vmnet uses. */
export const Accel = {
  Kvm: "kvm",
  Tcg: "tcg",
} as const;

/** A QEMU accelerator name. */
export type Accel = (typeof Accel)[keyof typeof Accel];

/** Options of {@link probeAccel}. */
export interface ProbeAccelOptions {
  readonly kernel: string;
  readonly initrd: string;
  /** How long a KVM boot may take to print the ready marker; default 20 s. */
  readonly timeoutMs?: number;
  /** Where the verdict is cached; default the guest image cache directory. */
  readonly cacheDir?: string;
  /** QEMU binary; default qemu-system-x86_64. */
  readonly qemu?: string;
  /** KVM device; default /dev/kvm. */
  readonly kvmDevice?: string;
}

interface CachedVerdict {
  readonly accel: Accel;
  readonly bootId: string;
  readonly kernel: string;
  readonly qemuVersion: string;
  readonly reason: string;
}

/** Returns "kvm" when a KVM guest boots to its ready marker, else "tcg"; cached per host boot. */
export async function probeAccel(options: ProbeAccelOptions): Promise<Accel> {
  const qemu = options.qemu ?? "qemu-system-x86_64";
  const kvmDevice = options.kvmDevice ?? "/dev/kvm";
  const cacheDir = options.cacheDir ?? DEFAULT_GUEST_CACHE_DIR;
  const qemuVersion = await qemuVersionOf(qemu);
  const bootId = (await readFile("/proc/sys/kernel/random/boot_id", "utf8")).trim();
  const kernel = basename(options.kernel);
  const cacheFile = join(cacheDir, `accel-${sanitize(kernel)}-${sanitize(qemuVersion)}.json`);

  const cached = await readVerdict(cacheFile);
  if (cached !== undefined && cached.bootId === bootId) return cached.accel;

  let accel: Accel = Accel.Tcg;
  let reason: string;
  if (!(await kvmUsable(kvmDevice))) {
    reason = `"${kvmDevice}" is not readable and writable`;
  } else {
    const boot = await bootUntilReady(qemu, options, options.timeoutMs ?? 20_000);
    if (boot.ready) accel = Accel.Kvm;
    reason = boot.detail;
  }
  const verdict: CachedVerdict = { accel, bootId, kernel, qemuVersion, reason };
  await mkdir(cacheDir, { recursive: true });
  const temp = `${cacheFile}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(temp, `${JSON.stringify(verdict, null, 2)}\n`);
  await rename(temp, cacheFile);
  return accel;
}

/** The QEMU argv that selects `accel` (KVM also exposes the host CPU; TCG emulates QEMU's default model). */
export function accelArgs(accel: Accel): string[] {
  return accel === Accel.Kvm ? ["-accel", "kvm", "-cpu", "host"] : ["-accel", "tcg"];
}

/** What {@link serialBootArgs} boots: a kernel, its initrd and its command line. */
export interface SerialBoot {
  readonly kernel: string;
  readonly initrd: string;
  readonly append: string;
}

/**
 * QEMU argv that boots `boot` under `accel` with 256 MiB, no default devices and the serial console on stdio (where
 * the project guest prints its ready marker); `-no-reboot` makes a guest that panics exit instead of looping. Callers
 * add NICs and channels after it.
 */
export function serialBootArgs(accel: Accel, boot: SerialBoot): string[] {
  return [
    ...accelArgs(accel),
    "-m",
    "256",
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    "-serial",
    "stdio",
    "-no-reboot",
    "-kernel",
    boot.kernel,
    "-initrd",
    boot.initrd,
    "-append",
    boot.append,
  ];
}

/** "QEMU emulator version 7.2.22 (Debian ...)" -> "7.2.22". */
async function qemuVersionOf(qemu: string): Promise<string> {
  const binary = await resolveOnPath(qemu);
  return binary === undefined
    ? askQemuVersion(qemu)
    : cachedProbe("qemu-version", [binary], () => askQemuVersion(qemu));
}

async function askQemuVersion(qemu: string): Promise<string> {
  const { stdout } = await execFileAsync(qemu, ["--version"]);
  const match = /version\s+(\S+)/.exec(stdout);
  if (match?.[1] === undefined) throw new Error(`Cannot read the QEMU version from "${stdout.split("\n")[0] ?? ""}"`);
  return match[1];
}

function sanitize(value: string): string {
  return value.replace(/[^A-Za-z0-9._-]/g, "_");
}

async function readVerdict(file: string): Promise<CachedVerdict | undefined> {
  try {
    const parsed: unknown = JSON.parse(await readFile(file, "utf8"));
    if (typeof parsed !== "object" || parsed === null) return undefined;
    const { accel, bootId } = parsed as Record<string, unknown>;
    if ((accel !== Accel.Kvm && accel !== Accel.Tcg) || typeof bootId !== "string") return undefined;
    return parsed as CachedVerdict;
  } catch {
    return undefined;
  }
}

async function kvmUsable(device: string): Promise<boolean> {
  try {
    await access(device, fsConstants.R_OK | fsConstants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Boots the image under KVM with no NIC and waits for the ready marker; the guest is always killed afterwards. */
async function bootUntilReady(
  qemu: string,
  options: ProbeAccelOptions,
  timeoutMs: number,
): Promise<{ ready: boolean; detail: string }> {
  const args = serialBootArgs(Accel.Kvm, {
    kernel: options.kernel,
    initrd: options.initrd,
    append: guestCommandLine({ net: [] }),
  });
  const child = spawn(qemu, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  try {
    return await new Promise((resolve) => {
      const timer = setTimeout(
        () => resolve({ ready: false, detail: `no ready marker within ${timeoutMs} ms under KVM` }),
        timeoutMs,
      );
      const onData = (chunk: Buffer): void => {
        output += chunk.toString("latin1");
        if (output.includes(GUEST_READY_MARKER)) {
          clearTimeout(timer);
          resolve({ ready: true, detail: "guest booted to its ready marker under KVM" });
        }
      };
      child.stdout?.on("data", onData);
      child.stderr?.on("data", onData);
      child.on("error", (error) => {
        clearTimeout(timer);
        resolve({ ready: false, detail: `cannot start "${qemu}": ${error.message}` });
      });
      child.on("exit", (code, signal) => {
        clearTimeout(timer);
        resolve({
          ready: false,
          detail: `QEMU exited (${signal ?? code}) before the ready marker: ${output.slice(-300)}`,
        });
      });
    });
  } finally {
    await killAndWait(child);
  }
}

/** SIGKILL (a vCPU stuck in KVM ignores SIGTERM's orderly path) and wait for the exit, bounded. */
async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGKILL");
  await Promise.race([exited, new Promise<void>((resolve) => setTimeout(resolve, 5_000).unref())]);
}
