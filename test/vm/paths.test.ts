import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { assertVmName, launcherPodName, stateDirOf, statePaths, vmPaths } from "../../src/vm/paths.ts";

describe("stateDirOf", () => {
  const cases = [
    { name: "flag wins over the environment", flag: "/tmp/a", env: { VMNET_STATE_DIR: "/tmp/b" }, want: "/tmp/a" },
    { name: "environment when no flag", flag: undefined, env: { VMNET_STATE_DIR: "/tmp/b" }, want: "/tmp/b" },
    { name: "empty environment means the default", flag: undefined, env: { VMNET_STATE_DIR: "" }, want: "/run/vmnet" },
    { name: "default", flag: undefined, env: {}, want: "/run/vmnet" },
    { name: "relative paths made absolute", flag: "rel", env: {}, want: `${process.cwd()}/rel` },
  ];
  for (const c of cases) {
    test(c.name, () => assert.equal(stateDirOf(c.flag, c.env), c.want));
  }
});

describe("statePaths", () => {
  test("names the node vmnt- plus a stable hash of the state directory", () => {
    const a = statePaths("/tmp/x");
    assert.match(a.nodeName, /^vmnt-[0-9a-f]{8}$/);
    assert.equal(statePaths("/tmp/x").nodeName, a.nodeName);
    assert.notEqual(statePaths("/tmp/y").nodeName, a.nodeName);
    assert.equal(a.labRecord, "/tmp/x/lab.json");
    assert.equal(a.vmsDir, "/tmp/x/vms");
  });

  test("vmPaths keeps every file of a VM in its own directory", () => {
    const p = vmPaths(statePaths("/s"), "vm1");
    assert.equal(p.dir, "/s/vms/vm1");
    for (const f of [p.record, p.plan, p.lock, p.qemuPid, p.qmp, p.qga, p.serial, p.qemuLog, p.networkDir]) {
      assert.ok(f.startsWith("/s/vms/vm1/"), f);
    }
    assert.equal(launcherPodName("vm1"), "virt-launcher-vm1");
  });
});

describe("assertVmName", () => {
  const cases = [
    { name: "vm1", ok: true },
    { name: "a", ok: true },
    { name: "my-vm-2", ok: true },
    { name: "a".repeat(63), ok: true },
    { name: "a".repeat(64), ok: false },
    { name: "", ok: false },
    { name: "-vm", ok: false },
    { name: "vm-", ok: false },
    { name: "VM", ok: false },
    { name: "vm.1", ok: false },
    { name: "../etc", ok: false },
  ];
  for (const c of cases) {
    test(`"${c.name.slice(0, 20)}" is ${c.ok ? "accepted" : "refused"}`, () => {
      if (c.ok) assertVmName(c.name);
      else assert.throws(() => assertVmName(c.name), RangeError);
    });
  }
});
