/**
 * The long-lived `vmnet agent`: one {@link DhcpAgent} (every pod served from this process's one thread) behind a
 * control socket. Every other vmnet command is a short process; this one keeps the DHCP/RA servers of all the host's
 * pods running after they exit.
 *
 * - One agent per state directory: `agent.pid` is flock-ed for the agent's lifetime (see lock.ts).
 * - `agent-pods.json` records what is served; an agent started again (crash, upgrade) re-adopts those pods at once,
 *   retrying with backoff while a pod's namespace exists, and dropping pods whose namespace is gone.
 * - Requests on one pod run one after the other; requests on different pods run concurrently.
 * - SIGTERM, SIGINT and `shutdown` stop every pod's servers (final RAs) and remove the socket and pidfile; the
 *   record stays, so the next agent serves the same pods.
 */
import { existsSync } from "node:fs";
import { chmod, mkdir, rename, rm } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { assertNetnsName } from "../host/exec.ts";
import { netnsPath } from "../host/netns.ts";
import { DhcpAgent, type DhcpAgentEvent, type DhcpAgentOptions, type DhcpPodStats } from "../runtime/dhcp/agent.ts";
import type { DhcpInterfacePlan } from "../runtime/dhcp/config.ts";
import { acquirePidLock, type PidLock } from "./lock.ts";
import { type AgentPaths, agentPaths } from "./paths.ts";
import {
  AgentError,
  AgentErrorCode,
  AgentMethod,
  type AgentRequest,
  type AgentResponse,
  decodeInterfaces,
  decodeRequest,
  encodeResponse,
  MAX_LINE_BYTES,
  PROTOCOL_VERSION,
  readLines,
  requestIdOf,
  stringParam,
  toWireError,
} from "./protocol.ts";
import { RecordError, type RecordedPod, readRecord, writeRecord } from "./record.ts";

/** Backoff of re-adopting a recorded pod whose first start failed: `initialMs` doubled per failure up to `maxMs`. */
export interface AdoptBackoff {
  readonly initialMs: number;
  readonly maxMs: number;
}

/** Options of {@link runAgent}. */
export interface RunAgentOptions {
  readonly stateDir: string;
  /** Receives one line per event; default: stderr with a timestamp (the spawned agent's stderr is agent.log). */
  readonly log?: (line: string) => void;
  /** Options of the DHCP agent (retry backoff, `onOpened`); `onEvent` is the server's own. */
  readonly dhcp?: Omit<DhcpAgentOptions, "onEvent">;
  /** Whether SIGTERM and SIGINT shut the agent down. Default true. */
  readonly handleSignals?: boolean;
  readonly adoptBackoff?: AdoptBackoff;
}

/** A running agent. */
export interface RunningAgent {
  readonly paths: AgentPaths;
  /** Resolves once the agent has shut down (pods' servers stopped, socket and pidfile removed). */
  readonly closed: Promise<void>;
  /** Shuts the agent down; the same promise for every call. */
  shutdown(reason: string): Promise<void>;
}

/** What `ping` answers. */
export interface PingResult {
  readonly pid: number;
  readonly version: number;
}

/** One pod in `status`: the DHCP agent's view, or `adopting` while a recorded pod waits to be served again. */
export interface AgentPodStatus {
  readonly podId: string;
  readonly netns: string;
  readonly state: string;
  readonly restarts: number;
  readonly lastError?: string;
  readonly interfaces: readonly string[];
}

/** What `status` answers. */
export interface AgentStatus {
  readonly pid: number;
  readonly version: number;
  readonly stateDir: string;
  readonly uptimeMs: number;
  readonly pods: readonly AgentPodStatus[];
}

/** State value of a recorded pod the agent has not served again yet. */
export const ADOPTING = "adopting";

const DEFAULT_ADOPT_BACKOFF: AdoptBackoff = { initialMs: 1000, maxMs: 30_000 };

