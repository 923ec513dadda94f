/**
 * Masquerade on IPv4 pods, end to end, four VMs wired at once on one node: ports [80/TCP, 53/UDP], no ports (all
 * forwarded), a custom vmNetworkCIDR with a port range, and Virtink's masquerade (10.0.2.0/30). Each guest leases its
 * address with udhcpc through the real tap; a client pod reaches listed ports at the VM pod's IP and not the others,
 * guest egress shows the pod IP, anti-spoofing drops forged source MACs and IPs while genuine frames pass, and teardown
 * leaves every pod as CNI made it.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { LabPod } from "../../src/lab/pod.ts";
import type { InterfacePlan } from "../../src/plan/plan.ts";
import { type WiredPod, WireError, WireStep, wirePod } from "../../src/runtime/wire.ts";
import {
  addresses,
  antiSpoofCounters,
  connectFrom,
  E2eLab,
  e2eSkipReason,
  envOf,
  execIn,
  type LoadedVm,
  linkOf,
  loadVm,
  NETTOOL,
  netnsSnapshot,
  PYTHON,
  podNetwork,
  routes,
  waitFor,
} from "./harness.ts";

const skip = e2eSkipReason();

const CLUSTER = podNetwork({ name: "e2e-masq4", bridge: "cni0", ipv4: "10.244.0.0/24", mtu: 1450 });

interface Vm {
  readonly key: string;
  readonly vm: LoadedVm;
  /** Guest address/prefix and gateway the plan must hand out. */
  readonly guestCidr: string;
  readonly gateway: string;
  pod?: LabPod;
  podIp?: string;
  guest?: string;
  wired?: WiredPod;
  cniMade?: unknown;
}

