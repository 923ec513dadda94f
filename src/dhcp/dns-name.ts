/**
 * RFC 1035 domain names on the wire, for every protocol vmnet serves: DHCPv4 option 119 (RFC 3397, compressed with
 * RFC 1035 §4.1.4 pointers whose offsets count from the start of the RFC 3396-joined option value), DHCPv6 option
 * 24 (RFC 8415 §10, never compressed) and the RA DNSSL option (RFC 8106 §5.2, never compressed).
 *
 * A name is a sequence of length-prefixed labels ended by a zero byte. Encoding takes names as text ("example.com" or
 * "example.com.") and checks each label; decoding is strict: truncation, reserved label types, bytes that make the
 * text form ambiguous and names over 255 octets are rejected, and compression pointers only when allowed, then only
 * strictly backwards, so that decoding always ends.
 */

/** Letters, digits, `_` and `-` (not first or last), 1 to 63 octets: hostnames (RFC 1123) plus service labels. */
const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;
/** RFC 1035 §2.3.4: 255 octets for the whole encoded name. */
const MAX_NAME_OCTETS = 255;
/** Pointers carry 14 bits of offset. */
const MAX_POINTER_OFFSET = 0x3fff;

/** Options of {@link encodeDnsNames}. */
export interface DnsNameEncodeOptions {
  /** Replace each repeated suffix by a pointer to its first occurrence (RFC 1035 §4.1.4). Default false. */
  readonly compress?: boolean;
  /** Accept the root name (`""`, encoded as a single zero byte). Default false. */
  readonly allowRoot?: boolean;
}

/** Options of {@link decodeDnsName} and {@link decodeDnsNames}. */
export interface DnsNameDecodeOptions {
  /** Follow compression pointers (backwards only). Default false: a pointer is an error. */
  readonly pointers?: boolean;
  /** Accept the root name (a lone zero byte), decoded as `""`. Default false. */
  readonly allowRoot?: boolean;
}

function labelsOf(name: string): string[] {
  const trimmed = name.endsWith(".") ? name.slice(0, -1) : name;
  return trimmed === "" ? [] : trimmed.split(".");
}

function checkedLabels(name: string, allowRoot: boolean): string[] {
  const labels = labelsOf(name);
  if (labels.length === 0 && !(allowRoot && name === "")) {
    throw new SyntaxError(`Cannot encode domain name "${name}": it is empty`);
  }
  let octets = 1;
  for (const label of labels) {
    if (!LABEL.test(label)) throw new SyntaxError(`Cannot encode domain name "${name}": label "${label}" is not valid`);
    octets += 1 + label.length;
  }
  if (octets > MAX_NAME_OCTETS) {
    throw new SyntaxError(`Cannot encode domain name "${name}": ${octets} octets exceed ${MAX_NAME_OCTETS}`);
  }
  return labels;
}

/** Encodes one name as uncompressed labels; throws a SyntaxError for an empty name, a bad label or over 255 octets. */
export function encodeDnsName(name: string): Uint8Array {
  return encodeDnsNames([name]);
}

/** Encodes names back to back (option 119, option 24 and DNSSL bodies before padding); throws like {@link encodeDnsName}. */
export function encodeDnsNames(names: readonly string[], options: DnsNameEncodeOptions = {}): Uint8Array {
  const out: number[] = [];
  // Suffix text ("apple.com") -> offset of its first label in `out`.
  const suffixes = new Map<string, number>();
  for (const name of names) {
    const labels = checkedLabels(name, options.allowRoot ?? false);
    let i = 0;
    for (; i < labels.length; i++) {
      if (options.compress) {
        const suffix = labels.slice(i).join(".");
        const at = suffixes.get(suffix);
        if (at !== undefined) {
          out.push(0xc0 | (at >> 8), at & 0xff);
          break;
        }
        if (out.length <= MAX_POINTER_OFFSET) suffixes.set(suffix, out.length);
      }
      const label = labels[i] ?? "";
      out.push(label.length);
      for (let c = 0; c < label.length; c++) out.push(label.charCodeAt(c));
    }
    if (i === labels.length) out.push(0);
  }
  return Uint8Array.from(out);
}

/**
 * Decodes one name at `offset`: the name without a trailing dot and the offset after it (after the first pointer when
 * it was compressed). Throws a SyntaxError for anything malformed (see the module comment).
 */
export function decodeDnsName(
  bytes: Uint8Array,
  offset: number,
  options: DnsNameDecodeOptions = {},
): { name: string; next: number } {
  const fail = (why: string): never => {
    throw new SyntaxError(`Cannot decode domain name at offset ${offset}: ${why}`);
  };
  const labels: string[] = [];
  let at = offset;
  let next = -1;
  // Each pointer must go strictly below the previous jump target (the name's start at first): no loops.
  let limit = offset;
  let octets = 1;
  for (;;) {
    const length = bytes[at];
    if (length === undefined) return fail(`it is truncated at offset ${at}`);
    if (length === 0) {
      if (labels.length === 0 && !options.allowRoot) return fail("it is the empty root name");
      return { name: labels.join("."), next: next < 0 ? at + 1 : next };
    }
    const kind = length & 0xc0;
    if (kind === 0xc0) {
      if (!options.pointers) return fail(`compression pointer at offset ${at} is not allowed here`);
      const low = bytes[at + 1];
      if (low === undefined) return fail(`pointer at offset ${at} is truncated`);
      const target = ((length & 0x3f) << 8) | low;
      if (target >= at) return fail(`forward pointer at offset ${at} to ${target}`);
      if (target >= limit) return fail(`pointer loop at offset ${at} to ${target}`);
      if (next < 0) next = at + 2;
      limit = target;
      at = target;
      continue;
    }
    if (kind !== 0) return fail(`reserved label type at offset ${at}`);
    if (at + 1 + length > bytes.length) return fail(`label at offset ${at} is truncated`);
    octets += 1 + length;
    if (octets > MAX_NAME_OCTETS) return fail(`it is longer than ${MAX_NAME_OCTETS} bytes`);
    let label = "";
    for (let i = at + 1; i <= at + length; i++) {
      const c = bytes[i] ?? 0;
      // Printable ASCII except the dot, which would make the text form ambiguous.
      if (c <= 0x20 || c >= 0x7f || c === 0x2e) return fail(`byte ${c} is not allowed in a label`);
      label += String.fromCharCode(c);
    }
    labels.push(label);
    at += 1 + length;
  }
}

/** Decodes back-to-back names filling all of `bytes`; an empty value is an empty list. Throws like {@link decodeDnsName}. */
export function decodeDnsNames(bytes: Uint8Array, options: DnsNameDecodeOptions = {}): string[] {
  const names: string[] = [];
  let at = 0;
  while (at < bytes.length) {
    const { name, next } = decodeDnsName(bytes, at, options);
    names.push(name);
    at = next;
  }
  return names;
}
