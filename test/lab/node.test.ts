import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { parseCniConfig } from "../../src/api/nad.ts";
import { hostExecutor } from "../../src/host/exec.ts";
import { listNetns } from "../../src/host/netns.ts";
import { normalizeNetworkConfig } from "../../src/lab/cni.ts";
import { addNodeLink, clusterNetworkConfig, deleteNode, nodeHandle } from "../../src/lab/node.ts";
import { createPod, destroyNode } from "../../src/lab/pod.ts";
import { freshNode, labSkipReason, linkNames, rootSnapshot } from "./harness.ts";

describe("clusterNetworkConfig", () => {
  const cases: [string, { ipv4Subnet?: string; ipv6Subnet?: string }, { subnet: string }[][]][] = [
    ["IPv4", { ipv4Subnet: "10.244.0.0/24" }, [[{ subnet: "10.244.0.0/24" }]]],
    ["IPv6", { ipv6Subnet: "fd00:10:244::/64" }, [[{ subnet: "fd00:10:244::/64" }]]],
    [
      "dual-stack",
      { ipv4Subnet: "10.244.0.0/24", ipv6Subnet: "fd00:10:244::/64" },
      [[{ subnet: "10.244.0.0/24" }], [{ subnet: "fd00:10:244::/64" }]],
    ],
  ];
  for (const [family, subnets, ranges] of cases) {
    test(`clusterNetworkConfig builds a gateway bridge with one host-local range per family (${family})`, () => {
      assert.deepEqual(clusterNetworkConfig(subnets), {
        cniVersion: "0.3.1",
        name: "vmnet-pod-network",
        plugins: [
          {
            type: "bridge",
            bridge: "cni0",
            isGateway: true,
            isDefaultGateway: true,
            ipam: { type: "host-local", ranges },
          },
          { type: "tuning", capabilities: { mac: true } },
        ],
      });
    });
  }
  test("clusterNetworkConfig needs a subnet", () => assert.throws(() => clusterNetworkConfig({}), RangeError));
  test("clusterNetworkConfig rejects a bridge name over 15 bytes", () =>
    assert.throws(() => clusterNetworkConfig({ ipv4Subnet: "10.0.0.0/24", bridge: "a-very-long-bridge" })));
  test("nodeHandle defaults to vmnet-node under /run/vmnet-lab", () => {
    const n = nodeHandle();
    assert.deepEqual(
      [n.name, n.netnsPath, n.stateDir, n.pluginDir],
      ["vmnet-node", "/run/netns/vmnet-node", "/run/vmnet-lab/vmnet-node", "/usr/lib/cni"],
    );
  });
  test("normalizeNetworkConfig accepts a NAD config decoded by api/nad.ts", () => {
    const decoded = parseCniConfig(
      '{"cniVersion":"0.3.1","name":"ptp-mac","plugins":[{"type":"ptp","ipam":{"type":"host-local","subnet":"10.1.1.0/24"}},{"type":"tuning"}]}',
    ).value;
    assert.deepEqual(normalizeNetworkConfig(decoded), {
      cniVersion: "0.3.1",
      name: "ptp-mac",
      plugins: [{ type: "ptp", ipam: { type: "host-local", subnet: "10.1.1.0/24" } }, { type: "tuning" }],
    });
  });
});

describe("lab node namespace", { skip: labSkipReason() }, () => {
  let root0: Awaited<ReturnType<typeof rootSnapshot>>;
  before(async () => {
    root0 = await rootSnapshot();
  });
  after(async () => {
    const root1 = await rootSnapshot();
    assert.deepEqual(root1.links, root0.links, "root namespace links changed");
    assert.equal(root1.ruleset, root0.ruleset, "root namespace nftables ruleset changed");
  });

  test("createNode turns forwarding on inside the node only and deleteNode removes namespace and state", async () => {
    const node = await freshNode();
    try {
      const get = async (key: string) =>
        (await hostExecutor.run("sysctl", ["-n", key], { netns: node.name })).stdout.trim();
      assert.deepEqual([await get("net.ipv4.ip_forward"), await get("net.ipv6.conf.all.forwarding")], ["1", "1"]);
      await addNodeLink(node, "eth0");
      assert.deepEqual((await linkNames(node.name)).sort(), ["eth0", "eth0-peer", "lo"]);
      assert.ok(existsSync(node.stateDir));
    } finally {
      await deleteNode(node);
    }
    assert.ok(!(await listNetns()).includes(node.name));
    assert.ok(!existsSync(node.stateDir));
  });

  test("destroyNode deletes every pod, their namespaces and the node", async () => {
    const node = await freshNode();
    try {
      const primary = clusterNetworkConfig({ ipv4Subnet: "10.244.0.0/24" });
      await createPod({ node, name: "a", primary });
      await createPod({ node, name: "b", primary });
      assert.equal((await listNetns()).filter((n) => n.startsWith(`${node.name}-`)).length, 2);
    } finally {
      await destroyNode(node);
    }
    assert.deepEqual(
      (await listNetns()).filter((n) => n.startsWith(node.name)),
      [],
    );
    assert.ok(!existsSync(node.stateDir));
  });
});
