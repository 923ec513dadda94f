/**
 * The NetworkPlan: everything the runtime must make exist in the pod netns, and everything the DHCP/RA servers and the
 * hypervisor need, for one VM. `planPod` builds it purely from the VM model, the cluster config and the pod facts
 * (reference kubevirt-network.md §5–§7, virtink-network.md §3–§5).
 */

import type { ClusterConfig } from "../api/cluster-config.ts";
import type { DomainAttachmentType } from "../api/kubevirt-cr.ts";
import type { BindingKind, Dialect, InterfaceSpec, NetworkSpec, NicModel, VmNetworkModel } from "../api/model.ts";
import { LinkState, networkOf, primaryNetwork } from "../api/model.ts";
import { planBridge } from "./bridge.ts";
import { multusNadKey } from "./common.ts";
import { PlanError, PlanErrorCode } from "./errors.ts";
import { planCoreMacvtap } from "./macvtap.ts";
import { planMasquerade } from "./masquerade.ts";
import type { InterfaceName } from "./namescheme.ts";
import { kubevirtPodInterfaceNames, virtinkLinkName } from "./namescheme.ts";
import type { NftRuleset } from "./nft.ts";
import { NftBuilder } from "./nft.ts";
import { planCorePasst } from "./passt.ts";
import type { PassthroughFacts, PassthroughPlan, SriovPlan, VdpaPlan, VhostUserPlan } from "./passthrough-types.ts";
import type { PluginRegistry } from "./plugins/plugin.ts";
import { memoryOverheadOf, planPluginInterface } from "./plugins/registry.ts";
import type { NadFacts, PodFacts, PodLink, ResolvConf } from "./pod-facts.ts";
import { applySubdomain } from "./pod-facts.ts";
import { planSlirp } from "./slirp.ts";
import { planSriov } from "./sriov.ts";
import { planVdpa } from "./vdpa.ts";
import { planVhostUser } from "./vhost-user.ts";

/** One kernel setting, with its exact sysctl key (`net.ipv4.ip_forward`). */
export interface Sysctl {
  readonly key: string;
  readonly value: string;
}

/** Tap specifics: queue count as KubeVirt computes it, and the owner the hypervisor runs as. */
export interface TapSpec {
  /** 0 for non-virtio and single-queue virtio, else the multiqueue count. */
  readonly queues: number;
  /** IFF_MULTI_QUEUE|IFF_NO_PI when queues > 1, else IFF_TUN_EXCL|IFF_ONE_QUEUE. */
  readonly multiQueue: boolean;
  /** Absent when the tap keeps the creator as owner (Virtink). */
  readonly owner?: { readonly uid: number; readonly gid: number };
}

/** Device kinds a plan creates, plus `existing` for a link CNI made. */
export const LinkKind = {
  Bridge: "bridge",
  Tap: "tap",
  Dummy: "dummy",
  Existing: "existing",
  Macvtap: "macvtap",
} as const;
export type LinkKind = (typeof LinkKind)[keyof typeof LinkKind];

/**
 * One link to create or change, applied in list order as KubeVirt's nmstate-like driver does: set down, rename, MAC,
 * MTU, master, addresses, up.
 */
export interface LinkStep {
  readonly kind: LinkKind;
  /** The name the link has after this step. */
  readonly name: InterfaceName;
  /** For `existing`: the link as CNI left it. */
  readonly ifindex?: number;
  readonly renameFrom?: InterfaceName;
  readonly mac?: string;
  /** Take the MAC of this link (created earlier in the list); never combined with `mac`. */
  readonly copyMacFrom?: InterfaceName;
  readonly mtu?: number;
  readonly master?: InterfaceName;
  /** Remove every address before adding `addresses`. */
  readonly flushAddresses: boolean;
  /** Remove only these addresses (`ip/prefix`). */
  readonly deleteAddresses: readonly string[];
  /** Addresses to add, `ip/prefix`. */
  readonly addresses: readonly string[];
  readonly state: "up" | "down";
  /** Bridge-port MAC learning; `false` turns it off on this port. */
  readonly learning?: boolean;
  readonly tap?: TapSpec;
  /** For `macvtap`: created on the lower device, then moved into the pod netns under `name`. */
  readonly macvtap?: MacvtapSpec;
}

