/**
 * Masquerade binding: the guest sits behind NAT on a private subnet of an in-pod bridge (kubevirt-network.md §5.3,
 * §5.4, §6.2, §6.4; virtink-network.md §4.2, §5). vmnet adds router advertisements and stateful DHCPv6 with DNS and
 * search list, so an IPv6 guest configures itself fully.
 */
import { isGateEnabled } from "../api/cluster-config.ts";
import type { IpAddr, IpPrefix } from "../api/ip.ts";
import { bitsOf, Family, formatIpAddr, formatIpPrefix, ipv4Netmask, offsetIp, parseIpPrefix } from "../api/ip.ts";
import type { Protocol } from "../api/model.ts";
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
import { PlanError, PlanErrorCode } from "./errors.ts";
import type { InterfaceName } from "./namescheme.ts";
import { kubevirtBridgeName, kubevirtTapName, virtinkBridgeName, virtinkTapName } from "./namescheme.ts";
import type { NftElement, NftMatch, NftRule } from "./nft.ts";
import { NftFamily } from "./nft.ts";
import type { BindingContext, Dhcpv4Plan, Dhcpv6Plan, InterfacePlan, LinkStep, RaPlan, Sysctl } from "./plan.ts";
import { firstGlobalAddress, podIPsOf } from "./pod-facts.ts";

/** KubeVirt's default `vmNetworkCIDR`. */
export const DEFAULT_VM_CIDR = "10.0.2.0/24";
/** KubeVirt's default `vmIPv6NetworkCIDR`. */
export const DEFAULT_VM_IPV6_CIDR = "fd10:0:2::/120";
/** Virtink's default `masquerade.cidr`. */
export const VIRTINK_DEFAULT_CIDR = "10.0.2.0/30";
/** The masquerade bridge MAC KubeVirt reserves. */
export const MASQUERADE_BRIDGE_MAC = "02:00:00:00:00:00";
/** The EUI-64 link-local address the kernel derives from {@link MASQUERADE_BRIDGE_MAC}. */
export const MASQUERADE_BRIDGE_LINK_LOCAL = "fe80::ff:fe00:0";
/** Istio's reserved ports, never NATed to the guest. */
export const ISTIO_RESERVED_PORTS = [15000, 15001, 15004, 15006, 15008, 15009, 15020, 15021, 15053, 15090] as const;
/** Ports of pre-Unix-socket migration that stay in the pod. */
export const LEGACY_MIGRATION_PORTS = [49152, 49153] as const;

/** The two addresses a masquerade subnet provides. */
export interface MasqueradeAddresses {
  readonly cidr: IpPrefix;
  readonly gateway: IpAddr;
  readonly guest: IpAddr;
}

/**
 * Checks a KubeVirt VM CIDR the way virt-handler does and derives gateway (network + 1) and guest (network + 2).
 * `family` is the family the CIDR must have.
 */
export function kubevirtMasqueradeAddresses(text: string, family: Family): MasqueradeAddresses {
  const cidr = parseIpPrefix(text);
  if (cidr === undefined || cidr.ip.family !== family) {
    throw new PlanError(PlanErrorCode.VmCidrInvalid, `failed to parse VM CIDR: ${text}, invalid CIDR address: ${text}`);
  }
  if (cidr.prefix > bitsOf(family) - 2) {
    throw new PlanError(
      PlanErrorCode.VmCidrTooSmall,
      `VM CIDR subnet is too small, at least 2 host addresses are required: ${text}`,
    );
  }
  return addressesOf(cidr);
}

/** The launcher's own check (index 1 is the gateway, 2 the guest): a network must hold at least 4 addresses. */
export function addressesOf(cidr: IpPrefix): MasqueradeAddresses {
  if (bitsOf(cidr.network.family) - cidr.prefix < 2) {
    throw new PlanError(PlanErrorCode.TooFewAddresses, "less than 4 addresses on network");
  }
  const gateway = offsetIp(cidr.network, 1);
  const guest = offsetIp(cidr.network, 2);
  if (!gateway || !guest) throw new PlanError(PlanErrorCode.TooFewAddresses, "less than 4 addresses on network");
  return { cidr, gateway, guest };
}

