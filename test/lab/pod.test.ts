import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { hostExecutor } from "../../src/host/exec.ts";
import type { CniResult } from "../../src/lab/cni.ts";
import {
  addNodeLink,
  clusterNetworkConfig,
  deleteNode,
  type LabNode,
  nodeCniCacheDir,
  nodeIpamDir,
} from "../../src/lab/node.ts";
import {
  clusterFirstDns,
  createPod,
  deletePod,
  type LabPod,
  loadPod,
  networkStatusEntry,
  PodTeardownError,
  renderNetworkStatus,
  renderResolvConf,
} from "../../src/lab/pod.ts";
import { parseResolvConf } from "../../src/plan/pod-facts.ts";
import { freshNode, ipJson, labSkipReason, linkMac, linkNames, ping, rootSnapshot } from "./harness.ts";

describe("network-status rendering", () => {
  const bridgeResult: CniResult = {
    cniVersion: "0.3.1",
    interfaces: [
      { name: "cni0", mac: "aa:00:00:00:00:01" },
      { name: "veth0", mac: "aa:00:00:00:00:02" },
      { name: "eth0", mac: "aa:00:00:00:00:03", sandbox: "/run/netns/p" },
    ],
    ips: [
      { address: "10.244.0.2/24", gateway: "10.244.0.1", interface: 2 },
      { address: "fd00:10:244::2/64", gateway: "fd00:10:244::1", interface: 2 },
    ],
    routes: [
      { dst: "0.0.0.0/0", gw: "10.244.0.1" },
      { dst: "::/0", gw: "fd00:10:244::1" },
      { dst: "10.0.0.0/8", gw: "10.244.0.1" },
    ],
    dns: {},
    raw: {},
  };
  test("networkStatusEntry takes the sandbox interface, bare IPs and default-route gateways", () => {
    assert.deepEqual(networkStatusEntry(bridgeResult, "kindnet", true), {
      name: "kindnet",
      interface: "eth0",
      ips: ["10.244.0.2", "fd00:10:244::2"],
      mac: "aa:00:00:00:00:03",
      default: true,
      dns: {},
      gateway: ["10.244.0.1", "fd00:10:244::1"],
    });
  });
  test("renderNetworkStatus indents each entry with four spaces and joins them with a comma, as Multus does", () => {
    const secondary = networkStatusEntry(
      { ...bridgeResult, ips: [], routes: [], dns: { nameservers: ["10.0.0.53"] } },
      "default/br",
      false,
    );
    const text = renderNetworkStatus([networkStatusEntry(bridgeResult, "kindnet", true), secondary]);
    assert.equal(
      text,
      `[{
    "name": "kindnet",
    "interface": "eth0",
    "ips": [
        "10.244.0.2",
        "fd00:10:244::2"
    ],
    "mac": "aa:00:00:00:00:03",
    "default": true,
    "dns": {},
    "gateway": [
        "10.244.0.1",
        "fd00:10:244::1"
    ]
},{
    "name": "default/br",
    "interface": "eth0",
    "mac": "aa:00:00:00:00:03",
    "dns": {
        "nameservers": [
            "10.0.0.53"
        ]
    }
}]`,
    );
  });
  test("renderNetworkStatus escapes <, > and & as Go's encoding/json does", () => {
    assert.equal(
      renderNetworkStatus([{ name: "a<b>&", dns: {} }]),
      '[{\n    "name": "a\\u003cb\\u003e\\u0026",\n    "dns": {}\n}]',
    );
  });
  test("renderResolvConf output parses back with the planner's resolv.conf rules", () => {
    const dns = {
      nameservers: ["10.96.0.10", "fd00:10:96::a"],
      searches: ["ns1.svc.cluster.local"],
      options: ["ndots:5"],
    };
    assert.deepEqual(parseResolvConf(renderResolvConf(dns)), {
      nameserversV4: ["10.96.0.10"],
      nameserversV6: ["fd00:10:96::a"],
      search: ["ns1.svc.cluster.local"],
      options: ["ndots:5"],
    });
  });
  test("renderResolvConf writes kubelet's ClusterFirst layout", () => {
    assert.equal(
      renderResolvConf(clusterFirstDns("ns1")),
      "search ns1.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n",
    );
  });
});

const skip = labSkipReason();

