/**
 * MAC address parsing with the acceptance set of Go's `net.ParseMAC`, which both KubeVirt and Virtink use, so that
 * two spellings of one address (`DE-AD-00-00-BE-AF`, `de:ad:00:00:be:af`, `dead.0000.beaf`) compare equal.
 */

/** Parses a 6-, 8- or 20-octet hardware address as Go's `net.ParseMAC` does; undefined when Go would fail. */
export function parseMac(text: string): Uint8Array | undefined {
  if (text.length < 14) return undefined;
  const sep = text[2];
  if (sep === ":" || sep === "-") {
    if ((text.length + 1) % 3 !== 0) return undefined;
    const n = (text.length + 1) / 3;
    if (n !== 6 && n !== 8 && n !== 20) return undefined;
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const at = i * 3;
      const pair = text.slice(at, at + 2);
      if (!/^[0-9a-fA-F]{2}$/.test(pair)) return undefined;
      if (i < n - 1 && text[at + 2] !== sep) return undefined;
      out[i] = Number.parseInt(pair, 16);
    }
    return out;
  }
  if (text[4] === ".") {
    if ((text.length + 1) % 5 !== 0) return undefined;
    const n = (2 * (text.length + 1)) / 5;
    if (n !== 6 && n !== 8 && n !== 20) return undefined;
    const out = new Uint8Array(n);
    for (let i = 0; i < n / 2; i++) {
      const at = i * 5;
      const quad = text.slice(at, at + 4);
      if (!/^[0-9a-fA-F]{4}$/.test(quad)) return undefined;
      if (i < n / 2 - 1 && text[at + 4] !== ".") return undefined;
      out[2 * i] = Number.parseInt(quad.slice(0, 2), 16);
      out[2 * i + 1] = Number.parseInt(quad.slice(2), 16);
    }
    return out;
  }
  return undefined;
}

/** Renders octets as lowercase colon-separated hex, Go's `HardwareAddr.String()`. */
export function formatMac(octets: Uint8Array): string {
  return [...octets].map((b) => b.toString(16).padStart(2, "0")).join(":");
}

/** The canonical spelling of a MAC, or undefined when it does not parse. */
export function normaliseMac(text: string): string | undefined {
  const octets = parseMac(text);
  return octets ? formatMac(octets) : undefined;
}
