import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { statSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { addVethPair, createNetns, deleteNetns, listNetns, netnsPath } from "../../src/host/netns.ts";
import { currentNetnsInode, inNetns, openIcmpv6InNetns, openUdpInNetns } from "../../src/host/netns-sockets.ts";
import type { Icmpv6Message } from "../../src/host/netns-worker.ts";
import { kernelSkipReason, uniqueNetnsName } from "./harness.ts";

const run = promisify(execFile);

/** Runs python3 inside `netns`: the peer that sends to the sockets under test. */
function pythonIn(netns: string, script: string, ...args: string[]): Promise<unknown> {
  return run("ip", ["netns", "exec", netns, "python3", "-c", script, ...args]);
}

function waitFor<T>(what: string, get: () => T | undefined, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = () => {
      const v = get();
      if (v !== undefined) resolve(v);
      else if (Date.now() > deadline) reject(new Error(`Timed out waiting for ${what}`));
      else setTimeout(tick, 20);
    };
    tick();
  });
}

describe("netns-sockets", { skip: kernelSkipReason() }, () => {
  const served = uniqueNetnsName();
  const client = uniqueNetnsName();
  const home = currentNetnsInode();

  before(async () => {
    await createNetns(served);
    await createNetns(client);
    await addVethPair({ name: "srv0", netns: served }, { name: "cli0", netns: client });
    for (const [ns, dev, v4, v6] of [
      [served, "srv0", "10.9.0.1/24", "fd00:9::1/64"],
      [client, "cli0", "10.9.0.2/24", "fd00:9::2/64"],
    ] as const) {
      await run("ip", ["netns", "exec", ns, "sysctl", "-qw", `net.ipv6.conf.${dev}.accept_dad=0`]);
      await run("ip", ["-n", ns, "addr", "add", v4, "dev", dev]);
      await run("ip", ["-n", ns, "addr", "add", v6, "dev", dev, "nodad"]);
      await run("ip", ["-n", ns, "link", "set", dev, "up"]);
    }
    // The carrier (and with it the link-local address and multicast routes) comes through linkwatch, up to 1 s later.
    for (const [ns, dev] of [
      [served, "srv0"],
      [client, "cli0"],
    ] as const) {
      const deadline = Date.now() + 5000;
      while (
        !(await run("ip", ["-n", ns, "-6", "route", "show", "table", "local", "dev", dev])).stdout.includes("ff00::/8")
      ) {
        if (Date.now() > deadline) throw new Error(`No IPv6 multicast route on "${dev}"`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  });

  after(async () => {
    const left = new Set(await listNetns());
    for (const ns of [served, client]) if (left.has(ns)) await deleteNetns(ns);
  });

  it("inNetns runs the function in the namespace and returns the thread to its own, also when it throws", () => {
    const inside = inNetns(served, () => currentNetnsInode());
    assert.equal(inside, statSync(netnsPath(served), { bigint: true }).ino);
    assert.notEqual(inside, home);
    assert.equal(currentNetnsInode(), home);
    assert.throws(
      () =>
        inNetns(served, () => {
          throw new Error("inside");
        }),
      /^Error: inside$/,
    );
    assert.equal(currentNetnsInode(), home);
  });

  it("inNetns refuses a function that returns a promise, after returning home", () => {
    assert.throws(() => inNetns(served, () => Promise.resolve(1)), {
      name: "TypeError",
      message: `Cannot hop into network namespace "${served}" for asynchronous work`,
    });
    assert.equal(currentNetnsInode(), home);
  });

  it("inNetns of a missing namespace throws ENOENT without running the function", () => {
    let ran = false;
    assert.throws(
      () =>
        inNetns("vmnt-missing-0000", () => {
          ran = true;
        }),
      { code: "ENOENT" },
    );
    assert.equal(ran, false);
    assert.equal(currentNetnsInode(), home);
  });

  it("openUdpInNetns makes an IPv4 socket bound to a device of the namespace, served from this thread", async () => {
    const socket = openUdpInNetns(served, { ifname: "srv0", family: 4, port: 6767 });
    try {
      assert.equal(currentNetnsInode(), home);
      const got: string[] = [];
      socket.on("message", (msg, rinfo) => got.push(`${msg.toString()} from ${rinfo.address}`));
      const send =
        "import socket, sys\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.sendto(b'hello', (sys.argv[1], 6767))";
      await pythonIn(client, send, "10.9.0.1");
      assert.equal(await waitFor("the datagram", () => got[0]), "hello from 10.9.0.2");
    } finally {
      socket.close();
    }
  });

  it("openUdpInNetns joins IPv6 groups on the device inside the namespace", async () => {
    const socket = openUdpInNetns(served, { ifname: "srv0", family: 6, port: 6547, groups: ["ff02::1:2"] });
    try {
      const got: string[] = [];
      socket.on("message", (msg) => got.push(msg.toString()));
      const send = [
        "import socket",
        "s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)",
        "s.sendto(b'solicit', ('ff02::1:2', 6547, 0, socket.if_nametoindex('cli0')))",
      ].join("\n");
      await pythonIn(client, send);
      assert.equal(await waitFor("the multicast datagram", () => got[0]), "solicit");
    } finally {
      socket.close();
    }
  });

  it("a device that the namespace lacks fails with ENODEV (errno 19) and the thread is back home", () => {
    assert.throws(
      () => openUdpInNetns(served, { ifname: "cli0", family: 4, port: 6768 }),
      (e: unknown) => e instanceof Error && "errno" in e && e.errno === 19,
    );
    assert.equal(currentNetnsInode(), home);
  });

  it("openIcmpv6InNetns receives a router solicitation sent to ff02::2 on the device", async () => {
    const got: Icmpv6Message[] = [];
    const socket = openIcmpv6InNetns(served, { ifname: "srv0", groups: ["ff02::2"], types: [133], pollMs: 10 }, (m) =>
      got.push(m),
    );
    try {
      assert.equal(currentNetnsInode(), home);
      const send = [
        "import socket",
        "s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)",
        "s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)",
        "s.sendto(bytes([133, 0, 0, 0, 0, 0, 0, 0]), ('ff02::2', 0, 0, socket.if_nametoindex('cli0')))",
      ].join("\n");
      await pythonIn(client, send);
      const m = await waitFor("the solicitation", () => got[0]);
      assert.equal(m.data[0], 133);
      assert.match(m.source, /^fe80:/);
    } finally {
      await socket.close();
    }
  });
});
