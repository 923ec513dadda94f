/**
 * QEMU command-line arguments for a plan's guest NICs: one `-netdev` and one `-device` per NIC, the PCI bridges the
 * planned addresses need, and the QMP actions to run right after QEMU starts (link state, which no `-device` property
 * sets for every model). The same device properties drive NIC hotplug over QMP (qmp.ts), so argv and hotplug agree.
 *
 * PCI addresses (`pciAddress`, `DDDD:BB:SS.F`): the domain must be 0000. Bus 00 is the root bus (`pcie.0` on q35,
 * `pci.0` on pc). Any other bus BB becomes a controller with QEMU id `pci.<BB in decimal>`, the id libvirt gives the
 * controller of index BB, placed on the root bus at a fixed slot counted down from 0x1e (0x1f holds q35's ICH9
 * functions), skipping slots NICs claim there. On q35 that controller is a `pcie-root-port` (chassis BB, port BB) when
 * every NIC on the bus sits in slot 0, the only slot a PCIe port has; otherwise, and always on pc, a `pci-bridge`
 * (chassis_nr BB, 32 slots). The bus number the guest enumerates may differ from BB, exactly as under libvirt.
 */
import type { NicModel } from "../api/model.ts";
import type { InterfacePlan, NetworkPlan } from "../plan/plan.ts";
import { hex, NIC_MODELS, PciAddress, qemuNicDevice } from "./nic-models.ts";

/** KubeVirt caps the multiqueue count here (reference Appendix A). */
export const MAX_QUEUES = 256;

/** A QEMU property value; booleans print as `on`/`off`, lists as the key repeated once per item. */
export type QemuValue = string | number | boolean | readonly string[];

/** Ordered QEMU properties (`key=value` in argv, an object for QMP). */
export type QemuProps = Readonly<Record<string, QemuValue>>;

/** How a guest NIC reaches the host. */
export type QemuNetBackend =
  /** A tap the runtime made (bridge, masquerade): QEMU opens it by name. */
  | { readonly kind: "tap"; readonly ifname: string; readonly vhost?: boolean }
  /**
   * File descriptors QEMU inherits: a macvtap's `/dev/tap<ifindex>` opened once per queue. A macvtap cannot be
   * opened by `ifname` (TUNSETIFF on an existing non-tun device fails with EINVAL), so the fd form is the only one.
   */
  | { readonly kind: "fd"; readonly fds: readonly number[]; readonly vhostFds?: readonly number[] }
  /** Slirp, the user-mode stack (legacy `slirp` binding). */
  | {
      readonly kind: "user";
      readonly net?: string;
      readonly dnsSearch: readonly string[];
      readonly hostForwards: readonly { readonly protocol: "tcp" | "udp"; readonly port: number }[];
    }
  /** A passt process listening on a unix stream socket (legacy `passt` binding). */
  | { readonly kind: "stream"; readonly socketPath: string };

/** One guest NIC as QEMU needs it, whatever planned it. */
export interface QemuNic {
  /** The interface name; ids are derived from it ({@link qemuNetId}). */
  readonly name: string;
  readonly model: NicModel;
  /** `useVirtioTransitional` (virtio only). */
  readonly transitional?: boolean;
  readonly mac?: string;
  /** Told to the guest through `host_mtu` (virtio only; ignored for other models). */
  readonly mtu?: number;
  /** Queue pairs; above 1 turns multiqueue on (virtio only). */
  readonly queues?: number;
  readonly pciAddress?: string;
  readonly bootOrder?: number;
  /** ACPI index (`acpi-index`, stable guest names like `eno<N>`); 0 or absent means none. */
  readonly acpiIndex?: number;
  readonly linkState: "up" | "down";
  readonly backend: QemuNetBackend;
}

/** A QMP command to run once QEMU is up (started with `-S`, before `cont`). */
export interface QmpAction {
  readonly execute: string;
  readonly arguments: Readonly<Record<string, unknown>>;
}

/** One rendered NIC: its id, netdev (with `type`) and device (with `driver`) properties. */
export interface RenderedNic {
  readonly id: string;
  readonly netdev: QemuProps;
  readonly device: QemuProps;
}

