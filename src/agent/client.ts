/**
 * The CLI side of the agent: {@link ensureAgent} connects to the state directory's agent, starting one when nothing
 * answers, and returns an {@link AgentClient}, which is the `DhcpService` that `wirePod` takes.
 *
 * Starting is race-free by construction: every CLI process that finds no agent spawns one, the pidfile lock lets
 * exactly one of them run (the others exit at once), and every CLI process then polls the socket until the winner
 * answers `ping`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import type { DhcpPodStats } from "../runtime/dhcp/agent.ts";
import type { DhcpInterfacePlan } from "../runtime/dhcp/config.ts";
import type { DhcpService } from "../runtime/wire.ts";
import { readPidfile } from "./lock.ts";
import { type AgentPaths, agentPaths } from "./paths.ts";
import {
  AgentError,
  AgentErrorCode,
  AgentMethod,
  type AgentResponse,
  isRecord,
  PROTOCOL_VERSION,
  readLines,
  type WireError,
} from "./protocol.ts";
import type { AgentStatus, PingResult } from "./server.ts";

/** How to run the agent: a program and its full argument list. */
export interface AgentCommand {
  readonly command: string;
  readonly args: readonly string[];
}

const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
const DEFAULT_START_TIMEOUT_MS = 30_000;
const CONNECT_TIMEOUT_MS = 2000;
const POLL_MS = 100;
/** Agents one ensureAgent call starts at most while the previous agent of the directory is still shutting down. */
const MAX_SPAWNS = 5;

/** `bin/vmnet agent run --state-dir DIR` of this checkout. */
export function defaultAgentCommand(stateDir: string): AgentCommand {
  const bin = fileURLToPath(new URL("../../bin/vmnet", import.meta.url));
  return { command: bin, args: ["agent", "run", "--state-dir", stateDir] };
}

/** Options of {@link AgentClient.connect}. */
export interface ConnectOptions {
  /** How long to wait for the connection. Default 2 s. */
  readonly connectTimeoutMs?: number;
  /** How long a request may take (a `start` waits until the pod's sockets are open). Default 60 s. */
  readonly requestTimeoutMs?: number;
}

interface Pending {
  readonly method: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: AgentError) => void;
  readonly timer: NodeJS.Timeout;
}

function fromWire(e: WireError | undefined, method: string): AgentError {
  const codes: readonly string[] = Object.values(AgentErrorCode);
  if (e === undefined || !codes.includes(e.code)) {
    return new AgentError(AgentErrorCode.Failed, `Agent answered "${method}" with an unreadable error`);
  }
  return new AgentError(e.code, e.message);
}

/** A connection to the agent. Implements `DhcpService`; call {@link close} when done so the CLI process can exit. */
export class AgentClient implements DhcpService {
  readonly #socket: Socket;
  readonly #requestTimeoutMs: number;
  readonly #pending = new Map<number, Pending>();
  #seq = 0;
  #lost: AgentError | undefined;
  /** The pid of the agent this process spawned, when `ensureAgent` spawned one (it may have lost the lock race). */
  spawnedPid: number | undefined;

