/**
 * DHCPv4 server configuration (pure data, produced by the planner) and its compiled form: every option value a
 * client can receive is encoded once, when the configuration is loaded, so a bad search domain or NTP server fails
 * at load time (KubeVirt's launcher panics in the same place) and `handle()` only copies bytes.
 */

import { ipv4PrefixMask, parseIpv4, parseIpv4Cidr, writeIpv4 } from "../../api/ip.ts";
import { formatMac, parseMac48 } from "../../api/mac.ts";
import { encodeClasslessRoutes } from "./classless-routes.ts";
import { encodeDomainSearch } from "./domain-search.ts";
import { OptionCode, PRIVATE_OPTION_MAX, PRIVATE_OPTION_MIN } from "./options.ts";

/** KubeVirt's "infinite" lease: 999 days. */
export const DEFAULT_LEASE_SECONDS = 86_313_600;

/** A site-specific option (224..254) whose value is sent as the string's bytes. */
export interface Dhcp4PrivateOption {
  readonly option: number;
  readonly value: string;
}

/** A static route for option 121; a missing or "0.0.0.0" gateway means on-link. */
export interface Dhcp4Route {
  readonly dst: string;
  readonly gateway?: string;
}

/** What one guest NIC receives. */
export interface Dhcp4ClientBinding {
  /** The guest MAC; required unless the interface serves any client. */
  readonly mac?: string;
  readonly ip: string;
  readonly prefixLength: number;
  readonly router?: string;
  readonly routes: readonly Dhcp4Route[];
  readonly dns: readonly string[];
  readonly searchDomains: readonly string[];
  readonly domainName?: string;
  readonly hostname?: string;
  readonly mtu: number;
  /** Defaults to {@link DEFAULT_LEASE_SECONDS}. */
  readonly leaseSeconds?: number;
  readonly ntpServers?: readonly string[];
  readonly tftpServerName?: string;
  readonly bootFileName?: string;
  readonly privateOptions?: readonly Dhcp4PrivateOption[];
}

/** One served interface (a bridge such as `k6t-eth0`). */
export interface Dhcp4InterfaceConfig {
  /** For logs only. */
  readonly name?: string;
  /** Matched against the transport's `meta.ifindex`; required when more than one interface is configured. */
  readonly ifindex?: number;
  readonly serverIdentifier: string;
  /** Masquerade: serve any MAC on this interface. Bridge: only the configured MACs. */
  readonly anyClient?: boolean;
  readonly clients: readonly Dhcp4ClientBinding[];
}

/** The whole server configuration. */
export interface Dhcp4ServerConfig {
  readonly interfaces: readonly Dhcp4InterfaceConfig[];
}

/** Options a client needs whenever they are configured, sent even if not requested and kept under size pressure. */
export const ESSENTIAL_OPTIONS: ReadonlySet<number> = new Set([
  OptionCode.SubnetMask,
  OptionCode.Router,
  OptionCode.DomainNameServer,
  OptionCode.DomainName,
  OptionCode.InterfaceMtu,
  OptionCode.DomainSearch,
  OptionCode.ClasslessStaticRoute,
]);

/** A binding with its option values encoded. */
export interface CompiledBinding {
  readonly mac?: string;
  readonly ip: number;
  readonly leaseSeconds: number;
  /** Configuration options (not 51, 53, 54) in the default order. */
  readonly options: ReadonlyMap<number, Uint8Array>;
  /** The `siaddr` header field: the TFTP server when `tftpServerName` is an IPv4 literal, else 0. */
  readonly nextServer: number;
  /** The `file` header field: the boot file name when it fits its 128 bytes with a terminating zero. */
  readonly bootFile?: Uint8Array;
}

/** An interface with its bindings compiled and indexed by MAC. */
export interface CompiledInterface {
  readonly name: string;
  readonly ifindex?: number;
  readonly serverIdentifier: number;
  readonly anyClient: boolean;
  readonly byMac: ReadonlyMap<string, CompiledBinding>;
  readonly clients: readonly CompiledBinding[];
}

const text = new TextEncoder();
const IPV4_LITERAL = /^(?:(?:0|[1-9][0-9]{0,2})\.){3}(?:0|[1-9][0-9]{0,2})$/;

function ipv4List(values: readonly string[], describe: (v: string) => string): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  values.forEach((v, i) => {
    let parsed: number;
    try {
      parsed = parseIpv4(v);
    } catch (e) {
      throw new SyntaxError(describe(v), { cause: e });
    }
    writeIpv4(out, i * 4, parsed);
  });
  return out;
}

function nonEmptyText(value: string, what: string): Uint8Array {
  const bytes = text.encode(value);
  if (bytes.length === 0) throw new RangeError(`Cannot use an empty ${what}`);
  return bytes;
}

