/**
 * The servers of one pod, run on the {@link DhcpAgent}'s own thread: every socket is made inside the pod's network
 * namespace by a synchronous hop (src/host/netns-sockets.ts) and then served from the shared event loop. Per served
 * device it opens
 * - UDP 0.0.0.0:67 bound to the device (SO_BINDTODEVICE), broadcast on, for the DHCPv4 core;
 * - UDP [::]:547 bound to the device and joined to ff02::1:2 there, for the DHCPv6 core;
 * - a raw ICMPv6 socket bound to the device (hop limit 255, joined to ff02::2, only type 133 let in) for router
 *   solicitations, and a timer for unsolicited advertisements on the RouterAdvertiser's schedule.
 * Binding every socket to its device is what keeps the servers silent on the pod's cluster-facing interface and what
 * lets a reply leave through a bridge without a routable address: with the socket's device set, the kernel routes
 * 255.255.255.255 (and any destination without a route, and a link-local one without a zone) out of that device.
 *
 * Reply addressing (src/dhcp/v4/addressing.ts decides): `chaddr` (unicast to a client that has no address yet) is
 * sent as a broadcast, because a UDP socket cannot place a frame without an ARP entry and writing neighbour entries
 * would need netlink here; every client that could take the unicast takes the broadcast too. A unicast to `ciaddr`
 * or the source address that the kernel refuses is retried as a broadcast; a relay (`giaddr`) reply that fails is
 * counted. Both are in the transport counters.
 *
 * A DHCPv6 reply to a link-local client carries no zone: Node would resolve `%<ifname>` in the agent's namespace,
 * not the pod's; the kernel takes the outgoing interface of a zoneless link-local destination from the socket's
 * bound device instead.
 *
 * Failures stay inside the pod: an exception from a handler or a socket's 'error' event is reported through
 * `onFailure` (the agent closes this pod's sockets and reopens them later) instead of reaching the event loop.
 *
 * Not checked, because the shim cannot report them: the hop limit of a received solicitation (RFC 4861 §6.1.1
 * requires 255) and the destination address of a DHCPv6 message (RFC 8415 §16's unicast rule).
 */
import type dgram from "node:dgram";
import { getHeapStatistics } from "node:v8";
import {
  ALL_NODES,
  ALL_ROUTERS,
  type RaStats,
  RouterAdvertiser,
  type RouterAdvertiserConfig,
  solicitedReplyDelay,
} from "../../dhcp/ra/advertiser.ts";
import { IcmpType } from "../../dhcp/ra/ndp.ts";
import { BROADCAST_ADDRESS, ReplyRoute, SERVER_PORT } from "../../dhcp/v4/addressing.ts";
import { type Dhcp4Reply, Dhcp4Server } from "../../dhcp/v4/server.ts";
import { Dhcp6Server, type Dhcp6ServerConfig, type Dhcp6Stats } from "../../dhcp/v6/server.ts";
import { openIcmpv6InNetns, openUdpInNetns } from "../../host/netns-sockets.ts";
import type { Icmpv6Message, Icmpv6Socket } from "../../host/netns-worker.ts";
import type { ServedInterface } from "./config.ts";
import type { InterfaceStats, PodStats, TransportStats } from "./messages.ts";

/** The DHCPv6 server port; clients listen on 546. */
const DHCP6_SERVER_PORT = 547;
/** All_DHCP_Relay_Agents_and_Servers (RFC 8415 §7.1). */
const ALL_DHCP_SERVERS = "ff02::1:2";
/** Solicited unicast advertisements waiting for their delay; more are dropped so a flooding guest costs nothing. */
const MAX_PENDING_UNICAST = 16;
/** Retry delay after an advertisement could not be sent (e.g. the bridge's link-local address is still tentative). */
const RA_RETRY_MS = 1000;

/** Where a pod's servers report: warnings that do not stop serving, and failures after which the pod reopens. */
export interface PodServerHooks {
  readonly onWarning: (message: string, ifname: string) => void;
  readonly onFailure: (error: Error) => void;
}

