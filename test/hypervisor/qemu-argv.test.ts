import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { NicModelUnavailableError, probeQemuDevices } from "../../src/hypervisor/nic-models.ts";
import type { QemuNetConfig, QemuNetOptions, QemuNic } from "../../src/hypervisor/qemu-argv.ts";
import {
  kubevirtSpareRootPorts,
  macvtapDevicePath,
  macvtapNic,
  passtNic,
  qemuNet,
  qemuNetArgs,
  qemuNetId,
  qemuNicOfInterface,
  qemuNicsOf,
  renderQemuNet,
  slirpNic,
} from "../../src/hypervisor/qemu-argv.ts";
import { queryDomainInterfaces } from "../../src/hypervisor/qmp.ts";
import { InterfaceName } from "../../src/plan/namescheme.ts";
import type { GuestBackend, InterfacePlan } from "../../src/plan/plan.ts";
import { kernelSkipReason, withNetns } from "../host/harness.ts";
import { nic, plan } from "./fixtures.ts";
import type { RunningQemu } from "./qemu-harness.ts";
import { qemuSkipReason, withQemu } from "./qemu-harness.ts";

const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), "golden");
const UPDATE = process.env.UPDATE_GOLDEN === "1";
const skip = qemuSkipReason();

interface ArgvCase {
  readonly name: string;
  readonly nics: readonly QemuNic[];
  readonly options: QemuNetOptions;
}

const qemuNetNics = (p: ReturnType<typeof plan>) => qemuNicsOf(p);
const fromPlan = (...ifaces: Parameters<typeof plan>) => qemuNetNics(plan(...ifaces));

const cases: ArgvCase[] = [
  { name: "masquerade-virtio-default", nics: fromPlan(nic("default")), options: { vcpus: 1 } },
  {
    name: "bridge-virtio-multiqueue-boot",
    nics: fromPlan(nic("default", { binding: "bridge", queues: 4, bootOrder: 1, mtu: 9000 })),
    options: { vcpus: 4 },
  },
  {
    name: "virtio-transitional",
    nics: fromPlan(nic("default", { transitional: true })),
    options: { vcpus: 1 },
  },
  {
    name: "models-emulated",
    nics: fromPlan(
      nic("e1000", { model: "e1000", mac: "02:00:00:00:01:01", tap: "tap1" }),
      nic("e1000e", { model: "e1000e", mac: "02:00:00:00:01:02", tap: "tap2" }),
      nic("rtl8139", { model: "rtl8139", mac: "02:00:00:00:01:03", tap: "tap3" }),
      nic("ne2k", { model: "ne2k_pci", mac: "02:00:00:00:01:04", tap: "tap4" }),
      nic("pcnet", { model: "pcnet", mac: "02:00:00:00:01:05", tap: "tap5", bootOrder: 2 }),
    ),
    options: { vcpus: 2 },
  },
  {
    name: "model-igb",
    nics: fromPlan(nic("default", { model: "igb" })),
    options: { vcpus: 1 },
  },
  {
    name: "pci-addresses-bridges-link-down",
    nics: fromPlan(
      nic("default", { pciAddress: "0000:00:03.0", bootOrder: 1, acpiIndex: 1 }),
      nic("blue", { binding: "bridge", pciAddress: "0000:05:00.0", mac: "02:00:00:00:00:02", tap: "tap1" }),
      nic("red", {
        binding: "bridge",
        model: "e1000",
        pciAddress: "0000:06:02.0",
        mac: "02:00:00:00:00:03",
        tap: "tap2",
      }),
      nic("red2", {
        binding: "bridge",
        pciAddress: "0000:06:02.1",
        mac: "02:00:00:00:00:04",
        tap: "tap3",
        linkState: "down",
      }),
      nic("auto", { binding: "bridge", mac: "02:00:00:00:00:05", tap: "tap4", linkState: "down" }),
    ),
    options: { vcpus: 1 },
  },
  {
    name: "spare-root-ports",
    nics: fromPlan(nic("default", { pciAddress: "0000:02:00.0" })),
    options: { vcpus: 1, spareRootPorts: kubevirtSpareRootPorts(1) },
  },
  {
    name: "pc-machine-bridge",
    nics: fromPlan(
      nic("default", { pciAddress: "0000:01:04.0" }),
      nic("blue", { mac: "02:00:00:00:00:02", tap: "tap1" }),
    ),
    options: { vcpus: 1, machine: "pc" },
  },
  {
    name: "slirp",
    nics: [
      slirpNic({
        name: "default",
        model: "virtio",
        mac: "02:00:00:00:00:09",
        dnsSearch: ["default.svc.cluster.local", "svc.cluster.local"],
        ports: [{ port: 80 }, { protocol: "TCP", port: 80 }, { protocol: "UDP", port: 53 }, { port: 22 }],
      }),
    ],
    options: { vcpus: 1 },
  },
  {
    name: "passt-stream",
    nics: [
      passtNic({
        name: "default",
        model: "virtio",
        mac: "02:00:00:00:00:0a",
        mtu: 65520,
        socketPath: "/run/vmnet/passt,1.sock",
      }),
    ],
    options: { vcpus: 1 },
  },
  {
    name: "macvtap-fds",
    nics: [
      macvtapNic({ name: "macvtap", model: "virtio", mac: "02:00:00:00:00:0b", mtu: 1500, fds: [3] }),
      macvtapNic({
        name: "mq",
        model: "virtio",
        mac: "02:00:00:00:00:0c",
        fds: [4, 5],
        vhostFds: [6, 7],
        bootOrder: 3,
      }),
    ],
    options: { vcpus: 2 },
  },
];

