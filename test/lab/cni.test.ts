import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createNetns, deleteNetns, netnsPath } from "../../src/host/netns.ts";
import {
  CniError,
  cachedResultPath,
  cniArgsString,
  cniPluginVersions,
  cniVersionAtLeast,
  invokeCni,
  type NetworkConfig,
  normalizeNetworkConfig,
  parseCniError,
  parseCniResult,
  pluginStdin,
} from "../../src/lab/cni.ts";
import { deleteNode, type LabNode, nodeCniCacheDir, nodeIpamDir } from "../../src/lab/node.ts";
import { uniqueNetnsName } from "../host/harness.ts";
import { freshNode, labSkipReason, linkNames, rootSnapshot } from "./harness.ts";

describe("normalizeNetworkConfig", () => {
  test("normalizeNetworkConfig turns a single-plugin config into a one-element list without name and version", () => {
    const n = normalizeNetworkConfig({ cniVersion: "0.3.1", name: "br", type: "bridge", bridge: "br1" });
    assert.deepEqual(n, { cniVersion: "0.3.1", name: "br", plugins: [{ type: "bridge", bridge: "br1" }] });
  });
  test("normalizeNetworkConfig keeps a plugins list in order", () => {
    const n = normalizeNetworkConfig({
      cniVersion: "1.0.0",
      name: "p",
      plugins: [{ type: "ptp" }, { type: "tuning" }],
    });
    assert.deepEqual(
      n.plugins.map((p) => p.type),
      ["ptp", "tuning"],
    );
  });
  const bad: [string, unknown][] = [
    ["no name", { type: "bridge" }],
    ["empty plugins", { name: "x", plugins: [] }],
    ["type with a slash", { name: "x", type: "../../bin/sh" }],
    ["not an object", "bridge"],
  ];
  for (const [what, conf] of bad) {
    test(`normalizeNetworkConfig rejects ${what}`, () => assert.throws(() => normalizeNetworkConfig(conf)));
  }
});

describe("pluginStdin", () => {
  const net: NetworkConfig = {
    cniVersion: "1.0.0",
    name: "n",
    plugins: [
      { type: "bridge", capabilities: { mac: true }, ipam: { type: "host-local", subnet: "10.1.0.0/24" } },
      { type: "tuning" },
    ],
  };
  test("pluginStdin adds name, cniVersion, prevResult, runtimeConfig for declared capabilities and the IPAM dataDir", () => {
    const [bridge] = net.plugins;
    assert.ok(bridge);
    const prev = { cniVersion: "1.0.0", interfaces: [] };
    assert.deepEqual(
      pluginStdin(net, bridge, { prevResult: prev, capabilityArgs: { mac: "02:00:00:00:00:01" }, ipamDataDir: "/d" }),
      {
        type: "bridge",
        capabilities: { mac: true },
        ipam: { type: "host-local", subnet: "10.1.0.0/24", dataDir: "/d" },
        cniVersion: "1.0.0",
        name: "n",
        runtimeConfig: { mac: "02:00:00:00:00:01" },
        prevResult: prev,
      },
    );
  });
  test("pluginStdin gives runtimeConfig only to plugins declaring the capability", () => {
    const [, tuning] = net.plugins;
    assert.ok(tuning);
    assert.deepEqual(pluginStdin(net, tuning, { capabilityArgs: { mac: "02:00:00:00:00:01" } }), {
      type: "tuning",
      cniVersion: "1.0.0",
      name: "n",
    });
  });
});

describe("CNI_ARGS and versions", () => {
  test("cniArgsString starts with IgnoreUnknown and ends with MAC", () => {
    assert.equal(
      cniArgsString({ K8S_POD_NAME: "p", K8S_POD_NAMESPACE: "default" }, "02:00:00:00:00:01"),
      "IgnoreUnknown=1;K8S_POD_NAME=p;K8S_POD_NAMESPACE=default;MAC=02:00:00:00:00:01",
    );
  });
  test("cniArgsString rejects a value with a separator", () => assert.throws(() => cniArgsString({ A: "x;y" })));
  const versions: [string, string, boolean][] = [
    ["0.3.1", "0.4.0", false],
    ["0.4.0", "0.4.0", true],
    ["1.0.0", "0.4.0", true],
    ["0.10.0", "0.4.0", true],
  ];
  for (const [v, min, want] of versions) {
    test(`cniVersionAtLeast(${v}, ${min}) is ${want}`, () => assert.equal(cniVersionAtLeast(v, min), want));
  }
});

