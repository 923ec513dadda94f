import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { addDhcpGuardRules } from "../../src/plan/dhcp-guard.ts";
import { NftBuilder, renderNftText } from "../../src/plan/nft.ts";
import { nftSkipReason, withNetns } from "../host/harness.ts";

const ip = (...args: string[]) => {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  assert.equal(r.status, 0, `ip ${args.join(" ")}: ${r.stderr}`);
};

/** Runs a node one-liner inside a namespace. */
function nodeIn(netns: string, script: string) {
  return spawn("ip", ["netns", "exec", netns, process.execPath, "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
}

/**
 * A pod namespace with bridge `k6t-eth0` whose port `eth0-nic` leads to a node namespace, and a UDP/67 listener in the
 * pod. Sends one broadcast DHCP-like datagram from the node and resolves with what the listener received.
 */
async function broadcastFromCluster(guarded: boolean): Promise<string> {
  return withNetns(2, async ([pod, node]) => {
    if (pod === undefined || node === undefined) throw new Error("two namespaces expected");
    ip("-n", pod, "link", "add", "k6t-eth0", "type", "bridge");
    ip("-n", pod, "link", "add", "eth0-nic", "type", "veth", "peer", "name", "uplink", "netns", node);
    ip("-n", pod, "link", "set", "eth0-nic", "master", "k6t-eth0");
    ip("-n", pod, "addr", "add", "169.254.75.10/32", "dev", "k6t-eth0");
    for (const dev of ["k6t-eth0", "eth0-nic"]) ip("-n", pod, "link", "set", dev, "up");
    ip("-n", node, "addr", "add", "10.99.0.1/24", "dev", "uplink");
    ip("-n", node, "link", "set", "uplink", "up");
    ip("-n", node, "route", "add", "default", "dev", "uplink");
    if (guarded) {
      const nft = new NftBuilder();
      addDhcpGuardRules(nft, { bridge: "k6t-eth0", uplink: "eth0-nic" });
      const load = spawnSync("ip", ["netns", "exec", pod, "nft", "-f", "-"], {
        input: renderNftText(nft.build()),
        encoding: "utf8",
      });
      assert.equal(load.status, 0, load.stderr);
    }
    const listener = nodeIn(
      pod,
      `const s=require("dgram").createSocket({type:"udp4",reuseAddr:true});` +
        `s.on("message",(m)=>{process.stdout.write("got:"+m.toString()+"\\n")});` +
        `s.bind(67,"0.0.0.0",()=>process.stdout.write("ready\\n"));`,
    );
    let out = "";
    listener.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (out.includes("ready")) {
          clearInterval(check);
          resolve();
        }
      }, 20);
    });
    const sender = nodeIn(
      node,
      `const s=require("dgram").createSocket("udp4");s.bind(68,()=>{s.setBroadcast(true);` +
        `s.send("discover",67,"255.255.255.255",()=>s.close())});`,
    );
    await new Promise((resolve) => sender.on("exit", resolve));
    // The datagram is delivered or dropped by the time the sender has exited; a short grace covers the listener's read.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const exited = new Promise((resolve) => listener.on("exit", resolve));
    listener.kill();
    await exited;
    return out;
  });
}

describe("addDhcpGuardRules", { skip: nftSkipReason() }, () => {
  it("keeps a DHCP broadcast from the cluster-facing port away from the bridge's server", async () => {
    // The control run proves the datagram does reach a listener on the bridge when no guard is loaded.
    // allSettled: both runs finish (and delete their namespaces) before a failure of either is reported.
    const results = await Promise.allSettled([broadcastFromCluster(false), broadcastFromCluster(true)]);
    const [open, guarded] = results.map((r) => {
      if (r.status === "rejected") throw r.reason;
      return r.value;
    });
    assert.match(open ?? "", /got:discover/u);
    assert.doesNotMatch(guarded ?? "", /got:/u);
  });
});
