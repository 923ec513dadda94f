/**
 * Router advertisement core (RFC 4861 §6.2) for the guest-facing bridge: builds unsolicited advertisements, answers
 * solicitations and schedules the periodic ones. Transport-free: the caller sends the ICMPv6 bytes with hop limit 255
 * from `sourceLinkLocal` and drops received solicitations whose hop limit is not 255 (RFC 4861 §6.1.1).
 */

import { canonicalIpv6, formatIpv6, parseIpv6, stripZone } from "../../api/ip.ts";
import { parseMac48 } from "../../api/mac.ts";
import { isUnspecified, linkLocalFromMac } from "./ipv6.ts";
import {
  decodeRouterSolicitation,
  encodeRouterAdvertisement,
  fillIcmpv6Checksum,
  NdDecodeError,
  NdDecodeReason,
  type NdOption,
} from "./ndp.ts";

/** RFC 4861 §10 router constants, in seconds or counts. */
export const RouterConstants = {
  MAX_INITIAL_RTR_ADVERT_INTERVAL: 16,
  MAX_INITIAL_RTR_ADVERTISEMENTS: 3,
  MAX_FINAL_RTR_ADVERTISEMENTS: 3,
  MIN_DELAY_BETWEEN_RAS: 3,
  MAX_RA_DELAY_TIME: 0.5,
} as const;

/** The all-nodes multicast group, destination of unsolicited advertisements. */
export const ALL_NODES = "ff02::1";
/** The all-routers multicast group, destination of solicitations (the transport joins it). */
export const ALL_ROUTERS = "ff02::2";

/** The advertised prefix (RFC 4861 §4.6.2). */
export interface AdvertisedPrefix {
  readonly prefix: string;
  readonly length: number;
  /** L flag: the prefix is on link, so the guest routes it directly. */
  readonly onLink: boolean;
  /** A flag: the guest may form an address by SLAAC (only meaningful for a /64). */
  readonly autonomous: boolean;
  readonly validLifetime: number;
  readonly preferredLifetime: number;
}

/** Router advertiser configuration. Times in seconds. */
export interface RouterAdvertiserConfig {
  readonly sourceMac: string;
  /** The bridge's link-local address: the source of every RA and the guest's default gateway. */
  readonly sourceLinkLocal: string;
  /** M flag: addresses come from DHCPv6. */
  readonly managed: boolean;
  /** O flag: other configuration (DNS) comes from DHCPv6. */
  readonly other: boolean;
  readonly prefix: AdvertisedPrefix | undefined;
  /** Link MTU to advertise, or undefined to send no MTU option. */
  readonly mtu: number | undefined;
  readonly rdnss: readonly string[];
  readonly dnssl: readonly string[];
  /** Default router lifetime; 0 means "not a default router". */
  readonly routerLifetime: number;
  readonly minInterval: number;
  readonly maxInterval: number;
  /** Cur Hop Limit field for the guest (default 64; 0 means unspecified). */
  readonly curHopLimit?: number;
  /** Lifetime of RDNSS and DNSSL (default 3 × maxInterval, RFC 8106 §5.1). */
  readonly dnsLifetime?: number;
}

/** What the transport must send: the ICMPv6 message and its destination (possibly with a `%zone`). */
export interface RaReply {
  readonly reply: Uint8Array;
  readonly to: string;
}

/** Why a solicitation was dropped: the decoding reasons plus the RFC 4861 §6.1.1 source rules. */
export const RsDropReason = {
  ...NdDecodeReason,
  UnspecifiedSourceWithLinkLayerAddress: "unspecified-source-with-lla",
  BadSourceAddress: "bad-source-address",
} as const;
export type RsDropReason = (typeof RsDropReason)[keyof typeof RsDropReason];

/** Counters; a snapshot is returned by `RouterAdvertiser.stats`. */
export interface RaStats {
  readonly solicitations: number;
  readonly solicitedReplies: number;
  readonly unsolicited: number;
  readonly dropped: Readonly<Record<RsDropReason, number>>;
}

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`Cannot use ${name} "${value}": expected an integer from ${min} to ${max}`);
  }
}

/** Router advertisement builder and solicitation handler for one interface. */
export class RouterAdvertiser {
  readonly #config: RouterAdvertiserConfig;
  readonly #source: Uint8Array;
  /** The advertisement and the final one (Router Lifetime 0), checksum zero: only the destination varies. */
  readonly #advertisement: Uint8Array;
  readonly #final: Uint8Array;
  #intervals = 0;
  #solicitations = 0;
  #solicitedReplies = 0;
  #unsolicited = 0;
  readonly #dropped = new Map<RsDropReason, number>();

