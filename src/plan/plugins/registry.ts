/**
 * Resolving `binding: {name}` during planning: the KubeVirt CR registration, then the plugin that plans it, then what
 * the registration adds to the interface plan (Multus selection element, migration, downward API, memory overhead).
 */
import type { ClusterConfig } from "../../api/cluster-config.ts";
import { DomainAttachmentType } from "../../api/kubevirt-cr.ts";
import type { KvBindingPlugin } from "../../api/kubevirt-types.ts";
import type { VmNetworkModel } from "../../api/model.ts";
import { multusNadKey } from "../common.ts";
import { PlanError, PlanErrorCode } from "../errors.ts";
import type { BindingContext, InterfacePlan, MemoryOverheadPlan, PluginNetworkSelection, PluginPlan } from "../plan.ts";
import { builtinPlugins, MANAGED_TAP_ATTACHMENT, TAP_ATTACHMENT } from "./builtin.ts";
import type { BindingPlugin, PluginRegistry } from "./plugin.ts";

/** The launcher memory KubeVirt adds when any interface uses `passtBinding` (§4.4). */
export const PASST_BINDING_MEMORY_OVERHEAD = "250Mi";

const BUILTIN = builtinPlugins();

/** A registered plugin and the code that plans it. */
export interface ResolvedPlugin {
  readonly registration: KvBindingPlugin;
  readonly plugin: BindingPlugin;
}

/**
 * Resolves a plugin name: it must be registered in the CR (else virt-controller's
 * `unable to find the network binding plugin '<name>' in Kubevirt configuration`); the code is the one `extra`
 * registers under that name, else the built-in one, else the generic attachment the CR's `domainAttachmentType` names.
 */
export function resolvePlugin(config: ClusterConfig, name: string, extra?: PluginRegistry): ResolvedPlugin {
  const registration = Object.hasOwn(config.bindingPlugins, name) ? config.bindingPlugins[name] : undefined;
  if (registration === undefined) {
    throw new PlanError(
      PlanErrorCode.PluginNotRegistered,
      `unable to find the network binding plugin '${name}' in Kubevirt configuration`,
    );
  }
  const named = extra?.get(name) ?? BUILTIN.get(name);
  if (named !== undefined) return { registration, plugin: named };
  const attachment =
    registration.domainAttachmentType === DomainAttachmentType.ManagedTap ? MANAGED_TAP_ATTACHMENT : TAP_ATTACHMENT;
  return { registration, plugin: attachment };
}

/**
 * The extra Multus element a plugin with `networkAttachmentDefinition` adds for its network (§4.1): the NAD split at
 * `/` (the VM's namespace when none), `cni-args.logicNetworkName` the logical network name.
 */
export function pluginNetworkSelection(
  model: VmNetworkModel,
  networkName: string,
  registration: KvBindingPlugin,
): PluginNetworkSelection | undefined {
  const nad = registration.networkAttachmentDefinition;
  if (nad === undefined || nad === "") return undefined;
  const key = multusNadKey(model, nad);
  return { name: key.name, namespace: key.namespace, "cni-args": { logicNetworkName: networkName } };
}

const isAttachment = (v: string | undefined): v is DomainAttachmentType =>
  v === DomainAttachmentType.Tap || v === DomainAttachmentType.ManagedTap;

function pluginPlanOf(ctx: BindingContext, name: string, resolved: ResolvedPlugin): PluginPlan {
  const r = resolved.registration;
  const attachment = isAttachment(r.domainAttachmentType) ? r.domainAttachmentType : resolved.plugin.domainAttachment;
  const selection = pluginNetworkSelection(ctx.model, ctx.network.name, r);
  const memory = r.computeResourceOverhead?.requests?.memory;
  return {
    name,
    ...(attachment === undefined ? {} : { domainAttachment: attachment }),
    ...(r.sidecarImage ? { sidecarImage: r.sidecarImage } : {}),
    ...(selection === undefined ? {} : { networkSelection: selection }),
    ...(r.migration === undefined ? {} : { migration: { ...r.migration } }),
    ...(r.downwardAPI === "device-info" ? { downwardAPI: "device-info" as const } : {}),
    ...(memory === undefined || memory === "" ? {} : { memoryOverhead: String(memory) }),
  };
}

/** Plans a `binding: {name}` interface: resolves the plugin, runs it, adds the registration's {@link PluginPlan}. */
export function planPluginInterface(ctx: BindingContext, name: string): InterfacePlan {
  const resolved = resolvePlugin(ctx.options.config, name, ctx.options.plugins);
  const planned = resolved.plugin.plan({ ...ctx, pluginName: name, registration: resolved.registration });
  if (planned.binding !== "plugin") {
    throw new TypeError(`Cannot use binding plugin "${name}": it planned binding "${planned.binding}", not "plugin"`);
  }
  return { ...planned, plugin: pluginPlanOf(ctx, name, resolved) };
}

