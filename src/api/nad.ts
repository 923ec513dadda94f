/**
 * NetworkAttachmentDefinitions (`k8s.cni.cncf.io/v1`): the name, the `k8s.v1.cni.cncf.io/resourceName` annotation and
 * the CNI configuration held as a JSON string in `spec.config` (a single plugin or a `plugins` list).
 */
import { type Cause, CauseType, cause } from "../admission/cause.ts";
import { type Decoded, decodeWith, isObject, jsonTypeOf, type Schema, s } from "./decode.ts";
import { OBJECT_META_SCHEMA } from "./kubevirt.ts";

export const NAD_API_VERSION = "k8s.cni.cncf.io/v1";
export const NAD_KIND = "NetworkAttachmentDefinition";
/** The annotation naming the device-plugin resource a NAD needs (SR-IOV VFs, macvtap host interfaces). */
export const RESOURCE_NAME_ANNOTATION = "k8s.v1.cni.cncf.io/resourceName";

/** A plugin's `ipam` section: the type and subnet typed, everything else (ranges, routes, gateway...) in `raw`. */
export interface CniIpamConfig {
  readonly type?: string;
  readonly subnet?: string;
  readonly raw: Readonly<Record<string, unknown>>;
}

/** One CNI plugin configuration, the fields vmnet reads typed and the whole object in `raw`. */
export interface CniPluginConfig {
  readonly type: string;
  readonly bridge?: string;
  readonly mtu?: number;
  readonly macspoofchk?: boolean;
  readonly vlan?: number;
  readonly ipam?: CniIpamConfig;
  readonly disableContainerInterface?: boolean;
  readonly isGateway?: boolean;
  readonly ipMasq?: boolean;
  readonly raw: Readonly<Record<string, unknown>>;
}

/** A CNI network configuration: a single-plugin config becomes a one-element `plugins` list. */
export interface CniNetworkConfig {
  readonly cniVersion?: string;
  readonly name?: string;
  readonly plugins: readonly CniPluginConfig[];
}

/** A decoded NetworkAttachmentDefinition. */
export interface NetworkAttachmentDefinition {
  readonly name: string;
  /** As written; absent means the namespace it is applied to. */
  readonly namespace?: string;
  readonly resourceName?: string;
  /** Absent when `spec.config` is absent or empty (Multus then reads a file named after the NAD) or unparsable. */
  readonly config?: CniNetworkConfig;
}

const NAD_SCHEMA: Schema = s.object({
  apiVersion: s.string,
  kind: s.string,
  metadata: OBJECT_META_SCHEMA,
  spec: s.object({ config: s.string }),
});

const CONFIG_FIELD = "spec.config";

/** Where a JSON syntax error is, inside the JSON text. */
export interface JsonErrorPosition {
  readonly offset: number;
  readonly line: number;
  readonly column: number;
}

/** Raised by {@link parseJsonStrict}, with the position of the error inside the JSON text. */
export class JsonSyntaxError extends SyntaxError {
  readonly position: JsonErrorPosition;
  constructor(message: string, position: JsonErrorPosition) {
    super(`${message} at line ${position.line}, column ${position.column}`);
    this.name = "JsonSyntaxError";
    this.position = position;
  }
}

function positionAt(text: string, offset: number): JsonErrorPosition {
  let line = 1;
  let column = 1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === "\n") {
      line++;
      column = 1;
    } else {
      column++;
    }
  }
  return { offset, line, column };
}

/**
 * Parses RFC 8259 JSON, reporting the line and column of a syntax error (V8's `JSON.parse` messages do not always
 * carry a position). Values are then built by `JSON.parse`, so numbers and strings decode exactly as usual.
 */
