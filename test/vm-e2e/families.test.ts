/**
 * Dual-stack and IPv6-only masquerade configured automatically, with real guests under QEMU TCG through the real CLI:
 * examples/vm-e2e/scenarios/masq-auto.yaml boots at once in a dual-stack lab and in an IPv6-only lab (each in its own
 * state directory), and the guest's addresses and routes, `vmnet status` and the client pod's reach are checked.
 * `after` destroys both labs whatever happened and checks that nothing is left and the root namespace is unchanged.
 */
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { statePaths } from "../../src/vm/paths.ts";
import { ROOT, type Run } from "../cli/run.ts";

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root to create network namespaces";
  if (spawnSync("qemu-system-x86_64", ["--version"]).status !== 0) return "qemu-system-x86_64 is missing";
  if (!existsSync("/usr/lib/cni/bridge")) return "the CNI plugins are missing";
  if (spawnSync("ldd", ["/usr/sbin/qemu-ga"]).status !== 0) return "qemu-guest-agent is missing";
  return undefined;
}

/** A lab in its own state directory. */
class Lab {
  readonly state = mkdtempSync(join(tmpdir(), "vmnt-e2ef-"));
  readonly node = statePaths(this.state).nodeName;

  run(...args: string[]): Promise<Run> {
    return new Promise((resolve) => {
      execFile(
        `${ROOT}bin/vmnet`,
        args,
        { cwd: ROOT, encoding: "utf8", env: { ...process.env, VMNET_STATE_DIR: this.state }, timeout: 240_000 },
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
    const left = spawnSync("pgrep", ["-f", this.state], { encoding: "utf8" }).stdout.trim();
    assert.equal(left, "", "no QEMU or agent process of the lab is left");
  }
}

/** The root namespace's links and ruleset, which no vmnet command may change. */
function rootSnapshot(): unknown {
  const links = JSON.parse(spawnSync("ip", ["-json", "link", "show"], { encoding: "utf8" }).stdout) as {
    ifindex: number;
    ifname: string;
    address?: string;
    mtu: number;
  }[];
  return {
    links: links.map((l) => `${l.ifindex} ${l.ifname} ${l.address ?? ""} ${l.mtu}`).sort(),
    nft: spawnSync("nft", ["-j", "list", "ruleset"], { encoding: "utf8" }).stdout,
  };
}

/** The guest's global addresses on eth0 as CIDRs (busybox `ip` has no JSON output). */
async function globalAddresses(lab: Lab): Promise<string[]> {
  const out = await lab.ok("exec", "e2e-auto", "--", "ip", "-o", "addr", "show", "dev", "eth0");
  return [...out.matchAll(/ inet6? (\S+) .*scope global/g)].map((m) => m[1] ?? "").sort();
}

/** The guest's default route's gateway for one family, if any. */
async function defaultGateway(lab: Lab, family: "-4" | "-6"): Promise<string | undefined> {
  const out = await lab.ok("exec", "e2e-auto", "--", "ip", family, "route", "show", "default");
  return /^default via (\S+)/m.exec(out)?.[1];
}

const skip = skipReason();

describe("masquerade configured automatically per IP family", { skip, timeout: 400_000 }, () => {
  const dual = new Lab();
  const v6 = new Lab();
  const ups = new Map<Lab, Run>();
  const root = skip === undefined ? rootSnapshot() : undefined;

  before(async () => {
    await Promise.all([dual.ok("lab", "create", "--ip-family", "dual"), v6.ok("lab", "create", "--ip-family", "ipv6")]);
    await Promise.all(
      [dual, v6].map(async (lab) =>
        ups.set(lab, await lab.run("up", "-f", "examples/vm-e2e/scenarios/masq-auto.yaml", "--accel", "tcg")),
      ),
    );
  });

  after(async () => {
    const results = await Promise.allSettled([dual.destroy(), v6.destroy()]);
    const failed = results.find((r) => r.status === "rejected");
    if (failed !== undefined) throw failed.reason;
    assert.deepEqual(rootSnapshot(), root, "the root namespace's links and ruleset are unchanged");
  });

  const podIPs = (lab: Lab): string[] => {
    const r = ups.get(lab);
    assert.equal(r?.code, 0, `${r?.stdout}${r?.stderr}`);
    const m = /is running in pod "[^"]+" \(([^)]+)\)/.exec(r?.stdout ?? "");
    return (m?.[1] ?? "").split(", ");
  };

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
    const status = JSON.parse(await dual.ok("status", "e2e-auto", "-o", "json")) as {
      status: { interfaces: { ipAddress?: string; ipAddresses?: string[] }[] };
    };
    assert.deepEqual(status.status.interfaces[0]?.ipAddresses, ips);
    assert.equal(status.status.interfaces[0]?.ipAddress, ips[0]);
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
    const status = JSON.parse(await v6.ok("status", "e2e-auto", "-o", "json")) as {
      status: { interfaces: { ipAddresses?: string[] }[] };
    };
    assert.deepEqual(status.status.interfaces[0]?.ipAddresses, [ip]);
  });
});