describe("parseCniResult and parseCniError", () => {
  test("parseCniResult reads a CNI 0.3.1 bridge result (interfaces, ips with version and index, routes, dns)", () => {
    const out = JSON.stringify({
      cniVersion: "0.3.1",
      interfaces: [
        { name: "cni0", mac: "aa:bb:cc:dd:ee:01" },
        { name: "veth1", mac: "aa:bb:cc:dd:ee:02" },
        { name: "eth0", mac: "aa:bb:cc:dd:ee:03", sandbox: "/run/netns/p" },
      ],
      ips: [{ version: "4", interface: 2, address: "10.244.0.2/24", gateway: "10.244.0.1" }],
      routes: [{ dst: "0.0.0.0/0", gw: "10.244.0.1" }],
      dns: { nameservers: ["10.96.0.10"] },
    });
    const r = parseCniResult(out, "bridge");
    assert.equal(r.interfaces[2]?.sandbox, "/run/netns/p");
    assert.equal(r.interfaces[0]?.sandbox, undefined);
    assert.deepEqual(r.ips, [{ address: "10.244.0.2/24", gateway: "10.244.0.1", interface: 2 }]);
    assert.deepEqual(r.routes, [{ dst: "0.0.0.0/0", gw: "10.244.0.1" }]);
    assert.deepEqual(r.dns, { nameservers: ["10.96.0.10"] });
  });
  test("parseCniResult rejects output that is not JSON with a decode CniError", () => {
    assert.throws(
      () => parseCniResult("oops", "ptp"),
      (e: unknown) => e instanceof CniError && e.code === 6 && e.plugin === "ptp",
    );
  });
  test("parseCniError keeps code, msg and details of an error result", () => {
    const e = parseCniError(JSON.stringify({ cniVersion: "1.0.0", code: 11, msg: "busy", details: "lock" }), "", {
      plugin: "bridge",
      command: "ADD",
      exitCode: 1,
    });
    assert.deepEqual([e.code, e.msg, e.details, e.plugin, e.retryable], [11, "busy", "lock", "bridge", true]);
    assert.equal(e.message, 'CNI plugin "bridge" failed ADD with code 11: busy (lock)');
  });
  test("parseCniError turns a crash without error JSON into code 999 carrying stderr", () => {
    const e = parseCniError("", "panic: boom\n", { plugin: "x", command: "DEL", exitCode: 2 });
    assert.equal(e.code, 999);
    assert.equal(e.details, "panic: boom");
  });
});

const skip = labSkipReason();

