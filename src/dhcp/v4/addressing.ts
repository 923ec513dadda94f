/**
 * Where a DHCPv4 reply goes (RFC 2131 §4.1), as a pure decision the transport carries out.
 *
 * The rules, first match wins:
 * 1. `giaddr` set: unicast to the relay agent at `giaddr`:67.
 * 2. DHCPNAK: broadcast to 255.255.255.255:68 (RFC 2131 §4.1, "in all cases, when giaddr is zero").
 * 3. `ciaddr` set (RENEWING, REBINDING, INFORM): unicast to `ciaddr`:68; the client owns that address.
 * 4. Broadcast bit set: broadcast to 255.255.255.255:68.
 * 5. A `yiaddr` to hand out (DISCOVER, REQUEST in SELECTING/INIT-REBOOT): RFC 2131 says unicast to `yiaddr` at the
 *    link address `chaddr`. The IP stack has no ARP entry for an address the client does not own yet, so an ordinary
 *    UDP socket cannot send that. The decision is `kind: "chaddr"` with `unicastMac`; a transport that can write a
 *    neighbour entry or a raw frame does so, and one that cannot broadcasts instead (what KubeVirt does; a client
 *    that can receive unicast before configuration can receive broadcast too, so this always works).
 * 6. Otherwise (no address to give, ciaddr zero, e.g. a misbehaving INFORM): unicast to the request's source address
 *    when it is a real address, else broadcast.
 */

import { formatIpv4, parseIpv4 } from "../../api/ip.ts";
import { formatMac } from "../../api/mac.ts";
import { BROADCAST_FLAG } from "./packet.ts";

/** UDP port of DHCP servers and relay agents. */
export const SERVER_PORT = 67;
/** UDP port of DHCP clients. */
export const CLIENT_PORT = 68;
/** The limited broadcast address. */
export const BROADCAST_ADDRESS = "255.255.255.255";

/** Which rule of RFC 2131 §4.1 chose the destination. */
export const ReplyRoute = {
  Relay: "relay",
  Broadcast: "broadcast",
  Ciaddr: "ciaddr",
  Chaddr: "chaddr",
  Source: "source",
} as const;
export type ReplyRoute = (typeof ReplyRoute)[keyof typeof ReplyRoute];

/** Where to send a reply. */
export interface ReplyDestination {
  readonly address: string;
  readonly port: number;
  /** True when the datagram goes to the limited broadcast address. */
  readonly broadcast: boolean;
  /** Set for {@link ReplyRoute.Chaddr}: the link address to unicast the frame to. */
  readonly unicastMac?: string;
  readonly kind: ReplyRoute;
}

/** The request and reply facts the decision needs; addresses are unsigned 32-bit numbers. */
export interface AddressingInput {
  readonly ciaddr: number;
  readonly giaddr: number;
  readonly flags: number;
  /** Source IP of the datagram as the transport saw it ("0.0.0.0" before configuration). */
  readonly sourceAddress: string;
  /** The reply's yiaddr (0 for NAK and INFORM replies). */
  readonly yiaddr: number;
  /** The client hardware address, `hlen` bytes of chaddr. */
  readonly chaddr: Uint8Array;
  readonly isNak: boolean;
}

const broadcast: ReplyDestination = {
  address: BROADCAST_ADDRESS,
  port: CLIENT_PORT,
  broadcast: true,
  kind: ReplyRoute.Broadcast,
};

/** Decides where a reply goes; see the module comment for the rules. */
export function replyDestination(input: AddressingInput): ReplyDestination {
  if (input.giaddr !== 0) {
    return { address: formatIpv4(input.giaddr), port: SERVER_PORT, broadcast: false, kind: ReplyRoute.Relay };
  }
  if (input.isNak) return broadcast;
  if (input.ciaddr !== 0) {
    return { address: formatIpv4(input.ciaddr), port: CLIENT_PORT, broadcast: false, kind: ReplyRoute.Ciaddr };
  }
  if ((input.flags & BROADCAST_FLAG) !== 0) return broadcast;
  if (input.yiaddr !== 0 && input.chaddr.length > 0) {
    return {
      address: formatIpv4(input.yiaddr),
      port: CLIENT_PORT,
      broadcast: false,
      unicastMac: formatMac(input.chaddr),
      kind: ReplyRoute.Chaddr,
    };
  }
  const source = sourceIPv4(input.sourceAddress);
  if (source !== 0 && source !== 0xffffffff) {
    return { address: formatIpv4(source), port: CLIENT_PORT, broadcast: false, kind: ReplyRoute.Source };
  }
  return broadcast;
}

function sourceIPv4(text: string): number {
  // Transports on dual-stack sockets report IPv4 peers as "::ffff:a.b.c.d".
  const plain = text.startsWith("::ffff:") ? text.slice(7) : text;
  try {
    return parseIpv4(plain);
  } catch {
    return 0;
  }
}
