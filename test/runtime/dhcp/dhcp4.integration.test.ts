/**
 * The DHCP agent serving DHCPv4 for bridge binding in a real pod namespace, to real clients: two bridges
 * (`k6t-eth0`, `k6t-blue`) carrying only KubeVirt's link-local 169.254.75.1x/32, each with a veth to its own guest
 * namespace (standing in for the tap), and a cluster-facing `eth0` veth to a "cluster" namespace.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { InterfaceName } from "../../../src/plan/namescheme.ts";
import type { Dhcpv4Plan } from "../../../src/plan/plan.ts";
import { DhcpAgent, type DhcpAgentEvent } from "../../../src/runtime/dhcp/agent.ts";
import type { InterfaceStats } from "../../../src/runtime/dhcp/messages.ts";
import {
  addresses,
  envOf,
  execIn,
  exitOf,
  ipIn,
  Lab,
  linkOf,
  missingTool,
  rootSkipReason,
  routes,
  udhcpcScript,
  waitFor,
} from "./harness.ts";

const skip = rootSkipReason() ?? missingTool("/usr/sbin/udhcpc", "/usr/sbin/dhclient", "/sbin/dhclient-script");

const GUEST1_MAC = "02:00:00:aa:bb:01";
const GUEST2_MAC = "02:00:00:aa:bb:02";
const SEARCH = ["default.svc.cluster.local", "svc.cluster.local", "cluster.local"];

function bridgePlan(bridge: string, serverId: string, mac: string, ip: string, gateway: string): Dhcpv4Plan {
  return {
    serverInterface: InterfaceName.of(bridge),
    serverIdentifier: serverId,
    filterClientMac: true,
    client: {
      mac,
      ip,
      prefix: 24,
      subnetMask: "255.255.255.0",
      router: gateway,
      routes: [
        { destination: "10.96.0.0/12", gateway },
        { destination: "0.0.0.0/0", gateway },
      ],
      dnsServers: ["10.96.0.10"],
      searchDomains: SEARCH,
      domainName: "default.svc.cluster.local",
      hostname: "vm1",
      mtu: 1450,
      leaseSeconds: 86_313_600,
    },
    options: { ntpServers: [], privateOptions: [] },
  };
}

const PLANS = [
  { dhcpv4: bridgePlan("k6t-eth0", "169.254.75.10", GUEST1_MAC, "10.244.1.5", "10.244.1.1") },
  { dhcpv4: bridgePlan("k6t-blue", "169.254.75.11", GUEST2_MAC, "192.168.50.7", "192.168.50.1") },
];

describe("DhcpAgent DHCPv4 with real clients in a bridge-binding pod", { skip }, () => {
  const lab = new Lab();
  const events: DhcpAgentEvent[] = [];
  const agent = new DhcpAgent({ onEvent: (e) => events.push(e) });
  const podId = `pod-${lab.suffix}`;
  let pod = "";
  let guest1 = "";
  let guest2 = "";
  let cluster = "";

  before(async () => {
    pod = await lab.netns("pod");
    guest1 = await lab.netns("g1");
    guest2 = await lab.netns("g2");
    cluster = await lab.netns("cl");
    const links: [string, string, string, string][] = [
      ["tap0", guest1, "eth0", GUEST1_MAC],
      ["tap1", guest2, "eth0", GUEST2_MAC],
      ["eth0", cluster, "cl0", "02:00:00:cc:00:01"],
    ];
    for (const [podEnd, peerNs, peerEnd, peerMac] of links) {
      await ipIn(
        pod,
        "link",
        "add",
        podEnd,
        "type",
        "veth",
        "peer",
        "name",
        peerEnd,
        "address",
        peerMac,
        "netns",
        peerNs,
      );
      await ipIn(peerNs, "link", "set", peerEnd, "up");
    }
    for (const [bridge, port, address] of [
      ["k6t-eth0", "tap0", "169.254.75.10/32"],
      ["k6t-blue", "tap1", "169.254.75.11/32"],
    ] as const) {
      await ipIn(pod, "link", "add", bridge, "type", "bridge");
      await ipIn(pod, "link", "set", port, "master", bridge, "up");
      await ipIn(pod, "addr", "add", address, "dev", bridge);
      await ipIn(pod, "link", "set", bridge, "up");
    }
    // The cluster-facing interface has a routable address, so an answer there would be possible if we let it.
    await ipIn(pod, "addr", "add", "10.88.0.2/24", "dev", "eth0");
    await ipIn(pod, "link", "set", "eth0", "up");
    await ipIn(cluster, "addr", "add", "10.88.0.1/24", "dev", "cl0");
    await agent.start(podId, pod, PLANS);
  });

  after(async () => {
    await agent.stopAll().catch(() => undefined);
    await lab.cleanup();
  });

  const stats = async (ifname: string): Promise<InterfaceStats> => {
    const s = (await agent.stats(podId)).interfaces[ifname];
    assert.ok(s !== undefined, `stats of ${ifname}`);
    return s;
  };

  async function udhcpc(ns: string, name: string, extra: string[]): Promise<ReturnType<typeof udhcpcScript>> {
    const files = udhcpcScript(lab.dir, name);
    const args = ["-i", "eth0", "-f", "-n", "-q", "-t", "5", "-T", "1", "-s", files.script, ...extra];
    const child = lab.spawnIn(ns, ["udhcpc", ...args, "-O", "search", "-O", "staticroutes", "-O", "mtu"]);
    assert.equal(await exitOf(child), 0, `udhcpc ${name} got a lease`);
    return files;
  }

  async function assertGuestApplied(ns: string, ip: string, gateway: string): Promise<void> {
    const v4 = (await addresses(ns, "eth0")).filter((a) => a.family === "inet").map((a) => a.cidr);
    assert.deepEqual(v4, [`${ip}/24`]);
    const r = await routes(ns, "-4", "eth0");
    for (const want of [`default via ${gateway}`, `10.96.0.0/12 via ${gateway}`])
      assert.ok(r.includes(want), `${want} in ${r}`);
    assert.equal((await linkOf(ns, "eth0")).mtu, 1450);
  }

  it("udhcpc without -B gets address, router, MTU, DNS, search and option 121 routes (chaddr reply broadcast)", async () => {
    const before = (await stats("k6t-eth0")).transport.chaddrAsBroadcast;
    const { resolv, env } = await udhcpc(guest1, "udhcpc", []);
    await assertGuestApplied(guest1, "10.244.1.5", "10.244.1.1");
    assert.equal(readFileSync(resolv, "utf8"), `search ${SEARCH.join(" ")}\nnameserver 10.96.0.10\n`);
    const e = envOf(env);
    assert.equal(e.get("serverid"), "169.254.75.10");
    assert.equal(e.get("domain"), "default.svc.cluster.local");
    assert.equal(e.get("hostname"), "vm1");
    assert.equal(e.get("staticroutes"), "10.96.0.0/12 10.244.1.1 0.0.0.0/0 10.244.1.1");
    // OFFER and ACK both went to a client without an address: the chaddr decision, carried out as a broadcast.
    assert.equal((await stats("k6t-eth0")).transport.chaddrAsBroadcast - before, 2);
  });

  it("udhcpc -B (broadcast flag) gets the same lease, answered by plain broadcast", async () => {
    await ipIn(guest1, "addr", "flush", "dev", "eth0");
    await ipIn(guest1, "link", "set", "eth0", "mtu", "1500");
    const before = await stats("k6t-eth0");
    await udhcpc(guest1, "udhcpc-b", ["-B"]);
    await assertGuestApplied(guest1, "10.244.1.5", "10.244.1.1");
    const after = await stats("k6t-eth0");
    assert.equal(after.transport.chaddrAsBroadcast, before.transport.chaddrAsBroadcast);
    assert.equal((after.dhcpv4?.sent.ack ?? 0) - (before.dhcpv4?.sent.ack ?? 0), 1);
  });

  it("ISC dhclient -4 with Debian's dhclient-script applies the lease, option 121 and resolv.conf", async () => {
    await ipIn(guest1, "addr", "flush", "dev", "eth0");
    await ipIn(guest1, "route", "flush", "dev", "eth0");
    await ipIn(guest1, "link", "set", "eth0", "mtu", "1500");
    const root = lab.clientRoot("dhclient4");
    const command =
      "dhclient -4 -d -1 -cf /etc/dhcp/dhclient.conf -lf /run/l -pf /run/p -sf /sbin/dhclient-script eth0";
    const child = lab.spawnIn(guest1, root.wrap(command));
    try {
      await waitFor("dhclient's address", async () => {
        const v4 = (await addresses(guest1, "eth0")).filter((a) => a.family === "inet");
        return v4.length > 0 && readFileSync(join(root.etc, "resolv.conf"), "utf8") !== "" ? true : undefined;
      }).catch((e: unknown) => {
        throw new Error(`${String(e)}; dhclient said:\n${child.out()}`);
      });
      await waitFor("dhclient's routes", async () =>
        (await routes(guest1, "-4", "eth0")).some((r) => r.startsWith("10.96.0.0/12")) ? true : undefined,
      );
      await assertGuestApplied(guest1, "10.244.1.5", "10.244.1.1");
      assert.equal(
        readFileSync(join(root.etc, "resolv.conf"), "utf8"),
        "domain default.svc.cluster.local\nsearch default.svc.cluster.local. svc.cluster.local. cluster.local.\nnameserver 10.96.0.10\n",
      );
    } finally {
      child.kill("SIGTERM");
      await exitOf(child);
    }
  });

  it("two served bridges give each guest its own lease", async () => {
    await ipIn(guest1, "addr", "flush", "dev", "eth0");
    const both = await Promise.all([udhcpc(guest1, "two-1", []), udhcpc(guest2, "two-2", [])]);
    assert.equal(envOf(both[0].env).get("ip"), "10.244.1.5");
    assert.equal(envOf(both[1].env).get("ip"), "192.168.50.7");
    assert.equal(envOf(both[1].env).get("serverid"), "169.254.75.11");
    await assertGuestApplied(guest2, "192.168.50.7", "192.168.50.1");
  });

  it("a DISCOVER on the cluster-facing eth0 gets no answer", async () => {
    const before = await agent.stats(podId);
    const capture = lab.spawnIn(pod, ["tcpdump", "-n", "-l", "-i", "eth0", "udp and (port 67 or port 68)"]);
    let captured = "";
    capture.stdout?.on("data", (d: Buffer) => {
      captured += d.toString();
    });
    let tcpdumpErr = "";
    capture.stderr?.on("data", (d: Buffer) => {
      tcpdumpErr += d.toString();
    });
    await waitFor("tcpdump to listen", () => (tcpdumpErr.includes("listening") ? true : undefined));
    // The client's MAC is not the point: the bridge-binding filter would drop an unknown MAC anyway, so use a served one.
    await ipIn(cluster, "link", "set", "cl0", "down");
    await ipIn(cluster, "link", "set", "cl0", "address", GUEST1_MAC, "up");
    const { script } = udhcpcScript(lab.dir, "cluster");
    const child = lab.spawnIn(cluster, ["udhcpc", "-i", "cl0", "-f", "-n", "-q", "-t", "3", "-T", "1", "-s", script]);
    assert.equal(await exitOf(child), 1, "udhcpc on the cluster side gets no lease");
    capture.kill("SIGTERM");
    await exitOf(capture);
    const lines = captured.split("\n").filter((l) => l.trim() !== "");
    assert.ok(lines.length >= 3, `tcpdump saw the DISCOVERs: ${captured}`);
    assert.ok(
      lines.every((l) => /\.68 > 255\.255\.255\.255\.67/.test(l)),
      `only client packets on eth0:\n${captured}`,
    );
    const afterStats = await agent.stats(podId);
    for (const ifname of ["k6t-eth0", "k6t-blue"]) {
      assert.equal(afterStats.interfaces[ifname]?.transport.received, before.interfaces[ifname]?.transport.received);
    }
  });

  it("malformed datagrams are counted per drop reason and the agent keeps serving", async () => {
    const before = (await stats("k6t-eth0")).dhcpv4;
    const reply = Buffer.alloc(300);
    reply[0] = 2; // BOOTREPLY from a "client"
    reply[1] = 1;
    reply[2] = 6;
    reply.writeUInt32BE(0x63825363, 236);
    reply[240] = 255;
    const badCookie = Buffer.alloc(300);
    badCookie[0] = 1;
    badCookie[1] = 1;
    badCookie[2] = 6;
    const sender = [
      "import socket, sys",
      "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)",
      "s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)",
      "s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b'eth0')",
      "for h in sys.argv[1:]: s.sendto(bytes.fromhex(h), ('255.255.255.255', 67))",
    ].join("\n");
    await execIn(
      guest1,
      "python3",
      "-c",
      sender,
      "00",
      "ff".repeat(100),
      reply.toString("hex"),
      badCookie.toString("hex"),
    );
    const dropped = await waitFor("drops counted", async () => {
      const d = (await stats("k6t-eth0")).dhcpv4?.dropped;
      const b = before?.dropped;
      if (d === undefined || b === undefined) return undefined;
      return d.tooShort - b.tooShort === 2 ? d : undefined;
    });
    assert.equal(dropped.notBootRequest - (before?.dropped.notBootRequest ?? 0), 1);
    assert.equal(dropped.badMagicCookie - (before?.dropped.badMagicCookie ?? 0), 1);
    await ipIn(guest1, "addr", "flush", "dev", "eth0");
    await udhcpc(guest1, "after-garbage", []);
    await assertGuestApplied(guest1, "10.244.1.5", "10.244.1.1");
    assert.equal(agent.status(podId)?.restarts, 0);
  });

  it("a REBINDING request (ciaddr set) is answered by unicast to ciaddr out of a bridge without a route to it", async () => {
    // After the previous test the guest holds 10.244.1.5; REBINDING broadcasts a REQUEST naming it in ciaddr.
    const before = (await stats("k6t-eth0")).transport;
    const client = [
      "import socket",
      `mac = bytes.fromhex('${GUEST1_MAC.replaceAll(":", "")}')`,
      "p = bytearray(240)",
      "p[0:4] = bytes([1, 1, 6, 0])",
      "p[4:8] = bytes.fromhex('0badcafe')",
      "p[12:16] = socket.inet_aton('10.244.1.5')",
      "p[28:34] = mac",
      "p[236:240] = bytes.fromhex('63825363')",
      "p += bytes([53, 1, 3, 255])",
      "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)",
      "s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)",
      "s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b'eth0')",
      "s.bind(('', 68))",
      "s.settimeout(3)",
      "s.sendto(bytes(p), ('255.255.255.255', 67))",
      "data, peer = s.recvfrom(1500)",
      "print(peer[0], data[0], data[4:8].hex(), socket.inet_ntoa(data[16:20]))",
    ].join("\n");
    const out = (await execIn(guest1, "python3", "-c", client)).trim();
    assert.equal(out, "169.254.75.10 2 0badcafe 10.244.1.5");
    const after = (await stats("k6t-eth0")).transport;
    assert.equal(after.unicastFallbackToBroadcast, before.unicastFallbackToBroadcast, "sent as unicast");
    assert.equal(after.chaddrAsBroadcast, before.chaddrAsBroadcast);
    assert.deepEqual(after.sendErrors, {});
  });

  it("the bridges carry no routable address afterwards", async () => {
    for (const [bridge, own] of [
      ["k6t-eth0", "169.254.75.10/32"],
      ["k6t-blue", "169.254.75.11/32"],
    ] as const) {
      const all = await addresses(pod, bridge);
      assert.deepEqual(
        all.filter((a) => a.family === "inet").map((a) => a.cidr),
        [own],
      );
      // Only IPv4 link-local (169.254.0.0/16, RFC 3927) and IPv6 link-local (fe80::/10): nothing routable.
      assert.ok(
        all.every((a) => (a.family === "inet" ? a.cidr.startsWith("169.254.") : /^fe[89ab]/.test(a.cidr))),
        JSON.stringify(all),
      );
    }
    assert.deepEqual(
      events.filter((e) => e.kind !== "ready"),
      [],
    );
  });
});