describe("lab pods with the real CNI plugins", { skip }, () => {
  let node: LabNode;
  let root0: Awaited<ReturnType<typeof rootSnapshot>>;
  const pods: LabPod[] = [];
  before(async () => {
    root0 = await rootSnapshot();
    node = await freshNode();
    await addNodeLink(node, "eth0");
  });
  after(async () => {
    try {
      for (const p of pods.reverse()) await deletePod(node, p).catch(() => {});
      await deleteNode(node);
    } finally {
      const root1 = await rootSnapshot();
      assert.deepEqual(root1.links, root0.links, "root namespace links changed");
      assert.equal(root1.ruleset, root0.ruleset, "root namespace nftables ruleset changed");
    }
  });
  const keep = (p: LabPod): LabPod => {
    pods.push(p);
    return p;
  };

  const families: [string, { ipv4Subnet?: string; ipv6Subnet?: string }, string[]][] = [
    ["IPv4", { ipv4Subnet: "10.244.0.0/24" }, ["10.244.0.1"]],
    ["IPv6", { ipv6Subnet: "fd00:10:244::/64" }, ["fd00:10:244::1"]],
    ["dual-stack", { ipv4Subnet: "10.245.0.0/24", ipv6Subnet: "fd00:10:245::/64" }, ["10.245.0.1", "fd00:10:245::1"]],
  ];
  families.forEach(([family, subnets, gateways], i) => {
    test(`createPod on the ${family} cluster network reaches the node bridge gateway and another pod`, async () => {
      const primary = clusterNetworkConfig({ name: `cluster${i}`, bridge: `cni${i}`, ...subnets });
      const a = keep(await createPod({ node, name: `fam${i}-a`, primary }));
      const b = keep(await createPod({ node, name: `fam${i}-b`, primary }));
      const bIps = b.attachments[0]?.result.ips.map((ip) => ip.address.split("/")[0] ?? "") ?? [];
      assert.equal(bIps.length, gateways.length);
      // The gateways live on the node's bridge (isGateway), not in the root namespace.
      const bridgeAddrs = (await ipJson(node.name, ["addr", "show", "dev", `cni${i}`])).flatMap((l) =>
        typeof l === "object" && l !== null && "addr_info" in l && Array.isArray(l.addr_info)
          ? l.addr_info.map((x: { local?: string }) => x.local)
          : [],
      );
      for (const gw of gateways) assert.ok(bridgeAddrs.includes(gw), `${gw} on cni${i}: ${bridgeAddrs.join(", ")}`);
      for (const target of [...gateways, ...bIps]) {
        const r = await ping(a.netns, target);
        assert.equal(r.code, 0, `ping ${target} from ${a.name}: ${r.stdout}${r.stderr}`);
      }
      // isDefaultGateway: one default route per family via the bridge.
      const routes = await ipJson(a.netns, ["route", "show", "default"]);
      const routes6 = await ipJson(a.netns, ["-6", "route", "show", "default"]);
      assert.deepEqual(
        [...routes, ...routes6].map((r) => (r as { gateway?: string }).gateway),
        gateways,
      );
    });
  });

  test("createPod writes resolv.conf, hostname and the exact network-status of a cluster pod", async () => {
    const primary = clusterNetworkConfig({ name: "kindnet", bridge: "cnik", ipv4Subnet: "10.246.0.0/24" });
    const p = keep(await createPod({ node, name: "status-a", namespace: "ns1", primary }));
    assert.equal(
      await readFile(p.resolvConfPath, "utf8"),
      "search ns1.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n",
    );
    assert.equal(await readFile(p.hostnamePath, "utf8"), "status-a\n");
    const mac = await linkMac(p.netns, "eth0");
    assert.equal(
      p.networkStatus,
      `[{
    "name": "kindnet",
    "interface": "eth0",
    "ips": [
        "10.246.0.2"
    ],
    "mac": "${mac}",
    "default": true,
    "dns": {},
    "gateway": [
        "10.246.0.1"
    ]
}]`,
    );
    const loaded = await loadPod(node, "status-a");
    assert.equal(loaded.networkStatus, p.networkStatus);
    assert.equal(loaded.containerId, p.containerId);
  });

  // The seeds' NADs (KubeVirt "Interfaces and Networks"), with subnets of their own so the tests do not collide.
  const spoofNad = {
    name: "br-spoof",
    config: {
      cniVersion: "0.3.1",
      name: "br-spoof",
      type: "bridge",
      bridge: "br10",
      macspoofchk: true,
      dns: { nameservers: ["10.0.0.53"], search: ["lab.local"] },
      ipam: { type: "host-local", subnet: "10.10.0.0/24" },
    },
  };
  const ptpNad = {
    name: "ptp-mac",
    config: {
      cniVersion: "0.3.1",
      name: "ptp-mac",
      plugins: [{ type: "ptp", ipam: { type: "host-local", subnet: "10.1.1.0/24" } }, { type: "tuning" }],
    },
  };
  const macvlanNad = {
    name: "macvlan-test",
    config: {
      cniVersion: "0.3.1",
      name: "macvlan-test",
      type: "macvlan",
      master: "eth0",
      mode: "bridge",
      ipam: { type: "host-local", subnet: "10.250.250.0/24" },
    },
  };

  test("createPod attaches bridge (macspoofchk), ptp+tuning and macvlan NADs under hashed names with the requested MACs", async () => {
    const primary = clusterNetworkConfig({ name: "kindnet", bridge: "cnis", ipv4Subnet: "10.247.0.0/24" });
    const p = keep(
      await createPod({
        node,
        name: "multi",
        primary,
        secondaries: [
          { nad: spoofNad, networkName: "blue", mac: "02:00:00:00:10:01" },
          { nad: ptpNad, networkName: "red", mac: "02:00:00:00:30:01" },
          { nad: macvlanNad, networkName: "network1", mac: "02:00:00:00:40:01" },
        ],
      }),
    );
    // KubeVirt's hashed names (reference §4.2: blue -> pod16477688c0e, red -> podb1f51a511f1, network1 -> poda7662f44d65).
    assert.deepEqual(
      (await linkNames(p.netns)).sort(),
      ["eth0", "lo", "poda7662f44d65", "pod16477688c0e", "podb1f51a511f1"].sort(),
    );
    assert.equal(await linkMac(p.netns, "pod16477688c0e"), "02:00:00:00:10:01");
    assert.equal(await linkMac(p.netns, "podb1f51a511f1"), "02:00:00:00:30:01");
    assert.equal(await linkMac(p.netns, "poda7662f44d65"), "02:00:00:00:40:01");
    const eth0Mac = await linkMac(p.netns, "eth0");
    assert.equal(
      p.networkStatus,
      `[{
    "name": "kindnet",
    "interface": "eth0",
    "ips": [
        "10.247.0.2"
    ],
    "mac": "${eth0Mac}",
    "default": true,
    "dns": {},
    "gateway": [
        "10.247.0.1"
    ]
},{
    "name": "default/br-spoof",
    "interface": "pod16477688c0e",
    "ips": [
        "10.10.0.2"
    ],
    "mac": "02:00:00:00:10:01",
    "dns": {
        "nameservers": [
            "10.0.0.53"
        ],
        "search": [
            "lab.local"
        ]
    }
},{
    "name": "default/ptp-mac",
    "interface": "podb1f51a511f1",
    "ips": [
        "10.1.1.2"
    ],
    "mac": "02:00:00:00:30:01",
    "dns": {}
},{
    "name": "default/macvlan-test",
    "interface": "poda7662f44d65",
    "ips": [
        "10.250.250.2"
    ],
    "mac": "02:00:00:00:40:01",
    "dns": {}
}]`,
    );
    // ptp: the host side (holding the gateway) is in the node.
    const viaPtp = await ping(p.netns, "10.1.1.1");
    assert.equal(viaPtp.code, 0, viaPtp.stdout + viaPtp.stderr);
    // macspoofchk: the bridge plugin's nft rules are in the node, allowing only the requested MAC.
    const nodeRules = await hostExecutor.run("nft", ["list", "table", "bridge", "nat"], { netns: node.name });
    assert.match(nodeRules.stdout, /ether saddr 02:00:00:00:10:01 return/);
  });

  test("macspoofchk drops frames once the pod changes its MAC (a bridge without it lets them pass), and macvlan pods on one node link reach each other", async () => {
    const plainNad = {
      name: "br-plain",
      config: {
        cniVersion: "0.3.1",
        name: "br-plain",
        type: "bridge",
        bridge: "br11",
        ipam: { type: "host-local", subnet: "10.11.0.0/24" },
      },
    };
    const secondaries = [
      { nad: spoofNad, networkName: "blue" },
      { nad: plainNad, networkName: "plain" },
      { nad: macvlanNad, networkName: "mv" },
    ];
    const a = keep(await createPod({ node, name: "spoof-a", primary: undefined, secondaries }));
    const b = keep(await createPod({ node, name: "spoof-b", primary: undefined, secondaries }));
    const ipOf = (p: LabPod, nad: string) =>
      p.attachments.find((x) => x.statusName === `default/${nad}`)?.result.ips[0]?.address.split("/")[0] ?? "";
    const ifOf = (p: LabPod, network: string) => p.attachments.find((x) => x.networkName === network)?.ifname ?? "";
    for (const nad of ["macvlan-test", "br-spoof", "br-plain"]) {
      const r = await ping(a.netns, ipOf(b, nad));
      assert.equal(r.code, 0, `${nad}: ${r.stdout}${r.stderr}`);
    }
    for (const [network, mac] of [
      ["blue", "02:00:00:00:66:66"],
      ["plain", "02:00:00:00:66:67"],
    ] as const) {
      await hostExecutor.run("ip", ["-n", a.netns, "link", "set", "dev", ifOf(a, network), "address", mac]);
      await hostExecutor.run("ip", ["-n", a.netns, "neigh", "flush", "dev", ifOf(a, network)]);
    }
    const plain = await ping(a.netns, ipOf(b, "br-plain"));
    assert.equal(plain.code, 0, `without macspoofchk a changed MAC still works: ${plain.stdout}${plain.stderr}`);
    const spoofed = await ping(a.netns, ipOf(b, "br-spoof"), 1);
    assert.notEqual(spoofed.code, 0, "a frame from a changed MAC passed macspoofchk");
  });

  test("createPod with a bridge NAD setting vlan tags the pod port on the node bridge", async (t) => {
    const probe = await hostExecutor.run(
      "ip",
      ["-n", node.name, "link", "add", "vlanprobe0", "type", "bridge", "vlan_filtering", "1"],
      { allowFailure: true },
    );
    if (probe.code !== 0) {
      t.skip(`this kernel has no bridge VLAN filtering: ${probe.stderr.trim()}`);
      return;
    }
    await hostExecutor.run("ip", ["-n", node.name, "link", "del", "vlanprobe0"]);
    const vlanNad = {
      name: "br-vlan",
      config: { cniVersion: "0.3.1", name: "br-vlan", type: "bridge", bridge: "br20", vlan: 100 },
    };
    const p = keep(
      await createPod({ node, name: "vlan", primary: undefined, secondaries: [{ nad: vlanNad, networkName: "v" }] }),
    );
    const { stdout } = await hostExecutor.run("bridge", ["-n", node.name, "-json", "vlan", "show"]);
    const ports = JSON.parse(stdout) as { ifname: string; vlans: { vlan: number; flags?: string[] }[] }[];
    const hostVeth = p.attachments[0]?.result.interfaces.find((i) => i.sandbox === undefined && i.name !== "br20");
    const port = ports.find((x) => x.ifname === hostVeth?.name);
    assert.deepEqual(
      port?.vlans.map((v) => [v.vlan, [...(v.flags ?? [])].sort()]),
      [[100, ["Egress Untagged", "PVID"]]],
    );
  });

  test("createPod takes eth0 from a Multus default-network NAD and reports it as the default entry", async () => {
    const bridgeTest = {
      name: "bridge-test",
      namespace: "default",
      config: {
        cniVersion: "0.3.1",
        name: "bridge-test",
        type: "bridge",
        bridge: "br1",
        ipam: { type: "host-local", subnet: "10.250.251.0/24" },
      },
    };
    const p = keep(
      await createPod({
        node,
        name: "mdefault",
        primary: undefined,
        defaultNetwork: { nad: bridgeTest, networkName: "test1" },
      }),
    );
    assert.deepEqual((await linkNames(p.netns)).sort(), ["eth0", "lo"]);
    const mac = await linkMac(p.netns, "eth0");
    assert.equal(
      p.networkStatus,
      `[{
    "name": "default/bridge-test",
    "interface": "eth0",
    "ips": [
        "10.250.251.2"
    ],
    "mac": "${mac}",
    "default": true,
    "dns": {}
}]`,
    );
  });

  test("deletePod runs DEL for every attachment: no veth left in the node, host-local releases the IPs", async () => {
    const primary = clusterNetworkConfig({ name: "deltest", bridge: "cnid", ipv4Subnet: "10.248.0.0/24" });
    const linksBefore = await linkNames(node.name);
    const p = await createPod({
      node,
      name: "del",
      primary,
      secondaries: [
        { nad: { ...ptpNad, name: "ptp-del", config: { ...ptpNad.config, name: "ptp-del" } }, networkName: "red" },
      ],
    });
    assert.deepEqual(await readdir(join(nodeIpamDir(node), "deltest")), ["10.248.0.2", "last_reserved_ip.0", "lock"]);
    assert.equal(
      (await readdir(join(nodeCniCacheDir(node), "results"))).filter((f) => f.includes(p.containerId)).length,
      2,
    );
    await deletePod(node, p);
    const linksAfter = await linkNames(node.name);
    // Only the bridge the plugin created stays (as on a real node); no veth is left behind.
    assert.deepEqual(
      linksAfter.filter((l) => !linksBefore.includes(l)),
      ["cnid"],
    );
    assert.deepEqual(await readdir(join(nodeIpamDir(node), "deltest")), ["last_reserved_ip.0", "lock"]);
    assert.deepEqual(await readdir(join(nodeIpamDir(node), "ptp-del")), ["last_reserved_ip.0", "lock"]);
    assert.equal(
      (await readdir(join(nodeCniCacheDir(node), "results"))).filter((f) => f.includes(p.containerId)).length,
      0,
    );
    assert.ok(!(await hostExecutor.run("ip", ["netns", "list"])).stdout.includes(p.netns));
    await assert.rejects(readFile(p.resolvConfPath));
  });

  test("deletePod removes the namespace and releases what it can even when one DEL fails, then reports it", async () => {
    const primary = clusterNetworkConfig({ name: "delfail", bridge: "cnie", ipv4Subnet: "10.242.0.0/24" });
    const p = await createPod({ node, name: "delfail", primary });
    const [eth0] = p.attachments;
    assert.ok(eth0);
    const bogus = {
      ...eth0,
      ifname: "net9",
      statusName: "bogus",
      config: { cniVersion: "0.3.1", name: "bogus", plugins: [{ type: "no-such-plugin" }] },
    };
    await assert.rejects(deletePod(node, { ...p, attachments: [...p.attachments, bogus] }), (e: unknown) => {
      assert.ok(e instanceof PodTeardownError);
      assert.equal(e.errors.length, 1);
      assert.match(String(e.errors[0]), /CNI plugin "no-such-plugin" failed DEL/);
      return true;
    });
    assert.ok(!(await hostExecutor.run("ip", ["netns", "list"])).stdout.includes(p.netns));
    assert.deepEqual(await readdir(join(nodeIpamDir(node), "delfail")), ["last_reserved_ip.0", "lock"]);
  });

  test("createPod undoes everything when an attachment fails, and rethrows the CNI error", async () => {
    const primary = clusterNetworkConfig({ name: "failtest", bridge: "cnif", ipv4Subnet: "10.249.0.0/24" });
    const vethsBefore = (await linkNames(node.name)).filter((l) => l.startsWith("veth")).sort();
    const broken = {
      name: "broken",
      config: { cniVersion: "0.3.1", name: "broken", type: "macvlan", master: "nosuch0" },
    };
    await assert.rejects(
      createPod({ node, name: "fails", primary, secondaries: [{ nad: broken, networkName: "x" }] }),
      /CNI plugin "macvlan" failed ADD/,
    );
    assert.deepEqual(await readdir(join(nodeIpamDir(node), "failtest")), ["last_reserved_ip.0", "lock"]);
    assert.ok(!(await hostExecutor.run("ip", ["netns", "list"])).stdout.includes(`${node.name}-fails`));
    assert.deepEqual((await linkNames(node.name)).filter((l) => l.startsWith("veth")).sort(), vethsBefore);
  });

  test("ipMasq puts the bridge plugin's masquerade rules in the node's ruleset only", async () => {
    const primary = clusterNetworkConfig({ name: "masq", bridge: "cnim", ipv4Subnet: "10.243.0.0/24", ipMasq: true });
    keep(await createPod({ node, name: "masq", primary }));
    const { stdout } = await hostExecutor.run("nft", ["list", "ruleset"], { netns: node.name });
    assert.match(stdout, /ip saddr 10\.243\.0\.2 .*CNI-/);
    assert.match(stdout, /masquerade/);
  });
});
