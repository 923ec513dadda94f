/**
 * Wiring one pod end to end, in the order a virt-launcher would: discover the pod as CNI left it, plan, apply the plan,
 * start the plan's helper processes (passt, whose socket QEMU connects to), let the guest attach (the hypervisor, or the lab's tap relay, opens the planned taps), wait for what the DHCP/RA
 * agent needs, then start the agent for the pod's services. Unwiring runs the same steps backwards. A failure at any
 * step undoes the steps already done, so a failed `wirePod` leaves the pod as CNI made it.
 *
 * Why the guest attaches inside `wirePod`: the masquerade bridge's IPv6 link-local address (the RA source and the
 * guest's default router) appears only once a bridge port has carrier, and a tap has carrier only while a process
 * holds it open. Starting the agent before that works (the RA sender retries every second) but the first
 * advertisements would be lost; with an `attachGuest` hook the agent starts once the address exists.
 */
import type { ClusterConfig } from "../api/cluster-config.ts";
import type { VmNetworkModel } from "../api/model.ts";
import { IprouteNetlink, type Netlink } from "../host/netlink.ts";
import { NftCli } from "../host/nftables.ts";
import { NetnsSysctl } from "../host/sysctl.ts";
import { type NetworkPlan, type PlanPodOptions, planPod } from "../plan/plan.ts";
import type { NadFacts } from "../plan/pod-facts.ts";
import { type ApplyResult, applyPlan, probePlaceholderKind } from "./apply.ts";
import type { DhcpInterfacePlan } from "./dhcp/config.ts";
import { discoverPod } from "./discover.ts";
import type { PlaceholderKind } from "./links.ts";
import { type StartedProcesses, type StartProcessesOptions, startProcesses, stopProcesses } from "./processes.ts";
import { FileStateStore, type StateStore } from "./state.ts";
import { teardownPlan } from "./teardown.ts";
import type { PodAdapters } from "./undo.ts";

/** The part of the DHCP agent (`DhcpAgent`) wiring needs; tests pass a fake. */
export interface DhcpService {
  start(podId: string, netns: string, interfaces: readonly DhcpInterfacePlan[]): Promise<void>;
  stop(podId: string): Promise<void>;
}

/** Undoes an attached guest (closes the taps it holds). */
export type DetachGuest = () => Promise<void>;

/** Wire steps, in the order they run; named in {@link WireError}. */
export const WireStep = {
  Discover: "discover",
  Plan: "plan",
  Apply: "apply",
  Processes: "processes",
  Attach: "attach",
  RouterAddress: "router-address",
  Agent: "agent",
} as const;
export type WireStep = (typeof WireStep)[keyof typeof WireStep];

/** Wiring failed at `step`; what was done before it was undone (`rollbackErrors` lists what could not be). */
export class WireError extends Error {
  override readonly name = "WireError";
  readonly step: WireStep;
  readonly rollbackErrors: readonly unknown[];

  constructor(step: WireStep, cause: unknown, rollbackErrors: readonly unknown[]) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    const rollback =
      rollbackErrors.length === 0
        ? "rolled back"
        : `rolling back failed too: ${rollbackErrors.map((e) => (e instanceof Error ? e.message : String(e))).join("; ")}`;
    super(`Cannot wire the pod (step "${step}"), ${rollback}: ${detail}`, { cause });
    this.step = step;
    this.rollbackErrors = rollbackErrors;
  }
}

