/**
 * What the QMP client (qmp.ts) and the guest agent client (qga.ts) share: both speak QEMU's
 * JSON command protocol, one message per line, over a unix socket QEMU listens on. The socket may not exist yet while
 * QEMU starts, commands are `{"execute", "arguments"}` objects, and a refused one answers with `{"error": {"class",
 * "desc"}}`. How answers are matched to commands differs (QMP by id, the agent by order after a sync handshake), so that
 * stays in each client.
 */
import type { Socket } from "node:net";
import { createConnection } from "node:net";

/** Stable codes of QMP and guest agent failures. */
export const ControlErrorCode = {
  /** The peer answered with an `error` object; `errorClass` and `desc` hold it. */
  CommandFailed: "command_failed",
  /** No answer (or awaited event) in time; for the agent, the guest may not be up or the agent not running. */
  Timeout: "timeout",
  /** The socket closed or could not be opened. */
  Closed: "closed",
  /** The peer sent something that is not its protocol. */
  Protocol: "protocol",
} as const;
export type ControlErrorCode = (typeof ControlErrorCode)[keyof typeof ControlErrorCode];

/** The `error` object of a refused command. */
export interface CommandErrorDetails {
  /** QMP's error `class` (`GenericError`, `DeviceNotFound`, `CommandNotFound`, …). */
  readonly errorClass?: string;
  /** QMP's error `desc`. */
  readonly desc?: string;
}

/** A QMP or guest agent command failed, timed out, or the channel went away; each client names its own subclass. */
export class ControlError extends Error {
  readonly code: ControlErrorCode;
  /** QMP's error `class` for `command_failed`. */
  readonly errorClass?: string;
  /** QMP's error `desc` for `command_failed`. */
  readonly desc?: string;
  /** The command that failed, when one did. */
  readonly command?: string;
  /** Whether trying again can help: a timeout or a channel not up yet can pass; a refused command will not. */
  readonly retryable: boolean;

  constructor(
    code: ControlErrorCode,
    message: string,
    details: CommandErrorDetails & { readonly command?: string; readonly cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    if (details.errorClass !== undefined) this.errorClass = details.errorClass;
    if (details.desc !== undefined) this.desc = details.desc;
    if (details.command !== undefined) this.command = details.command;
    this.retryable = code === ControlErrorCode.Timeout || code === ControlErrorCode.Closed;
  }
}

/** A decoded JSON object. */
export type Message = Readonly<Record<string, unknown>>;

/** Whether `v` is a JSON object (not null, not an array). */
export function isRecord(v: unknown): v is Message {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The class and desc of an answer's `error` object, or undefined when the command succeeded. */
export function commandError(answer: Message): Required<CommandErrorDetails> | undefined {
  const e = answer.error;
  return isRecord(e) ? { errorClass: String(e.class ?? ""), desc: String(e.desc ?? "") } : undefined;
}

/** One command as its line on the wire; QMP adds an `id` to match the answer. */
export function commandLine(command: string, args?: Readonly<Record<string, unknown>>, id?: string): string {
  return `${JSON.stringify({
    execute: command,
    ...(args === undefined ? {} : { arguments: args }),
    ...(id === undefined ? {} : { id }),
  })}\n`;
}

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Connects to unix socket `path`, retrying while it does not exist or refuses (QEMU creates and listens on it only
 * once it has started), up to `timeoutMs`; rejects with the last connection error after that, or at once on another.
 */
export async function connectUnix(path: string, timeoutMs: number): Promise<Socket> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const s = createConnection(path);
        s.once("connect", () => {
          s.removeListener("error", reject);
          resolve(s);
        });
        s.once("error", reject);
      });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if ((code !== "ENOENT" && code !== "ECONNREFUSED") || Date.now() >= deadline) throw e;
      await sleep(50);
    }
  }
}

/**
 * Splits a byte stream into lines. Bytes, not a string decoder: the agent's 0xFF sync marker is not UTF-8, and a
 * line break is never inside a multi-byte character, so each line decodes on its own.
 */
export class LineBuffer {
  #buffer: Buffer = Buffer.alloc(0);

  /** Appends received bytes. */
  push(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
  }

  /** Drops everything up to and including the last `byte` held, if any. */
  dropThroughLast(byte: number): void {
    const at = this.#buffer.lastIndexOf(byte);
    if (at >= 0) this.#buffer = this.#buffer.subarray(at + 1);
  }

  /** Takes the next complete line, trimmed; blank lines are skipped. Undefined until a line break arrives. */
  next(): string | undefined {
    for (let nl = this.#buffer.indexOf(0x0a); nl >= 0; nl = this.#buffer.indexOf(0x0a)) {
      const line = this.#buffer.subarray(0, nl).toString("utf8").trim();
      this.#buffer = this.#buffer.subarray(nl + 1);
      if (line !== "") return line;
    }
    return undefined;
  }
}