  private constructor(socket: Socket, requestTimeoutMs: number) {
    this.#socket = socket;
    this.#requestTimeoutMs = requestTimeoutMs;
    readLines(
      socket,
      (line) => this.#onLine(line),
      () => {
        this.#fail(new AgentError(AgentErrorCode.ConnectionLost, "Agent sent an answer longer than allowed"));
        socket.destroy();
      },
    );
    socket.on("error", (e) => {
      this.#fail(
        new AgentError(AgentErrorCode.ConnectionLost, `Lost the agent connection: ${e.message}`, { cause: e }),
      );
    });
    socket.on("close", () => {
      this.#fail(new AgentError(AgentErrorCode.ConnectionLost, "Lost the agent connection: it closed"));
    });
  }

  /** Connects to the agent socket at `path`; rejects with an `unavailable` {@link AgentError} when none listens. */
  static connect(path: string, options: ConnectOptions = {}): Promise<AgentClient> {
    const timeoutMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          new AgentError(AgentErrorCode.Unavailable, `Cannot connect to the agent at "${path}" within ${timeoutMs} ms`),
        );
      }, timeoutMs);
      socket.once("error", (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(
          new AgentError(
            AgentErrorCode.Unavailable,
            `Cannot connect to the agent at "${path}": ${e.code ?? e.message}`,
            {
              cause: e,
            },
          ),
        );
      });
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.removeAllListeners("error");
        resolve(new AgentClient(socket, options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS));
      });
    });
  }

  #onLine(line: string): void {
    let response: AgentResponse;
    try {
      response = JSON.parse(line) as AgentResponse;
    } catch {
      return;
    }
    if (!isRecord(response) || typeof response.id !== "number") return;
    const p = this.#pending.get(response.id);
    if (p === undefined) return;
    this.#pending.delete(response.id);
    clearTimeout(p.timer);
    if ("error" in response) p.reject(fromWire(response.error, p.method));
    else p.resolve(response.result);
  }

  #fail(error: AgentError): void {
    this.#lost ??= error;
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    this.#pending.clear();
  }

  /** Sends one request and waits for its answer. */
  request(method: AgentMethod, params: Readonly<Record<string, unknown>> = {}, timeoutMs?: number): Promise<unknown> {
    if (this.#lost !== undefined) return Promise.reject(this.#lost);
    const ms = timeoutMs ?? this.#requestTimeoutMs;
    this.#seq += 1;
    const id = this.#seq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new AgentError(AgentErrorCode.Timeout, `Agent did not answer "${method}" within ${ms} ms`));
      }, ms);
      this.#pending.set(id, { method, resolve, reject, timer });
      this.#socket.write(`${JSON.stringify({ id, method, params })}\n`);
    });
  }

  /** Starts serving the pod's DHCP/RA plans in `netns`; a repeated start with the same plans succeeds. */
  async start(podId: string, netns: string, interfaces: readonly DhcpInterfacePlan[]): Promise<void> {
    await this.request(AgentMethod.Start, { podId, netns, interfaces });
  }

  /** Stops serving the pod (final RAs) and forgets it. */
  async stop(podId: string): Promise<void> {
    await this.request(AgentMethod.Stop, { podId });
  }

  /** Serves `interfaces` for the pod instead of its current plans. */
  async reconfigure(podId: string, interfaces: readonly DhcpInterfacePlan[]): Promise<void> {
    await this.request(AgentMethod.Reconfigure, { podId, interfaces });
  }

  /** The pod's DHCP/RA counters. */
  async stats(podId: string): Promise<DhcpPodStats> {
    return (await this.request(AgentMethod.Stats, { podId })) as DhcpPodStats;
  }

  /** The agent's pid and the pods it serves or is re-adopting. */
  async status(): Promise<AgentStatus> {
    return (await this.request(AgentMethod.Status)) as AgentStatus;
  }

  /** The agent's pid and protocol version. */
  async ping(timeoutMs?: number): Promise<PingResult> {
    const result = await this.request(AgentMethod.Ping, {}, timeoutMs);
    if (!isRecord(result) || typeof result.pid !== "number" || typeof result.version !== "number") {
      throw new AgentError(AgentErrorCode.Failed, 'Agent answered "ping" with an unreadable result');
    }
    return { pid: result.pid, version: result.version };
  }

  /**
   * Asks the agent to shut down and waits until it has (the agent closes its connections last, after stopping the
   * pods' servers and removing its socket and pidfile). The recorded pods stay recorded for the next agent.
   */
  async shutdown(timeoutMs = 30_000): Promise<void> {
    const closed = new Promise<void>((resolve) => {
      if (this.#socket.destroyed) resolve();
      else this.#socket.once("close", () => resolve());
    });
    await this.request(AgentMethod.Shutdown);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new AgentError(AgentErrorCode.Timeout, `Agent did not shut down within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the connection; requests still waiting fail with `connection-lost`. */
  close(): void {
    this.#socket.end();
    this.#socket.destroy();
  }
}

/** Options of {@link ensureAgent}. */
export interface EnsureAgentOptions extends ConnectOptions {
  readonly stateDir: string;
  /** How to start an agent when none answers; `false` never starts one. Default {@link defaultAgentCommand}. */
  readonly spawn?: AgentCommand | false;
  /** How long to wait for a started agent to answer. Default 30 s. */
  readonly startTimeoutMs?: number;
}

async function tryConnect(paths: AgentPaths, options: ConnectOptions): Promise<AgentClient | AgentError> {
  let client: AgentClient;
  try {
    client = await AgentClient.connect(paths.socket, options);
  } catch (e) {
    return e instanceof AgentError ? e : new AgentError(AgentErrorCode.Unavailable, String(e));
  }
  try {
    const pong = await client.ping(options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS);
    if (pong.version !== PROTOCOL_VERSION) {
      client.close();
      return new AgentError(
        AgentErrorCode.Failed,
        `Agent pid ${pong.pid} speaks protocol version ${pong.version}, not ${PROTOCOL_VERSION}: shut it down and start this vmnet's agent`,
      );
    }
    return client;
  } catch (e) {
    client.close();
    return e instanceof AgentError ? e : new AgentError(AgentErrorCode.Unavailable, String(e));
  }
}

