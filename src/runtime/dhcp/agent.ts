/**
 * The DHCP agent: one `worker_threads` worker per pod, each living in its pod's network namespace and serving
 * vmnet's DHCPv4, DHCPv6 and router advertisements on the pod's served devices only (see pod-worker.ts). The main
 * thread never leaves the root namespace. A worker that dies is restarted with exponential backoff, with the
 * configuration last given, and the error is reported through `onEvent` and `status()`.
 */
import type { ResourceLimits, Worker } from "node:worker_threads";
import { startNetnsWorker } from "../../host/netns-worker.ts";
import { type DhcpInterfacePlan, type ServedInterface, servedInterfaces, validateServed } from "./config.ts";
import type { PodStats, PodWorkerData, WorkerEvent, WorkerRequest, WorkerResponse } from "./messages.ts";

/** Restart backoff: `initialMs` doubled per consecutive failure up to `maxMs`; a worker up `resetAfterMs` resets it. */
export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly resetAfterMs: number;
}

/** Default restart backoff. */
export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 30_000, resetAfterMs: 60_000 };

/**
 * Default heap limits of a pod worker. Measured on Node 20 (test/runtime/dhcp/memory.test.ts): a worker's heap holds
 * about 9 MiB when run through tsx; the limits bound what a misbehaving worker (e.g. a guest flooding DISCOVERs with
 * random MACs, which the DHCPv4 core records without bound) can take before V8 ends it and the agent restarts it.
 * Smaller limits did not lower the RSS measured per worker.
 */
export const DEFAULT_WORKER_LIMITS: ResourceLimits = {
  maxOldGenerationSizeMb: 24,
  maxYoungGenerationSizeMb: 2,
  codeRangeSizeMb: 8,
  stackSizeMb: 1,
};

/** What the agent reports through `onEvent`. */
export type DhcpAgentEvent =
  | { readonly kind: "ready"; readonly podId: string; readonly restarts: number }
  | { readonly kind: "exited"; readonly podId: string; readonly error: Error; readonly restartInMs: number }
  | { readonly kind: "warning"; readonly podId: string; readonly message: string; readonly ifname?: string };

/** Options of {@link DhcpAgent}. */
export interface DhcpAgentOptions {
  readonly onEvent?: (event: DhcpAgentEvent) => void;
  readonly backoff?: BackoffOptions;
  readonly resourceLimits?: ResourceLimits;
  /** The worker module; defaults to pod-worker.ts beside this file (a compiled deployment passes its .js). */
  readonly workerModule?: URL;
  /** How long a worker may take to open its sockets, and to answer a request. Default 30 s. */
  readonly timeoutMs?: number;
  /** Workers starting at once; each start compiles and loads modules, so a burst of pods queues. Default 2. */
  readonly startConcurrency?: number;
}

/**
 * libuv's thread pool size for this process. Each open ICMPv6 socket of the netns-worker shim keeps one pool thread
 * in a blocking read, so more advertising devices than pool threads starve every fs and dns call of the process.
 */
export function threadPoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number.parseInt(env.UV_THREADPOOL_SIZE ?? "", 10);
  return Number.isInteger(n) && n > 0 ? Math.min(n, 1024) : 4;
}

/** The agent's view of one pod. */
export const PodState = { Starting: "starting", Running: "running", Backoff: "backoff", Stopping: "stopping" } as const;
export type PodState = (typeof PodState)[keyof typeof PodState];

/** `status()` of one pod. */
export interface DhcpPodStatus {
  readonly state: PodState;
  readonly netns: string;
  /** Restarts since `start()`. */
  readonly restarts: number;
  /** The error that ended the last worker, if one died. */
  readonly lastError?: string;
  readonly interfaces: readonly string[];
}

/** Stats of one pod: the worker's counters plus the agent's restart record. */
export interface DhcpPodStats extends PodStats {
  readonly restarts: number;
  readonly lastError?: string;
}

/** The agent's own errors: a pod it does not serve, a pod served twice, a worker not answering. */
export class DhcpAgentError extends Error {
  override readonly name = "DhcpAgentError";
}