describe("masquerade on IPv4 pods", { skip }, () => {
  const lab = new E2eLab();
  const vms: Vm[] = [
    {
      key: "ports",
      vm: loadVm("examples/dataplane/masquerade-tcp-udp.yaml"),
      guestCidr: "10.0.2.2/24",
      gateway: "10.0.2.1",
    },
    {
      key: "all",
      vm: loadVm("examples/dataplane/masquerade-all-ports.yaml"),
      guestCidr: "10.0.2.2/24",
      gateway: "10.0.2.1",
    },
    {
      key: "cidr",
      vm: loadVm("examples/dataplane/masquerade-cidr-port-ranges.yaml", {
        kubevirtConfig: "examples/dataplane/kubevirt-cr-port-ranges.yaml",
      }),
      guestCidr: "10.11.12.2/24",
      gateway: "10.11.12.1",
    },
    { key: "virtink", vm: loadVm("examples/virtink/masquerade.yaml"), guestCidr: "10.0.2.2/30", gateway: "10.0.2.1" },
  ];
  const byKey = (key: string): Required<Vm> => {
    const v = vms.find((x) => x.key === key);
    assert.ok(v?.pod && v.podIp && v.guest && v.wired && v.cniMade, `VM "${key}" is wired`);
    return v as Required<Vm>;
  };
  const planOf = (v: Vm): InterfacePlan => {
    const i = v.wired?.plan.interfaces[0];
    assert.ok(i !== undefined);
    return i;
  };
  let client: LabPod;
  let clientIp = "";

  before(async () => {
    await lab.start();
    client = await lab.pod("client", { primary: CLUSTER });
    clientIp = client.attachments[0]?.result.ips[0]?.address.split("/")[0] ?? "";
    await Promise.all(
      vms.map(async (v) => {
        v.pod = await lab.pod(`mq-${v.key}`, { primary: CLUSTER });
        v.podIp = v.pod.attachments[0]?.result.ips[0]?.address.split("/")[0] ?? "";
        v.cniMade = await netnsSnapshot(v.pod.netns);
        v.guest = await lab.guest(v.key);
        v.wired = await lab.wire(v.pod, v.vm, { guests: { [v.vm.model.interfaces[0]?.name ?? ""]: v.guest } });
      }),
    );
  });

  after(async () => {
    await lab.cleanup();
  });

  it("every guest leases its planned address and default route over DHCP through the tap", async () => {
    await Promise.all(
      vms.map(async (v) => {
        const guest = v.guest ?? "";
        const lease = await lab.udhcpc(guest, `lease-${v.key}`);
        assert.equal(lease.code, 0, `${v.key}: ${lease.log}`);
        const v4 = (await addresses(guest, "eth0")).filter((a) => a.family === "inet").map((a) => a.cidr);
        assert.deepEqual(v4, [v.guestCidr], v.key);
        assert.ok((await routes(guest, "-4", "eth0")).includes(`default via ${v.gateway}`), v.key);
        assert.equal(envOf(lease.env).get("router"), v.gateway, v.key);
        const client = planOf(v).dhcpv4?.client;
        assert.equal(client?.ip, v.guestCidr.split("/")[0]);
        // Option 26 carries the pod MTU for both dialects (Virtink's dnsmasq sends none; vmnet does, see plan.ts).
        assert.equal((await linkOf(guest, "eth0")).mtu, 1450, v.key);
        assert.equal(
          readFileSync(lease.resolv, "utf8"),
          "search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\n",
          v.key,
        );
        assert.equal(envOf(lease.env).get("hostname"), client?.hostname, v.key);
      }),
    );
  });

  it("ports [80/TCP, 53/UDP]: the client reaches TCP 80 and UDP 53 at the pod IP; TCP 81 is not forwarded", async () => {
    const v = byKey("ports");
    const responder = await lab.serve(v.guest, { tcp: [80, 81], udp: [53] });
    assert.equal(await connectFrom(client.netns, v.podIp, 80), "vm:80");
    assert.equal(await connectFrom(client.netns, v.podIp, 53, true), "vm-udp:53");
    assert.notEqual(await connectFrom(client.netns, v.podIp, 81), "vm:81");
    assert.doesNotMatch(responder.out(), /tcp 81/);
    // Inbound connections reach the guest from the gateway (KubeVirt SNATs them to the bridge address).
    assert.match(responder.out(), /tcp 80 from \S+/);
  });

  it("no ports: any port is forwarded", async () => {
    const v = byKey("all");
    await lab.serve(v.guest, { tcp: [81, 4242], udp: [5353] });
    assert.equal(await connectFrom(client.netns, v.podIp, 81), "vm:81");
    assert.equal(await connectFrom(client.netns, v.podIp, 4242), "vm:4242");
    assert.equal(await connectFrom(client.netns, v.podIp, 5353, true), "vm-udp:5353");
  });

  it("custom vmNetworkCIDR with portRanges 8000-8010/TCP: 8005 is forwarded, 8011 is not", async () => {
    const v = byKey("cidr");
    const responder = await lab.serve(v.guest, { tcp: [8005, 8011] });
    assert.equal(await connectFrom(client.netns, v.podIp, 8005), "vm:8005");
    assert.notEqual(await connectFrom(client.netns, v.podIp, 8011), "vm:8011");
    assert.doesNotMatch(responder.out(), /tcp 8011/);
  });

  it("Virtink masquerade (10.0.2.0/30) forwards every port", async () => {
    const v = byKey("virtink");
    await lab.serve(v.guest, { tcp: [8080], udp: [53] });
    assert.equal(await connectFrom(client.netns, v.podIp, 8080), "vm:8080");
    assert.equal(await connectFrom(client.netns, v.podIp, 53, true), "vm-udp:53");
  });

  it("guest egress to the client shows the VM pod's IP as source", async () => {
    for (const key of ["ports", "cidr", "virtink"]) {
      const v = byKey(key);
      const printer = await lab.peerPrinter(client.netns, 9000);
      // The printer closes without a word: the connect's own output does not matter, the peer address does.
      await connectFrom(v.guest, clientIp, 9000);
      assert.equal(await printer.peer(), v.podIp, key);
    }
  });

  it("anti-spoofing drops frames with a forged source MAC, IP or ARP sender IP while genuine frames pass", async () => {
    const v = byKey("ports");
    const plan = planOf(v);
    const tap = plan.guest.tapName.value;
    assert.equal(plan.antiSpoof?.mac, plan.guest.mac);
    const capture = lab.spawnIn(v.pod.netns, ["tcpdump", "-n", "-l", "-A", "-i", "k6t-eth0", "udp port 9999"]);
    await waitFor("tcpdump to listen", () => (capture.out().includes("listening") ? true : undefined));
    const before = await antiSpoofCounters(v.pod.netns, tap);
    const send = (mac: string, ip: string, marker: string) =>
      execIn(v.guest, PYTHON, NETTOOL, "frame", "eth0", mac, ip, v.gateway, marker);
    await send(plan.guest.mac, "10.0.2.2", "GENUINE-FRAME");
    await send("02:de:ad:be:ef:01", "10.0.2.2", "FORGED-MAC");
    await send(plan.guest.mac, "10.0.2.77", "FORGED-IP");
    await execIn(v.guest, PYTHON, NETTOOL, "arp", "eth0", plan.guest.mac, "10.0.2.77", v.gateway);
    await waitFor("the genuine frame on the bridge", () =>
      capture.out().includes("GENUINE-FRAME") ? true : undefined,
    );
    const after = await antiSpoofCounters(v.pod.netns, tap);
    await new Promise((r) => setTimeout(r, 300));
    assert.doesNotMatch(capture.out(), /FORGED-MAC|FORGED-IP/);
    assert.equal((after[0] ?? 0) - (before[0] ?? 0), 1, `source MAC rule counted one drop: ${before} -> ${after}`);
    assert.equal((after[1] ?? 0) - (before[1] ?? 0), 1, `source IP rule counted one drop: ${before} -> ${after}`);
    // Rules 2 and 3 are ARP's sender MAC and sender IP: the ARP request claiming 10.0.2.77 is the one drop there.
    assert.equal((after[2] ?? 0) - (before[2] ?? 0), 0, `ARP sender MAC rule: ${before} -> ${after}`);
    assert.equal((after[3] ?? 0) - (before[3] ?? 0), 1, `ARP sender IP rule counted one drop: ${before} -> ${after}`);
    const neighbours = await execIn(v.pod.netns, "ip", "neigh", "show", "dev", "k6t-eth0");
    assert.doesNotMatch(neighbours, /10\.0\.2\.77/);
  });

  it("a wirePod failing after apply (the guest cannot attach) rolls the real pod back to its CNI state", async () => {
    const v = byKey("virtink");
    await lab.unwire(v.wired);
    let tapSeen = "";
    const error = await wirePod(v.vm.model, {
      netns: v.pod.netns,
      podDir: v.pod.dir,
      config: v.vm.config,
      stateDir: join(lab.dir, "state"),
      podKey: v.pod.uid,
      agent: lab.agent,
      attachGuest: async (plan) => {
        // The plan is applied at this point: its tap exists in the pod.
        const tap = plan.interfaces[0]?.guest.tapName.value ?? "";
        tapSeen = JSON.parse(await execIn(v.pod.netns, "ip", "-json", "link", "show", "dev", tap))[0]?.ifname;
        throw new Error("injected attach failure");
      },
    }).then(
      () => assert.fail("wirePod should fail"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof WireError);
    assert.equal(error.step, WireStep.Attach);
    assert.equal((error.cause as Error).message, "injected attach failure");
    assert.equal(tapSeen, planOf(v).guest.tapName.value);
    assert.deepEqual(error.rollbackErrors, []);
    assert.deepEqual(await netnsSnapshot(v.pod.netns), v.cniMade);
    assert.equal(lab.agent.status(v.pod.uid), undefined);
    v.wired = await lab.wire(v.pod, v.vm, { guests: { [v.vm.model.interfaces[0]?.name ?? ""]: v.guest } });
  });

  it("a DISCOVER sent from the node into the pods' cluster-facing eth0 gets no answer", async () => {
    const sent = async () => {
      let total = 0;
      for (const v of vms) {
        const stats = await lab.agent.stats(byKey(v.key).wired.podId);
        for (const i of Object.values(stats.interfaces)) total += i.transport.sent;
      }
      return total;
    };
    const before = await sent();
    // Masquerade answers any client MAC on its bridge; on cni0 the broadcast reaches every pod's eth0.
    const out = await execIn(lab.node?.name ?? "", PYTHON, NETTOOL, "discover", "cni0", planOf(byKey("all")).guest.mac);
    assert.deepEqual(
      { answersOnNode: out.trim(), sentByAgent: (await sent()) - before },
      { answersOnNode: "0", sentByAgent: 0 },
    );
  });

  it("unwiring leaves every pod namespace exactly as CNI made it", async () => {
    for (const v of vms) {
      const w = byKey(v.key);
      await lab.unwireToCni(w.wired, w.cniMade, v.key);
    }
    lab.assertAllUnwired();
    assert.deepEqual(
      lab.events.filter((e) => e.kind !== "ready"),
      [],
    );
  });
});
