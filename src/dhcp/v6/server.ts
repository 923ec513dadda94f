/**
 * Stateful DHCPv6 server core (RFC 8415) for masquerade binding: one fixed guest address, DNS servers and search
 * domains. Transport-free: the caller hands in datagrams received on UDP port 547 of the bridge and sends the replies.
 */

import { canonicalIpv6, stripZone, tryParseIpv6 } from "../../api/ip.ts";
import { parseMac48 } from "../../api/mac.ts";
import { equalBytes } from "../bytes.ts";
import {
  Dhcp6DecodeError,
  Dhcp6DecodeReason,
  type Dhcp6Message,
  type Dhcp6Option,
  decodeAddressList,
  decodeDomainSearchList,
  decodeDuid,
  decodeElapsedTime,
  decodeIaAddress,
  decodeIaNa,
  decodeIaPd,
  decodeIaTa,
  decodeMessage,
  decodeOro,
  decodeStatus,
  encodeAddressList,
  encodeDomainSearchList,
  encodeDuidLl,
  encodeIaAddress,
  encodeIaNa,
  encodeIaPd,
  encodeIaTa,
  encodeMessage,
  encodeStatus,
  findOption,
  findOptions,
  type IaNa,
  MessageType,
  OptionCode,
  StatusCode,
} from "./codec.ts";

/** KubeVirt's "infinite" lease: 999 days. */
export const DEFAULT_LIFETIME = 86_313_600;

/** Server configuration. `address` undefined means every IA_NA gets NoAddrsAvail. */
export interface Dhcp6ServerConfig {
  /** MAC for the DUID-LL server identifier (KubeVirt: the bridge MAC, `02:00:00:00:00:00`). */
  readonly serverDuidMac: string;
  /** The guest's IPv6 address, e.g. `fd10:0:2::2`. */
  readonly address: string | undefined;
  readonly dns: readonly string[];
  readonly searchDomains: readonly string[];
  readonly preferredLifetime: number;
  readonly validLifetime: number;
  /** Renewal time; 0 lets the client choose (RFC 8415 §21.4), as KubeVirt sends. */
  readonly t1: number;
  /** Rebinding time; 0 lets the client choose. */
  readonly t2: number;
  /** Answer a SOLICIT carrying Rapid Commit with a committed REPLY (default true). */
  readonly rapidCommit?: boolean;
  /** Preference option value in ADVERTISE; 255 makes the client skip collecting other offers (default 255). */
  readonly preference?: number;
  /**
   * The served interface (the bridge). When set, packets whose `meta.ifindex` names another interface are dropped,
   * as KubeVirt does for its `[::]:547` socket: the server must never answer on the pod's cluster-facing side.
   */
  readonly ifindex?: number;
}

/** Inputs for the masquerade server: the bridge MAC and what the guest gets. */
export interface MasqueradeDhcp6Input {
  /** The bridge MAC (KubeVirt: `02:00:00:00:00:00`), used for the DUID-LL server identifier. */
  readonly bridgeMac: string;
  /** The guest address (KubeVirt: `fd10:0:2::2`), undefined when the pod has no global IPv6. */
  readonly guestAddress: string | undefined;
  /** IPv6 nameservers of the pod's resolv.conf. */
  readonly dns: readonly string[];
  readonly searchDomains: readonly string[];
}

/** KubeVirt's masquerade DHCPv6 settings (§6.4): 999-day lifetimes, T1 = T2 = 0, plus the search list. */
export function masqueradeDhcp6Config(input: MasqueradeDhcp6Input): Dhcp6ServerConfig {
  return {
    serverDuidMac: input.bridgeMac,
    address: input.guestAddress,
    dns: input.dns,
    searchDomains: input.searchDomains,
    preferredLifetime: DEFAULT_LIFETIME,
    validLifetime: DEFAULT_LIFETIME,
    t1: 0,
    t2: 0,
  };
}

/** Where a packet came from, as the transport saw it. */
export interface Dhcp6PacketMeta {
  readonly sourceAddress: string;
  readonly sourcePort: number;
  readonly ifindex?: number;
  /** The packet's destination when the transport knows it (IPV6_PKTINFO); enables the unicast rule of RFC 8415 §16. */
  readonly destinationAddress?: string;
}

/** A reply and its destination (the peer address and port). */
export interface Dhcp6Reply {
  readonly reply: Uint8Array;
  readonly to: { readonly address: string; readonly port: number };
}

