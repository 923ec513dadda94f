/**
 * The NIC model table, in one place: for each KubeVirt model name, the QEMU device that emulates it, the libvirt
 * `<model type>` string, and which virtio-only features (host MTU, multiqueue) it has. Also the guest PCI address
 * value object both the QEMU argv and the libvirt XML renderers use.
 */
import { execFile } from "node:child_process";
import type { NicModel } from "../api/model.ts";
import { cachedProbe, resolveOnPath } from "../host/probe-cache.ts";

/** What vmnet knows about one NIC model. */
export interface NicModelInfo {
  readonly model: NicModel;
  /** QEMU device names, preferred first; the first one the QEMU binary has is used. */
  readonly qemuDevices: readonly string[];
  /** QEMU devices when `useVirtioTransitional` is set (virtio only; others ignore the flag). */
  readonly qemuDevicesTransitional: readonly string[];
  /** libvirt `<model type>`. */
  readonly libvirtModel: string;
  /** libvirt `<model type>` when `useVirtioTransitional` is set. */
  readonly libvirtModelTransitional: string;
  /** Whether the device can tell the guest its MTU (`host_mtu`, the virtio-net MTU feature). */
  readonly hostMtu: boolean;
  /** Whether the device has more than one queue pair (`mq=on`). */
  readonly multiqueue: boolean;
}

function emulated(model: NicModel, device: string): NicModelInfo {
  return {
    model,
    qemuDevices: [device],
    qemuDevicesTransitional: [device],
    libvirtModel: model,
    libvirtModelTransitional: model,
    hostMtu: false,
    multiqueue: false,
  };
}

/**
 * The model table. The plain `virtio-net-pci` fallback matters for old QEMUs without the (non-)transitional variants:
 * it is transitional on conventional PCI and modern-only on PCIe ports, which is what the named variants pin down.
 */
export const NIC_MODELS: Readonly<Record<NicModel, NicModelInfo>> = {
  virtio: {
    model: "virtio",
    qemuDevices: ["virtio-net-pci-non-transitional", "virtio-net-pci"],
    qemuDevicesTransitional: ["virtio-net-pci-transitional", "virtio-net-pci"],
    libvirtModel: "virtio-non-transitional",
    libvirtModelTransitional: "virtio-transitional",
    hostMtu: true,
    multiqueue: true,
  },
  e1000: emulated("e1000", "e1000"),
  e1000e: emulated("e1000e", "e1000e"),
  igb: emulated("igb", "igb"),
  rtl8139: emulated("rtl8139", "rtl8139"),
  ne2k_pci: emulated("ne2k_pci", "ne2k_pci"),
  pcnet: emulated("pcnet", "pcnet"),
};

/** The table entry of `model`; TypeError for a name that is not a NIC model. */
export function nicModelInfo(model: string): NicModelInfo {
  const info = (NIC_MODELS as Readonly<Record<string, NicModelInfo | undefined>>)[model];
  if (info === undefined) throw new TypeError(`Cannot use NIC model "${model}": it is not a known model`);
  return info;
}

/** The NIC model's QEMU device was not built into this QEMU (e.g. `igb` before QEMU 8.0). */
export class NicModelUnavailableError extends Error {
  override readonly name = "NicModelUnavailableError";
  /** Stable code to branch on. */
  readonly code = "nic_model_unavailable";
  /** A different QEMU binary is needed; retrying with this one never helps. */
  readonly retryable = false;

  constructor(
    readonly model: NicModel,
    readonly wanted: readonly string[],
  ) {
    super(
      `Cannot use NIC model "${model}": this QEMU has none of the devices ${wanted.map((d) => `"${d}"`).join(", ")}`,
    );
  }
}

/** Options of {@link qemuNicDevice}. */
export interface QemuNicDeviceOptions {
  /** `useVirtioTransitional`. */
  readonly transitional?: boolean;
  /** Device names the QEMU binary has ({@link probeQemuDevices}); every table device is assumed present when absent. */
  readonly available?: ReadonlySet<string>;
}