/** A macvtap link to create (macvtap binding). */
export interface MacvtapSpec {
  /** The host device the macvtap hangs off, from the NAD's `macvtap.network.kubevirt.io/<dev>` resource name. */
  readonly lowerDevice: string;
  /** Always `bridge`: guests on one lower device reach each other, as with macvtap-cni's default. */
  readonly mode: "bridge";
}

/** A classless static route for DHCP option 121; `0.0.0.0/0` for default, gateway `0.0.0.0` when on-link. */
export interface DhcpRoute {
  readonly destination: string;
  readonly gateway: string;
}

/** The single client a DHCPv4 server serves and what it is told. */
export interface Dhcpv4Client {
  readonly mac: string;
  readonly ip: string;
  readonly prefix: number;
  readonly subnetMask: string;
  readonly router?: string;
  /** Option 121, default routes last; empty means the option is omitted. */
  readonly routes: readonly DhcpRoute[];
  /** Option 6, always sent (even empty) by KubeVirt. */
  readonly dnsServers: readonly string[];
  readonly searchDomains: readonly string[];
  /** Option 15: the longest search domain. */
  readonly domainName?: string;
  /** Option 12: the pod hostname. */
  readonly hostname?: string;
  /**
   * Option 26: the pod link's MTU. Virtink's dnsmasq sends none (it relies on virtio's device MTU); vmnet always sends
   * it, so a guest whose driver ignores the device MTU does not assume 1500 on a smaller pod network.
   */
  readonly mtu: number;
  readonly leaseSeconds: number;
}

/** User DHCP options (`dhcpOptions`). */
export interface Dhcpv4ExtraOptions {
  readonly bootFileName?: string;
  readonly tftpServerName?: string;
  readonly ntpServers: readonly string[];
  /** Only options 224–254 survive, as in KubeVirt. */
  readonly privateOptions: readonly { readonly option: number; readonly value: string }[];
}

/** A DHCPv4 server bound to one device. */
export interface Dhcpv4Plan {
  readonly serverInterface: InterfaceName;
  readonly serverIdentifier: string;
  /** Bridge binding answers only the configured MAC; masquerade answers anyone on its bridge. */
  readonly filterClientMac: boolean;
  readonly client: Dhcpv4Client;
  readonly options: Dhcpv4ExtraOptions;
}

/** A stateful DHCPv6 server giving the guest one address (vmnet also sends the search list). */
export interface Dhcpv6Plan {
  readonly serverInterface: InterfaceName;
  /** DUID-LL (type 3), hardware type 1, of this MAC. */
  readonly serverDuidMac: string;
  readonly clientAddress: string;
  readonly preferredLifetime: number;
  readonly validLifetime: number;
  readonly dnsServers: readonly string[];
  readonly searchDomains: readonly string[];
}

/** Router advertisements on the guest-facing bridge (vmnet extension; KubeVirt sends none). */
export interface RaPlan {
  readonly interface: InterfaceName;
  readonly sourceMac: string;
  /** The bridge's EUI-64 link-local address, the guest's default router. */
  readonly sourceAddress: string;
  readonly managed: boolean;
  readonly otherConfig: boolean;
  readonly curHopLimit: number;
  readonly routerLifetime: number;
  readonly minIntervalSeconds: number;
  readonly maxIntervalSeconds: number;
  readonly mtu: number;
  readonly prefixes: readonly {
    readonly prefix: string;
    readonly onLink: boolean;
    readonly autonomous: boolean;
    readonly validLifetime: number;
    readonly preferredLifetime: number;
  }[];
  readonly rdnss?: { readonly servers: readonly string[]; readonly lifetime: number };
  readonly dnssl?: { readonly domains: readonly string[]; readonly lifetime: number };
}

