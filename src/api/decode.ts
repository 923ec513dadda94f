/**
 * A small structural-schema walker, standing in for the Kubernetes API server's CRD schema validation, which rejects
 * values of the wrong JSON type (and too-long lists, missing required keys) before any webhook sees the object.
 * Wrong-typed fields are dropped from the decoded value so that later code can trust the declared types; unknown
 * fields are carried through untouched.
 */
import { type Cause, CauseType, cause } from "../admission/cause.ts";
import { type FieldPath, renderPath } from "./source.ts";

/** A decoded object and the causes the API server would have rejected it with (empty when it is well-typed). */
export interface Decoded<T> {
  value: T;
  causes: Cause[];
}

/** JSON types as the API server names them in `must be of type` messages. */
export const JsonType = {
  String: "string",
  Integer: "integer",
  Number: "number",
  Boolean: "boolean",
  Object: "object",
  Array: "array",
  Null: "null",
} as const;
export type JsonType = (typeof JsonType)[keyof typeof JsonType];

/** An OpenAPI v3 structural schema, reduced to what vmnet's CRD fields use. */
export type Schema =
  | { readonly type: "string" }
  | { readonly type: "integer" }
  | { readonly type: "number" }
  | { readonly type: "boolean" }
  | {
      readonly type: "object";
      readonly properties?: Readonly<Record<string, Schema>>;
      /** Schema of every key not in `properties` (a map); absent means unknown keys are kept unchecked. */
      readonly additionalProperties?: Schema;
      readonly required?: readonly string[];
    }
  | { readonly type: "array"; readonly items?: Schema; readonly maxItems?: number }
  /** `x-kubernetes-int-or-string` and untyped fields: anything goes. */
  | { readonly type: "any" };

/** Schema shorthands, so that schemas read like the CRD. */
export const s = {
  string: { type: "string" } as const,
  integer: { type: "integer" } as const,
  number: { type: "number" } as const,
  boolean: { type: "boolean" } as const,
  any: { type: "any" } as const,
  object(properties: Readonly<Record<string, Schema>> = {}, options: { readonly required?: readonly string[] } = {}) {
    return { type: "object", properties, ...(options.required ? { required: options.required } : {}) } as const;
  },
  map(values: Schema): Schema {
    return { type: "object", additionalProperties: values };
  },
  array(items: Schema, options: { readonly maxItems?: number } = {}): Schema {
    return { type: "array", items, ...(options.maxItems !== undefined ? { maxItems: options.maxItems } : {}) };
  },
};

/** The JSON type of a decoded YAML/JSON value; whole numbers are `integer`, as the API server sees them. */
export function jsonTypeOf(value: unknown): JsonType | "unknown" {
  if (value === null) return JsonType.Null;
  if (Array.isArray(value)) return JsonType.Array;
  switch (typeof value) {
    case "string":
      return JsonType.String;
    case "boolean":
      return JsonType.Boolean;
    case "number":
      return Number.isInteger(value) ? JsonType.Integer : JsonType.Number;
    case "bigint":
      return JsonType.Integer;
    case "object":
      return JsonType.Object;
    default:
      // undefined, functions, symbols: not JSON (YAML tags such as !!binary can produce other objects).
      return "unknown";
  }
}

/** Whether `value` is a plain JSON object (not an array, not null). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function matches(schema: Schema, actual: JsonType | "unknown"): boolean {
  switch (schema.type) {
    case "any":
      return true;
    case "number":
      return actual === JsonType.Number || actual === JsonType.Integer;
    default:
      return actual === schema.type;
  }
}

/** The API server's type error: `Invalid value: "string": <path> in body must be of type integer`. */
export function typeCause(path: FieldPath, expected: string, actual: string): Cause {
  const where = path.length === 0 ? "body" : `${renderPath(path)} in body`;
  return cause(CauseType.Invalid, renderPath(path), `Invalid value: "${actual}": ${where} must be of type ${expected}`);
}

const DROP = Symbol("drop");

/** Options of {@link decodeWith}. */
export interface DecodeOptions {
  /** Where `value` sits in its object, for the paths of causes; the root by default. */
  readonly path?: FieldPath;
}

/**
 * Walks `value` against `schema` and returns it with wrong-typed fields (and wrong-typed list items) removed, or
 * undefined when `value` itself has the wrong type, together with one cause per violation.
 */
export function decodeWith(value: unknown, schema: Schema, options: DecodeOptions = {}): Decoded<unknown> {
  const causes: Cause[] = [];
  const out = walk(value, schema, [...(options.path ?? [])], causes);
  return { value: out === DROP ? undefined : out, causes };
}

function walk(value: unknown, schema: Schema, path: (string | number)[], causes: Cause[]): unknown {
  const actual = jsonTypeOf(value);
  if (!matches(schema, actual)) {
    causes.push(typeCause(path, schema.type, actual));
    return DROP;
  }
  if (schema.type === "object" && isObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      // Only reachable from objects built in code: JSON and YAML have no undefined, so it means absent.
      if (child === undefined) continue;
      const childSchema = schema.properties?.[key] ?? schema.additionalProperties;
      if (!childSchema) {
        out[key] = child;
        continue;
      }
      path.push(key);
      const decoded = walk(child, childSchema, path, causes);
      path.pop();
      if (decoded !== DROP) out[key] = decoded;
    }
    for (const key of schema.required ?? []) {
      if (value[key] === undefined)
        causes.push(cause(CauseType.Required, renderPath([...path, key]), "Required value"));
    }
    return out;
  }
  if (schema.type === "array" && Array.isArray(value)) {
    if (schema.maxItems !== undefined && value.length > schema.maxItems) {
      // The API server's FieldValueTooMany; CauseType has no such member, so it is reported as Invalid.
      causes.push(
        cause(
          CauseType.Invalid,
          renderPath(path),
          `Too many: ${value.length}: must have at most ${schema.maxItems} items`,
        ),
      );
    }
    const items = schema.items;
    if (!items) return [...value];
    const out: unknown[] = [];
    value.forEach((item, i) => {
      path.push(i);
      const decoded = walk(item, items, path, causes);
      path.pop();
      if (decoded !== DROP) out.push(decoded);
    });
    return out;
  }
  return value;
}
