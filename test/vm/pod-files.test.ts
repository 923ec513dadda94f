import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { ClusterConfig } from "../../src/api/cluster-config.ts";
import { parseNetworkStatus, writeDeviceInfo } from "../../src/vm/pod-files.ts";
import { config, iface, podNet, vm } from "../plan/fixtures.ts";

const dir = mkdtempSync(join(tmpdir(), "vmnt-podfiles-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const model = vm(
  [iface("default", { kind: "masquerade" }), iface("red", { kind: "plugin", name: "dev" })],
  [podNet(), { name: "red", source: { kind: "multus", networkName: "nr", default: false } }],
);
const withDevice: ClusterConfig = { ...config(), bindingPlugins: { dev: { downwardAPI: "device-info" } } };
const networkStatus = JSON.stringify([
  { name: "kindnet", interface: "eth0", default: true },
  { name: "default/nr", interface: "podb1f51a511f1", mac: "02:00:00:00:00:0a" },
]);

describe("pod files", () => {
  it("writes /etc/podinfo/network-info under the pod's directory for a device-info plugin", async () => {
    const path = await writeDeviceInfo(join(dir, "a"), model, parseNetworkStatus(networkStatus), withDevice);
    assert.equal(path, join(dir, "a", "etc/podinfo/network-info"));
    assert.equal(readFileSync(path ?? "", "utf8"), '{"interfaces":[{"network":"red","mac":"02:00:00:00:00:0a"}]}');
  });

  it("writes nothing when no plugin asks for device-info", async () => {
    const cfg: ClusterConfig = { ...config(), bindingPlugins: { dev: {} } };
    assert.equal(await writeDeviceInfo(join(dir, "b"), model, parseNetworkStatus(networkStatus), cfg), undefined);
    assert.equal(existsSync(join(dir, "b")), false);
  });

  const statuses = [
    { name: "absent annotation", text: undefined, want: [] },
    { name: "empty annotation", text: " ", want: [] },
    {
      name: "one entry",
      text: '[{"name":"kindnet","interface":"eth0"}]',
      want: [{ name: "kindnet", interface: "eth0" }],
    },
  ];
  for (const c of statuses)
    it(`parseNetworkStatus: ${c.name}`, () => assert.deepEqual(parseNetworkStatus(c.text), c.want));
  it("parseNetworkStatus refuses what is not an array", () =>
    assert.throws(() => parseNetworkStatus("{}"), SyntaxError));
});
