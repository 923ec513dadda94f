/**
 * Bridge binding on the pod network, end to end: an IPv4 pod made by the bridge and host-local plugins, wired by
 * `wirePod`, a guest namespace on the planned tap. The guest's DHCP clients (udhcpc with and without -B, ISC dhclient)
 * get the pod's IP, prefix, routes (option 121), MTU, DNS and hostname; a client pod and the guest reach each other;
 * a DISCOVER from the node side into the pod's cluster-facing NIC gets no answer; teardown restores the pod.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { admitVm } from "../../src/admission/admit.ts";
import { readInputs } from "../../src/cli/input.ts";
import type { LabPod } from "../../src/lab/pod.ts";
import type { InterfacePlan } from "../../src/plan/plan.ts";
import type { WiredPod } from "../../src/runtime/wire.ts";
import {
  addresses,
  E2eLab,
  e2eSkipReason,
  envOf,
  execIn,
  exitOf,
  linkOf,
  loadVm,
  NETTOOL,
  netnsSnapshot,
  PYTHON,
  podNetwork,
  ROOT,
  routes,
  tryIn,
  waitFor,
} from "./harness.ts";

const skip = e2eSkipReason("/usr/sbin/dhclient", "/sbin/dhclient-script");

const CLUSTER = podNetwork({
  name: "e2e-bridge-pod",
  bridge: "cni0",
  ipv4: "10.244.0.0/24",
  mtu: 1400,
  routes: [{ dst: "10.96.0.0/12", gw: "10.244.0.254" }],
});
const DNS = {
  nameservers: ["10.96.0.10", "10.96.0.11"],
  searches: ["default.svc.cluster.local", "svc.cluster.local", "cluster.local"],
  options: ["ndots:5"],
};

describe("bridge binding on the pod network (IPv4 CNI)", { skip }, () => {
  const lab = new E2eLab();
  let vmPod: LabPod;
  let client: LabPod;
  let guest = "";
  let wired: WiredPod;
  let cniMade: unknown;
  let podIp = "";
  let podMac = "";
  let iface: InterfacePlan;
  // Virtink's bridge binding on the same pod network, wired alongside.
  let vkPod: LabPod;
  let vkGuest = "";
  let vkWired: WiredPod;
  let vkCniMade: unknown;

  before(async () => {
    await lab.start();
    [vmPod, client, vkPod] = await Promise.all([
      lab.pod("bridge-vm", { primary: CLUSTER, dns: DNS, hostname: "bridge-vm" }),
      lab.pod("client", { primary: CLUSTER }),
      lab.pod("virtink-vm", { primary: CLUSTER, dns: DNS, hostname: "virtink-vm" }),
    ]);
    vkCniMade = await netnsSnapshot(vkPod.netns);
    vkGuest = await lab.guest("vk");
    vkWired = await lab.wire(vkPod, loadVm("examples/virtink/pod-bridge.yaml"), { guests: { pod: vkGuest } });
    const eth0 = vmPod.attachments[0]?.result;
    podIp = eth0?.ips[0]?.address.split("/")[0] ?? "";
    podMac = eth0?.interfaces.find((i) => i.sandbox !== undefined)?.mac ?? "";
    cniMade = await netnsSnapshot(vmPod.netns);
    guest = await lab.guest("br");
    wired = await lab.wire(vmPod, loadVm("examples/dataplane/bridge-pod.yaml"), { guests: { default: guest } });
    const first = wired.plan.interfaces[0];
    assert.ok(first !== undefined);
    iface = first;
  });

  after(async () => {
    await lab.cleanup();
  });

  async function assertLease(): Promise<void> {
    const v4 = (await addresses(guest, "eth0")).filter((a) => a.family === "inet").map((a) => a.cidr);
    assert.deepEqual(v4, [`${podIp}/24`]);
    const r = await routes(guest, "-4", "eth0");
    for (const want of ["default via 10.244.0.1", "10.96.0.0/12 via 10.244.0.254"]) {
      assert.ok(r.includes(want), `${want} in ${JSON.stringify(r)}`);
    }
    assert.equal((await linkOf(guest, "eth0")).mtu, 1400);
  }

  it("plans the pod's MAC for the guest (no macAddress set) and a DHCP server on the bridge", () => {
    assert.equal(iface.guest.mac, podMac);
    assert.equal(iface.dhcpv4?.serverInterface.value, "k6t-eth0");
    assert.equal(iface.dhcpv4?.client.ip, podIp);
    assert.equal(iface.antiSpoof, undefined, "anti-spoofing is off by default for the bridge binding");
  });

  it("udhcpc gets the pod IP, prefix, default and classless routes, MTU, DNS, search and hostname", async () => {
    const lease = await lab.udhcpc(guest, "udhcpc");
    assert.equal(lease.code, 0, lease.log);
    await assertLease();
    assert.equal(
      readFileSync(lease.resolv, "utf8"),
      `search ${DNS.searches.join(" ")}\nnameserver 10.96.0.10\nnameserver 10.96.0.11\n`,
    );
    const env = envOf(lease.env);
    assert.equal(env.get("hostname"), "bridge-vm");
    assert.equal(env.get("staticroutes"), "10.96.0.0/12 10.244.0.254 0.0.0.0/0 10.244.0.1");
    assert.equal(env.get("mtu"), "1400");
  });

  it("udhcpc -B (broadcast flag) gets the same lease", async () => {
    await execIn(guest, "ip", "addr", "flush", "dev", "eth0");
    await execIn(guest, "ip", "link", "set", "eth0", "mtu", "1500");
    const lease = await lab.udhcpc(guest, "udhcpc-b", ["-B"]);
    assert.equal(lease.code, 0, lease.log);
    await assertLease();
    assert.equal(envOf(lease.env).get("ip"), podIp);
  });

  it("ISC dhclient -4 applies address, option 121 routes, MTU, resolv.conf and the hostname", async () => {
    await execIn(guest, "ip", "addr", "flush", "dev", "eth0");
    await execIn(guest, "ip", "route", "flush", "dev", "eth0");
    await execIn(guest, "ip", "link", "set", "eth0", "mtu", "1500");
    const root = lab.clientRoot("dhclient4");
    const child = lab.spawnIn(
      guest,
      root.wrap("dhclient -4 -d -1 -cf /etc/dhcp/dhclient.conf -lf /run/l -pf /run/p -sf /sbin/dhclient-script eth0"),
    );
    try {
      await waitFor("dhclient's lease", async () => {
        const v4 = (await addresses(guest, "eth0")).some((a) => a.family === "inet");
        const r = await routes(guest, "-4", "eth0");
        return v4 && r.some((x) => x.startsWith("10.96.0.0/12")) && readFileSync(join(root.etc, "resolv.conf"), "utf8")
          ? true
          : undefined;
      }).catch((e: unknown) => assert.fail(`${String(e)}; dhclient said:\n${child.out()}`));
      await assertLease();
      assert.equal(
        readFileSync(join(root.etc, "resolv.conf"), "utf8"),
        "domain default.svc.cluster.local\nsearch default.svc.cluster.local. svc.cluster.local. cluster.local.\nnameserver 10.96.0.10\nnameserver 10.96.0.11\n",
      );
      assert.match(
        readFileSync(join(root.etc, "vmnet-record"), "utf8"),
        /^BOUND new_host_name=bridge-vm uts=bridge-vm$/m,
      );
    } finally {
      child.kill("SIGTERM");
      await exitOf(child);
    }
  });

  it("the client pod pings the guest at the pod IP, and the guest pings the client", async () => {
    const clientIp = client.attachments[0]?.result.ips[0]?.address.split("/")[0] ?? "";
    const toGuest = await tryIn(client.netns, "busybox", "ping", "-c", "2", "-W", "2", podIp);
    assert.equal(toGuest.code, 0, toGuest.stdout + toGuest.stderr);
    const toClient = await tryIn(guest, "busybox", "ping", "-c", "2", "-W", "2", clientIp);
    assert.equal(toClient.code, 0, toClient.stdout + toClient.stderr);
  });

  it("a DISCOVER for the guest's MAC sent from the node into the pod's cluster-facing NIC gets no answer", async () => {
    const node = lab.node?.name ?? "";
    const nic = wired.plan.interfaces[0]?.links.find((l) => l.renameFrom?.value === "eth0")?.name.value;
    assert.equal(nic, "eth0-nic");
    const before = (await lab.agent.stats(wired.podId)).interfaces["k6t-eth0"]?.transport.sent ?? 0;
    // A raw DISCOVER (chaddr = the guest's MAC, so the server's MAC filter would let it through) broadcast on the
    // node bridge: it reaches the pod only through eth0-nic. Replies would come back to port 68 on cni0.
    const out = await execIn(node, PYTHON, NETTOOL, "discover", "cni0", iface.guest.mac);
    const after = (await lab.agent.stats(wired.podId)).interfaces["k6t-eth0"]?.transport.sent ?? 0;
    assert.deepEqual(
      { answersOnNode: out.trim(), sentByAgent: after - before },
      { answersOnNode: "0", sentByAgent: 0 },
    );
  });

  it("the bridge carries no routable address", async () => {
    const all = await addresses(vmPod.netns, "k6t-eth0");
    assert.ok(
      all.every((a) => (a.family === "inet" ? a.cidr.startsWith("169.254.") : /^fe[89ab]/.test(a.cidr))),
      JSON.stringify(all),
    );
  });

  it("unwiring stops the agent and relay and leaves the pod namespace exactly as CNI made it", async () => {
    await lab.unwire(wired);
    assert.ok(!lab.relays.has(vmPod.netns));
    assert.equal(existsSync(join(lab.dir, "state", `${wired.podId}.json`)), false, "the pod's state record is gone");
    assert.equal(lab.agent.status(wired.podId), undefined);
    assert.deepEqual(await netnsSnapshot(vmPod.netns), cniMade);
    assert.deepEqual(
      lab.events.filter((e) => e.kind !== "ready"),
      [],
    );
  });

  it("Virtink bridge: the guest leases the pod IP with its routes and DNS", async () => {
    const vkIp = vkPod.attachments[0]?.result.ips[0]?.address.split("/")[0] ?? "";
    const lease = await lab.udhcpc(vkGuest, "virtink");
    assert.equal(lease.code, 0, lease.log);
    assert.deepEqual(
      (await addresses(vkGuest, "eth0")).filter((a) => a.family === "inet").map((a) => a.cidr),
      [`${vkIp}/24`],
    );
    assert.ok((await routes(vkGuest, "-4", "eth0")).includes("default via 10.244.0.1"));
    assert.match(readFileSync(lease.resolv, "utf8"), /^nameserver 10\.96\.0\.10$/m);
  });

  // Found by this test: without arp_ignore the pod's own kernel answered ARP for the pod IP (held on the down
  // stand-in) on br-eth0 with the bridge's MAC, and the client's packets ended in the pod's stack.
  it("Virtink bridge: the client pod pings the guest at the pod IP", async () => {
    const vkIp = vkPod.attachments[0]?.result.ips[0]?.address.split("/")[0] ?? "";
    const ping = await tryIn(client.netns, "busybox", "ping", "-c", "2", "-W", "2", vkIp);
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);
  });

  it("Virtink bridge: unwiring leaves the pod exactly as CNI made it", async () => {
    await lab.unwireToCni(vkWired, vkCniMade);
    lab.assertAllUnwired();
  });

  it("permitBridgeInterfaceOnPodNetwork: false refuses this VM", () => {
    const inputs = readInputs({
      main: join(ROOT, "examples/dataplane/bridge-pod.yaml"),
      kubevirtConfig: join(ROOT, "examples/kubevirt/kubevirt-cr-no-pod-bridge.yaml"),
    });
    const vm = inputs.vms[0];
    assert.ok(vm !== undefined);
    const admission = admitVm(vm, { config: inputs.config });
    assert.equal(admission.allowed, false);
    assert.match(admission.message ?? "", /Bridge on pod network configuration is not enabled under kubevirt-config/);
  });
});
