/**
 * A QEMU guest agent client over the host side of the agent's virtio-serial port (a `-chardev socket` unix socket).
 * Unlike QMP the agent has no greeting, no ids on answers and no events, and whatever a previous client (or a command
 * that timed out) left unread stays in the stream; so every session starts with, and every timeout is followed by,
 * the `guest-sync-delimited` handshake: a 0xFF byte resets the agent's parser, and the answer to a fresh random id,
 * preceded by 0xFF, marks where the stream is clean again. Commands then run one at a time.
 */
import { randomInt } from "node:crypto";
import type { Socket } from "node:net";
import {
  ControlError,
  ControlErrorCode,
  commandError,
  commandLine,
  connectUnix,
  isRecord,
  LineBuffer,
  sleep,
} from "./json-socket.ts";

/** Stable codes of guest agent failures (the same as QMP's). */
export const GuestAgentErrorCode = ControlErrorCode;
/** A guest agent failure code. */
export type GuestAgentErrorCode = ControlErrorCode;

/** A guest agent command failed, timed out, or the channel went away. */
export class GuestAgentError extends ControlError {
  override readonly name = "GuestAgentError";
}

/** One address of a guest interface. */
export interface GuestIpAddress {
  readonly type: "ipv4" | "ipv6";
  readonly address: string;
  readonly prefix: number;
}

/** One interface as `guest-network-get-interfaces` reports it. */
export interface GuestInterface {
  /** Name inside the guest (`eth0`, `enp1s0`). */
  readonly name: string;
  /** Lowercase MAC; absent for interfaces without one (loopback on some agents). */
  readonly hardwareAddress?: string;
  readonly ipAddresses: readonly GuestIpAddress[];
}

/** Options of {@link GuestAgent.exec}. */
export interface GuestExecOptions {
  /** Capture stdout and stderr (`capture-output`). Default true. */
  readonly captureOutput?: boolean;
  /** Bytes written to the process's stdin. */
  readonly input?: Uint8Array | string;
  /** `NAME=value` entries. */
  readonly env?: readonly string[];
  /** Give up polling after this many ms (the process keeps running). Default 30000. */
  readonly timeoutMs?: number;
  /** Delay between `guest-exec-status` polls. Default 100. */
  readonly pollIntervalMs?: number;
}

/** What a finished guest process produced. */
export interface GuestExecResult {
  readonly pid: number;
  /** Absent when the process was killed by a signal. */
  readonly exitCode?: number;
  readonly signal?: number;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  readonly stdoutTruncated: boolean;
  readonly stderrTruncated: boolean;
}

/** Options of {@link GuestAgent.connect}. */
export interface GuestAgentOptions {
  /** Keep retrying while the socket does not exist or refuses, up to this many ms. Default 10000. */
  readonly connectTimeoutMs?: number;
  /** Default per-command timeout. Default 10000. */
  readonly commandTimeoutMs?: number;
}

const SYNC_BYTE = 0xff;

interface Waiter {
  /** Called with each complete line; returns true when it consumed the answer it waited for. */
  readonly onLine: (line: string) => boolean;
  readonly reject: (e: Error) => void;
}

/** A session with one guest agent. */
export class GuestAgent {
  private readonly lines = new LineBuffer();
  private waiter?: Waiter;
  private inSync = false;
  private synced = false;
  private queue: Promise<unknown> = Promise.resolve();
  private closedError?: GuestAgentError;