/** What {@link renderQemuNet} produces. */
export interface QemuNetConfig {
  readonly argv: readonly string[];
  /** Run in order over QMP right after start (QEMU started with `-S`), before `cont`. */
  readonly postStart: readonly QmpAction[];
  /** PCI controllers generated for non-root buses, in argv order. */
  readonly controllers: readonly QemuProps[];
  /** Ids of the spare root ports (`options.spareRootPorts`), free for {@link hotplugNic}'s `bus`. */
  readonly hotplugBuses: readonly string[];
  /** The NICs in plan order. */
  readonly nics: readonly RenderedNic[];
}

/** Machine types whose root bus name vmnet knows. */
export const QemuMachine = { Q35: "q35", Pc: "pc" } as const;
export type QemuMachine = (typeof QemuMachine)[keyof typeof QemuMachine];

/** Options of {@link qemuNetArgs} and {@link renderQemuNet}. */
export interface QemuNetOptions {
  /** The `-smp` count; the planner derives the queue count from it, so a larger queue count is rejected. */
  readonly vcpus: number;
  /** Default `q35`. */
  readonly machine?: QemuMachine;
  /** Bus for NICs without `pciAddress` (e.g. a free `pcie-root-port`); QEMU picks a root-bus slot when absent. */
  readonly bus?: string;
  /** Devices this QEMU has ({@link probeQemuDevices}); every table device is assumed present when absent. */
  readonly available?: ReadonlySet<string>;
  /**
   * Empty `pcie-root-port`s to add for later NIC hotplug (q35 only; q35's root bus takes no hotplug), with ids
   * `pci.<n>` after the highest bus the NICs use; {@link kubevirtSpareRootPorts} gives KubeVirt's count. Default 0.
   */
  readonly spareRootPorts?: number;
}

/** The root bus of a machine type. */
export function rootBus(machine: QemuMachine = QemuMachine.Q35): string {
  return machine === QemuMachine.Pc ? "pci.0" : "pcie.0";
}

/** The QEMU id of a PCI controller for guest bus `bus` (libvirt's `pci.<index>`). */
export function pciControllerId(bus: number): string {
  return `pci.${bus}`;
}

/**
 * The netdev and device id of an interface: `net-<name>` with every character QEMU refuses in ids (anything but
 * letters, digits, `-`, `.`, `_`) replaced by `_`.
 */
export function qemuNetId(name: string): string {
  if (name === "") throw new TypeError("Cannot derive a QEMU id from an empty interface name");
  return `net-${name.replace(/[^A-Za-z0-9._-]/gu, "_")}`;
}

function isList(v: QemuValue): v is readonly string[] {
  return Array.isArray(v);
}

/** One argv option value: `a=b,c=d`, with commas inside values doubled as QEMU's option parser requires. */
export function renderProps(props: QemuProps): string {
  const one = (k: string, v: string | number | boolean): string => {
    const text = typeof v === "boolean" ? (v ? "on" : "off") : String(v);
    return `${k}=${text.replaceAll(",", ",,")}`;
  };
  return Object.entries(props)
    .flatMap(([k, v]) => (isList(v) ? v.map((item) => one(k, item)) : [one(k, v)]))
    .join(",");
}

/** One `-device`/`-netdev` value with the driver (or netdev type) as the leading positional value, as QEMU prints it. */
export function renderOption(props: QemuProps, leadKey: "driver" | "type"): string {
  const { [leadKey]: lead, ...rest } = props;
  if (typeof lead !== "string") throw new TypeError(`Cannot render QEMU option without "${leadKey}"`);
  const tail = renderProps(rest);
  return tail === "" ? lead : `${lead},${tail}`;
}

/** Bindings whose guest NIC is a tap the runtime made (reference §7.1: domain attachment `tap`). */
const NOT_QEMU_NICS: ReadonlySet<string> = new Set(["sriov", "vdpa", "vhostUser"]);

/** Options of {@link qemuNicOfInterface}. */
export interface NicOfInterfaceOptions {
  /**
   * For a macvtap-backed interface: the fd numbers, as QEMU will see them, of its character device opened once per
   * queue (see src/vm/macvtap-device.ts). Required for such interfaces, ignored for others.
   */
  readonly fds?: readonly number[];
}

/**
 * The QEMU NIC of a planned interface, by its guest backend: the planned tap by name (bridge, masquerade, tap
 * plugins), passt's unix socket (`stream`), QEMU's user stack (`user`, slirp) or a macvtap's fds (`options.fds`).
 * RangeError for a macvtap interface without fds; TypeError for bindings that are not QEMU NICs (SR-IOV, vDPA and
 * vhost-user are host devices or another hypervisor's).
 */