function goldenText(c: QemuNetConfig): string {
  const argv = c.argv.map((a) => (a.startsWith("-") ? a : `  ${a}`)).join("\n");
  const post = c.postStart.map((a) => `# post-start: ${JSON.stringify(a)}`).join("\n");
  return `${argv}\n${post === "" ? "" : `${post}\n`}`;
}

/** The argv with every tap netdev swapped for a user netdev of the same id (no tap exists in these tests). */
function withUserNetdevs(argv: readonly string[]): string[] {
  return argv.map((a) => (a.startsWith("tap,") ? `user,${/id=[^,]+/u.exec(a)?.[0] ?? ""}` : a));
}

async function qom(q: RunningQemu, id: string, property: string): Promise<unknown> {
  return q.qmp.execute("qom-get", { path: `/machine/peripheral/${id}`, property });
}

/** Checks each NIC device QEMU made against the rendered properties. */
async function checkDevices(q: RunningQemu, c: QemuNetConfig): Promise<void> {
  for (const n of c.nics) {
    const d = n.device;
    if (d.mac !== undefined) assert.equal(await qom(q, n.id, "mac"), d.mac, `${n.id} mac`);
    if (d.bootindex !== undefined) assert.equal(await qom(q, n.id, "bootindex"), d.bootindex, `${n.id} bootindex`);
    if (d.romfile !== undefined) assert.equal(await qom(q, n.id, "romfile"), "", `${n.id} romfile`);
    if (d.vectors !== undefined) assert.equal(await qom(q, n.id, "vectors"), d.vectors, `${n.id} vectors`);
    if (d.mq !== undefined) assert.equal(await qom(q, n.id, "mq"), true, `${n.id} mq`);
    if (d.host_mtu !== undefined) assert.equal(await qom(q, n.id, "host_mtu"), d.host_mtu, `${n.id} host_mtu`);
    if (d["acpi-index"] !== undefined) assert.equal(await qom(q, n.id, "acpi-index"), d["acpi-index"]);
    if (typeof d.addr === "string") {
      const [slot = "", fn = ""] = d.addr.split(".");
      const devfn = (Number.parseInt(slot, 16) << 3) | Number.parseInt(fn, 16);
      assert.equal(await qom(q, n.id, "addr"), devfn, `${n.id} addr`);
    }
    if (typeof d.bus === "string") {
      assert.match(
        String(await qom(q, n.id, "parent_bus")),
        new RegExp(`/${d.bus.replace(".", "\\.")}$`),
        `${n.id} bus`,
      );
    }
  }
  const pci = await q.qmp.queryPci();
  for (const c0 of c.controllers) {
    const [slot = ""] = String(c0.addr).split(".");
    assert.ok(
      pci.some((p) => p.qdevId === c0.id && p.slot === Number.parseInt(slot, 16)),
      `${String(c0.id)} on root bus`,
    );
  }
}

