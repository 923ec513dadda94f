/**
 * The DHCPv4 server core: `handle(request bytes, meta) -> reply | undefined`, transport-free. A transport feeds it
 * datagrams received on port 67 and sends what it returns to `to` (see addressing.ts for the decision and what a
 * transport without raw sockets does with `kind: "chaddr"`).
 *
 * Behaviour beyond KubeVirt's (which always ACKs and ignores INFORM, RELEASE and DECLINE): REQUEST is checked per
 * RFC 2131 §4.3.2 state and NAKed for any address other than the client's; INFORM gets an ACK without yiaddr and
 * lease time (§4.3.5); RELEASE and DECLINE are recorded and counted; option 55 orders the reply; option 57 limits
 * its size; option 61 and option 82 are echoed (RFC 6842, RFC 3046).
 */

import { formatIpv4, readIpv4, writeIpv4 } from "../../api/ip.ts";
import { formatMac } from "../../api/mac.ts";
import { type ReplyDestination, replyDestination } from "./addressing.ts";
import type { Dhcp4ServerConfig } from "./config.ts";
import { type CompiledBinding, type CompiledInterface, compileConfig, ESSENTIAL_OPTIONS } from "./config.ts";
import { decodeDomainSearch } from "./domain-search.ts";
import { encodedOptionSize, MESSAGE_TYPE_NAMES, MessageType, OptionCode, type OptionValue } from "./options.ts";
import {
  BootOp,
  BROADCAST_FLAG,
  DecodeFailure,
  type Dhcp4Packet,
  decodePacket,
  encodePacket,
  MIN_MESSAGE_SIZE,
  PacketDecodeError,
} from "./packet.ts";

/** Why a datagram got no reply (other than RELEASE and DECLINE, which never get one). */
export const DropReason = {
  ...DecodeFailure,
  NotBootRequest: "notBootRequest",
  MissingMessageType: "missingMessageType",
  InvalidMessageType: "invalidMessageType",
  InvalidOption: "invalidOption",
  BadDomainName: "badDomainName",
  UnexpectedMessageType: "unexpectedMessageType",
  UnknownInterface: "unknownInterface",
  UnknownClient: "unknownClient",
  OtherServer: "otherServer",
  InternalError: "internalError",
} as const;
export type DropReason = (typeof DropReason)[keyof typeof DropReason];

/** Counters; the object is live and owned by the server. */
export interface Dhcp4Stats {
  received: number;
  /** Well-formed requests by message type name ("discover", "request", ...). */
  readonly byType: Record<string, number>;
  readonly sent: { offer: number; ack: number; nak: number };
  readonly dropped: Record<DropReason, number>;
  releases: number;
  declines: number;
  /** Replies from which options were left out to respect the client's maximum message size. */
  truncatedReplies: number;
}

/** What the server remembers about a client. */
export const LeaseState = {
  Offered: "offered",
  Bound: "bound",
  Released: "released",
  Declined: "declined",
} as const;
export type LeaseState = (typeof LeaseState)[keyof typeof LeaseState];

/** One client's lease record; times are `now()` values (milliseconds). */
export interface Dhcp4Lease {
  readonly interfaceName: string;
  readonly mac: string;
  readonly clientId?: string;
  readonly ip: string;
  readonly state: LeaseState;
  readonly updatedAt: number;
  readonly expiresAt?: number;
}

/** What the transport knows about a received datagram. */
export interface Dhcp4RequestMeta {
  readonly ifindex?: number;
  readonly sourceAddress: string;
  readonly sourcePort: number;
}

/** A reply to send. */
export interface Dhcp4Reply {
  readonly reply: Uint8Array;
  readonly to: ReplyDestination;
  readonly type: "offer" | "ack" | "nak";
}

/** Log sink; `fields` carry structured context. */
export type Dhcp4Log = (level: "debug" | "info" | "warn", message: string, fields?: Record<string, unknown>) => void;

/** Constructor options. */
export interface Dhcp4ServerOptions {
  /** Clock in milliseconds; defaults to `Date.now`. */
  readonly now?: () => number;
  readonly log?: Dhcp4Log;
}

