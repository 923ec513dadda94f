/**
 * macvtap: a macvtap device in bridge mode on a host device, handed to QEMU as `/dev/tap<ifindex>` fds, so the guest
 * sits directly on the node's L2 (seed "Macvtap binding"; kubevirt-network.md §4.4, Appendix C). The lower device is
 * named by the NAD's `k8s.v1.cni.cncf.io/resourceName`, `macvtap.network.kubevirt.io/<lowerDevice>`, as with
 * macvtap-cni's device plugin under its default `DP_MACVTAP_CONF` `[]` (one resource per node interface, named like
 * it; a listed resource maps its own name to a `lowerDevice`, which only the device plugin knows: lab/macvtap.ts). Serves the core `macvtap` (gate `Macvtap`) and the built-in macvtap binding plugin.
 *
 * The MAC is always static: a macvtap filters on its own MAC, and migration needs it fixed (seed note). Without a spec
 * MAC one is derived from the VM and interface names ({@link stableMac}), and the plan says so (`macGenerated`).
 */
import { isGateEnabled } from "../api/cluster-config.ts";
import { guestNic, multusNadKey, nadOf, queuesOf, specOrStableMac } from "./common.ts";
import { PlanError, PlanErrorCode } from "./errors.ts";
import { InterfaceName } from "./namescheme.ts";
import type { BindingContext, InterfacePlan, LinkStep, PlanNad } from "./plan.ts";
import { podIPsOf } from "./pod-facts.ts";

/** The device-plugin resource prefix of macvtap-cni. */
export const MACVTAP_RESOURCE_PREFIX = "macvtap.network.kubevirt.io/";

/** The lower device of a macvtap NAD; PlanError naming the NAD when the resource name does not give one. */
export function macvtapLowerDevice(nad: PlanNad): string {
  const ref = `${nad.namespace}/${nad.name}`;
  const resource = nad.resourceName;
  if (resource === undefined || resource === "") {
    throw new PlanError(
      PlanErrorCode.MacvtapLowerDeviceUnknown,
      `Cannot find the macvtap lower device of network attachment definition "${ref}": it has no "k8s.v1.cni.cncf.io/resourceName" annotation`,
    );
  }
  const device = resource.startsWith(MACVTAP_RESOURCE_PREFIX) ? resource.slice(MACVTAP_RESOURCE_PREFIX.length) : "";
  if (!InterfaceName.isValid(device)) {
    throw new PlanError(
      PlanErrorCode.MacvtapLowerDeviceUnknown,
      `Cannot find the macvtap lower device of network attachment definition "${ref}": resource name "${resource}" is not "${MACVTAP_RESOURCE_PREFIX}<device>"`,
    );
  }
  return device;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

const positiveInt = (v: unknown): number | undefined =>
  typeof v === "number" && Number.isInteger(v) && v > 0 ? v : undefined;

/**
 * The MTU a macvtap NAD's CNI config sets: top-level `mtu`, else the `mtu` of its `macvtap` plugin in a `plugins`
 * list. Undefined when absent or when the config is not JSON (the macvtap then keeps its lower device's MTU).
 */
export function macvtapNadMtu(nad: PlanNad): number | undefined {
  if (nad.config === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(nad.config);
  } catch {
    return undefined;
  }
  if (!isRecord(parsed)) return undefined;
  const top = positiveInt(parsed.mtu);
  if (top !== undefined) return top;
  const plugins = Array.isArray(parsed.plugins) ? parsed.plugins : [];
  const macvtap = plugins.find((p): p is Record<string, unknown> => isRecord(p) && p.type === "macvtap");
  return macvtap === undefined ? undefined : positiveInt(macvtap.mtu);
}

/**
 * Plans a macvtap interface (core or plugin). A pod link already named like the pod interface must be a macvtap (one
 * macvtap-cni or an earlier run made); it is kept and only given the MAC and MTU. Otherwise the plan says a macvtap
 * must be made on the lower device and moved into the pod under the pod interface name; the runtime does not make it
 * (the pod namespace has no node device: `missingMacvtapMessage` in runtime/links.ts), macvtap-cni does. `/dev/tapN`
 * is known only once it exists, so the guest backend names the link and the runtime resolves its ifindex.
 */
export function planMacvtap(ctx: BindingContext, binding: "macvtap" | "plugin"): InterfacePlan {
  const source = ctx.network.source;
  if (source.kind !== "multus") {
    throw new PlanError(PlanErrorCode.NetworkKindUnsupported, "Macvtap interface only implemented with Multus network");
  }
  const nad = nadOf(ctx, ctx.network);
  if (nad === undefined) {
    const key = multusNadKey(ctx.model, source.networkName);
    throw new PlanError(
      PlanErrorCode.NadNotFound,
      `failed to locate network attachment definition ${key.namespace}/${key.name}`,
    );
  }
  const lowerDevice = macvtapLowerDevice(nad);
  const nadMtu = macvtapNadMtu(nad);
  const P = ctx.podInterface;
  const existing = ctx.podLink;
  if (existing !== undefined && existing.kind !== "macvtap") {
    throw new PlanError(
      PlanErrorCode.LinkTypeCollision,
      `type collision on link ${P.value}: actual ${existing.kind}, requested macvtap`,
    );
  }
  const spec = specOrStableMac(ctx);
  // A macvtap made by macvtap-cni keeps its MAC unless the spec names one, as KubeVirt v1.0 read it from the pod link.
  const keepLinkMac = existing !== undefined && ctx.iface.macAddress === undefined && spec.generated;
  const mac = keepLinkMac ? existing.mac.toLowerCase() : spec.mac;
  const generated = spec.generated && !keepLinkMac;
  const step: LinkStep =
    existing === undefined
      ? {
          kind: "macvtap",
          name: P,
          mac,
          ...(nadMtu === undefined ? {} : { mtu: nadMtu }),
          macvtap: { lowerDevice, mode: "bridge" },
          flushAddresses: false,
          deleteAddresses: [],
          addresses: [],
          state: "up",
        }
      : {
          kind: "existing",
          name: P,
          ifindex: existing.ifindex,
          mac,
          ...(nadMtu === undefined ? {} : { mtu: nadMtu }),
          flushAddresses: false,
          deleteAddresses: [],
          addresses: [],
          state: "up",
        };
  const mtu = nadMtu ?? existing?.mtu;
  const { mtu: _unknown, ...nic } = guestNic(ctx, { mac, mtu: mtu ?? 0, tapName: P });
  return {
    name: ctx.iface.name,
    network: ctx.network.name,
    binding,
    primary: ctx.primary,
    podInterface: P,
    podIPs: existing === undefined ? [] : podIPsOf(existing, ctx.pod),
    links: [step],
    sysctls: [],
    guest: {
      ...nic,
      // Without a known MTU the runtime reads the macvtap's (its lower device's) after creating it.
      ...(mtu !== undefined && ctx.iface.model === "virtio" ? { mtu } : {}),
      backend: { kind: "macvtap", link: P, queues: queuesOf(ctx.model, ctx.iface).count },
      ...(generated ? { macGenerated: true } : {}),
    },
  };
}

/** Core `macvtap`: only with the `Macvtap` gate (KubeVirt v1.7's string when off). */
export function planCoreMacvtap(ctx: BindingContext): InterfacePlan {
  if (!isGateEnabled(ctx.options.config, "Macvtap")) {
    throw new PlanError(PlanErrorCode.FeatureGateDisabled, "Macvtap feature gate is not enabled");
  }
  return planMacvtap(ctx, "macvtap");
}
