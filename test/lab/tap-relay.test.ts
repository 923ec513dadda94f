import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { startTapRelay } from "../../src/lab/tap-relay.ts";

const run = promisify(execFile);
const skip =
  process.getuid?.() !== 0 ? "needs root to create network namespaces" : existsSync("/dev/net/tun") ? false : "no tun";

const ip = async (...args: string[]) => (await run("ip", args)).stdout;

async function link(ns: string, dev: string): Promise<{ address: string; flags: string[] } | undefined> {
  const out = JSON.parse(await ip("-n", ns, "-json", "link", "show")) as {
    ifname: string;
    address: string;
    flags: string[];
  }[];
  return out.find((l) => l.ifname === dev);
}

describe("startTapRelay", { skip }, () => {
  const suffix = randomBytes(3).toString("hex");
  const pod = `vmnt-trp-${suffix}`;
  const guest = `vmnt-trg-${suffix}`;

  before(async () => {
    await ip("netns", "add", pod);
    await ip("netns", "add", guest);
    // The planned side as apply leaves it: a persistent tap enslaved to a bridge holding an address.
    await ip("-n", pod, "tuntap", "add", "tap0", "mode", "tap");
    await ip("-n", pod, "link", "add", "br0", "type", "bridge");
    await ip("-n", pod, "link", "set", "tap0", "master", "br0", "up");
    await ip("-n", pod, "addr", "add", "10.9.0.1/24", "dev", "br0");
    await ip("-n", pod, "link", "set", "br0", "up");
  });

  after(async () => {
    for (const ns of [pod, guest]) await ip("netns", "del", ns).catch(() => undefined);
  });

  it("gives the tap carrier, creates the guest NIC with the guest MAC, relays both ways, and undoes it all on close", async () => {
    assert.ok((await link(pod, "tap0"))?.flags.includes("NO-CARRIER"));
    const relay = await startTapRelay({
      podNetns: pod,
      podTap: "tap0",
      guestNetns: guest,
      guestMac: "02:11:22:33:44:55",
    });
    try {
      assert.ok(!(await link(pod, "tap0"))?.flags.includes("NO-CARRIER"), "the pod tap has carrier");
      const nic = await link(guest, "eth0");
      assert.equal(nic?.address, "02:11:22:33:44:55");
      assert.ok(nic?.flags.includes("UP"));
      await ip("-n", guest, "addr", "add", "10.9.0.2/24", "dev", "eth0");
      await run("ip", ["netns", "exec", guest, "busybox", "ping", "-c", "2", "-W", "2", "10.9.0.1"]);
      const stats = relay.stats();
      // Two echo requests and an ARP request out of the guest, two replies and an ARP reply back, at least.
      assert.ok(stats.fromGuest >= 3, JSON.stringify(stats));
      assert.ok(stats.toGuest >= 3, JSON.stringify(stats));
    } finally {
      await relay.close();
    }
    await relay.close();
    assert.equal(await link(guest, "eth0"), undefined, "the guest tap is gone");
    // The kernel's link watch reports carrier loss with a delay of up to a second.
    const deadline = Date.now() + 3000;
    while (!(await link(pod, "tap0"))?.flags.includes("NO-CARRIER") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok((await link(pod, "tap0"))?.flags.includes("NO-CARRIER"), "the pod tap is persistent and idle again");
  });

  it("rejects a tap that does not exist and leaves no guest NIC", async () => {
    await assert.rejects(
      startTapRelay({ podNetns: pod, podTap: "tap9", guestNetns: guest, guestMac: "02:11:22:33:44:56" }),
      /^Error: Cannot attach tap "tap9": it does not exist$/,
    );
    assert.equal(await link(guest, "eth0"), undefined);
    assert.equal(await link(pod, "tap9"), undefined, "no tap was created in its place");
  });
});