function errorCode(e: unknown): string {
  if (typeof e === "object" && e !== null) {
    if ("code" in e && typeof e.code === "string") return e.code;
    if ("errno" in e && typeof e.errno === "number") return `errno ${e.errno}`;
  }
  return "unknown";
}

/** Adds counters field by field (numbers add, arrays concatenate, records recurse); for servers replaced on reconfigure. */
function addCounters<T>(a: T, b: T): T {
  if (typeof a === "number" && typeof b === "number") return (a + b) as T;
  if (Array.isArray(a) && Array.isArray(b)) return [...a, ...b] as T;
  if (typeof a === "object" && a !== null && typeof b === "object" && b !== null) {
    const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
    for (const [k, v] of Object.entries(b as Record<string, unknown>)) out[k] = k in out ? addCounters(out[k], v) : v;
    return out as T;
  }
  return b;
}

/** `retired` plus `current`: the counters of every server a device has had for one protocol. */
function plus<T>(retired: T | undefined, current: T): T {
  return retired === undefined ? current : addCounters(retired, current);
}

function newTransportStats(): TransportStats {
  return {
    received: 0,
    sent: 0,
    chaddrAsBroadcast: 0,
    unicastFallbackToBroadcast: 0,
    sendErrors: {},
    notSolicitation: 0,
  };
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** One served device and its sockets. */
class ServedDevice {
  readonly ifname: string;
  readonly transport = newTransportStats();
  #v4: { server: Dhcp4Server; socket: dgram.Socket } | undefined;
  #v6: { server: Dhcp6Server; config: Dhcp6ServerConfig; socket: dgram.Socket } | undefined;
  #v6Retired: Dhcp6Stats | undefined;
  #ra: RaState | undefined;
  #raRetired: RaStats | undefined;
  readonly #warned = new Set<string>();

  readonly netns: string;
  readonly #hooks: PodServerHooks;

  constructor(ifname: string, netns: string, hooks: PodServerHooks) {
    this.ifname = ifname;
    this.netns = netns;
    this.#hooks = hooks;
  }

  /**
   * Wraps a callback of the event loop (socket message, timer): what it throws fails this pod only instead of
   * reaching the agent's event loop, which serves every pod.
   */
  guard<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
    return (...args: A) => {
      try {
        fn(...args);
      } catch (e) {
        this.#hooks.onFailure(e instanceof Error ? e : new Error(String(e)));
      }
    };
  }

  /** Opens, replaces or closes servers so the device serves `config`; the DHCPv4 lease records survive. */
  async apply(config: ServedInterface): Promise<void> {
    if (config.dhcpv4 === undefined) {
      this.#v4?.socket.close();
      this.#v4 = undefined;
    } else if (this.#v4 !== undefined) {
      this.#v4.server.updateConfig(config.dhcpv4);
    } else {
      const server = new Dhcp4Server(config.dhcpv4);
      const socket = openUdpInNetns(this.netns, { ifname: this.ifname, family: 4, port: SERVER_PORT });
      socket.on(
        "message",
        this.guard((msg: Buffer, rinfo: dgram.RemoteInfo) => this.#onDhcp4(server, socket, msg, rinfo)),
      );
      socket.on("error", (e) => this.warn("dhcpv4 socket", e));
      this.#v4 = { server, socket };
    }

    if (config.dhcpv6 === undefined) {
      this.#retireV6();
      this.#v6?.socket.close();
      this.#v6 = undefined;
    } else if (this.#v6 === undefined || !same(this.#v6.config, config.dhcpv6)) {
      const server = new Dhcp6Server(config.dhcpv6);
      if (this.#v6 === undefined) {
        const socket = openUdpInNetns(this.netns, {
          ifname: this.ifname,
          family: 6,
          port: DHCP6_SERVER_PORT,
          groups: [ALL_DHCP_SERVERS],
        });
        socket.on(
          "message",
          this.guard((msg: Buffer, rinfo: dgram.RemoteInfo) => this.#onDhcp6(socket, msg, rinfo)),
        );
        socket.on("error", (e) => this.warn("dhcpv6 socket", e));
        this.#v6 = { server, config: config.dhcpv6, socket };
      } else {
        this.#retireV6();
        this.#v6 = { server, config: config.dhcpv6, socket: this.#v6.socket };
      }
    }

    if (config.ra === undefined) {
      await this.#closeRa();
    } else if (this.#ra === undefined) {
      this.#ra = new RaState(this, new RouterAdvertiser(config.ra), config.ra);
      this.#ra.start();
    } else if (!same(this.#ra.config, config.ra)) {
      this.#raRetired = plus(this.#raRetired, this.#ra.advertiser.stats);
      this.#ra.replace(new RouterAdvertiser(config.ra), config.ra);
    }
  }

  #retireV6(): void {
    if (this.#v6 !== undefined) this.#v6Retired = plus(this.#v6Retired, this.#v6.server.stats);
  }

  async #closeRa(): Promise<void> {
    if (this.#ra === undefined) return;
    this.#raRetired = plus(this.#raRetired, this.#ra.advertiser.stats);
    const ra = this.#ra;
    this.#ra = undefined;
    await ra.stop();
  }

  /** Sends final advertisements and closes every socket. */
  async close(): Promise<void> {
    this.#v4?.socket.close();
    this.#v4 = undefined;
    this.#retireV6();
    this.#v6?.socket.close();
    this.#v6 = undefined;
    await this.#closeRa();
  }

  stats(): InterfaceStats {
    const v6All = this.#v6 === undefined ? this.#v6Retired : plus(this.#v6Retired, this.#v6.server.stats);
    const raAll = this.#ra === undefined ? this.#raRetired : plus(this.#raRetired, this.#ra.advertiser.stats);
    return {
      ...(this.#v4 === undefined ? {} : { dhcpv4: this.#v4.server.stats }),
      ...(v6All === undefined ? {} : { dhcpv6: v6All }),
      ...(raAll === undefined ? {} : { ra: raAll }),
      transport: this.transport,
    };
  }

  /** Counts a failed send under its cause and reports each cause once per device. */
  sendFailed(what: string, e: unknown): void {
    const code = errorCode(e);
    this.transport.sendErrors[code] = (this.transport.sendErrors[code] ?? 0) + 1;
    this.warn(what, e);
  }

  /** Reports a problem as a warning event, once per cause and device. */
  warn(what: string, e: unknown): void {
    const key = `${what}:${errorCode(e)}`;
    if (this.#warned.has(key)) return;
    this.#warned.add(key);
    this.#hooks.onWarning(`${what} on "${this.ifname}": ${String(e)}`, this.ifname);
  }

  #onDhcp4(server: Dhcp4Server, socket: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    this.transport.received += 1;
    const out = server.handle(new Uint8Array(msg.buffer, msg.byteOffset, msg.length), {
      sourceAddress: rinfo.address,
      sourcePort: rinfo.port,
    });
    if (out !== undefined) this.#sendDhcp4(socket, out);
  }

  #sendDhcp4(socket: dgram.Socket, out: Dhcp4Reply): void {
    const { to } = out;
    const broadcast = () =>
      socket.send(out.reply, to.port, BROADCAST_ADDRESS, (e) => {
        if (e) this.sendFailed("dhcpv4 broadcast", e);
        else this.transport.sent += 1;
      });
    switch (to.kind) {
      case ReplyRoute.Broadcast:
        broadcast();
        return;
      case ReplyRoute.Chaddr:
        this.transport.chaddrAsBroadcast += 1;
        broadcast();
        return;
      case ReplyRoute.Relay:
        socket.send(out.reply, to.port, to.address, (e) => {
          if (e) this.sendFailed("dhcpv4 relay reply", e);
          else this.transport.sent += 1;
        });
        return;
      case ReplyRoute.Ciaddr:
      case ReplyRoute.Source:
        socket.send(out.reply, to.port, to.address, (e) => {
          if (!e) {
            this.transport.sent += 1;
            return;
          }
          this.transport.unicastFallbackToBroadcast += 1;
          broadcast();
        });
        return;
    }
  }

  #onDhcp6(socket: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    this.transport.received += 1;
    const v6 = this.#v6;
    if (v6 === undefined) return;
    // No zone (see the header): the socket's bound device is the outgoing interface of a link-local reply.
    const zone = rinfo.address.indexOf("%");
    const address = zone < 0 ? rinfo.address : rinfo.address.slice(0, zone);
    const out = v6.server.handle(new Uint8Array(msg.buffer, msg.byteOffset, msg.length), {
      sourceAddress: address,
      sourcePort: rinfo.port,
    });
    if (out === undefined) return;
    socket.send(out.reply, out.to.port, out.to.address, (e) => {
      if (e) this.sendFailed("dhcpv6 reply", e);
      else this.transport.sent += 1;
    });
  }
}

/** Router advertisements on one device: the ICMPv6 socket, the periodic timer and delayed solicited replies. */
class RaState {
  readonly #device: ServedDevice;
  advertiser: RouterAdvertiser;
  config: RouterAdvertiserConfig;
  #socket: Icmpv6Socket | undefined;
  #reopen: NodeJS.Timeout | undefined;
  #periodic: NodeJS.Timeout | undefined;
  #multicastReply: NodeJS.Timeout | undefined;
  readonly #unicastReplies = new Set<NodeJS.Timeout>();
  #lastMulticastAt: number | undefined;

  constructor(device: ServedDevice, advertiser: RouterAdvertiser, config: RouterAdvertiserConfig) {
    this.#device = device;
    this.advertiser = advertiser;
    this.config = config;
  }

  /** Opens the socket and sends the first advertisement at once, so a booting guest need not solicit. */
  start(): void {
    this.#open();
    this.#advertise();
  }

  #open(): void {
    const socket = openIcmpv6InNetns(
      this.#device.netns,
      {
        ifname: this.#device.ifname,
        groups: [ALL_ROUTERS],
        types: [IcmpType.RouterSolicitation],
        // A failed read is reported at once and the socket reopened, so solicitations are heard again.
        onError: (e) => {
          this.#device.warn("icmpv6 read", e);
          if (this.#socket !== socket) return;
          this.#socket = undefined;
          this.#reopen = setTimeout(() => {
            this.#reopen = undefined;
            try {
              this.#open();
            } catch (err) {
              this.#device.warn("icmpv6 reopen", err);
            }
          }, RA_RETRY_MS);
        },
      },
      this.#device.guard((m: Icmpv6Message) => this.#onMessage(m)),
    );
    this.#socket = socket;
  }

  /** New configuration: counters restart and the schedule starts over with its fast initial advertisements. */
  replace(advertiser: RouterAdvertiser, config: RouterAdvertiserConfig): void {
    this.advertiser = advertiser;
    this.config = config;
    this.#clearTimers();
    this.#advertise();
  }

  #clearTimers(): void {
    clearTimeout(this.#periodic);
    clearTimeout(this.#multicastReply);
    this.#multicastReply = undefined;
    for (const t of this.#unicastReplies) clearTimeout(t);
    this.#unicastReplies.clear();
  }

  #send(bytes: Uint8Array, to: string): boolean {
    const socket = this.#socket;
    if (socket === undefined) return false;
    try {
      socket.send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length), to);
      this.#device.transport.sent += 1;
      return true;
    } catch (e) {
      this.#device.sendFailed("router advertisement", e);
      return false;
    }
  }

  /** Sends an unsolicited advertisement and schedules the next one (RFC 4861 §6.2.4). */
  #advertise(): void {
    clearTimeout(this.#periodic);
    const sent = this.#send(this.advertiser.buildAdvertisement(ALL_NODES), ALL_NODES);
    if (sent) this.#lastMulticastAt = Date.now();
    this.#schedule(sent ? this.advertiser.nextInterval(Math.random()) * 1000 : RA_RETRY_MS);
  }

  #schedule(ms: number): void {
    clearTimeout(this.#periodic);
    this.#periodic = setTimeout(
      this.#device.guard(() => this.#advertise()),
      ms,
    );
  }

  #onMessage(m: Icmpv6Message): void {
    this.#device.transport.received += 1;
    if (m.data[0] !== IcmpType.RouterSolicitation) {
      this.#device.transport.notSolicitation += 1;
      return;
    }
    const reply = this.advertiser.handleSolicitation(m.data, { sourceAddress: m.source });
    if (reply === undefined) return;
    const multicast = reply.to === ALL_NODES;
    // One multicast reply answers every solicitation that arrives while it waits (RFC 4861 §6.2.6).
    if (multicast && this.#multicastReply !== undefined) return;
    if (!multicast && this.#unicastReplies.size >= MAX_PENDING_UNICAST) {
      this.#device.transport.sendErrors.rateLimited = (this.#device.transport.sendErrors.rateLimited ?? 0) + 1;
      return;
    }
    const sinceLastMulticast =
      this.#lastMulticastAt === undefined ? undefined : (Date.now() - this.#lastMulticastAt) / 1000;
    const delay = solicitedReplyDelay({ random: Math.random(), multicast, sinceLastMulticast }) * 1000;
    const timer = setTimeout(
      this.#device.guard(() => {
        if (multicast) {
          this.#multicastReply = undefined;
          // A multicast reply counts as the periodic advertisement: the schedule restarts from it.
          if (this.#send(reply.reply, reply.to)) {
            this.#lastMulticastAt = Date.now();
            this.#schedule(this.advertiser.nextInterval(Math.random()) * 1000);
          }
        } else {
          this.#unicastReplies.delete(timer);
          this.#send(reply.reply, reply.to);
        }
      }),
      delay,
    );
    if (multicast) this.#multicastReply = timer;
    else this.#unicastReplies.add(timer);
  }

  /** Sends a final advertisement (Router Lifetime 0, RFC 4861 §6.2.5) and closes the socket. */
  async stop(): Promise<void> {
    this.#clearTimers();
    clearTimeout(this.#reopen);
    this.#send(this.advertiser.buildFinalAdvertisement(ALL_NODES), ALL_NODES);
    const socket = this.#socket;
    this.#socket = undefined;
    await socket?.close().catch((e: unknown) => this.#device.sendFailed("icmpv6 socket", e));
  }
}

/** All devices of one pod, in its namespace. */
export class PodServer {
  readonly #podId: string;
  readonly #netns: string;
  readonly #hooks: PodServerHooks;
  readonly #devices = new Map<string, ServedDevice>();

  constructor(podId: string, netns: string, hooks: PodServerHooks) {
    this.#podId = podId;
    this.#netns = netns;
    this.#hooks = hooks;
  }

  /** Brings the set of served devices to `interfaces`: new ones are opened, gone ones closed, the rest updated. */
  async apply(interfaces: readonly ServedInterface[]): Promise<void> {
    const wanted = new Set(interfaces.map((i) => i.ifname));
    for (const [ifname, device] of this.#devices) {
      if (!wanted.has(ifname)) {
        this.#devices.delete(ifname);
        await device.close();
      }
    }
    for (const config of interfaces) {
      let device = this.#devices.get(config.ifname);
      if (device === undefined) {
        device = new ServedDevice(config.ifname, this.#netns, this.#hooks);
        this.#devices.set(config.ifname, device);
      }
      await device.apply(config);
    }
  }

  /** Sends final advertisements and closes every socket of the pod. */
  async close(): Promise<void> {
    for (const device of this.#devices.values()) await device.close();
    this.#devices.clear();
  }

  /** Counters per device; `heap` is the agent process's V8 heap, which every pod shares. */
  stats(): PodStats {
    const heap = getHeapStatistics();
    return {
      podId: this.#podId,
      interfaces: Object.fromEntries([...this.#devices].map(([name, d]) => [name, d.stats()])),
      heap: { used: heap.used_heap_size, total: heap.total_heap_size },
    };
  }
}
