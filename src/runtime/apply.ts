/**
 * Applying a NetworkPlan to a pod namespace (KubeVirt §5.1 steps 3–6): mark the record started, ONE netlink batch for
 * every link change, the sysctls, ONE nftables transaction for the whole ruleset, mark it finished. Each step is
 * computed against the current kernel state, so applying the same plan again, or adopting a pod after a restart of
 * vmnet, changes nothing. Any failure rolls back exactly what this call created or changed, then throws.
 */
import { type Netlink, NetlinkBatchError, NetlinkFailure, type NetlinkOp } from "../host/netlink.ts";
import { getSysctls, setSysctls } from "../host/sysctl.ts";
import type { InterfaceName } from "../plan/namescheme.ts";
import type { Dhcpv4Plan, Dhcpv6Plan, NetworkPlan, RaPlan, Sysctl } from "../plan/plan.ts";
import { type PodKernelState, readNetwork } from "./discover.ts";
import { ApplyStep, RuntimeError, RuntimeErrorCode } from "./errors.ts";
import {
  createdKindOf,
  diffLinks,
  type LinkOptions,
  type LinkView,
  originalOf,
  PlaceholderKind,
  planSteps,
  type RouteView,
} from "./links.ts";
import { applyTransaction, recordTables } from "./nft.ts";
import {
  type CreatedLink,
  emptyState,
  mergeStates,
  NetworkPhase,
  type OriginalLink,
  type PodNetworkState,
  planHash,
  type RecordedNftTable,
  type RecordedSysctl,
  type StateStore,
} from "./state.ts";
import { type PodAdapters, sysctlInterface, undoRecord } from "./undo.ts";

/** What the DHCP and RA servers of one interface need. */
export interface InterfaceServices {
  readonly name: string;
  readonly podInterface: InterfaceName;
  readonly dhcpv4?: Dhcpv4Plan;
  readonly dhcpv6?: Dhcpv6Plan;
  readonly ra?: RaPlan;
}

/**
 * A pod whose network is wired: the seam to the DHCP/RA servers, which start once apply returns (each bound to its
 * `serverInterface` inside `netns`) and stop before teardown.
 */
export interface PodNetwork {
  readonly netns: string;
  readonly planHash: string;
  /** Interfaces with at least one server to run, in plan order. */
  readonly services: readonly InterfaceServices[];
}

/** The servers a plan asks for, by interface. */
export function podNetworkOf(plan: NetworkPlan, netns: string): PodNetwork {
  const services = plan.interfaces.flatMap((i): InterfaceServices[] =>
    i.dhcpv4 || i.dhcpv6 || i.ra
      ? [
          {
            name: i.name,
            podInterface: i.podInterface,
            ...(i.dhcpv4 ? { dhcpv4: i.dhcpv4 } : {}),
            ...(i.dhcpv6 ? { dhcpv6: i.dhcpv6 } : {}),
            ...(i.ra ? { ra: i.ra } : {}),
          },
        ]
      : [],
  );
  return { netns, planHash: planHash(plan), services };
}

/** Options of {@link applyPlan}. */
export interface ApplyOptions extends PodAdapters, LinkOptions {
  /** The pod's namespace, as the DHCP/RA servers will need it. */
  readonly netns: string;
  /** Where the pod's record lives. Without one, teardown has to guess from the plan and routes are not restored. */
  readonly state?: StateStore;
  /**
   * The links and routes (and maybe the ruleset) discovery read (`discoverPod`), when nothing has changed the pod
   * since: apply then does not read them again. Ignored when apply first has to undo an interrupted or older record
   * (the kernel changes then).
   */
  readonly discovered?: PodKernelState;
}

/** What {@link applyPlan} did. */
export interface ApplyResult {
  readonly network: PodNetwork;
  /** The one netlink batch (empty when the links were already as planned). */
  readonly ops: readonly NetlinkOp[];
  /** Sysctls written (the others already had their value). */
  readonly sysctls: readonly Sysctl[];
  /** A record left `started` by an interrupted apply was rolled back before this one. */
  readonly recovered: boolean;
}

