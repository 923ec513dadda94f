/**
 * Bridge binding: the pod link is enslaved to an in-pod bridge together with the guest's tap, and the pod's IPv4
 * address (if CNI gave one) is handed to the guest by DHCP (kubevirt-network.md §5.2, §5.8, §6.2, §6.3;
 * virtink-network.md §4.1, §5).
 */
import { createHash } from "node:crypto";
import { Family, ipv4Netmask, isGlobalUnicast, parseIpAddr, parseIpPrefix, prefixContains } from "../api/ip.ts";
import {
  antiSpoofIfOn,
  bridgeTapStep,
  extraDhcpOptions,
  guestNic,
  INFINITE_LEASE_SECONDS,
  KUBEVIRT_LEASE_SECONDS,
  kubevirtGuestMac,
  kubevirtTap,
  longestDomain,
  requirePodLink,
  VIRTINK_TAP,
} from "./common.ts";
import { addDhcpGuardRules } from "./dhcp-guard.ts";
import { PlanError, PlanErrorCode } from "./errors.ts";
import {
  kubevirtBridgeName,
  kubevirtNicName,
  kubevirtTapName,
  virtinkBridgeName,
  virtinkNicName,
  virtinkTapName,
} from "./namescheme.ts";
import type { BindingContext, DhcpRoute, Dhcpv4Plan, InterfacePlan, LinkStep, Sysctl } from "./plan.ts";
import type { LinkAddress, PodLink, PodRoute } from "./pod-facts.ts";
import { firstGlobalAddress } from "./pod-facts.ts";

/** The DHCP server identifier KubeVirt puts on the bridge: `169.254.75.1<idx>` (string concatenation). */
export function kubevirtFakeBridgeIp(index: number): string {
  // 169.254.75.1 followed by 100 or more would not be an IPv4 address.
  if (!Number.isInteger(index) || index < 0 || index > 99) {
    throw new PlanError(
      PlanErrorCode.BridgeIndexOutOfRange,
      `Cannot build the bridge address of interface index "${index}": it must be 0 to 99`,
    );
  }
  return `169.254.75.1${index}`;
}

/** Virtink's bridge address `169.254.(200+j).1/30` for the network at index j. */
export function virtinkBridgeAddress(networkIndex: number): string {
  if (!Number.isInteger(networkIndex) || networkIndex < 0 || networkIndex > 55) {
    throw new PlanError(
      PlanErrorCode.BridgeIndexOutOfRange,
      `Cannot build the bridge address of network index "${networkIndex}": it must be 0 to 55`,
    );
  }
  return `169.254.${200 + networkIndex}.1/30`;
}

/** Every global-unicast address of a link (what the dummy keeps), IPv4 first, as `ip/prefix`. */
function globalAddresses(link: PodLink): string[] {
  return [Family.V4, Family.V6].flatMap((f) =>
    link.addresses
      .filter((a) => {
        const ip = parseIpAddr(a.address);
        return ip?.family === f && isGlobalUnicast(ip);
      })
      .map((a) => `${a.address}/${a.prefix}`),
  );
}

function toDhcpRoute(r: PodRoute): DhcpRoute {
  return { destination: r.dst === "default" ? "0.0.0.0/0" : r.dst, gateway: r.gateway ?? "0.0.0.0" };
}

function isDefault(r: PodRoute): boolean {
  return r.dst === "default" || r.dst === "0.0.0.0/0";
}

/**
 * KubeVirt's bridge DHCP inputs (§5.8): the gateway is the next hop of the first IPv4 route via the pod link; the
 * routes are all IPv4 routes via it except the one to its own subnet, default routes moved to the end (option 121).
 */
export function kubevirtBridgeRoutes(
  routes: readonly PodRoute[],
  options: { readonly podIface: string; readonly address: LinkAddress },
): { gateway?: string; routes: DhcpRoute[] } {
  const { podIface, address } = options;
  const own = routes.filter((r) => r.family === Family.V4 && r.dev === podIface);
  const first = own[0];
  if (first === undefined) {
    throw new PlanError(PlanErrorCode.NoGatewayRoute, `no gateway address found in routes for ${podIface}`);
  }
  const subnet = parseIpPrefix(`${address.address}/${address.prefix}`);
  const kept = own.filter((r) => {
    if (isDefault(r) || subnet === undefined) return true;
    const dst = parseIpPrefix(r.dst);
    return !(dst && dst.prefix === subnet.prefix && prefixContains(subnet, dst.network));
  });
  return {
    ...(first.gateway ? { gateway: first.gateway } : {}),
    routes: [...kept.filter((r) => !isDefault(r)), ...kept.filter(isDefault)].map(toDhcpRoute),
  };
}

