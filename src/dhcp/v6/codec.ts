/**
 * DHCPv6 wire format (RFC 8415 §8 and §21): the client/server message header, options as TLVs, and the option bodies
 * the stateful server needs. Decoders are strict and throw `Dhcp6DecodeError` with a stable `reason`.
 */

import { formatIpv6, parseIpv6 } from "../../api/ip.ts";
import { parseMac48 } from "../../api/mac.ts";
import { checkUint32 } from "../bytes.ts";
import { decodeDnsNames, encodeDnsNames } from "../dns-name.ts";

/** DHCPv6 message types (RFC 8415 §7.3). */
export const MessageType = {
  Solicit: 1,
  Advertise: 2,
  Request: 3,
  Confirm: 4,
  Renew: 5,
  Rebind: 6,
  Reply: 7,
  Release: 8,
  Decline: 9,
  Reconfigure: 10,
  InformationRequest: 11,
  RelayForw: 12,
  RelayRepl: 13,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** DHCPv6 option codes used here (RFC 8415 §21, RFC 3646 for 23 and 24). */
export const OptionCode = {
  ClientId: 1,
  ServerId: 2,
  IaNa: 3,
  IaTa: 4,
  IaAddr: 5,
  Oro: 6,
  Preference: 7,
  ElapsedTime: 8,
  StatusCode: 13,
  RapidCommit: 14,
  DnsServers: 23,
  DomainList: 24,
  IaPd: 25,
} as const;
export type OptionCode = (typeof OptionCode)[keyof typeof OptionCode];

/** DHCPv6 status codes (RFC 8415 §21.13). */
export const StatusCode = {
  Success: 0,
  UnspecFail: 1,
  NoAddrsAvail: 2,
  NoBinding: 3,
  NotOnLink: 4,
  UseMulticast: 5,
  NoPrefixAvail: 6,
} as const;
export type StatusCode = (typeof StatusCode)[keyof typeof StatusCode];

/** DUID types (RFC 8415 §11). */
export const DuidType = { Llt: 1, En: 2, Ll: 3, Uuid: 4 } as const;
export type DuidType = (typeof DuidType)[keyof typeof DuidType];

/** Why a packet could not be decoded; stable strings used as counter keys. */
export const Dhcp6DecodeReason = {
  TruncatedHeader: "truncated-header",
  OptionOverrun: "option-overrun",
  NestedOptionOverrun: "nested-option-overrun",
  BadOptionLength: "bad-option-length",
  BadDomain: "bad-domain",
} as const;
export type Dhcp6DecodeReason = (typeof Dhcp6DecodeReason)[keyof typeof Dhcp6DecodeReason];

/** A DHCPv6 packet or option body that does not follow RFC 8415. */
export class Dhcp6DecodeError extends Error {
  /** The stable reason, usable as a counter key. */
  readonly reason: Dhcp6DecodeReason;
  constructor(reason: Dhcp6DecodeReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "Dhcp6DecodeError";
    this.reason = reason;
  }
}

/** One option as a raw TLV. */
export interface Dhcp6Option {
  readonly code: number;
  readonly data: Uint8Array;
}

/** A client/server message (RFC 8415 §8): type, 24-bit transaction id, options. */
export interface Dhcp6Message {
  readonly type: number;
  readonly transactionId: number;
  readonly options: readonly Dhcp6Option[];
}

/** IA_NA body (RFC 8415 §21.4). */
export interface IaNa {
  readonly iaid: number;
  readonly t1: number;
  readonly t2: number;
  readonly options: readonly Dhcp6Option[];
}

/** IA Address body (RFC 8415 §21.6). */
export interface IaAddress {
  readonly address: string;
  readonly preferredLifetime: number;
  readonly validLifetime: number;
  readonly options: readonly Dhcp6Option[];
}

/** Status Code body (RFC 8415 §21.13). */
export interface Dhcp6Status {
  readonly code: number;
  readonly message: string;
}

/** A decoded DUID: its type, and for DUID-LL/DUID-LLT the hardware type and link-layer address. */
export interface Duid {
  readonly type: number;
  readonly hardwareType?: number;
  readonly time?: number;
  readonly linkLayerAddress?: Uint8Array;
  readonly raw: Uint8Array;
}

const HEADER = 4;
const TLV_HEADER = 4;

/** Decodes options filling all of `bytes`; an option running past the end throws with `overrunReason`. */
export function decodeOptions(
  bytes: Uint8Array,
  overrunReason: Dhcp6DecodeReason = Dhcp6DecodeReason.OptionOverrun,
): Dhcp6Option[] {
  const out: Dhcp6Option[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at < bytes.length) {
    if (at + TLV_HEADER > bytes.length) {
      throw new Dhcp6DecodeError(
        overrunReason,
        `Cannot decode option header at ${at}: only ${bytes.length - at} bytes`,
      );
    }
    const code = view.getUint16(at);
    const len = view.getUint16(at + 2);
    if (at + TLV_HEADER + len > bytes.length) {
      throw new Dhcp6DecodeError(overrunReason, `Cannot decode option ${code} at ${at}: length ${len} overruns data`);
    }
    out.push({ code, data: bytes.subarray(at + TLV_HEADER, at + TLV_HEADER + len) });
    at += TLV_HEADER + len;
  }
  return out;
}

/** Encodes options as back-to-back TLVs. */
export function encodeOptions(options: readonly Dhcp6Option[]): Uint8Array {
  const total = options.reduce((n, o) => n + TLV_HEADER + o.data.length, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const o of options) {
    if (o.data.length > 0xffff) throw new RangeError(`Cannot encode option ${o.code}: ${o.data.length} bytes`);
    view.setUint16(at, o.code);
    view.setUint16(at + 2, o.data.length);
    out.set(o.data, at + TLV_HEADER);
    at += TLV_HEADER + o.data.length;
  }
  return out;
}

/** Decodes a client/server message; relay messages (12, 13) decode too but their body is not parsed as options. */
export function decodeMessage(bytes: Uint8Array): Dhcp6Message {
  if (bytes.length < HEADER) {
    throw new Dhcp6DecodeError(Dhcp6DecodeReason.TruncatedHeader, `Cannot decode message of ${bytes.length} bytes`);
  }
  const type = bytes[0] ?? 0;
  const transactionId = ((bytes[1] ?? 0) << 16) | ((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0);
  if (type === MessageType.RelayForw || type === MessageType.RelayRepl) {
    return { type, transactionId, options: [] };
  }
  return { type, transactionId, options: decodeOptions(bytes.subarray(HEADER)) };
}

/** Encodes a client/server message. */
export function encodeMessage(message: Dhcp6Message): Uint8Array {
  if (!Number.isInteger(message.type) || message.type < 0 || message.type > 255) {
    throw new RangeError(`Cannot encode message type "${message.type}"`);
  }
  if (!Number.isInteger(message.transactionId) || message.transactionId < 0 || message.transactionId > 0xffffff) {
    throw new RangeError(`Cannot encode transaction id "${message.transactionId}"`);
  }
  const body = encodeOptions(message.options);
  const out = new Uint8Array(HEADER + body.length);
  out[0] = message.type;
  out[1] = message.transactionId >> 16;
  out[2] = (message.transactionId >> 8) & 0xff;
  out[3] = message.transactionId & 0xff;
  out.set(body, HEADER);
  return out;
}

/** The first option with `code`, if any. */
export function findOption(options: readonly Dhcp6Option[], code: number): Dhcp6Option | undefined {
  return options.find((o) => o.code === code);
}

/** All options with `code`. */
export function findOptions(options: readonly Dhcp6Option[], code: number): Dhcp6Option[] {
  return options.filter((o) => o.code === code);
}

function badLength(code: number, len: number, expected: string): Dhcp6DecodeError {
  return new Dhcp6DecodeError(
    Dhcp6DecodeReason.BadOptionLength,
    `Cannot decode option ${code}: length ${len}, expected ${expected}`,
  );
}

/** Encodes an IA_NA body. */
export function encodeIaNa(ia: IaNa): Uint8Array {
  const nested = encodeOptions(ia.options);
  const out = new Uint8Array(12 + nested.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, checkUint32(ia.iaid, "IAID"));
  view.setUint32(4, checkUint32(ia.t1, "T1"));
  view.setUint32(8, checkUint32(ia.t2, "T2"));
  out.set(nested, 12);
  return out;
}

/** Decodes an IA_NA body, including its nested options. */
export function decodeIaNa(data: Uint8Array): IaNa {
  return decodeIaWithTimers(OptionCode.IaNa, data);
}

/** Encodes an IA_PD body (RFC 8415 §21.21): the same IAID/T1/T2 layout as IA_NA. */
export function encodeIaPd(ia: IaNa): Uint8Array {
  return encodeIaNa(ia);
}

/** Decodes an IA_PD body; its nested IA Prefix options are kept raw. */
export function decodeIaPd(data: Uint8Array): IaNa {
  return decodeIaWithTimers(OptionCode.IaPd, data);
}

function decodeIaWithTimers(code: number, data: Uint8Array): IaNa {
  if (data.length < 12) throw badLength(code, data.length, "at least 12");
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return {
    iaid: view.getUint32(0),
    t1: view.getUint32(4),
    t2: view.getUint32(8),
    options: decodeOptions(data.subarray(12), Dhcp6DecodeReason.NestedOptionOverrun),
  };
}

/** IA_TA body (RFC 8415 §21.5): an IAID and options, no timers. */
export interface IaTa {
  readonly iaid: number;
  readonly options: readonly Dhcp6Option[];
}

/** Encodes an IA_TA body. */
export function encodeIaTa(ia: IaTa): Uint8Array {
  const nested = encodeOptions(ia.options);
  const out = new Uint8Array(4 + nested.length);
  new DataView(out.buffer).setUint32(0, checkUint32(ia.iaid, "IAID"));
  out.set(nested, 4);
  return out;
}

/** Decodes an IA_TA body, including its nested options. */
export function decodeIaTa(data: Uint8Array): IaTa {
  if (data.length < 4) throw badLength(OptionCode.IaTa, data.length, "at least 4");
  return {
    iaid: new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0),
    options: decodeOptions(data.subarray(4), Dhcp6DecodeReason.NestedOptionOverrun),
  };
}

/** Encodes an IA Address body. */
export function encodeIaAddress(a: IaAddress): Uint8Array {
  const nested = encodeOptions(a.options);
  const out = new Uint8Array(24 + nested.length);
  const view = new DataView(out.buffer);
  out.set(parseIpv6(a.address), 0);
  view.setUint32(16, checkUint32(a.preferredLifetime, "preferred lifetime"));
  view.setUint32(20, checkUint32(a.validLifetime, "valid lifetime"));
  out.set(nested, 24);
  return out;
}

/** Decodes an IA Address body, including its nested options. */
export function decodeIaAddress(data: Uint8Array): IaAddress {
  if (data.length < 24) throw badLength(OptionCode.IaAddr, data.length, "at least 24");
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return {
    address: formatIpv6(data.slice(0, 16)),
    preferredLifetime: view.getUint32(16),
    validLifetime: view.getUint32(20),
    options: decodeOptions(data.subarray(24), Dhcp6DecodeReason.NestedOptionOverrun),
  };
}

/** Encodes a Status Code body; the message is UTF-8 (RFC 8415 §21.13). */
export function encodeStatus(status: Dhcp6Status): Uint8Array {
  const text = new TextEncoder().encode(status.message);
  const out = new Uint8Array(2 + text.length);
  out[0] = status.code >> 8;
  out[1] = status.code & 0xff;
  out.set(text, 2);
  return out;
}

/** Decodes a Status Code body. */
export function decodeStatus(data: Uint8Array): Dhcp6Status {
  if (data.length < 2) throw badLength(OptionCode.StatusCode, data.length, "at least 2");
  return {
    code: ((data[0] ?? 0) << 8) | (data[1] ?? 0),
    message: new TextDecoder("utf-8", { fatal: false }).decode(data.subarray(2)),
  };
}

/** Encodes a list of 16-bit codes (Option Request, RFC 8415 §21.7). */
export function encodeOro(codes: readonly number[]): Uint8Array {
  const out = new Uint8Array(codes.length * 2);
  for (const [i, c] of codes.entries()) {
    out[i * 2] = c >> 8;
    out[i * 2 + 1] = c & 0xff;
  }
  return out;
}

/** Decodes an Option Request body. */
export function decodeOro(data: Uint8Array): number[] {
  if (data.length % 2 !== 0) throw badLength(OptionCode.Oro, data.length, "a multiple of 2");
  const out: number[] = [];
  for (let i = 0; i < data.length; i += 2) out.push(((data[i] ?? 0) << 8) | (data[i + 1] ?? 0));
  return out;
}

/** Encodes IPv6 addresses back to back (DNS Recursive Name Server option 23, RFC 3646 §3). */
export function encodeAddressList(addresses: readonly string[]): Uint8Array {
  const out = new Uint8Array(addresses.length * 16);
  for (const [i, a] of addresses.entries()) out.set(parseIpv6(a), i * 16);
  return out;
}

/** Decodes back-to-back IPv6 addresses. */
export function decodeAddressList(code: number, data: Uint8Array): string[] {
  if (data.length % 16 !== 0) throw badLength(code, data.length, "a multiple of 16");
  const out: string[] = [];
  for (let i = 0; i < data.length; i += 16) out.push(formatIpv6(data.slice(i, i + 16)));
  return out;
}

/** Encodes the Domain Search List body (option 24, RFC 3646 §4): uncompressed names (RFC 8415 §10). */
export function encodeDomainSearchList(names: readonly string[]): Uint8Array {
  return encodeDnsNames(names);
}

/** Decodes the Domain Search List body. */
export function decodeDomainSearchList(data: Uint8Array): string[] {
  try {
    return decodeDnsNames(data);
  } catch (e) {
    throw new Dhcp6DecodeError(Dhcp6DecodeReason.BadDomain, "Cannot decode domain search list", { cause: e });
  }
}

/** Encodes a DUID-LL (RFC 8415 §11.4) with hardware type 1 (Ethernet) for a MAC address. */
export function encodeDuidLl(mac: string): Uint8Array {
  const m = parseMac48(mac);
  const out = new Uint8Array(4 + m.length);
  out[1] = DuidType.Ll;
  out[3] = 1;
  out.set(m, 4);
  return out;
}

/** Decodes a DUID (Client or Server Identifier body): 2..130 octets (RFC 8415 §11.1). */
export function decodeDuid(code: number, data: Uint8Array): Duid {
  // A type code plus at most 128 octets; a DUID with no content after the type cannot identify anything.
  if (data.length < 3 || data.length > 130) throw badLength(code, data.length, "3 to 130");
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const type = view.getUint16(0);
  if (type === DuidType.Llt) {
    if (data.length < 8) throw badLength(code, data.length, "at least 8 for a DUID-LLT");
    return {
      type,
      hardwareType: view.getUint16(2),
      time: view.getUint32(4),
      linkLayerAddress: data.slice(8),
      raw: data,
    };
  }
  if (type === DuidType.Ll) {
    if (data.length < 4) throw badLength(code, data.length, "at least 4 for a DUID-LL");
    return { type, hardwareType: view.getUint16(2), linkLayerAddress: data.slice(4), raw: data };
  }
  return { type, raw: data };
}

/** Decodes an Elapsed Time body (hundredths of a second). */
export function decodeElapsedTime(data: Uint8Array): number {
  if (data.length !== 2) throw badLength(OptionCode.ElapsedTime, data.length, "2");
  return ((data[0] ?? 0) << 8) | (data[1] ?? 0);
}
