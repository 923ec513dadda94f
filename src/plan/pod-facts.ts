/**
 * What the pod's network namespace holds before vmnet touches it: the planner's only view of the world. The runtime
 * reads these facts (netlink, /etc/resolv.conf, hostname) and hands them over; nothing here does I/O.
 */
import { Family, isGlobalUnicast, parseIpAddr } from "../api/ip.ts";

/** A link's address with its prefix length, e.g. `{ address: "10.244.1.5", prefix: 24 }`. */
export interface LinkAddress {
  readonly address: string;
  readonly prefix: number;
}

/** One link of the pod netns. `kind` is the netlink kind (`veth`, `bridge`, `dummy`, `tun`, `macvlan`, …). */
export interface PodLink {
  readonly name: string;
  readonly ifindex: number;
  readonly mac: string;
  readonly mtu: number;
  readonly addresses: readonly LinkAddress[];
  readonly kind: string;
}

/** One route of the pod netns. `dst` is `default` or a CIDR; `gateway` is absent for on-link routes. */
export interface PodRoute {
  readonly dst: string;
  readonly gateway?: string;
  readonly dev: string;
  readonly family: Family;
}

/** resolv.conf as the DHCP servers use it (reference §6.1), defaults already applied. */
export interface ResolvConf {
  readonly nameserversV4: readonly string[];
  readonly nameserversV6: readonly string[];
  readonly search: readonly string[];
  readonly options: readonly string[];
}

/** Network Attachment Definition facts the planner can check Multus networks against. */
export interface NadFacts {
  readonly namespace: string;
  readonly name: string;
  /** `spec.config`, the CNI configuration JSON, as written. */
  readonly config?: string;
}

/** Everything the planner knows about the pod. */
export interface PodFacts {
  readonly links: readonly PodLink[];
  readonly routes: readonly PodRoute[];
  readonly resolvConf: ResolvConf;
  readonly hostname: string;
  /** The pod's primary IP (`MY_POD_IP`): its family goes first in dual-stack pod IP lists (reference §5.8). */
  readonly podIP?: string;
}

/** The resolver used when resolv.conf names none (KubeVirt's default). */
export const DEFAULT_NAMESERVER = "8.8.8.8";
/** The search list used when resolv.conf has none. */
export const DEFAULT_SEARCH_DOMAIN = "cluster.local";

/** Options for {@link parseResolvConf}. */
export interface ParseResolvConfOptions {
  /** `spec.subdomain` of the VM: applies KubeVirt's subdomain rule. */
  readonly subdomain?: string;
}

/**
 * Parses resolv.conf text with KubeVirt's rules (reference §6.1): `nameserver` lines with exactly two fields, sorted by
 * family (unparsable ones dropped), `8.8.8.8` when none; all words of `search` lines lowercased, `cluster.local` when
 * none; then the subdomain rule when a subdomain is given.
 */
export function parseResolvConf(text: string, options: ParseResolvConfOptions = {}): ResolvConf {
  const v4: string[] = [];
  const v6: string[] = [];
  const search: string[] = [];
  const opts: string[] = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/u);
    const [key, ...rest] = fields;
    if (key === "nameserver" && fields.length === 2) {
      const ip = parseIpAddr(rest[0] ?? "");
      if (ip?.family === Family.V4) v4.push(rest[0] ?? "");
      else if (ip?.family === Family.V6) v6.push(rest[0] ?? "");
    } else if (key === "search") {
      search.push(...rest.map((w) => w.toLowerCase()));
    } else if (key === "options") {
      opts.push(...rest);
    }
  }
  if (v4.length === 0 && v6.length === 0) v4.push(DEFAULT_NAMESERVER);
  if (search.length === 0) search.push(DEFAULT_SEARCH_DOMAIN);
  const withSubdomain = options.subdomain ? applySubdomain(search, options.subdomain) : search;
  return { nameserversV4: v4, nameserversV6: v6, search: withSubdomain, options: opts };
}

/**
 * KubeVirt's subdomain rule: take the longest search domain containing `.svc.`; unless it already starts with
 * `<subdomain>.`, prepend `<subdomain>.<that domain>`. Works around the old glibc limit of 6 search domains.
 */
export function applySubdomain(search: readonly string[], subdomain: string): string[] {
  let longest: string | undefined;
  for (const d of search) {
    if (d.includes(".svc.") && (longest === undefined || d.length > longest.length)) longest = d;
  }
  if (longest === undefined || subdomain === "" || longest.startsWith(`${subdomain}.`)) return [...search];
  return [`${subdomain}.${longest}`, ...search];
}

/** The first global-unicast address of a family on a link, if any (Go's `IsGlobalUnicast`). */
export function firstGlobalAddress(link: PodLink, family: Family): LinkAddress | undefined {
  return link.addresses.find((a) => {
    const ip = parseIpAddr(a.address);
    return ip !== undefined && ip.family === family && isGlobalUnicast(ip);
  });
}

/** The pod IPs KubeVirt caches for a link: first global IPv4 and IPv6, the family of `facts.podIP` first. */
export function podIPsOf(link: PodLink, facts: PodFacts): string[] {
  const v4 = firstGlobalAddress(link, Family.V4)?.address;
  const v6 = firstGlobalAddress(link, Family.V6)?.address;
  const v6First = facts.podIP !== undefined && parseIpAddr(facts.podIP)?.family === Family.V6;
  return (v6First ? [v6, v4] : [v4, v6]).filter((a): a is string => a !== undefined);
}
