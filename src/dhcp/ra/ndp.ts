/**
 * ICMPv6 Router Solicitation and Router Advertisement codec (RFC 4861 §4.1, §4.2, §4.6) with the RDNSS and DNSSL
 * options of RFC 8106, and the ICMPv6 checksum (RFC 4443 §2.3) over the IPv6 pseudo-header (RFC 8200 §8.1).
 */

import { formatIpv6, parseIpv6 } from "../../api/ip.ts";
import { formatMac, parseMac48 } from "../../api/mac.ts";
import { checkUint32, concatBytes } from "../bytes.ts";
import { decodeDnsName, encodeDnsNames } from "../dns-name.ts";

/** ICMPv6 types of Neighbor Discovery messages handled here. */
export const IcmpType = { RouterSolicitation: 133, RouterAdvertisement: 134 } as const;
export type IcmpType = (typeof IcmpType)[keyof typeof IcmpType];

/** Neighbor Discovery option types (RFC 4861 §4.6, RFC 8106 §5). */
export const NdOptionType = {
  SourceLinkLayerAddress: 1,
  TargetLinkLayerAddress: 2,
  PrefixInformation: 3,
  Mtu: 5,
  Rdnss: 25,
  Dnssl: 31,
} as const;
export type NdOptionType = (typeof NdOptionType)[keyof typeof NdOptionType];

/** Why an ND packet could not be decoded; stable strings used as counter keys. */
export const NdDecodeReason = {
  Truncated: "truncated",
  WrongType: "wrong-type",
  BadCode: "bad-code",
  ZeroOptionLength: "zero-option-length",
  OptionOverrun: "option-overrun",
  BadOptionLength: "bad-option-length",
  BadDomain: "bad-domain",
} as const;
export type NdDecodeReason = (typeof NdDecodeReason)[keyof typeof NdDecodeReason];

/** An ICMPv6 ND packet that does not follow RFC 4861 / RFC 8106. */
export class NdDecodeError extends Error {
  /** The stable reason, usable as a counter key. */
  readonly reason: NdDecodeReason;
  constructor(reason: NdDecodeReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "NdDecodeError";
    this.reason = reason;
  }
}

/** Prefix Information (RFC 4861 §4.6.2). `prefix` is an address text; bits past `length` are sent as given. */
export interface PrefixInformation {
  readonly kind: "prefix-information";
  readonly prefix: string;
  readonly length: number;
  readonly onLink: boolean;
  readonly autonomous: boolean;
  readonly validLifetime: number;
  readonly preferredLifetime: number;
}

/** A decoded or to-be-encoded ND option. Unknown options are kept raw (RFC 4861 §4.6: receivers skip them). */
export type NdOption =
  | { readonly kind: "source-link-layer-address"; readonly mac: string }
  | { readonly kind: "target-link-layer-address"; readonly mac: string }
  | PrefixInformation
  | { readonly kind: "mtu"; readonly mtu: number }
  | { readonly kind: "rdnss"; readonly lifetime: number; readonly servers: readonly string[] }
  | { readonly kind: "dnssl"; readonly lifetime: number; readonly domains: readonly string[] }
  | { readonly kind: "unknown"; readonly type: number; readonly data: Uint8Array };

/** Router Solicitation (RFC 4861 §4.1). */
export interface RouterSolicitation {
  readonly options: readonly NdOption[];
}

/** Router Advertisement (RFC 4861 §4.2). Lifetimes in seconds, reachable/retrans times in milliseconds. */
export interface RouterAdvertisement {
  readonly curHopLimit: number;
  readonly managed: boolean;
  readonly other: boolean;
  readonly routerLifetime: number;
  readonly reachableTime: number;
  readonly retransTimer: number;
  readonly options: readonly NdOption[];
}

/** Source and destination addresses for the checksum pseudo-header. */
export interface ChecksumAddresses {
  readonly source: string | Uint8Array;
  readonly destination: string | Uint8Array;
}