/** Why a packet was dropped without reply. Decoding reasons plus the RFC 8415 §16 validation rules. */
export const Dhcp6DropReason = {
  ...Dhcp6DecodeReason,
  RelayMessage: "relay-message",
  UnexpectedType: "unexpected-type",
  MissingClientId: "missing-client-id",
  DuplicateOption: "duplicate-option",
  MissingServerId: "missing-server-id",
  WrongServerId: "wrong-server-id",
  UnexpectedServerId: "unexpected-server-id",
  UnexpectedIa: "unexpected-ia",
  NothingToConfirm: "nothing-to-confirm",
  UnicastNotAllowed: "unicast-not-allowed",
  WrongInterface: "wrong-interface",
  /** The reply would not fit the wire format (e.g. a RENEW listing thousands of addresses). */
  Unencodable: "unencodable",
} as const;
export type Dhcp6DropReason = (typeof Dhcp6DropReason)[keyof typeof Dhcp6DropReason];

/** An address a client declined (RFC 8415 §18.3.8), with the time it was reported. */
export interface DeclinedAddress {
  readonly address: string;
  readonly iaid: number;
  readonly clientId: Uint8Array;
  readonly at: number;
}

/** Counters; a snapshot is returned by `Dhcp6Server.stats`. */
export interface Dhcp6Stats {
  readonly received: number;
  readonly replied: number;
  readonly receivedByType: Readonly<Record<number, number>>;
  readonly dropped: Readonly<Record<Dhcp6DropReason, number>>;
  readonly declined: readonly DeclinedAddress[];
}

/** Declines kept for stats; a misbehaving guest must not grow memory without bound. */
const MAX_DECLINED = 64;

/** Options that must appear at most once in a client message (RFC 8415 §21: Client ID, Server ID, ORO, etc.). */
const SINGLETON_OPTIONS: readonly number[] = [
  OptionCode.ClientId,
  OptionCode.ServerId,
  OptionCode.Oro,
  OptionCode.ElapsedTime,
  OptionCode.RapidCommit,
];

/** Server-id rules of RFC 8415 §16: required and ours, forbidden, or optional but ours when present. */
const ServerIdRule = { Required: "required", Forbidden: "forbidden", Optional: "optional" } as const;
type ServerIdRule = (typeof ServerIdRule)[keyof typeof ServerIdRule];

/**
 * Per message type: whether Client ID is required, the Server ID rule, and whether the message must arrive by
 * multicast (RFC 8415 §16: Solicit, Confirm, Rebind and Information-request sent to a unicast address are discarded,
 * as this server never sends the Server Unicast option).
 */
const RULES: Readonly<
  Record<number, { readonly clientId: boolean; readonly serverId: ServerIdRule; readonly multicastOnly: boolean }>
> = {
  [MessageType.Solicit]: { clientId: true, serverId: ServerIdRule.Forbidden, multicastOnly: true },
  [MessageType.Request]: { clientId: true, serverId: ServerIdRule.Required, multicastOnly: false },
  [MessageType.Confirm]: { clientId: true, serverId: ServerIdRule.Forbidden, multicastOnly: true },
  [MessageType.Renew]: { clientId: true, serverId: ServerIdRule.Required, multicastOnly: false },
  [MessageType.Rebind]: { clientId: true, serverId: ServerIdRule.Forbidden, multicastOnly: true },
  [MessageType.Release]: { clientId: true, serverId: ServerIdRule.Required, multicastOnly: false },
  [MessageType.Decline]: { clientId: true, serverId: ServerIdRule.Required, multicastOnly: false },
  [MessageType.InformationRequest]: { clientId: false, serverId: ServerIdRule.Optional, multicastOnly: true },
};

class Drop extends Error {
  readonly reason: Dhcp6DropReason;
  constructor(reason: Dhcp6DropReason) {
    super(reason);
    this.reason = reason;
  }
}

/** The stateful DHCPv6 server for one guest interface. */
export class Dhcp6Server {
  readonly #config: Dhcp6ServerConfig;
  readonly #now: () => number;
  readonly #serverId: Uint8Array;
  readonly #address: string | undefined;
  /** The IA Address option for `#address` with the configured lifetimes, encoded once per configuration. */
  readonly #iaAddress: Dhcp6Option | undefined;
  readonly #dns: Uint8Array | undefined;
  readonly #domains: Uint8Array | undefined;
  readonly #rapidCommit: boolean;
  readonly #preference: number;
  #received = 0;
  #replied = 0;
  readonly #byType = new Map<number, number>();
  readonly #dropped = new Map<Dhcp6DropReason, number>();
  readonly #declined: DeclinedAddress[] = [];

