/**
 * passt and slirp with real guests under QEMU TCG, through the real CLI: examples/vm-e2e/bindings/passt.yaml and
 * slirp.yaml (admitted with the legacy-bindings KubeVirt CR) boot at once in one dual-stack lab with its own state
 * directory. passt: the guest holds the pod's IPv4 and IPv6 from passt's own DHCP/DHCPv6/NDP, the listed port answers
 * on both pod IPs, the unlisted one does not, ICMP echo goes through, status reports the pod IPs, and `vmnet down`
 * stops passt. slirp: the guest holds QEMU's 10.0.2.15, only the listed port answers. `after` destroys the lab
 * whatever happened and checks that nothing is left (namespaces, processes, passt's run directory).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import type { Run } from "../cli/run.ts";
import { TestLab, vmTestSkipReason } from "../support/vm-lab.ts";

const CR = "examples/kubevirt/kubevirt-cr-legacy-bindings.yaml";
const PASST = "e2e-passt";
const SLIRP = "e2e-slirp";
/** passt's run directory for the VM (src/plan/passt.ts podRunDir: `/run/vmnet/<namespace>/<name>`). */
const PASST_RUN_DIR = `/run/vmnet/default/${PASST}`;

const lab = new TestLab("vmnt-e2ep-");

/** Runs a shell command in the guest; the tests look at failures too. */
function guest(name: string, script: string): Promise<Run> {
  return lab.vmnet("exec", name, "--", "sh", "-c", script);
}

/** Polls the guest's eth0 addresses until every one of `wanted` is there (the lease may follow "ready"). */
async function waitForAddresses(name: string, wanted: readonly string[], timeoutMs = 90_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await guest(name, "ip -o addr show dev eth0");
    if (r.code === 0 && wanted.every((w) => r.stdout.includes(` ${w} `))) return r.stdout;
    if (Date.now() >= deadline)
      assert.fail(`${name} has ${wanted.join(", ")} on eth0 within ${timeoutMs} ms: ${r.stdout}`);
    await new Promise((res) => setTimeout(res, 2_000));
  }
}