describe("qemuNet argv (golden files in test/hypervisor/golden; UPDATE_GOLDEN=1 rewrites them)", () => {
  for (const c of cases) {
    it(`renderQemuNet matches ${c.name}.argv`, () => {
      const text = goldenText(renderQemuNet(c.nics, c.options));
      const file = join(GOLDEN, `${c.name}.argv`);
      if (UPDATE) {
        mkdirSync(GOLDEN, { recursive: true });
        writeFileSync(file, text);
      }
      assert.equal(text, readFileSync(file, "utf8"));
    });
  }

  it("qemuNetArgs equals qemuNet's argv and names devices net-<iface>", () => {
    const p = plan(nic("default"), nic("blue.1", { tap: "tap1", mac: "02:00:00:00:00:02" }));
    assert.deepEqual(qemuNetArgs(p, { vcpus: 1 }), qemuNet(p, { vcpus: 1 }).argv);
    assert.equal(qemuNetId("blue.1"), "net-blue.1");
    assert.equal(qemuNetId("a b/c"), "net-a_b_c");
  });

  it("qemuNet puts addressed devices before automatic ones", () => {
    const argv = qemuNetArgs(plan(nic("auto"), nic("fixed", { pciAddress: "0000:00:02.0", tap: "tap1" })), {
      vcpus: 1,
    });
    const devices = argv.filter((a) => a.includes("netdev="));
    assert.match(devices[0] ?? "", /id=net-fixed/u);
    assert.match(devices[1] ?? "", /id=net-auto/u);
  });

  const spare: [number, number][] = [
    [0, 0],
    [1, 3],
    [3, 1],
    [4, 0],
    [6, 0],
  ];
  for (const [count, want] of spare) {
    it(`kubevirtSpareRootPorts(${count}) is ${want}`, () => assert.equal(kubevirtSpareRootPorts(count), want));
  }

  it("renderQemuNet honours options.bus for NICs without an address", () => {
    const argv = qemuNetArgs(plan(nic("default")), { vcpus: 1, bus: "hotplug.1" });
    assert.ok(argv.some((a) => a.includes(",bus=hotplug.1,")));
  });

  const errors: { name: string; run: () => unknown; error: RegExp | (new (...a: never[]) => Error) }[] = [
    {
      name: "domain not 0000",
      run: () => qemuNetArgs(plan(nic("a", { pciAddress: "0001:00:02.0" })), { vcpus: 1 }),
      error: /domain must be 0000/u,
    },
    {
      name: "malformed address",
      run: () => qemuNetArgs(plan(nic("a", { pciAddress: "00:02.0" })), { vcpus: 1 }),
      error: SyntaxError,
    },
    {
      name: "slot above 0x1f",
      run: () => qemuNetArgs(plan(nic("a", { pciAddress: "0000:00:20.0" })), { vcpus: 1 }),
      error: /above 0x1f/u,
    },
    {
      name: "address taken twice",
      run: () =>
        qemuNetArgs(
          plan(nic("a", { pciAddress: "0000:00:02.0" }), nic("b", { pciAddress: "0000:00:02.0", tap: "tap1" })),
          {
            vcpus: 1,
          },
        ),
      error: /it is taken/u,
    },
    {
      name: "queues above vCPUs",
      run: () => qemuNetArgs(plan(nic("a", { queues: 4 })), { vcpus: 2 }),
      error: /only 2 vCPUs/u,
    },
    {
      name: "queues above 256",
      run: () => qemuNetArgs(plan(nic("a", { queues: 257 })), { vcpus: 512 }),
      error: RangeError,
    },
    {
      name: "queues on e1000",
      run: () => qemuNetArgs(plan(nic("a", { model: "e1000", queues: 2 })), { vcpus: 2 }),
      error: /has one queue/u,
    },
    {
      name: "uppercase MAC",
      run: () => qemuNetArgs(plan(nic("a", { mac: "02:00:00:00:00:AA" })), { vcpus: 1 }),
      error: SyntaxError,
    },
    {
      name: "duplicate id after sanitising",
      run: () => qemuNetArgs(plan(nic("a/b"), nic("a_b", { tap: "tap1" })), { vcpus: 1 }),
      error: /another NIC has it/u,
    },
    {
      name: "igb on a QEMU without it",
      run: () => qemuNetArgs(plan(nic("a", { model: "igb" })), { vcpus: 1, available: new Set(["e1000"]) }),
      error: NicModelUnavailableError,
    },
    {
      name: "spare root ports on pc",
      run: () => qemuNetArgs(plan(nic("a")), { vcpus: 1, machine: "pc", spareRootPorts: 1 }),
      error: /only q35/u,
    },
    {
      name: "an SR-IOV interface (a hostdev, not a tap)",
      run: () => qemuNetArgs(plan({ ...nic("vf"), binding: "sriov" }), { vcpus: 1 }),
      error: /binding "sriov"/u,
    },
    { name: "macvtap without fds", run: () => macvtapNic({ name: "m", model: "virtio", fds: [] }), error: RangeError },
    {
      name: "slirp port with an unknown protocol",
      run: () => slirpNic({ name: "s", model: "e1000", ports: [{ protocol: "SCTP", port: 1 }] }),
      error: TypeError,
    },
  ];
  for (const e of errors) it(`qemuNet rejects ${e.name}`, () => assert.throws(e.run, e.error));

  describe("qemuNicOfInterface dispatches on the planned guest backend", () => {
    const withBackend = (binding: InterfacePlan["binding"], backend: GuestBackend) => {
      const i = nic("x", { model: binding === "slirp" ? "e1000" : "virtio" });
      return { ...i, binding, guest: { ...i.guest, backend } };
    };
    const cases = [
      {
        name: "no backend: the planned tap by name",
        iface: nic("x", { tap: "tap7" }),
        want: { kind: "tap", ifname: "tap7" },
      },
      {
        name: "passt: its unix socket",
        iface: withBackend("passt", { kind: "stream", socketPath: "/run/vmnet/p/x.socket" }),
        want: { kind: "stream", socketPath: "/run/vmnet/p/x.socket" },
      },
      {
        name: "slirp: QEMU's user stack with the planned forwards",
        iface: withBackend("slirp", {
          kind: "user",
          net: "10.0.2.0/24",
          dnsSearch: ["svc.cluster.local"],
          hostForwards: [{ protocol: "tcp", port: 80 }],
        }),
        want: {
          kind: "user",
          net: "10.0.2.0/24",
          dnsSearch: ["svc.cluster.local"],
          hostForwards: [{ protocol: "tcp", port: 80 }],
        },
      },
      {
        name: "macvtap: the fds given for it",
        iface: withBackend("macvtap", { kind: "macvtap", link: InterfaceName.of("pod1a2b3c4d5e6"), queues: 2 }),
        fds: [3, 4],
        want: { kind: "fd", fds: [3, 4] },
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const got = qemuNicOfInterface(c.iface, c.fds === undefined ? {} : { fds: c.fds });
        assert.deepEqual(got.backend, c.want);
        assert.equal(got.mac, c.iface.guest.mac);
        assert.equal(got.linkState, c.iface.guest.linkState);
      });
    }
    it("a macvtap with fewer fds than queues is refused", () => {
      const iface = withBackend("macvtap", { kind: "macvtap", link: InterfaceName.of("pod1a2b3c4d5e6"), queues: 2 });
      assert.throws(() => qemuNicOfInterface(iface, { fds: [3] }), /2 fds needed, 1 given/u);
      assert.throws(() => qemuNicOfInterface(iface), /2 fds needed, 0 given/u);
    });
  });

  it("slirpNic forces e1000 unless e1000 or rtl8139", () => {
    assert.equal(slirpNic({ name: "s", model: "virtio", ports: [] }).model, "e1000");
    assert.equal(slirpNic({ name: "s", model: "rtl8139", ports: [] }).model, "rtl8139");
  });
});

