/**
 * Taking a pod's network down again: vmnet's nftables objects, its bridges, taps and dummies go, the pod NIC gets its
 * name, MAC, MTU, addresses and routes back, and sysctls their previous values, so the pod is as CNI left it.
 */
import type { NetworkPlan } from "../plan/plan.ts";
import { readNetwork } from "./discover.ts";
import { RuntimeError, RuntimeErrorCode } from "./errors.ts";
import { createdKindOf, type LinkOptions, type LinkView, PlaceholderKind, planSteps } from "./links.ts";
import {
  emptyState,
  NetworkPhase,
  type OriginalLink,
  type PodNetworkState,
  planHash,
  type StateStore,
} from "./state.ts";
import { type PodAdapters, type UndoResult, undoRecord } from "./undo.ts";

/** Options of {@link teardownPlan}. */
export interface TeardownOptions extends PodAdapters, LinkOptions {
  /** The pod's record; removed once teardown succeeds. */
  readonly state?: StateStore;
}

/** What {@link teardownPlan} did; `usedRecord` is false when it had to work from the plan alone. */
export interface TeardownResult extends UndoResult {
  readonly usedRecord: boolean;
}

/**
 * A record rebuilt from the plan and the kernel, for a pod whose record was lost: every link the plan creates, every
 * table the plan writes (assumed vmnet's), and renamed NICs restored from the dummy holding their original MAC, MTU and
 * addresses. Routes and sysctl values are unknown then, so they are not restored.
 */
export function recordFromPlan(
  plan: NetworkPlan,
  views: readonly LinkView[],
  options: LinkOptions = {},
): PodNetworkState {
  const steps = planSteps(plan);
  const createdLinks = steps.flatMap((s) => {
    const kind = createdKindOf(s, options);
    return kind === undefined ? [] : [{ name: s.name.value, kind }];
  });
  const changedLinks: OriginalLink[] = [];
  for (const s of steps) {
    if (s.kind !== "existing" || s.renameFrom === undefined) continue;
    const nic = views.find((v) => v.name === s.name.value);
    const original = s.renameFrom.value;
    const placeholder = options.placeholder ?? PlaceholderKind.Dummy;
    const dummy = views.find((v) => v.name === original && v.kind === placeholder && !v.up);
    if (nic === undefined || dummy === undefined) continue;
    changedLinks.push({
      ifindex: nic.ifindex,
      name: original,
      kind: nic.kind,
      mac: dummy.mac,
      mtu: dummy.mtu,
      master: undefined,
      up: true,
      addresses: [...dummy.addresses],
      routes: [],
    });
  }
  return {
    ...emptyState(planHash(plan), NetworkPhase.Finished),
    createdLinks,
    changedLinks,
    nftTables: plan.nft.tables.map((t) => ({ family: t.family, name: t.name, created: true, chains: [], sets: [] })),
  };
}

/**
 * Removes everything vmnet created for `plan` and restores what it changed, using the pod's record when there is one
 * (it knows routes, previous sysctls and shared tables), else {@link recordFromPlan}. Idempotent: a second call finds
 * nothing to do. Throws RuntimeError `teardown_failed` (after trying every step) and keeps the record then.
 */
export async function teardownPlan(plan: NetworkPlan, options: TeardownOptions): Promise<TeardownResult> {
  const stored = await options.state?.load();
  const record = stored ?? recordFromPlan(plan, (await readNetwork(options.netlink)).views, options);
  let result: UndoResult;
  try {
    result = await undoRecord(record, options);
  } catch (e) {
    throw new RuntimeError(
      RuntimeErrorCode.TeardownFailed,
      `Cannot tear down the pod network: ${e instanceof Error ? e.message : String(e)}`,
      { cause: e },
    );
  }
  await options.state?.remove();
  return { ...result, usedRecord: stored !== undefined };
}
