/**
 * Keeps vmnet's DHCPv4 server to the guest side of a bridge-bound interface. With the bridge binding the pod's
 * cluster-facing link (`<T>-nic`) is a port of the same bridge the server listens on, so without this guard a DISCOVER
 * from the cluster network would reach the server, and the server's broadcast replies would flood out to the
 * cluster. Bridge-family chains drop DHCP server traffic crossing the uplink port in either direction; the guest's
 * own traffic through the bridge is untouched.
 */
import type { NftBuilder, NftMatch } from "./nft.ts";
import { NftFamily } from "./nft.ts";

/** The table holding every bridge's DHCP guard chains. */
export const DHCP_GUARD_TABLE = "vmnet_dhcp_guard";
/** Before any other bridge filter, so nothing else sees the frame first. */
const GUARD_PRIORITY = -200;

const DHCP_SERVER_PORT = 67;

/** The bridge the server listens on and its port towards the cluster network. */
export interface DhcpGuard {
  readonly bridge: string;
  readonly uplink: string;
}

/** Adds the input and output chains that keep `guard.bridge`'s DHCPv4 server off `guard.uplink`. */
export function addDhcpGuardRules(nft: NftBuilder, guard: DhcpGuard): void {
  const table = nft.table(NftFamily.Bridge, DHCP_GUARD_TABLE);
  const udp = (field: "sport" | "dport"): NftMatch => ({
    op: "==",
    left: { payload: { protocol: "udp", field } },
    right: DHCP_SERVER_PORT,
  });
  const input = `in_${guard.bridge}`;
  const output = `out_${guard.bridge}`;
  // Frames from the cluster addressed to a DHCP server never reach the bridge's own stack (where vmnet listens).
  table.chain(input, { type: "filter", hook: "input", priority: GUARD_PRIORITY, policy: "accept" });
  table.rule(input, {
    matches: [{ op: "==", left: { meta: "iifname" }, right: guard.uplink }, udp("dport")],
    counter: true,
    verdict: { kind: "drop" },
  });
  // Replies vmnet's server sends never leave through the uplink port.
  table.chain(output, { type: "filter", hook: "output", priority: GUARD_PRIORITY, policy: "accept" });
  table.rule(output, {
    matches: [{ op: "==", left: { meta: "oifname" }, right: guard.uplink }, udp("sport")],
    counter: true,
    verdict: { kind: "drop" },
  });
}
