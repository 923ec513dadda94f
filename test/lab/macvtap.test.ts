import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { hostExecutor } from "../../src/host/exec.ts";
import { createNetns, deleteNetns } from "../../src/host/netns.ts";
import {
  exposableLinks,
  MacvtapAllocationError,
  type MacvtapDevicePluginConfig,
  macvtapAllocations,
  parseMacvtapDevicePluginConfig,
  resolveMacvtapResource,
} from "../../src/lab/macvtap.ts";
import { addNodeLink, deleteNode, type LabNode, nodePodsDir } from "../../src/lab/node.ts";
import { attachNetwork, createPod, deletePod, detachNetwork, type LabNad, type LabPod } from "../../src/lab/pod.ts";
import { hashedPodInterfaceName } from "../../src/plan/namescheme.ts";
import { uniqueNetnsName } from "../host/harness.ts";
import { freshNode, ipJson, labSkipReason, ping, rootSnapshot } from "./harness.ts";

describe("parseMacvtapDevicePluginConfig", () => {
  const ok: { readonly name: string; readonly text: string; readonly want: MacvtapDevicePluginConfig }[] = [
    { name: "[] exposes every interface", text: "[]", want: { kind: "all" } },
    {
      name: "the seed's ConfigMap, trailing comma included",
      text: '[ { "name": "dataplane", "lowerDevice": "eth0", "mode": "bridge", "capacity": 50 }, ]',
      want: { kind: "listed", resources: [{ name: "dataplane", lowerDevice: "eth0", mode: "bridge", capacity: 50 }] },
    },
    {
      name: "mode and capacity default to bridge and 100",
      text: '[{"name":"a","lowerDevice":"ens4"}]',
      want: { kind: "listed", resources: [{ name: "a", lowerDevice: "ens4", mode: "bridge", capacity: 100 }] },
    },
  ];
  for (const c of ok) {
    test(`parseMacvtapDevicePluginConfig: ${c.name}`, () => {
      assert.deepEqual(parseMacvtapDevicePluginConfig(c.text), c.want);
    });
  }
  const bad: { readonly name: string; readonly text: string; readonly error: RegExp }[] = [
    { name: "not JSON", text: "[{", error: /^Cannot parse DP_MACVTAP_CONF/ },
    { name: "not an array", text: '{"name":"a"}', error: /it must be a JSON array$/ },
    { name: "no name", text: '[{"lowerDevice":"eth0"}]', error: /DP_MACVTAP_CONF\[0\]: "name" must be/ },
    { name: "no lower device", text: '[{"name":"a"}]', error: /"lowerDevice" must be a string$/ },
    {
      name: "a lower device too long",
      text: '[{"name":"a","lowerDevice":"abcdefghijklmnop"}]',
      error: /1 to 15 bytes/,
    },
    { name: "an unknown mode", text: '[{"name":"a","lowerDevice":"e","mode":"x"}]', error: /mode "x" is not one of/ },
    { name: "a negative capacity", text: '[{"name":"a","lowerDevice":"e","capacity":-1}]', error: /capacity "-1"/ },
    {
      name: "a repeated name",
      text: '[{"name":"a","lowerDevice":"e"},{"name":"a","lowerDevice":"f"}]',
      error: /DP_MACVTAP_CONF\[1\]: name "a" is repeated$/,
    },
  ];
  for (const c of bad) {
    test(`parseMacvtapDevicePluginConfig refuses ${c.name}`, () => {
      assert.throws(() => parseMacvtapDevicePluginConfig(c.text), { message: c.error });
    });
  }
});

