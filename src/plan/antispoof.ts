/**
 * Anti-spoofing for guest taps (a vmnet extension): frames entering the pod from a guest tap must carry the guest's
 * MAC and, where the plan knows them, the guest's IP addresses. A netdev ingress chain per tap sees every frame the
 * guest sends before the bridge does, whatever it is addressed to.
 */

import type { NftBuilder, NftMatch } from "./nft.ts";
import { NftFamily } from "./nft.ts";
import type { AntiSpoofPlan } from "./plan.ts";

/** The table holding every tap's anti-spoofing chain. */
export const ANTISPOOF_TABLE = "vmnet_antispoof";
/** Early, so spoofed frames never reach other hooks. */
const INGRESS_PRIORITY = -500;

const proto = (p: "ip" | "ip6" | "arp"): NftMatch => ({ op: "==", left: { meta: "protocol" }, right: p });

/** Adds the netdev ingress chain filtering `plan.tap` to the ruleset. */
export function addAntiSpoofRules(nft: NftBuilder, plan: AntiSpoofPlan): void {
  const chain = `antispoof_${plan.tap.value}`;
  const f = NftFamily.Netdev;
  const table = nft.table(f, ANTISPOOF_TABLE);
  table.chain(chain, {
    type: "filter",
    hook: "ingress",
    device: plan.tap.value,
    priority: INGRESS_PRIORITY,
    policy: "accept",
  });
  const drop = (matches: NftMatch[]) => table.rule(chain, { matches, counter: true, verdict: { kind: "drop" } });
  drop([{ op: "!=", left: { payload: { protocol: "ether", field: "saddr" } }, right: plan.mac }]);
  if (plan.ipv4) {
    // 0.0.0.0 is the source of DHCP DISCOVER/REQUEST and of ARP probes (RFC 5227).
    const allowed = { set: ["0.0.0.0", ...plan.ipv4] };
    drop([proto("ip"), { op: "!=", left: { payload: { protocol: "ip", field: "saddr" } }, right: allowed }]);
    drop([proto("arp"), { op: "!=", left: { payload: { protocol: "arp", field: "saddr ether" } }, right: plan.mac }]);
    drop([proto("arp"), { op: "!=", left: { payload: { protocol: "arp", field: "saddr ip" } }, right: allowed }]);
  }
  if (plan.ipv6) {
    // :: is the source of duplicate address detection; link-local sources carry NDP and DHCPv6 solicits.
    const allowed = { set: ["::", "fe80::/10", ...plan.ipv6] };
    drop([proto("ip6"), { op: "!=", left: { payload: { protocol: "ip6", field: "saddr" } }, right: allowed }]);
  }
}
