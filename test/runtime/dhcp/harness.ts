/**
 * Test harness for the DHCP agent's integration tests: uniquely named namespaces (`vmnt-` prefix) that are always
 * removed, `ip -json` readers, and real DHCP clients run in a guest namespace with a private mount and UTS namespace,
 * so the files they write (resolv.conf, leases, DUIDs) land in a temp dir and nothing of the host changes. The pieces
 * live in test/support/netns-lab.ts, shared with the end-to-end harness.
 */
import { missingPath, NetnsLab, netnsSkipReason } from "../../support/netns-lab.ts";

export {
  addresses,
  envOf,
  execIn,
  exitOf,
  ipIn,
  linkOf,
  routes,
  udhcpcScript,
  waitFor,
} from "../../support/netns-lab.ts";

/** Why these tests cannot run here (not root, `ip`/`unshare` missing), or undefined. */
export function rootSkipReason(): string | undefined {
  return netnsSkipReason("ip", "unshare", "mount");
}

/** The first of `paths` that does not exist, as a skip reason, or undefined when all exist. */
export const missingTool = missingPath;

/** The namespaces (`vmnt-<role>-<suffix>`), processes and temp dir of one DHCP test file. */
export class Lab extends NetnsLab {
  constructor() {
    super("vmnt-dhcp-");
  }
}