/** Default maximum DHCP message a client accepts: a 576-byte datagram (RFC 2131 §2) minus IP and UDP headers. */
const DEFAULT_MAX_DATAGRAM = 576;
const IP_UDP_HEADERS = 28;

function newStats(): Dhcp4Stats {
  const dropped = Object.fromEntries(Object.values(DropReason).map((r) => [r, 0])) as Record<DropReason, number>;
  const byType = Object.fromEntries(Object.values(MESSAGE_TYPE_NAMES).map((n) => [n, 0]));
  return {
    received: 0,
    byType,
    sent: { offer: 0, ack: 0, nak: 0 },
    dropped,
    releases: 0,
    declines: 0,
    truncatedReplies: 0,
  };
}

function u32(value: number): Uint8Array {
  const b = new Uint8Array(4);
  writeIpv4(b, 0, value);
  return b;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

class Dropped {
  constructor(
    readonly reason: DropReason,
    readonly detail: string,
  ) {}
}

interface ReplyPlan {
  readonly type: "offer" | "ack" | "nak";
  readonly yiaddr: number;
  readonly ciaddr: number;
  readonly leaseSeconds?: number;
  readonly message?: string;
}

/** What a transport drives: one call per datagram received on UDP port 67 of a served interface. */
export interface Dhcp4Handler {
  handle(bytes: Uint8Array, meta: Dhcp4RequestMeta): Dhcp4Reply | undefined;
}

/** A DHCPv4 server for statically bound clients, driven by a transport through {@link Dhcp4Server.handle}. */
export class Dhcp4Server implements Dhcp4Handler {
  /** Live counters. */
  readonly stats: Dhcp4Stats = newStats();
  #interfaces: CompiledInterface[];
  readonly #leases = new Map<string, Dhcp4Lease>();
  readonly #now: () => number;
  readonly #log: Dhcp4Log;

  /** Validates and compiles `config`; throws TypeError/RangeError/SyntaxError on a bad configuration. */
  constructor(config: Dhcp4ServerConfig, options: Dhcp4ServerOptions = {}) {
    this.#interfaces = compileConfig(config);
    this.#now = options.now ?? Date.now;
    const log = options.log;
    // A throwing log sink must not turn a sent reply into an internal error.
    this.#log = (level, message, fields) => {
      try {
        log?.(level, message, fields);
      } catch {
        // Logging is best effort.
      }
    };
  }

  /** Replaces the configuration atomically; on error the old one stays in force. Lease records are kept. */
  updateConfig(config: Dhcp4ServerConfig): void {
    this.#interfaces = compileConfig(config);
  }

  /** A snapshot of the lease records. */
  leases(): Dhcp4Lease[] {
    return [...this.#leases.values()];
  }

  /** Handles one datagram; returns the reply and where to send it, or undefined. Never throws. */
  handle(bytes: Uint8Array, meta: Dhcp4RequestMeta): Dhcp4Reply | undefined {
    this.stats.received += 1;
    try {
      return this.#handle(bytes, meta);
    } catch (e) {
      if (e instanceof Dropped) {
        this.stats.dropped[e.reason] += 1;
        this.#log("debug", "Dropped DHCP message", { reason: e.reason, detail: e.detail, source: meta.sourceAddress });
      } else {
        this.stats.dropped.internalError += 1;
        this.#log("warn", "Failed to handle DHCP message", { error: String(e), source: meta.sourceAddress });
      }
      return undefined;
    }
  }

  #handle(bytes: Uint8Array, meta: Dhcp4RequestMeta): Dhcp4Reply | undefined {
    let packet: Dhcp4Packet;
    try {
      packet = decodePacket(bytes);
    } catch (e) {
      if (e instanceof PacketDecodeError) throw new Dropped(e.reason, e.message);
      throw e;
    }
    if (packet.op !== BootOp.Request) throw new Dropped(DropReason.NotBootRequest, `op "${packet.op}"`);
    const type = messageTypeOf(packet);
    this.stats.byType[MESSAGE_TYPE_NAMES[type]] = (this.stats.byType[MESSAGE_TYPE_NAMES[type]] ?? 0) + 1;
    validateClientOptions(packet);
    if (type === MessageType.Offer || type === MessageType.Ack || type === MessageType.Nak) {
      throw new Dropped(DropReason.UnexpectedMessageType, `a client sent "${MESSAGE_TYPE_NAMES[type]}"`);
    }
    const iface = this.#interfaceFor(meta.ifindex);
    const mac = formatMac(packet.chaddr.subarray(0, packet.hlen));
    const binding = iface.byMac.get(mac) ?? (iface.anyClient ? iface.clients[0] : undefined);
    if (binding === undefined) throw new Dropped(DropReason.UnknownClient, `MAC "${mac}" on "${iface.name}"`);
    const serverId = packet.options.values.get(OptionCode.ServerIdentifier);
    if (serverId !== undefined && readIpv4(serverId, 0) !== iface.serverIdentifier) {
      // SELECTING for another server's offer (RFC 2131 §4.3.2): our offer is void.
      const key = leaseKey(iface, mac);
      if (this.#leases.get(key)?.state === LeaseState.Offered) this.#leases.delete(key);
      throw new Dropped(DropReason.OtherServer, `server identifier "${formatIpv4(readIpv4(serverId, 0))}"`);
    }
    const clientIdBytes = packet.options.values.get(OptionCode.ClientIdentifier);
    const clientId = clientIdBytes === undefined ? undefined : hex(clientIdBytes);

    switch (type) {
      case MessageType.Discover:
        this.#record(iface, mac, clientId, binding.ip, LeaseState.Offered);
        return this.#reply(packet, meta, iface, binding, {
          type: "offer",
          yiaddr: binding.ip,
          ciaddr: 0,
          leaseSeconds: binding.leaseSeconds,
        });
      case MessageType.Request: {
        const wrong = wrongAddressInRequest(packet, binding, serverId !== undefined);
        if (wrong !== undefined) {
          this.#log("info", "Refused DHCP request", { mac, interface: iface.name, reason: wrong });
          return this.#reply(packet, meta, iface, binding, { type: "nak", yiaddr: 0, ciaddr: 0, message: wrong });
        }
        this.#record(iface, mac, clientId, binding.ip, LeaseState.Bound, binding.leaseSeconds);
        return this.#reply(packet, meta, iface, binding, {
          type: "ack",
          yiaddr: binding.ip,
          ciaddr: packet.ciaddr,
          leaseSeconds: binding.leaseSeconds,
        });
      }
      case MessageType.Inform:
        return this.#reply(packet, meta, iface, binding, { type: "ack", yiaddr: 0, ciaddr: packet.ciaddr });
      case MessageType.Release:
        this.stats.releases += 1;
        this.#record(iface, mac, clientId, packet.ciaddr || binding.ip, LeaseState.Released);
        this.#log("info", "Client released its DHCP lease", {
          mac,
          interface: iface.name,
          ip: formatIpv4(packet.ciaddr),
        });
        return undefined;
      case MessageType.Decline: {
        // The client found the address in use. The address is fixed by configuration, so vmnet reports it
        // and keeps offering it; an operator has to resolve the conflict.
        this.stats.declines += 1;
        const requested = packet.options.values.get(OptionCode.RequestedIpAddress);
        const ip = requested === undefined ? binding.ip : readIpv4(requested, 0);
        this.#record(iface, mac, clientId, ip, LeaseState.Declined);
        this.#log("warn", "Client declined its address: it is in use on the link", {
          mac,
          interface: iface.name,
          ip: formatIpv4(ip),
        });
        return undefined;
      }
    }
  }

  #interfaceFor(ifindex: number | undefined): CompiledInterface {
    const byIndex = this.#interfaces.find((i) => i.ifindex !== undefined && i.ifindex === ifindex);
    if (byIndex) return byIndex;
    // A single interface without an ifindex serves whatever its transport hands over.
    const only = this.#interfaces.length === 1 ? this.#interfaces[0] : undefined;
    if (only !== undefined && (only.ifindex === undefined || ifindex === undefined)) return only;
    throw new Dropped(DropReason.UnknownInterface, `ifindex "${ifindex}"`);
  }

  #record(
    iface: CompiledInterface,
    mac: string,
    clientId: string | undefined,
    ip: number,
    state: LeaseState,
    leaseSeconds?: number,
  ): void {
    const now = this.#now();
    const lease: Dhcp4Lease = {
      interfaceName: iface.name,
      mac,
      ...(clientId === undefined ? {} : { clientId }),
      ip: formatIpv4(ip),
      state,
      updatedAt: now,
      ...(leaseSeconds === undefined ? {} : { expiresAt: now + leaseSeconds * 1000 }),
    };
    this.#leases.set(leaseKey(iface, mac), lease);
  }

  #reply(
    packet: Dhcp4Packet,
    meta: Dhcp4RequestMeta,
    iface: CompiledInterface,
    binding: CompiledBinding,
    plan: ReplyPlan,
  ): Dhcp4Reply {
    const typeCode =
      plan.type === "offer" ? MessageType.Offer : plan.type === "ack" ? MessageType.Ack : MessageType.Nak;
    const head: OptionValue[] = [
      { code: OptionCode.MessageType, value: Uint8Array.of(typeCode) },
      { code: OptionCode.ServerIdentifier, value: u32(iface.serverIdentifier) },
    ];
    if (plan.leaseSeconds !== undefined) head.push({ code: OptionCode.LeaseTime, value: u32(plan.leaseSeconds) });
    if (plan.message !== undefined) {
      head.push({ code: OptionCode.Message, value: new TextEncoder().encode(plan.message) });
    }
    const tail: OptionValue[] = [];
    const clientId = packet.options.values.get(OptionCode.ClientIdentifier);
    if (clientId !== undefined) tail.push({ code: OptionCode.ClientIdentifier, value: clientId });
    const relay = packet.options.values.get(OptionCode.RelayAgentInformation);
    if (relay !== undefined) tail.push({ code: OptionCode.RelayAgentInformation, value: relay });

    const body = plan.type === "nak" ? [] : this.#configOptions(packet, binding);
    const limit = maxMessageSize(packet);
    let size = MIN_MESSAGE_SIZE + 1;
    for (const o of [...head, ...tail]) size += encodedOptionSize(o.value);
    for (const o of body) size += encodedOptionSize(o.option.value);
    let truncated = false;
    // Leave out unrequested extras first, then requested extras, newest first; essential options stay.
    for (const pass of [false, true]) {
      for (let i = body.length - 1; i >= 0 && size > limit; i--) {
        const o = body[i];
        if (o === undefined || ESSENTIAL_OPTIONS.has(o.option.code) || o.requested !== pass) continue;
        size -= encodedOptionSize(o.option.value);
        body.splice(i, 1);
        truncated = true;
      }
    }
    if (truncated) this.stats.truncatedReplies += 1;

    const reply = encodePacketFor(packet, plan, binding, [...head, ...body.map((o) => o.option), ...tail]);
    this.stats.sent[plan.type] += 1;
    const to = replyDestination({
      ciaddr: packet.ciaddr,
      giaddr: packet.giaddr,
      flags: packet.flags,
      sourceAddress: meta.sourceAddress,
      yiaddr: plan.yiaddr,
      chaddr: packet.chaddr.subarray(0, packet.hlen),
      isNak: plan.type === "nak",
    });
    this.#log("debug", `Sending DHCP ${plan.type}`, { xid: packet.xid, to: to.address, kind: to.kind });
    return { reply, to, type: plan.type };
  }

  #configOptions(packet: Dhcp4Packet, binding: CompiledBinding): { option: OptionValue; requested: boolean }[] {
    const out: { option: OptionValue; requested: boolean }[] = [];
    const taken = new Set<number>();
    const prl = packet.options.values.get(OptionCode.ParameterRequestList) ?? new Uint8Array(0);
    for (const code of prl) {
      const value = binding.options.get(code);
      if (value === undefined || taken.has(code)) continue;
      taken.add(code);
      out.push({ option: { code, value }, requested: true });
    }
    // RFC 2131 §4.3.1 lets a server send options the client did not ask for; KubeVirt sends every configured one.
    for (const [code, value] of binding.options) {
      if (!taken.has(code)) out.push({ option: { code, value }, requested: false });
    }
    return out;
  }
}