function createdKind(op: NetlinkOp): string | undefined {
  switch (op.op) {
    case "addBridge":
      return "bridge";
    case "addDummy":
      return "dummy";
    case "addTap":
      return "tun";
    default:
      return undefined;
  }
}

/** The links an op list changes that exist now: their current facts, for the record. */
function changedBy(
  plan: NetworkPlan,
  ops: readonly NetlinkOp[],
  views: readonly LinkView[],
  routes: readonly RouteView[],
): OriginalLink[] {
  const touched = new Set(ops.filter((op) => createdKind(op) === undefined).map((op) => op.name));
  const out: OriginalLink[] = [];
  for (const step of planSteps(plan)) {
    if (step.kind !== "existing") continue;
    const view =
      (step.ifindex === undefined ? undefined : views.find((v) => v.ifindex === step.ifindex)) ??
      views.find((v) => v.name === step.name.value || v.name === step.renameFrom?.value);
    if (view === undefined || !touched.has(view.name)) continue;
    if (!out.some((o) => o.ifindex === view.ifindex)) out.push(originalOf(view, routes));
  }
  return out;
}

/** The parts of a record that `plan` no longer has: links it does not create or change, sysctls, nft tables. */
export function staleParts(record: PodNetworkState, plan: NetworkPlan, options: LinkOptions = {}): PodNetworkState {
  const steps = planSteps(plan);
  const created = new Set(steps.flatMap((s) => (createdKindOf(s, options) === undefined ? [] : [s.name.value])));
  const existing = steps.filter((s) => s.kind === "existing");
  return {
    ...emptyState(record.planHash, record.phase),
    createdLinks: record.createdLinks.filter((l) => !created.has(l.name)),
    changedLinks: record.changedLinks.filter(
      (o) =>
        !existing.some((s) => s.ifindex === o.ifindex || s.renameFrom?.value === o.name || s.name.value === o.name),
    ),
    sysctls: record.sysctls.filter((x) => !plan.sysctls.some((p) => p.key === x.key)),
    nftTables: record.nftTables.filter((t) => !plan.nft.tables.some((p) => p.family === t.family && p.name === t.name)),
  };
}

function isEmptyRecord(r: PodNetworkState): boolean {
  return r.createdLinks.length + r.changedLinks.length + r.sysctls.length + r.nftTables.length === 0;
}

function withoutParts(record: PodNetworkState, parts: PodNetworkState): PodNetworkState {
  return {
    ...record,
    createdLinks: record.createdLinks.filter((l) => !parts.createdLinks.includes(l)),
    changedLinks: record.changedLinks.filter((l) => !parts.changedLinks.includes(l)),
    sysctls: record.sysctls.filter((l) => !parts.sysctls.includes(l)),
    nftTables: record.nftTables.filter((l) => !parts.nftTables.includes(l)),
  };
}

/** A step of apply that failed, and why. */
interface Failure {
  readonly step: ApplyStep;
  readonly cause: unknown;
}

function fail(step: ApplyStep, cause: unknown, rollbackError: unknown): RuntimeError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  if (rollbackError !== undefined) {
    const why = rollbackError instanceof Error ? rollbackError.message : String(rollbackError);
    return new RuntimeError(
      RuntimeErrorCode.RollbackFailed,
      `Cannot apply the pod network (step "${step}"): ${detail}; rolling back failed too: ${why}`,
      { cause, step, rollbackError },
    );
  }
  return new RuntimeError(
    RuntimeErrorCode.ApplyFailed,
    `Cannot apply the pod network (step "${step}"), rolled back: ${detail}`,
    { cause, step },
  );
}

/**
 * Makes the pod namespace match `plan`: one `netlink.batch()` with every link change, then the sysctls, then the whole
 * ruleset as one nftables transaction. Returns the DHCP/RA seam ({@link PodNetwork}). On failure, undoes what this
 * call did (deletes the links it created, puts back the links, sysctls and nftables objects it changed) and throws a
 * RuntimeError (`apply_failed`, or `rollback_failed` when the undo failed as well). A record left `started` by an
 * interrupted earlier apply is rolled back whole first, then the plan is applied afresh.
 */
