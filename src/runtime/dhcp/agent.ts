/**
 * The DHCP agent: serves vmnet's DHCPv4, DHCPv6 and router advertisements for every pod from ONE thread, the caller's.
 * Each pod's sockets are made inside the pod's network namespace by a synchronous setns(2) hop that always returns
 * the thread to its own namespace (src/host/netns-sockets.ts), then served from the shared event loop (see
 * pod-server.ts). A pod costs its sockets, timers and protocol state, not a thread with its own V8 isolate.
 *
 * Failures stay per pod: a pod whose sockets fail (a throwing handler, a socket that cannot be reopened) is closed and
 * reopened with exponential backoff and the configuration last given, reported through `onEvent` and `status()`,
 * while every other pod keeps serving.
 */
import { inNetns } from "../../host/netns-sockets.ts";
import { type DhcpInterfacePlan, type ServedInterface, servedInterfaces, validateServed } from "./config.ts";
import type { PodStats } from "./messages.ts";
import { PodServer } from "./pod-server.ts";

/** Retry backoff: `initialMs` doubled per consecutive failure up to `maxMs`; a pod up `resetAfterMs` resets it. */
export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly resetAfterMs: number;
}

/** Default retry backoff. */
export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 30_000, resetAfterMs: 60_000 };

/** What the agent reports through `onEvent`. `exited`: the pod's servers failed and reopen in `restartInMs`. */
export type DhcpAgentEvent =
  | { readonly kind: "ready"; readonly podId: string; readonly restarts: number }
  | { readonly kind: "exited"; readonly podId: string; readonly error: Error; readonly restartInMs: number }
  | { readonly kind: "warning"; readonly podId: string; readonly message: string; readonly ifname?: string };

/** Options of {@link DhcpAgent}. */
export interface DhcpAgentOptions {
  readonly onEvent?: (event: DhcpAgentEvent) => void;
  readonly backoff?: BackoffOptions;
  /**
   * Called each time a pod's sockets are open (at start and after every retry) with that pod's failure entry point,
   * the one a throwing handler or socket reaches: lets a supervisor (or a test) fail one pod on purpose.
   */
  readonly onOpened?: (podId: string, fail: (error: Error) => void) => void;
}

/** The agent's view of one pod. */
export const PodState = { Starting: "starting", Running: "running", Backoff: "backoff", Stopping: "stopping" } as const;
export type PodState = (typeof PodState)[keyof typeof PodState];

/** `status()` of one pod. */
export interface DhcpPodStatus {
  readonly state: PodState;
  readonly netns: string;
  /** Reopenings after a failure since `start()`. */
  readonly restarts: number;
  /** The error that closed the pod's servers last, if one did. */
  readonly lastError?: string;
  readonly interfaces: readonly string[];
}

/** Stats of one pod: its servers' counters plus the agent's retry record. */
export interface DhcpPodStats extends PodStats {
  readonly restarts: number;
  readonly lastError?: string;
}

/** The agent's own errors: a pod it does not serve, a pod served twice, a pod not running. */
export class DhcpAgentError extends Error {
  override readonly name = "DhcpAgentError";
}

interface Pod {
  readonly podId: string;
  readonly netns: string;
  served: readonly ServedInterface[];
  state: PodState;
  server: PodServer | undefined;
  upSince: number;
  restarts: number;
  failures: number;
  lastError: string | undefined;
  retryTimer: NodeJS.Timeout | undefined;
  /** Socket changes of this pod, one after the other (apply and close await final advertisements). */
  chain: Promise<unknown>;
}

/** Serves DHCPv4, DHCPv6 and RA for many pods from the calling thread. */
export class DhcpAgent {
  readonly #pods = new Map<string, Pod>();
  readonly #options: DhcpAgentOptions;
  readonly #backoff: BackoffOptions;

  constructor(options: DhcpAgentOptions = {}) {
    this.#options = options;
    this.#backoff = options.backoff ?? DEFAULT_BACKOFF;
  }

  /**
   * Starts serving `interfaces` (their dhcpv4/dhcpv6/ra plans) inside `netns`. Resolves once every socket is open;
   * rejects on a bad configuration (before any socket is made), a missing namespace or a socket that cannot be opened
   * (e.g. the device is missing), and then forgets the pod. Later failures are retried with backoff.
   */
  async start(podId: string, netns: string, interfaces: readonly DhcpInterfacePlan[]): Promise<void> {
    if (this.#pods.has(podId)) throw new DhcpAgentError(`Cannot start DHCP for pod "${podId}": it is already served`);
    const served = this.#served(interfaces);
    const pod: Pod = {
      podId,
      netns,
      served,
      state: PodState.Starting,
      server: undefined,
      upSince: 0,
      restarts: 0,
      failures: 0,
      lastError: undefined,
      retryTimer: undefined,
      chain: Promise.resolve(),
    };
    this.#pods.set(podId, pod);
    try {
      await this.#serial(pod, () => this.#open(pod));
    } catch (e) {
      if (this.#pods.get(podId) === pod) this.#pods.delete(podId);
      pod.state = PodState.Stopping;
      throw e;
    }
  }

  /**
   * Serves `interfaces` instead: devices no longer planned are closed (after a final RA), new ones opened, the rest
   * updated in place (DHCPv4 leases kept). While the pod is waiting to reopen, the configuration waits for it.
   */
  async reconfigure(podId: string, interfaces: readonly DhcpInterfacePlan[]): Promise<void> {
    const pod = this.#pod(podId);
    const served = this.#served(interfaces);
    pod.served = served;
    await this.#serial(pod, async () => {
      if (pod.state === PodState.Running && pod.server !== undefined) await pod.server.apply(served);
    });
  }

