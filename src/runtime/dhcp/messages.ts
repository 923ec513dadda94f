/**
 * The messages between {@link DhcpAgent} (main thread) and a pod worker: requests carry a sequence number and get
 * exactly one {@link WorkerResponse}; the worker also sends unsolicited {@link WorkerEvent}s.
 */
import type { RaStats } from "../../dhcp/ra/advertiser.ts";
import type { Dhcp4Stats } from "../../dhcp/v4/server.ts";
import type { Dhcp6Stats } from "../../dhcp/v6/server.ts";
import type { ServedInterface } from "./config.ts";

/** What the worker is started with (`workerData`). */
export interface PodWorkerData {
  readonly podId: string;
  readonly interfaces: readonly ServedInterface[];
}

/** A request from the agent to a worker. */
export type WorkerRequest =
  | { readonly seq: number; readonly op: "reconfigure"; readonly interfaces: readonly ServedInterface[] }
  | { readonly seq: number; readonly op: "stats" }
  | { readonly seq: number; readonly op: "stop" };

/** The answer to one {@link WorkerRequest}. */
export type WorkerResponse =
  | { readonly seq: number; readonly ok: true; readonly value?: PodStats }
  | { readonly seq: number; readonly ok: false; readonly error: string };

/** Unsolicited news from a worker: sockets are open, or something failed that did not stop the worker. */
export type WorkerEvent =
  | { readonly event: "ready" }
  | { readonly event: "warning"; readonly message: string; readonly ifname?: string };

/** Why the transport (not a protocol core) dropped or rerouted a packet. */
export interface TransportStats {
  /** Datagrams or ICMPv6 messages read from this device's sockets. */
  received: number;
  /** Replies handed to the kernel. */
  sent: number;
  /** `chaddr` decisions carried out as a broadcast (a UDP socket cannot unicast to an address without ARP entry). */
  chaddrAsBroadcast: number;
  /** Unicast replies (ciaddr, source) the kernel refused, sent again as a broadcast. */
  unicastFallbackToBroadcast: number;
  /** Replies that could not be sent at all, by cause ("EHOSTUNREACH", "relay", ...). */
  sendErrors: Record<string, number>;
  /** ICMPv6 messages other than Router Solicitation (the filter should already keep them out). */
  notSolicitation: number;
}

/** The counters of one served device. */
export interface InterfaceStats {
  readonly dhcpv4?: Dhcp4Stats;
  readonly dhcpv6?: Dhcp6Stats;
  readonly ra?: RaStats;
  readonly transport: TransportStats;
}

/** What `DhcpAgent.stats` returns for one pod. */
export interface PodStats {
  readonly podId: string;
  /** Per served device, by interface name. */
  readonly interfaces: Readonly<Record<string, InterfaceStats>>;
  /** The worker isolate's V8 heap, in bytes (`v8.getHeapStatistics()` inside the worker). */
  readonly heap: { readonly used: number; readonly total: number };
}