describe("invokeCni with the real plugins", { skip }, () => {
  let node: LabNode;
  let pod: string;
  let before0: Awaited<ReturnType<typeof rootSnapshot>>;
  before(async () => {
    before0 = await rootSnapshot();
    node = await freshNode();
    pod = uniqueNetnsName();
    await createNetns(pod);
  });
  after(async () => {
    await deleteNetns(pod).catch(() => {});
    await deleteNode(node);
    assert.deepEqual(await rootSnapshot(), before0, "the root namespace changed");
  });

  const conf = {
    cniVersion: "1.0.0",
    name: "chain",
    plugins: [
      { type: "bridge", bridge: "br-chain", isGateway: true, ipam: { type: "host-local", subnet: "10.99.0.0/24" } },
      { type: "tuning", capabilities: { mac: true } },
    ],
  };
  const inv = () => ({
    containerId: "c0ffee",
    netns: netnsPath(pod),
    ifname: "eth0",
    runNetns: node.name,
    cacheDir: nodeCniCacheDir(node),
    ipamDataDir: nodeIpamDir(node),
    mac: "02:aa:bb:cc:dd:01",
  });

  test("invokeCni ADD chains bridge and tuning inside the node, caches the result, then CHECK and DEL undo it", async () => {
    const rootLinks = await rootSnapshot();
    const r = await invokeCni(conf, { ...inv(), command: "ADD" });
    assert.ok(r);
    assert.deepEqual(
      r.interfaces.filter((i) => i.sandbox !== undefined).map((i) => [i.name, i.mac]),
      [["eth0", "02:aa:bb:cc:dd:01"]],
    );
    assert.deepEqual(r.ips, [{ address: "10.99.0.2/24", gateway: "10.99.0.1", interface: 2 }]);
    // The bridge and the host-side veth were created in the node, not in the root namespace.
    const nodeLinks = await linkNames(node.name);
    assert.ok(nodeLinks.includes("br-chain"));
    assert.ok(nodeLinks.some((n) => n.startsWith("veth")));
    assert.deepEqual((await rootSnapshot()).links, rootLinks.links);
    const cached = JSON.parse(
      await readFile(cachedResultPath(nodeCniCacheDir(node), "chain", "c0ffee", "eth0"), "utf8"),
    );
    assert.deepEqual(cached, r.raw);
    assert.deepEqual(await readdir(join(nodeIpamDir(node), "chain")), ["10.99.0.2", "last_reserved_ip.0", "lock"]);

    assert.equal(await invokeCni(conf, { ...inv(), command: "CHECK" }), undefined);
    await invokeCni(conf, { ...inv(), command: "DEL" });
    assert.ok(!(await linkNames(node.name)).some((n) => n.startsWith("veth")));
    assert.ok(!(await linkNames(pod)).includes("eth0"));
    assert.deepEqual(await readdir(join(nodeIpamDir(node), "chain")), ["last_reserved_ip.0", "lock"]);
    await assert.rejects(readFile(cachedResultPath(nodeCniCacheDir(node), "chain", "c0ffee", "eth0")));
  });

  test("invokeCni reports a plugin's error JSON as a CniError naming the plugin", async () => {
    const badConf = { cniVersion: "1.0.0", name: "bad", type: "macvlan", master: "nosuchdev0" };
    await assert.rejects(invokeCni(badConf, { ...inv(), command: "ADD" }), (e: unknown) => {
      assert.ok(e instanceof CniError);
      assert.equal(e.plugin, "macvlan");
      assert.equal(e.msg, "Link not found");
      assert.match(e.message, /^CNI plugin "macvlan" failed ADD with code \d+: Link not found/);
      return true;
    });
  });

  test("invokeCni refuses CHECK for a CNI 0.3.1 configuration, as libcni does", async () => {
    await assert.rejects(
      invokeCni({ ...conf, cniVersion: "0.3.1" }, { ...inv(), command: "CHECK" }),
      (e: unknown) => e instanceof CniError && e.code === 1,
    );
  });

  // Every reference plugin, run the way invokeCni runs them (env -i, ip netns exec <node>); firewall only speaks
  // versions with prevResult, as it only works chained.
  const plugins: [string, string[]][] = [
    ["bridge", ["0.3.1", "1.0.0"]],
    ["host-local", ["0.3.1", "1.0.0"]],
    ["ptp", ["0.3.1", "1.0.0"]],
    ["macvlan", ["0.3.1", "1.0.0"]],
    ["ipvlan", ["0.3.1", "1.0.0"]],
    ["tuning", ["0.3.1", "1.0.0"]],
    ["vlan", ["0.3.1", "1.0.0"]],
    ["loopback", ["0.3.1", "1.0.0"]],
    ["host-device", ["0.3.1", "1.0.0"]],
    ["static", ["0.3.1", "1.0.0"]],
    ["portmap", ["0.3.1", "1.0.0"]],
    ["firewall", ["0.4.0", "1.0.0"]],
    ["bandwidth", ["0.3.1", "1.0.0"]],
    ["sbr", ["0.3.1", "1.0.0"]],
    ["vrf", ["0.3.1", "1.0.0"]],
  ];
  for (const [type, required] of plugins) {
    test(`cniPluginVersions runs ${type} inside the node and it speaks CNI ${required.join(" and ")}`, async () => {
      const versions = await cniPluginVersions(type, { runNetns: node.name });
      for (const v of required) assert.ok(versions.includes(v), versions.join(", "));
    });
  }

  test("invokeCni runs the loopback plugin as the runtime does for lo", async () => {
    const lo = { cniVersion: "1.0.0", name: "cni-loopback", type: "loopback" };
    const r = await invokeCni(lo, { ...inv(), ifname: "lo", command: "ADD" });
    assert.deepEqual(
      r?.ips.map((ip) => ip.address),
      ["127.0.0.1/8", "::1/128"],
    );
    await invokeCni(lo, { ...inv(), ifname: "lo", command: "DEL" });
  });
});