interface Pending {
  readonly resolve: (value: PodStats | undefined) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

interface Pod {
  readonly podId: string;
  readonly netns: string;
  served: readonly ServedInterface[];
  state: PodState;
  worker: Worker | undefined;
  ready: boolean;
  readyAt: number;
  restarts: number;
  failures: number;
  lastError: string | undefined;
  restartTimer: NodeJS.Timeout | undefined;
  seq: number;
  readonly pending: Map<number, Pending>;
}

const DEFAULT_WORKER = new URL("./pod-worker.ts", import.meta.url);
const STOP_TIMEOUT_MS = 5000;

/** Serves DHCPv4, DHCPv6 and RA for many pods from one process, one worker per pod. */
export class DhcpAgent {
  readonly #pods = new Map<string, Pod>();
  readonly #options: DhcpAgentOptions;
  readonly #backoff: BackoffOptions;
  readonly #timeoutMs: number;
  readonly #startConcurrency: number;
  #starting = 0;
  readonly #startQueue: (() => void)[] = [];
  #warnedThreadPool = false;

  constructor(options: DhcpAgentOptions = {}) {
    this.#options = options;
    this.#backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#startConcurrency = Math.max(1, options.startConcurrency ?? 2);
  }

  /**
   * Starts serving `interfaces` (their dhcpv4/dhcpv6/ra plans) inside `netns`. Resolves once every socket is open;
   * rejects on a bad configuration (before any worker starts) or when the first worker fails, and then forgets the
   * pod. Later failures restart the worker with backoff.
   */
  async start(podId: string, netns: string, interfaces: readonly DhcpInterfacePlan[]): Promise<void> {
    if (this.#pods.has(podId)) throw new DhcpAgentError(`Cannot start DHCP for pod "${podId}": it is already served`);
    const served = this.#served(interfaces);
    const pod: Pod = {
      podId,
      netns,
      served,
      state: PodState.Starting,
      worker: undefined,
      ready: false,
      readyAt: 0,
      restarts: 0,
      failures: 0,
      lastError: undefined,
      restartTimer: undefined,
      seq: 0,
      pending: new Map(),
    };
    this.#pods.set(podId, pod);
    try {
      await this.#spawn(pod);
    } catch (e) {
      this.#pods.delete(podId);
      pod.state = PodState.Stopping;
      await pod.worker?.terminate();
      throw e;
    }
  }

  /**
   * Serves `interfaces` instead: devices no longer planned are closed (after a final RA), new ones opened, the rest
   * updated in place (DHCPv4 leases kept). While the worker is restarting, the configuration waits for the restart.
   */
  async reconfigure(podId: string, interfaces: readonly DhcpInterfacePlan[]): Promise<void> {
    const pod = this.#pod(podId);
    const served = this.#served(interfaces);
    pod.served = served;
    if (pod.state === PodState.Running) await this.#request(pod, { op: "reconfigure", interfaces: served });
  }

  /** Stops the pod's servers (final RAs, sockets closed) and its worker. */
  async stop(podId: string): Promise<void> {
    const pod = this.#pod(podId);
    this.#pods.delete(podId);
    const wasRunning = pod.state === PodState.Running;
    pod.state = PodState.Stopping;
    clearTimeout(pod.restartTimer);
    try {
      // Final RAs and closing the ICMPv6 socket take one read timeout (200 ms); a stuck worker is terminated anyway.
      if (wasRunning) await this.#request(pod, { op: "stop" }, Math.min(this.#timeoutMs, STOP_TIMEOUT_MS));
    } finally {
      await pod.worker?.terminate();
      pod.worker = undefined;
      this.#rejectPending(pod, new DhcpAgentError(`DHCP for pod "${podId}" was stopped`));
    }
  }

  /** Stops every pod; reports the first failure after trying all. */
  async stopAll(): Promise<void> {
    const results = await Promise.allSettled([...this.#pods.keys()].map((id) => this.stop(id)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  /** The pod's counters, per device and per server, with every drop reason. Rejects while the worker is down. */
  async stats(podId: string): Promise<DhcpPodStats> {
    const pod = this.#pod(podId);
    if (pod.state !== PodState.Running) {
      throw new DhcpAgentError(
        `Cannot read DHCP stats of pod "${podId}": its worker is ${pod.state}` +
          (pod.lastError === undefined ? "" : ` after "${pod.lastError}"`),
      );
    }
    const value = await this.#request(pod, { op: "stats" });
    if (value === undefined) throw new DhcpAgentError(`DHCP worker of pod "${podId}" returned no stats`);
    return { ...value, restarts: pod.restarts, ...(pod.lastError === undefined ? {} : { lastError: pod.lastError }) };
  }

  /** The agent's record of a pod, or undefined when it is not served. */
  status(podId: string): DhcpPodStatus | undefined {
    const pod = this.#pods.get(podId);
    if (pod === undefined) return undefined;
    return {
      state: pod.state,
      netns: pod.netns,
      restarts: pod.restarts,
      ...(pod.lastError === undefined ? {} : { lastError: pod.lastError }),
      interfaces: pod.served.map((s) => s.ifname),
    };
  }

  /** The ids of the pods served. */
  pods(): string[] {
    return [...this.#pods.keys()];
  }

  #served(interfaces: readonly DhcpInterfacePlan[]): ServedInterface[] {
    const served = servedInterfaces(interfaces);
    validateServed(served);
    return served;
  }

  #pod(podId: string): Pod {
    const pod = this.#pods.get(podId);
    if (pod === undefined) throw new DhcpAgentError(`Cannot find DHCP for pod "${podId}": it is not served`);
    return pod;
  }

  #emit(event: DhcpAgentEvent): void {
    try {
      this.#options.onEvent?.(event);
    } catch {
      // A throwing listener must not break restarts.
    }
  }

  /** {@link #launch} once a start slot is free, so a burst of pods does not time out on a busy machine. */
  async #spawn(pod: Pod): Promise<void> {
    if (this.#starting >= this.#startConcurrency) {
      await new Promise<void>((resolve) => this.#startQueue.push(resolve));
    }
    this.#starting += 1;
    try {
      if (this.#pods.get(pod.podId) !== pod || pod.state === PodState.Stopping) {
        throw new DhcpAgentError(`DHCP for pod "${pod.podId}" was stopped before its worker started`);
      }
      this.#checkThreadPool(pod);
      await this.#launch(pod);
    } finally {
      this.#starting -= 1;
      this.#startQueue.shift()?.();
    }
  }

  /** Warns once when the advertising devices would hold every libuv pool thread (see {@link threadPoolSize}). */
  #checkThreadPool(pod: Pod): void {
    if (this.#warnedThreadPool) return;
    let advertising = 0;
    for (const p of this.#pods.values()) advertising += p.served.filter((s) => s.ra !== undefined).length;
    const size = threadPoolSize();
    if (advertising < size) return;
    this.#warnedThreadPool = true;
    this.#emit({
      kind: "warning",
      podId: pod.podId,
      message: `${advertising} devices send router advertisements but UV_THREADPOOL_SIZE is ${size}: each holds a pool thread, so file and DNS calls of this process stall; start the agent with UV_THREADPOOL_SIZE above the number of advertising devices`,
    });
  }

  /** Starts a worker with the pod's current configuration; resolves when it is ready, rejects if it dies first. */
  #launch(pod: Pod): Promise<void> {
    const launchedWith = pod.served;
    const data: PodWorkerData = { podId: pod.podId, interfaces: launchedWith };
    const worker = startNetnsWorker(pod.netns, this.#options.workerModule ?? DEFAULT_WORKER, data, {
      resourceLimits: this.#options.resourceLimits ?? DEFAULT_WORKER_LIMITS,
    });
    pod.worker = worker;
    pod.ready = false;
    let failure: Error | undefined;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        failure = new DhcpAgentError(`DHCP worker of pod "${pod.podId}" did not start within ${this.#timeoutMs} ms`);
        void worker.terminate();
      }, this.#timeoutMs);
      worker.on("message", (m: WorkerEvent | WorkerResponse) => {
        if ("event" in m) {
          if (m.event === "ready") {
            clearTimeout(timer);
            pod.ready = true;
            pod.readyAt = Date.now();
            if (pod.state === PodState.Starting) pod.state = PodState.Running;
            this.#emit({ kind: "ready", podId: pod.podId, restarts: pod.restarts });
            // reconfigure() while this worker was starting: it opened the older configuration.
            if (pod.served !== launchedWith && pod.state === PodState.Running) {
              this.#request(pod, { op: "reconfigure", interfaces: pod.served }).catch((e: unknown) =>
                this.#emit({ kind: "warning", podId: pod.podId, message: String(e) }),
              );
            }
            resolve();
          } else {
            this.#emit({
              kind: "warning",
              podId: pod.podId,
              message: m.message,
              ...(m.ifname === undefined ? {} : { ifname: m.ifname }),
            });
          }
          return;
        }
        const p = pod.pending.get(m.seq);
        if (p === undefined) return;
        pod.pending.delete(m.seq);
        clearTimeout(p.timer);
        if (m.ok) p.resolve(m.value);
        else p.reject(new DhcpAgentError(`DHCP worker of pod "${pod.podId}" failed: ${m.error}`));
      });
      worker.on("error", (e) => {
        failure ??= e;
      });
      worker.on("exit", (code) => {
        clearTimeout(timer);
        if (pod.worker !== worker) return;
        pod.worker = undefined;
        const error = failure ?? new DhcpAgentError(`DHCP worker of pod "${pod.podId}" exited with code ${code}`);
        this.#rejectPending(pod, error);
        if (!pod.ready) reject(error);
        if (pod.state === PodState.Stopping || !this.#pods.has(pod.podId)) return;
        // A failure before the first ready belongs to start(), which rejects and forgets the pod.
        if (pod.readyAt === 0) return;
        this.#scheduleRestart(pod, error);
      });
    });
  }

  #scheduleRestart(pod: Pod, error: Error): void {
    const upFor = pod.ready ? Date.now() - pod.readyAt : 0;
    if (upFor >= this.#backoff.resetAfterMs) pod.failures = 0;
    const delay = Math.min(this.#backoff.maxMs, this.#backoff.initialMs * 2 ** pod.failures);
    pod.failures += 1;
    pod.lastError = error.message;
    pod.state = PodState.Backoff;
    pod.ready = false;
    this.#emit({ kind: "exited", podId: pod.podId, error, restartInMs: delay });
    pod.restartTimer = setTimeout(() => {
      pod.restartTimer = undefined;
      if (this.#pods.get(pod.podId) !== pod || pod.state !== PodState.Backoff) return;
      pod.state = PodState.Starting;
      pod.restarts += 1;
      // A failed restart lands in the exit handler again, which schedules the next attempt.
      this.#spawn(pod).catch(() => undefined);
    }, delay);
  }

  #request(
    pod: Pod,
    body: { op: "reconfigure"; interfaces: readonly ServedInterface[] } | { op: "stats" } | { op: "stop" },
    timeoutMs = this.#timeoutMs,
  ) {
    const worker = pod.worker;
    if (worker === undefined) {
      return Promise.reject(new DhcpAgentError(`DHCP worker of pod "${pod.podId}" is not running`));
    }
    pod.seq += 1;
    const seq = pod.seq;
    const request = { seq, ...body } as WorkerRequest;
    return new Promise<PodStats | undefined>((resolve, reject) => {
      const timer = setTimeout(() => {
        pod.pending.delete(seq);
        reject(
          new DhcpAgentError(`DHCP worker of pod "${pod.podId}" did not answer "${body.op}" within ${timeoutMs} ms`),
        );
      }, timeoutMs);
      pod.pending.set(seq, { resolve, reject, timer });
      worker.postMessage(request);
    });
  }

  #rejectPending(pod: Pod, error: Error): void {
    for (const p of pod.pending.values()) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    pod.pending.clear();
  }
}
