/**
 * Masquerade on dual-stack and IPv6-only pods, end to end: the guest gets fd10:0:2::2 (or the address of a custom
 * vmIPv6NetworkCIDR) by stateful DHCPv6, its default
 * route from vmnet's router advertisements and DNS servers and search domains from the pod's resolv.conf, all
 * automatically (ISC dhclient -6 and dhcpcd, each on both pods); a client pod reaches the guest at the pod's IPv6,
 * guest egress leaves with the pod's IPv6 (and IPv4) as source, and teardown restores both pods.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { LabPod } from "../../src/lab/pod.ts";
import type { WiredPod } from "../../src/runtime/wire.ts";
import {
  addresses,
  antiSpoofCounters,
  connectFrom,
  E2eLab,
  e2eSkipReason,
  execIn,
  exitOf,
  type LoadedVm,
  loadVm,
  NETTOOL,
  netnsSnapshot,
  PYTHON,
  podNetwork,
  routes,
  waitFor,
} from "./harness.ts";

const skip = e2eSkipReason("/usr/sbin/dhclient", "/sbin/dhclient-script", "/usr/sbin/dhcpcd");

const ROUTER = "fe80::ff:fe00:0";
const SEARCH = ["default.svc.cluster.local", "svc.cluster.local", "cluster.local"];
const DUAL = podNetwork({ name: "e2e-masq-dual", bridge: "cnid", ipv4: "10.245.0.0/24", ipv6: "fd00:10:245::/64" });
const V6 = podNetwork({ name: "e2e-masq-v6", bridge: "cni6", ipv6: "fd00:10:246::/64" });

interface Side {
  readonly key: string;
  readonly dual: boolean;
  readonly vm: LoadedVm;
  /** The guest's planned IPv6 address and its gateway on the bridge; the IPv4 lease on dual-stack pods. */
  readonly v6: string;
  readonly gateway6: string;
  readonly v4?: string;
  pod?: LabPod;
  client?: LabPod;
  guest?: string;
  wired?: WiredPod;
  cniMade?: unknown;
}

const ipOf = (pod: LabPod | undefined, v6: boolean): string =>
  pod?.attachments[0]?.result.ips.find((i) => i.address.includes(":") === v6)?.address.split("/")[0] ?? "";