/** Virtink's derivation: gateway and guest by `nextIP`, which fails once it leaves the subnet. */
export function virtinkMasqueradeAddresses(text: string): MasqueradeAddresses {
  const cidr = parseIpPrefix(text);
  if (cidr === undefined || cidr.ip.family !== Family.V4) {
    throw new PlanError(PlanErrorCode.VmCidrInvalid, `failed to parse VM CIDR: ${text}, invalid CIDR address: ${text}`);
  }
  const size = 1n << BigInt(32 - cidr.prefix);
  if (size < 3n) {
    throw new PlanError(PlanErrorCode.NoMoreAddresses, `no more available IP in subnet "${formatIpPrefix(cidr)}"`);
  }
  const gateway = offsetIp(cidr.network, 1);
  const guest = offsetIp(cidr.network, 2);
  if (!gateway || !guest) {
    throw new PlanError(PlanErrorCode.NoMoreAddresses, `no more available IP in subnet "${formatIpPrefix(cidr)}"`);
  }
  return { cidr, gateway, guest };
}

/** Plans a masquerade interface, KubeVirt's or Virtink's flavour according to the model's dialect. */
export function planMasquerade(ctx: BindingContext): InterfacePlan {
  return ctx.model.dialect === "virtink" ? planVirtink(ctx) : planKubevirt(ctx);
}

function planKubevirt(ctx: BindingContext): InterfacePlan {
  const link = requirePodLink(ctx);
  const source = ctx.network.source;
  const pod4 = firstGlobalAddress(link, Family.V4);
  const pod6 = firstGlobalAddress(link, Family.V6);
  const v4 = pod4
    ? kubevirtMasqueradeAddresses((source.kind === "pod" && source.vmNetworkCIDR) || DEFAULT_VM_CIDR, Family.V4)
    : undefined;
  const v6 = pod6
    ? kubevirtMasqueradeAddresses(
        (source.kind === "pod" && source.vmIPv6NetworkCIDR) || DEFAULT_VM_IPV6_CIDR,
        Family.V6,
      )
    : undefined;
  const bridge = kubevirtBridgeName(ctx.podInterface);
  const tap = kubevirtTapName(ctx.podInterface, ctx.primary);
  const mac = kubevirtGuestMac(ctx, link.mac);
  const gwAddr = (a: MasqueradeAddresses) => `${formatIpAddr(a.gateway)}/${a.cidr.prefix}`;
  const links: LinkStep[] = [
    {
      kind: "bridge",
      name: bridge,
      mac: MASQUERADE_BRIDGE_MAC,
      mtu: link.mtu,
      flushAddresses: true,
      deleteAddresses: [],
      addresses: [...(v4 ? [gwAddr(v4)] : []), ...(v6 ? [gwAddr(v6)] : [])],
      state: "up",
    },
    bridgeTapStep({ name: tap, spec: kubevirtTap(ctx) }, bridge, link.mtu),
  ];
  const sysctls: Sysctl[] = [];
  if (v4) sysctls.push({ key: `net.ipv4.conf.${bridge.value}.route_localnet`, value: "1" });
  if (v4) sysctls.push({ key: "net.ipv4.ip_forward", value: "1" });
  if (v6) sysctls.push({ key: "net.ipv6.conf.all.forwarding", value: "1" });

  for (const a of [v4, v6]) if (a) addKubevirtNat(ctx, a, bridge, pod4?.address);

  const search = ctx.dns.search;
  const domainName = longestDomain(search);
  const dhcpv4: Dhcpv4Plan | undefined = v4 && {
    serverInterface: bridge,
    serverIdentifier: formatIpAddr(v4.gateway),
    filterClientMac: false,
    client: {
      mac,
      ip: formatIpAddr(v4.guest),
      prefix: v4.cidr.prefix,
      subnetMask: ipv4Netmask(v4.cidr.prefix),
      router: formatIpAddr(v4.gateway),
      routes: [],
      dnsServers: ctx.dns.nameserversV4,
      searchDomains: search,
      ...(domainName ? { domainName } : {}),
      hostname: ctx.pod.hostname,
      mtu: link.mtu,
      leaseSeconds: KUBEVIRT_LEASE_SECONDS,
    },
    options: extraDhcpOptions(ctx.iface),
  };
  const dhcpv6: Dhcpv6Plan | undefined = v6 && {
    serverInterface: bridge,
    serverDuidMac: MASQUERADE_BRIDGE_MAC,
    clientAddress: formatIpAddr(v6.guest),
    preferredLifetime: KUBEVIRT_LEASE_SECONDS,
    validLifetime: KUBEVIRT_LEASE_SECONDS,
    dnsServers: ctx.dns.nameserversV6,
    searchDomains: search,
  };
  const ra: RaPlan | undefined = v6 && routerAdvertisement(bridge, v6, link.mtu, ctx.dns.nameserversV6, search);
  const antiSpoof = antiSpoofIfOn(ctx, true, {
    tap,
    mac,
    ipv4: v4 ? [formatIpAddr(v4.guest)] : [],
    ipv6: v6 ? [formatIpAddr(v6.guest)] : [],
  });
  return {
    name: ctx.iface.name,
    network: ctx.network.name,
    binding: "masquerade",
    primary: ctx.primary,
    podInterface: ctx.podInterface,
    podIPs: podIPsOf(link, ctx.pod),
    links,
    sysctls,
    ...(dhcpv4 ? { dhcpv4 } : {}),
    ...(dhcpv6 ? { dhcpv6 } : {}),
    ...(ra ? { ra } : {}),
    ...(antiSpoof ? { antiSpoof } : {}),
    guest: guestNic(ctx, { mac, mtu: link.mtu, tapName: tap }),
  };
}

