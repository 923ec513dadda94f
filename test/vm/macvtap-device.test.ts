import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { fstatSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { closeFds, findMacvtapDevice, openMacvtapQueues, parseMacvtapDevice } from "../../src/vm/macvtap-device.ts";
import { kernelSkipReason, withNetns } from "../host/harness.ts";

describe("parseMacvtapDevice", () => {
  const cases = [
    { name: "one device", text: "tap12 240:3\n", want: { name: "tap12", major: 240, minor: 3 } },
    {
      name: "first of several lines",
      text: "junk\ntap7 239:1\ntap8 239:2\n",
      want: { name: "tap7", major: 239, minor: 1 },
    },
    { name: "none (not a macvtap)", text: "", want: undefined },
    { name: "no device numbers", text: "tap3 \n", want: undefined },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(parseMacvtapDevice(c.text), c.want));
});

/** Makes a macvtap named `link` in `pod` on a veth whose peer stays in `lower`'s namespace, as the lab does. */
function makeMacvtap(lowerNs: string, podNs: string, link: string): void {
  const ip = (...args: string[]) => execFileSync("ip", args);
  ip("-n", lowerNs, "link", "add", "lower0", "type", "veth", "peer", "name", "peer0");
  ip("-n", lowerNs, "link", "set", "lower0", "up");
  ip("-n", lowerNs, "link", "add", "link", "lower0", "name", "mvt0", "type", "macvtap", "mode", "bridge");
  ip("-n", lowerNs, "link", "set", "mvt0", "netns", podNs);
  ip("-n", podNs, "link", "set", "mvt0", "name", link);
}

describe("macvtap character devices, on the kernel", { skip: kernelSkipReason() }, () => {
  test("a macvtap moved into a pod is found by its pod name and opened once per queue", async () => {
    await withNetns(2, async ([lower, pod]) => {
      if (lower === undefined || pod === undefined) throw new Error("no namespaces");
      makeMacvtap(lower, pod, "pod1a2b3c4d5e6");
      const device = await findMacvtapDevice(pod, "pod1a2b3c4d5e6");
      assert.match(device.name, /^tap\d+$/u);
      const dir = mkdtempSync(join(tmpdir(), "vmnt-mvt-"));
      try {
        const fds = await openMacvtapQueues(pod, "pod1a2b3c4d5e6", 2, dir);
        try {
          assert.equal(fds.length, 2);
          for (const fd of fds) {
            const st = fstatSync(fd);
            assert.ok(st.isCharacterDevice());
            assert.equal(st.rdev, (device.major << 8) | (device.minor & 0xff) | ((device.minor & ~0xff) << 12));
          }
          assert.deepEqual(readdirSync(dir), [], "the device node is removed once opened");
        } finally {
          closeFds(fds);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  test("a link that is no macvtap is refused, naming it", async () => {
    await withNetns(1, async ([pod]) => {
      if (pod === undefined) throw new Error("no namespace");
      execFileSync("ip", ["-n", pod, "link", "add", "v0", "type", "veth", "peer", "name", "v1"]);
      await assert.rejects(findMacvtapDevice(pod, "v0"), /macvtap "v0" .* is it a macvtap link/u);
    });
  });
});