  /** Stops the pod's servers: final RAs, sockets closed. */
  async stop(podId: string): Promise<void> {
    const pod = this.#pod(podId);
    this.#pods.delete(podId);
    pod.state = PodState.Stopping;
    clearTimeout(pod.retryTimer);
    await this.#serial(pod, async () => {
      const server = pod.server;
      pod.server = undefined;
      await server?.close();
    });
  }

  /** Stops every pod; reports the first failure after trying all. */
  async stopAll(): Promise<void> {
    const results = await Promise.allSettled([...this.#pods.keys()].map((id) => this.stop(id)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  /** The pod's counters, per device and per server, with every drop reason. Rejects while its servers are down. */
  async stats(podId: string): Promise<DhcpPodStats> {
    const pod = this.#pod(podId);
    if (pod.state !== PodState.Running || pod.server === undefined) {
      throw new DhcpAgentError(
        `Cannot read DHCP stats of pod "${podId}": its servers are ${pod.state}` +
          (pod.lastError === undefined ? "" : ` after "${pod.lastError}"`),
      );
    }
    // A copy: the servers keep counting into the objects they hold.
    const value = structuredClone(pod.server.stats());
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
      // A throwing listener must not break retries.
    }
  }

  /** Runs `fn` after the pod's earlier socket changes settled. */
  #serial<T>(pod: Pod, fn: () => Promise<T>): Promise<T> {
    const next = pod.chain.then(fn, fn);
    pod.chain = next.catch(() => undefined);
    return next;
  }

  /** Opens the pod's sockets with its current configuration; on failure closes what was opened and rejects. */
  async #open(pod: Pod): Promise<void> {
    if (this.#pods.get(pod.podId) !== pod || pod.state === PodState.Stopping) {
      throw new DhcpAgentError(`DHCP for pod "${pod.podId}" was stopped before its sockets opened`);
    }
    // Entering the namespace once proves it exists even when no device is served.
    inNetns(pod.netns, () => undefined);
    const server: PodServer = new PodServer(pod.podId, pod.netns, {
      onWarning: (message, ifname) => this.#emit({ kind: "warning", podId: pod.podId, message, ifname }),
      onFailure: (error) => this.#fail(pod, server, error),
    });
    pod.server = server;
    try {
      await server.apply(pod.served);
    } catch (e) {
      pod.server = undefined;
      await server.close().catch(() => undefined);
      throw e;
    }
    pod.state = PodState.Running;
    pod.upSince = Date.now();
    this.#emit({ kind: "ready", podId: pod.podId, restarts: pod.restarts });
    this.#options.onOpened?.(pod.podId, (error) => this.#fail(pod, server, error));
  }

  /** A running pod failed: its sockets close and reopen after the backoff delay; other pods are not touched. */
  #fail(pod: Pod, server: PodServer, error: Error): void {
    if (pod.server !== server || pod.state !== PodState.Running || this.#pods.get(pod.podId) !== pod) return;
    pod.server = undefined;
    void this.#serial(pod, () => server.close()).catch((e: unknown) =>
      this.#emit({ kind: "warning", podId: pod.podId, message: `Closing after a failure: ${String(e)}` }),
    );
    this.#scheduleRetry(pod, error);
  }

  #scheduleRetry(pod: Pod, error: Error): void {
    const upFor = pod.upSince === 0 ? 0 : Date.now() - pod.upSince;
    if (upFor >= this.#backoff.resetAfterMs) pod.failures = 0;
    const delay = Math.min(this.#backoff.maxMs, this.#backoff.initialMs * 2 ** pod.failures);
    pod.failures += 1;
    pod.lastError = error.message;
    pod.state = PodState.Backoff;
    pod.upSince = 0;
    this.#emit({ kind: "exited", podId: pod.podId, error, restartInMs: delay });
    pod.retryTimer = setTimeout(() => {
      pod.retryTimer = undefined;
      if (this.#pods.get(pod.podId) !== pod || pod.state !== PodState.Backoff) return;
      pod.state = PodState.Starting;
      pod.restarts += 1;
      this.#serial(pod, () => this.#open(pod)).catch((e: unknown) => {
        if (this.#pods.get(pod.podId) !== pod || pod.state !== PodState.Starting) return;
        this.#scheduleRetry(pod, e instanceof Error ? e : new Error(String(e)));
      });
    }, delay);
  }
}