const ICMPV6_NEXT_HEADER = 58;

function addressBytes(a: string | Uint8Array): Uint8Array {
  const bytes = typeof a === "string" ? parseIpv6(a) : a;
  if (bytes.length !== 16) throw new RangeError(`Cannot use a ${bytes.length}-byte IPv6 address`);
  return bytes;
}

/**
 * The ICMPv6 checksum of `payload` (the whole ICMPv6 message) between `src` and `dst`: the one's complement of the
 * one's complement sum of the pseudo-header and the payload as given. Zero the checksum field (bytes 2-3) to compute
 * it; a received packet with a correct checksum sums to 0.
 */
export function icmpv6Checksum(src: string | Uint8Array, dst: string | Uint8Array, payload: Uint8Array): number {
  let sum = 0;
  const add16 = (bytes: Uint8Array) => {
    for (let i = 0; i < bytes.length; i += 2) sum += ((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0);
  };
  add16(addressBytes(src));
  add16(addressBytes(dst));
  const len = payload.length;
  sum += (len >>> 16) & 0xffff;
  sum += len & 0xffff;
  sum += ICMPV6_NEXT_HEADER;
  add16(payload);
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/** Writes the checksum into bytes 2-3 of an ICMPv6 message (in place) and returns it. */
export function fillIcmpv6Checksum(message: Uint8Array, addresses: ChecksumAddresses): Uint8Array {
  message[2] = 0;
  message[3] = 0;
  const sum = icmpv6Checksum(addresses.source, addresses.destination, message);
  message[2] = sum >> 8;
  message[3] = sum & 0xff;
  return message;
}

/** Encodes one ND option, padded to a multiple of 8 bytes. */
export function encodeNdOption(option: NdOption): Uint8Array {
  let type: number;
  let body: Uint8Array;
  switch (option.kind) {
    case "source-link-layer-address":
    case "target-link-layer-address":
      type = option.kind === "source-link-layer-address" ? 1 : 2;
      body = parseMac48(option.mac);
      break;
    case "prefix-information": {
      type = NdOptionType.PrefixInformation;
      if (!Number.isInteger(option.length) || option.length < 0 || option.length > 128) {
        throw new RangeError(`Cannot encode prefix length "${option.length}"`);
      }
      body = new Uint8Array(30);
      const view = new DataView(body.buffer);
      body[0] = option.length;
      body[1] = (option.onLink ? 0x80 : 0) | (option.autonomous ? 0x40 : 0);
      view.setUint32(2, checkUint32(option.validLifetime, "valid lifetime"));
      view.setUint32(6, checkUint32(option.preferredLifetime, "preferred lifetime"));
      body.set(parseIpv6(option.prefix), 14);
      break;
    }
    case "mtu":
      type = NdOptionType.Mtu;
      body = new Uint8Array(6);
      new DataView(body.buffer).setUint32(2, checkUint32(option.mtu, "MTU"));
      break;
    case "rdnss": {
      type = NdOptionType.Rdnss;
      if (option.servers.length === 0) throw new RangeError("Cannot encode an RDNSS option without servers");
      body = new Uint8Array(6 + 16 * option.servers.length);
      new DataView(body.buffer).setUint32(2, checkUint32(option.lifetime, "RDNSS lifetime"));
      for (const [i, s] of option.servers.entries()) body.set(parseIpv6(s), 6 + 16 * i);
      break;
    }
    case "dnssl": {
      type = NdOptionType.Dnssl;
      if (option.domains.length === 0) throw new RangeError("Cannot encode a DNSSL option without domains");
      const names = encodeDnsNames(option.domains);
      body = new Uint8Array(6 + names.length);
      new DataView(body.buffer).setUint32(2, checkUint32(option.lifetime, "DNSSL lifetime"));
      body.set(names, 6);
      break;
    }
    case "unknown":
      type = option.type;
      body = option.data;
      break;
  }
  // Length is in units of 8 octets including the type and length bytes; padding is zeros (RFC 8106 §5.2).
  const units = Math.ceil((2 + body.length) / 8);
  if (units > 255) throw new RangeError(`Cannot encode ND option ${type}: ${2 + body.length} bytes exceed 2040`);
  const out = new Uint8Array(units * 8);
  out[0] = type;
  out[1] = units;
  out.set(body, 2);
  return out;
}

/** Encodes a Router Solicitation; fills the checksum when `addresses` is given, else leaves it 0 for the kernel. */
export function encodeRouterSolicitation(rs: RouterSolicitation, addresses?: ChecksumAddresses): Uint8Array {
  const out = concatBytes([
    Uint8Array.of(IcmpType.RouterSolicitation, 0, 0, 0, 0, 0, 0, 0),
    ...rs.options.map(encodeNdOption),
  ]);
  return addresses ? fillIcmpv6Checksum(out, addresses) : out;
}

/** Encodes a Router Advertisement; fills the checksum when `addresses` is given, else leaves it 0 for the kernel. */
export function encodeRouterAdvertisement(ra: RouterAdvertisement, addresses?: ChecksumAddresses): Uint8Array {
  if (!Number.isInteger(ra.curHopLimit) || ra.curHopLimit < 0 || ra.curHopLimit > 255) {
    throw new RangeError(`Cannot encode hop limit "${ra.curHopLimit}"`);
  }
  if (!Number.isInteger(ra.routerLifetime) || ra.routerLifetime < 0 || ra.routerLifetime > 0xffff) {
    throw new RangeError(`Cannot encode router lifetime "${ra.routerLifetime}"`);
  }
  const head = new Uint8Array(16);
  const view = new DataView(head.buffer);
  head[0] = IcmpType.RouterAdvertisement;
  head[4] = ra.curHopLimit;
  head[5] = (ra.managed ? 0x80 : 0) | (ra.other ? 0x40 : 0);
  view.setUint16(6, ra.routerLifetime);
  view.setUint32(8, checkUint32(ra.reachableTime, "reachable time"));
  view.setUint32(12, checkUint32(ra.retransTimer, "retransmission timer"));
  const out = concatBytes([head, ...ra.options.map(encodeNdOption)]);
  return addresses ? fillIcmpv6Checksum(out, addresses) : out;
}

function badLength(type: number, units: number): NdDecodeError {
  return new NdDecodeError(
    NdDecodeReason.BadOptionLength,
    `Cannot decode ND option ${type}: length ${units} is invalid`,
  );
}

function decodeOption(type: number, units: number, body: Uint8Array): NdOption {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  switch (type) {
    case NdOptionType.SourceLinkLayerAddress:
    case NdOptionType.TargetLinkLayerAddress:
      // Ethernet (RFC 2464 §6): exactly one unit, 6 address bytes.
      if (units !== 1) throw badLength(type, units);
      return {
        kind: type === 1 ? "source-link-layer-address" : "target-link-layer-address",
        mac: formatMac(body.slice(0, 6)),
      };
    case NdOptionType.PrefixInformation:
      if (units !== 4) throw badLength(type, units);
      if ((body[0] ?? 0) > 128) throw badLength(type, units);
      return {
        kind: "prefix-information",
        length: body[0] ?? 0,
        onLink: ((body[1] ?? 0) & 0x80) !== 0,
        autonomous: ((body[1] ?? 0) & 0x40) !== 0,
        validLifetime: view.getUint32(2),
        preferredLifetime: view.getUint32(6),
        prefix: formatIpv6(body.slice(14, 30)),
      };
    case NdOptionType.Mtu:
      if (units !== 1) throw badLength(type, units);
      return { kind: "mtu", mtu: view.getUint32(2) };
    case NdOptionType.Rdnss: {
      // RFC 8106 §5.1: 3 + 2 per extra server, so odd and at least 3.
      if (units < 3 || units % 2 === 0) throw badLength(type, units);
      const servers: string[] = [];
      for (let at = 6; at + 16 <= body.length; at += 16) servers.push(formatIpv6(body.slice(at, at + 16)));
      return { kind: "rdnss", lifetime: view.getUint32(2), servers };
    }
    case NdOptionType.Dnssl: {
      if (units < 2) throw badLength(type, units);
      const domains: string[] = [];
      let at = 6;
      try {
        // Names run until a zero byte where a name would start; the rest must be zero padding (RFC 8106 §5.2).
        while (at < body.length && body[at] !== 0) {
          const { name, next } = decodeDnsName(body, at);
          domains.push(name);
          at = next;
        }
      } catch (e) {
        throw new NdDecodeError(NdDecodeReason.BadDomain, "Cannot decode DNSSL domain names", { cause: e });
      }
      if (body.subarray(at).some((b) => b !== 0)) {
        throw new NdDecodeError(NdDecodeReason.BadDomain, "Cannot decode DNSSL: padding is not zero");
      }
      if (domains.length === 0) throw new NdDecodeError(NdDecodeReason.BadDomain, "Cannot decode DNSSL: no domains");
      return { kind: "dnssl", lifetime: view.getUint32(2), domains };
    }
    default:
      return { kind: "unknown", type, data: body.slice() };
  }
}

/** Decodes the options area of an ND message; every option must have a non-zero length and fit (RFC 4861 §6.1). */
export function decodeNdOptions(bytes: Uint8Array): NdOption[] {
  const out: NdOption[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (at + 2 > bytes.length) {
      throw new NdDecodeError(NdDecodeReason.OptionOverrun, `Cannot decode ND option header at ${at}`);
    }
    const type = bytes[at] ?? 0;
    const units = bytes[at + 1] ?? 0;
    if (units === 0) {
      throw new NdDecodeError(NdDecodeReason.ZeroOptionLength, `Cannot decode ND option ${type}: length is zero`);
    }
    if (at + units * 8 > bytes.length) {
      throw new NdDecodeError(NdDecodeReason.OptionOverrun, `Cannot decode ND option ${type}: it overruns the packet`);
    }
    out.push(decodeOption(type, units, bytes.subarray(at + 2, at + units * 8)));
    at += units * 8;
  }
  return out;
}

function checkHeader(bytes: Uint8Array, type: IcmpType, min: number): void {
  if (bytes.length < min) {
    throw new NdDecodeError(NdDecodeReason.Truncated, `Cannot decode ICMPv6 message of ${bytes.length} bytes`);
  }
  if (bytes[0] !== type) throw new NdDecodeError(NdDecodeReason.WrongType, `Cannot decode ICMPv6 type ${bytes[0]}`);
  if (bytes[1] !== 0) throw new NdDecodeError(NdDecodeReason.BadCode, `Cannot decode ICMPv6 code ${bytes[1]}`);
}

/** Decodes a Router Solicitation (the ICMPv6 message, without IPv6 header). The checksum is not verified. */
export function decodeRouterSolicitation(bytes: Uint8Array): RouterSolicitation {
  checkHeader(bytes, IcmpType.RouterSolicitation, 8);
  return { options: decodeNdOptions(bytes.subarray(8)) };
}

/** Decodes a Router Advertisement (the ICMPv6 message, without IPv6 header). The checksum is not verified. */
export function decodeRouterAdvertisement(bytes: Uint8Array): RouterAdvertisement {
  checkHeader(bytes, IcmpType.RouterAdvertisement, 16);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    curHopLimit: bytes[4] ?? 0,
    managed: ((bytes[5] ?? 0) & 0x80) !== 0,
    other: ((bytes[5] ?? 0) & 0x40) !== 0,
    routerLifetime: view.getUint16(6),
    reachableTime: view.getUint32(8),
    retransTimer: view.getUint32(12),
    options: decodeNdOptions(bytes.subarray(16)),
  };
}