  /** Validates against RFC 4861 §6.2.1 limits; throws `RangeError` or `SyntaxError`. */
  constructor(config: RouterAdvertiserConfig) {
    parseMac48(config.sourceMac);
    const source = canonicalIpv6(config.sourceLinkLocal);
    if (!source.startsWith("fe80:")) {
      throw new RangeError(`Cannot advertise from "${config.sourceLinkLocal}": not a link-local address`);
    }
    checkInteger("maxInterval", config.maxInterval, 4, 1800);
    checkInteger("minInterval", config.minInterval, 3, Math.floor(0.75 * config.maxInterval));
    if (config.routerLifetime !== 0) checkInteger("routerLifetime", config.routerLifetime, config.maxInterval, 9000);
    if (config.mtu !== undefined) checkInteger("mtu", config.mtu, 1280, 0xffffffff);
    checkInteger("curHopLimit", config.curHopLimit ?? 64, 0, 255);
    const dnsLifetime = config.dnsLifetime ?? 3 * config.maxInterval;
    checkInteger("dnsLifetime", dnsLifetime, 0, 0xffffffff);
    const options: NdOption[] = [{ kind: "source-link-layer-address", mac: config.sourceMac }];
    if (config.mtu !== undefined) options.push({ kind: "mtu", mtu: config.mtu });
    if (config.prefix) {
      const p = config.prefix;
      checkInteger("prefix length", p.length, 1, 128);
      checkInteger("prefix validLifetime", p.validLifetime, 0, 0xffffffff);
      checkInteger("prefix preferredLifetime", p.preferredLifetime, 0, p.validLifetime);
      options.push({ kind: "prefix-information", ...p, prefix: maskPrefix(p.prefix, p.length) });
    }
    if (config.rdnss.length > 0) options.push({ kind: "rdnss", lifetime: dnsLifetime, servers: config.rdnss });
    if (config.dnssl.length > 0) options.push({ kind: "dnssl", lifetime: dnsLifetime, domains: config.dnssl });
    this.#config = config;
    this.#source = parseIpv6(source);
    // Encoded once per configuration, so a bad RDNSS address or search domain fails here, not on the first packet,
    // and a packet costs a copy and its checksum.
    const ra = {
      curHopLimit: config.curHopLimit ?? 64,
      managed: config.managed,
      other: config.other,
      routerLifetime: config.routerLifetime,
      reachableTime: 0,
      retransTimer: 0,
      options,
    };
    this.#advertisement = encodeRouterAdvertisement(ra);
    this.#final = encodeRouterAdvertisement({ ...ra, routerLifetime: 0 });
  }