/** RA interval bounds (RFC 4861 §6.2.1 defaults) and lifetimes derived from them. */
const RA_MAX_INTERVAL = 600;
const RA_MIN_INTERVAL = 200;
const RA_ROUTER_LIFETIME = 3 * RA_MAX_INTERVAL;

function routerAdvertisement(
  bridge: InterfaceName,
  v6: MasqueradeAddresses,
  mtu: number,
  dns: readonly string[],
  search: readonly string[],
): RaPlan {
  return {
    interface: bridge,
    sourceMac: MASQUERADE_BRIDGE_MAC,
    sourceAddress: MASQUERADE_BRIDGE_LINK_LOCAL,
    // M=1 and O=1: addresses and DNS come from DHCPv6; the prefix is on-link only (A=0), the guest gets ::2.
    managed: true,
    otherConfig: true,
    curHopLimit: 64,
    routerLifetime: RA_ROUTER_LIFETIME,
    minIntervalSeconds: RA_MIN_INTERVAL,
    maxIntervalSeconds: RA_MAX_INTERVAL,
    mtu,
    prefixes: [
      {
        prefix: formatIpPrefix(v6.cidr),
        onLink: true,
        autonomous: false,
        validLifetime: INFINITE_LEASE_SECONDS,
        preferredLifetime: INFINITE_LEASE_SECONDS,
      },
    ],
    // RFC 8106 §5.1: a lifetime of at least 3 × MaxRtrAdvInterval survives two lost RAs.
    ...(dns.length > 0 ? { rdnss: { servers: dns, lifetime: RA_ROUTER_LIFETIME } } : {}),
    ...(search.length > 0 ? { dnssl: { domains: search, lifetime: RA_ROUTER_LIFETIME } } : {}),
  };
}

const PRE = "KUBEVIRT_PREINBOUND";
const POST = "KUBEVIRT_POSTINBOUND";
const TABLE = "nat";

type L4 = "tcp" | "udp";

function l4(p: Protocol | string): L4 {
  return p.toLowerCase() === "udp" ? "udp" : "tcp";
}

