/**
 * The agent's control protocol: newline-delimited JSON over a unix socket. A request is `{id, method, params}`, its
 * answer `{id, result}` or `{id, error: {code, message, retryable}}`; answers may come in any order (ids match them).
 *
 * Plans carry `InterfaceName` objects, which JSON turns into plain names (`toJSON`); {@link decodeInterfaces} turns
 * them back, so the agent's `servedInterfaces` sees the shape the planner made.
 */
import type { Readable } from "node:stream";
import { InterfaceName } from "../plan/namescheme.ts";
import type { DhcpInterfacePlan } from "../runtime/dhcp/config.ts";

/** Version of the protocol; `ping` reports it so a client can tell an agent of an older vmnet. */
export const PROTOCOL_VERSION = 1;

/** Longest request or answer line accepted, in bytes; longer input is refused and the connection closed. */
export const MAX_LINE_BYTES = 4 * 1024 * 1024;

/** The methods of the control protocol. */
export const AgentMethod = {
  Start: "start",
  Stop: "stop",
  Reconfigure: "reconfigure",
  Stats: "stats",
  Status: "status",
  Ping: "ping",
  Shutdown: "shutdown",
} as const;
export type AgentMethod = (typeof AgentMethod)[keyof typeof AgentMethod];

const METHODS: ReadonlySet<string> = new Set(Object.values(AgentMethod));

/** Stable codes of {@link AgentError}. */
export const AgentErrorCode = {
  /** The request is not valid JSON, not an object, or its params are wrong. */
  BadRequest: "bad-request",
  UnknownMethod: "unknown-method",
  /** The pod is not served (stop, stats, reconfigure). */
  NotServed: "not-served",
  /** The pod is served with another configuration (start). */
  AlreadyServed: "already-served",
  /** The DHCP agent refused or failed (bad plan, missing namespace or device, sockets that did not open). */
  Failed: "failed",
  /** The agent is shutting down. */
  ShuttingDown: "shutting-down",
  /** Another agent holds the state directory's lock. */
  Locked: "locked",
  /** No agent answers and none could be started. */
  Unavailable: "unavailable",
  /** The agent did not answer in time. */
  Timeout: "timeout",
  /** The connection closed before the answer came. */
  ConnectionLost: "connection-lost",
} as const;
export type AgentErrorCode = (typeof AgentErrorCode)[keyof typeof AgentErrorCode];

const RETRYABLE: ReadonlySet<AgentErrorCode> = new Set([
  AgentErrorCode.ShuttingDown,
  AgentErrorCode.Unavailable,
  AgentErrorCode.Timeout,
  AgentErrorCode.ConnectionLost,
]);

/** Whether trying the same request again (after `ensureAgent`) can succeed for an error of `code`. */
export function isRetryable(code: AgentErrorCode): boolean {
  return RETRYABLE.has(code);
}

/** A failure of the agent or of talking to it; `retryable` says whether the same request may succeed later. */
export class AgentError extends Error {
  override readonly name = "AgentError";
  readonly code: AgentErrorCode;
  readonly retryable: boolean;

  constructor(code: AgentErrorCode, message: string, options: { readonly cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = isRetryable(code);
  }
}

/** One request line. */
export interface AgentRequest {
  readonly id: number | string;
  readonly method: AgentMethod;
  readonly params: Readonly<Record<string, unknown>>;
}

/** The error part of an answer. */
export interface WireError {
  readonly code: AgentErrorCode;
  readonly message: string;
  readonly retryable: boolean;
}

/** One answer line; `id` is null when the request's id could not be read. */
export type AgentResponse =
  | { readonly id: number | string | null; readonly result: unknown }
  | { readonly id: number | string | null; readonly error: WireError };

/** Whether `v` is a JSON object (not an array, not null). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isId(v: unknown): v is number | string {
  return (typeof v === "number" && Number.isSafeInteger(v)) || (typeof v === "string" && v.length <= 200);
}

/** Reads the id of a request that failed to decode, so its error answer can still be matched. */
export function requestIdOf(line: string): number | string | null {
  try {
    const v: unknown = JSON.parse(line);
    return isRecord(v) && isId(v.id) ? v.id : null;
  } catch {
    return null;
  }
}

/** Decodes one request line; throws an {@link AgentError} (bad-request or unknown-method) when it is not one. */
export function decodeRequest(line: string): AgentRequest {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    throw new AgentError(AgentErrorCode.BadRequest, `Cannot parse request: ${e instanceof Error ? e.message : e}`);
  }
  if (!isRecord(v)) throw new AgentError(AgentErrorCode.BadRequest, "Cannot read request: expected a JSON object");
  if (!isId(v.id)) {
    throw new AgentError(AgentErrorCode.BadRequest, 'Cannot read request: "id" must be an integer or a short string');
  }
  if (typeof v.method !== "string") {
    throw new AgentError(AgentErrorCode.BadRequest, 'Cannot read request: "method" must be a string');
  }
  if (!METHODS.has(v.method)) {
    throw new AgentError(AgentErrorCode.UnknownMethod, `Cannot serve method "${v.method.slice(0, 100)}"`);
  }
  const params = v.params ?? {};
  if (!isRecord(params)) {
    throw new AgentError(AgentErrorCode.BadRequest, `Cannot read params of "${v.method}": expected a JSON object`);
  }
  return { id: v.id, method: v.method as AgentMethod, params };
}