export async function applyPlan(plan: NetworkPlan, options: ApplyOptions): Promise<ApplyResult> {
  const { netlink, nft, sysctl, state } = options;
  const hash = planHash(plan);
  let previous = await state?.load();
  let recovered = false;
  // Whether this call already changed the pod (undoing an old record), so that what discovery read is stale.
  let undone = false;
  if (previous !== undefined && previous.phase === NetworkPhase.Started) {
    // KubeVirt refuses to re-run a network left `started`; vmnet knows what that run was doing, so it undoes it.
    await undoRecord(previous, options);
    await state?.remove();
    previous = undefined;
    recovered = true;
    undone = true;
  }
  if (previous !== undefined && previous.planHash !== hash) {
    const stale = staleParts(previous, plan, options);
    if (!isEmptyRecord(stale)) {
      // A changed plan: first undo what only the old plan had (its own batch), then apply the new one as usual.
      await undoRecord(stale, options);
      undone = true;
      previous = withoutParts(previous, stale);
      await state?.save(previous);
    }
  }

  // Ownership of a table matters only for one the record does not know yet: list the ruleset then, and only then.
  const same = (a: { family: string; name: string }) => (b: { family: string; name: string }) =>
    a.family === b.family && a.name === b.name;
  const knownTables = plan.nft.tables.flatMap((t) => previous?.nftTables.find(same(t)) ?? []);
  const discovered = undone ? undefined : options.discovered;
  const unknownTables = knownTables.length !== plan.nft.tables.length;
  const newTables: RecordedNftTable[] = [];
  // Discovery's listing is at hand: its tables go into the first save, so the rule side need not save again.
  if (unknownTables && discovered?.nft !== undefined) {
    newTables.push(...recordTables(plan, discovered.nft).filter((t) => !knownTables.some(same(t))));
  }
  const listing = unknownTables && discovered?.nft === undefined ? nft.list() : undefined;
  // Awaited later; until then a rejection must not count as unhandled.
  listing?.catch(() => {});
  const { views, routes } = discovered ?? (await readNetwork(netlink));
  const ops = diffLinks(plan, views, options);
  const createdLinks: CreatedLink[] = ops.flatMap((op) => {
    const kind = createdKind(op);
    return kind === undefined ? [] : [{ name: op.name, kind }];
  });
  const changedLinks = changedBy(plan, ops, views, routes);

  // Previous sysctl values: keys of links this batch creates have none worth keeping. Keys of links the batch
  // changes are read before it; the others (global keys, mostly) cannot change with it and are read beside it.
  const willCreate = new Set(createdLinks.map((l) => l.name));
  const touched = new Set(ops.flatMap((op) => (op.op === "rename" ? [op.name, op.newName] : [op.name])));
  const toRead = plan.sysctls.filter((s) => {
    const iface = sysctlInterface(s.key);
    return iface === undefined || !willCreate.has(iface);
  });
  const readsEarly = toRead.filter((s) => touched.has(sysctlInterface(s.key) ?? ""));
  const readsLate = toRead.filter((s) => !readsEarly.includes(s));
  const lateValues = getSysctls(
    sysctl,
    readsLate.map((s) => s.key),
  );
  lateValues.catch(() => {});
  const earlyValues = await getSysctls(
    sysctl,
    readsEarly.map((s) => s.key),
  );

  // What this call creates and changes, growing as the reads beside the batch come in; saved before each change.
  const recordedSysctls: RecordedSysctl[] = [];
  const toSet: Sysctl[] = plan.sysctls.filter((s) => !toRead.includes(s));
  const inPlanOrder = (xs: readonly Sysctl[]) => plan.sysctls.filter((s) => xs.includes(s));
  const noteSysctls = (read: readonly Sysctl[], values: readonly string[]) =>
    read.forEach((s, i) => {
      const value = values[i];
      if (value === undefined || value === s.value) return;
      recordedSysctls.push({ key: s.key, previous: value });
      toSet.push(s);
    });
  noteSysctls(readsEarly, earlyValues);
  const thisCall = (): PodNetworkState => ({
    ...emptyState(hash),
    createdLinks,
    changedLinks,
    sysctls: [...recordedSysctls],
    nftTables: [...newTables],
  });
  // A table vmnet created on an earlier run exists now; the record still knows it as vmnet's.
  const recordNow = (phase: NetworkPhase): PodNetworkState => ({
    ...mergeStates(previous, thisCall()),
    nftTables: plan.nft.tables.flatMap((t) => knownTables.find(same(t)) ?? newTables.find(same(t)) ?? []),
    phase,
  });
  // The two sides below save the record in turn, never at once.
  let saved: Promise<void> = Promise.resolve();
  const save = (phase: NetworkPhase = NetworkPhase.Started): Promise<void> => {
    const record = recordNow(phase);
    saved = saved.then(() => state?.save(record));
    return saved;
  };
  try {
    await save();
  } catch (cause) {
    throw fail(ApplyStep.State, cause, undefined);
  }

  // The ruleset names interfaces only by name (iifname/oifname), so it loads while the links are being made; the
  // sysctls wait for the batch, which creates the links some of them belong to.
  const linkSide = async (): Promise<Failure | undefined> => {
    try {
      if (ops.length > 0) await netlink.batch(ops);
    } catch (cause) {
      return { step: ApplyStep.Links, cause };
    }
    const before = toSet.length;
    try {
      noteSysctls(readsLate, await lateValues);
    } catch (cause) {
      return { step: ApplyStep.Sysctls, cause };
    }
    try {
      if (toSet.length > before) await save();
    } catch (cause) {
      return { step: ApplyStep.State, cause };
    }
    try {
      await setSysctls(
        sysctl,
        inPlanOrder(toSet).map((s) => ({ key: s.key, value: s.value })),
      );
    } catch (cause) {
      return { step: ApplyStep.Sysctls, cause };
    }
    return undefined;
  };
  const ruleSide = async (): Promise<Failure | undefined> => {
    if (listing !== undefined) {
      try {
        const listed = recordTables(plan, await listing);
        newTables.push(...listed.filter((t) => !knownTables.some(same(t))));
      } catch (cause) {
        return { step: ApplyStep.Nftables, cause };
      }
      try {
        await save();
      } catch (cause) {
        return { step: ApplyStep.State, cause };
      }
    }
    try {
      if (plan.nft.tables.length > 0) {
        const tables = plan.nft.tables.flatMap((t) => knownTables.find(same(t)) ?? newTables.find(same(t)) ?? []);
        await nft.apply(applyTransaction(plan, tables));
      }
    } catch (cause) {
      return { step: ApplyStep.Nftables, cause };
    }
    return undefined;
  };
  const [linkFailure, ruleFailure] = await Promise.all([linkSide(), ruleSide()]);
  const failure = linkFailure ?? ruleFailure;
  if (failure !== undefined) {
    let rollbackError: unknown;
    try {
      await saved.catch(() => {});
      await undoRecord(thisCall(), options);
      if (previous === undefined) await state?.remove();
      else await state?.save(previous);
    } catch (e) {
      rollbackError = e;
    }
    throw fail(failure.step, failure.cause, rollbackError);
  }
  await save(NetworkPhase.Finished);
  return { network: podNetworkOf(plan, options.netns), ops, sysctls: inPlanOrder(toSet), recovered };
}

/**
 * The stand-in kind this kernel supports for a renamed NIC: `dummy` when the dummy driver is there, else `bridge`.
 * Costs one `ip -batch` (create and delete a probe link), so callers ask once per node, not per apply.
 */
export async function probePlaceholderKind(netlink: Netlink): Promise<PlaceholderKind> {
  const name = "vmnt-probe0";
  try {
    await netlink.batch([
      { op: "addDummy", name },
      { op: "deleteLink", name },
    ]);
    return PlaceholderKind.Dummy;
  } catch (e) {
    if (e instanceof NetlinkBatchError && e.opIndex === 0 && e.reason === NetlinkFailure.NotSupported) {
      return PlaceholderKind.Bridge;
    }
    throw e;
  }
}
