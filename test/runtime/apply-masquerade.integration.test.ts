import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hostExecutor } from "../../src/host/exec.ts";
import { canonicalListing, type NftJson } from "../../src/host/nftables.ts";
import { applyPlan } from "../../src/runtime/apply.ts";
import { teardownPlan } from "../../src/runtime/teardown.ts";
import { nftSkipReason, withNetns } from "../host/harness.ts";
import { models } from "./helpers.ts";
import {
  cleanupPod,
  ipJson,
  type KernelPod,
  nftObjects,
  planOn,
  roundTrip,
  runtimeFor,
  setupPod,
  sysctlIn,
} from "./kernel.ts";

const skip = nftSkipReason();

/** The bridge and tap masquerade builds, checked with `ip -json`; `bridgeAddrs` are the bridge's global addresses. */
async function checkDevices(netns: string, bridgeAddrs: string[]): Promise<void> {
  const links = await ipJson(netns, ["-d", "link", "show"]);
  const bridge = links.find((l) => l.ifname === "k6t-eth0");
  const tap = links.find((l) => l.ifname === "tap0");
  const eth0 = links.find((l) => l.ifname === "eth0");
  assert.equal((bridge?.linkinfo as { info_kind?: string } | undefined)?.info_kind, "bridge");
  assert.equal(bridge?.address, "02:00:00:00:00:00");
  assert.equal(bridge?.mtu, 1450);
  assert.equal(tap?.master, "k6t-eth0");
  assert.equal(tap?.mtu, 1450);
  const tun = (tap?.linkinfo as { info_data?: { type?: string; user?: unknown } } | undefined)?.info_data;
  assert.equal(tun?.type, "tap");
  assert.equal(eth0?.address, "0a:58:0a:f4:01:05", "the pod NIC is untouched");
  const addrs = (await ipJson(netns, ["address", "show", "dev", "k6t-eth0"])).flatMap((l) =>
    (l.addr_info as { local: string; prefixlen: number; scope: string }[])
      .filter((a) => a.scope === "global")
      .map((a) => `${a.local}/${a.prefixlen}`),
  );
  assert.deepEqual(addrs.sort(), [...bridgeAddrs].sort());
}

function natTables(objects: Record<string, unknown>[]): string[] {
  return objects.flatMap((o) => {
    const t = o.table as { family?: string; name?: string } | undefined;
    return t === undefined ? [] : [`${t.family} ${t.name}`];
  });
}

describe("applyPlan masquerade in a real pod namespace", { skip }, () => {
  it("applyPlan masquerade IPv4-only with ports: NAT set, forwarding, route_localnet", async () => {
    await roundTrip(models.masqueradePorts, ["10.244.1.5/24"], async (netns) => {
      await checkDevices(netns, ["10.0.2.1/24"]);
      assert.equal(await sysctlIn(netns, "net.ipv4.ip_forward"), "1");
      assert.equal(await sysctlIn(netns, "net.ipv4.conf.k6t-eth0.route_localnet"), "1");
      assert.equal(await sysctlIn(netns, "net.ipv6.conf.all.forwarding"), "0");
      const objects = await nftObjects(netns);
      assert.deepEqual(natTables(objects).sort(), ["ip nat", "netdev vmnet_antispoof"]);
      const sets = objects.flatMap((o) => {
        const s = o.set as { name?: string; elem?: unknown[] } | undefined;
        return s === undefined ? [] : [`${s.name}=${JSON.stringify(s.elem)}`];
      });
      assert.deepEqual(sets.sort(), ["kubevirt_tcp_ports=[80]", "kubevirt_udp_ports=[53]"]);
    });
  });

  it("applyPlan masquerade IPv6-only: ip6 nat and IPv6 forwarding only", async () => {
    await roundTrip(models.masquerade, ["fd00:10:244:1::5/64"], async (netns) => {
      await checkDevices(netns, ["fd10:0:2::1/120"]);
      assert.equal(await sysctlIn(netns, "net.ipv6.conf.all.forwarding"), "1");
      assert.equal(await sysctlIn(netns, "net.ipv4.ip_forward"), "0");
      assert.deepEqual(natTables(await nftObjects(netns)).sort(), ["ip6 nat", "netdev vmnet_antispoof"]);
    });
  });

  it("applyPlan masquerade dual-stack: both families on the bridge and in nftables", async () => {
    await roundTrip(models.masquerade, ["10.244.1.5/24", "fd00:10:244:1::5/64"], async (netns) => {
      await checkDevices(netns, ["10.0.2.1/24", "fd10:0:2::1/120"]);
      assert.equal(await sysctlIn(netns, "net.ipv4.ip_forward"), "1");
      assert.equal(await sysctlIn(netns, "net.ipv6.conf.all.forwarding"), "1");
      assert.deepEqual(natTables(await nftObjects(netns)).sort(), ["ip nat", "ip6 nat", "netdev vmnet_antispoof"]);
      // No link-local yet: the kernel adds fe80::ff:fe00:0 (the RA source) once a guest gives the tap carrier.
      const ll = (await ipJson(netns, ["-6", "address", "show", "dev", "k6t-eth0", "scope", "link"])).flatMap((l) =>
        (l.addr_info as { local: string }[]).map((a) => a.local),
      );
      assert.deepEqual(ll, []);
    });
  });

  it("applyPlan shares a pre-existing ip nat table and teardown leaves the other owner's objects as they were", async () => {
    await withNetns(2, async ([pod = "", node = ""]) => {
      let kp: KernelPod | undefined;
      try {
        kp = await setupPod(pod, node, ["10.244.1.5/24"]);
        const foreign = [
          "add table ip nat",
          "add chain ip nat ISTIO_INBOUND",
          "add rule ip nat ISTIO_INBOUND tcp dport 15008 counter return",
          "add set ip nat istio_ports { type inet_service; }",
        ].join("\n");
        await hostExecutor.run("nft", ["-f", "-"], { netns: pod, stdin: `${foreign}\n` }).catch(async () => {
          // `nft -f -` cannot open the socketpair Node passes as stdin on some systems; one command per run then.
          for (const line of foreign.split("\n")) await hostExecutor.run("nft", line.split(" "), { netns: pod });
        });
        const canon = async () =>
          canonicalListing({ nftables: (await nftObjects(pod)) as unknown as NftJson["nftables"] });
        const before = await canon();
        const rt = runtimeFor(kp);
        const plan = await planOn(kp, models.masqueradePorts, rt);
        await applyPlan(plan, rt);
        const applied = JSON.stringify(await canon());
        assert.ok(applied.includes("ISTIO_INBOUND") && applied.includes("KUBEVIRT_PREINBOUND"));
        await applyPlan(plan, rt);
        assert.equal(JSON.stringify(await canon()), applied, "re-apply keeps one copy of every rule");
        assert.equal((await rt.state.load())?.nftTables.find((t) => t.name === "nat")?.created, false);
        await teardownPlan(plan, rt);
        assert.deepEqual(await canon(), before);
      } finally {
        await cleanupPod(kp);
      }
    });
  });
});