function encodePacketFor(
  packet: Dhcp4Packet,
  plan: ReplyPlan,
  binding: CompiledBinding,
  options: readonly OptionValue[],
): Uint8Array {
  const nak = plan.type === "nak";
  // RFC 2131 §4.3.2: a NAK through a relay carries the broadcast bit so the relay broadcasts it to the client.
  const flags = nak && packet.giaddr !== 0 ? packet.flags | BROADCAST_FLAG : packet.flags;
  return encodePacket(
    {
      op: BootOp.Reply,
      htype: packet.htype,
      hlen: packet.hlen,
      xid: packet.xid,
      flags,
      ciaddr: plan.ciaddr,
      yiaddr: plan.yiaddr,
      siaddr: nak ? 0 : binding.nextServer,
      giaddr: packet.giaddr,
      chaddr: packet.chaddr,
      ...(nak || binding.bootFile === undefined ? {} : { file: binding.bootFile }),
    },
    options,
  );
}

function leaseKey(iface: CompiledInterface, mac: string): string {
  return `${iface.name}|${mac}`;
}

function messageTypeOf(packet: Dhcp4Packet): MessageType {
  const value = packet.options.values.get(OptionCode.MessageType);
  if (value === undefined) throw new Dropped(DropReason.MissingMessageType, "no option 53");
  const type = value[0];
  if (value.length !== 1 || type === undefined || type < MessageType.Discover || type > MessageType.Inform) {
    throw new Dropped(DropReason.InvalidMessageType, `option 53 "${hex(value)}"`);
  }
  return type as MessageType;
}

