/**
 * DHCPv4 option codes (RFC 2132 and later) and the options-area codec, including RFC 3396 long options: a value
 * longer than 255 bytes is split into consecutive instances of the same code, and every instance of a code is
 * concatenated on decode.
 */

import { concatBytes } from "../bytes.ts";

/** Option codes vmnet reads or writes. */
export const OptionCode = {
  Pad: 0,
  SubnetMask: 1,
  Router: 3,
  DomainNameServer: 6,
  HostName: 12,
  DomainName: 15,
  InterfaceMtu: 26,
  BroadcastAddress: 28,
  NtpServers: 42,
  RequestedIpAddress: 50,
  LeaseTime: 51,
  Overload: 52,
  MessageType: 53,
  ServerIdentifier: 54,
  ParameterRequestList: 55,
  Message: 56,
  MaxMessageSize: 57,
  VendorClassIdentifier: 60,
  ClientIdentifier: 61,
  TftpServerName: 66,
  BootfileName: 67,
  RelayAgentInformation: 82,
  DomainSearch: 119,
  ClasslessStaticRoute: 121,
  End: 255,
} as const;
export type OptionCode = (typeof OptionCode)[keyof typeof OptionCode];

/** The first and last site-specific ("private") option codes, as KubeVirt's `privateOptions` allow. */
export const PRIVATE_OPTION_MIN = 224;
/** See {@link PRIVATE_OPTION_MIN}. */
export const PRIVATE_OPTION_MAX = 254;

/** DHCP message types (option 53, RFC 2132 §9.6). */
export const MessageType = {
  Discover: 1,
  Offer: 2,
  Request: 3,
  Decline: 4,
  Ack: 5,
  Nak: 6,
  Release: 7,
  Inform: 8,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** Names of the message types, for stats and logs. */
export const MESSAGE_TYPE_NAMES: Readonly<Record<MessageType, string>> = {
  1: "discover",
  2: "offer",
  3: "request",
  4: "decline",
  5: "ack",
  6: "nak",
  7: "release",
  8: "inform",
};

/** Decoded options: each code's value (RFC 3396-joined) and the order in which codes first appeared. */
export interface DecodedOptions {
  readonly values: ReadonlyMap<number, Uint8Array>;
  readonly order: readonly number[];
  /** Whether an End option terminated the area (a missing End is tolerated when the area parses cleanly). */
  readonly sawEnd: boolean;
}

/** Thrown by {@link decodeOptions} when an option's length runs past the end of the area. */
export class OptionOverrunError extends SyntaxError {
  /** Offset of the option code whose value does not fit. */
  readonly offset: number;
  constructor(offset: number, code: number) {
    super(`Cannot decode option "${code}" at offset ${offset}: its length runs past the end of the options`);
    this.name = "OptionOverrunError";
    this.offset = offset;
  }
}

/** Decodes an options area (after the magic cookie); bytes after End are ignored (they are padding). */
export function decodeOptions(area: Uint8Array): DecodedOptions {
  const parts = new Map<number, Uint8Array[]>();
  const order: number[] = [];
  let i = 0;
  let sawEnd = false;
  while (i < area.length) {
    const code = area[i] ?? 0;
    if (code === OptionCode.Pad) {
      i += 1;
      continue;
    }
    if (code === OptionCode.End) {
      sawEnd = true;
      break;
    }
    const length = area[i + 1];
    if (length === undefined || i + 2 + length > area.length) throw new OptionOverrunError(i, code);
    const value = area.subarray(i + 2, i + 2 + length);
    const list = parts.get(code);
    if (list) list.push(value);
    else {
      parts.set(code, [value]);
      order.push(code);
    }
    i += 2 + length;
  }
  const values = new Map<number, Uint8Array>();
  for (const [code, list] of parts) values.set(code, concatBytes(list));
  return { values, order, sawEnd };
}

/** One option to encode; `value` may be longer than 255 bytes. */
export interface OptionValue {
  readonly code: number;
  readonly value: Uint8Array;
}

/** Encoded size of one option, counting the RFC 3396 split (a zero-length value still takes code and length). */
export function encodedOptionSize(value: Uint8Array): number {
  const chunks = Math.max(1, Math.ceil(value.length / 255));
  return chunks * 2 + value.length;
}

/** Encodes options in the given order, splitting long values per RFC 3396, and appends End. */
export function encodeOptions(options: readonly OptionValue[]): Uint8Array {
  let size = 1;
  for (const o of options) size += encodedOptionSize(o.value);
  const out = new Uint8Array(size);
  let at = 0;
  for (const { code, value } of options) {
    if (!Number.isInteger(code) || code <= OptionCode.Pad || code >= OptionCode.End) {
      throw new RangeError(`Cannot encode option code "${code}": must be from 1 to 254`);
    }
    let from = 0;
    do {
      const chunk = value.subarray(from, from + 255);
      out[at] = code;
      out[at + 1] = chunk.length;
      out.set(chunk, at + 2);
      at += 2 + chunk.length;
      from += 255;
    } while (from < value.length);
  }
  out[at] = OptionCode.End;
  return out;
}
