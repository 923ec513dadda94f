/**
 * slirp: QEMU user networking, as KubeVirt ≤ v1.0 did it (kubevirt-network.md Appendix C). QEMU NATs the guest inside
 * its own process, so nothing changes in the pod netns; only the listed ports reach the guest, and ICMP does not work
 * (the seeds' "only TCP and UDP"). Opt-in through `permitSlirpInterface`, pod network only.
 */
import type { InterfaceSpec, NicModel } from "../api/model.ts";
import { guestNic, specOrStableMac } from "./common.ts";
import { PlanError, PlanErrorCode } from "./errors.ts";
import { DEFAULT_VM_CIDR } from "./masquerade.ts";
import type { BindingContext, InterfacePlan } from "./plan.ts";
import { podIPsOf } from "./pod-facts.ts";

/** A QEMU `hostfwd` rule: the pod's port forwarded to the same guest port. */
export interface HostForward {
  readonly protocol: "tcp" | "udp";
  readonly port: number;
}

/** The ports as `hostfwd` rules, deduplicated by protocol and port in first-seen order. */
export function slirpHostForwards(iface: InterfaceSpec): HostForward[] {
  const out: HostForward[] = [];
  for (const p of iface.ports) {
    const protocol = p.protocol === "UDP" ? "udp" : "tcp";
    if (!out.some((f) => f.protocol === protocol && f.port === p.port)) out.push({ protocol, port: p.port });
  }
  return out;
}

/** The NIC model slirp uses: `e1000` unless `e1000` or `rtl8139` was asked for (KubeVirt v1.0). */
export function slirpModel(model: NicModel): NicModel {
  return model === "e1000" || model === "rtl8139" ? model : "e1000";
}

/** Core `slirp`: only with `permitSlirpInterface` (KubeVirt v1.0's string when off). */
export function planSlirp(ctx: BindingContext): InterfacePlan {
  if (!ctx.options.config.permitSlirpInterface) {
    throw new PlanError(PlanErrorCode.FeatureGateDisabled, "Slirp interface is not enabled in kubevirt-config");
  }
  return planSlirpInterface(ctx, "slirp");
}

/** Plans a slirp interface (core or plugin): user-net CIDR, hostfwd list, the pod's DNS search list, forced model. */
export function planSlirpInterface(ctx: BindingContext, binding: "slirp" | "plugin"): InterfacePlan {
  const source = ctx.network.source;
  if (source.kind !== "pod") {
    throw new PlanError(PlanErrorCode.NetworkKindUnsupported, "Slirp interface only implemented with pod network");
  }
  const iface = { ...ctx.iface, model: slirpModel(ctx.iface.model) };
  const { mac, generated } = specOrStableMac(ctx);
  // The forced model is never virtio, so guestNic emits no MTU and no queues.
  const nic = guestNic({ ...ctx, iface }, { mac, mtu: ctx.podLink?.mtu ?? 1500, tapName: ctx.podInterface });
  return {
    name: ctx.iface.name,
    network: ctx.network.name,
    binding,
    primary: ctx.primary,
    podInterface: ctx.podInterface,
    podIPs: ctx.podLink === undefined ? [] : podIPsOf(ctx.podLink, ctx.pod),
    links: [],
    sysctls: [],
    guest: {
      ...nic,
      backend: {
        kind: "user",
        net: source.vmNetworkCIDR ?? DEFAULT_VM_CIDR,
        dnsSearch: ctx.dns.search,
        hostForwards: slirpHostForwards(ctx.iface),
      },
      ...(generated ? { macGenerated: true } : {}),
    },
  };
}
