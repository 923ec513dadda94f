/**
 * k8s.io/apimachinery `field.Error` and `utilerrors.Aggregate` texts (Virtink reference §2.1). Virtink denies with
 * the aggregated string only, so each cause's message is the full `<path>: <body>` text of one `field.Error`.
 */
import { type FieldPath, renderPath } from "../../api/source.ts";
import { type Cause, CauseType, cause } from "../cause.ts";

// Go's strconv.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space.
const GO_PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

const GO_NAMED_ESCAPES: ReadonlyMap<number, string> = new Map([
  [0x07, "\\a"],
  [0x08, "\\b"],
  [0x0c, "\\f"],
  [0x0a, "\\n"],
  [0x0d, "\\r"],
  [0x09, "\\t"],
  [0x0b, "\\v"],
]);

/** Quotes a string the way Go's `%q` (strconv.Quote) does. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    let cp = ch.codePointAt(0) ?? 0;
    // A lone surrogate cannot reach Go: its JSON decoder turns one into U+FFFD.
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
    const c = String.fromCodePoint(cp);
    if (c === '"' || c === "\\") out += `\\${c}`;
    else if (GO_PRINTABLE.test(c)) out += c;
    else {
      const named = GO_NAMED_ESCAPES.get(cp);
      if (named !== undefined) out += named;
      else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, "0")}`;
      else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, "0")}`;
      else out += `\\U${cp.toString(16).padStart(8, "0")}`;
    }
  }
  return `${out}"`;
}

const withDetail = (body: string, detail: string): string => (detail === "" ? body : `${body}: ${detail}`);

/** `field.Required(path, detail)`: `<path>: Required value[: <detail>]`. */
export function requiredError(path: FieldPath, detail = ""): Cause {
  const field = renderPath(path);
  return cause(CauseType.Required, field, `${field}: ${withDetail("Required value", detail)}`);
}

/** `field.Invalid(path, value, detail)` for a string value: `<path>: Invalid value: "<value>"[: <detail>]`. */
export function invalidError(path: FieldPath, value: string, detail: string): Cause {
  const field = renderPath(path);
  return cause(CauseType.Invalid, field, `${field}: ${withDetail(`Invalid value: ${goQuote(value)}`, detail)}`);
}

/** `field.Duplicate(path, value)` for a string value: `<path>: Duplicate value: "<value>"`. */
export function duplicateError(path: FieldPath, value: string): Cause {
  const field = renderPath(path);
  return cause(CauseType.Duplicate, field, `${field}: Duplicate value: ${goQuote(value)}`);
}

/** `field.Forbidden(path, detail)`: `<path>: Forbidden[: <detail>]`. */
export function forbiddenError(path: FieldPath, detail: string): Cause {
  const field = renderPath(path);
  return cause(CauseType.Forbidden, field, `${field}: ${withDetail("Forbidden", detail)}`);
}

/**
 * The denial text Virtink returns: `errs.ToAggregate().Error()`. One message alone; several as `[m1, m2]` in order
 * with exact duplicates removed, without brackets when only one distinct message remains; `""` for none.
 */
export function virtinkDenialMessage(causes: readonly Cause[]): string {
  const distinct = [...new Set(causes.map((c) => c.message))];
  if (distinct.length === 1) return distinct[0] ?? "";
  if (distinct.length === 0) return "";
  return `[${distinct.join(", ")}]`;
}
