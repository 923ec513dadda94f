/**
 * The value syntaxes KubeVirt's admission checks, ported with the exact accept/reject behaviour of the Go functions
 * it calls (`net.ParseMAC`, `net.ParseIP`, `validation.IsDNS1123Label`, ...). These are private, minimal versions:
 * src/api/mac.ts and src/api/ip.ts are the shared full ports and can replace them once they land.
 */

/** The outcome of Go's `net.ParseMAC` as KubeVirt's MAC check sees it (reference §3.6). */
export const MacCheck = { Ok: "ok", Malformed: "malformed", TooLong: "too-long" } as const;
export type MacCheck = (typeof MacCheck)[keyof typeof MacCheck];

const HEX = /^[0-9a-fA-F]{2}$/;

/**
 * Classifies a MAC string as Go's `net.ParseMAC` would: groups of 2 hex digits separated by one repeated `:` or `-`,
 * or groups of 4 hex digits separated by `.`, for 6, 8 or 20 bytes. 8 and 20 bytes parse but are too long for a NIC.
 */
export function checkMac(s: string): MacCheck {
  const bytes = parseMacLength(s);
  if (bytes === undefined) return MacCheck.Malformed;
  return bytes > 6 ? MacCheck.TooLong : MacCheck.Ok;
}

function parseMacLength(s: string): number | undefined {
  if (s.length < 14) return undefined;
  const sep2 = s[2];
  if (sep2 === ":" || sep2 === "-") {
    if ((s.length + 1) % 3 !== 0) return undefined;
    const n = (s.length + 1) / 3;
    if (n !== 6 && n !== 8 && n !== 20) return undefined;
    for (let i = 0; i < n; i++) {
      const x = i * 3;
      if (!HEX.test(s.slice(x, x + 2))) return undefined;
      if (i < n - 1 && s[x + 2] !== sep2) return undefined;
    }
    return n;
  }
  if (s[4] === ".") {
    if ((s.length + 1) % 5 !== 0) return undefined;
    const n = (2 * (s.length + 1)) / 5;
    if (n !== 6 && n !== 8 && n !== 20) return undefined;
    for (let i = 0; i < n / 2; i++) {
      const x = i * 5;
      if (!HEX.test(s.slice(x, x + 2)) || !HEX.test(s.slice(x + 2, x + 4))) return undefined;
      if (i < n / 2 - 1 && s[x + 4] !== ".") return undefined;
    }
    return n;
  }
  return undefined;
}

/**
 * Parses an IP address the way Go's `net.ParseIP` does (Go ≥ 1.22, which delegates to `netip.ParseAddr` and rejects
 * zones): dotted IPv4 without leading zeros, or IPv6 with at most 4 hex digits per group, one `::`, and an optional
 * trailing dotted IPv4. Returns the 16-byte form, or undefined.
 */
export function parseGoIP(s: string): Uint8Array | undefined {
  if (s.includes(".") && !s.includes(":")) {
    const v4 = parseIPv4(s);
    if (!v4) return undefined;
    const out = new Uint8Array(16);
    out[10] = 0xff;
    out[11] = 0xff;
    out.set(v4, 12);
    return out;
  }
  if (s.includes(":")) return parseIPv6(s);
  return undefined;
}

/** Go's `ip.To4() != nil`: an IPv4 address, or an IPv4-mapped IPv6 address such as `::ffff:1.2.3.4`. */
export function isGoIPv4(s: string): boolean {
  const ip = parseGoIP(s);
  if (!ip) return false;
  for (let i = 0; i < 10; i++) if (ip[i] !== 0) return false;
  return ip[10] === 0xff && ip[11] === 0xff;
}

function parseIPv4(s: string): Uint8Array | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (const [i, p] of parts.entries()) {
    if (!/^[0-9]{1,3}$/.test(p)) return undefined;
    if (p.length > 1 && p[0] === "0") return undefined;
    const v = Number.parseInt(p, 10);
    if (v > 255) return undefined;
    out[i] = v;
  }
  return out;
}