/**
 * Reads `stream` (a connection) as newline-delimited text: `onLine` gets every non-blank line, in order. When the unterminated rest
 * grows past {@link MAX_LINE_BYTES} it is dropped and `onOverflow` called (the caller answers and closes).
 */
export function readLines(stream: Readable, onLine: (line: string) => void, onOverflow: () => void): void {
  stream.setEncoding("utf8");
  let buffer = "";
  stream.on("data", (chunk: string) => {
    // Only a chunk with a newline ends a line: a long request arriving in pieces is not searched again per piece.
    if (chunk.includes("\n")) {
      const lines = (buffer + chunk).split("\n");
      buffer = lines.pop() ?? "";
      for (const line of lines) if (line.trim() !== "") onLine(line);
    } else {
      buffer += chunk;
    }
    if (buffer.length > MAX_LINE_BYTES) {
      buffer = "";
      onOverflow();
    }
  });
}

/** Encodes an answer as one line (with its newline). */
export function encodeResponse(response: AgentResponse): string {
  return `${JSON.stringify(response)}\n`;
}

/** The wire form of an error: an {@link AgentError} keeps its code, anything else is "failed". */
export function toWireError(e: unknown): WireError {
  if (e instanceof AgentError) return { code: e.code, message: e.message, retryable: e.retryable };
  const message = e instanceof Error ? e.message : String(e);
  return { code: AgentErrorCode.Failed, message, retryable: false };
}

/** A string param; throws bad-request when it is missing or empty. */
export function stringParam(params: Readonly<Record<string, unknown>>, name: string, method: string): string {
  const v = params[name];
  if (typeof v !== "string" || v === "") {
    throw new AgentError(AgentErrorCode.BadRequest, `Cannot serve "${method}": "${name}" must be a non-empty string`);
  }
  return v;
}

function revivedName(v: unknown, where: string): InterfaceName {
  if (v instanceof InterfaceName) return v;
  if (typeof v !== "string") throw new AgentError(AgentErrorCode.BadRequest, `"${where}" must be an interface name`);
  try {
    return InterfaceName.of(v);
  } catch (e) {
    throw new AgentError(AgentErrorCode.BadRequest, `"${where}": ${e instanceof Error ? e.message : e}`);
  }
}

/**
 * The DHCP/RA plans of a decoded request (or of the agent's pod record): interface names become `InterfaceName`s
 * again. Only the shape this needs is checked here; the DHCP agent validates the plans themselves on `start`.
 */
export function decodeInterfaces(v: unknown): DhcpInterfacePlan[] {
  if (!Array.isArray(v)) throw new AgentError(AgentErrorCode.BadRequest, '"interfaces" must be an array');
  return v.map((item: unknown, i): DhcpInterfacePlan => {
    if (!isRecord(item)) throw new AgentError(AgentErrorCode.BadRequest, `"interfaces[${i}]" must be an object`);
    const out: { -readonly [K in keyof DhcpInterfacePlan]: unknown } = {};
    for (const [key, nameField] of [
      ["dhcpv4", "serverInterface"],
      ["dhcpv6", "serverInterface"],
      ["ra", "interface"],
    ] as const) {
      const plan = item[key];
      if (plan === undefined || plan === null) continue;
      if (!isRecord(plan))
        throw new AgentError(AgentErrorCode.BadRequest, `"interfaces[${i}].${key}" must be an object`);
      out[key] = { ...plan, [nameField]: revivedName(plan[nameField], `interfaces[${i}].${key}.${nameField}`) };
    }
    // The plans' inner fields are checked by servedInterfaces/validateServed, which throw on anything malformed.
    return out as DhcpInterfacePlan;
  });
}
