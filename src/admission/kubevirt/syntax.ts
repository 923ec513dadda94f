/**
 * The value syntaxes KubeVirt's admission checks, with the exact accept/reject behaviour of the Go functions it calls
 * (`net.ParseMAC`, `net.ParseIP`, `validation.IsDNS1123Label`, ...). MAC and IP parsing delegate to the shared Go
 * ports in src/api/mac.ts and src/api/ip.ts; the Kubernetes name rules and Go's `%q` are private here.
 */

import { isIPv4, parseIp } from "../../api/ip.ts";
import { tryParseMac } from "../../api/mac.ts";

/** The outcome of Go's `net.ParseMAC` as KubeVirt's MAC check sees it (reference §3.6). */
export const MacCheck = { Ok: "ok", Malformed: "malformed", TooLong: "too-long" } as const;
export type MacCheck = (typeof MacCheck)[keyof typeof MacCheck];

/**
 * Classifies a MAC string as KubeVirt does with Go's `net.ParseMAC`: unparsable is malformed; 8 or 20 bytes parse
 * but are too long for a NIC.
 */
export function checkMac(s: string): MacCheck {
  const mac = tryParseMac(s);
  if (mac === undefined) return MacCheck.Malformed;
  return mac.length > 6 ? MacCheck.TooLong : MacCheck.Ok;
}

/** Go's `net.ParseIP` (16-byte form), or undefined. */
export function parseGoIP(s: string): Uint8Array | undefined {
  return parseIp(s);
}

/** Go's `net.ParseIP(s).To4() != nil`: IPv4, or IPv4-mapped IPv6 such as `::ffff:1.2.3.4`. */
export function isGoIPv4(s: string): boolean {
  return isIPv4(s);
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