interface Adoption {
  timer: NodeJS.Timeout | undefined;
  attempts: number;
  lastError: string | undefined;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function defaultLog(line: string): void {
  process.stderr.write(`${new Date().toISOString()} ${line}\n`);
}

function sameConfig(a: RecordedPod, netns: string, interfaces: readonly DhcpInterfacePlan[]): boolean {
  return a.netns === netns && JSON.stringify(a.interfaces) === JSON.stringify(interfaces);
}

class AgentServer {
  readonly paths: AgentPaths;
  readonly #lock: PidLock;
  readonly #log: (line: string) => void;
  readonly #dhcp: DhcpAgent;
  readonly #backoff: AdoptBackoff;
  readonly #startedAt = Date.now();
  readonly #record = new Map<string, RecordedPod>();
  readonly #adopting = new Map<string, Adoption>();
  readonly #queues = new Map<string, Promise<unknown>>();
  readonly #connections = new Set<Socket>();
  readonly #server: Server;
  #recordWrite: Promise<void> = Promise.resolve();
  #shutdown: Promise<void> | undefined;
  #signals: (() => void) | undefined;
  readonly closed: Promise<void>;
  #resolveClosed: () => void = () => undefined;

  constructor(paths: AgentPaths, lock: PidLock, options: RunAgentOptions) {
    this.paths = paths;
    this.#lock = lock;
    this.#log = options.log ?? defaultLog;
    this.#backoff = options.adoptBackoff ?? DEFAULT_ADOPT_BACKOFF;
    this.#dhcp = new DhcpAgent({ ...options.dhcp, onEvent: (e) => this.#onDhcpEvent(e) });
    this.#server = createServer((socket) => this.#onConnection(socket));
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  async listen(): Promise<void> {
    await rm(this.paths.socket, { force: true });
    // The socket is created with the process umask; 0177 keeps it private from the start, chmod makes sure of it.
    const umask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        this.#server.once("error", reject);
        this.#server.listen(this.paths.socket, () => {
          this.#server.off("error", reject);
          resolve();
        });
      });
    } finally {
      process.umask(umask);
    }
    await chmod(this.paths.socket, 0o600);
    this.#server.on("error", (e) => this.#log(`control socket error: ${message(e)}`));
  }

  handleSignals(): void {
    const onSignal = (signal: NodeJS.Signals) => {
      void this.shutdown(`received ${signal}`);
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
    this.#signals = () => {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
    };
  }

  /** Reads the record and starts serving every pod in it again. */
  async adoptRecorded(): Promise<void> {
    let pods: RecordedPod[];
    try {
      pods = await readRecord(this.paths.record);
    } catch (e) {
      if (!(e instanceof RecordError)) throw e;
      const aside = `${this.paths.record}.unreadable-${Date.now()}`;
      await rename(this.paths.record, aside).catch(() => undefined);
      this.#log(`${e.message}; moved to "${aside}", serving no pods`);
      return;
    }
    let dropped = false;
    for (const pod of pods) {
      try {
        assertNetnsName(pod.netns);
      } catch (e) {
        this.#log(`pod "${pod.podId}": ${message(e)}, dropped from the record`);
        dropped = true;
        continue;
      }
      this.#record.set(pod.podId, pod);
      this.#adopting.set(pod.podId, { timer: undefined, attempts: 0, lastError: undefined });
      this.#log(`re-adopting pod "${pod.podId}" (netns "${pod.netns}")`);
      void this.#adopt(pod.podId);
    }
    if (dropped) await this.#save();
  }

  #onDhcpEvent(e: DhcpAgentEvent): void {
    switch (e.kind) {
      case "ready":
        this.#log(`pod "${e.podId}": serving, sockets open (restarts ${e.restarts})`);
        break;
      case "exited":
        this.#log(`pod "${e.podId}": servers failed (${e.error.message}), reopening in ${e.restartInMs} ms`);
        break;
      case "warning":
        this.#log(`pod "${e.podId}"${e.ifname === undefined ? "" : ` on "${e.ifname}"`}: ${e.message}`);
        break;
    }
  }

  /** Runs `fn` after every earlier operation on `podId` settled. */
  #serial<T>(podId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(podId) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.#queues.set(podId, tail);
    void tail.then(() => {
      if (this.#queues.get(podId) === tail) this.#queues.delete(podId);
    });
    return next;
  }

  /** Writes the record as it is now; writes happen in call order, so the last one holds the latest state. */
  #save(): Promise<void> {
    const pods = [...this.#record.values()];
    const write = this.#recordWrite.catch(() => undefined).then(() => writeRecord(this.paths.record, pods));
    this.#recordWrite = write;
    return write.catch((e: unknown) => this.#log(`cannot write pod record: ${message(e)}`));
  }

  /** One adoption attempt; never rejects (it runs from timers), failures schedule the next attempt. */
  #adopt(podId: string): Promise<void> {
    const attempt = this.#serial(podId, async () => {
      const adoption = this.#adopting.get(podId);
      const pod = this.#record.get(podId);
      if (adoption === undefined || pod === undefined || this.#shutdown !== undefined) return;
      adoption.timer = undefined;
      if (!existsSync(netnsPath(pod.netns))) {
        this.#adopting.delete(podId);
        this.#record.delete(podId);
        this.#log(`pod "${podId}": netns "${pod.netns}" is gone, dropped from the record`);
        await this.#save();
        return;
      }
      try {
        await this.#dhcp.start(podId, pod.netns, pod.interfaces);
        this.#adopting.delete(podId);
        this.#log(`pod "${podId}": serving again`);
      } catch (e) {
        adoption.lastError = message(e);
        const delay = Math.min(this.#backoff.maxMs, this.#backoff.initialMs * 2 ** adoption.attempts);
        adoption.attempts += 1;
        this.#log(`pod "${podId}": cannot serve it again (${adoption.lastError}), retry in ${delay} ms`);
        adoption.timer = setTimeout(() => void this.#adopt(podId), delay);
      }
    });
    return attempt.catch((e: unknown) => this.#log(`pod "${podId}": adoption failed: ${message(e)}`));
  }

  #cancelAdoption(podId: string): boolean {
    const adoption = this.#adopting.get(podId);
    if (adoption === undefined) return false;
    clearTimeout(adoption.timer);
    this.#adopting.delete(podId);
    return true;
  }

  #checkOpen(method: string): void {
    if (this.#shutdown !== undefined) {
      throw new AgentError(AgentErrorCode.ShuttingDown, `Cannot serve "${method}": the agent is shutting down`);
    }
  }

  #onConnection(socket: Socket): void {
    this.#connections.add(socket);
    readLines(
      socket,
      (line) => void this.#handle(socket, line),
      () => {
        const error = new AgentError(
          AgentErrorCode.BadRequest,
          `Cannot read a request longer than ${MAX_LINE_BYTES} bytes`,
        );
        this.#reply(socket, { id: null, error: toWireError(error) });
        socket.end();
      },
    );
    socket.on("error", () => undefined);
    socket.on("close", () => this.#connections.delete(socket));
  }

  #reply(socket: Socket, response: AgentResponse): void {
    if (!socket.destroyed && socket.writable) socket.write(encodeResponse(response));
  }

  async #handle(socket: Socket, line: string): Promise<void> {
    let request: AgentRequest;
    try {
      request = decodeRequest(line);
    } catch (e) {
      this.#reply(socket, { id: requestIdOf(line), error: toWireError(e) });
      return;
    }
    try {
      const result = await this.#dispatch(request);
      this.#reply(socket, { id: request.id, result: result ?? null });
    } catch (e) {
      if (!(e instanceof AgentError)) this.#log(`"${request.method}" failed: ${message(e)}`);
      this.#reply(socket, { id: request.id, error: toWireError(e) });
    }
    if (request.method === AgentMethod.Shutdown) void this.shutdown("asked by a client");
  }

  #dispatch(request: AgentRequest): Promise<unknown> {
    const { method, params } = request;
    switch (method) {
      case AgentMethod.Ping:
        return Promise.resolve({ pid: process.pid, version: PROTOCOL_VERSION } satisfies PingResult);
      case AgentMethod.Status:
        return Promise.resolve(this.#status());
      case AgentMethod.Start: {
        const podId = stringParam(params, "podId", method);
        const netns = stringParam(params, "netns", method);
        try {
          assertNetnsName(netns);
        } catch (e) {
          throw new AgentError(AgentErrorCode.BadRequest, `Cannot serve "start": ${message(e)}`);
        }
        return this.#start(podId, netns, decodeInterfaces(params.interfaces));
      }
      case AgentMethod.Stop:
        return this.#stop(stringParam(params, "podId", method));
      case AgentMethod.Reconfigure:
        return this.#reconfigure(stringParam(params, "podId", method), decodeInterfaces(params.interfaces));
      case AgentMethod.Stats:
        return this.#stats(stringParam(params, "podId", method));
      case AgentMethod.Shutdown:
        this.#checkOpen(method);
        return Promise.resolve({ pid: process.pid });
    }
  }

  #status(): AgentStatus {
    const pods: AgentPodStatus[] = [];
    for (const [podId, recorded] of this.#record) {
      const adoption = this.#adopting.get(podId);
      const s = this.#dhcp.status(podId);
      if (s !== undefined) {
        pods.push({ podId, ...s });
      } else if (adoption !== undefined) {
        pods.push({
          podId,
          netns: recorded.netns,
          state: ADOPTING,
          restarts: 0,
          ...(adoption.lastError === undefined ? {} : { lastError: adoption.lastError }),
          interfaces: [],
        });
      }
    }
    return {
      pid: process.pid,
      version: PROTOCOL_VERSION,
      stateDir: this.paths.stateDir,
      uptimeMs: Date.now() - this.#startedAt,
      pods,
    };
  }

  #start(podId: string, netns: string, interfaces: readonly DhcpInterfacePlan[]): Promise<{ started: boolean }> {
    return this.#serial(podId, async () => {
      this.#checkOpen("start");
      const recorded = this.#record.get(podId);
      const wasAdopting = this.#cancelAdoption(podId);
      if (!wasAdopting && this.#dhcp.status(podId) !== undefined) {
        // A repeated start (a retried CLI command, or one after the agent re-adopted the pod) is not an error.
        if (recorded !== undefined && sameConfig(recorded, netns, interfaces)) return { started: false };
        throw new AgentError(
          AgentErrorCode.AlreadyServed,
          `Cannot start DHCP for pod "${podId}": it is already served with another configuration`,
        );
      }
      try {
        await this.#dhcp.start(podId, netns, interfaces);
      } catch (e) {
        if (this.#record.delete(podId)) await this.#save();
        throw new AgentError(AgentErrorCode.Failed, message(e), { cause: e });
      }
      this.#record.set(podId, { podId, netns, interfaces });
      await this.#save();
      this.#log(`pod "${podId}": serving (netns "${netns}")`);
      return { started: true };
    });
  }

  #stop(podId: string): Promise<{ stopped: true }> {
    return this.#serial(podId, async () => {
      this.#checkOpen("stop");
      if (this.#cancelAdoption(podId)) {
        this.#record.delete(podId);
        await this.#save();
        return { stopped: true };
      }
      if (this.#dhcp.status(podId) === undefined) {
        throw new AgentError(AgentErrorCode.NotServed, `Cannot stop DHCP for pod "${podId}": it is not served`);
      }
      try {
        await this.#dhcp.stop(podId);
      } catch (e) {
        throw new AgentError(AgentErrorCode.Failed, message(e), { cause: e });
      } finally {
        // The DHCP agent forgets the pod even when its servers did not close cleanly: so does the record.
        this.#record.delete(podId);
        await this.#save();
        this.#log(`pod "${podId}": stopped`);
      }
      return { stopped: true };
    });
  }

  #reconfigure(podId: string, interfaces: readonly DhcpInterfacePlan[]): Promise<{ reconfigured: true }> {
    return this.#serial(podId, async () => {
      this.#checkOpen("reconfigure");
      const recorded = this.#record.get(podId);
      if (recorded === undefined) {
        throw new AgentError(AgentErrorCode.NotServed, `Cannot reconfigure DHCP for pod "${podId}": it is not served`);
      }
      if (!this.#adopting.has(podId)) {
        try {
          await this.#dhcp.reconfigure(podId, interfaces);
        } catch (e) {
          throw new AgentError(AgentErrorCode.Failed, message(e), { cause: e });
        }
      }
      this.#record.set(podId, { ...recorded, interfaces });
      await this.#save();
      return { reconfigured: true };
    });
  }

  async #stats(podId: string): Promise<DhcpPodStats> {
    if (this.#dhcp.status(podId) === undefined) {
      const adopting = this.#adopting.has(podId) ? " yet (being re-adopted)" : "";
      throw new AgentError(
        AgentErrorCode.NotServed,
        `Cannot read DHCP stats of pod "${podId}": it is not served${adopting}`,
      );
    }
    try {
      return await this.#dhcp.stats(podId);
    } catch (e) {
      throw new AgentError(AgentErrorCode.Failed, message(e), { cause: e });
    }
  }

  shutdown(reason: string): Promise<void> {
    this.#shutdown ??= this.#close(reason);
    return this.#shutdown;
  }

  async #close(reason: string): Promise<void> {
    this.#log(`shutting down: ${reason}`);
    for (const podId of [...this.#adopting.keys()]) clearTimeout(this.#adopting.get(podId)?.timer);
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    try {
      // Let operations in flight finish (a start waits for the pod's sockets), so the record says what was served.
      await Promise.allSettled([...this.#queues.values()]);
      await this.#dhcp.stopAll().catch((e: unknown) => this.#log(`stopping pods: ${message(e)}`));
      await this.#recordWrite.catch(() => undefined);
    } finally {
      await rm(this.paths.socket, { force: true }).catch(() => undefined);
      this.#lock.release();
      this.#signals?.();
      for (const socket of this.#connections) socket.destroy();
      await closed;
      this.#log("shut down");
      this.#resolveClosed();
    }
  }
}

/**
 * Runs the agent of `options.stateDir`: takes the pidfile lock, listens on `agent.sock`, re-adopts the recorded pods.
 * Throws an {@link AgentError} with code `locked` when another agent serves the directory.
 */
export async function runAgent(options: RunAgentOptions): Promise<RunningAgent> {
  const paths = agentPaths(options.stateDir);
  await mkdir(paths.stateDir, { recursive: true, mode: 0o700 });
  const result = acquirePidLock(paths.pidfile);
  if (!result.acquired) {
    const holder = result.holder === undefined ? "another agent" : `agent pid ${result.holder}`;
    throw new AgentError(AgentErrorCode.Locked, `Cannot run the agent: ${holder} serves "${paths.stateDir}"`);
  }
  const server = new AgentServer(paths, result.lock, options);
  const log = options.log ?? defaultLog;
  try {
    await server.listen();
  } catch (e) {
    result.lock.release();
    throw e;
  }
  log(`agent pid ${process.pid} serving "${paths.socket}"`);
  if (options.handleSignals ?? true) server.handleSignals();
  try {
    await server.adoptRecorded();
  } catch (e) {
    await server.shutdown(`cannot read the pod record: ${message(e)}`);
    throw e;
  }
  return { paths, closed: server.closed, shutdown: (reason) => server.shutdown(reason) };
}