/** Options of {@link wirePod}. */
export interface WireOptions {
  /** The pod's network namespace name. */
  readonly netns: string;
  /** Directory with the pod's `resolv.conf` and `hostname`. */
  readonly podDir: string;
  readonly config: ClusterConfig;
  /** The NADs Multus networks must name, when known. */
  readonly nads?: readonly NadFacts[];
  /** Where the pod's state record lives (`<stateDir>/<podKey>.json`); ignored when `state` is given. */
  readonly stateDir: string;
  /** Names the pod: the state file and the agent's pod id. Default: `netns`. */
  readonly podKey?: string;
  readonly agent: DhcpService;
  /** Host adapters of the pod namespace; default iproute2, nft and /proc/sys inside `netns`. */
  readonly adapters?: PodAdapters;
  /** Overrides the file store (tests). */
  readonly state?: StateStore;
  /** The renamed NIC's stand-in on this kernel; probed once when absent. */
  readonly placeholder?: PlaceholderKind;
  /** Reads pod files (tests). */
  readonly readFile?: (path: string) => Promise<string>;
  /** `MY_POD_IP`, ordering dual-stack pod IPs. */
  readonly podIP?: string;
  /** Planner options beyond config, pod facts and NADs (anti-spoofing, guest MACs, non-root, ...). */
  readonly plan?: Omit<PlanPodOptions, "config" | "pod" | "nads">;
  /**
   * Opens the planned taps (a hypervisor or the lab's tap relay) and returns how to close them again; `processes` are
   * the plan's helper processes, already serving.
   */
  readonly attachGuest?: (plan: NetworkPlan, processes: StartedProcesses | undefined) => Promise<DetachGuest>;
  /** How long to wait for the RA source address once the guest is attached. Default 10 s. */
  readonly routerAddressTimeoutMs?: number;
  /**
   * How the plan's helper processes (passt) start: the socket wait, and for tests the netns entry and the open-file
   * limit. Their record lives next to the pod's state record (`<stateDir>/<podKey>.processes.json`).
   */
  readonly processes?: Omit<StartProcessesOptions, "netns" | "stateDir" | "podKey">;
}

/** A wired pod: what {@link unwirePod} needs. */
export interface WiredPod {
  readonly podId: string;
  readonly netns: string;
  readonly plan: NetworkPlan;
  readonly applied: ApplyResult;
  /** Whether the agent serves this pod (false when the plan has no DHCP/RA service). */
  readonly served: boolean;
  readonly adapters: PodAdapters;
  readonly state: StateStore;
  readonly placeholder: PlaceholderKind;
  readonly agent: DhcpService;
  readonly detach: DetachGuest | undefined;
  /** The helper processes started for the plan (passt), when it has any. */
  readonly processes?: StartedProcesses;
  /** Where the processes' record lives; {@link unwirePod} stops what it names. */
  readonly stateDir?: string;
}

/** The real adapters of pod namespace `netns`: iproute2, nft, and /proc/sys entered in-thread (no process). */
export function podAdapters(netns: string): PodAdapters {
  return { netlink: new IprouteNetlink(netns), nft: new NftCli(netns), sysctl: new NetnsSysctl(netns) };
}

/** The RA source addresses each served device must carry before the agent starts, as `ifname address` pairs. */
export function routerAddresses(plan: NetworkPlan): { readonly ifname: string; readonly address: string }[] {
  return plan.interfaces.flatMap((i) =>
    i.ra === undefined ? [] : [{ ifname: i.ra.interface.value, address: i.ra.sourceAddress }],
  );
}

