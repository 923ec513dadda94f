/**
 * `vmnet update` on a real guest under QEMU TCG, through the real CLI, with the specs of examples/vm-e2e/update in
 * order: a VM booted with its pod network's link down (`vmnet up` must return without a lease), its link set up by
 * `update` (the guest then leases), a bridge NIC on a Multus network hot-plugged (the guest sees the NIC and leases
 * the NAD's IP, status reports it, the pod has its bridge, tap and renamed NIC), hot-unplugged with `state: absent`
 * (the guest's NIC, the pod side and the Multus attachment go), plugged again (its link set down by `vmnet link`,
 * up by `update`), a change that needs a restart refused, an update that runs out of root ports rolled back, and
 * `down` leaving nothing. The lab lives in its own state
 * directory; `after` destroys it whatever happened and checks that no namespace or process is left.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { TestLab, vmTestSkipReason } from "../support/vm-lab.ts";

const lab = new TestLab("vmnt-upd-");
const VM = "e2e-upd";
const DIR = "examples/vm-e2e/update";
const NAD = ["--nad", `${DIR}/nad-upd.yaml`];
/** KubeVirt's pod interface of network "blue" is `pod` + sha256("blue")[0:11]; bridge, tap and NIC share the hash. */
const BLUE_HASH = "16477688c0e";

/** The link names of a namespace. */
function links(netns: string): string[] {
  const out = spawnSync("ip", ["-n", netns, "-json", "link", "show"], { encoding: "utf8" }).stdout;
  return (JSON.parse(out) as { ifname: string }[]).map((l) => l.ifname).sort();
}

/** The node's pod-side veths (the bridges CNI made stay when the last pod on them goes, as the bridge plugin does). */
function veths(netns: string): string[] {
  return links(netns).filter((l) => l.startsWith("veth"));
}

function podNetns(): string {
  return (JSON.parse(readFileSync(join(lab.state, "vms", VM, "vm.json"), "utf8")) as { netns: string }).netns;
}

function networkStatusNames(): string[] {
  const record = JSON.parse(readFileSync(join(lab.state, "vms", VM, "vm.json"), "utf8")) as { networkStatus: string };
  return (JSON.parse(record.networkStatus) as { name: string }[]).map((e) => e.name);
}

const skip = vmTestSkipReason();