function alive(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

const skip = vmTestSkipReason(() => (existsSync("/usr/bin/passt") ? undefined : "passt is missing"));

describe("passt and slirp with real guests", { skip, timeout: 600_000 }, () => {
  const ups = new Map<string, Run>();

  before(async () => {
    await lab.ok("lab", "create", "--ip-family", "dual");
    const up = async (name: string, file: string) =>
      ups.set(name, await lab.vmnet("up", "-f", file, "--kubevirt-config", CR, "--accel", "tcg"));
    await Promise.all([
      up(PASST, "examples/vm-e2e/bindings/passt.yaml"),
      up(SLIRP, "examples/vm-e2e/bindings/slirp.yaml"),
    ]);
  });

  after(async () => {
    await lab.destroy({ also: [PASST_RUN_DIR] });
    assert.equal(existsSync(PASST_RUN_DIR), false, "passt's run directory is gone");
  });

  /** The pod IPs `vmnet up` printed; fails the test if that up failed. */
  const podIPs = (name: string): string[] => {
    const r = ups.get(name);
    assert.equal(r?.code, 0, `vmnet up ${name}: ${r?.stdout}${r?.stderr}`);
    const m = /is running in pod "[^"]+" \(([^)]+)\)/.exec(r?.stdout ?? "");
    assert.ok(m?.[1] !== undefined, `vmnet up ${name} names the pod IPs: ${r?.stdout}`);
    return m[1].split(", ");
  };
  const url = (ip: string, port = 80) => `http://${ip.includes(":") ? `[${ip}]` : ip}:${port}/`;
  const clientIPs = async (): Promise<string[]> => {
    const out = await lab.ok(
      "lab",
      "exec",
      "client",
      "--",
      "ip",
      "-o",
      "addr",
      "show",
      "dev",
      "eth0",
      "scope",
      "global",
    );
    return [...out.matchAll(/ inet6? ([^/ ]+)\//g)].map((m) => m[1] ?? "");
  };

  test("passt: the guest holds the pod's IPv4 and IPv6, served by passt", async () => {
    const r = ups.get(PASST);
    assert.match(
      r?.stdout ?? "",
      /^passt: serving default on "\/run\/vmnet\/default\/e2e-passt\/passt-eth0\.socket" \(pid \d+\)$/m,
    );
    const [v4, v6, ...rest] = podIPs(PASST);
    assert.deepEqual(rest, []);
    assert.match(v4 ?? "", /^10\.244\.0\.\d+$/);
    assert.match(v6 ?? "", /^fd00:10:244::/);
    // passt hands out the pod's own addresses: the IPv4 with the pod's prefix, the IPv6 as a DHCPv6 /128.
    await waitForAddresses(PASST, [`${v4}/24`, `${v6}/128`]);
    const routes4 = await guest(PASST, "ip -4 route show default");
    assert.match(routes4.stdout, /^default via 10\.244\.0\.1 dev eth0/m);
    const routes6 = await guest(PASST, "ip -6 route show default");
    assert.match(routes6.stdout, /^default via fe80::\S+ dev eth0/m);
  });

  test("passt: the listed port answers on both pod IPs, the unlisted one is closed though the guest listens", async () => {
    for (const ip of podIPs(PASST)) {
      const page = await lab.ok("lab", "exec", "client", "--", "wget", "-qO-", "-T", "10", url(ip));
      assert.match(page, /^hostname e2e-passt$/m, `page over ${ip}`);
    }
    const inside = await guest(PASST, "echo inside | nc -w 3 127.0.0.1 7");
    assert.equal(inside.stdout, "inside\n");
    const [v4] = podIPs(PASST);
    const echo = await lab.vmnet("lab", "exec", "client", "--", "sh", "-c", `echo hi | busybox nc -w 3 ${v4} 7`);
    assert.notEqual(echo.code, 0, `port 7 is not forwarded: ${echo.stdout}${echo.stderr}`);
    assert.doesNotMatch(echo.stdout, /hi/);
  });

  test("passt: ICMP echo from the guest reaches the client pod over IPv4 and IPv6", async () => {
    const ips = await clientIPs();
    assert.equal(ips.length, 2, ips.join(", "));
    for (const ip of ips) {
      const ping = await guest(PASST, `ping -c 2 -W 5 ${ip}`);
      assert.equal(ping.code, 0, `ping ${ip}: ${ping.stdout}${ping.stderr}`);
      assert.match(ping.stdout, /2 packets received/);
    }
  });

  test("passt: status reports the pod's IPs on the pod's eth0", async () => {
    const [iface, ...others] = await lab.status(PASST);
    assert.deepEqual(others, []);
    assert.equal(iface?.name, "default");
    assert.deepEqual(iface?.ipAddresses, podIPs(PASST));
    assert.equal(iface?.ipAddress, podIPs(PASST)[0]);
    assert.equal(iface?.podInterfaceName, "eth0");
    assert.equal(iface?.interfaceName, "eth0");
    assert.equal(iface?.queueCount, 1);
    assert.equal(iface?.linkState, "up");
  });

  test("slirp: the guest holds QEMU's 10.0.2.15 and only the listed port answers", async () => {
    const [v4] = podIPs(SLIRP);
    assert.ok(v4 !== undefined);
    await waitForAddresses(SLIRP, ["10.0.2.15/24"]);
    const routes = await guest(SLIRP, "ip -4 route show default");
    assert.match(routes.stdout, /^default via 10\.0\.2\.2 dev eth0/m);
    const page = await lab.ok("lab", "exec", "client", "--", "wget", "-qO-", "-T", "10", url(v4));
    assert.match(page, /^hostname e2e-slirp$/m);
    assert.match(page, /^address eth0 10\.0\.2\.15\/24$/m);
    const inside = await guest(SLIRP, "echo inside | nc -w 3 127.0.0.1 7");
    assert.equal(inside.stdout, "inside\n");
    const echo = await lab.vmnet("lab", "exec", "client", "--", "sh", "-c", `echo hi | busybox nc -w 3 ${v4} 7`);
    assert.notEqual(echo.code, 0, `port 7 is not forwarded: ${echo.stdout}${echo.stderr}`);
    assert.doesNotMatch(echo.stdout, /hi/);
    // Nothing of slirp lives in the pod netns: no tap, no bridge, no ruleset.
    const links = spawnSync("ip", ["-n", `${lab.node}-virt-launcher-${SLIRP}`, "-o", "link", "show"], {
      encoding: "utf8",
    });
    assert.deepEqual(
      [...links.stdout.matchAll(/^\d+: ([^:@]+)/gm)].map((m) => m[1]).sort(),
      ["eth0", "lo"],
      links.stdout,
    );
  });

  // QEMU runs without CAP_NET_RAW (src/vm/qemu.ts), so libslirp has no raw ICMP socket to fall back to.
  test("slirp: ICMP from the guest does not reach the client pod", async () => {
    const [ip] = await clientIPs();
    const ping = await guest(SLIRP, `ping -c 2 -W 3 ${ip}`);
    assert.notEqual(ping.code, 0, `ping ${ip} fails: ${ping.stdout}`);
  });

  test("passt: vmnet down stops passt and removes its socket directory", async () => {
    const pid = Number(/^passt: serving default on "[^"]+" \(pid (\d+)\)$/m.exec(ups.get(PASST)?.stdout ?? "")?.[1]);
    assert.ok(pid > 0);
    assert.ok(alive(pid), "passt runs while the VM is up");
    assert.ok(existsSync(`${PASST_RUN_DIR}/passt-eth0.socket`));
    await lab.ok("down", PASST);
    assert.equal(alive(pid), false, "passt is stopped");
    assert.equal(existsSync(PASST_RUN_DIR), false);
  });
});