export function parseJsonStrict(text: string): unknown {
  let i = 0;
  const fail = (what: string): never => {
    const found = i < text.length ? `unexpected character ${JSON.stringify(text[i])}` : "unexpected end of input";
    throw new JsonSyntaxError(`${found}, expected ${what}`, positionAt(text, i));
  };
  const ws = (): void => {
    while (i < text.length && (text[i] === " " || text[i] === "\t" || text[i] === "\n" || text[i] === "\r")) i++;
  };
  const literal = (word: string): void => {
    if (text.startsWith(word, i)) i += word.length;
    else fail("a value");
  };
  const string = (): void => {
    if (text[i] !== '"') fail("a string");
    i++;
    for (;;) {
      const c = text[i];
      if (c === undefined) fail('closing "');
      else if (c === '"') {
        i++;
        return;
      } else if (c === "\\") {
        const e = text[i + 1];
        if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else if (e === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) i += 6;
        else {
          i++;
          fail("an escape sequence");
        }
      } else if (c < " ") fail("a character other than a control character in a string");
      else i++;
    }
  };
  const digits = (): void => {
    const start = i;
    while (i < text.length && (text[i] ?? "") >= "0" && (text[i] ?? "") <= "9") i++;
    if (i === start) fail("a digit");
  };
  const number = (): void => {
    if (text[i] === "-") i++;
    if (text[i] === "0") i++;
    else digits();
    if (text[i] === ".") {
      i++;
      digits();
    }
    if (text[i] === "e" || text[i] === "E") {
      i++;
      if (text[i] === "+" || text[i] === "-") i++;
      digits();
    }
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      ws();
      if (text[i] === "}") {
        i++;
        return;
      }
      for (;;) {
        ws();
        string();
        ws();
        if (text[i] !== ":") fail('":"');
        i++;
        value();
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "}") {
          i++;
          return;
        } else fail('"," or "}"');
      }
    } else if (c === "[") {
      i++;
      ws();
      if (text[i] === "]") {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "]") {
          i++;
          return;
        } else fail('"," or "]"');
      }
    } else if (c === '"') string();
    else if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) number();
    else if (c === "t") literal("true");
    else if (c === "f") literal("false");
    else if (c === "n") literal("null");
    else fail("a value");
  };
  value();
  ws();
  if (i < text.length) fail("end of input");
  return JSON.parse(text);
}

/** What a typed plugin field must be, for the type check inside `spec.config`. */
const PLUGIN_FIELDS: Readonly<Record<string, "string" | "integer" | "boolean" | "object">> = {
  type: "string",
  bridge: "string",
  mtu: "integer",
  macspoofchk: "boolean",
  vlan: "integer",
  ipam: "object",
  disableContainerInterface: "boolean",
  isGateway: "boolean",
  ipMasq: "boolean",
};

/**
 * Reads one plugin object; `where` is its JSON path inside `spec.config` (e.g. `plugins[1]`, or `""` for a
 * single-plugin config). Returns undefined (and reports why) when it cannot be used.
 */
function readPlugin(raw: unknown, where: string, causes: Cause[]): CniPluginConfig | undefined {
  const label = where === "" ? "the configuration" : where;
  if (!isObject(raw)) {
    causes.push(cause(CauseType.Invalid, CONFIG_FIELD, `Invalid CNI configuration: ${label} must be an object`));
    return undefined;
  }
  const typed: Record<string, unknown> = {};
  for (const [key, expected] of Object.entries(PLUGIN_FIELDS)) {
    const v = raw[key];
    if (v === undefined) continue;
    const actual = jsonTypeOf(v);
    if (actual !== expected) {
      const at = where === "" ? key : `${where}.${key}`;
      causes.push(
        cause(
          CauseType.Invalid,
          CONFIG_FIELD,
          `Invalid CNI configuration: ${at} must be of type ${expected}, not ${actual}`,
        ),
      );
      continue;
    }
    typed[key] = v;
  }
  if (typeof typed.type !== "string" || typed.type === "") {
    if (raw.type === undefined || raw.type === "") {
      causes.push(
        cause(
          CauseType.Required,
          CONFIG_FIELD,
          `Invalid CNI configuration: ${where === "" ? "type" : `${where}.type`} is required`,
        ),
      );
    }
    return undefined;
  }
  let ipam: CniIpamConfig | undefined;
  if (isObject(typed.ipam)) {
    const r = typed.ipam;
    ipam = {
      ...(typeof r.type === "string" ? { type: r.type } : {}),
      ...(typeof r.subnet === "string" ? { subnet: r.subnet } : {}),
      raw: r,
    };
  }
  return {
    type: typed.type,
    ...(typeof typed.bridge === "string" ? { bridge: typed.bridge } : {}),
    ...(typeof typed.mtu === "number" ? { mtu: typed.mtu } : {}),
    ...(typeof typed.macspoofchk === "boolean" ? { macspoofchk: typed.macspoofchk } : {}),
    ...(typeof typed.vlan === "number" ? { vlan: typed.vlan } : {}),
    ...(ipam ? { ipam } : {}),
    ...(typeof typed.disableContainerInterface === "boolean"
      ? { disableContainerInterface: typed.disableContainerInterface }
      : {}),
    ...(typeof typed.isGateway === "boolean" ? { isGateway: typed.isGateway } : {}),
    ...(typeof typed.ipMasq === "boolean" ? { ipMasq: typed.ipMasq } : {}),
    raw,
  };
}

