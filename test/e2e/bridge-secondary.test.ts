/**
 * Bridge binding on Multus secondary networks, end to end: one pod with masquerade on the pod network and three
 * bridge-bound NADs (two with host-local IPAM, one without IP), each secondary with its own guest on its own tap.
 * Each IPAM network's guest gets its own lease (its CNI IP, routes, MTU) from its own bridge's server; the network
 * without IP has no DHCP server but carries L2 traffic; client pods on the same NADs reach the guests; no bridge holds
 * a routable address; teardown restores the pod.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { LabNad, LabPod } from "../../src/lab/pod.ts";
import type { InterfacePlan } from "../../src/plan/plan.ts";
import type { WiredPod } from "../../src/runtime/wire.ts";
import {
  addresses,
  E2eLab,
  e2eSkipReason,
  envOf,
  execIn,
  linkOf,
  loadVm,
  netnsSnapshot,
  podNetwork,
  routes,
  tryIn,
} from "./harness.ts";

const skip = e2eSkipReason();

const CLUSTER = podNetwork({ name: "e2e-bridge-sec", bridge: "cni0", ipv4: "10.244.0.0/24" });
const SECONDARIES = ["blue", "red", "green"] as const;

describe("bridge binding on Multus secondary networks", { skip }, () => {
  const lab = new E2eLab();
  const vm = loadVm("examples/dataplane/bridge-secondaries.yaml", { nads: ["examples/dataplane/nads.yaml"] });
  const nadOf = (network: string): LabNad => {
    const source = vm.model.networks.find((n) => n.name === network)?.source;
    assert.ok(source?.kind === "multus");
    const nad = vm.labNads.get(source.networkName);
    assert.ok(nad !== undefined, source.networkName);
    return nad;
  };
  let pod: LabPod;
  let client: LabPod;
  let wired: WiredPod;
  let cniMade: unknown;
  const guests: Record<string, string> = {};
  const planOf = (name: string): InterfacePlan => {
    const i = wired.plan.interfaces.find((x) => x.name === name);
    assert.ok(i !== undefined, name);
    return i;
  };
  const attachment = (p: LabPod, network: string) => {
    const a = p.attachments.find((x) => x.networkName === network);
    assert.ok(a !== undefined, network);
    return a;
  };
  const ipOn = (p: LabPod, network: string) => attachment(p, network).result.ips[0]?.address.split("/")[0] ?? "";

  before(async () => {
    await lab.start();
    const secondaries = SECONDARIES.map((n) => ({ nad: nadOf(n), networkName: n }));
    [pod, client] = await Promise.all([
      lab.pod("bridge-sec", { primary: CLUSTER, secondaries }),
      lab.pod("client", { primary: CLUSTER, secondaries: secondaries.filter((s) => s.networkName !== "red") }),
    ]);
    cniMade = await netnsSnapshot(pod.netns);
    for (const n of SECONDARIES) guests[n] = await lab.guest(n);
    wired = await lab.wire(pod, vm, { guests });
  });

  after(async () => {
    await lab.cleanup();
  });

  it("plans a DHCP server per IPAM network on its own bridge, none for the network without IP", () => {
    const blue = planOf("blue").dhcpv4;
    const red = planOf("red").dhcpv4;
    assert.ok(blue !== undefined && red !== undefined);
    assert.notEqual(blue.serverInterface.value, red.serverInterface.value);
    assert.notEqual(blue.serverIdentifier, red.serverIdentifier);
    assert.equal(planOf("green").dhcpv4, undefined);
    for (const n of SECONDARIES) {
      const cniMac = attachment(pod, n).result.interfaces.find((i) => i.sandbox !== undefined)?.mac;
      assert.equal(planOf(n).guest.mac, cniMac, `${n}: the pod interface's MAC goes to the guest`);
    }
  });

  it("two bridge-bound interfaces each get their own lease, with the NAD's routes and MTU", async () => {
    const [blue, red] = await Promise.all([lab.udhcpc(guests.blue ?? "", "blue"), lab.udhcpc(guests.red ?? "", "red")]);
    assert.equal(blue.code, 0, blue.log);
    assert.equal(red.code, 0, red.log);
    const blueEnv = envOf(blue.env);
    const redEnv = envOf(red.env);
    assert.equal(blueEnv.get("ip"), ipOn(pod, "blue"));
    assert.equal(redEnv.get("ip"), ipOn(pod, "red"));
    assert.equal(blueEnv.get("serverid"), planOf("blue").dhcpv4?.serverIdentifier);
    assert.equal(redEnv.get("serverid"), planOf("red").dhcpv4?.serverIdentifier);
    const blueGuest = guests.blue ?? "";
    assert.deepEqual(
      (await addresses(blueGuest, "eth0")).filter((a) => a.family === "inet").map((a) => a.cidr),
      [`${ipOn(pod, "blue")}/24`],
    );
    assert.ok((await routes(blueGuest, "-4", "eth0")).includes("172.30.0.0/16 via 192.168.50.254"));
    assert.equal((await linkOf(blueGuest, "eth0")).mtu, 1400);
  });

  it("the network without IP gets no DHCP answer, but carries the guest's L2 traffic", async () => {
    const green = guests.green ?? "";
    const lease = await lab.udhcpc(green, "green", ["-t", "2"]);
    assert.equal(lease.code, 1, "udhcpc gets no lease");
    const clientGreen = attachment(client, "green").ifname;
    await execIn(client.netns, "ip", "addr", "add", "192.168.70.1/24", "dev", clientGreen);
    await execIn(green, "ip", "addr", "add", "192.168.70.2/24", "dev", "eth0");
    const ping = await tryIn(green, "busybox", "ping", "-c", "2", "-W", "2", "192.168.70.1");
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);
  });

  it("a client pod on the IPAM NAD pings the guest at its CNI IP, and the guest pings back", async () => {
    const toGuest = await tryIn(client.netns, "busybox", "ping", "-c", "2", "-W", "2", ipOn(pod, "blue"));
    assert.equal(toGuest.code, 0, toGuest.stdout + toGuest.stderr);
    const back = await tryIn(guests.blue ?? "", "busybox", "ping", "-c", "2", "-W", "2", ipOn(client, "blue"));
    assert.equal(back.code, 0, back.stdout + back.stderr);
  });

  it("no bridge of the bridge binding carries a routable address", async () => {
    for (const n of SECONDARIES) {
      const bridge = planOf(n).links.find((l) => l.kind === "bridge")?.name.value ?? "";
      const all = await addresses(pod.netns, bridge);
      assert.ok(
        all.every((a) => (a.family === "inet" ? a.cidr.startsWith("169.254.") : /^fe[89ab]/.test(a.cidr))),
        `${n} (${bridge}): ${JSON.stringify(all)}`,
      );
    }
  });

  it("unwiring leaves the pod exactly as CNI made it", async () => {
    await lab.unwireToCni(wired, cniMade);
    lab.assertAllUnwired();
    assert.deepEqual(
      lab.events.filter((e) => e.kind !== "ready"),
      [],
    );
  });
});