describe("vmnet update on a running guest", { skip, timeout: 900_000 }, () => {
  /** The node's veths with the lab and no VM: what `down` must come back to. */
  let nodeLinks: string[] = [];

  before(async () => {
    await lab.ok("lab", "create");
    nodeLinks = veths(lab.node);
  });

  after(() => lab.destroy());

  test("up with state: down returns without a lease; status says linkState down", async () => {
    const out = await lab.ok("up", "-f", `${DIR}/1-link-down.yaml`, "--accel", "tcg");
    assert.match(out, /guest: ready/);
    assert.doesNotMatch(out, /guest: lease/);
    const [iface] = await lab.status(VM);
    assert.equal(iface?.name, "default");
    assert.equal(iface?.linkState, "down");
    assert.doesNotMatch(lab.serial(VM), /vmnet-guest: lease eth0 /);
  });

  test("update with state: up sets the link up and the guest leases", async () => {
    const from = lab.serial(VM).length;
    const out = await lab.ok("update", "-f", `${DIR}/2-link-up.yaml`);
    assert.match(out, /^link: "default" up$/m);
    assert.match(out, /^VM "e2e-upd" updated \(1 change\)$/m);
    await lab.waitForConsole(VM, /vmnet-guest: lease eth0 10\.0\.2\.2/, from);
    assert.equal((await lab.status(VM))[0]?.linkState, "up");
    assert.match(await lab.ok("update", "-f", `${DIR}/2-link-up.yaml`), /^nothing to change$/m);
  });

  test("update hot-plugs a bridge NIC on a Multus network: the guest sees it and leases the NAD's IP", async () => {
    const from = lab.serial(VM).length;
    const out = await lab.ok("update", "-f", `${DIR}/3-plug.yaml`, ...NAD);
    assert.match(out, new RegExp(`^pod: attached "default/upd" as "pod${BLUE_HASH}"$`, "m"));
    assert.match(out, /^plan applied: blue \(added\)$/m);
    assert.match(out, /^dhcp: serving default, blue$/m);
    assert.match(out, /^qemu: plugged "blue" \(virtio, [0-9a-f:]{17}\) into "pci\.\d+"$/m);
    const link = await lab.waitForConsole(VM, /vmnet-guest: link eth1 ([0-9a-f:]{17}) virtio_net/, from);
    const lease = await lab.waitForConsole(VM, /vmnet-guest: lease eth1 (10\.252\.0\.\d+)/, from);
    const blue = (await lab.status(VM)).find((i) => i.name === "blue");
    assert.equal(blue?.mac, link[1]);
    assert.equal(blue?.ipAddress, lease[1]);
    assert.equal(blue?.interfaceName, "eth1");
    assert.equal(blue?.podInterfaceName, `pod${BLUE_HASH}`);
    assert.equal(blue?.linkState, "up");
    assert.equal(blue?.infoSource, "domain, guest-agent, multus-status");
    const pod = links(podNetns());
    for (const l of [`k6t-${BLUE_HASH}`, `tap${BLUE_HASH}`, `${BLUE_HASH}-nic`])
      assert.ok(pod.includes(l), `${l}: ${pod}`);
    assert.deepEqual(networkStatusNames(), ["vmnet-pod-network", "default/upd"]);
    // The pod network's NIC was not touched: the guest's eth0 still reaches its gateway.
    await lab.ok("exec", VM, "--", "ping", "-c", "1", "-W", "5", "10.0.2.1");
  });

  test("update with state: absent unplugs it: guest NIC, pod side and Multus attachment go", async () => {
    const from = lab.serial(VM).length;
    const out = await lab.ok("update", "-f", `${DIR}/4-unplug.yaml`, ...NAD);
    assert.match(out, /^qemu: unplugged "blue" \(guest released it\)$/m);
    assert.match(out, /^plan applied: blue \(removed\)$/m);
    assert.match(out, /^dhcp: serving default$/m);
    assert.match(out, /^pod: detached network "blue"$/m);
    await lab.waitForConsole(VM, /vmnet-guest: unplugged eth1/, from);
    assert.deepEqual(
      (await lab.status(VM)).map((i) => i.name),
      ["default"],
    );
    assert.deepEqual(
      links(podNetns()).filter((l) => l.includes(BLUE_HASH)),
      [],
    );
    assert.deepEqual(networkStatusNames(), ["vmnet-pod-network"]);
    const guestLinks = await lab.ok("exec", VM, "--", "ls", "/sys/class/net");
    assert.deepEqual(guestLinks.trim().split(/\s+/).sort(), ["eth0", "lo"]);
    assert.match(await lab.ok("update", "-f", `${DIR}/4-unplug.yaml`, ...NAD), /^nothing to change$/m);
  });

  test("update plugs the unplugged interface again; vmnet link works on it and update sets it back up", async () => {
    const from = lab.serial(VM).length;
    await lab.ok("update", "-f", `${DIR}/3-plug.yaml`, ...NAD);
    await lab.waitForConsole(VM, /vmnet-guest: lease eth1 10\.252\.0\.\d+/, from);
    assert.deepEqual(
      (await lab.status(VM)).map((i) => i.name),
      ["default", "blue"],
    );
    await lab.ok("link", VM, "blue", "down");
    assert.equal((await lab.status(VM)).find((i) => i.name === "blue")?.linkState, "down");
    assert.match(await lab.ok("update", "-f", `${DIR}/3-plug.yaml`, ...NAD), /^link: "blue" up$/m);
    assert.equal((await lab.status(VM)).find((i) => i.name === "blue")?.linkState, "up");
  });

  test("a change that needs a restart is refused and changes nothing", async () => {
    const before = readFileSync(join(lab.state, "vms", VM, "vm.json"), "utf8");
    const r = await lab.vmnet("update", "-f", `${DIR}/restart-model.yaml`);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /^vmnet update: Cannot update VM "e2e-upd" while it runs: interface "default" model; interface "blue" removed \(set its state to absent to unplug it\) need a restart \(KubeVirt marks the VM RestartRequired\)/,
    );
    assert.equal(readFileSync(join(lab.state, "vms", VM, "vm.json"), "utf8"), before);
  });

  test("an update that fails halfway is rolled back", async () => {
    const record = readFileSync(join(lab.state, "vms", VM, "vm.json"), "utf8");
    const pod = links(podNetns());
    const r = await lab.vmnet("update", "-f", `${DIR}/5-no-free-port.yaml`, ...NAD);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^qemu: plugged "red" /m);
    assert.match(
      r.stdout,
      /^failed: Cannot hot-plug interface "yellow": no free PCIe root port left .*; rolled back$/m,
    );
    assert.equal(readFileSync(join(lab.state, "vms", VM, "vm.json"), "utf8"), record);
    assert.deepEqual(links(podNetns()), pod);
    assert.deepEqual(
      (await lab.status(VM)).map((i) => i.name),
      ["default", "blue"],
    );
    const guestLinks = await lab.ok("exec", VM, "--", "ls", "/sys/class/net");
    assert.deepEqual(guestLinks.trim().split(/\s+/).sort(), ["eth0", "eth1", "lo"]);
  });

  test("down with a hot-plugged NIC leaves nothing but the lab", async () => {
    const netns = podNetns();
    await lab.ok("down", VM);
    assert.ok(!lab.namespaces().includes(netns), `${netns} is gone`);
    assert.deepEqual(veths(lab.node), nodeLinks, "the node has no veth of the pod's attachments left");
    assert.ok(!existsSync(join(lab.state, "vms", VM)));
  });
});
