/**
 * Helpers every binding planner shares: queues, tap owner, guest NIC, guest MAC, DHCP extras. Kept apart from plan.ts
 * so the binding modules depend on plan.ts for types only.
 */

import { createHash } from "node:crypto";
import { Family, parseIpAddr } from "../api/ip.ts";
import type { InterfaceSpec, NetworkSpec, VmNetworkModel } from "../api/model.ts";
import { LinkState } from "../api/model.ts";
import { addAntiSpoofRules } from "./antispoof.ts";
import { PlanError, PlanErrorCode } from "./errors.ts";
import type { InterfaceName } from "./namescheme.ts";
import type {
  AntiSpoofPlan,
  BindingContext,
  Dhcpv4ExtraOptions,
  GuestNicPlan,
  LinkStep,
  PlanNad,
  TapSpec,
} from "./plan.ts";
import type { PodLink } from "./pod-facts.ts";

/** KubeVirt's (and vmnet's) DHCP lease: 999 days. */
export const KUBEVIRT_LEASE_SECONDS = 86_313_600;
/** dnsmasq's `infinite` lease. */
export const INFINITE_LEASE_SECONDS = 4_294_967_295;
/** Owner of taps for non-root VMs (qemu's uid/gid in KubeVirt images). */
export const NON_ROOT_UID = 107;
/** KubeVirt caps the multiqueue count here. */
export const MAX_QUEUES = 256;

/** Tap queues (§5.1) and guest queue attributes (§7.3) for an interface. */
export function queuesOf(model: VmNetworkModel, iface: InterfaceSpec): { tap: number; guest?: number; count: number } {
  if (iface.model !== "virtio" || !model.multiqueue) return { tap: 0, count: 1 };
  const n = Math.min(Math.max(model.vcpus, 1), MAX_QUEUES);
  return { tap: n, guest: n, count: n };
}

/** The tap spec of an interface for KubeVirt. */
export function kubevirtTap(ctx: BindingContext): TapSpec {
  const q = queuesOf(ctx.model, ctx.iface).tap;
  const id = ctx.options.nonRoot === false ? 0 : NON_ROOT_UID;
  return { queues: q, multiQueue: q > 1, owner: { uid: id, gid: id } };
}

/** Virtink's tap: one queue, no owner set. */
export const VIRTINK_TAP: TapSpec = { queues: 0, multiQueue: false };

/** The guest's tap, enslaved to the binding's in-pod `bridge` with the pod link's MTU. */
export function bridgeTapStep(
  tap: { readonly name: InterfaceName; readonly spec: TapSpec },
  bridge: InterfaceName,
  mtu: number,
): LinkStep {
  return {
    kind: "tap",
    name: tap.name,
    mtu,
    master: bridge,
    flushAddresses: false,
    deleteAddresses: [],
    addresses: [],
    state: "up",
    tap: tap.spec,
  };
}

/** The guest NIC of an interface with the given MAC, MTU source and tap. */
export function guestNic(
  ctx: BindingContext,
  nic: { readonly mac: string; readonly mtu: number; readonly tapName: InterfaceName },
): GuestNicPlan {
  const { iface, model } = ctx;
  const { mac, mtu, tapName } = nic;
  const q = queuesOf(model, iface);
  const virtio = iface.model === "virtio";
  const domainModel = virtio
    ? model.useVirtioTransitional
      ? "virtio-transitional"
      : "virtio-non-transitional"
    : iface.model;
  return {
    alias: `ua-${iface.name}`,
    model: iface.model,
    domainModel,
    mac,
    ...(virtio ? { mtu } : {}),
    ...(q.guest === undefined ? {} : { queues: q.guest }),
    queueCount: q.count,
    ...(iface.pciAddress === undefined ? {} : { pciAddress: iface.pciAddress }),
    ...(iface.bootOrder === undefined ? {} : { bootOrder: iface.bootOrder }),
    ...(iface.acpiIndex === undefined ? {} : { acpiIndex: iface.acpiIndex }),
    linkState: iface.state === LinkState.Down ? "down" : "up",
    tapName,
  };
}

/** The guest MAC for KubeVirt taps: spec MAC, else a MAC known from status, else the pod link's (§2, §7.3). */
export function kubevirtGuestMac(ctx: BindingContext, podMac: string): string {
  return (ctx.iface.macAddress ?? ctx.options.guestMacs?.[ctx.iface.name] ?? podMac).toLowerCase();
}