/** Fixed-length client options that the server reads must have their RFC 2132 lengths. */
function validateClientOptions(packet: Dhcp4Packet): void {
  const values = packet.options.values;
  const exact: readonly [number, number][] = [
    [OptionCode.RequestedIpAddress, 4],
    [OptionCode.ServerIdentifier, 4],
    [OptionCode.MaxMessageSize, 2],
  ];
  for (const [code, length] of exact) {
    const v = values.get(code);
    if (v !== undefined && v.length !== length) {
      throw new Dropped(DropReason.InvalidOption, `option ${code} has length ${v.length}, not ${length}`);
    }
  }
  const clientId = values.get(OptionCode.ClientIdentifier);
  if (clientId !== undefined && clientId.length < 2) {
    throw new Dropped(DropReason.InvalidOption, `option 61 has length ${clientId.length}, less than 2`);
  }
  // Clients do not send option 119, but a name list that loops or points forward is hostile input, not data.
  const search = values.get(OptionCode.DomainSearch);
  if (search !== undefined) {
    try {
      decodeDomainSearch(search);
    } catch (e) {
      throw new Dropped(DropReason.BadDomainName, e instanceof Error ? e.message : String(e));
    }
  }
}

/** Returns why a REQUEST must be NAKed (RFC 2131 §4.3.2), or undefined to ACK it. */
function wrongAddressInRequest(packet: Dhcp4Packet, binding: CompiledBinding, selecting: boolean): string | undefined {
  const requestedBytes = packet.options.values.get(OptionCode.RequestedIpAddress);
  const requested = requestedBytes === undefined ? undefined : readIpv4(requestedBytes, 0);
  const expected = formatIpv4(binding.ip);
  if (selecting || requested !== undefined) {
    // SELECTING carries the offered address in option 50; INIT-REBOOT carries the remembered one there.
    const asked = requested ?? packet.ciaddr;
    return asked === binding.ip ? undefined : `requested address "${formatIpv4(asked)}" is not "${expected}"`;
  }
  if (packet.ciaddr !== 0) {
    // RENEWING (unicast) and REBINDING (broadcast) both name the address in ciaddr.
    return packet.ciaddr === binding.ip ? undefined : `address "${formatIpv4(packet.ciaddr)}" is not "${expected}"`;
  }
  // A REQUEST naming no address at all fits no RFC state; KubeVirt ACKs it with the fixed address, and so does vmnet.
  return undefined;
}

function maxMessageSize(packet: Dhcp4Packet): number {
  const option = packet.options.values.get(OptionCode.MaxMessageSize);
  const asked = option === undefined ? 0 : ((option[0] ?? 0) << 8) | (option[1] ?? 0);
  // RFC 2132 §9.10: the minimum legal value is 576; smaller values are ignored.
  return Math.max(asked, DEFAULT_MAX_DATAGRAM) - IP_UDP_HEADERS;
}
