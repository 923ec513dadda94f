/**
 * The lab's `--ip-family` with real guests: a dual-stack lab made by `vmnet up --ip-family dual` and an IPv6-only lab
 * made by `vmnet lab create --ip-family ipv6`, each in its own state directory, each booting the masquerade VM at the
 * same time. The client pod reaches the VM on every pod IP; the guest leases 10.0.2.2 and fd10:0:2::2 as KubeVirt's
 * masquerade defaults say. The IPv6 lab also boots a VM with a Multus secondary network (a bridge NAD), the dual one a
 * Virtink VM. `after`
 * destroys both labs whatever happened.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { podIPsOf, TestLab, vmTestSkipReason } from "../support/vm-lab.ts";
import type { Run } from "./run.ts";

/** A lab that names its state directory with `--state-dir`, so that the flag is covered too. */
const newLab = () => new TestLab("vmnt-fam-", { timeout: 200_000, stateFlag: true });

/** Resolves once the lab's record exists (another `up` is creating it). */
async function waitForLab(lab: TestLab): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!existsSync(join(lab.state, "lab.json"))) {
    if (Date.now() > deadline) throw new Error(`no lab in ${lab.state}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("vmnet labs per IP family", { skip: vmTestSkipReason(), timeout: 300_000 }, () => {
  const dual = newLab();
  const v6 = newLab();
  const ups = new Map<TestLab, Run>();
  let secondary: Run | undefined;
  let virtink: Run | undefined;

  before(async () => {
    const created = await v6.vmnet("lab", "create", "--ip-family", "ipv6");
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /ipv6 pod network fd00:10:244::\/64/);
    const up = (lab: TestLab, ...extra: string[]) =>
      lab.vmnet("up", "-f", "examples/vm/masquerade.yaml", "--accel", "tcg", ...extra).then((r) => ups.set(lab, r));
    await Promise.all([
      up(dual, "--ip-family", "dual"),
      up(v6),
      v6
        .vmnet(
          "up",
          "-f",
          "examples/vm/bridge-secondary.yaml",
          "--nad",
          "examples/vm/nad-br1.yaml",
          "--accel",
          "tcg",
          "--ip-family",
          "dual",
        )
        .then((r) => {
          secondary = r;
        }),
      // Started once the dual lab exists, so this up finds it rather than racing to make an IPv4 one.
      waitForLab(dual).then(() =>
        dual.vmnet("up", "-f", "examples/virtink/masquerade.yaml", "--accel", "tcg").then((r) => {
          virtink = r;
        }),
      ),
    ]);
  });

  after(async () => {
    const results = await Promise.allSettled([dual.destroy({ processes: false }), v6.destroy({ processes: false })]);
    const failed = results.find((r) => r.status === "rejected");
    if (failed !== undefined) throw failed.reason;
  });

  const podIPs = (lab: TestLab): string[] => podIPsOf(ups.get(lab));

  test("dual stack: the client reaches the VM on both pod IPs; the guest has both masquerade addresses", async () => {
    const ips = podIPs(dual);
    assert.equal(ips.length, 2);
    for (const ip of ips) {
      const host = ip.includes(":") ? `[${ip}]` : ip;
      const page = await dual.ok("lab", "exec", "client", "--", "wget", "-qO-", `http://${host}/`);
      assert.match(page, /^address eth0 10\.0\.2\.2\/24$/m, `page over ${ip}`);
      assert.match(page, /^address eth0 fd10:0:2::2\/128$/m, `page over ${ip}`);
    }
    assert.deepEqual((await dual.status("vm-masq"))[0]?.ipAddresses, ips);
  });

  test("IPv6 only: lab create makes the lab up finds; the client reaches the VM by its IPv6 pod IP", async () => {
    assert.match(ups.get(v6)?.stdout ?? "", /^lab: found node .* \(ipv6\)$/m);
    const [ip, ...rest] = podIPs(v6);
    assert.deepEqual(rest, []);
    assert.match(ip ?? "", /^fd00:10:244::/);
    const page = await v6.ok("lab", "exec", "client", "--", "wget", "-qO-", `http://[${ip}]/`);
    assert.match(page, /^address eth0 fd10:0:2::2\/128$/m);
    assert.doesNotMatch(page, /10\.0\.2\.2/);
  });

  test("a Multus secondary network: the pod gets the NAD's interface, the guest a second NIC, status both", async () => {
    assert.equal(secondary?.code, 0, `${secondary?.stdout}${secondary?.stderr}`);
    assert.match(secondary?.stdout ?? "", /^plan applied: default \(masquerade\), blue \(bridge\)$/m);
    // The lab existed (IPv6 only); a different --ip-family is reported, not applied.
    assert.match(secondary?.stdout ?? "", /^lab: --ip-family dual ignored: it applies when the lab is created$/m);
    const [primary, blue] = await v6.status("vm-sec");
    assert.equal(primary?.name, "default");
    assert.equal(primary?.interfaceName, "eth0");
    assert.equal(blue?.name, "blue");
    assert.equal(blue?.interfaceName, "eth1");
    assert.equal(blue?.infoSource, "domain, guest-agent, multus-status");
    assert.match(String(blue?.podInterfaceName), /^pod[0-9a-f]{11}$/);
    const links = await v6.ok("exec", "vm-sec", "--", "cat", "/sys/class/net/eth1/address");
    assert.equal(links.trim(), blue?.mac);
  });

  test("a Virtink VM boots in the same lab and answers on its pod IP", async () => {
    assert.equal(virtink?.code, 0, `${virtink?.stdout}${virtink?.stderr}`);
    assert.match(virtink?.stdout ?? "", /^admitted: virtink VM "default\/masquerade"$/m);
    const ip = /is running in pod "[^"]+" \(([^,)]+)/.exec(virtink?.stdout ?? "")?.[1];
    const page = await dual.ok("lab", "exec", "client", "--", "wget", "-qO-", `http://${ip}/`);
    assert.match(page, /^hostname masquerade$/m);
    assert.match(page, /^address eth0 10\.0\.2\.2\/30$/m);
    const [pod] = await dual.status("masquerade");
    assert.equal(pod?.name, "pod");
    assert.equal(pod?.infoSource, "domain, guest-agent");
  });
});
