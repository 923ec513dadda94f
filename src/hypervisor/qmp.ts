/**
 * A QMP client over QEMU's unix monitor socket (`-qmp unix:<path>,server=on,wait=off`): greeting and capabilities
 * negotiation, commands correlated with their responses by `id`, asynchronous events, per-command timeouts, and the
 * NIC operations vmnet needs at runtime (link state, hotplug and unplug as reference §8.1–§8.2 describe, here over QMP
 * instead of libvirt).
 */
import type { Socket } from "node:net";
import type { InterfacePlan } from "../plan/plan.ts";
import {
  ControlError,
  ControlErrorCode,
  commandError,
  commandLine,
  connectUnix,
  isRecord,
  LineBuffer,
  type Message,
} from "./json-socket.ts";
import { PciAddress } from "./nic-models.ts";
import type { QemuMachine, QemuNic, QemuProps, QemuValue } from "./qemu-argv.ts";
import { deviceProps, netdevProps, pciControllerId, qemuNetId, qemuNicOfInterface } from "./qemu-argv.ts";

/** Stable codes of QMP failures (the same as the guest agent's). */
export const QmpErrorCode = ControlErrorCode;
/** A QMP failure code. */
export type QmpErrorCode = ControlErrorCode;

/** A QMP command failed, timed out, or the monitor went away. */
export class QmpError extends ControlError {
  override readonly name = "QmpError";
}

/** An asynchronous QMP event. */
export interface QmpEvent {
  readonly event: string;
  readonly data: Readonly<Record<string, unknown>>;
  readonly timestamp?: { readonly seconds: number; readonly microseconds: number };
}

/** One function of `query-pci`'s device list, reduced to what vmnet checks. */
export interface PciDeviceInfo {
  readonly bus: number;
  readonly slot: number;
  readonly function: number;
  readonly qdevId: string;
  readonly vendorId: number;
  readonly deviceId: number;
  readonly description: string;
  /** Devices behind this one when it is a bridge. */
  readonly bridgeDevices: readonly PciDeviceInfo[];
}

/** `query-status`. */
export interface QmpStatus {
  readonly running: boolean;
  readonly status: string;
}

/** Options of {@link QmpClient.connect}. */
export interface QmpConnectOptions {
  /** Keep retrying while the socket does not exist or refuses, up to this many ms. Default 10000. */
  readonly connectTimeoutMs?: number;
  /** Default per-command timeout. Default 10000. */
  readonly commandTimeoutMs?: number;
}

interface Pending {
  readonly command: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** A connected, negotiated QMP session. */
export class QmpClient {
  private readonly lines = new LineBuffer();
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private readonly listeners = new Set<(e: QmpEvent) => void>();
  private greetingWaiter?: { resolve: (m: Message) => void; reject: (e: Error) => void };
  private closedError?: QmpError;
  /** The greeting's `QMP.version.qemu`, e.g. `{ major: 7, minor: 2, micro: 22 }`. */
  version?: { readonly major: number; readonly minor: number; readonly micro: number };

  private constructor(
    private readonly socket: Socket,
    private readonly commandTimeoutMs: number,
  ) {
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (e) =>
      this.fail(new QmpError(QmpErrorCode.Closed, `QMP socket failed: ${e.message}`, { cause: e })),
    );
    socket.on("close", () => this.fail(new QmpError(QmpErrorCode.Closed, "QMP socket closed")));
  }

  /** Connects to `path`, reads the greeting and negotiates capabilities (`qmp_capabilities`). */
  static async connect(path: string, options: QmpConnectOptions = {}): Promise<QmpClient> {
    let socket: Socket;
    try {
      socket = await connectUnix(path, options.connectTimeoutMs ?? 10_000);
    } catch (e) {
      throw new QmpError(QmpErrorCode.Closed, `Cannot connect to QMP socket "${path}": ${(e as Error).message}`, {
        cause: e,
      });
    }
    const client = new QmpClient(socket, options.commandTimeoutMs ?? 10_000);
    try {
      const greeting = await client.greeting(options.commandTimeoutMs ?? 10_000);
      const qmp = greeting.QMP;
      if (isRecord(qmp) && isRecord(qmp.version) && isRecord(qmp.version.qemu)) {
        const v = qmp.version.qemu;
        client.version = { major: Number(v.major), minor: Number(v.minor), micro: Number(v.micro) };
      }
      await client.execute("qmp_capabilities");
      return client;
    } catch (e) {
      client.close();
      throw e;
    }
  }