export function qemuNicOfInterface(iface: InterfacePlan, options: NicOfInterfaceOptions = {}): QemuNic {
  if (NOT_QEMU_NICS.has(iface.binding)) {
    throw new TypeError(`Cannot attach interface "${iface.name}" as a QEMU NIC: binding "${iface.binding}"`);
  }
  const g = iface.guest;
  const input: ExternalNicInput = {
    name: iface.name,
    model: g.model,
    transitional: g.domainModel === "virtio-transitional",
    mac: g.mac,
    ...(g.mtu === undefined ? {} : { mtu: g.mtu }),
    ...(g.pciAddress === undefined ? {} : { pciAddress: g.pciAddress }),
    ...(g.bootOrder === undefined ? {} : { bootOrder: g.bootOrder }),
    ...(g.acpiIndex === undefined ? {} : { acpiIndex: g.acpiIndex }),
    linkState: g.linkState,
  };
  const b = g.backend;
  if (b === undefined) return external(input, { kind: "tap", ifname: g.tapName.value }, g.queues);
  switch (b.kind) {
    case "stream":
      return passtNic({ ...input, socketPath: b.socketPath });
    case "user":
      return external(input, { kind: "user", net: b.net, dnsSearch: b.dnsSearch, hostForwards: b.hostForwards });
    case "macvtap": {
      const fds = options.fds ?? [];
      if (fds.length !== Math.max(b.queues, 1)) {
        throw new RangeError(
          `Cannot attach macvtap "${b.link.value}" of interface "${iface.name}": ${Math.max(b.queues, 1)} fds needed, ${fds.length} given`,
        );
      }
      return macvtapNic({ ...input, fds });
    }
  }
}

/** Input of {@link slirpNic}: what KubeVirt ≤ v1.0 passed for a `slirp` interface (reference Appendix C). */
export interface SlirpNicInput {
  readonly name: string;
  readonly model: NicModel;
  readonly mac?: string;
  /** `vmNetworkCIDR`; KubeVirt's default 10.0.2.0/24 when absent. */
  readonly cidr?: string;
  readonly dnsSearch?: readonly string[];
  readonly ports: readonly { readonly protocol?: string; readonly port: number }[];
  readonly pciAddress?: string;
  readonly bootOrder?: number;
  readonly linkState?: "up" | "down";
}

/** The slirp NIC: model forced to e1000 unless e1000 or rtl8139, ports de-duplicated by protocol and port. */
export function slirpNic(input: SlirpNicInput): QemuNic {
  const seen = new Set<string>();
  const hostForwards: { protocol: "tcp" | "udp"; port: number }[] = [];
  for (const p of input.ports) {
    const protocol = (p.protocol ?? "TCP").toLowerCase();
    if (protocol !== "tcp" && protocol !== "udp") {
      throw new TypeError(`Cannot forward port ${p.port} of interface "${input.name}": protocol "${p.protocol}"`);
    }
    const key = `${protocol}/${p.port}`;
    if (seen.has(key)) continue;
    seen.add(key);
    hostForwards.push({ protocol, port: p.port });
  }
  return {
    name: input.name,
    model: input.model === "e1000" || input.model === "rtl8139" ? input.model : "e1000",
    ...(input.mac === undefined ? {} : { mac: input.mac }),
    ...(input.pciAddress === undefined ? {} : { pciAddress: input.pciAddress }),
    ...(input.bootOrder === undefined ? {} : { bootOrder: input.bootOrder }),
    linkState: input.linkState ?? "up",
    backend: { kind: "user", net: input.cidr ?? "10.0.2.0/24", dnsSearch: input.dnsSearch ?? [], hostForwards },
  };
}

/** Input of {@link passtNic} and {@link macvtapNic}: the guest side of a NIC whose backend is not a planned tap. */
export interface ExternalNicInput {
  readonly name: string;
  readonly model: NicModel;
  readonly transitional?: boolean;
  readonly mac?: string;
  readonly mtu?: number;
  readonly pciAddress?: string;
  readonly bootOrder?: number;
  readonly acpiIndex?: number;
  readonly linkState?: "up" | "down";
}

