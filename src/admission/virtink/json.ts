/**
 * Small helpers for reading decoded (JSON-shaped) Virtink objects defensively: the decoder guarantees declared
 * types, but the admitter must never throw whatever arrives.
 */

/** A plain JSON object. */
export type JsonRecord = Record<string, unknown>;

/** Whether `v` is a JSON object (not null, not an array). */
export function isRecord(v: unknown): v is JsonRecord {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Go's view of an optional string field: absent or wrong-typed reads as `""`. */
export function goString(v: unknown): string {
  return typeof v === "string" ? v : "";
}

/** Whether a Go pointer field is set: the key is present with a non-null value (`bridge: {}` counts). */
export function present(v: unknown): boolean {
  return v !== undefined && v !== null;
}

/** The elements of a list field, or none when it is absent or not a list. */
export function listOf(v: unknown): readonly unknown[] {
  return Array.isArray(v) ? v : [];
}

/** A deep copy of JSON-shaped data; anything else (functions, symbols) is dropped to undefined. */
export function cloneJson<T>(v: T): T {
  return cloneValue(v) as T;
}

function cloneValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(cloneValue);
  if (isRecord(v)) {
    const out: JsonRecord = {};
    for (const [k, x] of Object.entries(v)) {
      const c = cloneValue(x);
      if (c !== undefined) out[k] = c;
    }
    return out;
  }
  if (typeof v === "function" || typeof v === "symbol") return undefined;
  return v;
}
