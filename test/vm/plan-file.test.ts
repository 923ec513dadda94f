import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { GUEST_READY_MARKER } from "../../src/lab/guest-image.ts";
import { InterfaceName } from "../../src/plan/namescheme.ts";
import { planPod } from "../../src/plan/plan.ts";
import { bootMarkers } from "../../src/vm/lifecycle.ts";
import { loadPlan, reviveInterfaceNames, savePlan } from "../../src/vm/plan-file.ts";
import { plan as handPlan, nic } from "../hypervisor/fixtures.ts";
import { config, iface, link, pod, podNet, vm } from "../plan/fixtures.ts";

const dir = mkdtempSync(join(tmpdir(), "vmnt-planfile-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const model = vm([iface("default", { kind: "masquerade" })], [podNet()]);
const planned = planPod(model, {
  config: config(),
  pod: pod([link("eth0", 3, "0a:58:0a:f4:01:05", ["10.244.1.5/24", "fe80::858:aff:fef4:105/64"])]),
});

describe("savePlan/loadPlan", () => {
  test("a real masquerade plan reads back equal, its interface names as InterfaceName again", async () => {
    const file = join(dir, "plan.json");
    await savePlan(file, planned, model);
    const read = await loadPlan(file);
    assert.deepEqual(read.model, model);
    assert.deepEqual(JSON.parse(JSON.stringify(read.plan)), JSON.parse(JSON.stringify(planned)));
    const i = read.plan.interfaces[0];
    assert.ok(i?.guest.tapName instanceof InterfaceName);
    assert.ok(i.podInterface instanceof InterfaceName);
    assert.equal(i.guest.tapName.value, planned.interfaces[0]?.guest.tapName.value);
    assert.ok(i.dhcpv4?.serverInterface instanceof InterfaceName);
  });

  test("a macvtap backend's link reads back as an InterfaceName; no temp file is left", async () => {
    const macvtap = {
      ...planned,
      interfaces: planned.interfaces.map((i) => ({
        ...i,
        guest: {
          ...i.guest,
          backend: { kind: "macvtap" as const, link: InterfaceName.of("pod1a2b3c4d5e6"), queues: 1 },
        },
      })),
    };
    const file = join(dir, "macvtap.json");
    await savePlan(file, macvtap, model);
    const backend = (await loadPlan(file)).plan.interfaces[0]?.guest.backend;
    assert.ok(backend?.kind === "macvtap" && backend.link instanceof InterfaceName);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith(".tmp")),
      [],
    );
  });

  test("a file without plan and model is refused", async () => {
    const file = join(dir, "bad.json");
    await savePlan(file, planned, model);
    const { writeFile } = await import("node:fs/promises");
    await writeFile(file, "{}");
    await assert.rejects(loadPlan(file), SyntaxError);
  });
});

describe("reviveInterfaceNames", () => {
  const cases = [
    { key: "tapName", value: "tap0", named: true },
    { key: "podInterface", value: "eth0", named: true },
    { key: "serverInterface", value: "k6t-eth0", named: true },
    { key: "name", value: "default", named: false },
    { key: "tapName", value: 3, named: false },
    { key: "link", value: "pod1a2b3c4d5e6", named: true },
    { key: "podInterface", value: "net1", holder: { kind: "sriov" }, named: false },
    { key: "podInterface", value: "net2", holder: { kind: "vdpa" }, named: false },
  ];
  for (const c of cases) {
    const where = c.holder === undefined ? "" : ` in a ${c.holder.kind} plan`;
    test(`${c.key}${where}: ${JSON.stringify(c.value)} ${c.named ? "becomes" : "stays as it is, not"} an InterfaceName`, () => {
      const v = reviveInterfaceNames.call(c.holder, c.key, c.value);
      assert.equal(v instanceof InterfaceName, c.named);
      if (!c.named) assert.equal(v, c.value);
    });
  }
});

describe("bootMarkers", () => {
  const cases = [
    {
      name: "masquerade on IPv4: ready, then the eth0 lease",
      plan: planned,
      want: [GUEST_READY_MARKER, "vmnet-guest: lease eth0 "],
    },
    {
      name: "no DHCP served: ready only",
      plan: handPlan(nic("a"), nic("b", { tap: "tap1" })),
      want: [GUEST_READY_MARKER],
    },
    {
      name: "a NIC with a PCI address: guest names cannot be predicted, ready only",
      plan: {
        ...planned,
        interfaces: planned.interfaces.map((i) => ({ ...i, guest: { ...i.guest, pciAddress: "0000:00:05.0" } })),
      },
      want: [GUEST_READY_MARKER],
    },
    {
      name: "a NIC that starts with its link down: no lease to wait for (the guest sees no carrier)",
      plan: {
        ...planned,
        interfaces: planned.interfaces.map((i) => ({ ...i, guest: { ...i.guest, linkState: "down" as const } })),
      },
      want: [GUEST_READY_MARKER],
    },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(bootMarkers(c.plan), c.want));
});
