/**
 * The BOOTP/DHCPv4 message layout (RFC 2131 §2): a 236-byte fixed header, the magic cookie, then options.
 */
import { type DecodedOptions, decodeOptions, encodeOptions, OptionOverrunError, type OptionValue } from "./options.ts";

/** Offset of the magic cookie; a DHCP message is at least this plus the 4-byte cookie long. */
export const FIXED_HEADER_SIZE = 236;
/** Shortest message vmnet accepts: the fixed header plus the magic cookie (KubeVirt drops anything shorter). */
export const MIN_MESSAGE_SIZE = FIXED_HEADER_SIZE + 4;
/** Replies are padded to the 300-byte BOOTP minimum (RFC 951, RFC 1542 §3.2.1) for old relays and clients. */
export const MIN_REPLY_SIZE = 300;
/** The DHCP magic cookie 99.130.83.99. */
export const MAGIC_COOKIE = 0x63825363;
/** BOOTP op codes. */
export const BootOp = { Request: 1, Reply: 2 } as const;
export type BootOp = (typeof BootOp)[keyof typeof BootOp];
/** The broadcast bit of `flags` (RFC 2131 §2, figure 2). */
export const BROADCAST_FLAG = 0x8000;

/** A decoded DHCPv4 message; addresses are unsigned 32-bit numbers. */
export interface Dhcp4Packet {
  readonly op: number;
  readonly htype: number;
  readonly hlen: number;
  readonly hops: number;
  readonly xid: number;
  readonly secs: number;
  readonly flags: number;
  readonly ciaddr: number;
  readonly yiaddr: number;
  readonly siaddr: number;
  readonly giaddr: number;
  /** All 16 bytes of the chaddr field. */
  readonly chaddr: Uint8Array;
  readonly sname: Uint8Array;
  readonly file: Uint8Array;
  readonly options: DecodedOptions;
}

/** Why a message could not be decoded. */
export const DecodeFailure = {
  TooShort: "tooShort",
  BadHardwareLength: "badHardwareLength",
  BadMagicCookie: "badMagicCookie",
  OptionOverrun: "optionOverrun",
} as const;
export type DecodeFailure = (typeof DecodeFailure)[keyof typeof DecodeFailure];

/** Thrown by {@link decodePacket}; `reason` says which structural rule the message broke. */
export class PacketDecodeError extends SyntaxError {
  readonly reason: DecodeFailure;
  constructor(reason: DecodeFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PacketDecodeError";
    this.reason = reason;
  }
}

/** Decodes the fixed header and the options area (sname/file overloading is not interpreted). */
export function decodePacket(bytes: Uint8Array): Dhcp4Packet {
  if (bytes.length < MIN_MESSAGE_SIZE) {
    throw new PacketDecodeError(DecodeFailure.TooShort, `Cannot decode DHCP message of ${bytes.length} bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = view.getUint8(2);
  if (hlen > 16) {
    throw new PacketDecodeError(DecodeFailure.BadHardwareLength, `Cannot decode DHCP message with hlen "${hlen}"`);
  }
  if (view.getUint32(FIXED_HEADER_SIZE) !== MAGIC_COOKIE) {
    throw new PacketDecodeError(DecodeFailure.BadMagicCookie, "Cannot decode DHCP message without the magic cookie");
  }
  let options: DecodedOptions;
  try {
    options = decodeOptions(bytes.subarray(MIN_MESSAGE_SIZE));
  } catch (e) {
    if (e instanceof OptionOverrunError) {
      throw new PacketDecodeError(DecodeFailure.OptionOverrun, e.message, { cause: e });
    }
    throw e;
  }
  return {
    op: view.getUint8(0),
    htype: view.getUint8(1),
    hlen,
    hops: view.getUint8(3),
    xid: view.getUint32(4),
    secs: view.getUint16(8),
    flags: view.getUint16(10),
    ciaddr: view.getUint32(12),
    yiaddr: view.getUint32(16),
    siaddr: view.getUint32(20),
    giaddr: view.getUint32(24),
    chaddr: bytes.slice(28, 44),
    sname: bytes.slice(44, 108),
    file: bytes.slice(108, 236),
    options,
  };
}

/** Header fields of a message to encode; omitted numbers are zero. */
export interface PacketFields {
  readonly op: number;
  readonly htype?: number;
  readonly hlen?: number;
  readonly hops?: number;
  readonly xid: number;
  readonly secs?: number;
  readonly flags?: number;
  readonly ciaddr?: number;
  readonly yiaddr?: number;
  readonly siaddr?: number;
  readonly giaddr?: number;
  /** Up to 16 bytes; shorter values are zero-padded. */
  readonly chaddr: Uint8Array;
  /** The boot file name header field, up to 128 bytes. */
  readonly file?: Uint8Array;
}

/** Encodes a message with the given options (in order, End appended), zero-padded to `minSize` bytes. */
export function encodePacket(
  fields: PacketFields,
  options: readonly OptionValue[],
  settings: { readonly minSize?: number } = {},
): Uint8Array {
  const area = encodeOptions(options);
  const size = Math.max(MIN_MESSAGE_SIZE + area.length, settings.minSize ?? MIN_REPLY_SIZE);
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, fields.op);
  view.setUint8(1, fields.htype ?? 1);
  view.setUint8(2, fields.hlen ?? 6);
  view.setUint8(3, fields.hops ?? 0);
  view.setUint32(4, fields.xid >>> 0);
  view.setUint16(8, fields.secs ?? 0);
  view.setUint16(10, fields.flags ?? 0);
  view.setUint32(12, (fields.ciaddr ?? 0) >>> 0);
  view.setUint32(16, (fields.yiaddr ?? 0) >>> 0);
  view.setUint32(20, (fields.siaddr ?? 0) >>> 0);
  view.setUint32(24, (fields.giaddr ?? 0) >>> 0);
  bytes.set(fields.chaddr.subarray(0, 16), 28);
  if (fields.file) bytes.set(fields.file.subarray(0, 128), 108);
  view.setUint32(FIXED_HEADER_SIZE, MAGIC_COOKIE);
  bytes.set(area, MIN_MESSAGE_SIZE);
  return bytes;
}