/** Polls `netlink` until every address of `wanted` is on its device, or throws after `timeoutMs`. */
export async function waitForAddresses(
  netlink: Netlink,
  wanted: readonly { readonly ifname: string; readonly address: string }[],
  timeoutMs: number,
  pollMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const have = await netlink.addresses();
    const missing = wanted.filter((w) => !have.some((a) => a.ifname === w.ifname && a.local === w.address));
    if (missing.length === 0) return;
    if (Date.now() >= deadline) {
      const list = missing.map((m) => `"${m.address}" on "${m.ifname}"`).join(", ");
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${list}`);
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/**
 * Wires the pod of `model` in `options.netns`: discover → plan → apply → start the plan's processes (passt) → attach
 * the guest (if a hook is given) → wait for the RA source addresses (only when a guest was attached) → start the
 * DHCP/RA agent for the plan's services. Any failure undoes the steps done so far (agent, guest, processes, applied
 * plan) and throws a {@link WireError} naming the step.
 */
export async function wirePod(model: VmNetworkModel, options: WireOptions): Promise<WiredPod> {
  const podId = options.podKey ?? options.netns;
  const adapters = options.adapters ?? podAdapters(options.netns);
  const state = options.state ?? new FileStateStore(options.stateDir, podId);
  let step: WireStep = WireStep.Discover;
  const undo: (() => Promise<void>)[] = [];
  try {
    const placeholder = options.placeholder ?? (await probePlaceholderKind(adapters.netlink));
    const recorded = await state.load();
    const { facts, kernel } = await discoverPod(options.netns, {
      netlink: adapters.netlink,
      nft: adapters.nft,
      podDir: options.podDir,
      ...(options.readFile === undefined ? {} : { readFile: options.readFile }),
      ...(options.podIP === undefined ? {} : { podIP: options.podIP }),
      ...(recorded === undefined ? {} : { state: recorded }),
    });
    step = WireStep.Plan;
    const plan = planPod(model, {
      ...options.plan,
      config: options.config,
      pod: facts,
      ...(options.nads === undefined ? {} : { nads: options.nads }),
    });
    step = WireStep.Apply;
    // Nothing changed the pod since discovery read it: apply works from that read instead of reading again.
    const applied = await applyPlan(plan, {
      ...adapters,
      netns: options.netns,
      state,
      placeholder,
      discovered: kernel,
    });
    undo.push(async () => {
      await teardownPlan(plan, { ...adapters, state, placeholder });
    });
    // The guest's `-netdev stream` connects to passt's socket when QEMU starts, so passt runs before the attach.
    step = WireStep.Processes;
    const processes = await startProcesses(plan, {
      ...options.processes,
      netns: options.netns,
      stateDir: options.stateDir,
      podKey: podId,
    });
    if (processes !== undefined) {
      undo.push(async () => {
        await stopProcesses(options.stateDir, podId);
      });
    }
    let detach: DetachGuest | undefined;
    if (options.attachGuest !== undefined) {
      step = WireStep.Attach;
      detach = await options.attachGuest(plan, processes);
      undo.push(detach);
      step = WireStep.RouterAddress;
      await waitForAddresses(adapters.netlink, routerAddresses(plan), options.routerAddressTimeoutMs ?? 10_000);
    }
    step = WireStep.Agent;
    const services = applied.network.services;
    if (services.length > 0) await options.agent.start(podId, options.netns, services);
    return {
      podId,
      netns: options.netns,
      plan,
      applied,
      served: services.length > 0,
      adapters,
      state,
      placeholder,
      agent: options.agent,
      detach,
      ...(processes === undefined ? {} : { processes }),
      stateDir: options.stateDir,
    };
  } catch (cause) {
    const rollbackErrors: unknown[] = [];
    for (const u of undo.reverse()) {
      try {
        await u();
      } catch (e) {
        rollbackErrors.push(e);
      }
    }
    throw new WireError(step, cause, rollbackErrors);
  }
}

/**
 * Unwires a pod: stops the agent (final RAs go out while the guest is still attached), detaches the guest, stops the
 * plan's processes, tears the plan down. Every step runs even when an earlier one fails; the failures are thrown together afterwards.
 */
export async function unwirePod(wired: WiredPod): Promise<void> {
  const errors: unknown[] = [];
  const attempt = async (f: () => Promise<unknown>) => {
    try {
      await f();
    } catch (e) {
      errors.push(e);
    }
  };
  if (wired.served) await attempt(() => wired.agent.stop(wired.podId));
  if (wired.detach !== undefined) await attempt(wired.detach);
  const stateDir = wired.stateDir;
  if (stateDir !== undefined) await attempt(() => stopProcesses(stateDir, wired.podId));
  await attempt(() =>
    teardownPlan(wired.plan, { ...wired.adapters, state: wired.state, placeholder: wired.placeholder }),
  );
  if (errors.length > 0) {
    throw new AggregateError(errors, `Cannot fully unwire pod "${wired.podId}" in netns "${wired.netns}"`);
  }
}
