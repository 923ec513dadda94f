/**
 * DHCP option 119, Domain Search (RFC 3397): a list of RFC 1035 names, encoded with RFC 1035 §4.1.4 compression
 * pointers whose offsets count from the start of the (RFC 3396-joined) option value.
 */

// KubeVirt's search domain pattern (pkg/network/dhcp/server), kept byte for byte so vmnet accepts the same lists.
const SEARCH_DOMAIN_PATTERN = /^(?:[_a-z0-9](?:[_a-z0-9-]{0,61}[a-z0-9])?\.)*(?:[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?)?$/;
const MAX_DOMAIN_TEXT_LENGTH = 253;
const MAX_SEARCH_LIST_LENGTH = 255;
const MAX_NAME_WIRE_LENGTH = 255;
const MAX_POINTER_OFFSET = 0x3fff;

/** Validates a search list as KubeVirt does, with KubeVirt's error strings; returns nothing on success. */
export function validateSearchDomains(domains: readonly string[]): void {
  for (const domain of domains) {
    if (domain.length > MAX_DOMAIN_TEXT_LENGTH || !SEARCH_DOMAIN_PATTERN.test(domain)) {
      throw new RangeError(`Search domain is not valid: '${domain}'`);
    }
  }
  // KubeVirt limits the uncompressed encoding to one option's worth of bytes; vmnet keeps the same acceptance set
  // even though it compresses and could split a longer list per RFC 3396.
  const uncompressed = domains.reduce((sum, d) => sum + labelsOf(d).reduce((s, l) => s + 1 + l.length, 1), 0);
  if (uncompressed > MAX_SEARCH_LIST_LENGTH) {
    throw new RangeError(`Search domains length exceeded allowable size: was ${uncompressed} long`);
  }
}

function labelsOf(domain: string): string[] {
  const trimmed = domain.endsWith(".") ? domain.slice(0, -1) : domain;
  return trimmed === "" ? [] : trimmed.split(".");
}

/** Encodes a search list with compression pointers (option 119 value); the list is validated first. */
export function encodeDomainSearch(domains: readonly string[]): Uint8Array {
  validateSearchDomains(domains);
  const out: number[] = [];
  // Suffix text ("apple.com") -> offset of its first label in `out`.
  const suffixes = new Map<string, number>();
  for (const domain of domains) {
    const labels = labelsOf(domain);
    let i = 0;
    for (; i < labels.length; i++) {
      const suffix = labels.slice(i).join(".");
      const at = suffixes.get(suffix);
      if (at !== undefined) {
        out.push(0xc0 | (at >> 8), at & 0xff);
        break;
      }
      if (out.length <= MAX_POINTER_OFFSET) suffixes.set(suffix, out.length);
      const label = labels[i] ?? "";
      out.push(label.length);
      for (let c = 0; c < label.length; c++) out.push(label.charCodeAt(c));
    }
    if (i === labels.length) out.push(0);
  }
  return Uint8Array.from(out);
}

/** Decodes an option 119 value; rejects truncation, forward pointers, pointer loops and over-long names. */
export function decodeDomainSearch(value: Uint8Array): string[] {
  const names: string[] = [];
  let offset = 0;
  while (offset < value.length) {
    const { name, next } = readName(value, offset);
    names.push(name);
    offset = next;
  }
  return names;
}

function readName(data: Uint8Array, start: number): { name: string; next: number } {
  const labels: string[] = [];
  let at = start;
  let next = -1;
  // Every pointer must go strictly backwards from the previous jump target, so decoding always terminates.
  let limit = start;
  let wireLength = 1;
  for (;;) {
    const length = data[at];
    if (length === undefined) {
      throw new SyntaxError(`Cannot decode domain search list: name at offset ${start} is truncated`);
    }
    if (length === 0) {
      if (next < 0) next = at + 1;
      return { name: labels.join("."), next };
    }
    const kind = length & 0xc0;
    if (kind === 0xc0) {
      const low = data[at + 1];
      if (low === undefined) {
        throw new SyntaxError(`Cannot decode domain search list: pointer at offset ${at} is truncated`);
      }
      const target = ((length & 0x3f) << 8) | low;
      if (target >= at) {
        throw new SyntaxError(`Cannot decode domain search list: forward pointer at offset ${at} to ${target}`);
      }
      if (target >= limit) {
        throw new SyntaxError(`Cannot decode domain search list: pointer loop at offset ${at} to ${target}`);
      }
      if (next < 0) next = at + 2;
      limit = target;
      at = target;
      continue;
    }
    if (kind !== 0) {
      throw new SyntaxError(`Cannot decode domain search list: reserved label type at offset ${at}`);
    }
    if (at + 1 + length > data.length) {
      throw new SyntaxError(`Cannot decode domain search list: label at offset ${at} is truncated`);
    }
    wireLength += 1 + length;
    if (wireLength > MAX_NAME_WIRE_LENGTH) {
      throw new SyntaxError(`Cannot decode domain search list: name at offset ${start} is longer than 255 bytes`);
    }
    labels.push(String.fromCharCode(...data.subarray(at + 1, at + 1 + length)));
    at += 1 + length;
  }
}
