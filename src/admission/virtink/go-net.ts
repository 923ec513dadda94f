/**
 * Minimal ports of Go's `net.ParseMAC` and `net.ParseCIDR` with their exact acceptance sets and error texts (Virtink
 * reference §2.4). Private to the Virtink admitter until the shared src/api/mac.ts and src/api/ip.ts exist; they
 * can replace these one for one.
 */

/** The outcome of a Go-style parse: the value, or Go's `err.Error()` text. */
export type GoParse<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

const isHex = (c: string | undefined): boolean => c !== undefined && /^[0-9A-Fa-f]$/.test(c);

/** Go's `xtoi2`: two hex digits, followed (when more text follows) by the separator `sep`. */
function hexPair(s: string, at: number, sep: string): number | undefined {
  const hi = s[at];
  const lo = s[at + 1];
  if (!isHex(hi) || !isHex(lo)) return undefined;
  const next = s[at + 2];
  if (next !== undefined && next !== sep) return undefined;
  return Number.parseInt(`${hi}${lo}`, 16);
}

/**
 * Go `net.ParseMAC`: 6, 8 or 20 octets as `xx:xx:…`, `xx-xx-…` (one separator throughout) or `xxxx.xxxx.xxxx`.
 * The error text is Go's `AddrError`: `address <s>: invalid MAC address`, or just `invalid MAC address` for `""`.
 */
export function parseGoMac(s: string): GoParse<Uint8Array> {
  const fail: GoParse<Uint8Array> = {
    ok: false,
    error: s === "" ? "invalid MAC address" : `address ${s}: invalid MAC address`,
  };
  // Go counts bytes; every accepted character is ASCII, so any other character fails whatever the count.
  if (s.length < 14 || /[^\x20-\x7e]/.test(s)) return fail;
  const sep2 = s[2];
  if (sep2 === ":" || sep2 === "-") {
    if ((s.length + 1) % 3 !== 0) return fail;
    const n = (s.length + 1) / 3;
    if (n !== 6 && n !== 8 && n !== 20) return fail;
    const hw = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const b = hexPair(s, i * 3, sep2);
      if (b === undefined) return fail;
      hw[i] = b;
    }
    return { ok: true, value: hw };
  }
  if (s[4] === ".") {
    if ((s.length + 1) % 5 !== 0) return fail;
    const n = (2 * (s.length + 1)) / 5;
    if (n !== 6 && n !== 8 && n !== 20) return fail;
    const hw = new Uint8Array(n);
    for (let i = 0; i < n; i += 2) {
      const x = (i / 2) * 5;
      // The first pair of a group is sliced to two characters in Go, so no separator check applies to it.
      const hi = hexPair(s.slice(x, x + 2), 0, "");
      const lo = hexPair(s, x + 2, ".");
      if (hi === undefined || lo === undefined) return fail;
      hw[i] = hi;
      hw[i + 1] = lo;
    }
    return { ok: true, value: hw };
  }
  return fail;
}

/** Go `HardwareAddr.String()`: lowercase hex octets joined by colons. */
export function formatMac(hw: Uint8Array): string {
  return [...hw].map((b) => b.toString(16).padStart(2, "0")).join(":");
}

/** A parsed CIDR: the masked network address and Go's `Mask.Size()` (`ones`, `bits`). */
export interface GoCidr {
  readonly network: Uint8Array;
  readonly ones: number;
  readonly bits: number;
}

// Go's `big`: decimal and hex runs stop being read once they reach this value.
const GO_BIG = 0xffffff;

/** Go's `dtoi`: leading decimal digits of `s` from `at`; `[value, end]`, or undefined when there are none. */
function dtoi(s: string, at: number): [number, number] | undefined {
  let n = 0;
  let i = at;
  for (; i < s.length && /[0-9]/.test(s[i] ?? ""); i++) {
    n = n * 10 + Number.parseInt(s[i] ?? "0", 10);
    if (n >= GO_BIG) return undefined;
  }
  return i === at ? undefined : [n, i];
}

