import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Worker } from "node:worker_threads";
import { IprouteNetlink } from "../../src/host/netlink.ts";
import { addVethPair, createNetns, deleteNetns, listNetns } from "../../src/host/netns.ts";
import { startNetnsWorker } from "../../src/host/netns-worker.ts";
import { ProcSysctl } from "../../src/host/sysctl.ts";
import type { PeerCommand, PeerEvent } from "./fixtures/net-peer.ts";
import { kernelSkipReason, uniqueNetnsName } from "./harness.ts";

const PEER = new URL("./fixtures/net-peer.ts", import.meta.url);

/** Drives one fixture worker and collects its events. */
class Peer {
  readonly events: PeerEvent[] = [];
  readonly #worker: Worker;
  #seq = 0;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #failure: Error | undefined;

  constructor(netns: string) {
    this.#worker = startNetnsWorker(netns, PEER);
    this.#worker.on("message", (m: { seq?: number; ok?: boolean; value?: unknown; error?: string } & PeerEvent) => {
      if (m.seq === undefined) {
        this.events.push(m);
        return;
      }
      const p = this.#pending.get(m.seq);
      this.#pending.delete(m.seq);
      if (m.ok === true) p?.resolve(m.value);
      else p?.reject(new Error(m.error));
    });
    this.#worker.on("error", (e) => {
      this.#failure = e;
      for (const p of this.#pending.values()) p.reject(e);
    });
  }

  call(cmd: PeerCommand): Promise<unknown> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const seq = ++this.#seq;
    return new Promise((resolve, reject) => {
      this.#pending.set(seq, { resolve, reject });
      this.#worker.postMessage({ seq, cmd });
    });
  }

  async waitFor(pred: (e: PeerEvent) => boolean, ms = 3000): Promise<PeerEvent> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.events.find(pred);
      if (hit !== undefined) return hit;
      if (Date.now() > deadline) throw new Error(`No matching event within ${ms} ms: ${JSON.stringify(this.events)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    try {
      if (this.#failure === undefined) await this.call({ op: "close" });
    } finally {
      await this.#worker.terminate();
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits (up to 10 s) until `dev` in `netns` holds an IPv6 link-local address. */
async function waitForLinkLocal(netns: string, dev: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = spawnSync("ip", ["-n", netns, "-j", "-6", "addr", "show", "dev", dev, "scope", "link"], {
      encoding: "utf8",
    });
    const has =
      r.status === 0 &&
      (JSON.parse(r.stdout || "[]") as { addr_info?: unknown[] }[]).some((l) => (l.addr_info ?? []).length > 0);
    if (has) return;
    if (Date.now() > deadline) throw new Error(`No IPv6 link-local address on ${dev} in ${netns} after 10 s`);
    await sleep(50);
  }
}

// RS: type 133, code 0, checksum (kernel), reserved. RA: type 134, hop limit 64, lifetime 0, timers 0.
const ROUTER_SOLICITATION = "8500000000000000";
const ROUTER_ADVERTISEMENT = "86000000400000000000000000000000";
// Echo request: type 128, code 0, checksum (kernel), identifier 1, sequence 1.
const ECHO_REQUEST = "8000000000010001";

describe("startNetnsWorker", () => {
  it("reports a missing namespace as the worker's error before the module runs", async () => {
    const worker = startNetnsWorker(uniqueNetnsName(), PEER);
    const error = await new Promise<unknown>((resolve) => {
      worker.once("error", resolve);
      worker.once("online", () => undefined);
    });
    await worker.terminate();
    assert.ok(error instanceof Error && /ENOENT/.test(error.message), String(error));
  });
  it("rejects an invalid namespace name", () => {
    assert.throws(() => startNetnsWorker("../x", PEER), RangeError);
  });
});

describe("netns worker: sockets bound to one interface of a pod namespace", { skip: kernelSkipReason() }, () => {
  const pod = uniqueNetnsName();
  const guest = uniqueNetnsName();
  let podPeer: Peer | undefined;
  let guestPeer: Peer | undefined;

  before(async () => {
    await createNetns(pod);
    await createNetns(guest);
    for (const ns of [pod, guest]) {
      // Link-local addresses usable at once, without duplicate address detection.
      const sysctl = new ProcSysctl(ns);
      await sysctl.set("net.ipv6.conf.default.accept_dad", "0");
      await sysctl.set("net.ipv6.conf.all.accept_dad", "0");
    }
    // pod: br0 (10.99.0.1) with port vbr0 <-> guest g0 (10.99.0.2); pod eth0 (10.98.0.1) <-> guest g1 (10.98.0.2).
    await addVethPair({ name: "vbr0", netns: pod }, { name: "g0", netns: guest });
    await addVethPair({ name: "eth0", netns: pod }, { name: "g1", netns: guest });
    await new IprouteNetlink(pod).batch([
      { op: "addBridge", name: "br0" },
      { op: "setMaster", name: "vbr0", master: "br0" },
      { op: "addAddress", name: "br0", address: "10.99.0.1/24" },
      { op: "addAddress", name: "eth0", address: "10.98.0.1/24" },
      { op: "setUp", name: "br0" },
      { op: "setUp", name: "vbr0" },
      { op: "setUp", name: "eth0" },
    ]);
    await new IprouteNetlink(guest).batch([
      { op: "addAddress", name: "g0", address: "10.99.0.2/24" },
      { op: "addAddress", name: "g1", address: "10.98.0.2/24" },
      { op: "setUp", name: "g0" },
      { op: "setUp", name: "g1" },
    ]);
    // The kernel adds link-local addresses (and the multicast route with them) asynchronously once a link has
    // carrier; on a loaded machine that can lag the `up`, and IPv6 sends then fail with ENETUNREACH.
    await waitForLinkLocal(pod, "br0");
    await waitForLinkLocal(guest, "g0");
    podPeer = new Peer(pod);
    guestPeer = new Peer(guest);
  });

  after(async () => {
    await podPeer?.stop();
    await guestPeer?.stop();
    const left = new Set(await listNetns());
    for (const ns of [pod, guest]) if (left.has(ns)) await deleteNetns(ns);
  });

  const peers = (): [Peer, Peer] => {
    assert.ok(podPeer !== undefined && guestPeer !== undefined);
    return [podPeer, guestPeer];
  };

  it("the worker sees the pod's interfaces while the main thread stays in the root namespace", async () => {
    const [p] = peers();
    const seen = (await p.call({ op: "interfaces" })) as string[];
    assert.deepEqual(seen, ["br0", "eth0", "lo", "vbr0"]);
    assert.ok(!Object.keys(networkInterfaces()).includes("vbr0"));
  });

  it("a UDP server bound to the bridge answers a broadcast from the guest behind it", async () => {
    const [p, g] = peers();
    await p.call({
      op: "listen",
      id: "srv4",
      ifname: "br0",
      family: 4,
      port: 6767,
      echo: { address: "255.255.255.255", port: 6868 },
    });
    await g.call({ op: "listen", id: "g0", ifname: "g0", family: 4, port: 6868 });
    await g.call({ op: "listen", id: "g1", ifname: "g1", family: 4, port: 6868 });
    await g.call({ op: "send", id: "g0", payload: "hello-g0", address: "255.255.255.255", port: 6767 });
    const got = await p.waitFor((e) => e.event === "udp" && e.id === "srv4");
    assert.deepEqual(got, { event: "udp", id: "srv4", from: "10.99.0.2", payload: "hello-g0" });
    const reply = await g.waitFor((e) => e.event === "udp" && e.payload === "pong:hello-g0");
    assert.equal(reply.event === "udp" && reply.id, "g0", "the broadcast reply leaves through the bridge only");
  });

  it("a broadcast arriving on another pod interface gets no answer (and does reach an unbound socket)", async () => {
    const [p, g] = peers();
    await p.call({ op: "listen", id: "ctl4", family: 4, port: 6769 });
    await g.call({ op: "send", id: "g1", payload: "hello-g1", address: "255.255.255.255", port: 6767 });
    await g.call({ op: "send", id: "g1", payload: "control-g1", address: "255.255.255.255", port: 6769 });
    await p.waitFor((e) => e.event === "udp" && e.id === "ctl4" && e.from === "10.98.0.2");
    await sleep(300);
    assert.equal(p.events.filter((e) => e.event === "udp" && e.id === "srv4" && e.payload === "hello-g1").length, 0);
    assert.equal(g.events.filter((e) => e.event === "udp" && e.payload === "pong:hello-g1").length, 0);
  });

  it("binding to a missing interface fails with ENODEV", async () => {
    const [p] = peers();
    await assert.rejects(p.call({ op: "listen", id: "bad", ifname: "nope0", family: 4, port: 6770 }), /errno 19/);
  });

  it("a UDPv6 server joined to ff02::1:2 on the bridge answers the guest", async () => {
    const [p, g] = peers();
    await p.call({
      op: "listen",
      id: "srv6",
      ifname: "br0",
      family: 6,
      port: 6547,
      groups: ["ff02::1:2"],
      echo: { address: "ff02::1%br0", port: 6546 },
    });
    await g.call({ op: "listen", id: "g0v6", ifname: "g0", family: 6, port: 6546 });
    await g.call({ op: "send", id: "g0v6", payload: "solicit", address: "ff02::1:2%g0", port: 6547 });
    const got = await p.waitFor((e) => e.event === "udp" && e.id === "srv6");
    assert.ok(got.event === "udp" && got.from.startsWith("fe80::"), JSON.stringify(got));
    await g.waitFor((e) => e.event === "udp" && e.id === "g0v6" && e.payload === "pong:solicit");
  });

  it("raw ICMPv6 sockets carry a router solicitation and an advertisement across the bridge", async () => {
    const [p, g] = peers();
    await p.call({ op: "icmpOpen", id: "ra", ifname: "br0", groups: ["ff02::2"], types: [133] });
    await g.call({ op: "icmpOpen", id: "host", ifname: "g0", types: [134] });
    await g.call({ op: "icmpSend", id: "host", hex: ROUTER_SOLICITATION, destination: "ff02::2" });
    const rs = await p.waitFor((e) => e.event === "icmp" && e.id === "ra");
    assert.equal(rs.event === "icmp" && rs.type, 133);
    await p.call({ op: "icmpSend", id: "ra", hex: ROUTER_ADVERTISEMENT, destination: "ff02::1" });
    const ra = await g.waitFor((e) => e.event === "icmp" && e.id === "host");
    assert.ok(ra.event === "icmp" && ra.type === 134 && ra.source.startsWith("fe80::"), JSON.stringify(ra));
  });

  it("a failing ICMPv6 read is reported at once through onError, not at close()", async () => {
    const [p] = peers();
    await p.call({ op: "icmpOpen", id: "doomed", ifname: "br0", types: [133] });
    await p.call({ op: "icmpBreak", id: "doomed" });
    const failed = await p.waitFor((e) => e.event === "icmpError" && e.id === "doomed", 2000);
    // EBADF: the fd was closed behind the socket's back.
    assert.match(failed.event === "icmpError" ? failed.message : "", /"recvfrom" failed with errno 9/);
  });

  it("a socket polled in the same tick as a failed one keeps receiving", async () => {
    const [p, g] = peers();
    const solicitations = () => p.events.filter((e) => e.event === "icmp" && e.id === "ra").length;
    const before = solicitations();
    await g.call({ op: "icmpSend", id: "host", hex: ROUTER_SOLICITATION, destination: "ff02::2" });
    await p.waitFor(() => solicitations() > before);
  });
});

describe("Icmpv6Socket: polled without libuv's thread pool", { skip: kernelSkipReason() }, () => {
  const ns = uniqueNetnsName();
  const peers: Peer[] = [];
  let dir: string | undefined;

  before(async () => {
    await createNetns(ns);
    await new IprouteNetlink(ns).batch([{ op: "setUp", name: "lo" }]);
    dir = await mkdtemp(join(tmpdir(), "vmnt-pool-"));
  });

  after(async () => {
    for (const p of peers) await p.stop();
    if ((await listNetns()).includes(ns)) await deleteNetns(ns);
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it("8 workers each reading an ICMPv6 socket leave the main thread's fs.promises calls free, and all receive", async () => {
    assert.ok(dir !== undefined);
    // More open sockets than the pool has threads (4 unless UV_THREADPOOL_SIZE says otherwise).
    for (let i = 0; i < 8; i++) {
      const p = new Peer(ns);
      peers.push(p);
      await p.call({ op: "icmpOpen", id: `s${i}`, ifname: "lo", types: [128] });
    }
    const started = performance.now();
    const files = Array.from({ length: 64 }, (_, i) => join(dir ?? "", `f${i}`));
    await Promise.all(files.map((f, i) => writeFile(f, String(i))));
    const read = await Promise.all(files.map((f) => readFile(f, "utf8")));
    const ms = performance.now() - started;
    console.log(`64 writes and 64 reads with 8 ICMPv6 sockets open: ${ms.toFixed(1)} ms`);
    assert.deepEqual(
      read,
      files.map((_, i) => String(i)),
    );
    // Every socket still reads: one echo request to ::1 on lo is delivered to all eight raw sockets.
    const [first] = peers;
    assert.ok(first !== undefined);
    await first.call({ op: "icmpSend", id: "s0", hex: ECHO_REQUEST, destination: "::1" });
    for (const [i, p] of peers.entries()) {
      await p.waitFor((e) => e.event === "icmp" && e.id === `s${i}` && e.type === 128);
    }
  });
});