/** The QEMU device for `model`; NicModelUnavailableError when the QEMU binary has none of its devices. */
export function qemuNicDevice(model: NicModel, options: QemuNicDeviceOptions = {}): string {
  const info = nicModelInfo(model);
  const wanted = options.transitional ? info.qemuDevicesTransitional : info.qemuDevices;
  const found = options.available === undefined ? wanted[0] : wanted.find((d) => options.available?.has(d));
  if (found === undefined) throw new NicModelUnavailableError(model, wanted);
  return found;
}

/** The libvirt `<model type>` of `model`. */
export function libvirtNicModel(model: NicModel, options: { readonly transitional?: boolean } = {}): string {
  const info = nicModelInfo(model);
  return options.transitional ? info.libvirtModelTransitional : info.libvirtModel;
}

/** Device names listed by `qemu-system-x86_64 -device help` (lines `name "virtio-net-pci", bus PCI, …`). */
export function parseDeviceHelp(text: string): ReadonlySet<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^name "([^"]+)"/gmu)) if (m[1] !== undefined) names.add(m[1]);
  return names;
}

const probed = new Map<string, Promise<ReadonlySet<string>>>();

/**
 * The device names the QEMU binary has, probed with `-device help` once per binary and kept for the process and on
 * disk (src/host/probe-cache.ts): the answer only changes when the binary does. A failed probe is not cached.
 */
export function probeQemuDevices(binary = "qemu-system-x86_64"): Promise<ReadonlySet<string>> {
  const cached = probed.get(binary);
  if (cached !== undefined) return cached;
  const probe = resolveOnPath(binary).then(async (path) => {
    const names =
      path === undefined
        ? await askDevices(binary)
        : await cachedProbe("qemu-devices", [path], () => askDevices(binary));
    return new Set(names) as ReadonlySet<string>;
  });
  probed.set(binary, probe);
  probe.catch(() => probed.delete(binary));
  return probe;
}

function askDevices(binary: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile(binary, ["-device", "help"], { timeout: 20_000, maxBuffer: 4 << 20 }, (error, stdout, stderr) => {
      if (error) {
        reject(
          new Error(`Cannot list the devices of "${binary}": ${stderr.trim() || error.message}`, { cause: error }),
        );
        return;
      }
      resolve([...parseDeviceHelp(`${stdout}\n${stderr}`)].sort());
    });
  });
}

const PCI_ADDRESS = /^([0-9a-fA-F]{4}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])$/u;

/** A guest PCI address `DDDD:BB:SS.F`, as KubeVirt's `pciAddress`. */
export class PciAddress {
  private constructor(
    readonly domain: number,
    readonly bus: number,
    readonly slot: number,
    readonly fn: number,
  ) {}

  /**
   * Parses `0000:BB:SS.F` (hex, case-insensitive). SyntaxError for another shape, RangeError for a slot above 0x1f
   * (PCI has 32 device slots; KubeVirt's own regex lets two hex digits through).
   */
  static parse(text: string): PciAddress {
    const m = PCI_ADDRESS.exec(text);
    if (m === null) throw new SyntaxError(`Cannot parse PCI address "${text}": expected "DDDD:BB:SS.F"`);
    const [domain, bus, slot, fn] = [m[1], m[2], m[3], m[4]].map((h) => Number.parseInt(h ?? "", 16)) as [
      number,
      number,
      number,
      number,
    ];
    if (slot > 0x1f) throw new RangeError(`Cannot use PCI address "${text}": slot 0x${m[3]} is above 0x1f`);
    return new PciAddress(domain, bus, slot, fn);
  }

  /** QEMU's `addr=` value, `SS.F` in hex. */
  get qemuAddr(): string {
    return `${hex(this.slot, 2)}.${this.fn.toString(16)}`;
  }

  /** Canonical lowercase `dddd:bb:ss.f`. */
  toString(): string {
    return `${hex(this.domain, 4)}:${hex(this.bus, 2)}:${hex(this.slot, 2)}.${this.fn.toString(16)}`;
  }
}

/** `n` in lowercase hex, zero-padded to `width`. */
export function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, "0");
}
