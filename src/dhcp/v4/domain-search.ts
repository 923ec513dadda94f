/**
 * DHCP option 119, Domain Search (RFC 3397): a list of RFC 1035 names, encoded with RFC 1035 §4.1.4 compression
 * pointers whose offsets count from the start of the (RFC 3396-joined) option value. The wire form is
 * src/dhcp/dns-name.ts's; this file adds KubeVirt's acceptance set and error strings.
 */
import { decodeDnsNames, encodeDnsNames } from "../dns-name.ts";

// KubeVirt's search domain pattern (pkg/network/dhcp/server), kept byte for byte so vmnet accepts the same lists.
const SEARCH_DOMAIN_PATTERN = /^(?:[_a-z0-9](?:[_a-z0-9-]{0,61}[a-z0-9])?\.)*(?:[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?)?$/;
const MAX_DOMAIN_TEXT_LENGTH = 253;
const MAX_SEARCH_LIST_LENGTH = 255;

/** Validates a search list as KubeVirt does, with KubeVirt's error strings; returns nothing on success. */
export function validateSearchDomains(domains: readonly string[]): void {
  for (const domain of domains) {
    if (domain.length > MAX_DOMAIN_TEXT_LENGTH || !SEARCH_DOMAIN_PATTERN.test(domain)) {
      throw new RangeError(`Search domain is not valid: '${domain}'`);
    }
  }
  // KubeVirt limits the uncompressed encoding to one option's worth of bytes; vmnet keeps the same acceptance set
  // even though it compresses and could split a longer list per RFC 3396.
  const uncompressed = encodeDnsNames(domains, { allowRoot: true }).length;
  if (uncompressed > MAX_SEARCH_LIST_LENGTH) {
    throw new RangeError(`Search domains length exceeded allowable size: was ${uncompressed} long`);
  }
}

/** Encodes a search list with compression pointers (option 119 value); the list is validated first. */
export function encodeDomainSearch(domains: readonly string[]): Uint8Array {
  validateSearchDomains(domains);
  // KubeVirt's pattern admits "" (the root), so the encoder must too.
  return encodeDnsNames(domains, { compress: true, allowRoot: true });
}

/** Decodes an option 119 value; rejects truncation, forward pointers, pointer loops and over-long names. */
export function decodeDomainSearch(value: Uint8Array): string[] {
  return decodeDnsNames(value, { pointers: true, allowRoot: true });
}
