/**
 * SR-IOV discovery from sysfs: which PCI functions are VFs (`physfn` link) of which PF (`virtfnN` links), which
 * driver each is bound to (`driver` link: `vfio-pci` means ready for passthrough), its IOMMU group (the
 * `/dev/vfio/<group>` node QEMU and Cloud Hypervisor open), vendor/device ids and netdev names. Read-only; the sysfs
 * root is an option so tests run against a fixture tree.
 */

import { readdir, readFile, readlink, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { PciAddress } from "../hypervisor/nic-models.ts";

/** The driver a VF must be bound to for VFIO passthrough. */
export const VFIO_PCI_DRIVER = "vfio-pci";

/** Options of the sysfs readers. */
export interface SysfsOptions {
  /** The sysfs mount; default `/sys`. */
  readonly root?: string;
}

/** One PCI function as sysfs shows it. */
export interface PciFunction {
  /** Canonical `dddd:bb:ss.f`. */
  readonly address: string;
  /** `0x8086`. */
  readonly vendor: string;
  readonly device: string;
  /** Basename of the `driver` link; absent when unbound. */
  readonly driver?: string;
  /** Basename of the `iommu_group` link; absent without an IOMMU. */
  readonly iommuGroup?: number;
  /** Interfaces under `net/` (only with a netdev driver bound). */
  readonly netdevs: readonly string[];
  /** For a VF: its PF's address, from the `physfn` link. */
  readonly physfn?: string;
  /** For a PF: `sriov_totalvfs`, absent when the function has no SR-IOV capability. */
  readonly totalVfs?: number;
  /** For a PF: `sriov_numvfs`. */
  readonly numVfs?: number;
}

/** A VF with its place under its PF. */
export interface VirtualFunction extends PciFunction {
  readonly physfn: string;
  /** N of the PF's `virtfnN` link pointing at it. */
  readonly vfIndex: number;
  /** The PF's netdev names (where the PF's driver exposes them), e.g. to name the VF as `<pf>vf<N>`. */
  readonly pfNetdevs: readonly string[];
}

const devicesDir = (root: string) => join(root, "bus", "pci", "devices");

async function optionalText(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, "utf8")).trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

async function optionalLink(path: string): Promise<string | undefined> {
  try {
    return basename(await readlink(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "EINVAL") return undefined;
    throw e;
  }
}

async function optionalDir(path: string): Promise<string[]> {
  try {
    return (await readdir(path)).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
}

function decimal(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/u.test(text)) throw new SyntaxError(`Cannot parse ${what} "${text}": expected a decimal number`);
  return Number.parseInt(text, 10);
}

function canonical(text: string): string {
  return PciAddress.parse(text).toString();
}

/**
 * Reads one PCI function. RangeError when `address` is not under `<root>/bus/pci/devices`; SyntaxError for a
 * malformed address or counter file.
 */
export async function readPciFunction(address: string, options: SysfsOptions = {}): Promise<PciFunction> {
  const addr = canonical(address);
  const dir = join(devicesDir(options.root ?? "/sys"), addr);
  try {
    await stat(dir);
  } catch (cause) {
    throw new RangeError(`Cannot read PCI function "${addr}": no such device in sysfs`, { cause });
  }
  const [vendor, device, driver, group, physfn, total, num, netdevs] = await Promise.all([
    optionalText(join(dir, "vendor")),
    optionalText(join(dir, "device")),
    optionalLink(join(dir, "driver")),
    optionalLink(join(dir, "iommu_group")),
    optionalLink(join(dir, "physfn")),
    optionalText(join(dir, "sriov_totalvfs")),
    optionalText(join(dir, "sriov_numvfs")),
    optionalDir(join(dir, "net")),
  ]);
  const iommuGroup = decimal(group, "IOMMU group");
  const totalVfs = decimal(total, "sriov_totalvfs");
  const numVfs = decimal(num, "sriov_numvfs");
  return {
    address: addr,
    vendor: vendor ?? "",
    device: device ?? "",
    ...(driver === undefined ? {} : { driver }),
    ...(iommuGroup === undefined ? {} : { iommuGroup }),
    netdevs,
    ...(physfn === undefined ? {} : { physfn: canonical(physfn) }),
    ...(totalVfs === undefined ? {} : { totalVfs }),
    ...(numVfs === undefined ? {} : { numVfs }),
  };
}

/** Every PCI function address under `<root>/bus/pci/devices`, sorted. */
export async function listPciAddresses(options: SysfsOptions = {}): Promise<string[]> {
  return (await optionalDir(devicesDir(options.root ?? "/sys"))).filter((n) => {
    try {
      PciAddress.parse(n);
      return true;
    } catch {
      return false;
    }
  });
}

/** The VFs of one PF from its `virtfnN` links, in N order. RangeError when `pf` does not exist. */
export async function listVfs(pf: string, options: SysfsOptions = {}): Promise<VirtualFunction[]> {
  const parent = await readPciFunction(pf, options);
  const dir = join(devicesDir(options.root ?? "/sys"), parent.address);
  const links = (await optionalDir(dir))
    .map((n) => /^virtfn(\d+)$/u.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ name: m[0], index: Number.parseInt(m[1] ?? "", 10) }))
    .sort((a, b) => a.index - b.index);
  const out: VirtualFunction[] = [];
  for (const l of links) {
    const target = basename(await readlink(join(dir, l.name)));
    const vf = await readPciFunction(target, options);
    out.push({ ...vf, physfn: parent.address, vfIndex: l.index, pfNetdevs: parent.netdevs });
  }
  return out;
}

/** Every VF on the host, grouped by PF address order then VF index. */
export async function discoverVfs(options: SysfsOptions = {}): Promise<VirtualFunction[]> {
  const out: VirtualFunction[] = [];
  for (const a of await listPciAddresses(options)) {
    const f = await readPciFunction(a, options);
    if (f.totalVfs !== undefined && f.physfn === undefined) out.push(...(await listVfs(a, options)));
  }
  return out;
}

/** Why a function cannot be passed through with VFIO, or nothing when it can. */
export function vfioProblems(f: PciFunction): string[] {
  const problems: string[] = [];
  if (f.driver !== VFIO_PCI_DRIVER) {
    problems.push(
      f.driver === undefined
        ? `PCI function "${f.address}" is bound to no driver, not "${VFIO_PCI_DRIVER}"`
        : `PCI function "${f.address}" is bound to "${f.driver}", not "${VFIO_PCI_DRIVER}"`,
    );
  }
  if (f.iommuGroup === undefined) problems.push(`PCI function "${f.address}" has no IOMMU group`);
  return problems;
}

/** The VFIO group device node of a function, `/dev/vfio/<group>`; undefined without an IOMMU group. */
export function vfioGroupDevice(f: PciFunction): string | undefined {
  return f.iommuGroup === undefined ? undefined : `/dev/vfio/${f.iommuGroup}`;
}
