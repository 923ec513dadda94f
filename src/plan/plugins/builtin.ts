/**
 * The plugins vmnet ships: passt, slirp and macvtap by name, and the two generic domain attachments KubeVirt itself
 * implements for any other registered plugin, `tap` and `managedTap` (kubevirt-network.md §5.6, §7.1, §7.3).
 */
import { addAntiSpoofRules } from "../antispoof.ts";
import { planBridge } from "../bridge.ts";
import { guestNic, kubevirtGuestMac, requirePodLink } from "../common.ts";
import { PlanError, PlanErrorCode } from "../errors.ts";
import { planMacvtap } from "../macvtap.ts";
import { kubevirtTapName } from "../namescheme.ts";
import { NftBuilder } from "../nft.ts";
import { planPasst } from "../passt.ts";
import type { InterfacePlan, LinkStep } from "../plan.ts";
import { podIPsOf } from "../pod-facts.ts";
import { planSlirpInterface } from "../slirp.ts";
import type { BindingPlugin, PluginContext } from "./plugin.ts";
import { PluginRegistry } from "./plugin.ts";

/**
 * `tap` (or no attachment type): nothing in the pod netns, the plugin's CNI made the tap. QEMU opens KubeVirt's tap
 * name when such a link exists, else the pod interface itself; MAC as for any tap, MTU of the pod link.
 */
export function planTapAttachment(ctx: PluginContext): Omit<InterfacePlan, "plugin"> {
  const link = requirePodLink(ctx);
  const named = kubevirtTapName(ctx.podInterface, ctx.primary);
  const tapName = ctx.pod.links.some((l) => l.name === named.value) ? named : ctx.podInterface;
  const mac = kubevirtGuestMac(ctx, link.mac);
  return {
    name: ctx.iface.name,
    network: ctx.network.name,
    binding: "plugin",
    primary: ctx.primary,
    podInterface: ctx.podInterface,
    podIPs: podIPsOf(link, ctx.pod),
    links: [],
    sysctls: [],
    guest: guestNic(ctx, { mac, mtu: link.mtu, tapName }),
  };
}

/**
 * `managedTap`: exactly the bridge binding's links (bridge, renamed NIC, tap, dummy), but the bridge gets no fake IP
 * and no DHCP server runs, so neither do the DHCP guard rules; `arp_ignore` stays when the pod link had IPv4.
 */
export function planManagedTapAttachment(ctx: PluginContext): Omit<InterfacePlan, "plugin"> {
  if (ctx.model.dialect !== "kubevirt") {
    throw new PlanError(PlanErrorCode.BindingUnsupported, `Binding plugin "${ctx.pluginName}" needs a KubeVirt VM`);
  }
  const link = requirePodLink(ctx);
  // planBridge writes its DHCP guard into the builder it gets; a scratch one keeps those rules out of the pod's.
  const bridged = planBridge({ ...ctx, nft: new NftBuilder() });
  const links: LinkStep[] = bridged.links.map((l) => (l.kind === "bridge" ? { ...l, addresses: [] } : l));
  if (bridged.antiSpoof) addAntiSpoofRules(ctx.nft, bridged.antiSpoof);
  const { dhcpv4: _dhcp, ...rest } = bridged;
  return { ...rest, binding: "plugin", podIPs: podIPsOf(link, ctx.pod), links };
}

/** Built-in passt plugin: the core passt plan on the pod network. */
export const PASST_PLUGIN: BindingPlugin = {
  name: "passt",
  domainAttachment: undefined,
  plan(ctx) {
    if (ctx.network.source.kind !== "pod") {
      throw new PlanError(
        PlanErrorCode.NetworkKindUnsupported,
        `Binding plugin "${ctx.pluginName}" of interface "${ctx.iface.name}" only implemented with pod network`,
      );
    }
    return planPasst(ctx, "plugin");
  },
};

/** Built-in slirp plugin: QEMU user networking on the pod network, no `permitSlirpInterface` needed. */
export const SLIRP_PLUGIN: BindingPlugin = {
  name: "slirp",
  domainAttachment: undefined,
  plan: (ctx) => planSlirpInterface(ctx, "plugin"),
};

/** Built-in macvtap plugin (the seed registers it with `domainAttachmentType: tap`): secondary Multus networks. */
export const MACVTAP_PLUGIN: BindingPlugin = {
  name: "macvtap",
  domainAttachment: "tap",
  plan: (ctx) => planMacvtap(ctx, "plugin"),
};

/** The generic `tap` attachment, used for registered names no plugin claims. */
export const TAP_ATTACHMENT: BindingPlugin = { name: "tap", domainAttachment: "tap", plan: planTapAttachment };

/** The generic `managedTap` attachment. */
export const MANAGED_TAP_ATTACHMENT: BindingPlugin = {
  name: "managedTap",
  domainAttachment: "managedTap",
  plan: planManagedTapAttachment,
};

/** A registry of the built-in named plugins. */
export function builtinPlugins(): PluginRegistry {
  return new PluginRegistry([PASST_PLUGIN, SLIRP_PLUGIN, MACVTAP_PLUGIN]);
}