function parseIPv6(s: string): Uint8Array | undefined {
  if (s.includes("%")) return undefined;
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const groupsOf = (part: string): string[] => (part === "" ? [] : part.split(":"));
  const head = groupsOf(halves[0] ?? "");
  const tail = halves.length === 2 ? groupsOf(halves[1] ?? "") : [];
  const bytes: number[] = [];
  const words = (groups: string[], allowV4Last: boolean): number[] | undefined => {
    const out: number[] = [];
    for (const [i, g] of groups.entries()) {
      if (allowV4Last && i === groups.length - 1 && g.includes(".")) {
        const v4 = parseIPv4(g);
        if (!v4) return undefined;
        out.push(...v4);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      const v = Number.parseInt(g, 16);
      out.push(v >> 8, v & 0xff);
    }
    return out;
  };
  const isDouble = halves.length === 2;
  const h = words(head, !isDouble);
  const t = words(tail, true);
  if (!h || !t) return undefined;
  if (isDouble) {
    if (h.length + t.length > 14) return undefined;
    bytes.push(...h, ...new Array<number>(16 - h.length - t.length).fill(0), ...t);
  } else {
    if (h.length !== 16) return undefined;
    bytes.push(...h);
  }
  return Uint8Array.from(bytes);
}

const DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN_FMT = `${DNS1123_LABEL_FMT}(\\.${DNS1123_LABEL_FMT})*`;
const DNS1123_LABEL_RE = new RegExp(`^${DNS1123_LABEL_FMT}$`);
const DNS1123_SUBDOMAIN_RE = new RegExp(`^${DNS1123_SUBDOMAIN_FMT}$`);
const DNS1123_LABEL_ERR =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_ERR =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";

/** Go `len(s)`: the UTF-8 byte length. */
function byteLength(s: string): number {
  return Buffer.byteLength(s, "utf8");
}

function regexError(msg: string, fmt: string, ...examples: string[]): string {
  if (examples.length === 0) return `${msg} (regex used for validation is '${fmt}')`;
  return `${msg} (e.g. ${examples.map((e) => `'${e}', `).join("or ")}regex used for validation is '${fmt}')`;
}

/** Kubernetes `validation.IsDNS1123Label`: the list of problems, empty when valid. */
export function dns1123LabelErrors(value: string): string[] {
  const errs: string[] = [];
  if (byteLength(value) > 63) errs.push("must be no more than 63 characters");
  if (!DNS1123_LABEL_RE.test(value)) {
    // A valid subdomain that is not a valid label can only differ by its dots (the length was checked above).
    if (DNS1123_SUBDOMAIN_RE.test(value)) errs.push("must not contain dots");
    else errs.push(regexError(DNS1123_LABEL_ERR, DNS1123_LABEL_FMT, "my-name", "123-abc"));
  }
  return errs;
}

/** Kubernetes `validation.IsDNS1123Subdomain`: the list of problems, empty when valid. */
export function dns1123SubdomainErrors(value: string): string[] {
  const errs: string[] = [];
  if (byteLength(value) > 253) errs.push("must be no more than 253 characters");
  if (!DNS1123_SUBDOMAIN_RE.test(value)) {
    errs.push(regexError(DNS1123_SUBDOMAIN_ERR, DNS1123_SUBDOMAIN_FMT, "example.com"));
  }
  return errs;
}

/** Kubernetes `validation.IsValidPortName` (IANA_SVC_NAME) reduced to valid/invalid, which is all KubeVirt uses. */
export function isIanaSvcName(port: string): boolean {
  return (
    port.length <= 15 &&
    /^[-a-z0-9]+$/.test(port) &&
    /[a-z]/.test(port) &&
    !port.includes("--") &&
    !port.startsWith("-") &&
    !port.endsWith("-")
  );
}

/** KubeVirt's guest PCI address regex (`hwutil.ParsePciAddress`, reference §1.1). */
export function isPciAddress(s: string): boolean {
  return /^([0-9a-fA-F]{4}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7]{1})$/.test(s);
}

/** KubeVirt's interface name rule `^[A-Za-z0-9-_]+$` (reference §3.5). */
export function isInterfaceName(s: string): boolean {
  return /^[A-Za-z0-9\-_]+$/.test(s);
}

/**
 * Go's `%q` for a string (`strconv.Quote`): double quotes, backslash escapes for quotes, backslashes and control
 * characters, `\u`/`\U` for non-printable code points.
 */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    switch (ch) {
      case '"':
        out += '\\"';
        continue;
      case "\\":
        out += "\\\\";
        continue;
      case "\x07":
        out += "\\a";
        continue;
      case "\b":
        out += "\\b";
        continue;
      case "\f":
        out += "\\f";
        continue;
      case "\n":
        out += "\\n";
        continue;
      case "\r":
        out += "\\r";
        continue;
      case "\t":
        out += "\\t";
        continue;
      case "\v":
        out += "\\v";
        continue;
    }
    if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, "0")}`;
    else if (cp >= 0xd800 && cp <= 0xdfff) out += "\\ufffd";
    else if (ch === " " || /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch)) out += ch;
    else if (cp > 0xffff) out += `\\U${cp.toString(16).padStart(8, "0")}`;
    else out += `\\u${cp.toString(16).padStart(4, "0")}`;
  }
  return `${out}"`;
}

/** Go's `%v`/`%s` of a `[]string`: `[a b c]`. */
export function goStringSlice(values: readonly string[]): string {
  return `[${values.join(" ")}]`;
}
