import {
  formatIpv4,
  formatIpv4Cidr,
  type Ipv4Cidr,
  ipv4PrefixMask,
  parseIpv4,
  parseIpv4Cidr,
  readIpv4,
  writeIpv4,
} from "../../api/ip.ts";
/**
 * DHCP option 121, Classless Static Route (RFC 3442): per route a mask width byte, the `ceil(width / 8)`
 * significant destination octets, then the 4 router octets (0.0.0.0 for an on-link route).
 */

/** A route as configured: destination CIDR and gateway (absent or "0.0.0.0" means on-link). */
export interface ClasslessRoute {
  readonly dst: string;
  readonly gateway?: string;
}

/** A decoded route with numeric fields. */
export interface DecodedRoute {
  readonly destination: Ipv4Cidr;
  readonly router: number;
}

/**
 * Encodes routes as an option 121 value. Default routes are moved to the end (as KubeVirt does), keeping the
 * relative order of the others.
 */
export function encodeClasslessRoutes(routes: readonly ClasslessRoute[]): Uint8Array {
  const parsed = routes.map((r) => ({
    destination: parseIpv4Cidr(r.dst),
    router: r.gateway === undefined || r.gateway === "" ? 0 : parseIpv4(r.gateway),
  }));
  const ordered = [
    ...parsed.filter((r) => r.destination.prefixLength !== 0),
    ...parsed.filter((r) => r.destination.prefixLength === 0),
  ];
  const out: number[] = [];
  for (const { destination, router } of ordered) {
    const width = destination.prefixLength;
    out.push(width);
    const significant = Math.ceil(width / 8);
    for (let i = 0; i < significant; i++) out.push((destination.address >>> (24 - 8 * i)) & 0xff);
    const gw = new Uint8Array(4);
    writeIpv4(gw, 0, router);
    out.push(...gw);
  }
  return Uint8Array.from(out);
}

/** Decodes an option 121 value; rejects widths above 32, truncation and destination bits beyond the width. */
export function decodeClasslessRoutes(value: Uint8Array): DecodedRoute[] {
  const routes: DecodedRoute[] = [];
  let at = 0;
  while (at < value.length) {
    const width = value[at] ?? 0;
    if (width > 32) throw new SyntaxError(`Cannot decode classless route at offset ${at}: mask width "${width}"`);
    const significant = Math.ceil(width / 8);
    if (at + 1 + significant + 4 > value.length) {
      throw new SyntaxError(`Cannot decode classless route at offset ${at}: truncated`);
    }
    const dest = new Uint8Array(4);
    dest.set(value.subarray(at + 1, at + 1 + significant));
    const address = readIpv4(dest, 0);
    if ((address & ~ipv4PrefixMask(width)) >>> 0 !== 0) {
      throw new SyntaxError(`Cannot decode classless route at offset ${at}: destination bits set beyond the width`);
    }
    routes.push({ destination: { address, prefixLength: width }, router: readIpv4(value, at + 1 + significant) });
    at += 1 + significant + 4;
  }
  return routes;
}

/** Renders decoded routes as `dst via gw` strings, handy for logs and tests. */
export function describeRoutes(routes: readonly DecodedRoute[]): string[] {
  return routes.map((r) => `${formatIpv4Cidr(r.destination)} via ${formatIpv4(r.router)}`);
}
