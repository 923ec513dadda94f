/**
 * The seeds' single-host VM scenarios with real guests under QEMU TCG, through the real CLI: every VM spec of
 * examples/vm-e2e/scenarios is booted at once in one lab (one `vmnet up` each, concurrently), then each is checked
 * through what the guest sees (`vmnet exec`), what `vmnet status` reports and what the lab's client pod reaches. The
 * lab lives in its own state directory so this file runs next to the other VM tests; `after` destroys it whatever
 * happened and checks that no namespace or process is left and the root namespace is unchanged.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Run } from "../cli/run.ts";
import { rootSnapshot, TestLab, vmTestSkipReason } from "../support/vm-lab.ts";

const lab = new TestLab("vmnt-e2e-");

/** The VMs this file boots: name, spec and the NADs its `vmnet up` needs. */
const VMS = [
  { name: "e2e-masq", file: "masq-ports.yaml", nads: [] },
  { name: "e2e-e1000", file: "e1000.yaml", nads: [] },
  { name: "e2e-mq", file: "multiqueue.yaml", nads: [] },
  { name: "e2e-nonet", file: "no-network.yaml", nads: [] },
  { name: "e2e-dhcp", file: "dhcp-options.yaml", nads: [] },
  { name: "e2e-spoof", file: "macspoofchk.yaml", nads: ["nad-spoof.yaml"] },
  { name: "e2e-mdef", file: "multus-default.yaml", nads: ["nad-bridge-test.yaml"] },
  { name: "e2e-mtu-virtio", file: "mtu-virtio.yaml", nads: ["nad-mtu-ip.yaml", "nad-mtu-noip.yaml"] },
  { name: "e2e-mtu-e1000", file: "mtu-e1000.yaml", nads: ["nad-mtu-ip.yaml", "nad-mtu-noip.yaml"] },
] as const;

const skip = vmTestSkipReason();

