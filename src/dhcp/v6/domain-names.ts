/**
 * RFC 1035 §3.1 domain names as DHCPv6 (RFC 8415 §10) and RDNSS/DNSSL (RFC 8106 §5.2) carry them: a sequence of
 * length-prefixed labels ended by a zero byte, never compressed.
 */

const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;
/** RFC 1035 §2.3.4: 255 octets for the whole encoded name. */
const MAX_ENCODED_NAME = 255;
const MAX_LABEL = 63;

/** Encodes one domain name ("example.com" or "example.com.") as uncompressed labels; throws `SyntaxError`. */
export function encodeDomainName(name: string): Uint8Array {
  const trimmed = name.endsWith(".") ? name.slice(0, -1) : name;
  if (trimmed === "") throw new SyntaxError(`Cannot encode domain name "${name}": it is empty`);
  const labels = trimmed.split(".");
  const out: number[] = [];
  for (const label of labels) {
    if (!LABEL.test(label)) throw new SyntaxError(`Cannot encode domain name "${name}": label "${label}" is not valid`);
    out.push(label.length);
    for (let i = 0; i < label.length; i++) out.push(label.charCodeAt(i));
  }
  out.push(0);
  if (out.length > MAX_ENCODED_NAME) {
    throw new SyntaxError(`Cannot encode domain name "${name}": ${out.length} octets exceed ${MAX_ENCODED_NAME}`);
  }
  return Uint8Array.from(out);
}

/** Encodes a list of domain names back to back (the DHCPv6 option 24 and DNSSL body, before padding). */
export function encodeDomainList(names: readonly string[]): Uint8Array {
  const parts = names.map(encodeDomainName);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Decodes one name at `offset`; returns it (without trailing dot) and the offset after it. Throws `SyntaxError`. */
export function decodeDomainName(bytes: Uint8Array, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let at = offset;
  for (;;) {
    const len = bytes[at];
    if (len === undefined) throw new SyntaxError(`Cannot decode domain name at ${offset}: it is not terminated`);
    at++;
    if (len === 0) break;
    // 0xc0 would be a compression pointer, which RFC 8415 §10 forbids; 0x40 and 0x80 are reserved label types.
    if (len > MAX_LABEL)
      throw new SyntaxError(`Cannot decode domain name at ${offset}: label length ${len} is invalid`);
    if (at + len > bytes.length) throw new SyntaxError(`Cannot decode domain name at ${offset}: label overruns data`);
    let label = "";
    for (let i = 0; i < len; i++) {
      const c = bytes[at + i] ?? 0;
      // Printable ASCII except the dot, which would make the text form ambiguous.
      if (c <= 0x20 || c >= 0x7f || c === 0x2e) {
        throw new SyntaxError(`Cannot decode domain name at ${offset}: byte ${c} is not allowed in a label`);
      }
      label += String.fromCharCode(c);
    }
    labels.push(label);
    at += len;
  }
  if (at - offset > MAX_ENCODED_NAME) {
    throw new SyntaxError(`Cannot decode domain name at ${offset}: ${at - offset} octets exceed ${MAX_ENCODED_NAME}`);
  }
  if (labels.length === 0) throw new SyntaxError(`Cannot decode domain name at ${offset}: it is the empty root name`);
  return { name: labels.join("."), next: at };
}

/** Decodes back-to-back names filling all of `bytes` (DHCPv6 option 24). Throws `SyntaxError`. */
export function decodeDomainList(bytes: Uint8Array): string[] {
  const names: string[] = [];
  let at = 0;
  while (at < bytes.length) {
    const { name, next } = decodeDomainName(bytes, at);
    names.push(name);
    at = next;
  }
  return names;
}
