/**
 * Dual-stack and IPv6-only masquerade configured automatically, with real guests under QEMU TCG through the real CLI:
 * examples/vm-e2e/scenarios/masq-auto.yaml boots at once in a dual-stack lab and in an IPv6-only lab (each in its own
 * state directory), and the guest's addresses and routes, `vmnet status` and the client pod's reach are checked.
 * `after` destroys both labs whatever happened and checks that nothing is left and the root namespace is unchanged.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Run } from "../cli/run.ts";
import { podIPsOf, rootSnapshot, TestLab, vmTestSkipReason } from "../support/vm-lab.ts";

/** The guest's global addresses on eth0 as CIDRs (busybox `ip` has no JSON output). */
async function globalAddresses(lab: TestLab): Promise<string[]> {
  const out = await lab.ok("exec", "e2e-auto", "--", "ip", "-o", "addr", "show", "dev", "eth0");
  return [...out.matchAll(/ inet6? (\S+) .*scope global/g)].map((m) => m[1] ?? "").sort();
}

/** The guest's default route's gateway for one family, if any. */
async function defaultGateway(lab: TestLab, family: "-4" | "-6"): Promise<string | undefined> {
  const out = await lab.ok("exec", "e2e-auto", "--", "ip", family, "route", "show", "default");
  return /^default via (\S+)/m.exec(out)?.[1];
}

const skip = vmTestSkipReason();

describe("masquerade configured automatically per IP family", { skip, timeout: 400_000 }, () => {
  const dual = new TestLab("vmnt-e2ef-");
  const v6 = new TestLab("vmnt-e2ef-");
  const ups = new Map<TestLab, Run>();
  const root = skip === undefined ? rootSnapshot() : undefined;

  before(async () => {
    await Promise.all([dual.ok("lab", "create", "--ip-family", "dual"), v6.ok("lab", "create", "--ip-family", "ipv6")]);
    await Promise.all(
      [dual, v6].map(async (lab) =>
        ups.set(lab, await lab.vmnet("up", "-f", "examples/vm-e2e/scenarios/masq-auto.yaml", "--accel", "tcg")),
      ),
    );
  });

  after(async () => {
    const results = await Promise.allSettled([dual.destroy(), v6.destroy()]);
    const failed = results.find((r) => r.status === "rejected");
    if (failed !== undefined) throw failed.reason;
    assert.deepEqual(rootSnapshot(), root, "the root namespace's links and ruleset are unchanged");
  });

  const podIPs = (lab: TestLab): string[] => podIPsOf(ups.get(lab));

  test("dual stack: the guest gets 10.0.2.2/24 and fd10:0:2::2/128 with both default routes", async () => {
    const ips = podIPs(dual);
    assert.equal(ips.length, 2, ips.join(", "));
    assert.deepEqual(await globalAddresses(dual), ["10.0.2.2/24", "fd10:0:2::2/128"]);
    assert.equal(await defaultGateway(dual, "-4"), "10.0.2.1");
    assert.match((await defaultGateway(dual, "-6")) ?? "", /^fe80::/);
    for (const ip of ips) {
      const host = ip.includes(":") ? `[${ip}]` : ip;
      const page = await dual.ok("lab", "exec", "client", "--", "wget", "-qO-", "-T", "10", `http://${host}/`);
      assert.match(page, /^hostname e2e-auto$/m, `page over ${ip}`);
    }
    const [iface] = await dual.status("e2e-auto");
    assert.deepEqual(iface?.ipAddresses, ips);
    assert.equal(iface?.ipAddress, ips[0]);
  });

  test("IPv6 only: the guest gets fd10:0:2::2/128 and an IPv6 default route, no IPv4 address", async () => {
    const [ip, ...rest] = podIPs(v6);
    assert.deepEqual(rest, []);
    assert.match(ip ?? "", /^fd00:10:244::/);
    assert.deepEqual(await globalAddresses(v6), ["fd10:0:2::2/128"]);
    assert.equal(await defaultGateway(v6, "-4"), undefined);
    assert.match((await defaultGateway(v6, "-6")) ?? "", /^fe80::/);
    const page = await v6.ok("lab", "exec", "client", "--", "wget", "-qO-", "-T", "10", `http://[${ip}]/`);
    assert.match(page, /^address eth0 fd10:0:2::2\/128$/m);
    assert.deepEqual((await v6.status("e2e-auto"))[0]?.ipAddresses, [ip]);
  });
});