  private greeting(timeoutMs: number): Promise<Message> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.greetingWaiter = undefined;
        reject(new QmpError(QmpErrorCode.Timeout, `No QMP greeting within ${timeoutMs} ms`));
      }, timeoutMs);
      this.greetingWaiter = {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  private onData(chunk: Buffer): void {
    this.lines.push(chunk);
    for (let line = this.lines.next(); line !== undefined; line = this.lines.next()) this.onLine(line);
  }

  private onLine(line: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch (e) {
      this.fail(new QmpError(QmpErrorCode.Protocol, `Cannot parse QMP message "${line.slice(0, 200)}"`, { cause: e }));
      this.socket.destroy();
      return;
    }
    if (!isRecord(msg)) return;
    if ("QMP" in msg) {
      const w = this.greetingWaiter;
      this.greetingWaiter = undefined;
      w?.resolve(msg);
      return;
    }
    if (typeof msg.event === "string") {
      const event: QmpEvent = {
        event: msg.event,
        data: isRecord(msg.data) ? msg.data : {},
        ...(isRecord(msg.timestamp)
          ? { timestamp: { seconds: Number(msg.timestamp.seconds), microseconds: Number(msg.timestamp.microseconds) } }
          : {}),
      };
      for (const l of [...this.listeners]) l(event);
      return;
    }
    const id = typeof msg.id === "string" ? msg.id : undefined;
    const p = id === undefined ? undefined : this.pending.get(id);
    if (id === undefined || p === undefined) return; // an answer to a command that already timed out
    this.pending.delete(id);
    clearTimeout(p.timer);
    const refused = commandError(msg);
    if (refused !== undefined) {
      p.reject(
        new QmpError(
          QmpErrorCode.CommandFailed,
          `QMP command "${p.command}" failed: ${refused.errorClass}: ${refused.desc}`,
          { ...refused, command: p.command },
        ),
      );
    } else {
      p.resolve(msg.return);
    }
  }

  private fail(error: QmpError): void {
    if (this.closedError !== undefined) return;
    this.closedError = error;
    this.greetingWaiter?.reject(error);
    this.greetingWaiter = undefined;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(
        new QmpError(error.code, `QMP command "${p.command}" got no answer: ${error.message}`, {
          command: p.command,
          cause: error,
        }),
      );
      this.pending.delete(id);
    }
  }

  /** Runs a QMP command and resolves with its `return` value; rejects with {@link QmpError}. */
  execute<T = unknown>(
    command: string,
    args?: Readonly<Record<string, unknown>>,
    options: { readonly timeoutMs?: number } = {},
  ): Promise<T> {
    if (this.closedError !== undefined) {
      return Promise.reject(
        new QmpError(QmpErrorCode.Closed, `Cannot run QMP command "${command}": ${this.closedError.message}`, {
          command,
        }),
      );
    }
    const id = `vmnet-${this.nextId++}`;
    const timeoutMs = options.timeoutMs ?? this.commandTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new QmpError(QmpErrorCode.Timeout, `QMP command "${command}" got no answer within ${timeoutMs} ms`, {
            command,
          }),
        );
      }, timeoutMs);
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, timer });
      this.socket.write(commandLine(command, args, id));
    });
  }

  /** Calls `listener` for every event until the returned function is called. */
  onEvent(listener: (event: QmpEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Resolves with the first event named `name` that `match` accepts, arriving from now on. Subscribe before issuing
   * the command that causes it: QEMU may send the event before the command's answer.
   */
  waitForEvent(name: string, match: (e: QmpEvent) => boolean, timeoutMs: number): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new QmpError(QmpErrorCode.Timeout, `No QMP event "${name}" within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.onEvent((e) => {
        if (e.event !== name || !match(e)) return;
        clearTimeout(timer);
        off();
        resolve(e);
      });
    });
  }

  /** `set_link`: the NIC (and its netdev, when both carry the id) sees carrier `up` or not. */
  async setLink(id: string, up: boolean): Promise<void> {
    await this.execute("set_link", { name: id, up });
  }

  /** `device_add` with typed properties (`driver` included). */
  async deviceAdd(props: QemuProps): Promise<void> {
    await this.execute("device_add", toQmpArguments(props));
  }

  /**
   * `device_del`, then waits for the `DEVICE_DELETED` event of `id`: on PCI hotplug the device is gone only once the
   * guest (or, with no guest running, QEMU itself) has released the slot.
   */
  async deviceDel(id: string, options: { readonly timeoutMs?: number } = {}): Promise<void> {
    const deleted = this.waitForEvent("DEVICE_DELETED", (e) => e.data.device === id, options.timeoutMs ?? 30_000);
    try {
      await this.execute("device_del", { id });
    } catch (e) {
      deleted.catch(() => undefined);
      throw e;
    }
    await deleted;
  }

  /** `netdev_add` with typed properties (`type` and `id` included). */
  async netdevAdd(props: QemuProps): Promise<void> {
    await this.execute("netdev_add", toQmpArguments(props));
  }

  /** `netdev_del`. */
  async netdevDel(id: string): Promise<void> {
    await this.execute("netdev_del", { id });
  }

  /** `query-pci`: every PCI function on every root bus, bridges' children nested. */
  async queryPci(): Promise<PciDeviceInfo[]> {
    const buses = await this.execute<unknown>("query-pci");
    if (!Array.isArray(buses)) throw new QmpError(QmpErrorCode.Protocol, "query-pci did not return a list");
    return buses.flatMap((b) => (isRecord(b) && Array.isArray(b.devices) ? b.devices.map(pciDevice) : []));
  }

  /** `query-status`. */
  async queryStatus(): Promise<QmpStatus> {
    const s = await this.execute<unknown>("query-status");
    if (!isRecord(s)) throw new QmpError(QmpErrorCode.Protocol, "query-status did not return an object");
    return { running: s.running === true, status: String(s.status) };
  }

  /** `quit`, then waits for QEMU to close the socket. */
  async quit(options: { readonly timeoutMs?: number } = {}): Promise<void> {
    const closed = new Promise<void>((resolve) => {
      if (this.socket.destroyed) resolve();
      else this.socket.once("close", () => resolve());
    });
    await this.execute("quit", undefined, options);
    const timeoutMs = options.timeoutMs ?? this.commandTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      closed,
      new Promise<void>((_, reject) => {
        timer = setTimeout(
          () => reject(new QmpError(QmpErrorCode.Timeout, `QEMU did not close QMP within ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /** Closes the socket; pending commands reject with `closed`. */
  close(): void {
    this.socket.destroy();
  }
}

function pciDevice(d: unknown): PciDeviceInfo {
  if (!isRecord(d)) throw new QmpError(QmpErrorCode.Protocol, "query-pci returned a device that is not an object");
  const id = isRecord(d.id) ? d.id : {};
  const bridge = isRecord(d.pci_bridge) ? d.pci_bridge : undefined;
  const children = bridge !== undefined && Array.isArray(bridge.devices) ? bridge.devices.map(pciDevice) : [];
  const cls = isRecord(d.class_info) ? d.class_info : {};
  return {
    bus: Number(d.bus),
    slot: Number(d.slot),
    function: Number(d.function),
    qdevId: typeof d.qdev_id === "string" ? d.qdev_id : "",
    vendorId: Number(id.vendor),
    deviceId: Number(id.device),
    description: typeof cls.desc === "string" ? cls.desc : "",
    bridgeDevices: children,
  };
}

/** Every PCI function of `devices`, bridges' children included, depth first. */
export function flattenPci(devices: readonly PciDeviceInfo[]): PciDeviceInfo[] {
  return devices.flatMap((d) => [d, ...flattenPci(d.bridgeDevices)]);
}

/**
 * QMP arguments from argv-style properties: dotted keys (`addr.type`) become nested objects, string lists become
 * QAPI `String` lists (`[{ "str": … }]`, as `hostfwd` and `dnssearch` are typed).
 */
export function toQmpArguments(props: QemuProps): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(props)) {
    const path = key.split(".");
    let target = out;
    for (const part of path.slice(0, -1)) {
      const next = target[part];
      if (isRecord(next)) target = next as Record<string, unknown>;
      else {
        const created: Record<string, unknown> = {};
        target[part] = created;
        target = created;
      }
    }
    target[path[path.length - 1] ?? key] = qmpValue(value);
  }
  return out;
}