/** Validates and encodes one binding; throws TypeError/RangeError/SyntaxError naming the bad value. */
export function compileBinding(binding: Dhcp4ClientBinding): CompiledBinding {
  const ip = parseIpv4(binding.ip);
  const mask = ipv4PrefixMask(binding.prefixLength);
  if (!Number.isInteger(binding.mtu) || binding.mtu < 68 || binding.mtu > 65535) {
    throw new RangeError(`Cannot use MTU "${binding.mtu}": must be an integer from 68 to 65535`);
  }
  const leaseSeconds = binding.leaseSeconds ?? DEFAULT_LEASE_SECONDS;
  if (!Number.isInteger(leaseSeconds) || leaseSeconds < 1 || leaseSeconds > 0xffffffff) {
    throw new RangeError(`Cannot use lease time "${leaseSeconds}": must be an integer from 1 to 4294967295`);
  }
  const options = new Map<number, Uint8Array>();
  const m = new Uint8Array(4);
  writeIpv4(m, 0, mask);
  options.set(OptionCode.SubnetMask, m);
  // RFC 3021: a /31 has no broadcast address, and a /32 has no peers to broadcast to.
  if (binding.prefixLength <= 30) {
    const b = new Uint8Array(4);
    writeIpv4(b, 0, (ip | ~mask) >>> 0);
    options.set(OptionCode.BroadcastAddress, b);
  }
  let router: number | undefined;
  if (binding.router !== undefined && binding.router !== "") {
    router = parseIpv4(binding.router);
    const r = new Uint8Array(4);
    writeIpv4(r, 0, router);
    options.set(OptionCode.Router, r);
  }
  // An empty option 6 is not valid (RFC 2132 §3.8, minimum length 4); KubeVirt sends one, vmnet omits it.
  if (binding.dns.length > 0) {
    options.set(
      OptionCode.DomainNameServer,
      ipv4List(binding.dns, (v) => `Could not parse DNS server as IPv4 address: ${v}`),
    );
  }
  if (binding.hostname !== undefined) options.set(OptionCode.HostName, nonEmptyText(binding.hostname, "host name"));
  if (binding.domainName !== undefined) {
    options.set(OptionCode.DomainName, nonEmptyText(binding.domainName, "domain name"));
  }
  const mtu = new Uint8Array(2);
  mtu[0] = binding.mtu >> 8;
  mtu[1] = binding.mtu & 0xff;
  options.set(OptionCode.InterfaceMtu, mtu);
  if (binding.searchDomains.length > 0) {
    options.set(OptionCode.DomainSearch, encodeDomainSearch(binding.searchDomains));
  }
  if (binding.routes.length > 0) {
    const routes = [...binding.routes];
    // RFC 3442 §2: a client that receives option 121 ignores option 3, so the default route must be in 121 too.
    const hasDefault = routes.some((r) => parseIpv4Cidr(r.dst).prefixLength === 0);
    if (router !== undefined && !hasDefault) routes.push({ dst: "0.0.0.0/0", gateway: binding.router });
    options.set(OptionCode.ClasslessStaticRoute, encodeClasslessRoutes(routes));
  }
  const ntp = binding.ntpServers ?? [];
  if (ntp.length > 0) {
    options.set(
      OptionCode.NtpServers,
      ipv4List(ntp, (v) => `Could not parse NTP server as IPv4 address: ${v}`),
    );
  }
  if (binding.tftpServerName !== undefined) {
    options.set(OptionCode.TftpServerName, nonEmptyText(binding.tftpServerName, "TFTP server name"));
  }
  if (binding.bootFileName !== undefined) {
    options.set(OptionCode.BootfileName, nonEmptyText(binding.bootFileName, "boot file name"));
  }
  // As KubeVirt: codes outside 224..254 are skipped silently (admission already rejected them).
  const privates = [...(binding.privateOptions ?? [])]
    .filter((p) => Number.isInteger(p.option) && p.option >= PRIVATE_OPTION_MIN && p.option <= PRIVATE_OPTION_MAX)
    .sort((a, b) => a.option - b.option);
  for (const p of privates) options.set(p.option, text.encode(p.value));
  // Legacy PXE ROMs read the next server and boot file from the BOOTP header, not from options 66 and 67.
  let nextServer = 0;
  if (binding.tftpServerName !== undefined && IPV4_LITERAL.test(binding.tftpServerName)) {
    nextServer = parseIpv4(binding.tftpServerName);
  }
  const bootFile = options.get(OptionCode.BootfileName);
  const mac = binding.mac === undefined ? undefined : formatMac(parseMac48(binding.mac));
  return {
    ...(mac === undefined ? {} : { mac }),
    ip,
    leaseSeconds,
    options,
    nextServer,
    ...(bootFile !== undefined && bootFile.length < 128 ? { bootFile } : {}),
  };
}

/** Validates and compiles a whole configuration. */
export function compileConfig(config: Dhcp4ServerConfig): CompiledInterface[] {
  const seenIfindex = new Set<number>();
  return config.interfaces.map((iface, index) => {
    const name = iface.name ?? (iface.ifindex === undefined ? `#${index}` : `ifindex ${iface.ifindex}`);
    if (config.interfaces.length > 1 && iface.ifindex === undefined) {
      throw new TypeError(`Cannot serve interface "${name}" without an ifindex when several interfaces are served`);
    }
    if (iface.ifindex !== undefined) {
      if (seenIfindex.has(iface.ifindex)) throw new RangeError(`Cannot serve ifindex "${iface.ifindex}" twice`);
      seenIfindex.add(iface.ifindex);
    }
    const serverIdentifier = parseIpv4(iface.serverIdentifier);
    const anyClient = iface.anyClient === true;
    const clients = iface.clients.map(compileBinding);
    if (clients.length === 0) throw new RangeError(`Cannot serve interface "${name}" without a client binding`);
    const byMac = new Map<string, CompiledBinding>();
    for (const c of clients) {
      if (c.mac === undefined) {
        if (!anyClient) throw new TypeError(`Cannot serve interface "${name}": a client binding has no MAC`);
        continue;
      }
      if (byMac.has(c.mac)) throw new RangeError(`Cannot serve MAC "${c.mac}" twice on interface "${name}"`);
      byMac.set(c.mac, c);
    }
    return iface.ifindex === undefined
      ? { name, serverIdentifier, anyClient, byMac, clients }
      : { name, ifindex: iface.ifindex, serverIdentifier, anyClient, byMac, clients };
  });
}