/**
 * Parses a CNI configuration text (the value of `spec.config`). Causes name the field `spec.config`, and for JSON
 * errors the line and column inside the JSON text.
 */
export function parseCniConfig(text: string): Decoded<CniNetworkConfig | undefined> {
  const causes: Cause[] = [];
  let parsed: unknown;
  try {
    parsed = parseJsonStrict(text);
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    causes.push(cause(CauseType.Invalid, CONFIG_FIELD, `Invalid JSON in spec.config: ${e.message}`));
    return { value: undefined, causes };
  }
  if (!isObject(parsed)) {
    causes.push(
      cause(
        CauseType.Invalid,
        CONFIG_FIELD,
        `Invalid CNI configuration: must be a JSON object, not ${jsonTypeOf(parsed)}`,
      ),
    );
    return { value: undefined, causes };
  }
  const head: { cniVersion?: string; name?: string } = {};
  for (const key of ["cniVersion", "name"] as const) {
    const v = parsed[key];
    if (v === undefined) continue;
    if (typeof v === "string") head[key] = v;
    else
      causes.push(
        cause(
          CauseType.Invalid,
          CONFIG_FIELD,
          `Invalid CNI configuration: ${key} must be of type string, not ${jsonTypeOf(v)}`,
        ),
      );
  }
  const plugins: CniPluginConfig[] = [];
  if (parsed.plugins !== undefined) {
    if (!Array.isArray(parsed.plugins)) {
      causes.push(
        cause(
          CauseType.Invalid,
          CONFIG_FIELD,
          `Invalid CNI configuration: plugins must be of type array, not ${jsonTypeOf(parsed.plugins)}`,
        ),
      );
    } else {
      if (parsed.plugins.length === 0) {
        causes.push(cause(CauseType.Required, CONFIG_FIELD, "Invalid CNI configuration: plugins must not be empty"));
      }
      parsed.plugins.forEach((p, i) => {
        const plugin = readPlugin(p, `plugins[${i}]`, causes);
        if (plugin) plugins.push(plugin);
      });
    }
  } else {
    const plugin = readPlugin(parsed, "", causes);
    if (plugin) plugins.push(plugin);
  }
  return { value: { ...head, plugins }, causes };
}

/** Decodes a NetworkAttachmentDefinition: metadata, resourceName annotation and the parsed `spec.config`. */
export function decodeNad(value: unknown): Decoded<NetworkAttachmentDefinition> {
  const { value: decoded, causes } = decodeWith(value, NAD_SCHEMA);
  const obj = isObject(decoded) ? decoded : {};
  const meta = isObject(obj.metadata) ? obj.metadata : {};
  const annotations = isObject(meta.annotations) ? meta.annotations : {};
  const spec = isObject(obj.spec) ? obj.spec : {};
  const name = typeof meta.name === "string" ? meta.name : "";
  if (name === "")
    causes.push(cause(CauseType.Required, "metadata.name", "Required value: name or generateName is required"));
  const resourceName = annotations[RESOURCE_NAME_ANNOTATION];
  let config: CniNetworkConfig | undefined;
  if (typeof spec.config === "string" && spec.config.trim() !== "") {
    const parsed = parseCniConfig(spec.config);
    causes.push(...parsed.causes);
    config = parsed.value;
  }
  return {
    value: {
      name,
      ...(typeof meta.namespace === "string" ? { namespace: meta.namespace } : {}),
      ...(typeof resourceName === "string" ? { resourceName } : {}),
      ...(config ? { config } : {}),
    },
    causes,
  };
}