/** KubeVirt's masquerade rules of §5.4 for one family, with port lists in named interval sets. */
function addKubevirtNat(
  ctx: BindingContext,
  a: MasqueradeAddresses,
  bridge: InterfaceName,
  podIPv4: string | undefined,
): void {
  const f = a.cidr.network.family === Family.V4 ? NftFamily.Ip : NftFamily.Ip6;
  const nf = f as "ip" | "ip6";
  const G = formatIpAddr(a.guest);
  const GW = formatIpAddr(a.gateway);
  const LO = f === NftFamily.Ip ? "127.0.0.1" : "::1";
  const istio = ctx.options.istio === true;
  const podIface = ctx.podInterface.value;
  const nft = ctx.nft.table(f, TABLE);
  nft
    .chain("prerouting", { type: "nat", hook: "prerouting", priority: -100, policy: "accept" })
    .chain("input", { type: "nat", hook: "input", priority: 100, policy: "accept" })
    .chain("output", { type: "nat", hook: "output", priority: -100, policy: "accept" })
    .chain("postrouting", { type: "nat", hook: "postrouting", priority: 100, policy: "accept" })
    .chain(PRE)
    .chain(POST);
  const add = (chain: string, matches: NftMatch[], verdict: NftRule["verdict"]) =>
    nft.rule(chain, { matches, counter: true, verdict });
  const saddr = (right: NftMatch["right"]): NftMatch => ({
    op: "==",
    left: { payload: { protocol: nf, field: "saddr" } },
    right,
  });
  const daddr = (right: NftMatch["right"]): NftMatch => ({
    op: "==",
    left: { payload: { protocol: nf, field: "daddr" } },
    right,
  });
  const dport = (p: L4, right: NftMatch["right"]): NftMatch => ({
    op: "==",
    left: { payload: { protocol: p, field: "dport" } },
    right,
  });
  const dnatG = { kind: "dnat", addr: G } as const;

  add("postrouting", [saddr(G)], { kind: "masquerade" });
  add("prerouting", [{ op: "==", left: { meta: "iifname" }, right: podIface }], { kind: "jump", target: PRE });
  add("postrouting", [{ op: "==", left: { meta: "oifname" }, right: bridge.value }], { kind: "jump", target: POST });
  if (ctx.options.legacyMigrationPorts) {
    const m = [dport("tcp", { set: [...LEGACY_MIGRATION_PORTS] }), saddr(LO)];
    add("output", m, { kind: "return" });
    add(POST, m, { kind: "return" });
  }
  const D = { set: istio && f === NftFamily.Ip ? [LO, ...(podIPv4 ? [podIPv4] : [])] : [LO] };
  const S = { set: istio && f === NftFamily.Ip ? [LO, "127.0.0.6"] : [LO] };

  // Ports and (gate permitting) port ranges, grouped by protocol in order of first appearance.
  // Admission lets the same port appear twice, but one interval set must not get the same element twice.
  const byProto = new Map<L4, NftElement[]>();
  const addElement = (p: L4, e: NftElement) => {
    const list = byProto.get(p) ?? [];
    if (!list.some((x) => JSON.stringify(x) === JSON.stringify(e))) list.push(e);
    byProto.set(p, list);
  };
  for (const p of ctx.iface.ports) addElement(l4(p.protocol), p.port);
  if (isGateEnabled(ctx.options.config, "PortRangesSpec")) {
    for (const r of ctx.iface.portRanges)
      addElement(l4(r.protocol), r.start === r.end ? r.start : { range: [r.start, r.end] });
  }
  if (byProto.size > 0) {
    for (const [p, elements] of byProto) {
      const set = `kubevirt_${p}_ports`;
      nft.set({ name: set, type: "inet_service", interval: true, elements });
      if (!istio) add(PRE, [dport(p, { setRef: set })], dnatG);
      else if (p === "tcp" && elements.some((e) => covers(e, 22))) add(PRE, [dport("tcp", { set: [22] })], dnatG);
      add(POST, [dport(p, { setRef: set }), saddr(S)], { kind: "snat", addr: GW });
      add("output", [daddr(D), dport(p, { setRef: set })], dnatG);
    }
    return;
  }
  if (!istio) add(PRE, [], dnatG);
  else {
    const reserved = [dport("tcp", { set: [...ISTIO_RESERVED_PORTS] }), saddr(LO)];
    add("output", reserved, { kind: "return" });
    add(POST, reserved, { kind: "return" });
    add(PRE, [dport("tcp", { set: [22] })], dnatG);
  }
  add(POST, [saddr(S)], { kind: "snat", addr: GW });
  add("output", [daddr(D)], dnatG);
}