  /** A snapshot of the counters. */
  get stats(): RaStats {
    const dropped = Object.fromEntries(Object.values(RsDropReason).map((r) => [r, this.#dropped.get(r) ?? 0]));
    return {
      solicitations: this.#solicitations,
      solicitedReplies: this.#solicitedReplies,
      unsolicited: this.#unsolicited,
      dropped: dropped as Record<RsDropReason, number>,
    };
  }

  #to(destination: string, advertisement: Uint8Array): Uint8Array {
    return fillIcmpv6Checksum(advertisement.slice(), { source: this.#source, destination: stripZone(destination) });
  }

  /** An unsolicited advertisement to `destination` (default ff02::1), checksum filled for `sourceLinkLocal`. */
  buildAdvertisement(destination: string = ALL_NODES): Uint8Array {
    this.#unsolicited++;
    return this.#to(destination, this.#advertisement);
  }

  /**
   * A final advertisement for when the interface stops advertising (RFC 4861 §6.2.5): Router Lifetime 0 so guests
   * drop the default route at once. Send up to MAX_FINAL_RTR_ADVERTISEMENTS of them to ff02::1.
   */
  buildFinalAdvertisement(destination: string = ALL_NODES): Uint8Array {
    this.#unsolicited++;
    return this.#to(destination, this.#final);
  }

  /**
   * Answers a Router Solicitation (ICMPv6 bytes). RFC 4861 §6.2.6: unicast to a specified source, else to ff02::1.
   * Returns `undefined` for an invalid solicitation (RFC 4861 §6.1.1); never throws.
   */
  handleSolicitation(bytes: Uint8Array, meta: { readonly sourceAddress: string }): RaReply | undefined {
    this.#solicitations++;
    try {
      const rs = decodeRouterSolicitation(bytes);
      const unspecified = isUnspecified(meta.sourceAddress);
      if (!unspecified && !isUnicastText(meta.sourceAddress)) return this.#drop("bad-source-address");
      if (unspecified && rs.options.some((o) => o.kind === "source-link-layer-address")) {
        return this.#drop("unspecified-source-with-lla");
      }
      const to = unspecified ? ALL_NODES : meta.sourceAddress;
      const reply = this.#to(to, this.#advertisement);
      this.#solicitedReplies++;
      return { reply, to };
    } catch (e) {
      return this.#drop(e instanceof NdDecodeError ? e.reason : "bad-source-address");
    }
  }

  #drop(reason: RsDropReason): undefined {
    this.#dropped.set(reason, (this.#dropped.get(reason) ?? 0) + 1);
    return undefined;
  }

  /**
   * Seconds until the next unsolicited advertisement, given `random` uniform in [0, 1): uniform in
   * [minInterval, maxInterval], capped at MAX_INITIAL_RTR_ADVERT_INTERVAL for the first
   * MAX_INITIAL_RTR_ADVERTISEMENTS intervals (RFC 4861 §6.2.4). Each call counts one advertisement.
   */
  nextInterval(random: number): number {
    if (!(random >= 0 && random < 1)) throw new RangeError(`Cannot use random value "${random}": expected [0, 1)`);
    const c = this.#config;
    const interval = c.minInterval + random * (c.maxInterval - c.minInterval);
    this.#intervals++;
    if (this.#intervals <= RouterConstants.MAX_INITIAL_RTR_ADVERTISEMENTS) {
      return Math.min(interval, RouterConstants.MAX_INITIAL_RTR_ADVERT_INTERVAL);
    }
    return interval;
  }
}

/**
 * Seconds to hold a solicited reply (RFC 4861 §6.2.6): a random delay in [0, MAX_RA_DELAY_TIME], and for a
 * multicast reply no sooner than MIN_DELAY_BETWEEN_RAS after the previous multicast advertisement.
 * `sinceLastMulticast` is undefined when none was sent yet. After a multicast reply the caller restarts its periodic
 * timer as if an unsolicited advertisement had been sent.
 */
export function solicitedReplyDelay(options: {
  readonly random: number;
  readonly multicast: boolean;
  readonly sinceLastMulticast: number | undefined;
}): number {
  const { random, multicast, sinceLastMulticast } = options;
  if (!(random >= 0 && random < 1)) throw new RangeError(`Cannot use random value "${random}": expected [0, 1)`);
  const delay = random * RouterConstants.MAX_RA_DELAY_TIME;
  if (!multicast || sinceLastMulticast === undefined) return delay;
  return Math.max(delay, RouterConstants.MIN_DELAY_BETWEEN_RAS - sinceLastMulticast);
}

function isUnicastText(text: string): boolean {
  try {
    const canonical = canonicalIpv6(stripZone(text));
    return !canonical.startsWith("ff");
  } catch {
    return false;
  }
}

/** The prefix with the bits past `length` cleared (RFC 4861 §4.6.2: they must be zero). */
export function maskPrefix(prefix: string, length: number): string {
  const bytes = parseIpv6(prefix);
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, length - i * 8));
    bytes[i] = (bytes[i] ?? 0) & ((0xff << (8 - keep)) & 0xff);
  }
  return formatIpv6(bytes);
}

/** Inputs for the masquerade advertisement: the guest network and what the DHCPv6 server hands out. */
export interface MasqueradeRaInput {
  /** The bridge MAC (KubeVirt: `02:00:00:00:00:00`). */
  readonly bridgeMac: string;
  /** The guest network, e.g. `fd10:0:2::` with length 120. */
  readonly prefix: string;
  readonly prefixLength: number;
  readonly mtu: number | undefined;
  readonly dns: readonly string[];
  readonly searchDomains: readonly string[];
}

/**
 * The configuration vmnet uses for masquerade with stateful DHCPv6: M=1 and O=1 (address and DNS from DHCPv6), the
 * prefix on link without SLAAC (L=1, A=0), the bridge's link-local address as default router, RDNSS and DNSSL for
 * guests without a DHCPv6 client. Timers are the RFC 4861 §6.2.1 defaults.
 */
export function masqueradeAdvertiserConfig(input: MasqueradeRaInput): RouterAdvertiserConfig {
  const maxInterval = 600;
  return {
    sourceMac: input.bridgeMac,
    sourceLinkLocal: linkLocalFromMac(input.bridgeMac),
    managed: true,
    other: true,
    prefix: {
      prefix: input.prefix,
      length: input.prefixLength,
      onLink: true,
      autonomous: false,
      validLifetime: 2_592_000,
      preferredLifetime: 604_800,
    },
    mtu: input.mtu,
    rdnss: input.dns,
    dnssl: input.searchDomains,
    routerLifetime: 3 * maxInterval,
    minInterval: Math.floor(0.33 * maxInterval),
    maxInterval,
  };
}
