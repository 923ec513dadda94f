import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { PlanNad } from "../../src/plan/plan.ts";
import { planPod } from "../../src/plan/plan.ts";
import { config, iface, link, multusNet, pod, podNet, vm } from "./fixtures.ts";

// The planned macvtap step is realisable as planned: created in bridge mode on the lower device of a stand-in node
// netns, moved into the pod netns under the pod interface name with the planned MAC and MTU, where sysfs names the
// character device QEMU's fd comes from.
const canRun = process.getuid?.() === 0;
const suffix = randomBytes(4).toString("hex");
const nodeNs = `vmnt-mvn-${suffix}`;
const podNs = `vmnt-mvp-${suffix}`;
const run = (ns: string, ...args: string[]) => execFileSync("ip", ["-n", ns, ...args], { encoding: "utf8" });

describe("planned macvtap link on a real kernel", { skip: !canRun && "needs root" }, () => {
  before(() => {
    execFileSync("ip", ["netns", "add", nodeNs]);
    execFileSync("ip", ["netns", "add", podNs]);
    run(nodeNs, "link", "add", "eth0", "type", "veth", "peer", "name", "peer0");
  });
  after(() => {
    try {
      execFileSync("ip", ["netns", "del", podNs], { stdio: "ignore" });
    } finally {
      execFileSync("ip", ["netns", "del", nodeNs], { stdio: "ignore" });
    }
  });

  it("planned macvtap link: bridge mode on the lower device, planned name, MAC and MTU, a tap character device", () => {
    const nad: PlanNad = {
      namespace: "default",
      name: "mvt",
      resourceName: "macvtap.network.kubevirt.io/eth0",
      config: '{"type":"macvtap","mtu":1400}',
    };
    const model = vm(
      [iface("default", { kind: "masquerade" }), iface("hostnetwork", { kind: "macvtap" })],
      [podNet(), multusNet("hostnetwork", "mvt")],
    );
    const plan = planPod(model, {
      config: config(["Macvtap"]),
      pod: pod([link("eth0", 3, "0a:58:0a:f4:01:05", ["10.244.1.5/24"])]),
      nads: [nad],
    });
    const step = plan.interfaces[1]?.links[0];
    assert.ok(step?.macvtap && step.mac && step.mtu);
    const tmp = `mvt${suffix}`;
    run(
      nodeNs,
      "link",
      "add",
      "link",
      step.macvtap.lowerDevice,
      "name",
      tmp,
      "type",
      "macvtap",
      "mode",
      step.macvtap.mode,
    );
    run(nodeNs, "link", "set", tmp, "netns", podNs);
    run(podNs, "link", "set", tmp, "name", step.name.value);
    run(podNs, "link", "set", step.name.value, "address", step.mac, "mtu", String(step.mtu), "up");
    const shown = JSON.parse(run(podNs, "-d", "-j", "link", "show", step.name.value)) as {
      address: string;
      mtu: number;
      linkinfo: { info_kind: string; info_data: { mode: string } };
    }[];
    assert.equal(shown[0]?.address, step.mac);
    assert.equal(shown[0]?.mtu, 1400);
    assert.equal(shown[0]?.linkinfo.info_kind, "macvtap");
    assert.equal(shown[0]?.linkinfo.info_data.mode, "bridge");
    const dev = execFileSync(
      "ip",
      ["netns", "exec", podNs, "sh", "-c", `cat /sys/class/net/${step.name.value}/macvtap/tap*/dev`],
      { encoding: "utf8" },
    );
    assert.match(dev.trim(), /^\d+:\d+$/u);
  });
});
