/**
 * The network plan (and model) of a running VM, kept as JSON in its state directory for the commands that come
 * later in other processes (`status`). The only class inside a plan is {@link InterfaceName}, which serialises as its
 * text; reading turns the fields that hold one back into one. A link step's `name` stays text (the key is shared
 * with plain-text names), so a read plan serves status and DHCP, never `applyPlan`.
 */
import { readFile, rename, writeFile } from "node:fs/promises";
import type { VmNetworkModel } from "../api/model.ts";
import { InterfaceName } from "../plan/namescheme.ts";
import type { NetworkPlan } from "../plan/plan.ts";

/** Plan fields that hold an {@link InterfaceName}, whatever object they are in. */
const NAME_FIELDS: ReadonlySet<string> = new Set([
  "renameFrom",
  "copyMacFrom",
  "master",
  "serverInterface",
  "interface",
  "tapName",
  "tap",
  "podInterface",
  "link",
]);

/** Passthrough plans (`plan.passthrough[]`) keep their pod interface as plain text. */
const TEXT_NAME_HOLDERS: ReadonlySet<unknown> = new Set(["sriov", "vdpa", "vhostUser"]);

/**
 * JSON.parse reviver restoring the {@link InterfaceName}s of a plan's fields named in {@link NAME_FIELDS}; `holder` is
 * the object the field is in (JSON.parse's `this`).
 */
export function reviveInterfaceNames(this: unknown, key: string, value: unknown): unknown {
  if (!NAME_FIELDS.has(key) || typeof value !== "string") return value;
  const holder = this as { readonly kind?: unknown } | undefined;
  return TEXT_NAME_HOLDERS.has(holder?.kind) ? value : InterfaceName.of(value);
}

/** Writes the plan and model of a VM atomically (a `status` reading it meanwhile sees the old or the new file). */
export async function savePlan(file: string, plan: NetworkPlan, model: VmNetworkModel): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify({ plan, model })}\n`, { mode: 0o600 });
  await rename(tmp, file);
}

/** Reads what {@link savePlan} wrote. */
export async function loadPlan(file: string): Promise<{ plan: NetworkPlan; model: VmNetworkModel }> {
  const parsed = JSON.parse(await readFile(file, "utf8"), reviveInterfaceNames) as {
    plan?: NetworkPlan;
    model?: VmNetworkModel;
  };
  if (parsed.plan === undefined || parsed.model === undefined) {
    throw new SyntaxError(`Cannot read plan file "${file}": expected a plan and a model`);
  }
  return { plan: parsed.plan, model: parsed.model };
}