describe("masquerade on dual-stack and IPv6-only pods", { skip }, () => {
  const lab = new E2eLab();
  const defaults = loadVm("examples/dataplane/masquerade-all-ports.yaml");
  const custom = loadVm("examples/dataplane/masquerade-ipv6-cidr.yaml");
  const sides: Side[] = [
    { key: "dual", dual: true, vm: defaults, v6: "fd10:0:2::2", gateway6: "fd10:0:2::1", v4: "10.0.2.2/24" },
    { key: "v6", dual: false, vm: defaults, v6: "fd10:0:2::2", gateway6: "fd10:0:2::1" },
    { key: "cidr", dual: true, vm: custom, v6: "fd20:0:3::2", gateway6: "fd20:0:3::1", v4: "10.0.3.2/24" },
  ];
  const side = (key: string): Required<Side> => {
    const s = sides.find((x) => x.key === key);
    assert.ok(s?.pod && s.client && s.guest && s.wired && s.cniMade !== undefined, `side "${key}" is wired`);
    return s as Required<Side>;
  };

  before(async () => {
    await lab.start();
    await Promise.all(
      sides.map(async (s) => {
        const network = s.dual ? DUAL : V6;
        const nameservers = s.dual ? ["10.96.0.10", "fd00:10:96::a"] : ["fd00:10:96::a"];
        s.client = await lab.pod(`client-${s.key}`, { primary: network });
        s.pod = await lab.pod(`mq6-${s.key}`, {
          primary: network,
          dns: { nameservers, searches: SEARCH, options: ["ndots:5"] },
        });
        s.cniMade = await netnsSnapshot(s.pod.netns);
        s.guest = await lab.guest(s.key);
        const podIP = ipOf(s.pod, !s.dual);
        s.wired = await lab.wire(s.pod, s.vm, { guests: { default: s.guest }, podIP });
      }),
    );
  });

  after(async () => {
    await lab.cleanup();
  });

  it("plans DHCPv6 and RA on every masquerade bridge, DHCPv4 only on dual-stack pods, custom CIDRs honoured", () => {
    for (const s of sides) {
      const i = side(s.key).wired.plan.interfaces[0];
      assert.equal(i?.dhcpv6?.clientAddress, s.v6, s.key);
      assert.deepEqual(i?.dhcpv6?.dnsServers, ["fd00:10:96::a"], s.key);
      assert.deepEqual(i?.dhcpv6?.searchDomains, SEARCH, s.key);
      assert.equal(i?.ra?.sourceAddress, ROUTER, s.key);
      assert.equal(i?.dhcpv4?.client.ip, s.v4?.split("/")[0], s.key);
    }
  });

  async function assertV6Lease(s: Side, guest: string, resolv: string): Promise<void> {
    const global = (await addresses(guest, "eth0")).filter((a) => a.scope === "global").map((a) => a.cidr);
    assert.ok(
      global.some((c) => c.startsWith(`${s.v6}/`)),
      JSON.stringify(global),
    );
    assert.ok((await routes(guest, "-6", "eth0")).includes(`default via ${ROUTER}`));
    assert.match(resolv, /^nameserver fd00:10:96::a$/m);
    assert.match(resolv, /^search default\.svc\.cluster\.local\.? svc\.cluster\.local\.? cluster\.local\.?$/m);
  }

  async function dhclient6(s: Side, guest: string, name: string): Promise<void> {
    const root = lab.clientRoot(name);
    const child = lab.spawnIn(
      guest,
      root.wrap("dhclient -6 -d -1 -cf /etc/dhcp/dhclient.conf -lf /run/l -pf /run/p -sf /sbin/dhclient-script eth0"),
    );
    try {
      const resolvPath = join(root.etc, "resolv.conf");
      await waitFor("dhclient -6 to configure", async () => {
        const has = (await addresses(guest, "eth0")).some((a) => a.cidr.startsWith(`${s.v6}/`));
        const r = await routes(guest, "-6", "eth0");
        return has && r.includes(`default via ${ROUTER}`) && readFileSync(resolvPath, "utf8") !== "" ? true : undefined;
      }).catch((e: unknown) => assert.fail(`${String(e)}; dhclient said:\n${child.out()}`));
      await assertV6Lease(s, guest, readFileSync(resolvPath, "utf8"));
    } finally {
      child.kill("SIGTERM");
      await exitOf(child);
    }
  }

  async function dhcpcd(s: Side, guest: string, name: string): Promise<void> {
    const root = lab.clientRoot(name);
    writeFileSync(
      join(root.etc, "dhcpcd.conf"),
      "duid\npersistent\noption domain_name_servers, domain_name, domain_search\noption rapid_commit\n",
    );
    const child = lab.spawnIn(guest, root.wrap("dhcpcd -6 -B -f /etc/dhcpcd.conf eth0"));
    try {
      const resolvPath = join(root.etc, "resolv.conf");
      await waitFor("dhcpcd to configure", async () => {
        const has = (await addresses(guest, "eth0")).some((a) => a.cidr.startsWith(`${s.v6}/`));
        const resolv = readFileSync(resolvPath, "utf8");
        const r = await routes(guest, "-6", "eth0");
        return has && r.includes(`default via ${ROUTER}`) && resolv.includes("search") ? true : undefined;
      }).catch((e: unknown) => assert.fail(`${String(e)}; dhcpcd said:\n${child.out()}`));
      await assertV6Lease(s, guest, readFileSync(resolvPath, "utf8"));
    } finally {
      child.kill("SIGTERM");
      await exitOf(child);
    }
  }

  async function reset(guest: string): Promise<void> {
    await execIn(guest, "ip", "-6", "addr", "flush", "dev", "eth0", "scope", "global");
  }

  it("ISC dhclient -6: the planned address, default route via the RA, DNS and search", async () => {
    await Promise.all(sides.map((s) => dhclient6(s, side(s.key).guest, `dhclient6-${s.key}`)));
  });

  it("dhcpcd: the planned address, default route via the RA, DNS and search", async () => {
    await Promise.all(
      sides.map(async (s) => {
        await reset(side(s.key).guest);
        await dhcpcd(s, side(s.key).guest, `dhcpcd-${s.key}`);
      }),
    );
  });

  it("dual-stack guests also lease their IPv4 address (10.0.2.2/24, or from vmNetworkCIDR) over DHCPv4", async () => {
    for (const s of sides.filter((x) => x.dual)) {
      const { guest } = side(s.key);
      const lease = await lab.udhcpc(guest, `udhcpc-${s.key}`);
      assert.equal(lease.code, 0, lease.log);
      const v4 = (await addresses(guest, "eth0")).filter((a) => a.family === "inet").map((a) => a.cidr);
      assert.deepEqual(v4, [s.v4], s.key);
    }
  });

  it("a client pod reaches the guest at the pod's IPv6 (and IPv4 on the dual-stack pod)", async () => {
    for (const s of sides) {
      const { guest, client, pod } = side(s.key);
      await lab.serve(guest, { tcp: [80] });
      assert.equal(await connectFrom(client.netns, ipOf(pod, true), 80), "vm:80", s.key);
      if (s.dual) assert.equal(await connectFrom(client.netns, ipOf(pod, false), 80), "vm:80", s.key);
    }
  });

  it("guest egress leaves with the pod's IPv6 (and IPv4) as source", async () => {
    for (const s of sides) {
      const { guest, client, pod } = side(s.key);
      const families = s.dual ? [true, false] : [true];
      for (const v6 of families) {
        const printer = await lab.peerPrinter(client.netns, 9000);
        await connectFrom(guest, ipOf(client, v6), 9000);
        assert.equal(await printer.peer(), ipOf(pod, v6), `${s.key} ${v6 ? "IPv6" : "IPv4"}`);
      }
    }
  });

  it("anti-spoofing drops IPv6 frames with a forged source address while genuine ones pass", async () => {
    for (const s of sides) {
      const { pod, guest, wired } = side(s.key);
      const plan = wired.plan.interfaces[0];
      assert.ok(plan?.antiSpoof !== undefined);
      assert.deepEqual(plan.antiSpoof.ipv6, [s.v6]);
      const tap = plan.guest.tapName.value;
      const capture = lab.spawnIn(pod.netns, ["tcpdump", "-n", "-l", "-A", "-i", "k6t-eth0", "udp port 9999"]);
      await waitFor("tcpdump to listen", () => (capture.out().includes("listening") ? true : undefined));
      const before = await antiSpoofCounters(pod.netns, tap);
      const send = (ip: string, marker: string) =>
        execIn(guest, PYTHON, NETTOOL, "frame", "eth0", plan.guest.mac, ip, s.gateway6, marker);
      await send(s.v6, "GENUINE6");
      await send(s.v6.replace(/2$/, "77"), "FORGED6");
      await waitFor("the genuine frame on the bridge", () => (capture.out().includes("GENUINE6") ? true : undefined));
      const after = await antiSpoofCounters(pod.netns, tap);
      await new Promise((r) => setTimeout(r, 300));
      assert.doesNotMatch(capture.out(), /FORGED6/, s.key);
      // The IPv6 source rule is the chain's last.
      assert.equal((after.at(-1) ?? 0) - (before.at(-1) ?? 0), 1, `${s.key}: ${before} -> ${after}`);
      capture.kill("SIGTERM");
    }
  });

  it("a DHCPv6 request sent from the node to the pods' cluster-facing eth0 gets no answer", async () => {
    for (const [s, bridge] of [
      ["dual", "cnid"],
      ["v6", "cni6"],
    ] as const) {
      const out = await execIn(lab.node?.name ?? "", PYTHON, NETTOOL, "solicit6", bridge);
      assert.equal(out.trim(), "silent", s);
    }
  });

  it("unwiring leaves every pod exactly as CNI made it", async () => {
    for (const s of sides) {
      const w = side(s.key);
      await lab.unwireToCni(w.wired, w.cniMade, s.key);
    }
    lab.assertAllUnwired();
    assert.deepEqual(
      lab.events.filter((e) => e.kind !== "ready"),
      [],
    );
  });
});