  /** Validates the configuration; throws `SyntaxError` for bad addresses or names and `RangeError` for bad numbers. */
  constructor(config: Dhcp6ServerConfig, options: { readonly now?: () => number } = {}) {
    parseMac48(config.serverDuidMac);
    for (const [name, v] of [
      ["preferredLifetime", config.preferredLifetime],
      ["validLifetime", config.validLifetime],
      ["t1", config.t1],
      ["t2", config.t2],
    ] as const) {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
        throw new RangeError(`Cannot use ${name} "${v}": not a 32-bit unsigned integer`);
      }
    }
    if (config.preferredLifetime > config.validLifetime) {
      throw new RangeError(
        `Cannot use preferredLifetime "${config.preferredLifetime}" above validLifetime "${config.validLifetime}"`,
      );
    }
    // RFC 8415 §21.4: T1 must not exceed T2 when both are set.
    if (config.t1 > 0 && config.t2 > 0 && config.t1 > config.t2) {
      throw new RangeError(`Cannot use t1 "${config.t1}" above t2 "${config.t2}"`);
    }
    const preference = config.preference ?? 255;
    if (!Number.isInteger(preference) || preference < 0 || preference > 255) {
      throw new RangeError(`Cannot use preference "${preference}": not an 8-bit unsigned integer`);
    }
    this.#config = config;
    this.#now = options.now ?? Date.now;
    this.#serverId = encodeDuidLl(config.serverDuidMac);
    this.#address = config.address === undefined ? undefined : canonicalIpv6(config.address);
    this.#iaAddress =
      this.#address === undefined
        ? undefined
        : {
            code: OptionCode.IaAddr,
            data: encodeIaAddress({
              address: this.#address,
              preferredLifetime: config.preferredLifetime,
              validLifetime: config.validLifetime,
              options: [],
            }),
          };
    this.#dns = config.dns.length > 0 ? encodeAddressList(config.dns) : undefined;
    this.#domains = config.searchDomains.length > 0 ? encodeDomainSearchList(config.searchDomains) : undefined;
    if (this.#domains && this.#domains.length > 0xffff)
      throw new RangeError("Cannot encode search domains over 65535 bytes");
    this.#rapidCommit = config.rapidCommit ?? true;
    this.#preference = preference;
  }

  /** The Server Identifier this server sends (DUID-LL of `serverDuidMac`). */
  get serverId(): Uint8Array {
    return this.#serverId.slice();
  }

