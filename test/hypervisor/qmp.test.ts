import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import type { Server, Socket } from "node:net";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { QemuNic } from "../../src/hypervisor/qemu-argv.ts";
import { kubevirtSpareRootPorts, renderQemuNet } from "../../src/hypervisor/qemu-argv.ts";
import {
  flattenPci,
  hotplugNic,
  QmpClient,
  QmpError,
  QmpErrorCode,
  queryDomainInterfaces,
  setNicLink,
  toQmpArguments,
  unplugNic,
} from "../../src/hypervisor/qmp.ts";
import { nic } from "./fixtures.ts";
import { qemuSkipReason, withQemu } from "./qemu-harness.ts";

type Reply = (cmd: { execute: string; arguments?: Record<string, unknown>; id?: string }, s: Socket) => void;

/** A fake QMP server: greeting, then `reply` decides what each command gets. */
async function withFakeQmp<T>(reply: Reply, fn: (path: string, seen: unknown[]) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "vmnt-qmp-"));
  const path = join(dir, "qmp.sock");
  const seen: unknown[] = [];
  const server: Server = createServer((s) => {
    s.write(
      `${JSON.stringify({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 22 }, package: "" }, capabilities: [] } })}\r\n`,
    );
    let buf = "";
    s.setEncoding("utf8");
    s.on("data", (d: string) => {
      buf += d;
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const cmd = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        seen.push(cmd);
        if (cmd.execute === "qmp_capabilities") s.write(`${JSON.stringify({ return: {}, id: cmd.id })}\r\n`);
        else reply(cmd, s);
      }
    });
  });
  await new Promise<void>((r) => server.listen(path, r));
  try {
    return await fn(path, seen);
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const send = (s: Socket, m: unknown) => s.write(`${JSON.stringify(m)}\r\n`);

describe("QmpClient against a fake monitor", () => {
  it("QmpClient.connect negotiates capabilities and reads the version", async () => {
    await withFakeQmp(
      () => undefined,
      async (path, seen) => {
        const c = await QmpClient.connect(path);
        assert.deepEqual(c.version, { major: 7, minor: 2, micro: 22 });
        assert.equal((seen[0] as { execute: string }).execute, "qmp_capabilities");
        c.close();
      },
    );
  });

  it("QmpClient.execute correlates answers by id, even out of order, and passes events", async () => {
    let held: { id?: string } | undefined;
    await withFakeQmp(
      (cmd, s) => {
        if (cmd.execute === "slow") {
          held = cmd;
          return;
        }
        send(s, { event: "NIC_RX_FILTER_CHANGED", data: { name: "net0" }, timestamp: { seconds: 1, microseconds: 2 } });
        send(s, { return: { answered: cmd.execute }, id: cmd.id });
        if (held) send(s, { return: "slow done", id: held.id });
      },
      async (path) => {
        const c = await QmpClient.connect(path);
        const events: string[] = [];
        c.onEvent((e) => events.push(`${e.event}:${String(e.data.name)}`));
        const slow = c.execute("slow");
        const fast = await c.execute("fast");
        assert.deepEqual(fast, { answered: "fast" });
        assert.equal(await slow, "slow done");
        assert.deepEqual(events, ["NIC_RX_FILTER_CHANGED:net0"]);
        c.close();
      },
    );
  });

  it("QmpClient.execute rejects with QmpError carrying class and desc", async () => {
    await withFakeQmp(
      (cmd, s) => send(s, { error: { class: "DeviceNotFound", desc: "Device 'x' not found" }, id: cmd.id }),
      async (path) => {
        const c = await QmpClient.connect(path);
        await assert.rejects(c.setLink("x", false), (e: unknown) => {
          assert.ok(e instanceof QmpError);
          assert.equal(e.code, QmpErrorCode.CommandFailed);
          assert.equal(e.errorClass, "DeviceNotFound");
          assert.equal(e.desc, "Device 'x' not found");
          assert.equal(e.command, "set_link");
          assert.equal(e.retryable, false);
          return true;
        });
        c.close();
      },
    );
  });

  it("QmpClient.execute times out and ignores the late answer", async () => {
    const late: Socket[] = [];
    await withFakeQmp(
      (cmd, s) => {
        if (cmd.execute === "query-status") setTimeout(() => send(s, { return: {}, id: cmd.id }), 100);
        else send(s, { return: { running: false, status: "prelaunch" }, id: cmd.id });
        late.push(s);
      },
      async (path) => {
        const c = await QmpClient.connect(path, { commandTimeoutMs: 30 });
        await assert.rejects(c.queryStatus(), (e: unknown) => e instanceof QmpError && e.code === QmpErrorCode.Timeout);
        await new Promise((r) => setTimeout(r, 150));
        assert.deepEqual(await c.execute("other"), { running: false, status: "prelaunch" });
        c.close();
      },
    );
  });

  it("QmpClient rejects pending commands with closed when the monitor goes away", async () => {
    await withFakeQmp(
      (_cmd, s) => s.destroy(),
      async (path) => {
        const c = await QmpClient.connect(path);
        await assert.rejects(
          c.execute("query-pci"),
          (e: unknown) => e instanceof QmpError && e.code === QmpErrorCode.Closed,
        );
        await assert.rejects(
          c.execute("query-pci"),
          (e: unknown) => e instanceof QmpError && e.code === QmpErrorCode.Closed,
        );
      },
    );
  });

  it("QmpClient.connect fails with closed when no socket appears", async () => {
    await assert.rejects(
      QmpClient.connect("/nonexistent/vmnt-qmp.sock", { connectTimeoutMs: 100 }),
      (e: unknown) => e instanceof QmpError && e.code === QmpErrorCode.Closed,
    );
  });

  it("hotplugNic sends netdev_add then device_add from the plan's NIC, and removes the netdev when device_add fails", async () => {
    await withFakeQmp(
      (cmd, s) => {
        if (cmd.execute === "device_add")
          send(s, { error: { class: "GenericError", desc: "Bus 'pci.4' not found" }, id: cmd.id });
        else send(s, { return: {}, id: cmd.id });
      },
      async (path, seen) => {
        const c = await QmpClient.connect(path);
        const iface = nic("blue", {
          binding: "bridge",
          mac: "02:00:00:00:00:02",
          tap: "tap16477688c0e",
          pciAddress: "0000:04:00.0",
        });
        await assert.rejects(hotplugNic(c, iface, { vcpus: 1 }), QmpError);
        assert.deepEqual(seen.slice(1), [
          {
            execute: "netdev_add",
            arguments: {
              type: "tap",
              id: "net-blue",
              ifname: "tap16477688c0e",
              script: "no",
              downscript: "no",
              vhost: false,
            },
            id: "vmnet-2",
          },
          {
            execute: "device_add",
            arguments: {
              driver: "virtio-net-pci-non-transitional",
              netdev: "net-blue",
              id: "net-blue",
              mac: "02:00:00:00:00:02",
              host_mtu: 1450,
              bus: "pci.4",
              addr: "00.0",
              romfile: "",
            },
            id: "vmnet-3",
          },
          { execute: "netdev_del", arguments: { id: "net-blue" }, id: "vmnet-4" },
        ]);
        c.close();
      },
    );
  });

  it("toQmpArguments nests dotted keys and types string lists", () => {
    assert.deepEqual(
      toQmpArguments({
        type: "stream",
        id: "n",
        server: false,
        "addr.type": "unix",
        "addr.path": "/p",
        hostfwd: ["tcp::1-:1"],
      }),
      { type: "stream", id: "n", server: false, addr: { type: "unix", path: "/p" }, hostfwd: [{ str: "tcp::1-:1" }] },
    );
  });
});

const hot: QemuNic = {
  name: "hot",
  model: "virtio",
  mac: "02:00:00:00:00:33",
  mtu: 1400,
  linkState: "down",
  pciAddress: "0000:03:00.0",
  backend: { kind: "user", dnsSearch: [], hostForwards: [] },
};

describe("QmpClient against a real QEMU", { skip: qemuSkipReason() }, () => {
  it("setLink works on a NIC from the argv and fails with the QMP error for an unknown one", async () => {
    const config = renderQemuNet(
      [
        {
          name: "default",
          model: "virtio",
          mac: "02:00:00:00:00:01",
          linkState: "down",
          backend: { kind: "user", dnsSearch: [], hostForwards: [] },
        },
      ],
      { vcpus: 1 },
    );
    await withQemu(config.argv, async ({ qmp }) => {
      assert.deepEqual(await qmp.queryStatus(), { running: false, status: "prelaunch" });
      assert.equal(qmp.version?.major !== undefined && qmp.version.major >= 7, true);
      for (const a of config.postStart) await qmp.execute(a.execute, a.arguments);
      await qmp.setLink("net-default", true);
      await assert.rejects(qmp.setLink("net-nope", false), (e: unknown) => {
        assert.ok(e instanceof QmpError);
        assert.equal(e.code, QmpErrorCode.CommandFailed);
        assert.ok(e.errorClass !== undefined && e.errorClass !== "");
        assert.match(e.desc ?? "", /net-nope/u);
        return true;
      });
    });
  });

  it("hotplugNic puts a virtio-net on a pcie-root-port that query-pci sees, and unplugNic removes it", async () => {
    // Native PCIe hotplug (not ACPI) so the unplug completes without a guest OS acknowledging it; SeaBIOS runs first
    // to number the root port's secondary bus, without which query-pci cannot see behind the port.
    const config = renderQemuNet([], { vcpus: 1, spareRootPorts: kubevirtSpareRootPorts(1) });
    assert.deepEqual(config.hotplugBuses, ["pci.1", "pci.2", "pci.3"]);
    await withQemu(
      config.argv,
      async ({ qmp }) => {
        await qmp.execute("cont");
        assert.equal((await qmp.queryStatus()).running, true);
        await new Promise((r) => setTimeout(r, 1500));
        await hotplugNic(qmp, hot, { vcpus: 1 });
        const auto: QemuNic = { ...hot, name: "auto", mac: "02:00:00:00:00:34", linkState: "up" };
        delete (auto as { pciAddress?: string }).pciAddress;
        await hotplugNic(qmp, auto, { vcpus: 1, bus: config.hotplugBuses[0] ?? "" });
        const all = flattenPci(await qmp.queryPci());
        const plugged = all.find((d) => d.qdevId === "net-hot");
        assert.ok(plugged, "query-pci lists net-hot");
        assert.equal(plugged.slot, 0);
        assert.equal(plugged.vendorId, 0x1af4);
        assert.equal(plugged.deviceId, 0x1041);
        assert.ok(
          all.some((d) => d.qdevId === "net-auto"),
          "query-pci lists net-auto",
        );
        assert.equal(await qmp.execute("qom-get", { path: "/machine/peripheral/net-hot", property: "mac" }), hot.mac);
        assert.equal(
          await qmp.execute("qom-get", { path: "/machine/peripheral/net-auto", property: "parent_bus" }),
          "/machine/peripheral/pci.1/pci.1",
        );
        assert.deepEqual(await queryDomainInterfaces(qmp, [hot, auto, { ...auto, name: "never-plugged" }]), [
          { name: "hot", mac: "02:00:00:00:00:33", queueCount: 1, linkState: "down" },
          { name: "auto", mac: "02:00:00:00:00:34", queueCount: 1, linkState: "up" },
        ]);
        await setNicLink(qmp, hot, true);
        await unplugNic(qmp, hot, { timeoutMs: 10_000 });
        await unplugNic(qmp, auto, { timeoutMs: 10_000 });
        const left = flattenPci(await qmp.queryPci());
        assert.equal(
          left.find((d) => d.qdevId === "net-hot" || d.qdevId === "net-auto"),
          undefined,
        );
        await assert.rejects(qmp.netdevDel("net-hot"), QmpError);
      },
      { preArgs: ["-global", "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off"] },
    );
  });
});
