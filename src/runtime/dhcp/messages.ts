/**
 * What {@link DhcpAgent} reports about a pod's servers: the transport's own counters beside the protocol cores'.
 */
import type { RaStats } from "../../dhcp/ra/advertiser.ts";
import type { Dhcp4Stats } from "../../dhcp/v4/server.ts";
import type { Dhcp6Stats } from "../../dhcp/v6/server.ts";

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
  /** The agent process's V8 heap, in bytes (`v8.getHeapStatistics()`), shared by every pod it serves. */
  readonly heap: { readonly used: number; readonly total: number };
}