describe("the seeds' VM scenarios with real guests", { skip, timeout: 600_000 }, () => {
  const ups = new Map<string, Run>();
  const root = skip === undefined ? rootSnapshot() : undefined;

  before(async () => {
    // The lab first, so that the concurrent ups all find it.
    await lab.ok("lab", "create");
    await Promise.all(
      VMS.map(async (vm) => {
        const nads = vm.nads.flatMap((n) => ["--nad", `examples/vm-e2e/scenarios/${n}`]);
        ups.set(
          vm.name,
          await lab.vmnet("up", "-f", `examples/vm-e2e/scenarios/${vm.file}`, ...nads, "--accel", "tcg"),
        );
      }),
    );
  });

  after(() => lab.destroy({ root }));

  /** The pod IP `vmnet up NAME` printed; fails the test if that up failed. */
  const podIP = (name: string): string => {
    const r = ups.get(name);
    assert.equal(r?.code, 0, `vmnet up ${name}: ${r?.stdout}${r?.stderr}`);
    const m = /is running in pod "[^"]+" \(([^,)]+)/.exec(r?.stdout ?? "");
    assert.ok(m?.[1] !== undefined, `vmnet up ${name} names the pod IP: ${r?.stdout}`);
    return m[1];
  };

  test("every vmnet up boots its guest", () => {
    for (const vm of VMS) {
      const r = ups.get(vm.name);
      assert.equal(r?.code, 0, `${vm.name}: ${r?.stdout}${r?.stderr}`);
      assert.match(r?.stdout ?? "", /^guest: ready$/m, vm.name);
    }
  });

  test("masquerade: the forwarded port answers, the unforwarded one is closed though the guest listens", async () => {
    const ip = podIP("e2e-masq");
    const page = await lab.ok("lab", "exec", "client", "--", "wget", "-qO-", "-T", "10", `http://${ip}/`);
    assert.match(page, /^hostname e2e-masq$/m);
    assert.match(page, /^address eth0 10\.0\.2\.2\/24$/m);
    // The guest's echo on port 7 works from inside the guest ...
    assert.equal(await lab.guest("e2e-masq", "echo inside | nc -w 3 127.0.0.1 7"), "inside\n");
    // ... but the pod does not forward it.
    const echo = await lab.vmnet("lab", "exec", "client", "--", "sh", "-c", `echo hi | busybox nc -w 3 ${ip} 7`);
    assert.notEqual(echo.code, 0, `port 7 is not forwarded: ${echo.stdout}${echo.stderr}`);
    assert.doesNotMatch(echo.stdout, /hi/);
    const lease = await lab.guest("e2e-masq", "cat /run/vmnet/eth0.dhcp4");
    assert.match(lease, /^router=10\.0\.2\.1$/m);
    const mac = (await lab.guest("e2e-masq", "cat /sys/class/net/eth0/address")).trim();
    assert.deepEqual(await lab.status("e2e-masq"), [
      {
        ipAddress: ip,
        mac,
        name: "default",
        ipAddresses: [ip],
        podInterfaceName: "eth0",
        interfaceName: "eth0",
        infoSource: "domain, guest-agent",
        queueCount: 1,
        linkState: "up",
      },
    ]);
  });

  test("masquerade: the link goes down and up again while the guest runs, and status follows", async () => {
    podIP("e2e-masq");
    await lab.ok("link", "e2e-masq", "default", "down");
    assert.equal((await lab.guest("e2e-masq", "cat /sys/class/net/eth0/carrier")).trim(), "0");
    assert.equal((await lab.status("e2e-masq"))[0]?.linkState, "down");
    await lab.ok("link", "e2e-masq", "default", "up");
    assert.equal((await lab.guest("e2e-masq", "cat /sys/class/net/eth0/carrier")).trim(), "1");
    assert.equal((await lab.status("e2e-masq"))[0]?.linkState, "up");
    const page = await lab.ok(
      "lab",
      "exec",
      "client",
      "--",
      "wget",
      "-qO-",
      "-T",
      "10",
      `http://${podIP("e2e-masq")}/`,
    );
    assert.match(page, /^hostname e2e-masq$/m);
  });

  test("e1000: the guest drives the NIC with e1000 and is reached through masquerade", async () => {
    const ip = podIP("e2e-e1000");
    const driver = await lab.guest("e2e-e1000", "basename $(readlink /sys/class/net/eth0/device/driver)");
    assert.equal(driver.trim(), "e1000");
    const page = await lab.ok("lab", "exec", "client", "--", "wget", "-qO-", "-T", "10", `http://${ip}/`);
    assert.match(page, /^hostname e2e-e1000$/m);
    const [iface] = await lab.status("e2e-e1000");
    assert.equal(iface?.ipAddress, ip);
    assert.equal(iface?.interfaceName, "eth0");
    assert.equal(iface?.queueCount, 1);
  });

  test("multiqueue: two vCPUs give the bridged virtio NIC two queue pairs, and status says queueCount 2", async () => {
    const ip = podIP("e2e-mq");
    const queues = await lab.guest("e2e-mq", "ls /sys/class/net/eth0/queues");
    assert.deepEqual(queues.trim().split(/\s+/).sort(), ["rx-0", "rx-1", "tx-0", "tx-1"]);
    const [iface] = await lab.status("e2e-mq");
    assert.equal(iface?.queueCount, 2);
    assert.equal(iface?.ipAddress, ip);
    // Bridge binding: the guest holds the pod IP itself.
    const page = await lab.ok("lab", "exec", "client", "--", "wget", "-qO-", "-T", "10", `http://${ip}/`);
    assert.match(page, new RegExp(`^address eth0 ${ip.replaceAll(".", "\\.")}/24$`, "m"));
  });

  test("autoattachPodInterface false: the guest has no NIC and status no interface", async () => {
    assert.equal(ups.get("e2e-nonet")?.code, 0, ups.get("e2e-nonet")?.stderr);
    assert.equal((await lab.guest("e2e-nonet", "ls /sys/class/net")).trim(), "lo");
    assert.deepEqual(await lab.status("e2e-nonet"), []);
  });

  test("dhcpOptions: the guest's DHCPv4 offer carries boot file, TFTP server, NTP servers and option 240", async () => {
    const ip = podIP("e2e-dhcp");
    // udhcpc hands every option it got to its script as variables; this script only prints them.
    const env = await lab.guest(
      "e2e-dhcp",
      "printf '#!/bin/sh\\nenv\\n' > /tmp/print.sh && chmod +x /tmp/print.sh && " +
        "udhcpc -i eth0 -n -q -f -t 5 -s /tmp/print.sh -O ntpsrv -O tftp -O bootfile -O 240 2>/dev/null",
    );
    assert.match(env, new RegExp(`^ip=${ip.replaceAll(".", "\\.")}$`, "m"));
    assert.match(env, /^boot_file=default_image\.bin$/m);
    assert.match(env, /^tftp=tftp\.example\.com$/m);
    assert.match(env, /^ntpsrv=10\.0\.0\.10 10\.0\.0\.11$/m);
    assert.match(env, new RegExp(`^opt240=${Buffer.from("extra.options.kubevirt.io").toString("hex")}$`, "m"));
  });

  test("bootOrder: QEMU gives the NIC bootindex 1", () => {
    podIP("e2e-dhcp");
    const pid = readFileSync(join(lab.state, "vms", "e2e-dhcp", "qemu.pid"), "utf8").trim();
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    const nic = argv.find((a) => a.includes("netdev=") && a.includes("mac="));
    assert.match(nic ?? "", /,bootindex=1(,|$)/, `the NIC's -device: ${nic}`);
  });

  test("macspoofchk NAD: the secondary NIC reaches the guest and the node's bridge drops other MACs", async () => {
    podIP("e2e-spoof");
    const [primary, secondary] = await lab.status("e2e-spoof");
    assert.equal(primary?.interfaceName, "eth0");
    assert.equal(secondary?.name, "br10");
    assert.equal(secondary?.interfaceName, "eth1");
    assert.equal(secondary?.infoSource, "domain, guest-agent, multus-status");
    assert.match(secondary?.podInterfaceName ?? "", /^pod[0-9a-f]{11}$/);
    assert.equal((await lab.guest("e2e-spoof", "cat /sys/class/net/eth1/address")).trim(), secondary?.mac);
    const rules = spawnSync("ip", ["netns", "exec", lab.node, "nft", "list", "ruleset"], { encoding: "utf8" }).stdout;
    const chain = new RegExp(
      `ether saddr ${secondary?.mac} return comment "macspoofchk-[0-9a-f]+-${secondary?.podInterfaceName}"`,
    );
    assert.match(rules, chain);
  });

  test("Multus as the default network: the guest is bridged onto the NAD's subnet as eth0", async () => {
    const ip = podIP("e2e-mdef");
    assert.match(ip, /^10\.250\.0\.\d+$/);
    const addr = await lab.guest("e2e-mdef", "ip -4 -o addr show eth0");
    assert.match(addr, new RegExp(`inet ${ip.replaceAll(".", "\\.")}/24`));
    const [iface, ...rest] = await lab.status("e2e-mdef");
    assert.deepEqual(rest, []);
    assert.equal(iface?.name, "test1");
    assert.equal(iface?.ipAddress, ip);
    assert.equal(iface?.podInterfaceName, "eth0");
    assert.equal(iface?.interfaceName, "eth0");
  });

  // The seeds' table: masquerade and bridge with a CNI IP get the MTU through DHCP (and virtio also through the
  // device); bridge without a CNI IP only through the device, so a non-virtio NIC keeps its default.
  const MTU_TABLE = [
    {
      vm: "e2e-mtu-virtio",
      driver: "virtio_net",
      mtus: { eth0: 1500, eth1: 1400, eth2: 1400 },
      dhcp: ["eth0", "eth1"],
    },
    { vm: "e2e-mtu-e1000", driver: "e1000", mtus: { eth0: 1500, eth1: 1400, eth2: 1500 }, dhcp: ["eth0", "eth1"] },
  ] as const;
  for (const row of MTU_TABLE) {
    test(`MTU: ${row.vm} on the pod network and two MTU 1400 networks (with and without a CNI IP)`, async () => {
      podIP(row.vm);
      const out = await lab.guest(
        row.vm,
        "for i in eth0 eth1 eth2; do echo $i $(cat /sys/class/net/$i/mtu) " +
          "$(basename $(readlink /sys/class/net/$i/device/driver)) " +
          "$(sed -n 's/^mtu=//p' /run/vmnet/$i.dhcp4 2>/dev/null || true); done",
      );
      const seen = Object.fromEntries(
        out
          .trim()
          .split("\n")
          .map((l) => {
            const [name = "", mtu, driver, leased] = l.split(" ");
            return [name, { mtu: Number(mtu), driver, leased: leased === undefined ? undefined : Number(leased) }];
          }),
      );
      const want = Object.fromEntries(
        Object.entries(row.mtus).map(([name, mtu]) => [
          name,
          { mtu, driver: row.driver, leased: (row.dhcp as readonly string[]).includes(name) ? mtu : undefined },
        ]),
      );
      assert.deepEqual(seen, want);
      const status = await lab.status(row.vm);
      assert.deepEqual(
        status.map((i) => `${i.name} ${i.interfaceName}`),
        ["default eth0", "withip eth1", "noip eth2"],
      );
    });
  }

  test("bridge on a Multus secondary network with a CNI IP: the guest's eth1 holds the NAD's IP", async () => {
    podIP("e2e-mtu-virtio");
    const lease = await lab.guest("e2e-mtu-virtio", "sed -n 's/^ip=//p' /run/vmnet/eth1.dhcp4");
    assert.match(lease.trim(), /^10\.251\.0\.\d+$/);
    const addr = await lab.guest("e2e-mtu-virtio", "ip -4 -o addr show dev eth1");
    assert.match(addr, new RegExp(`inet ${lease.trim().replaceAll(".", "\\.")}/24 `));
    const withip = (await lab.status("e2e-mtu-virtio")).find((i) => i.name === "withip");
    assert.equal(withip?.ipAddress, lease.trim());
    assert.equal(withip?.infoSource, "domain, guest-agent, multus-status");
    assert.equal((await lab.guest("e2e-mtu-virtio", "cat /sys/class/net/eth1/address")).trim(), withip?.mac);
  });
});
