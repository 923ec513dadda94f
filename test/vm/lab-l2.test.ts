import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { hostExecutor } from "../../src/host/exec.ts";
import { NODE_L2_DEVICE, NODE_L2_HOST, NODE_L2_PEER } from "../../src/lab/node.ts";
import { createPod, deletePod } from "../../src/lab/pod.ts";
import { hashedPodInterfaceName } from "../../src/plan/namescheme.ts";
import { destroyLab, ensureLab } from "../../src/vm/lab.ts";
import { statePaths } from "../../src/vm/paths.ts";

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root to create network namespaces";
  if (!existsSync("/usr/lib/cni/bridge")) return "the CNI plugins are missing";
  if (spawnSync("busybox", ["true"]).status !== 0) return "busybox (for ping) is missing";
  return undefined;
}

const STATE = mkdtempSync(join(tmpdir(), "vmnt-lab-l2-"));
const paths = statePaths(STATE);

describe("the lab node's L2 network", { skip: skipReason() }, () => {
  after(async () => {
    await destroyLab(paths);
    rmSync(STATE, { recursive: true, force: true });
    const left = (spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout ?? "")
      .split("\n")
      .filter((l) => l.startsWith(paths.nodeName));
    assert.deepEqual(left, [], "destroyLab leaves no namespace of the lab");
  });

  test("ensureLab gives the node eth0 on an L2 with a host, recorded, and a [] macvtap pod on it reaches the host", async () => {
    const { lab, created } = await ensureLab(paths);
    assert.ok(created);
    assert.deepEqual(lab.record.l2, { device: NODE_L2_DEVICE, peer: NODE_L2_PEER, host: NODE_L2_HOST });
    const pod = await createPod({
      node: lab.node,
      name: "mvt",
      primary: undefined,
      secondaries: [
        {
          nad: {
            name: "macvtapnetwork",
            resourceName: `macvtap.network.kubevirt.io/${NODE_L2_DEVICE}`,
            config: { cniVersion: "0.3.1", name: "macvtapnetwork", type: "macvtap" },
          },
          networkName: "hostnetwork",
        },
      ],
      // The device plugin's default ConfigMap: every node interface.
      macvtapDevicePluginConfig: "[]",
    });
    try {
      const ifname = hashedPodInterfaceName("hostnetwork").value;
      await hostExecutor.run("ip", ["-n", pod.netns, "address", "add", "198.51.100.20/24", "dev", ifname]);
      const host = NODE_L2_HOST.split("/")[0] ?? "";
      const r = await hostExecutor.run("busybox", ["ping", "-c", "1", "-W", "3", host], {
        netns: pod.netns,
        allowFailure: true,
      });
      assert.equal(r.code, 0, r.stdout + r.stderr);
    } finally {
      await deletePod(lab.node, pod);
    }
  });
});
