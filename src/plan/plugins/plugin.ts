/**
 * The in-tree interface for network binding plugins. A plugin is registered in the KubeVirt CR under
 * `spec.configuration.network.binding.<name>` (kubevirt-network.md §1.5) and referenced by interfaces as
 * `binding: {name: <name>}`; planning resolves the name through the CR and then through a {@link PluginRegistry}.
 *
 * KubeVirt runs a plugin as a hook sidecar editing the domain XML. vmnet has no sidecars: a plugin is TypeScript code
 * that plans the interface like a core binding does. To add one:
 *
 * ```ts
 * const myPlugin: BindingPlugin = {
 *   name: "mybinding",
 *   domainAttachment: "tap",
 *   plan: (ctx) => planTapAttachment(ctx), // or links, sysctls, nft rules, a guest backend of its own
 * };
 * planPod(model, { config, pod, plugins: new PluginRegistry([myPlugin]) });
 * ```
 *
 * and register `mybinding` in the CR. Built-in: `passt`, `slirp`, `macvtap` (by registered name), and for any other
 * registered name the CR's `domainAttachmentType` (`managedTap`, else `tap`).
 */

import type { DomainAttachmentType } from "../../api/kubevirt-cr.ts";
import type { KvBindingPlugin } from "../../api/kubevirt-types.ts";
import type { BindingContext, InterfacePlan } from "../plan.ts";

/** What a plugin's planner gets: the interface's context plus its CR registration. */
export interface PluginContext extends BindingContext {
  /** The registered name (`binding.name`). */
  readonly pluginName: string;
  /** `spec.configuration.network.binding.<name>` as read from the CR. */
  readonly registration: KvBindingPlugin;
}

/** A network binding plugin. */
export interface BindingPlugin {
  /** The name it is registered under in the CR. */
  readonly name: string;
  /** The attachment used when the CR gives no `domainAttachmentType`; undefined: the plugin's own guest backend. */
  readonly domainAttachment: DomainAttachmentType | undefined;
  /**
   * Plans one interface: links, sysctls, nft rules (through `ctx.nft`), DHCP and the guest NIC. `binding` must be
   * `plugin`; the registry adds {@link InterfacePlan.plugin} from the CR afterwards.
   */
  plan(ctx: PluginContext): Omit<InterfacePlan, "plugin">;
}

/** Plugins by name; names are unique. */
export class PluginRegistry {
  private readonly byName = new Map<string, BindingPlugin>();

  /** A registry holding `plugins`; TypeError on a duplicate name. */
  constructor(plugins: readonly BindingPlugin[] = []) {
    for (const p of plugins) this.register(p);
  }

  /** Adds a plugin; TypeError when one of that name is already registered. */
  register(plugin: BindingPlugin): this {
    if (this.byName.has(plugin.name)) {
      throw new TypeError(`Cannot register binding plugin "${plugin.name}": a plugin of that name exists`);
    }
    this.byName.set(plugin.name, plugin);
    return this;
  }

  /** The plugin registered under `name`, if any. */
  get(name: string): BindingPlugin | undefined {
    return this.byName.get(name);
  }

  /** Registered names, in registration order. */
  names(): string[] {
    return [...this.byName.keys()];
  }
}