describe("qemuNet argv against a real QEMU", { skip }, () => {
  for (const c of cases) {
    if (c.name === "macvtap-fds" || c.name === "model-igb" || c.name === "passt-stream") continue;
    // Slirp's hostfwd listens on the host: that case runs in a namespace of its own, or not at all.
    const hostPorts = c.name === "slirp";
    it(`QEMU accepts ${c.name} and builds the devices as rendered`, {
      skip: hostPorts && kernelSkipReason(),
    }, async () => {
      const config = renderQemuNet(c.nics, c.options);
      const run = (netns?: string) =>
        withQemu(
          withUserNetdevs(config.argv),
          async (q) => {
            for (const a of config.postStart) await q.qmp.execute(a.execute, a.arguments);
            await checkDevices(q, config);
          },
          { machine: c.options.machine ?? "q35", smp: c.options.vcpus, ...(netns === undefined ? {} : { netns }) },
        );
      if (hostPorts) await withNetns(1, ([ns]) => run(ns));
      else await run();
    });
  }

  it("igb is rendered only where this QEMU has it, and that QEMU then accepts it", async () => {
    const available = await probeQemuDevices();
    const p = plan(nic("default", { model: "igb" }));
    if (!available.has("igb")) {
      assert.throws(() => qemuNet(p, { vcpus: 1, available }), NicModelUnavailableError);
      return;
    }
    const config = qemuNet(p, { vcpus: 1, available });
    await withQemu(withUserNetdevs(config.argv), (q) => checkDevices(q, config));
  });

  it("QEMU connects the passt stream netdev to its unix socket", async () => {
    const c = cases.find((x) => x.name === "passt-stream");
    assert.ok(c);
    const dir = await import("node:fs/promises").then((fs) => fs.mkdtemp("/tmp/vmnt-passt-"));
    const path = join(dir, "passt.sock");
    let connected = false;
    const server = createServer((s) => {
      connected = true;
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(path, r));
    try {
      const config = renderQemuNet(
        [{ ...(c.nics[0] as QemuNic), backend: { kind: "stream", socketPath: path } }],
        c.options,
      );
      await withQemu(config.argv, async (q) => {
        await checkDevices(q, config);
        for (let i = 0; i < 50 && !connected; i++) await new Promise((r) => setTimeout(r, 100));
        assert.ok(connected, "QEMU connected to the passt socket");
      });
    } finally {
      server.close();
      await import("node:fs/promises").then((fs) => fs.rm(dir, { recursive: true, force: true }));
    }
  });
});

describe("qemuNet argv with real taps in a namespace", { skip: skip ?? kernelSkipReason() }, () => {
  it("QEMU opens a multiqueue tap with the planned queue count and a single-queue tap with one", async () => {
    await withNetns(1, async ([ns = ""]) => {
      const ip = (...args: string[]) => {
        const r = spawnSync("ip", ["-n", ns, ...args], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
      };
      ip("tuntap", "add", "dev", "tap0", "mode", "tap", "multi_queue");
      ip("tuntap", "add", "dev", "tap1", "mode", "tap");
      const config = qemuNet(
        plan(
          nic("default", { queues: 3, bootOrder: 1, pciAddress: "0000:00:04.0" }),
          nic("blue", { binding: "bridge", tap: "tap1", mac: "02:00:00:00:00:02", linkState: "down" }),
        ),
        { vcpus: 3 },
      );
      await withQemu(
        config.argv,
        async (q) => {
          for (const a of config.postStart) await q.qmp.execute(a.execute, a.arguments);
          await checkDevices(q, config);
          const info = String(await q.qmp.execute("human-monitor-command", { "command-line": "info network" }));
          const backends = (id: string) =>
            info.split("\n").filter((l) => l.includes(`${id}: index=`) && l.includes("type=tap"));
          assert.equal(backends("net-default").length, 3, info);
          assert.equal(backends("net-blue").length, 1, info);
          assert.match(info, /ifname=tap0/u);
          const ifaces = config.nics.map((n) => n.id.slice("net-".length));
          assert.deepEqual(
            await queryDomainInterfaces(q.qmp, [
              ...qemuNetNics(
                plan(
                  nic("default", { queues: 3 }),
                  nic("blue", { tap: "tap1", mac: "02:00:00:00:00:02", linkState: "down" }),
                ),
              ),
            ]),
            [
              { name: ifaces[0], mac: "02:00:00:00:00:01", queueCount: 3, linkState: "up" },
              { name: ifaces[1], mac: "02:00:00:00:00:02", queueCount: 1, linkState: "down" },
            ],
          );
        },
        { netns: ns, smp: 3 },
      );
    });
  });
});

describe("qemuNet argv with a real macvtap", { skip: skip ?? kernelSkipReason() }, () => {
  it("QEMU takes a macvtap's /dev/tap<ifindex> as an inherited fd", async () => {
    await withNetns(1, async ([ns = ""]) => {
      const ip = (...args: string[]) => {
        const r = spawnSync("ip", ["-n", ns, ...args], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
      };
      // A high fixed ifindex keeps /dev/tap<ifindex> (devtmpfs is shared by all namespaces) clear of other tests'.
      const ifindex = 4000 + Math.floor(Math.random() * 900);
      ip("link", "add", "vmntp", "type", "veth", "peer", "name", "vmntq");
      ip(
        "link",
        "add",
        "link",
        "vmntp",
        "name",
        "mvt0",
        "index",
        String(ifindex),
        "address",
        "02:00:00:00:42:42",
        "type",
        "macvtap",
        "mode",
        "bridge",
      );
      ip("link", "set", "mvt0", "up");
      const fd = openSync(macvtapDevicePath(ifindex), "r+");
      try {
        const config = renderQemuNet(
          [macvtapNic({ name: "macvtap", model: "virtio", mac: "02:00:00:00:42:42", mtu: 1500, fds: [3] })],
          {
            vcpus: 1,
          },
        );
        await withQemu(
          config.argv,
          async (q) => {
            await checkDevices(q, config);
            const info = String(await q.qmp.execute("human-monitor-command", { "command-line": "info network" }));
            assert.match(info, /net-macvtap: index=0,type=tap,fd=3/u);
          },
          { fds: [fd] },
        );
      } finally {
        closeSync(fd);
      }
    });
  });
});