/** The guest side of an interface: what the hypervisor needs. */
export interface GuestNicPlan {
  /** libvirt/QEMU alias, `ua-<name>`. */
  readonly alias: string;
  readonly model: NicModel;
  /** libvirt model type: `virtio-non-transitional`, `virtio-transitional` or the model itself. */
  readonly domainModel: string;
  readonly mac: string;
  /** Absent where the hypervisor cannot pass it (non-virtio, per the seeds' MTU table). */
  readonly mtu?: number;
  /** `queues` attribute, only with virtio multiqueue. */
  readonly queues?: number;
  /** What status reports as queueCount. */
  readonly queueCount: number;
  readonly pciAddress?: string;
  readonly bootOrder?: number;
  readonly acpiIndex?: number;
  readonly linkState: "up" | "down";
  /**
   * The tap QEMU opens when `backend` is absent. With a `backend`, the pod link that backend serves instead (passt's
   * and slirp's pod interface, the macvtap link): no tap of that name exists then.
   */
  readonly tapName: InterfaceName;
  /** How QEMU reaches the network when not through `tapName` as a tap; absent for tap-attached NICs. */
  readonly backend?: GuestBackend;
  /**
   * Present (true) when `mac` was derived by vmnet because neither the spec nor status gave one: the hypervisor may
   * leave the MAC to QEMU for passt and slirp; macvtap needs it.
   */
  readonly macGenerated?: true;
}

/** A guest NIC backend other than a planned tap (consumed by the hypervisor layer). */
export type GuestBackend =
  /** passt's unix stream socket: QEMU `-netdev stream,addr.type=unix,addr.path=<socketPath>`. */
  | { readonly kind: "stream"; readonly socketPath: string }
  /** QEMU user networking (slirp): `-netdev user,net=<net>,dnssearch=…,hostfwd=…`. */
  | {
      readonly kind: "user";
      readonly net: string;
      readonly dnsSearch: readonly string[];
      readonly hostForwards: readonly { readonly protocol: "tcp" | "udp"; readonly port: number }[];
    }
  /**
   * A macvtap link: the runtime opens its character device `queues` times and hands QEMU the fds. ifindexes are per
   * netns, so the device is best found from the pod netns' `/sys/class/net/<link>/macvtap/tap<N>/dev` (major:minor)
   * after the link was moved in, not by assuming `/dev/tap<ifindex>`.
   */
  | { readonly kind: "macvtap"; readonly link: InterfaceName; readonly queues: number };

/** A process the runtime starts in the pod netns for one interface (passt). */
export interface ProcessPlan {
  readonly binary: string;
  readonly args: readonly string[];
  /** The unix socket the process listens on; the runtime waits for it before starting QEMU. */
  readonly socketPath: string;
  /** Directory the runtime creates (owned by `runAs`) before starting the process. */
  readonly stateDir: string;
  /** uid/gid the process drops to (`--runas`); it creates the socket after dropping, so the dir must allow it. */
  readonly runAs: { readonly uid: number; readonly gid: number };
  /** RLIMIT_NOFILE the process needs beyond the usual, when it binds every port (passt without a port list). */
  readonly openFiles?: number;
}

/** What a binding plugin brings to an interface (KubeVirt CR `spec.configuration.network.binding.<name>`). */
export interface PluginPlan {
  readonly name: string;
  /** `tap`, `managedTap`, or absent (a sidecar would edit the domain in KubeVirt). */
  readonly domainAttachment?: DomainAttachmentType;
  readonly sidecarImage?: string;
  /** The extra Multus selection element of §4.1, when the plugin names a NAD. */
  readonly networkSelection?: PluginNetworkSelection;
  /** Present when the plugin is migratable; `link-refresh` toggles the guest link after migration. */
  readonly migration?: { readonly method?: string };
  /** `device-info`: the runtime writes the network-info file (see plugins/device-info.ts). */
  readonly downwardAPI?: "device-info";
  /** `computeResourceOverhead.requests.memory`, as written. */
  readonly memoryOverhead?: string;
}

