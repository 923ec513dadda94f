/**
 * The lab's `--ip-family` with real guests: a dual-stack lab made by `vmnet up --ip-family dual` and an IPv6-only lab
 * made by `vmnet lab create --ip-family ipv6`, each in its own state directory, each booting the masquerade VM at the
 * same time. The client pod reaches the VM on every pod IP; the guest leases 10.0.2.2 and fd10:0:2::2 as KubeVirt's
 * masquerade defaults say. The IPv6 lab also boots a VM with a Multus secondary network (a bridge NAD), the dual one a
 * Virtink VM. `after`
 * destroys both labs whatever happened.
 */
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { statePaths } from "../../src/vm/paths.ts";
import { ROOT, type Run } from "./run.ts";

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root to create network namespaces";
  if (spawnSync("qemu-system-x86_64", ["--version"]).status !== 0) return "qemu-system-x86_64 is missing";
  if (!existsSync("/usr/lib/cni/bridge")) return "the CNI plugins are missing";
  if (spawnSync("ldd", ["/usr/sbin/qemu-ga"]).status !== 0) return "qemu-guest-agent is missing";
  return undefined;
}

/** A lab in its own state directory. */
class Lab {
  readonly state = mkdtempSync(join(tmpdir(), "vmnt-fam-"));
  readonly node = statePaths(this.state).nodeName;

  run(...args: string[]): Promise<Run> {
    const at = args[0] === "lab" ? 2 : 1;
    return new Promise((resolve) => {
      execFile(
        `${ROOT}bin/vmnet`,
        // The flag goes right after the (sub)command: what follows "--" belongs to the pod's command.
        [...args.slice(0, at), "--state-dir", this.state, ...args.slice(at)],
        { cwd: ROOT, encoding: "utf8", timeout: 200_000 },
        (error, stdout, stderr) => {
          const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }

  async ok(...args: string[]): Promise<string> {
    const r = await this.run(...args);
    assert.equal(r.code, 0, `vmnet ${args.join(" ")} exits 0: ${r.stdout}${r.stderr}`);
    return r.stdout;
  }

  namespaces(): string[] {
    return (spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout ?? "")
      .split("\n")
      .map((l) => l.split(" ")[0] ?? "")
      .filter((n) => n.startsWith(this.node));
  }

  async destroy(): Promise<void> {
    const r = await this.run("lab", "destroy");
    rmSync(this.state, { recursive: true, force: true });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(this.namespaces(), [], "no namespace of the lab is left");
  }
}

/** Resolves once the lab's record exists (another `up` is creating it). */
async function waitForLab(lab: Lab): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!existsSync(join(lab.state, "lab.json"))) {
    if (Date.now() > deadline) throw new Error(`no lab in ${lab.state}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface Status {
  status: { interfaces: { ipAddresses?: string[] }[] };
}

describe("vmnet labs per IP family", { skip: skipReason(), timeout: 300_000 }, () => {
  const dual = new Lab();
  const v6 = new Lab();
  const ups = new Map<Lab, Run>();
  let secondary: Run | undefined;
  let virtink: Run | undefined;

  before(async () => {
    const created = await v6.run("lab", "create", "--ip-family", "ipv6");
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /ipv6 pod network fd00:10:244::\/64/);
    const up = (lab: Lab, ...extra: string[]) =>
      lab.run("up", "-f", "examples/vm/masquerade.yaml", "--accel", "tcg", ...extra).then((r) => ups.set(lab, r));
    await Promise.all([
      up(dual, "--ip-family", "dual"),
      up(v6),
      v6
        .run(
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
        dual.run("up", "-f", "examples/virtink/masquerade.yaml", "--accel", "tcg").then((r) => {
          virtink = r;
        }),
      ),
    ]);
  });

  after(async () => {
    const results = await Promise.allSettled([dual.destroy(), v6.destroy()]);
    const failed = results.find((r) => r.status === "rejected");
    if (failed !== undefined) throw failed.reason;
  });

  const podIPs = (lab: Lab): string[] => {
    const r = ups.get(lab);
    assert.equal(r?.code, 0, `${r?.stdout}${r?.stderr}`);
    const m = /is running in pod "[^"]+" \(([^)]+)\)/.exec(r?.stdout ?? "");
    return (m?.[1] ?? "").split(", ");
  };

  test("dual stack: the client reaches the VM on both pod IPs; the guest has both masquerade addresses", async () => {
    const ips = podIPs(dual);
    assert.equal(ips.length, 2);
    for (const ip of ips) {
      const host = ip.includes(":") ? `[${ip}]` : ip;
      const page = await dual.ok("lab", "exec", "client", "--", "wget", "-qO-", `http://${host}/`);
      assert.match(page, /^address eth0 10\.0\.2\.2\/24$/m, `page over ${ip}`);
      assert.match(page, /^address eth0 fd10:0:2::2\/128$/m, `page over ${ip}`);
    }
    const status = JSON.parse(await dual.ok("status", "vm-masq", "-o", "json")) as Status;
    assert.deepEqual(status.status.interfaces[0]?.ipAddresses, ips);
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
    const status = JSON.parse(await v6.ok("status", "vm-sec", "-o", "json")) as {
      status: { interfaces: Record<string, unknown>[] };
    };
    const [primary, blue] = status.status.interfaces;
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
    const status = JSON.parse(await dual.ok("status", "masquerade", "-o", "json")) as {
      status: { interfaces: Record<string, unknown>[] };
    };
    assert.equal(status.status.interfaces[0]?.name, "pod");
    assert.equal(status.status.interfaces[0]?.infoSource, "domain, guest-agent");
  });
});