describe("resolveMacvtapResource", () => {
  const listed = parseMacvtapDevicePluginConfig('[{"name":"dataplane","lowerDevice":"eth0","capacity":2}]');
  test("resolveMacvtapResource maps a listed resource to its lower device", () => {
    assert.deepEqual(resolveMacvtapResource(listed, "macvtap.network.kubevirt.io/dataplane", ["eth0"]), {
      name: "dataplane",
      lowerDevice: "eth0",
      mode: "bridge",
      capacity: 2,
    });
  });
  test("resolveMacvtapResource under [] exposes each node link under its own name", () => {
    assert.equal(
      resolveMacvtapResource({ kind: "all" }, "macvtap.network.kubevirt.io/ens4", ["eth0", "ens4"]).lowerDevice,
      "ens4",
    );
  });
  const refused: {
    readonly name: string;
    readonly config: MacvtapDevicePluginConfig;
    readonly resource: string | undefined;
    readonly links: string[];
    readonly message: string;
  }[] = [
    {
      name: "no resource name",
      config: listed,
      resource: undefined,
      links: ["eth0"],
      message:
        'Cannot allocate a macvtap device: the network attachment definition has no "k8s.v1.cni.cncf.io/resourceName" annotation naming a "macvtap.network.kubevirt.io/<resource>"',
    },
    {
      name: "another device plugin's resource",
      config: listed,
      resource: "intel.com/sriov",
      links: ["eth0"],
      message:
        'Cannot allocate a macvtap device for resource "intel.com/sriov": it is not "macvtap.network.kubevirt.io/<resource>"',
    },
    {
      name: "a resource the configuration does not list",
      config: listed,
      resource: "macvtap.network.kubevirt.io/eth0",
      links: ["eth0"],
      message:
        'Cannot allocate resource "macvtap.network.kubevirt.io/eth0": the macvtap device plugin does not expose it (DP_MACVTAP_CONF exposes "dataplane"); a pod asking for it stays Pending',
    },
    {
      name: "a node interface that does not exist under []",
      config: { kind: "all" },
      resource: "macvtap.network.kubevirt.io/eth9",
      links: ["eth0"],
      message:
        'Cannot allocate resource "macvtap.network.kubevirt.io/eth9": the macvtap device plugin does not expose it (DP_MACVTAP_CONF exposes "eth0"); a pod asking for it stays Pending',
    },
    {
      name: "a listed resource whose lower device is missing",
      config: listed,
      resource: "macvtap.network.kubevirt.io/dataplane",
      links: ["ens4"],
      message:
        'Cannot allocate resource "macvtap.network.kubevirt.io/dataplane": its lower device "eth0" is not a link of the node',
    },
  ];
  for (const c of refused) {
    test(`resolveMacvtapResource refuses ${c.name}`, () => {
      assert.throws(
        () => resolveMacvtapResource(c.config, c.resource, c.links),
        (e: unknown) => e instanceof MacvtapAllocationError && e.message === c.message && !e.retryable,
      );
    });
  }
  test("exposableLinks leaves out lo, bridges, bridge ports and macvlan/macvtap children", () => {
    const links = [
      { ifname: "lo" },
      { ifname: "veth1234", master: "cni0", linkinfo: { info_kind: "veth" } },
      { ifname: "eth0", linkinfo: { info_kind: "veth" } },
      { ifname: "cni0", linkinfo: { info_kind: "bridge" } },
      { ifname: "mv0", linkinfo: { info_kind: "macvtap" } },
      { ifname: "mv1", linkinfo: { info_kind: "macvlan" } },
      { ifname: "ens4" },
    ];
    assert.deepEqual(exposableLinks(links), ["eth0", "ens4"]);
  });
});

const skip = labSkipReason();

