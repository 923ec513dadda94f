/**
 * MAC (hardware) addresses with Go's `net.ParseMAC` acceptance set, which both KubeVirt and Virtink use to validate
 * `macAddress` / `mac`: 6-, 8- or 20-octet addresses as `xx:xx:..`, `xx-xx-..` (one separator throughout) or
 * `xxxx.xxxx.xxxx`.
 */

/**
 * Go's `err.Error()` for a MAC address `net.ParseMAC` rejects (`*AddrError`): `address <input>: invalid MAC address`,
 * or just `invalid MAC address` when the input is empty.
 */
export function goMacErrorText(input: string): string {
  return input === "" ? "invalid MAC address" : `address ${input}: invalid MAC address`;
}

/** Raised by {@link parseMac}; `reason` is Go's `AddrError.Err` text, `goError` Go's whole `err.Error()`. */
export class MacParseError extends SyntaxError {
  readonly input: string;
  readonly reason = "invalid MAC address";
  readonly goError: string;
  constructor(input: string) {
    super(`Cannot parse MAC address "${input}": invalid MAC address`);
    this.name = "MacParseError";
    this.input = input;
    this.goError = goMacErrorText(input);
  }
}

function hexDigit(c: string | undefined): number {
  if (c === undefined) return -1;
  if (c >= "0" && c <= "9") return c.charCodeAt(0) - 48;
  if (c >= "a" && c <= "f") return c.charCodeAt(0) - 87;
  if (c >= "A" && c <= "F") return c.charCodeAt(0) - 55;
  return -1;
}

/**
 * Go's `xtoi2`: two hex digits at `at`; when more text follows, the next character must be `sep`
 * (`undefined` = must not be checked, for the first byte of a dotted group).
 */
function byteAt(s: string, at: number, sep: string | undefined): number | undefined {
  if (sep !== undefined && s.length > at + 2 && s[at + 2] !== sep) return undefined;
  const hi = hexDigit(s[at]);
  const lo = hexDigit(s[at + 1]);
  if (hi < 0 || lo < 0) return undefined;
  return hi * 16 + lo;
}

const VALID_LENGTHS = new Set([6, 8, 20]);

/** Go's `net.ParseMAC`, returning undefined instead of an error. */
export function tryParseMac(s: string): Uint8Array | undefined {
  if (s.length < 14) return undefined;
  if (s[2] === ":" || s[2] === "-") {
    const sep = s[2];
    if ((s.length + 1) % 3 !== 0) return undefined;
    const n = (s.length + 1) / 3;
    if (!VALID_LENGTHS.has(n)) return undefined;
    const out = new Uint8Array(n);
    for (let i = 0, x = 0; i < n; i++, x += 3) {
      const b = byteAt(s, x, sep);
      if (b === undefined) return undefined;
      out[i] = b;
    }
    return out;
  }
  if (s[4] === ".") {
    if ((s.length + 1) % 5 !== 0) return undefined;
    const n = (2 * (s.length + 1)) / 5;
    if (!VALID_LENGTHS.has(n)) return undefined;
    const out = new Uint8Array(n);
    for (let i = 0, x = 0; i < n; i += 2, x += 5) {
      // The first byte of a group is read from a 2-character slice in Go, so no separator check applies to it.
      const hi = byteAt(s, x, undefined);
      const lo = byteAt(s, x + 2, ".");
      if (hi === undefined || lo === undefined) return undefined;
      out[i] = hi;
      out[i + 1] = lo;
    }
    return out;
  }
  return undefined;
}

/** Go's `net.ParseMAC`: the address bytes (6, 8 or 20). Throws {@link MacParseError} for anything Go rejects. */
export function parseMac(s: string): Uint8Array {
  const mac = tryParseMac(s);
  if (!mac) throw new MacParseError(s);
  return mac;
}

/** Go's `HardwareAddr.String`: lowercase hex octets joined by `:` (empty for no bytes, as a DHCP `hlen` of 0 gives). */
export function formatMac(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(":");
}

/** Parses any Go-accepted form and returns the lowercase colon form, e.g. `DE-AD-00-00-BE-AF` → `de:ad:00:00:be:af`. */
export function normalizeMac(s: string): string {
  return formatMac(parseMac(s));
}

/**
 * A 48-bit (Ethernet) MAC address in any form Go's `net.ParseMAC` accepts, as 6 bytes; the wire codecs' parser for
 * configured MACs (DHCP client bindings, DUID-LL, NDP link-layer options). Throws {@link MacParseError} (a
 * SyntaxError) for anything else, including Go's 8- and 20-octet forms.
 */
export function parseMac48(s: string): Uint8Array {
  const mac = tryParseMac(s);
  if (mac?.length !== 6) throw new MacParseError(s);
  return mac;
}