/** `{"name":…,"namespace":…,"cni-args":{"logicNetworkName":…}}`, keys in Multus' Go struct order. */
export interface PluginNetworkSelection {
  readonly name: string;
  readonly namespace: string;
  readonly "cni-args": { readonly logicNetworkName: string };
}

/** Launcher memory overhead from networking (§4.4): the sum of `sources`. */
export interface MemoryOverheadPlan {
  readonly bytes: number;
  readonly sources: readonly { readonly source: string; readonly quantity: string }[];
}

/** Layer-2/3 source filtering on a guest tap (vmnet extension). */
export interface AntiSpoofPlan {
  readonly tap: InterfaceName;
  readonly mac: string;
  /** Allowed IPv4 sources besides 0.0.0.0; absent means IPv4 is not filtered. */
  readonly ipv4?: readonly string[];
  /** Allowed IPv6 sources besides :: and fe80::/10; absent means IPv6 is not filtered. */
  readonly ipv6?: readonly string[];
}

/**
 * Everything planned for one tap-like guest interface (a pod link the hypervisor reaches through a tap, a macvtap or
 * a backend process). Passthrough interfaces (sriov, vdpa, vhostUser) are {@link PassthroughPlan}s instead.
 */
export interface InterfacePlan {
  readonly name: string;
  readonly network: string;
  readonly binding: BindingKind;
  readonly primary: boolean;
  /** The pod link CNI created for this network (`eth0`, `pod<hash>`, `net<N>`). */
  readonly podInterface: InterfaceName;
  /** Pod link addresses KubeVirt caches for status: first global IPv4 and IPv6. */
  readonly podIPs: readonly string[];
  readonly links: readonly LinkStep[];
  readonly sysctls: readonly Sysctl[];
  readonly dhcpv4?: Dhcpv4Plan;
  readonly dhcpv6?: Dhcpv6Plan;
  readonly ra?: RaPlan;
  readonly antiSpoof?: AntiSpoofPlan;
  /** passt: the process serving the guest (core `passt`, `passtBinding`, the passt plugin). */
  readonly process?: ProcessPlan;
  /** Set for `binding: {name}` interfaces. */
  readonly plugin?: PluginPlan;
  readonly guest: GuestNicPlan;
}

/** The plan for a whole pod. */
export interface NetworkPlan {
  readonly dialect: Dialect;
  /** The tap-like interfaces, in `interfaces` order; passthrough ones are in `passthrough`. */
  readonly interfaces: readonly InterfacePlan[];
  /**
   * SR-IOV VFs, vDPA devices and vhost-user NICs, in `interfaces` order; absent when the VM has none. Nothing of them
   * lives in the pod netns: the hypervisor layers render them (sriov.ts, vdpa.ts, vhost-user.ts adapters) and status
   * reports them.
   */
  readonly passthrough?: readonly PassthroughPlan[];
  /** All interfaces' sysctls, deduplicated, in first-seen order. */
  readonly sysctls: readonly Sysctl[];
  /** The pod's one nftables ruleset. */
  readonly nft: NftRuleset;
  /** Absent when no binding adds any (bridge and masquerade never do). */
  readonly memoryOverhead?: MemoryOverheadPlan;
}