/**
 * Virtink ≤ v0.16's intended route handling (its v0.17 netlink regression is deliberately not copied): gateway from
 * the default route, default routes without a gateway skipped, default routes last.
 */
export function virtinkBridgeRoutes(
  link: string,
  routes: readonly PodRoute[],
): { gateway?: string; routes: DhcpRoute[] } {
  const own = routes.filter((r) => r.family === Family.V4 && r.dev === link);
  const gateway = own.find((r) => isDefault(r))?.gateway;
  const kept = own.filter((r) => !(isDefault(r) && r.gateway === undefined));
  return {
    ...(gateway ? { gateway } : {}),
    routes: [...kept.filter((r) => !isDefault(r)), ...kept.filter(isDefault)].map(toDhcpRoute),
  };
}

/** Plans a bridge interface, KubeVirt's or Virtink's flavour according to the model's dialect. */
export function planBridge(ctx: BindingContext): InterfacePlan {
  return ctx.model.dialect === "virtink" ? planVirtink(ctx) : planKubevirt(ctx);
}

function planKubevirt(ctx: BindingContext): InterfacePlan {
  const link = requirePodLink(ctx);
  const P = ctx.podInterface;
  const bridge = kubevirtBridgeName(P);
  const nic = kubevirtNicName(P);
  // A re-run finds the dummy under P holding the original MAC and addresses, and the real uplink already renamed.
  const renamed = link.kind === "dummy" ? ctx.pod.links.find((l) => l.name === nic.value) : undefined;
  const tap = kubevirtTapName(P, ctx.primary);
  const pod4 = firstGlobalAddress(link, Family.V4);
  const fakeIp = pod4 ? kubevirtFakeBridgeIp(ctx.index) : undefined;
  const mac = kubevirtGuestMac(ctx, link.mac);
  const links: LinkStep[] = [
    {
      kind: "bridge",
      name: bridge,
      flushAddresses: true,
      deleteAddresses: [],
      addresses: fakeIp ? [`${fakeIp}/32`] : [],
      state: "up",
    },
    {
      kind: "existing",
      name: nic,
      ifindex: renamed ? renamed.ifindex : link.ifindex,
      ...(renamed ? {} : { renameFrom: P }),
      // The bridge's MAC frees the original one for the guest.
      copyMacFrom: bridge,
      master: bridge,
      flushAddresses: true,
      deleteAddresses: [],
      addresses: [],
      state: "up",
      learning: false,
    },
    bridgeTapStep({ name: tap, spec: kubevirtTap(ctx) }, bridge, link.mtu),
    {
      kind: "dummy",
      name: P,
      mac: link.mac.toLowerCase(),
      mtu: link.mtu,
      flushAddresses: false,
      deleteAddresses: [],
      addresses: globalAddresses(link),
      state: "down",
    },
  ];
  const sysctls: Sysctl[] = pod4 ? [{ key: "net.ipv4.conf.all.arp_ignore", value: "1" }] : [];
  let dhcpv4: Dhcpv4Plan | undefined;
  // No pod IPv4 means IPAMDisabled: the guest gets plain L2 and no DHCP server runs.
  if (pod4 && fakeIp) {
    const r = kubevirtBridgeRoutes(ctx.pod.routes, { podIface: P.value, address: pod4 });
    const domainName = longestDomain(ctx.dns.search);
    dhcpv4 = {
      serverInterface: bridge,
      serverIdentifier: fakeIp,
      filterClientMac: true,
      client: {
        mac,
        ip: pod4.address,
        prefix: pod4.prefix,
        subnetMask: ipv4Netmask(pod4.prefix),
        ...(r.gateway ? { router: r.gateway } : {}),
        routes: r.routes,
        dnsServers: ctx.dns.nameserversV4,
        searchDomains: ctx.dns.search,
        ...(domainName ? { domainName } : {}),
        hostname: ctx.pod.hostname,
        mtu: link.mtu,
        leaseSeconds: KUBEVIRT_LEASE_SECONDS,
      },
      options: extraDhcpOptions(ctx.iface),
    };
    addDhcpGuardRules(ctx.nft, { bridge: bridge.value, uplink: nic.value });
  }
  const antiSpoof = antiSpoofIfOn(ctx, false, { tap, mac, ...(pod4 ? { ipv4: [pod4.address] } : {}) });
  return {
    name: ctx.iface.name,
    network: ctx.network.name,
    binding: "bridge",
    primary: ctx.primary,
    podInterface: P,
    // Bridge binding drops the pod IPv6 from its cache, so status never reports it (§5.2).
    podIPs: pod4 ? [pod4.address] : [],
    links,
    sysctls,
    ...(dhcpv4 ? { dhcpv4 } : {}),
    ...(antiSpoof ? { antiSpoof } : {}),
    guest: guestNic(ctx, { mac, mtu: link.mtu, tapName: tap }),
  };
}

