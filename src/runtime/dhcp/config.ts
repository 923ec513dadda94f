/**
 * From the plan's per-interface `dhcpv4`, `dhcpv6` and `ra` plans to the protocol cores' configurations, grouped by
 * the device they are served on. Pure: the agent maps and validates by building the servers once before any socket
 * is made, so a bad search domain fails `start()` instead of looping the pod's reopen-with-backoff. The result is plain
 * data (names as strings, not the plan's `InterfaceName` objects).
 *
 * Where the plan and the cores disagree in shape, this file is the one place that adapts:
 * - Dhcpv4Client carries both `prefix` and `subnetMask`; they must agree.
 * - Dhcpv4Client.routes uses `destination`/`gateway`, the core `dst`/`gateway`; names and `prefix`/`prefixLength`,
 *   `dnsServers`/`dns`, `filterClientMac`/`anyClient` (inverted) are renamed here.
 * - RaPlan.prefixes is a list of `prefix/length` texts; RouterAdvertiserConfig takes one prefix: more than one is
 *   refused rather than silently dropped.
 * - RaPlan gives RDNSS and DNSSL separate lifetimes; RouterAdvertiserConfig has one `dnsLifetime`: they must agree.
 * - Dhcpv6Plan has no T1/T2: 0 (the client chooses), as KubeVirt sends.
 */
import { ipv4Netmask } from "../../api/ip.ts";
import { RouterAdvertiser, type RouterAdvertiserConfig } from "../../dhcp/ra/advertiser.ts";
import type { Dhcp4ClientBinding, Dhcp4InterfaceConfig, Dhcp4ServerConfig } from "../../dhcp/v4/config.ts";
import { Dhcp4Server } from "../../dhcp/v4/server.ts";
import { Dhcp6Server, type Dhcp6ServerConfig } from "../../dhcp/v6/server.ts";
import type { Dhcpv4Plan, Dhcpv6Plan, InterfacePlan, RaPlan } from "../../plan/plan.ts";

/** The part of an {@link InterfacePlan} the DHCP agent reads; an InterfacePlan can be passed as is. */
export type DhcpInterfacePlan = Pick<InterfacePlan, "dhcpv4" | "dhcpv6" | "ra">;

/** Everything served on one device of the pod (a bridge such as `k6t-eth0`). Plain data. */
export interface ServedInterface {
  readonly ifname: string;
  /** A configuration with exactly one interface (the pod server binds one socket, and one server, per device). */
  readonly dhcpv4?: Dhcp4ServerConfig;
  readonly dhcpv6?: Dhcp6ServerConfig;
  readonly ra?: RouterAdvertiserConfig;
}

function netmask(prefix: number): string {
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) {
    throw new RangeError(`Cannot use IPv4 prefix length "${prefix}": expected an integer from 0 to 32`);
  }
  return ipv4Netmask(prefix);
}

/** The DHCPv4 core's binding for the plan's single client. */
export function dhcp4Binding(plan: Dhcpv4Plan): Dhcp4ClientBinding {
  const c = plan.client;
  const mask = netmask(c.prefix);
  if (c.subnetMask !== mask) {
    throw new RangeError(`Cannot serve subnet mask "${c.subnetMask}" with prefix length "${c.prefix}" ("${mask}")`);
  }
  const o = plan.options;
  return {
    mac: c.mac,
    ip: c.ip,
    prefixLength: c.prefix,
    ...(c.router === undefined ? {} : { router: c.router }),
    routes: c.routes.map((r) => ({ dst: r.destination, gateway: r.gateway })),
    dns: c.dnsServers,
    searchDomains: c.searchDomains,
    ...(c.domainName === undefined ? {} : { domainName: c.domainName }),
    ...(c.hostname === undefined ? {} : { hostname: c.hostname }),
    mtu: c.mtu,
    leaseSeconds: c.leaseSeconds,
    ntpServers: o.ntpServers,
    ...(o.tftpServerName === undefined ? {} : { tftpServerName: o.tftpServerName }),
    ...(o.bootFileName === undefined ? {} : { bootFileName: o.bootFileName }),
    privateOptions: o.privateOptions.map((p) => ({ option: p.option, value: p.value })),
  };
}

/** The DHCPv6 core's configuration for the plan. */
export function dhcp6Config(plan: Dhcpv6Plan): Dhcp6ServerConfig {
  return {
    serverDuidMac: plan.serverDuidMac,
    address: plan.clientAddress,
    dns: plan.dnsServers,
    searchDomains: plan.searchDomains,
    preferredLifetime: plan.preferredLifetime,
    validLifetime: plan.validLifetime,
    t1: 0,
    t2: 0,
  };
}

function splitPrefix(text: string): { prefix: string; length: number } {
  const slash = text.indexOf("/");
  const length = slash < 0 ? Number.NaN : Number(text.slice(slash + 1));
  if (slash < 0 || !/^[0-9]{1,3}$/.test(text.slice(slash + 1)) || length > 128) {
    throw new SyntaxError(`Cannot parse IPv6 prefix "${text}": expected "address/length"`);
  }
  return { prefix: text.slice(0, slash), length };
}