/** Options of {@link planPod}. */
export interface PlanPodOptions {
  readonly config: ClusterConfig;
  readonly pod: PodFacts;
  /** When given, every Multus network must name one of these. macvtap reads `resourceName` and the config's MTU. */
  readonly nads?: readonly PlanNad[];
  /** Guest MACs known from before (`status.interfaces[].mac`, e.g. after migration), by interface name. */
  readonly guestMacs?: Readonly<Record<string, string>>;
  /** `status.interfaces[].podInterfaceName` by network name (dynamic naming). */
  readonly podInterfaceNames?: Readonly<Record<string, string>>;
  /** Anti-spoofing per interface name; default on for masquerade, off for bridge. */
  readonly antiSpoofing?: Readonly<Record<string, boolean>>;
  /** `status.runtimeUser != 0`: taps owned by 107 instead of 0. Default true. */
  readonly nonRoot?: boolean;
  /** Istio sidecar injected: KubeVirt's Istio variant of the masquerade rules. */
  readonly istio?: boolean;
  /** Keep the legacy migration ports 49152/49153 out of NAT (`migrationTransport != "Unix"`). Default false. */
  readonly legacyMigrationPorts?: boolean;
  /**
   * Per-pod directory for sockets and logs of processes the plan starts (passt). Default
   * `/run/vmnet/<namespace>/<name>`; the socket path must stay under 108 bytes.
   */
  readonly runDir?: string;
  /** Binding plugins beyond the built-in ones (passt, slirp, macvtap, and tap/managedTap attachments). */
  readonly plugins?: PluginRegistry;
  /**
   * What sriov, vdpa and vhostUser interfaces are planned from: the pod's parsed Multus network-status (`[]` while the
   * annotation is not written yet) and Virtink's vhost-user environment. Required as soon as such an interface exists.
   */
  readonly passthrough?: PassthroughFacts;
}

/** A NAD as the planner sees it: {@link NadFacts} plus the `k8s.v1.cni.cncf.io/resourceName` annotation. */
export interface PlanNad extends NadFacts {
  readonly resourceName?: string;
}

/** What a binding planner gets for one interface. */
export interface BindingContext {
  readonly model: VmNetworkModel;
  readonly iface: InterfaceSpec;
  readonly network: NetworkSpec;
  /** Position of the interface in `interfaces` (the launcher's index, §6.3). */
  readonly index: number;
  readonly primary: boolean;
  readonly podInterface: InterfaceName;
  readonly podLink: PodLink | undefined;
  readonly pod: PodFacts;
  /** resolv.conf with the subdomain rule applied. */
  readonly dns: ResolvConf;
  readonly options: PlanPodOptions;
  readonly nft: NftBuilder;
}

/**
 * The passthrough facts an interface's binding reads, or PlanError `passthrough_facts_missing` naming the interface
 * and the missing fact: planning without them would silently give no device (sriov, vdpa) or a misleading Virtink
 * message (vhostUser).
 */
function requirePassthroughFacts(ctx: BindingContext, kind: "sriov" | "vdpa" | "vhostUser"): void {
  const facts = ctx.options.passthrough;
  const missing =
    kind === "vhostUser"
      ? facts?.vhostUser === undefined
        ? "the vhost-user environment (passthrough.vhostUser: NET_TYPE, VHOST_USER_SOCKET or USERSPACE_CONFIGURATION_DATA)"
        : undefined
      : facts?.networkStatus === undefined
        ? "the pod's network-status (passthrough.networkStatus, [] before Multus writes it)"
        : undefined;
  if (missing === undefined) return;
  throw new PlanError(
    PlanErrorCode.PassthroughFactsMissing,
    `Cannot plan interface "${ctx.iface.name}" (binding "${kind}"): ${missing} is not given`,
  );
}

/** Dispatches a passthrough binding to its planner. */
function planPassthrough(ctx: BindingContext, kind: "sriov" | "vdpa" | "vhostUser"): PassthroughPlan {
  requirePassthroughFacts(ctx, kind);
  switch (kind) {
    case "sriov":
      return planSriov(ctx);
    case "vdpa":
      return planVdpa(ctx);
    case "vhostUser":
      return planVhostUser(ctx);
  }
}

/**
 * Plans the pod side of every non-absent interface of `model`, dispatching by binding, plus the one nftables ruleset.
 * Tap-like interfaces go to `interfaces`, sriov/vdpa/vhostUser ones to `passthrough`. Throws PlanError.
 */
