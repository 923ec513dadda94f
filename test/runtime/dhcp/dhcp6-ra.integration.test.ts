/**
 * The DHCP agent serving DHCPv6 and router advertisements for a masquerade-like pod, to real clients: a bridge
 * `k6t-eth0` (MAC 02:00:00:00:00:00, only its link-local fe80::ff:fe00:0) with one veth per guest namespace, and a
 * cluster-facing `eth0`. ISC dhclient -6 (with Debian's dhclient-script) and dhcpcd each lease fd10:0:2::2 and the
 * guest installs the RA's default route; dhcpcd also takes RDNSS and DNSSL from the RA.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { InterfaceName } from "../../../src/plan/namescheme.ts";
import type { Dhcpv6Plan, RaPlan } from "../../../src/plan/plan.ts";
import { DhcpAgent, type DhcpAgentEvent } from "../../../src/runtime/dhcp/agent.ts";
import type { InterfaceStats } from "../../../src/runtime/dhcp/messages.ts";
import { addresses, execIn, exitOf, ipIn, Lab, missingTool, rootSkipReason, routes, waitFor } from "./harness.ts";

const skip =
  rootSkipReason() ??
  missingTool("/usr/sbin/dhclient", "/sbin/dhclient-script", "/usr/sbin/dhcpcd", "/usr/bin/python3");

const BRIDGE = InterfaceName.of("k6t-eth0");
const BRIDGE_MAC = "02:00:00:00:00:00";
const ROUTER = "fe80::ff:fe00:0";
const SEARCH = ["default.svc.cluster.local", "cluster.local"];

const dhcpv6: Dhcpv6Plan = {
  serverInterface: BRIDGE,
  serverDuidMac: BRIDGE_MAC,
  clientAddress: "fd10:0:2::2",
  preferredLifetime: 86_313_600,
  validLifetime: 86_313_600,
  dnsServers: ["fd00:10:96::a"],
  searchDomains: SEARCH,
};

const ra: RaPlan = {
  interface: BRIDGE,
  sourceMac: BRIDGE_MAC,
  sourceAddress: ROUTER,
  managed: true,
  otherConfig: true,
  curHopLimit: 64,
  routerLifetime: 1800,
  minIntervalSeconds: 200,
  maxIntervalSeconds: 600,
  mtu: 1400,
  prefixes: [
    { prefix: "fd10:0:2::/120", onLink: true, autonomous: false, validLifetime: 86_400, preferredLifetime: 86_400 },
  ],
  // Different from the DHCPv6 values, so a client's resolv.conf shows which source it used.
  rdnss: { servers: ["fd00:10:96::b"], lifetime: 1800 },
  dnssl: { domains: ["ra.example"], lifetime: 1800 },
};

describe("DhcpAgent DHCPv6 and RA with real clients in a pod", { skip }, () => {
  const lab = new Lab();
  const events: DhcpAgentEvent[] = [];
  const agent = new DhcpAgent({ onEvent: (e) => events.push(e) });
  const podId = `pod6-${lab.suffix}`;
  let pod = "";
  let guest1 = "";
  let guest2 = "";
  let cluster = "";

  before(async () => {
    pod = await lab.netns("pod6");
    guest1 = await lab.netns("g61");
    guest2 = await lab.netns("g62");
    cluster = await lab.netns("cl6");
    // As the masquerade plan does: without forwarding the bridge answers neighbour solicitations with R=0, and a guest
    // that sees the flag drop removes the router from its default router list (RFC 4861 §7.2.5).
    await execIn(pod, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1");
    await ipIn(pod, "link", "add", "k6t-eth0", "address", BRIDGE_MAC, "type", "bridge");
    for (const [port, ns, mac] of [
      ["tap0", guest1, "02:00:00:aa:bb:61"],
      ["tap1", guest2, "02:00:00:aa:bb:62"],
    ] as const) {
      await ipIn(pod, "link", "add", port, "type", "veth", "peer", "name", "eth0", "address", mac, "netns", ns);
      await ipIn(ns, "link", "set", "eth0", "up");
      await ipIn(pod, "link", "set", port, "master", "k6t-eth0");
    }
    await ipIn(pod, "link", "add", "eth0", "type", "veth", "peer", "name", "cl0", "netns", cluster);
    await ipIn(pod, "link", "set", "eth0", "up");
    await ipIn(cluster, "link", "set", "cl0", "up");
    await ipIn(pod, "link", "set", "k6t-eth0", "up");
    // As after apply: the bridge is up but no tap has carrier yet, so it has no link-local address to send from.
    await agent.start(podId, pod, [{ dhcpv6, ra }]);
    for (const port of ["tap0", "tap1"]) await ipIn(pod, "link", "set", port, "up");
    await waitFor("the bridge's link-local address", async () =>
      (await addresses(pod, "k6t-eth0")).some((a) => a.cidr === `${ROUTER}/64`) ? true : undefined,
    );
  });

  after(async () => {
    await agent.stopAll().catch(() => undefined);
    await lab.cleanup();
  });

  const stats = async (): Promise<InterfaceStats> => {
    const s = (await agent.stats(podId)).interfaces["k6t-eth0"];
    assert.ok(s !== undefined);
    return s;
  };

  it("the guest kernel takes default route, on-link prefix and MTU from the first unsolicited RA", async () => {
    const r = await waitFor("RA routes in the guest", async () => {
      const got = await routes(guest1, "-6", "eth0");
      return got.includes(`default via ${ROUTER}`) && got.includes("fd10:0:2::/120") ? got : undefined;
    });
    assert.ok(r.includes(`default via ${ROUTER}`));
    assert.equal((await execIn(guest1, "sysctl", "-n", "net.ipv6.conf.eth0.mtu")).trim(), "1400");
    const s = await stats();
    // The first advertisement, sent before any tap had carrier, failed with ENETUNREACH; the guests' solicitations
    // or the 1 s retry then reached them.
    assert.ok((s.transport.sendErrors["errno 101"] ?? 0) >= 1, JSON.stringify(s.transport.sendErrors));
    assert.ok((s.ra?.unsolicited ?? 0) + (s.ra?.solicitedReplies ?? 0) >= 2, JSON.stringify(s.ra));
    assert.deepEqual(
      events.filter((e) => e.kind === "warning").map((e) => e.kind === "warning" && e.ifname),
      ["k6t-eth0"],
    );
  });

  it("ISC dhclient -6 with Debian's dhclient-script leases fd10:0:2::2 and writes DNS and search list", async () => {
    const root = lab.clientRoot("dhclient6");
    const command =
      "dhclient -6 -d -1 -cf /etc/dhcp/dhclient.conf -lf /run/l -pf /run/p -sf /sbin/dhclient-script eth0";
    const child = lab.spawnIn(guest1, root.wrap(command));
    try {
      await waitFor("dhclient -6 to configure", async () => {
        const has = (await addresses(guest1, "eth0")).some((a) => a.cidr.startsWith("fd10:0:2::2/"));
        return has && readFileSync(join(root.etc, "resolv.conf"), "utf8") !== "" ? true : undefined;
      }).catch((e: unknown) => {
        throw new Error(`${String(e)}; dhclient said:\n${child.out()}`);
      });
      const global = (await addresses(guest1, "eth0")).filter((a) => a.scope === "global").map((a) => a.cidr);
      assert.deepEqual(global, ["fd10:0:2::2/128"]);
      assert.ok((await routes(guest1, "-6", "eth0")).includes(`default via ${ROUTER}`));
      assert.equal(
        readFileSync(join(root.etc, "resolv.conf"), "utf8"),
        "search default.svc.cluster.local. cluster.local.\nnameserver fd00:10:96::a\n",
      );
      const v6 = (await stats()).dhcpv6;
      assert.equal(v6?.receivedByType[1], 1, "one SOLICIT");
      assert.equal(v6?.receivedByType[3], 1, "one REQUEST");
    } finally {
      child.kill("SIGTERM");
      await exitOf(child);
    }
  });

  it("dhcpcd leases fd10:0:2::2 by Rapid Commit and applies the RA's default route, RDNSS and DNSSL", async () => {
    const root = lab.clientRoot("dhcpcd");
    writeFileSync(
      join(root.etc, "dhcpcd.conf"),
      "duid\noption domain_name_servers, domain_name, domain_search\noption rapid_commit\n",
    );
    const solicitationsBefore = (await stats()).ra?.solicitations ?? 0;
    const child = lab.spawnIn(guest2, root.wrap("dhcpcd -6 -B -f /etc/dhcpcd.conf eth0"));
    try {
      await waitFor(
        "dhcpcd to configure",
        async () => {
          const has = (await addresses(guest2, "eth0")).some((a) => a.cidr.startsWith("fd10:0:2::2/"));
          // dhcpcd rewrites resolv.conf per source as each arrives; wait until both have been merged.
          if (!has || !existsSync(join(root.etc, "resolv.conf"))) return undefined;
          const resolv = readFileSync(join(root.etc, "resolv.conf"), "utf8");
          return resolv.includes("eth0.dhcp6") && resolv.includes("eth0.ra") ? true : undefined;
        },
        15_000,
      ).catch((e: unknown) => {
        throw new Error(`${String(e)}; dhcpcd said:\n${child.out()}`);
      });
      assert.ok((await routes(guest2, "-6", "eth0")).includes(`default via ${ROUTER}`));
      const resolv = readFileSync(join(root.etc, "resolv.conf"), "utf8");
      // dhcpcd merges both sources: DNS and search list from DHCPv6, RDNSS and DNSSL from the RA.
      assert.match(resolv, /^# Generated by dhcpcd from eth0\.dhcp6, eth0\.ra$/m);
      assert.match(resolv, /^search default\.svc\.cluster\.local cluster\.local ra\.example$/m);
      assert.match(resolv, /^nameserver fd00:10:96::a\nnameserver fd00:10:96::b$/m);
      const s = await stats();
      assert.ok((s.ra?.solicitations ?? 0) > solicitationsBefore, "dhcpcd's router solicitation was heard");
      assert.ok((s.ra?.solicitedReplies ?? 0) >= 1);
    } finally {
      child.kill("SIGTERM");
      await exitOf(child);
    }
  });

  it("malformed DHCPv6 messages and solicitations are counted and the agent keeps serving", async () => {
    const before = await stats();
    const sender = [
      "import socket, sys",
      "idx = socket.if_nametoindex('eth0')",
      "u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)",
      "u.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b'eth0')",
      "for h in ['01', '01000001' + '0001ffff']: u.sendto(bytes.fromhex(h), ('ff02::1:2', 547, 0, idx))",
      "r = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)",
      "r.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)",
      // Router Solicitation with code 1 (RFC 4861 §6.1.1: must be 0) and one with a zero-length option.
      "for h in ['8501000000000000', '85000000000000000100']: r.sendto(bytes.fromhex(h), ('ff02::2', 0, 0, idx))",
    ].join("\n");
    await execIn(guest1, "python3", "-c", sender);
    const after = await waitFor("drops counted", async () => {
      const s = await stats();
      const v6 = (s.dhcpv6?.dropped["truncated-header"] ?? 0) - (before.dhcpv6?.dropped["truncated-header"] ?? 0);
      const rs = (s.ra?.dropped["bad-code"] ?? 0) - (before.ra?.dropped["bad-code"] ?? 0);
      return v6 === 1 && rs === 1 ? s : undefined;
    });
    assert.equal((after.dhcpv6?.dropped["option-overrun"] ?? 0) - (before.dhcpv6?.dropped["option-overrun"] ?? 0), 1);
    assert.equal((after.ra?.dropped["zero-option-length"] ?? 0) - (before.ra?.dropped["zero-option-length"] ?? 0), 1);
    // Still serving: an Information-request gets its reply.
    const ask = [
      "import socket",
      "idx = socket.if_nametoindex('eth0')",
      "u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)",
      "u.bind(('::', 546, 0, idx))",
      "u.settimeout(3)",
      "u.sendto(bytes.fromhex('0b123456' + '00170000'), ('ff02::1:2', 547, 0, idx))",
      "print(u.recvfrom(1500)[0][:4].hex())",
    ].join("\n");
    assert.equal((await execIn(guest1, "python3", "-c", ask)).trim(), "07123456");
    assert.equal(agent.status(podId)?.restarts, 0);
  });

  it("nothing answers on the cluster-facing eth0, and the bridge keeps only its link-local address", async () => {
    const before = (await stats()).transport.received;
    const probe = [
      "import socket",
      "idx = socket.if_nametoindex('cl0')",
      "u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)",
      "u.bind(('::', 546, 0, idx))",
      "u.settimeout(1.5)",
      "u.sendto(bytes.fromhex('0b654321' + '00170000'), ('ff02::1:2', 547, 0, idx))",
      "try:\n  u.recvfrom(1500)\n  print('answered')\nexcept socket.timeout:\n  print('silent')",
    ].join("\n");
    assert.equal((await execIn(cluster, "python3", "-c", probe)).trim(), "silent");
    assert.equal((await stats()).transport.received, before);
    const all = await addresses(pod, "k6t-eth0");
    assert.deepEqual(
      all.map((a) => [a.cidr, a.scope]),
      [[`${ROUTER}/64`, "link"]],
    );
  });

  it("reconfigure replaces the advertiser and the DHCPv6 server in place; counters carry over", async () => {
    const before = await stats();
    await agent.reconfigure(podId, [
      { dhcpv6: { ...dhcpv6, dnsServers: ["fd00:10:96::c"] }, ra: { ...ra, mtu: 1300 } },
    ]);
    // The new advertiser sends at once; the guest kernel takes the new MTU from it.
    await waitFor("the new MTU in the guest", async () =>
      (await execIn(guest1, "sysctl", "-n", "net.ipv6.conf.eth0.mtu")).trim() === "1300" ? true : undefined,
    );
    const after = await stats();
    assert.ok((after.ra?.unsolicited ?? 0) > (before.ra?.unsolicited ?? 0));
    assert.equal(after.dhcpv6?.receivedByType[1], before.dhcpv6?.receivedByType[1]);
    const ask = [
      "import socket",
      "idx = socket.if_nametoindex('eth0')",
      "u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)",
      "u.bind(('::', 546, 0, idx))",
      "u.settimeout(3)",
      // Information-request asking (option 6) for DNS servers (23).
      "u.sendto(bytes.fromhex('0b abcdef 0006 0002 0017'.replace(' ', '')), ('ff02::1:2', 547, 0, idx))",
      "print(u.recvfrom(1500)[0].hex())",
    ].join("\n");
    const reply = (await execIn(guest1, "python3", "-c", ask)).trim();
    // Reply (7), same transaction id, and option 23 holding the new server fd00:10:96::c.
    assert.ok(reply.startsWith("07abcdef"), reply);
    assert.ok(reply.endsWith("00170010fd00001000960000000000000000000c"), reply);
  });

  it("stop sends a final RA (router lifetime 0) and the guest drops its default route", async () => {
    const r = await routes(guest1, "-6", "eth0");
    assert.ok(r.includes(`default via ${ROUTER}`), String(r));
    await agent.stop(podId);
    await waitFor("the default route to go", async () =>
      (await routes(guest1, "-6", "eth0")).includes(`default via ${ROUTER}`) ? undefined : true,
    );
    assert.equal(agent.status(podId), undefined);
    assert.deepEqual(
      events.filter((e) => e.kind === "exited"),
      [],
    );
  });
});