function qmpValue(v: QemuValue): unknown {
  return Array.isArray(v) ? v.map((s: string) => ({ str: s })) : v;
}

/** Options of {@link hotplugNic}. */
export interface HotplugOptions {
  /** The VM's vCPU count (bounds the queue count, as for argv). */
  readonly vcpus: number;
  readonly machine?: QemuMachine;
  /**
   * A free hot-pluggable port (e.g. a `pcie-root-port`) for a NIC without `pciAddress`. With a `pciAddress` the bus is
   * the controller `pci.<bus>` from the argv; q35's root bus takes no hotplug.
   */
  readonly bus?: string;
  readonly available?: ReadonlySet<string>;
}

/** The NIC as QEMU sees it, from a plan interface or a ready QemuNic. */
function asQemuNic(nic: InterfacePlan | QemuNic): QemuNic {
  return "backend" in nic ? nic : qemuNicOfInterface(nic);
}

/**
 * Hot-plugs a NIC (reference §8.2: the launcher's `AttachDeviceFlags`, here `netdev_add` then `device_add`), then
 * sets its link down when it is planned down. When `device_add` fails the netdev is removed again.
 */
export async function hotplugNic(qmp: QmpClient, nic: InterfacePlan | QemuNic, options: HotplugOptions): Promise<void> {
  const q = asQemuNic(nic);
  const id = qemuNetId(q.name);
  const queues = q.queues ?? 1;
  if (queues > Math.max(options.vcpus, 1)) {
    throw new RangeError(
      `Cannot use ${queues} queues on interface "${q.name}": the VM has only ${options.vcpus} vCPUs`,
    );
  }
  const address = q.pciAddress === undefined ? undefined : PciAddress.parse(q.pciAddress);
  const bus =
    address === undefined
      ? options.bus
      : address.bus === 0
        ? options.machine === "pc"
          ? "pci.0"
          : "pcie.0"
        : pciControllerId(address.bus);
  const device = deviceProps(q, id, {
    queues,
    ...(options.available === undefined ? {} : { available: options.available }),
    ...(bus === undefined ? {} : { bus }),
    ...(address === undefined ? {} : { addr: address.qemuAddr }),
  });
  await qmp.netdevAdd(netdevProps(q, id, queues));
  try {
    await qmp.deviceAdd(device);
  } catch (e) {
    await qmp.netdevDel(id).catch(() => undefined);
    throw e;
  }
  if (q.linkState === "down") await qmp.setLink(id, false);
}