/** The router advertiser's configuration for the plan. */
export function raConfig(plan: RaPlan): RouterAdvertiserConfig {
  if (plan.prefixes.length > 1) {
    throw new RangeError(`Cannot advertise ${plan.prefixes.length} prefixes on "${plan.interface.value}": one at most`);
  }
  const rdnss = plan.rdnss?.lifetime;
  const dnssl = plan.dnssl?.lifetime;
  if (rdnss !== undefined && dnssl !== undefined && rdnss !== dnssl) {
    throw new RangeError(`Cannot advertise RDNSS lifetime "${rdnss}" and DNSSL lifetime "${dnssl}": they must agree`);
  }
  const dnsLifetime = rdnss ?? dnssl;
  const p = plan.prefixes[0];
  return {
    sourceMac: plan.sourceMac,
    sourceLinkLocal: plan.sourceAddress,
    managed: plan.managed,
    other: plan.otherConfig,
    prefix:
      p === undefined
        ? undefined
        : {
            ...splitPrefix(p.prefix),
            onLink: p.onLink,
            autonomous: p.autonomous,
            validLifetime: p.validLifetime,
            preferredLifetime: p.preferredLifetime,
          },
    mtu: plan.mtu,
    rdnss: plan.rdnss?.servers ?? [],
    dnssl: plan.dnssl?.domains ?? [],
    routerLifetime: plan.routerLifetime,
    minInterval: plan.minIntervalSeconds,
    maxInterval: plan.maxIntervalSeconds,
    curHopLimit: plan.curHopLimit,
    ...(dnsLifetime === undefined ? {} : { dnsLifetime }),
  };
}

interface Group {
  v4?: { iface: Dhcp4InterfaceConfig };
  v6?: Dhcp6ServerConfig;
  ra?: RouterAdvertiserConfig;
}

/**
 * Groups the interfaces' DHCP/RA plans by served device. Several DHCPv4 plans on one device merge into one
 * interface configuration (they must agree on server identifier and MAC filtering); a second DHCPv6 server or
 * advertiser on one device is refused. Interfaces without any plan contribute nothing.
 */
export function servedInterfaces(plans: readonly DhcpInterfacePlan[]): ServedInterface[] {
  const groups = new Map<string, Group>();
  const group = (ifname: string): Group => {
    let g = groups.get(ifname);
    if (g === undefined) {
      g = {};
      groups.set(ifname, g);
    }
    return g;
  };
  for (const plan of plans) {
    if (plan.dhcpv4 !== undefined) {
      const ifname = plan.dhcpv4.serverInterface.value;
      const g = group(ifname);
      const binding = dhcp4Binding(plan.dhcpv4);
      const anyClient = !plan.dhcpv4.filterClientMac;
      if (g.v4 === undefined) {
        g.v4 = {
          iface: { name: ifname, serverIdentifier: plan.dhcpv4.serverIdentifier, anyClient, clients: [binding] },
        };
      } else if (g.v4.iface.serverIdentifier !== plan.dhcpv4.serverIdentifier || g.v4.iface.anyClient !== anyClient) {
        throw new RangeError(`Cannot serve two DHCPv4 configurations that disagree on "${ifname}"`);
      } else {
        g.v4 = { iface: { ...g.v4.iface, clients: [...g.v4.iface.clients, binding] } };
      }
    }
    if (plan.dhcpv6 !== undefined) {
      const ifname = plan.dhcpv6.serverInterface.value;
      const g = group(ifname);
      if (g.v6 !== undefined) throw new RangeError(`Cannot serve two DHCPv6 configurations on "${ifname}"`);
      g.v6 = dhcp6Config(plan.dhcpv6);
    }
    if (plan.ra !== undefined) {
      const ifname = plan.ra.interface.value;
      const g = group(ifname);
      if (g.ra !== undefined) throw new RangeError(`Cannot send two router advertisements on "${ifname}"`);
      g.ra = raConfig(plan.ra);
    }
  }
  return [...groups].map(([ifname, g]) => ({
    ifname,
    ...(g.v4 === undefined ? {} : { dhcpv4: { interfaces: [g.v4.iface] } }),
    ...(g.v6 === undefined ? {} : { dhcpv6: g.v6 }),
    ...(g.ra === undefined ? {} : { ra: g.ra }),
  }));
}

/**
 * Builds every server of `served` once and throws the first configuration error (TypeError, RangeError or
 * SyntaxError naming the device), so a bad plan fails in the caller instead of in a pod that keeps reopening.
 */
export function validateServed(served: readonly ServedInterface[]): void {
  const seen = new Set<string>();
  for (const s of served) {
    if (seen.has(s.ifname)) throw new RangeError(`Cannot serve interface "${s.ifname}" twice`);
    seen.add(s.ifname);
    try {
      if (s.dhcpv4 !== undefined) {
        if (s.dhcpv4.interfaces.length !== 1) {
          throw new RangeError(`Cannot serve ${s.dhcpv4.interfaces.length} DHCPv4 interfaces on one device`);
        }
        new Dhcp4Server(s.dhcpv4);
      }
      if (s.dhcpv6 !== undefined) new Dhcp6Server(s.dhcpv6);
      if (s.ra !== undefined) new RouterAdvertiser(s.ra);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      const Ctor = e instanceof TypeError ? TypeError : e instanceof SyntaxError ? SyntaxError : RangeError;
      throw new Ctor(`Cannot serve DHCP on "${s.ifname}": ${message}`, { cause: e });
    }
  }
}