const BINARY: Readonly<Record<string, number>> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50 };
const DECIMAL: Readonly<Record<string, number>> = { "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, m: 1e-3 };
const QUANTITY = /^\+?(\d+(?:\.\d*)?|\.\d+)(?:(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P|m)|[eE]([+-]?\d+))?$/u;

/**
 * Bytes of a Kubernetes memory quantity (`250Mi`, `1G`, `128974848`, `129e6`), rounded up as `Quantity.Value()`
 * does. SyntaxError when it is not a quantity or not below 2^53.
 */
export function parseMemoryQuantity(text: string): number {
  const m = QUANTITY.exec(text);
  if (m === null) throw new SyntaxError(`Cannot parse memory quantity "${text}"`);
  const [, digits = "", suffix, exponent] = m;
  const scale = suffix === undefined ? (exponent === undefined ? 1 : 10 ** Number.parseInt(exponent, 10)) : 0;
  const multiplier = suffix === undefined ? scale : (BINARY[suffix] ?? DECIMAL[suffix] ?? 1);
  const bytes = Math.ceil(Number.parseFloat(digits) * multiplier);
  if (!Number.isSafeInteger(bytes)) throw new SyntaxError(`Cannot parse memory quantity "${text}": it is too large`);
  return bytes;
}

/** One contribution to the launcher memory overhead. */
export interface MemoryOverheadSource {
  readonly source: string;
  readonly quantity: string;
}

/** An interface's binding, and its plugin's registered memory overhead, as {@link sumMemoryOverhead} reads them. */
export interface MemoryOverheadUse {
  readonly binding: string;
  readonly plugin?: { readonly name: string; readonly memoryOverhead?: string };
}

/**
 * The launcher memory networking adds (§4.4) for interfaces using these bindings: 250Mi when any uses
 * `passtBinding`, plus each distinct plugin's `computeResourceOverhead.requests.memory` once, in first-use order.
 * Undefined when nothing adds any; PlanError `memory_overhead_invalid` when a quantity does not parse.
 */
export function sumMemoryOverhead(uses: readonly MemoryOverheadUse[]): MemoryOverheadPlan | undefined {
  const sources: MemoryOverheadSource[] = [];
  if (uses.some((p) => p.binding === "passtBinding")) {
    sources.push({ source: "passtBinding", quantity: PASST_BINDING_MEMORY_OVERHEAD });
  }
  const seen = new Set<string>();
  for (const p of uses) {
    const plugin = p.plugin;
    if (plugin === undefined || seen.has(plugin.name)) continue;
    seen.add(plugin.name);
    if (plugin.memoryOverhead !== undefined) {
      sources.push({ source: `plugin/${plugin.name}`, quantity: plugin.memoryOverhead });
    }
  }
  if (sources.length === 0) return undefined;
  let bytes = 0;
  for (const s of sources) {
    try {
      bytes += parseMemoryQuantity(s.quantity);
    } catch (e) {
      throw new PlanError(
        PlanErrorCode.MemoryOverheadInvalid,
        `Cannot add the memory overhead "${s.quantity}" of "${s.source}": it is not a quantity`,
        { cause: e },
      );
    }
  }
  return { bytes, sources };
}

/** {@link sumMemoryOverhead} of planned interfaces. */
export function memoryOverheadOf(plans: readonly InterfacePlan[]): MemoryOverheadPlan | undefined {
  return sumMemoryOverhead(plans);
}

/**
 * {@link sumMemoryOverhead} straight from the spec, as virt-controller computes it before any planning: every
 * interface (absent ones too) and the CR registrations of their plugins; unregistered plugins add nothing.
 */
export function modelMemoryOverhead(model: VmNetworkModel, config: ClusterConfig): MemoryOverheadPlan | undefined {
  return sumMemoryOverhead(
    model.interfaces.flatMap((i): MemoryOverheadUse[] => {
      if (i.binding.kind !== "plugin") return [{ binding: i.binding.kind }];
      const name = i.binding.name;
      const registration = Object.hasOwn(config.bindingPlugins, name) ? config.bindingPlugins[name] : undefined;
      if (registration === undefined) return [];
      const memory = registration.computeResourceOverhead?.requests?.memory;
      return [
        {
          binding: i.binding.kind,
          plugin: { name, ...(memory === undefined || memory === "" ? {} : { memoryOverhead: String(memory) }) },
        },
      ];
    }),
  );
}