export function planPod(model: VmNetworkModel, options: PlanPodOptions): NetworkPlan {
  const primary = primaryNetwork(model);
  const names = kubevirtPodInterfaceNames(model, {
    existingLinks: options.pod.links.map((l) => l.name),
    ...(options.podInterfaceNames ? { overrides: options.podInterfaceNames } : {}),
  });
  const dns: ResolvConf = model.subdomain
    ? { ...options.pod.resolvConf, search: applySubdomain(options.pod.resolvConf.search, model.subdomain) }
    : options.pod.resolvConf;
  const nft = new NftBuilder();
  const plans: InterfacePlan[] = [];
  const passthrough: PassthroughPlan[] = [];
  model.interfaces.forEach((iface, index) => {
    if (iface.state === LinkState.Absent) return;
    const network = networkOf(model, iface);
    if (!network) throw new PlanError(PlanErrorCode.NetworkNotFound, `failed to find network ${iface.name}`);
    if (options.nads && network.source.kind === "multus") {
      const key = multusNadKey(model, network.source.networkName);
      if (!options.nads.some((n) => n.namespace === key.namespace && n.name === key.name)) {
        throw new PlanError(
          PlanErrorCode.NadNotFound,
          `failed to locate network attachment definition ${key.namespace}/${key.name}`,
        );
      }
    }
    const podInterface = model.dialect === "virtink" ? virtinkLinkName(model, network) : names.get(network.name);
    if (!podInterface) throw new PlanError(PlanErrorCode.NetworkNotFound, `failed to find network ${network.name}`);
    const ctx: BindingContext = {
      model,
      iface,
      network,
      index,
      primary: network === primary,
      podInterface,
      podLink: options.pod.links.find((l) => l.name === podInterface.value),
      pod: options.pod,
      dns,
      options,
      nft,
    };
    switch (iface.binding.kind) {
      case "bridge":
        plans.push(planBridge(ctx));
        break;
      case "masquerade":
        plans.push(planMasquerade(ctx));
        break;
      case "passt":
      case "passtBinding":
        plans.push(planCorePasst(ctx, iface.binding.kind));
        break;
      case "slirp":
        plans.push(planSlirp(ctx));
        break;
      case "macvtap":
        plans.push(planCoreMacvtap(ctx));
        break;
      case "plugin":
        plans.push(planPluginInterface(ctx, iface.binding.name));
        break;
      case "sriov":
      case "vdpa":
      case "vhostUser":
        passthrough.push(planPassthrough(ctx, iface.binding.kind));
        break;
      default: {
        const unknown: never = iface.binding;
        throw new TypeError(`Cannot plan interface "${iface.name}": unknown binding ${JSON.stringify(unknown)}`);
      }
    }
  });
  const sysctls: Sysctl[] = [];
  for (const p of plans) {
    for (const s of p.sysctls) if (!sysctls.some((x) => x.key === s.key && x.value === s.value)) sysctls.push(s);
  }
  const memoryOverhead = memoryOverheadOf(plans);
  return {
    dialect: model.dialect,
    interfaces: plans,
    sysctls,
    nft: nft.build(),
    ...(passthrough.length === 0 ? {} : { passthrough }),
    ...(memoryOverhead === undefined ? {} : { memoryOverhead }),
  };
}

/** A plan's passthrough devices split by kind, each in interface order (the inputs of the sriov/vdpa/vhost-user adapters). */
export interface PassthroughByKind {
  readonly sriov: readonly SriovPlan[];
  readonly vdpa: readonly VdpaPlan[];
  readonly vhostUser: readonly VhostUserPlan[];
}

/** {@link NetworkPlan.passthrough} split by kind; empty lists when the plan has none. */
export function passthroughByKind(plan: NetworkPlan): PassthroughByKind {
  const all = plan.passthrough ?? [];
  return {
    sriov: all.filter((p): p is SriovPlan => p.kind === "sriov"),
    vdpa: all.filter((p): p is VdpaPlan => p.kind === "vdpa"),
    vhostUser: all.filter((p): p is VhostUserPlan => p.kind === "vhostUser"),
  };
}