describe("lab macvtap attachments on a real kernel", { skip }, () => {
  let node: LabNode;
  let root0: Awaited<ReturnType<typeof rootSnapshot>>;
  const l2 = uniqueNetnsName();
  const pods: LabPod[] = [];
  const DP = '[{"name":"dataplane","lowerDevice":"ens4","mode":"bridge","capacity":2}]';
  const nad: LabNad = {
    name: "macvtapnetwork",
    namespace: "default",
    resourceName: "macvtap.network.kubevirt.io/dataplane",
    config: { cniVersion: "0.3.1", name: "macvtapnetwork", type: "macvtap", mtu: 1400 },
  };
  const ifname = hashedPodInterfaceName("hostnetwork").value;

  before(async () => {
    root0 = await rootSnapshot();
    node = await freshNode();
    await createNetns(l2);
    await addNodeLink(node, "ens4", { peer: "l2port", peerNetns: l2 });
    await hostExecutor.run("ip", ["-n", l2, "address", "add", "192.0.2.1/24", "dev", "l2port"]);
  });
  after(async () => {
    try {
      for (const p of pods.reverse()) await deletePod(node, p).catch(() => {});
      await deleteNode(node);
      await deleteNetns(l2);
    } finally {
      const root1 = await rootSnapshot();
      assert.deepEqual(root1.links, root0.links, "root namespace links changed");
    }
  });

  test("createPod makes the macvtap on the lower device under the Multus name, with the selection's MAC", async () => {
    const pod = await createPod({
      node,
      name: "mvt-a",
      primary: undefined,
      secondaries: [{ nad, networkName: "hostnetwork", mac: "02:00:00:aa:00:01" }],
      macvtapDevicePluginConfig: DP,
    });
    pods.push(pod);
    const [link] = (await ipJson(pod.netns, ["-details", "link", "show", "dev", ifname])) as {
      address: string;
      mtu: number;
      operstate: string;
      linkinfo: { info_kind: string; info_data: { mode: string } };
    }[];
    assert.equal(link?.linkinfo.info_kind, "macvtap");
    assert.equal(link?.linkinfo.info_data.mode, "bridge");
    assert.equal(link?.address, "02:00:00:aa:00:01");
    assert.equal(link?.mtu, 1400);
    assert.deepEqual(JSON.parse(pod.networkStatus), [
      // A 0.3.1 result carries no interface MTU, so Multus writes none.
      { name: "default/macvtapnetwork", interface: ifname, mac: "02:00:00:aa:00:01", dns: {} },
    ]);
    assert.deepEqual(await macvtapAllocations(node), { dataplane: 1 });
    // The macvtap's netdev is on the lower device's L2: with an address it reaches the L2 host.
    await hostExecutor.run("ip", ["-n", pod.netns, "address", "add", "192.0.2.10/24", "dev", ifname]);
    const r = await ping(pod.netns, "192.0.2.1");
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  test("createPod refuses a resource the device plugin does not expose and leaves nothing behind", async () => {
    await assert.rejects(
      createPod({
        node,
        name: "mvt-x",
        primary: undefined,
        secondaries: [
          { nad: { ...nad, resourceName: "macvtap.network.kubevirt.io/ens4" }, networkName: "hostnetwork" },
        ],
        macvtapDevicePluginConfig: DP,
      }),
      /does not expose it \(DP_MACVTAP_CONF exposes "dataplane"\)/,
    );
    assert.ok(!(await readdir(nodePodsDir(node))).includes("mvt-x"));
  });

  test("attachNetwork fills the capacity, refuses one more, and detachNetwork frees a device", async () => {
    const pod = await createPod({ node, name: "mvt-b", primary: undefined, macvtapDevicePluginConfig: DP });
    pods.push(pod);
    const attached = await attachNetwork(
      node,
      pod,
      { nad, networkName: "hostnetwork" },
      { macvtapDevicePluginConfig: DP },
    );
    assert.deepEqual(await macvtapAllocations(node), { dataplane: 2 });
    assert.equal(attached.attachments[0]?.ifname, ifname);
    const third = await createPod({ node, name: "mvt-c", primary: undefined, macvtapDevicePluginConfig: DP });
    pods.push(third);
    await assert.rejects(
      attachNetwork(node, third, { nad, networkName: "hostnetwork" }, { macvtapDevicePluginConfig: DP }),
      (e: unknown) =>
        e instanceof MacvtapAllocationError &&
        e.retryable &&
        e.message ===
          'Cannot allocate resource "macvtap.network.kubevirt.io/dataplane": all 2 devices are in use; a pod asking for it stays Pending until one is freed',
    );
    const detached = await detachNetwork(node, attached, "hostnetwork");
    assert.deepEqual(detached.attachments, []);
    assert.equal(detached.networkStatus, "[]");
    assert.ok(!(await ipJson(pod.netns, ["link"])).some((l) => (l as { ifname: string }).ifname === ifname));
    assert.deepEqual(await macvtapAllocations(node), { dataplane: 1 });
    const now = await attachNetwork(
      node,
      third,
      { nad, networkName: "hostnetwork" },
      { macvtapDevicePluginConfig: DP },
    );
    assert.equal(now.attachments.length, 1);
    pods.splice(pods.indexOf(third), 1, now);
  });

  test("deletePod frees the pod's macvtap device", async () => {
    const before = (await macvtapAllocations(node)).dataplane ?? 0;
    const p = pods.find((x) => x.name === "mvt-a");
    assert.ok(p !== undefined);
    await deletePod(node, p);
    pods.splice(pods.indexOf(p), 1);
    assert.equal((await macvtapAllocations(node)).dataplane, before - 1);
    assert.deepEqual(await readdir(join(node.stateDir, "macvtap-dp", "dataplane")).then((s) => s.length), before - 1);
  });
});