/** The pod link, or KubeVirt's `pod link (%s) is missing`. */
export function requirePodLink(ctx: BindingContext): PodLink {
  if (ctx.podLink === undefined) {
    throw new PlanError(PlanErrorCode.PodLinkMissing, `pod link (${ctx.podInterface.value}) is missing`);
  }
  return ctx.podLink;
}

/** Whether anti-spoofing is on for the interface. */
export function antiSpoofingOn(ctx: BindingContext, byDefault: boolean): boolean {
  return ctx.options.antiSpoofing?.[ctx.iface.name] ?? byDefault;
}

/** `plan` when anti-spoofing is on for the interface (`byDefault` unless configured), its rules added to the ruleset. */
export function antiSpoofIfOn(ctx: BindingContext, byDefault: boolean, plan: AntiSpoofPlan): AntiSpoofPlan | undefined {
  if (!antiSpoofingOn(ctx, byDefault)) return undefined;
  addAntiSpoofRules(ctx.nft, plan);
  return plan;
}

/** The user DHCP options of an interface; NTP servers must be IPv4 and private options outside 224–254 are dropped. */
export function extraDhcpOptions(iface: InterfaceSpec): Dhcpv4ExtraOptions {
  const o = iface.dhcpOptions;
  if (!o) return { ntpServers: [], privateOptions: [] };
  for (const s of o.ntpServers) {
    if (parseIpAddr(s)?.family !== Family.V4) {
      throw new PlanError(PlanErrorCode.InvalidNtpServer, `Could not parse NTP server as IPv4 address: ${s}`);
    }
  }
  return {
    ...(o.bootFileName ? { bootFileName: o.bootFileName } : {}),
    ...(o.tftpServerName ? { tftpServerName: o.tftpServerName } : {}),
    ntpServers: [...o.ntpServers],
    privateOptions: o.privateOptions.filter((p) => p.option >= 224 && p.option <= 254),
  };
}

/** DHCP option 15: the longest search domain (the first of equal length), if any. */
export function longestDomain(search: readonly string[]): string | undefined {
  let best: string | undefined;
  for (const d of search) if (best === undefined || d.length > best.length) best = d;
  return best;
}

/** The namespace and name of a Multus `networkName` (`<nad>` or `<namespace>/<nad>`), as virt-controller splits it. */
export function multusNadKey(model: VmNetworkModel, networkName: string): { namespace: string; name: string } {
  const slash = networkName.indexOf("/");
  return slash < 0
    ? { namespace: model.namespace, name: networkName }
    : { namespace: networkName.slice(0, slash), name: networkName.slice(slash + 1) };
}

/** The NAD a Multus network names, if the planner was given it; undefined for pod networks. */
export function nadOf(ctx: BindingContext, network: NetworkSpec): PlanNad | undefined {
  if (network.source.kind !== "multus") return undefined;
  const key = multusNadKey(ctx.model, network.source.networkName);
  return ctx.options.nads?.find((n) => n.namespace === key.namespace && n.name === key.name);
}

/**
 * A stable, locally administered unicast MAC for a seed (`02` bit set, multicast bit clear), for guests that need a
 * fixed MAC the spec does not give: the same VM and interface always get the same one.
 */
export function stableMac(seed: string): string {
  const h = createHash("sha256").update(seed, "utf8").digest();
  const octets = [((h[0] ?? 0) & 0xfc) | 0x02, h[1] ?? 0, h[2] ?? 0, h[3] ?? 0, h[4] ?? 0, h[5] ?? 0];
  return octets.map((b) => b.toString(16).padStart(2, "0")).join(":");
}

/**
 * The guest MAC where the pod link cannot give one (passt, slirp, macvtap): spec MAC, else the one known from status,
 * else {@link stableMac} of `<namespace>/<vm>/<interface>`.
 */
export function specOrStableMac(ctx: BindingContext): { mac: string; generated: boolean } {
  const known = ctx.iface.macAddress ?? ctx.options.guestMacs?.[ctx.iface.name];
  if (known !== undefined) return { mac: known.toLowerCase(), generated: false };
  return { mac: stableMac(`${ctx.model.namespace}/${ctx.model.name}/${ctx.iface.name}`), generated: true };
}