/** Go's `xtoi`: leading hex digits of `s` from `at`; `[value, end]`, or undefined when there are none. */
function xtoi(s: string, at: number): [number, number] | undefined {
  let n = 0;
  let i = at;
  for (; i < s.length && isHex(s[i]); i++) {
    n = n * 16 + Number.parseInt(s[i] ?? "0", 16);
    if (n >= GO_BIG) return undefined;
  }
  return i === at ? undefined : [n, i];
}

/** Go 1.19 `parseIPv4`: exactly four decimal octets, no leading zeros. */
function parseIPv4(s: string): Uint8Array | undefined {
  const ip = new Uint8Array(4);
  let at = 0;
  for (let i = 0; i < 4; i++) {
    if (at >= s.length) return undefined;
    if (i > 0) {
      if (s[at] !== ".") return undefined;
      at++;
    }
    const r = dtoi(s, at);
    if (!r || r[0] > 0xff) return undefined;
    if (r[1] - at > 1 && s[at] === "0") return undefined;
    ip[i] = r[0];
    at = r[1];
  }
  return at === s.length ? ip : undefined;
}

/**
 * Go 1.19 `parseIPv6` (what the reference verified): hex groups of value ≤ 0xffff, one `::`, an optional trailing
 * dotted IPv4, no zone.
 */
function parseIPv6(input: string): Uint8Array | undefined {
  const ip = new Uint8Array(16);
  let s = input;
  let ellipsis = -1;
  if (s.startsWith("::")) {
    ellipsis = 0;
    s = s.slice(2);
    if (s === "") return ip;
  }
  let i = 0;
  while (i < 16) {
    const r = xtoi(s, 0);
    if (!r || r[0] > 0xffff) return undefined;
    const [n, c] = r;
    if (s[c] === ".") {
      if (ellipsis < 0 && i !== 12) return undefined;
      if (i + 4 > 16) return undefined;
      const ip4 = parseIPv4(s);
      if (!ip4) return undefined;
      ip.set(ip4, i);
      s = "";
      i += 4;
      break;
    }
    ip[i] = n >> 8;
    ip[i + 1] = n & 0xff;
    i += 2;
    s = s.slice(c);
    if (s === "") break;
    if (s[0] !== ":" || s.length === 1) return undefined;
    s = s.slice(1);
    if (s[0] === ":") {
      if (ellipsis >= 0) return undefined;
      ellipsis = i;
      s = s.slice(1);
      if (s === "") break;
    }
  }
  if (s !== "") return undefined;
  if (i < 16) {
    if (ellipsis < 0) return undefined;
    const n = 16 - i;
    for (let j = i - 1; j >= ellipsis; j--) ip[j + n] = ip[j] ?? 0;
    for (let j = ellipsis + n - 1; j >= ellipsis; j--) ip[j] = 0;
  } else if (ellipsis >= 0) {
    return undefined;
  }
  return ip;
}

/**
 * Go `net.ParseCIDR`: `<IPv4 or IPv6>/<decimal prefix>`, host bits masked off. The error text is always
 * `invalid CIDR address: <s>`.
 */
export function parseGoCidr(s: string): GoParse<GoCidr> {
  const fail: GoParse<GoCidr> = { ok: false, error: `invalid CIDR address: ${s}` };
  const slash = s.indexOf("/");
  if (slash < 0) return fail;
  const addr = s.slice(0, slash);
  const mask = s.slice(slash + 1);
  const ip = parseIPv4(addr) ?? parseIPv6(addr);
  if (!ip) return fail;
  const bits = ip.length * 8;
  const r = dtoi(mask, 0);
  if (!r || r[1] !== mask.length || r[0] > bits) return fail;
  const ones = r[0];
  const network = ip.map((b, k) => {
    const keep = Math.min(8, Math.max(0, ones - k * 8));
    return b & ((0xff << (8 - keep)) & 0xff);
  });
  return { ok: true, value: { network, ones, bits } };
}

/**
 * Go's `int` expression `1 << (bits - ones)` on a 64-bit platform: shifts of 64 or more give 0 and a shift of 63
 * gives a negative number, which is why IPv6 /64 and /65 look smaller than 4 addresses (reference §2.4).
 */
export function goAddressCount(cidr: GoCidr): bigint {
  const shift = cidr.bits - cidr.ones;
  return shift >= 64 ? 0n : BigInt.asIntN(64, 1n << BigInt(shift));
}