  private constructor(
    private readonly socket: Socket,
    private readonly commandTimeoutMs: number,
  ) {
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (e) =>
      this.fail(
        new GuestAgentError(GuestAgentErrorCode.Closed, `Guest agent socket failed: ${e.message}`, { cause: e }),
      ),
    );
    socket.on("close", () => this.fail(new GuestAgentError(GuestAgentErrorCode.Closed, "Guest agent socket closed")));
  }

  /** Opens the agent's unix socket. The handshake happens on the first command (or {@link sync}). */
  static async connect(path: string, options: GuestAgentOptions = {}): Promise<GuestAgent> {
    let socket: Socket;
    try {
      socket = await connectUnix(path, options.connectTimeoutMs ?? 10_000);
    } catch (e) {
      throw new GuestAgentError(
        GuestAgentErrorCode.Closed,
        `Cannot connect to guest agent socket "${path}": ${(e as Error).message}`,
        { cause: e },
      );
    }
    return new GuestAgent(socket, options.commandTimeoutMs ?? 10_000);
  }

  private onData(chunk: Buffer): void {
    this.lines.push(chunk);
    // Only what follows the last 0xFF can be the sync answer; everything before it is stale.
    if (this.inSync) this.lines.dropThroughLast(SYNC_BYTE);
    for (let line = this.lines.next(); line !== undefined; line = this.lines.next()) {
      if (this.waiter?.onLine(line)) this.waiter = undefined;
    }
  }

  private fail(error: GuestAgentError): void {
    if (this.closedError !== undefined) return;
    this.closedError = error;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(error);
  }

  /** Waits for a line `accept` takes, or times out. */
  private await<T>(command: string, timeoutMs: number, accept: (line: string) => { value: T } | undefined): Promise<T> {
    if (this.closedError !== undefined) {
      return Promise.reject(
        new GuestAgentError(GuestAgentErrorCode.Closed, `Cannot run "${command}": ${this.closedError.message}`, {
          command,
        }),
      );
    }
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        this.synced = false;
        reject(
          new GuestAgentError(
            GuestAgentErrorCode.Timeout,
            `Guest agent gave no answer to "${command}" within ${timeoutMs} ms`,
            {
              command,
            },
          ),
        );
      }, timeoutMs);
      this.waiter = {
        onLine: (line) => {
          let got: { value: T } | undefined;
          try {
            got = accept(line);
          } catch (e) {
            clearTimeout(timer);
            this.synced = false;
            reject(e);
            return true;
          }
          if (got === undefined) return false;
          clearTimeout(timer);
          resolve(got.value);
          return true;
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  private async doSync(timeoutMs: number): Promise<void> {
    const id = randomInt(1, 2 ** 31);
    this.inSync = true;
    try {
      const answered = this.await("guest-sync-delimited", timeoutMs, (line) => {
        try {
          const m: unknown = JSON.parse(line);
          return isRecord(m) && m.return === id ? { value: undefined } : undefined;
        } catch {
          return undefined; // a fragment of a stale answer
        }
      });
      this.socket.write(
        Buffer.concat([Buffer.from([SYNC_BYTE]), Buffer.from(commandLine("guest-sync-delimited", { id }))]),
      );
      await answered;
      this.synced = true;
    } finally {
      this.inSync = false;
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Runs the `guest-sync-delimited` handshake now (it also runs by itself before the first command). */
  sync(options: { readonly timeoutMs?: number } = {}): Promise<void> {
    return this.serial(() => this.doSync(options.timeoutMs ?? this.commandTimeoutMs));
  }

  /**
   * Retries the handshake until the agent answers (the guest is booting), up to `timeoutMs`; rejects with the last
   * timeout otherwise.
   */
  async waitUntilReady(options: { readonly timeoutMs: number; readonly attemptMs?: number }): Promise<void> {
    const deadline = Date.now() + options.timeoutMs;
    for (;;) {
      try {
        await this.sync({ timeoutMs: Math.min(options.attemptMs ?? 2000, Math.max(deadline - Date.now(), 1)) });
        return;
      } catch (e) {
        if (!(e instanceof GuestAgentError) || e.code !== GuestAgentErrorCode.Timeout || Date.now() >= deadline)
          throw e;
      }
    }
  }

  /** Runs an agent command (handshaking first when needed) and resolves with its `return` value. */
  execute<T = unknown>(
    command: string,
    args?: Readonly<Record<string, unknown>>,
    options: { readonly timeoutMs?: number } = {},
  ): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.commandTimeoutMs;
    return this.serial(async () => {
      if (!this.synced) await this.doSync(timeoutMs);
      const answer = this.await<T>(command, timeoutMs, (line) => {
        let m: unknown;
        try {
          m = JSON.parse(line);
        } catch (e) {
          throw new GuestAgentError(
            GuestAgentErrorCode.Protocol,
            `Cannot parse guest agent answer "${line.slice(0, 200)}"`,
            {
              command,
              cause: e,
            },
          );
        }
        if (!isRecord(m))
          throw new GuestAgentError(GuestAgentErrorCode.Protocol, `Guest agent answered "${line.slice(0, 200)}"`);
        const refused = commandError(m);
        if (refused !== undefined) {
          throw new GuestAgentError(
            GuestAgentErrorCode.CommandFailed,
            `Guest agent command "${command}" failed: ${refused.errorClass}: ${refused.desc}`,
            { ...refused, command },
          );
        }
        return { value: m.return as T };
      });
      this.socket.write(commandLine(command, args));
      return answer;
    });
  }

  /** `guest-ping`. */
  async ping(options: { readonly timeoutMs?: number } = {}): Promise<void> {
    await this.execute("guest-ping", undefined, options);
  }

  /** `guest-network-get-interfaces`, MACs lowercased. */
  async networkGetInterfaces(options: { readonly timeoutMs?: number } = {}): Promise<GuestInterface[]> {
    const list = await this.execute<unknown>("guest-network-get-interfaces", undefined, options);
    if (!Array.isArray(list)) {
      throw new GuestAgentError(GuestAgentErrorCode.Protocol, "guest-network-get-interfaces did not return a list");
    }
    return list.filter(isRecord).map((i) => ({
      name: String(i.name ?? ""),
      ...(typeof i["hardware-address"] === "string" ? { hardwareAddress: i["hardware-address"].toLowerCase() } : {}),
      ipAddresses: (Array.isArray(i["ip-addresses"]) ? i["ip-addresses"] : []).filter(isRecord).map((a) => ({
        type: a["ip-address-type"] === "ipv6" ? ("ipv6" as const) : ("ipv4" as const),
        address: String(a["ip-address"] ?? ""),
        prefix: Number(a.prefix ?? 0),
      })),
    }));
  }

  /**
   * Runs `path` with `args` in the guest (`guest-exec`), polls `guest-exec-status` until it exits and decodes its
   * base64 output. Rejects with a `timeout` GuestAgentError when it runs longer than `timeoutMs`.
   */
  async exec(path: string, args: readonly string[] = [], options: GuestExecOptions = {}): Promise<GuestExecResult> {
    const input = options.input === undefined ? undefined : Buffer.from(options.input).toString("base64");
    const started = await this.execute<unknown>("guest-exec", {
      path,
      arg: [...args],
      "capture-output": options.captureOutput ?? true,
      ...(input === undefined ? {} : { "input-data": input }),
      ...(options.env === undefined ? {} : { env: [...options.env] }),
    });
    if (!isRecord(started) || typeof started.pid !== "number") {
      throw new GuestAgentError(GuestAgentErrorCode.Protocol, "guest-exec did not return a pid", {
        command: "guest-exec",
      });
    }
    const pid = started.pid;
    const deadline = Date.now() + (options.timeoutMs ?? 30_000);
    for (;;) {
      const s = await this.execute<unknown>("guest-exec-status", { pid });
      if (!isRecord(s)) {
        throw new GuestAgentError(GuestAgentErrorCode.Protocol, "guest-exec-status did not return an object");
      }
      if (s.exited === true) {
        return {
          pid,
          ...(typeof s.exitcode === "number" ? { exitCode: s.exitcode } : {}),
          ...(typeof s.signal === "number" ? { signal: s.signal } : {}),
          stdout: Buffer.from(typeof s["out-data"] === "string" ? s["out-data"] : "", "base64"),
          stderr: Buffer.from(typeof s["err-data"] === "string" ? s["err-data"] : "", "base64"),
          stdoutTruncated: s["out-truncated"] === true,
          stderrTruncated: s["err-truncated"] === true,
        };
      }
      if (Date.now() >= deadline) {
        throw new GuestAgentError(
          GuestAgentErrorCode.Timeout,
          `Guest process ${pid} ("${path}") did not exit in time`,
          {
            command: "guest-exec-status",
          },
        );
      }
      await sleep(options.pollIntervalMs ?? 100);
    }
  }

  /**
   * Reads a whole guest file (`guest-file-open`, `guest-file-read` until EOF, `guest-file-close`). Rejects with a
   * `protocol` GuestAgentError when the file is larger than `maxBytes` (default 16 MiB).
   */
  async readFile(path: string, options: { readonly maxBytes?: number } = {}): Promise<Buffer> {
    const max = options.maxBytes ?? 16 << 20;
    const handle = await this.execute<unknown>("guest-file-open", { path, mode: "r" });
    if (typeof handle !== "number") {
      throw new GuestAgentError(GuestAgentErrorCode.Protocol, "guest-file-open did not return a handle");
    }
    const parts: Buffer[] = [];
    let total = 0;
    try {
      for (;;) {
        const r = await this.execute<unknown>("guest-file-read", { handle, count: 65_536 });
        if (!isRecord(r))
          throw new GuestAgentError(GuestAgentErrorCode.Protocol, "guest-file-read did not return an object");
        const chunk = Buffer.from(typeof r["buf-b64"] === "string" ? r["buf-b64"] : "", "base64");
        total += chunk.length;
        if (total > max) {
          throw new GuestAgentError(GuestAgentErrorCode.Protocol, `Guest file "${path}" is larger than ${max} bytes`);
        }
        parts.push(chunk);
        if (r.eof === true || chunk.length === 0) break;
      }
    } finally {
      await this.execute("guest-file-close", { handle }).catch(() => undefined);
    }
    return Buffer.concat(parts);
  }

  /** Closes the socket. */
  close(): void {
    this.socket.destroy();
  }
}

/** The virtio-serial port name qemu-ga opens in the guest. */
export const GUEST_AGENT_PORT = "org.qemu.guest_agent.0";

/**
 * QEMU argv for the agent channel: a unix socket chardev QEMU listens on (the host connects with
 * {@link GuestAgent.connect}), a virtio-serial controller and the `org.qemu.guest_agent.0` port.
 */
export function qemuGuestAgentArgs(socketPath: string, options: { readonly id?: string } = {}): string[] {
  const id = options.id ?? "qga0";
  return [
    "-chardev",
    `socket,id=${id},path=${socketPath.replaceAll(",", ",,")},server=on,wait=off`,
    "-device",
    `virtio-serial-pci,id=${id}-serial`,
    "-device",
    `virtserialport,bus=${id}-serial.0,chardev=${id},name=${GUEST_AGENT_PORT}`,
  ];
}