function external(input: ExternalNicInput, backend: QemuNetBackend, queues?: number): QemuNic {
  return {
    name: input.name,
    model: input.model,
    ...(input.transitional === undefined ? {} : { transitional: input.transitional }),
    ...(input.mac === undefined ? {} : { mac: input.mac }),
    ...(input.mtu === undefined ? {} : { mtu: input.mtu }),
    ...(queues === undefined ? {} : { queues }),
    ...(input.pciAddress === undefined ? {} : { pciAddress: input.pciAddress }),
    ...(input.bootOrder === undefined ? {} : { bootOrder: input.bootOrder }),
    ...(input.acpiIndex === undefined ? {} : { acpiIndex: input.acpiIndex }),
    linkState: input.linkState ?? "up",
    backend,
  };
}

/** A NIC backed by passt's unix stream socket (`passt --socket <path>`). */
export function passtNic(input: ExternalNicInput & { readonly socketPath: string }): QemuNic {
  return external(input, { kind: "stream", socketPath: input.socketPath });
}

/**
 * A NIC backed by a macvtap: `fds` are `/dev/tap<ifindex>` opened once per queue and handed to QEMU (e.g. as
 * stdio-inherited fds 3, 4, …); more than one fd means multiqueue.
 */
export function macvtapNic(
  input: ExternalNicInput & { readonly fds: readonly number[]; readonly vhostFds?: readonly number[] },
): QemuNic {
  if (input.fds.length === 0) throw new RangeError(`Cannot attach macvtap of interface "${input.name}": no fd given`);
  const backend: QemuNetBackend = {
    kind: "fd",
    fds: input.fds,
    ...(input.vhostFds === undefined ? {} : { vhostFds: input.vhostFds }),
  };
  return external(input, backend, input.fds.length > 1 ? input.fds.length : undefined);
}