  /** A snapshot of the counters. */
  get stats(): Dhcp6Stats {
    const dropped = Object.fromEntries(Object.values(Dhcp6DropReason).map((r) => [r, this.#dropped.get(r) ?? 0]));
    return {
      received: this.#received,
      replied: this.#replied,
      receivedByType: Object.fromEntries(this.#byType),
      dropped: dropped as Record<Dhcp6DropReason, number>,
      declined: [...this.#declined],
    };
  }

  /** Handles one datagram; returns the reply to send, or `undefined` when the packet is dropped. Never throws. */
  handle(bytes: Uint8Array, meta: Dhcp6PacketMeta): Dhcp6Reply | undefined {
    this.#received++;
    const served = this.#config.ifindex;
    if (served !== undefined && meta.ifindex !== undefined && meta.ifindex !== served) {
      this.#drop("wrong-interface");
      return undefined;
    }
    try {
      const reply = encodeMessage(this.#handle(bytes, meta.destinationAddress));
      this.#replied++;
      return { reply, to: { address: meta.sourceAddress, port: meta.sourcePort } };
    } catch (e) {
      this.#drop(reasonOf(e));
      return undefined;
    }
  }

  #drop(reason: Dhcp6DropReason): void {
    this.#dropped.set(reason, (this.#dropped.get(reason) ?? 0) + 1);
  }

  #handle(bytes: Uint8Array, destination: string | undefined): Dhcp6Message {
    const msg = decodeMessage(bytes);
    this.#byType.set(msg.type, (this.#byType.get(msg.type) ?? 0) + 1);
    if (msg.type === MessageType.RelayForw || msg.type === MessageType.RelayRepl) throw new Drop("relay-message");
    const rule = RULES[msg.type];
    if (!rule) throw new Drop("unexpected-type");
    if (rule.multicastOnly && destination !== undefined && !isMulticast(destination)) {
      throw new Drop("unicast-not-allowed");
    }
    validateOptions(msg.options);
    for (const code of SINGLETON_OPTIONS) {
      if (findOptions(msg.options, code).length > 1) throw new Drop("duplicate-option");
    }
    const clientId = findOption(msg.options, OptionCode.ClientId);
    if (rule.clientId && !clientId) throw new Drop("missing-client-id");
    const serverId = findOption(msg.options, OptionCode.ServerId);
    if (rule.serverId === ServerIdRule.Forbidden && serverId) throw new Drop("unexpected-server-id");
    if (rule.serverId === ServerIdRule.Required && !serverId) throw new Drop("missing-server-id");
    if (serverId && !equalBytes(serverId.data, this.#serverId)) throw new Drop("wrong-server-id");
    const ias = findOptions(msg.options, OptionCode.IaNa).map((o) => decodeIaNa(o.data));

    const head: Dhcp6Option[] = [];
    if (clientId) head.push({ code: OptionCode.ClientId, data: clientId.data });
    head.push({ code: OptionCode.ServerId, data: this.#serverId });
    const reply = (type: number, options: Dhcp6Option[]): Dhcp6Message => ({
      type,
      transactionId: msg.transactionId,
      options: [...head, ...options],
    });

    switch (msg.type) {
      case MessageType.Solicit: {
        const rapid = this.#rapidCommit && findOption(msg.options, OptionCode.RapidCommit) !== undefined;
        const body = [...this.#assign(ias, true), ...refuseOtherIas(msg.options), ...this.#configOptions(msg.options)];
        if (rapid)
          return reply(MessageType.Reply, [{ code: OptionCode.RapidCommit, data: new Uint8Array(0) }, ...body]);
        return reply(MessageType.Advertise, [
          { code: OptionCode.Preference, data: Uint8Array.of(this.#preference) },
          ...body,
        ]);
      }
      case MessageType.Request:
        return reply(MessageType.Reply, [
          ...this.#assign(ias, true),
          ...refuseOtherIas(msg.options),
          ...this.#configOptions(msg.options),
        ]);
      case MessageType.Renew:
      case MessageType.Rebind:
        // RFC 8415 §18.3.4/§18.3.5: extend our address; addresses we do not hand out go back with zero lifetimes.
        return reply(MessageType.Reply, [
          ...this.#assign(ias, false),
          ...refuseOtherIas(msg.options),
          ...this.#configOptions(msg.options),
        ]);
      case MessageType.Confirm:
        return reply(MessageType.Reply, [this.#confirm(ias)]);
      case MessageType.Release:
        return reply(MessageType.Reply, [status(StatusCode.Success, "Release received")]);
      case MessageType.Decline: {
        for (const ia of ias) {
          for (const o of findOptions(ia.options, OptionCode.IaAddr)) {
            this.#recordDecline(decodeIaAddress(o.data).address, ia.iaid, clientId?.data ?? new Uint8Array(0));
          }
        }
        return reply(MessageType.Reply, [status(StatusCode.Success, "Decline recorded")]);
      }
      case MessageType.InformationRequest:
        // RFC 8415 §16.12: an Information-request must not carry IA options.
        if (msg.options.some((o) => IA_CODES.includes(o.code))) throw new Drop("unexpected-ia");
        return reply(MessageType.Reply, this.#configOptions(msg.options));
      default:
        throw new Drop("unexpected-type");
    }
  }

  /** IA_NA options answering the client's IA_NAs: our address in the first, NoAddrsAvail elsewhere. */
  #assign(ias: readonly IaNa[], fresh: boolean): Dhcp6Option[] {
    const c = this.#config;
    return ias.map((ia, i) => {
      const nested: Dhcp6Option[] = [];
      const ours = i === 0 ? this.#iaAddress : undefined;
      if (ours) nested.push(ours);
      if (!fresh) {
        for (const o of findOptions(ia.options, OptionCode.IaAddr)) {
          const held = decodeIaAddress(o.data).address;
          if (ours && held === this.#address) continue;
          nested.push({
            code: OptionCode.IaAddr,
            data: encodeIaAddress({ address: held, preferredLifetime: 0, validLifetime: 0, options: [] }),
          });
        }
      }
      if (!ours) nested.push(status(StatusCode.NoAddrsAvail, "No addresses available"));
      return { code: OptionCode.IaNa, data: encodeIaNa({ iaid: ia.iaid, t1: c.t1, t2: c.t2, options: nested }) };
    });
  }

  /** RFC 8415 §18.3.3: Success when every address is ours, NotOnLink otherwise, no reply without addresses. */
  #confirm(ias: readonly IaNa[]): Dhcp6Option {
    const held = ias.flatMap((ia) => findOptions(ia.options, OptionCode.IaAddr).map((o) => decodeIaAddress(o.data)));
    if (held.length === 0) throw new Drop("nothing-to-confirm");
    if (held.every((a) => a.address === this.#address)) return status(StatusCode.Success, "All addresses on link");
    return status(StatusCode.NotOnLink, "Address not on link");
  }

  /** DNS servers and search list: those the ORO asks for, or both when the client sent no ORO. */
  #configOptions(options: readonly Dhcp6Option[]): Dhcp6Option[] {
    const oro = findOption(options, OptionCode.Oro);
    const wanted = oro ? decodeOro(oro.data) : [OptionCode.DnsServers, OptionCode.DomainList];
    const out: Dhcp6Option[] = [];
    if (this.#dns && wanted.includes(OptionCode.DnsServers)) out.push({ code: OptionCode.DnsServers, data: this.#dns });
    if (this.#domains && wanted.includes(OptionCode.DomainList)) {
      out.push({ code: OptionCode.DomainList, data: this.#domains });
    }
    return out;
  }

  #recordDecline(address: string, iaid: number, clientId: Uint8Array): void {
    if (this.#declined.length >= MAX_DECLINED) this.#declined.shift();
    this.#declined.push({ address, iaid, clientId: clientId.slice(), at: this.#now() });
  }
}

const IA_CODES: readonly number[] = [OptionCode.IaNa, OptionCode.IaTa, OptionCode.IaPd];

/**
 * Temporary addresses and delegated prefixes are not offered: each IA_TA gets NoAddrsAvail and each IA_PD
 * NoPrefixAvail (RFC 8415 §18.3.9, §18.3.2), so a client asking for both (systemd-networkd does) keeps its IA_NA.
 */
function refuseOtherIas(options: readonly Dhcp6Option[]): Dhcp6Option[] {
  const out: Dhcp6Option[] = [];
  for (const o of options) {
    if (o.code === OptionCode.IaTa) {
      const { iaid } = decodeIaTa(o.data);
      out.push({
        code: OptionCode.IaTa,
        data: encodeIaTa({ iaid, options: [status(StatusCode.NoAddrsAvail, "No temporary addresses")] }),
      });
    } else if (o.code === OptionCode.IaPd) {
      const { iaid } = decodeIaPd(o.data);
      out.push({
        code: OptionCode.IaPd,
        data: encodeIaPd({ iaid, t1: 0, t2: 0, options: [status(StatusCode.NoPrefixAvail, "No prefixes available")] }),
      });
    }
  }
  return out;
}

function status(code: number, message: string): Dhcp6Option {
  return { code: OptionCode.StatusCode, data: encodeStatus({ code, message }) };
}

function isMulticast(address: string): boolean {
  return tryParseIpv6(stripZone(address))?.[0] === 0xff;
}

/** Decodes every option the server understands so malformed bodies are dropped before any reply is built. */
function validateOptions(options: readonly Dhcp6Option[]): void {
  for (const o of options) {
    switch (o.code) {
      case OptionCode.ClientId:
      case OptionCode.ServerId:
        decodeDuid(o.code, o.data);
        break;
      case OptionCode.IaNa:
        for (const n of decodeIaNa(o.data).options) validateNested(n);
        break;
      case OptionCode.IaTa:
        for (const n of decodeIaTa(o.data).options) validateNested(n);
        break;
      case OptionCode.IaPd:
        for (const n of decodeIaPd(o.data).options) validateNested(n);
        break;
      case OptionCode.Oro:
        decodeOro(o.data);
        break;
      case OptionCode.ElapsedTime:
        decodeElapsedTime(o.data);
        break;
      case OptionCode.RapidCommit:
        if (o.data.length !== 0) {
          throw new Dhcp6DecodeError("bad-option-length", `Cannot decode option 14: length ${o.data.length}`);
        }
        break;
      case OptionCode.DnsServers:
        decodeAddressList(o.code, o.data);
        break;
      case OptionCode.DomainList:
        decodeDomainSearchList(o.data);
        break;
      case OptionCode.StatusCode:
        decodeStatus(o.data);
        break;
    }
  }
}

function validateNested(o: Dhcp6Option): void {
  if (o.code === OptionCode.IaAddr) {
    for (const n of decodeIaAddress(o.data).options) validateNested(n);
  } else if (o.code === OptionCode.StatusCode) {
    decodeStatus(o.data);
  }
}

function reasonOf(e: unknown): Dhcp6DropReason {
  if (e instanceof Drop) return e.reason;
  if (e instanceof Dhcp6DecodeError) return e.reason;
  return "unencodable";
}