/**
 * Virtink moves the uplink to a random MAC of the same vendor; vmnet derives it from the VM and link instead, so a plan
 * is reproducible. The OUI is kept, the last three octets come from SHA-256.
 */
export function sameVendorMac(original: string, seed: string): string {
  const oui = original.toLowerCase().split(/[:-]/u).slice(0, 3);
  const h = createHash("sha256").update(seed, "utf8").digest();
  const tail = [h[0] ?? 0, h[1] ?? 0, h[2] ?? 0];
  const mac = [...oui, ...tail.map((b) => b.toString(16).padStart(2, "0"))].join(":");
  if (mac !== original.toLowerCase()) return mac;
  tail[2] = (tail[2] ?? 0) ^ 1;
  return [...oui, ...tail.map((b) => b.toString(16).padStart(2, "0"))].join(":");
}

function planVirtink(ctx: BindingContext): InterfacePlan {
  const link = requirePodLink(ctx);
  const L = ctx.podInterface;
  const j = ctx.model.networks.indexOf(ctx.network);
  const bridgeAddr = virtinkBridgeAddress(j);
  const bridge = virtinkBridgeName(L);
  const tap = virtinkTapName(L);
  const pod4 = firstGlobalAddress(link, Family.V4);
  const uplink = pod4 ? virtinkNicName(L) : L;
  const originalMac = link.mac.toLowerCase();
  const links: LinkStep[] = [
    {
      kind: "bridge",
      name: bridge,
      mtu: link.mtu,
      flushAddresses: true,
      deleteAddresses: [],
      addresses: [bridgeAddr],
      state: "up",
    },
    {
      kind: "existing",
      name: uplink,
      ifindex: link.ifindex,
      ...(pod4 ? { renameFrom: L } : {}),
      mac: sameVendorMac(originalMac, `${ctx.model.namespace}/${ctx.model.name}/${L.value}`),
      master: bridge,
      flushAddresses: false,
      deleteAddresses: pod4 ? [`${pod4.address}/${pod4.prefix}`] : [],
      addresses: [],
      state: "up",
      learning: false,
    },
    ...(pod4
      ? [
          {
            kind: "dummy",
            name: L,
            flushAddresses: false,
            deleteAddresses: [],
            addresses: [`${pod4.address}/${pod4.prefix}`],
            state: "down",
          } satisfies LinkStep,
        ]
      : []),
    bridgeTapStep({ name: tap, spec: VIRTINK_TAP }, bridge, link.mtu),
  ];
  let dhcpv4: Dhcpv4Plan | undefined;
  if (pod4) {
    const r = virtinkBridgeRoutes(L.value, ctx.pod.routes);
    dhcpv4 = {
      serverInterface: bridge,
      serverIdentifier: bridgeAddr.slice(0, bridgeAddr.indexOf("/")),
      filterClientMac: true,
      client: {
        mac: originalMac,
        ip: pod4.address,
        prefix: pod4.prefix,
        subnetMask: ipv4Netmask(pod4.prefix),
        ...(r.gateway ? { router: r.gateway } : {}),
        routes: r.routes,
        dnsServers: ctx.dns.nameserversV4,
        searchDomains: ctx.dns.search,
        mtu: link.mtu,
        leaseSeconds: INFINITE_LEASE_SECONDS,
      },
      options: { ntpServers: [], privateOptions: [] },
    };
    addDhcpGuardRules(ctx.nft, { bridge: bridge.value, uplink: uplink.value });
  }
  const antiSpoof = antiSpoofIfOn(ctx, false, { tap, mac: originalMac, ...(pod4 ? { ipv4: [pod4.address] } : {}) });
  return {
    name: ctx.iface.name,
    network: ctx.network.name,
    binding: "bridge",
    primary: ctx.primary,
    podInterface: L,
    podIPs: pod4 ? [pod4.address] : [],
    links,
    // As for KubeVirt's bridge: the stand-in holding the pod IP must not make the pod answer ARP for it on the bridge,
    // or peers would send the guest's traffic to the pod's own stack.
    sysctls: pod4 ? [{ key: "net.ipv4.conf.all.arp_ignore", value: "1" }] : [],
    ...(dhcpv4 ? { dhcpv4 } : {}),
    ...(antiSpoof ? { antiSpoof } : {}),
    // Virtink ignores the spec MAC here: the guest takes the uplink's original MAC.
    guest: guestNic(ctx, { mac: originalMac, mtu: link.mtu, tapName: tap }),
  };
}