function spawnAgent(paths: AgentPaths, command: AgentCommand): ChildProcess {
  const log = openSync(paths.log, "a", 0o600);
  try {
    const child = spawn(command.command, [...command.args], {
      cwd: "/",
      detached: true,
      stdio: ["ignore", log, log],
    });
    child.on("error", () => undefined);
    child.unref();
    return child;
  } finally {
    closeSync(log);
  }
}

/** Whether the pid in the pidfile names a live process (a zombie is not: it holds no lock any more). */
function holderAlive(pidfile: string): boolean {
  const pid = readPidfile(pidfile);
  if (pid === undefined) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

function logTail(path: string, lines = 5): string {
  try {
    const all = readFileSync(path, "utf8").trimEnd().split("\n");
    return all.slice(-lines).join("\n");
  } catch {
    return "";
  }
}

/**
 * Connects to the agent of `options.stateDir`, starting one (detached, in its own process group, output appended to
 * `agent.log`) when nothing answers. Several processes calling this at once end up connected to the same agent.
 * Throws an `unavailable` {@link AgentError} when no agent answers within `startTimeoutMs`.
 */
export async function ensureAgent(options: EnsureAgentOptions): Promise<AgentClient> {
  const paths = agentPaths(options.stateDir);
  const first = await tryConnect(paths, options);
  if (first instanceof AgentClient) return first;
  // A version mismatch does not go away by starting another agent (the lock keeps the old one serving).
  if (options.spawn === false || first.code === AgentErrorCode.Failed) throw first;
  await mkdir(paths.stateDir, { recursive: true, mode: 0o700 });
  const command = options.spawn ?? defaultAgentCommand(paths.stateDir);
  const timeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  let last: AgentError = first;
  let spawns = 0;
  let child: ChildProcess | undefined;
  let exited = true;
  for (;;) {
    // A spawned agent that exits without answering lost the lock to an agent that may itself be shutting down (its
    // socket already gone): start another, which gets the lock once that one has finished.
    // The first spawn ignores the pidfile: a dead agent's pid may name an unrelated process by now; the lock decides.
    if (exited && spawns < MAX_SPAWNS && (spawns === 0 || !holderAlive(paths.pidfile))) {
      spawns += 1;
      exited = false;
      const spawned = spawnAgent(paths, command);
      spawned.once("exit", () => {
        if (child === spawned) exited = true;
      });
      child = spawned;
    }
    const attempt = await tryConnect(paths, options);
    if (attempt instanceof AgentClient) {
      attempt.spawnedPid = child?.pid;
      return attempt;
    }
    last = attempt;
    if (attempt.code === AgentErrorCode.Failed) throw attempt;
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  const holder = readPidfile(paths.pidfile);
  const tail = logTail(paths.log);
  throw new AgentError(
    AgentErrorCode.Unavailable,
    `No agent answered at "${paths.socket}" within ${timeoutMs} ms` +
      (holder === undefined ? "" : ` (pidfile names pid ${holder})`) +
      `: ${last.message}` +
      (tail === "" ? "" : `; last lines of "${paths.log}":\n${tail}`),
    { cause: last },
  );
}