function covers(e: NftElement, port: number): boolean {
  if (typeof e === "number") return e === port;
  if (typeof e === "string") return e === String(port);
  return e.range[0] <= port && port <= e.range[1];
}

function planVirtink(ctx: BindingContext): InterfacePlan {
  const link = requirePodLink(ctx);
  const cidrText = (ctx.iface.binding.kind === "masquerade" && ctx.iface.binding.cidr) || VIRTINK_DEFAULT_CIDR;
  const a = virtinkMasqueradeAddresses(cidrText);
  const L = ctx.podInterface;
  const bridge = virtinkBridgeName(L);
  const tap = virtinkTapName(L);
  const mac = (ctx.iface.macAddress ?? link.mac).toLowerCase();
  const G = formatIpAddr(a.guest);
  const links: LinkStep[] = [
    {
      kind: "bridge",
      name: bridge,
      mtu: link.mtu,
      flushAddresses: true,
      deleteAddresses: [],
      addresses: [`${formatIpAddr(a.gateway)}/${a.cidr.prefix}`],
      state: "up",
    },
    bridgeTapStep({ name: tap, spec: VIRTINK_TAP }, bridge, link.mtu),
  ];
  // The nft equivalents of Virtink's two iptables rules (iptables-translate), in the order Virtink appends them.
  const f = NftFamily.Ip;
  ctx.nft
    .table(f, "nat")
    .chain("POSTROUTING", { type: "nat", hook: "postrouting", priority: 100, policy: "accept" })
    .chain("PREROUTING", { type: "nat", hook: "prerouting", priority: -100, policy: "accept" })
    .rule("POSTROUTING", {
      matches: [{ op: "==", left: { meta: "oifname" }, right: L.value }],
      counter: true,
      verdict: { kind: "masquerade" },
    })
    .rule("PREROUTING", {
      matches: [{ op: "==", left: { meta: "iifname" }, right: L.value }],
      counter: true,
      verdict: { kind: "dnat", addr: G },
    });
  const antiSpoof = antiSpoofIfOn(ctx, true, { tap, mac, ipv4: [G], ipv6: [] });
  return {
    name: ctx.iface.name,
    network: ctx.network.name,
    binding: "masquerade",
    primary: ctx.primary,
    podInterface: L,
    podIPs: podIPsOf(link, ctx.pod),
    links,
    sysctls: [{ key: "net.ipv4.ip_forward", value: "1" }],
    dhcpv4: {
      serverInterface: bridge,
      serverIdentifier: formatIpAddr(a.gateway),
      filterClientMac: true,
      client: {
        mac,
        ip: G,
        prefix: a.cidr.prefix,
        subnetMask: ipv4Netmask(a.cidr.prefix),
        router: formatIpAddr(a.gateway),
        // Virtink sends an empty option 121 here; vmnet omits it so RFC 3442 clients keep the router (quirk §9.2).
        routes: [],
        dnsServers: ctx.dns.nameserversV4,
        searchDomains: ctx.dns.search,
        mtu: link.mtu,
        leaseSeconds: INFINITE_LEASE_SECONDS,
      },
      options: { ntpServers: [], privateOptions: [] },
    },
    ...(antiSpoof ? { antiSpoof } : {}),
    guest: guestNic(ctx, { mac, mtu: link.mtu, tapName: tap }),
  };
}