/**
 * Hot-unplugs a NIC (reference §8.2: `DetachDeviceFlags`): `device_del`, wait for `DEVICE_DELETED`, then `netdev_del`.
 * The pod side (bridge, tap, dummy) is the runtime's to delete afterwards.
 */
export async function unplugNic(
  qmp: QmpClient,
  nic: InterfacePlan | QemuNic,
  options: { readonly timeoutMs?: number } = {},
): Promise<void> {
  const id = qemuNetId(asQemuNic(nic).name);
  await qmp.deviceDel(id, options);
  await qmp.netdevDel(id);
}

/** Sets a NIC's link to the plan's state, or to `up` (reference §8.1, libvirt's `UpdateDeviceFlags` with `<link>`). */
export async function setNicLink(qmp: QmpClient, nic: InterfacePlan | QemuNic, up?: boolean): Promise<void> {
  const q = asQemuNic(nic);
  await qmp.setLink(qemuNetId(q.name), up ?? q.linkState === "up");
}

/** One interface as the "domain" info source reports it (reference §1.8, §8.4 step 1), read from the live QEMU. */
export interface DomainInterfaceStatus {
  /** The interface name (KubeVirt: the alias without `ua-`). */
  readonly name: string;
  /** The MAC the device really has. */
  readonly mac: string;
  /** Queues QEMU opened on the backend; 1 for a single-queue NIC. */
  readonly queueCount: number;
  /** QEMU cannot report a NIC's link state, so this is the last state set: `linkStates`, else the plan's. */
  readonly linkState: "up" | "down";
}

/**
 * The NICs of `nics` that exist in the running QEMU, in the given order, with their real MAC (QOM `mac`) and queue
 * count (backend queues in `info network`). NICs QEMU does not have (not plugged yet, or unplugged) are left out.
 */
export async function queryDomainInterfaces(
  qmp: QmpClient,
  nics: readonly (InterfacePlan | QemuNic)[],
  options: { readonly linkStates?: ReadonlyMap<string, "up" | "down"> } = {},
): Promise<DomainInterfaceStatus[]> {
  const info = String(await qmp.execute("human-monitor-command", { "command-line": "info network" }));
  const out: DomainInterfaceStatus[] = [];
  for (const n of nics) {
    const q = asQemuNic(n);
    const id = qemuNetId(q.name);
    let mac: unknown;
    try {
      mac = await qmp.execute("qom-get", { path: `/machine/peripheral/${id}`, property: "mac" });
    } catch (e) {
      if (e instanceof QmpError && e.code === QmpErrorCode.CommandFailed) continue;
      throw e;
    }
    // Backend lines are indented under their NIC: ` \ net-x: index=0,type=tap,...`, one per queue.
    const queues = info.split("\n").filter((l) => l.startsWith(` \\ ${id}: index=`)).length;
    out.push({
      name: q.name,
      mac: String(mac),
      queueCount: Math.max(queues, 1),
      linkState: options.linkStates?.get(q.name) ?? q.linkState,
    });
  }
  return out;
}