/** The character device path of a macvtap link with this ifindex. */
export function macvtapDevicePath(ifindex: number): string {
  return `/dev/tap${ifindex}`;
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/u;

function queuesOf(nic: QemuNic, vcpus: number): number {
  const q = nic.queues ?? 1;
  if (!Number.isInteger(q) || q < 1 || q > MAX_QUEUES) {
    throw new RangeError(`Cannot use ${q} queues on interface "${nic.name}": expected 1 to ${MAX_QUEUES}`);
  }
  if (q > 1 && !NIC_MODELS[nic.model].multiqueue) {
    throw new RangeError(`Cannot use ${q} queues on interface "${nic.name}": model "${nic.model}" has one queue`);
  }
  if (q > Math.max(vcpus, 1)) {
    throw new RangeError(`Cannot use ${q} queues on interface "${nic.name}": the VM has only ${vcpus} vCPUs`);
  }
  return q;
}

/** The `-netdev` properties of a NIC (`type` first). */
export function netdevProps(nic: QemuNic, id: string, queues: number): QemuProps {
  const b = nic.backend;
  switch (b.kind) {
    case "tap":
      return {
        type: "tap",
        id,
        ifname: b.ifname,
        script: "no",
        downscript: "no",
        ...(queues > 1 ? { queues } : {}),
        vhost: b.vhost === true,
      };
    case "fd":
      if (b.vhostFds !== undefined && b.vhostFds.length !== b.fds.length) {
        throw new RangeError(
          `Cannot attach interface "${nic.name}": ${b.fds.length} fds but ${b.vhostFds.length} vhost fds`,
        );
      }
      return {
        type: "tap",
        id,
        ...(b.fds.length === 1 ? { fd: String(b.fds[0]) } : { fds: b.fds.join(":") }),
        ...(b.vhostFds === undefined
          ? { vhost: false }
          : b.vhostFds.length === 1
            ? { vhost: true, vhostfd: String(b.vhostFds[0]) }
            : { vhost: true, vhostfds: b.vhostFds.join(":") }),
      };
    case "user":
      return {
        type: "user",
        id,
        ...(b.net === undefined ? {} : { net: b.net }),
        ...(b.dnsSearch.length === 0 ? {} : { dnssearch: b.dnsSearch }),
        ...(b.hostForwards.length === 0
          ? {}
          : { hostfwd: b.hostForwards.map((f) => `${f.protocol}::${f.port}-:${f.port}`) }),
      };
    case "stream":
      return { type: "stream", id, server: false, "addr.type": "unix", "addr.path": b.socketPath };
  }
}

/** Options of {@link deviceProps}. */
export interface DevicePropsOptions {
  readonly queues: number;
  readonly available?: ReadonlySet<string>;
  /** Bus and address, already resolved. */
  readonly bus?: string;
  readonly addr?: string;
  readonly multifunction?: boolean;
}

/** The `-device` properties of a NIC (`driver` first). */
export function deviceProps(nic: QemuNic, id: string, options: DevicePropsOptions): QemuProps {
  const info = NIC_MODELS[nic.model];
  const driver = qemuNicDevice(nic.model, {
    transitional: nic.transitional === true,
    ...(options.available === undefined ? {} : { available: options.available }),
  });
  if (nic.mac !== undefined && !MAC.test(nic.mac)) {
    throw new SyntaxError(
      `Cannot use MAC address "${nic.mac}" of interface "${nic.name}": expected lowercase colon form`,
    );
  }
  const q = options.queues;
  return {
    driver,
    netdev: id,
    id,
    ...(nic.mac === undefined ? {} : { mac: nic.mac }),
    ...(info.hostMtu && nic.mtu !== undefined ? { host_mtu: nic.mtu } : {}),
    ...(q > 1 ? { mq: true, vectors: 2 * q + 2 } : {}),
    ...(options.bus === undefined ? {} : { bus: options.bus }),
    ...(options.addr === undefined ? {} : { addr: options.addr }),
    ...(options.multifunction ? { multifunction: true } : {}),
    ...(nic.acpiIndex !== undefined && nic.acpiIndex > 0 ? { "acpi-index": nic.acpiIndex } : {}),
    // No bootOrder: no option ROM, as KubeVirt's <rom enabled="no"/> (the NIC cannot be booted from anyway).
    ...(nic.bootOrder === undefined ? { romfile: "" } : { bootindex: nic.bootOrder }),
  };
}

interface Placed {
  readonly nic: QemuNic;
  readonly id: string;
  readonly address?: PciAddress;
}

/** PCI controllers for non-root buses, then `spare` empty root ports, with root slots counted down from 0x1e. */
function controllersFor(placed: readonly Placed[], machine: QemuMachine, spare: number): QemuProps[] {
  const root = rootBus(machine);
  const used = new Set(placed.filter((p) => p.address?.bus === 0).map((p) => p.address?.slot));
  const buses = new Map<number, Placed[]>();
  for (const p of placed) {
    if (p.address === undefined || p.address.bus === 0) continue;
    buses.set(p.address.bus, [...(buses.get(p.address.bus) ?? []), p]);
  }
  let slot = 0x1e;
  const nextSlot = (what: string): string => {
    while (used.has(slot)) slot--;
    if (slot < 1) throw new RangeError(`Cannot place ${what}: no free slot left on the root bus`);
    used.add(slot);
    return `${hex(slot, 2)}.0`;
  };
  const out: QemuProps[] = [];
  for (const bus of [...buses.keys()].sort((a, b) => a - b)) {
    const addr = nextSlot(`a PCI controller for bus 0x${hex(bus, 2)}`);
    const onlySlotZero = (buses.get(bus) ?? []).every((p) => p.address?.slot === 0);
    out.push(
      machine === QemuMachine.Q35 && onlySlotZero
        ? { driver: "pcie-root-port", id: pciControllerId(bus), bus: root, addr, chassis: bus, port: bus }
        : { driver: "pci-bridge", id: pciControllerId(bus), bus: root, addr, chassis_nr: bus },
    );
  }
  if (spare > 0 && machine !== QemuMachine.Q35) {
    throw new RangeError(`Cannot add ${spare} spare PCIe root ports to machine "${machine}": only q35 has PCIe`);
  }
  let bus = Math.max(0, ...buses.keys());
  for (let i = 0; i < spare; i++) {
    bus++;
    if (bus > 0xff) throw new RangeError(`Cannot add ${spare} spare PCIe root ports: bus numbers run out`);
    const addr = nextSlot(`spare PCIe root port ${i + 1}`);
    out.push({ driver: "pcie-root-port", id: pciControllerId(bus), bus: root, addr, chassis: bus, port: bus });
  }
  return out;
}

/**
 * How many empty PCIe root ports KubeVirt leaves for NIC hotplug on q35 (reference §7.6): 4 minus the interface
 * count when there is at least one interface, never negative.
 */
export function kubevirtSpareRootPorts(interfaceCount: number): number {
  return interfaceCount > 0 ? Math.max(0, 4 - interfaceCount) : 0;
}

/**
 * Renders argv for `nics`: the PCI controllers first, then every `-netdev` in NIC order, then the `-device`s of NICs
 * with a `pciAddress` before those without, so QEMU's automatic slot choice cannot take a slot a later NIC names.
 * Throws TypeError, RangeError or SyntaxError (bad address, MAC, queue count, duplicate id) and
 * NicModelUnavailableError.
 */
export function renderQemuNet(nics: readonly QemuNic[], options: QemuNetOptions): QemuNetConfig {
  const machine = options.machine ?? QemuMachine.Q35;
  const ids = new Set<string>();
  const placed: Placed[] = nics.map((nic) => {
    const id = qemuNetId(nic.name);
    if (ids.has(id)) throw new TypeError(`Cannot use QEMU id "${id}" for interface "${nic.name}": another NIC has it`);
    ids.add(id);
    if (nic.pciAddress === undefined) return { nic, id };
    const address = PciAddress.parse(nic.pciAddress);
    if (address.domain !== 0) {
      throw new RangeError(
        `Cannot use PCI address "${nic.pciAddress}" of interface "${nic.name}": domain must be 0000`,
      );
    }
    return { nic, id, address };
  });
  const slotOwners = new Map<string, Placed[]>();
  for (const p of placed) {
    if (p.address === undefined) continue;
    const key = `${p.address.bus}:${p.address.slot}`;
    const owners = slotOwners.get(key) ?? [];
    if (owners.some((o) => o.address?.fn === p.address?.fn)) {
      throw new RangeError(`Cannot use PCI address "${p.nic.pciAddress}" of interface "${p.nic.name}": it is taken`);
    }
    slotOwners.set(key, [...owners, p]);
  }
  const controllers = controllersFor(placed, machine, options.spareRootPorts ?? 0);
  const hotplugBuses = controllers.slice(controllers.length - (options.spareRootPorts ?? 0)).map((c) => String(c.id));
  const rendered: RenderedNic[] = placed.map((p) => {
    const queues = queuesOf(p.nic, options.vcpus);
    const a = p.address;
    const shared = a !== undefined && (slotOwners.get(`${a.bus}:${a.slot}`)?.length ?? 0) > 1;
    const bus = a === undefined ? options.bus : a.bus === 0 ? rootBus(machine) : pciControllerId(a.bus);
    return {
      id: p.id,
      netdev: netdevProps(p.nic, p.id, queues),
      device: deviceProps(p.nic, p.id, {
        queues,
        ...(options.available === undefined ? {} : { available: options.available }),
        ...(bus === undefined ? {} : { bus }),
        ...(a === undefined ? {} : { addr: a.qemuAddr }),
        multifunction: shared && a?.fn === 0,
      }),
    };
  });
  const argv: string[] = [];
  for (const c of controllers) argv.push("-device", renderOption(c, "driver"));
  for (const r of rendered) argv.push("-netdev", renderOption(r.netdev, "type"));
  const addressed = rendered.filter((_, i) => placed[i]?.address !== undefined);
  const automatic = rendered.filter((_, i) => placed[i]?.address === undefined);
  for (const r of [...addressed, ...automatic]) argv.push("-device", renderOption(r.device, "driver"));
  const postStart: QmpAction[] = placed
    .filter((p) => p.nic.linkState === "down")
    .map((p) => ({ execute: "set_link", arguments: { name: p.id, up: false } }));
  return { argv, postStart, controllers, hotplugBuses, nics: rendered };
}

/** The QEMU NICs of every interface of `plan`; `fds` gives macvtap-backed interfaces' fds by interface name. */
export function qemuNicsOf(plan: NetworkPlan, fds: Readonly<Record<string, readonly number[]>> = {}): QemuNic[] {
  return plan.interfaces.map((i) => {
    const own = fds[i.name];
    return qemuNicOfInterface(i, own === undefined ? {} : { fds: own });
  });
}

/** Argv, post-start actions and controllers for every guest NIC of `plan` (no macvtap: see {@link qemuNicsOf}). */
export function qemuNet(plan: NetworkPlan, options: QemuNetOptions): QemuNetConfig {
  return renderQemuNet(qemuNicsOf(plan), options);
}

/**
 * The `-netdev`/`-device` argv for every guest NIC of `plan`. NICs planned `down` also need the QMP `set_link` actions
 * of {@link qemuNet}'s `postStart`, run before the guest starts.
 */
export function qemuNetArgs(plan: NetworkPlan, options: QemuNetOptions): string[] {
  return [...qemuNet(plan, options).argv];
}
