/**
 * Real-client checks in a throwaway network namespace: ISC dhclient -6 leases from `Dhcp6Server` over UDP, and the
 * Linux kernel installs the default route, on-link prefix and MTU from a `RouterAdvertiser` packet (sent through an
 * AF_PACKET socket so the kernel, not us, judges the ICMPv6 checksum), and dhcpcd runs stateful DHCPv6 because our RA
 * says M=1. Skipped when not root or tools are missing.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parseIpv6 } from "../../../src/api/ip.ts";
import { masqueradeAdvertiserConfig, RouterAdvertiser } from "../../../src/dhcp/ra/advertiser.ts";
import { DEFAULT_LIFETIME, type Dhcp6ServerConfig } from "../../../src/dhcp/v6/server.ts";

const run = promisify(execFile);
const HARNESS = fileURLToPath(new URL("./udp-harness.ts", import.meta.url));
const canRun =
  process.getuid?.() === 0 &&
  ["/usr/sbin/ip", "/usr/sbin/dhclient", "/usr/sbin/dhcpcd", "/usr/bin/unshare"].every((p) => existsSync(p)) &&
  existsSync("/proc/self/ns/net") &&
  spawnSync("python3", ["-c", "import socket; socket.AF_PACKET"]).status === 0;

const SERVER_CONFIG: Dhcp6ServerConfig = {
  serverDuidMac: "02:00:00:00:00:00",
  address: "fd10:0:2::2",
  dns: ["fd00::a"],
  searchDomains: ["ns1.svc.cluster.local", "cluster.local"],
  preferredLifetime: DEFAULT_LIFETIME,
  validLifetime: DEFAULT_LIFETIME,
  t1: 0,
  t2: 0,
};

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 15000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Ethernet + IPv6 header around an ICMPv6 message (RFC 2464, RFC 8200 §3), hop limit 255 as ND requires. */
function frame(srcMac: string, dstMac: string, src: string, dst: string, icmp: Uint8Array): Uint8Array {
  const mac = (m: string) => m.split(":").map((h) => Number.parseInt(h, 16));
  const out = new Uint8Array(14 + 40 + icmp.length);
  out.set([...mac(dstMac), ...mac(srcMac), 0x86, 0xdd]);
  out.set([0x60, 0, 0, 0, icmp.length >> 8, icmp.length & 0xff, 58, 255], 14);
  out.set(parseIpv6(src), 22);
  out.set(parseIpv6(dst), 38);
  out.set(icmp, 54);
  return out;
}

/** Python snippet: `send()` writes argv[2] (hex) as one frame on interface argv[1] through an AF_PACKET socket. */
const SEND_FRAME = [
  "import socket, sys",
  "s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)",
  "s.bind((sys.argv[1], 0))",
  "def send():",
  "  s.send(bytes.fromhex(sys.argv[2]))",
].join("\n");

/** Terminates a child we started (by its pid) and waits for it, killing it if it lingers. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

describe("DHCPv6 and RA against real clients", {
  skip: canRun ? false : "needs root, ip, dhclient, dhcpcd, unshare and python3",
}, () => {
  const ns = `vmnt-d6-${randomBytes(4).toString("hex")}`;
  const inNs = (...args: string[]) => run("ip", ["netns", "exec", ns, ...args]);
  let dir = "";
  const children: ChildProcess[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "vmnt-d6-"));
    await run("ip", ["netns", "add", ns]);
    // Skip duplicate address detection so link-local addresses are usable at once.
    await inNs("sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.accept_dad=0");
    await run("ip", [
      "-n",
      ns,
      "link",
      "add",
      "srv",
      "address",
      "02:00:00:00:00:00",
      "type",
      "veth",
      "peer",
      "name",
      "cli",
    ]);
    await run("ip", ["-n", ns, "link", "set", "srv", "up"]);
    await run("ip", ["-n", ns, "link", "set", "cli", "up"]);
    await waitFor("link-local addresses", async () => {
      const { stdout } = await run("ip", ["-n", ns, "-6", "addr", "show", "scope", "link"]);
      return (stdout.match(/inet6 fe80/g) ?? []).length >= 2 && !stdout.includes("tentative") ? true : undefined;
    });
  });

  after(async () => {
    for (const c of children) await stop(c);
    await run("ip", ["netns", "del", ns]).catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("the kernel ignores an RA with a wrong checksum", async () => {
    const ra = new RouterAdvertiser(masqueradeAdvertiserConfig(raInput())).buildAdvertisement();
    ra[2] = (ra[2] ?? 0) ^ 0xff;
    const before = await checksumErrors();
    await sendFrame(ra);
    await waitFor("a checksum error count", async () => ((await checksumErrors()) > before ? true : undefined));
    const { stdout } = await run("ip", ["-n", ns, "-6", "route", "show", "dev", "cli"]);
    assert.doesNotMatch(stdout, /default/);
  });

  it("the kernel takes default route, on-link /120 and MTU from our RA", async () => {
    await sendFrame(new RouterAdvertiser(masqueradeAdvertiserConfig(raInput())).buildAdvertisement());
    const routes = await waitFor("RA routes", async () => {
      const { stdout } = await run("ip", ["-n", ns, "-6", "route", "show", "dev", "cli"]);
      return stdout.includes("default") && stdout.includes("fd10:0:2::/120") ? stdout : undefined;
    });
    assert.match(routes, /default via fe80::ff:fe00:0 proto ra/);
    // The kernel files prefix routes from RAs as proto kernel, with the prefix's valid lifetime as expiry.
    assert.match(routes, /fd10:0:2::\/120 proto kernel metric \d+ expires \d+sec/);
    const { stdout: mtu } = await inNs("sysctl", "-n", "net.ipv6.conf.cli.mtu");
    assert.equal(mtu.trim(), "1400");
    // A=0: no SLAAC address from the prefix; the address comes from DHCPv6.
    const { stdout: addrs } = await run("ip", ["-n", ns, "-6", "addr", "show", "dev", "cli", "scope", "global"]);
    assert.doesNotMatch(addrs, /fd10:0:2::/);
  });

  it("dhclient -6 leases fd10:0:2::2 with DNS servers and search list", async () => {
    await startHarness();
    const leases = join(dir, "dhclient6.leases");
    const pidFile = join(dir, "dhclient6.pid");
    const client = track(
      spawn(
        "ip",
        ["netns", "exec", ns, "dhclient", "-6", "-d", "-1", "-sf", "/bin/true", "-lf", leases, "-pf", pidFile, "cli"],
        {
          stdio: "ignore",
        },
      ),
    );
    try {
      const lease = await waitFor("dhclient lease", () => {
        const text = existsSync(leases) ? readFileSync(leases, "utf8") : "";
        return text.includes("iaaddr") && text.includes("domain-search") ? text : undefined;
      });
      assert.match(lease, /iaaddr fd10:0:2::2 \{/);
      assert.match(lease, /preferred-life 86313600;/);
      assert.match(lease, /max-life 86313600;/);
      assert.match(lease, /option dhcp6\.server-id 0:3:0:1:2:0:0:0:0:0;/);
      assert.match(lease, /option dhcp6\.name-servers fd00::a;/);
      assert.match(lease, /option dhcp6\.domain-search "ns1\.svc\.cluster\.local\.", "cluster\.local\.";/);
      assert.deepEqual(handledTypes().slice(0, 2), [1, 3], "SOLICIT then REQUEST");
    } finally {
      await stop(client);
    }
  });

  it("dhcpcd starts stateful DHCPv6 from our RA's M flag and leases fd10:0:2::2 with Rapid Commit", async () => {
    await startHarness();
    const seen = handledTypes().length;
    const ra = new RouterAdvertiser(masqueradeAdvertiserConfig(raInput())).buildAdvertisement();
    const bytes = frame("02:00:00:00:00:00", "33:33:00:00:00:01", "fe80::ff:fe00:0", "ff02::1", ra);
    // dhcpcd only runs DHCPv6 once an RA tells it to, so keep advertising until it has a lease.
    const advertiser = track(
      spawn(
        "ip",
        [
          "netns",
          "exec",
          ns,
          "python3",
          "-c",
          `${SEND_FRAME}\nimport time\nfor _ in range(60):\n  send()\n  time.sleep(0.5)`,
          "srv",
          Buffer.from(bytes).toString("hex"),
        ],
        { stdio: "ignore" },
      ),
    );
    const hookLog = join(dir, "dhcpcd-hook.log");
    const hook = join(dir, "dhcpcd-hook.sh");
    writeFileSync(hook, `#!/bin/sh\n{ echo "reason=$reason"; env | sort; echo; } >> ${hookLog}\n`, { mode: 0o755 });
    // The DHCPv6 lines of Debian's default /etc/dhcpcd.conf: ask for DNS and search list, and for Rapid Commit.
    const conf = join(dir, "dhcpcd.conf");
    writeFileSync(conf, "duid\noption domain_name_servers, domain_name, domain_search\noption rapid_commit\n");
    // dhcpcd keeps its DUID, leases and sockets in /var/lib/dhcpcd and /run; give it private, empty copies.
    const private_ = `mount -t tmpfs vmnt /run && mount -t tmpfs vmnt /var/lib/dhcpcd && exec dhcpcd -6 -B -f ${conf} -c ${hook} cli`;
    const client = track(
      spawn("ip", ["netns", "exec", ns, "unshare", "-m", "--propagation", "private", "sh", "-c", private_], {
        stdio: "ignore",
      }),
    );
    try {
      const log = await waitFor(
        "dhcpcd BOUND6",
        () => {
          const text = existsSync(hookLog) ? readFileSync(hookLog, "utf8") : "";
          return text.includes("reason=BOUND6") ? text : undefined;
        },
        30000,
      );
      const bound = log.slice(log.indexOf("reason=BOUND6"));
      assert.match(bound, /^new_dhcp6_ia_na1_ia_addr1=fd10:0:2::2$/m);
      assert.match(bound, /^new_dhcp6_name_servers=fd00::a$/m);
      assert.match(bound, /^new_dhcp6_domain_search=ns1\.svc\.cluster\.local cluster\.local$/m);
      assert.match(bound, /^new_dhcp6_server_id=00030001020000000000$/m);
      // Rapid Commit: the SOLICIT was answered with a committed REPLY, so no REQUEST followed.
      assert.match(bound, /^new_dhcp6_rapid_commit=/m);
      const types = handledTypes().slice(seen);
      assert.ok(types.includes(1), "a SOLICIT was handled");
      assert.ok(!types.includes(3), "no REQUEST was needed");
      assert.match(log, /reason=ROUTERADVERT/);
      const advert = log.slice(log.indexOf("reason=ROUTERADVERT"));
      for (const line of [
        "nd1_from=fe80::ff:fe00:0",
        "nd1_flags=MO",
        "nd1_lifetime=1800",
        "nd1_mtu=1400",
        "nd1_prefix_information1_prefix=fd10:0:2::",
        "nd1_prefix_information1_length=120",
        "nd1_prefix_information1_flags=L",
        "nd1_rdnss1_servers=fd00::a",
        "nd1_dnssl1_search=cluster.local",
      ]) {
        assert.ok(advert.split("\n").includes(line), `RA hook environment has ${line}`);
      }
    } finally {
      await stop(client);
      await stop(advertiser);
    }
  });

  let harnessOut = "";
  async function startHarness(): Promise<void> {
    if (harnessOut.includes("ready")) return;
    let err = "";
    const config = JSON.stringify(SERVER_CONFIG);
    const harness = track(
      spawn("ip", ["netns", "exec", ns, process.execPath, "--import", "tsx", HARNESS, "srv", config], {
        stdio: ["ignore", "pipe", "pipe"],
      }),
    );
    harness.stdout?.on("data", (d: Buffer) => {
      harnessOut += d.toString();
    });
    harness.stderr?.on("data", (d: Buffer) => {
      err += d.toString();
    });
    await waitFor("harness ready", () => {
      if (harnessOut.includes("ready")) return true;
      if (harness.exitCode !== null) throw new Error(`Harness exited: ${err}`);
      return undefined;
    });
  }

  function handledTypes(): number[] {
    return harnessOut
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => (JSON.parse(l) as { type: number }).type);
  }

  function track(child: ChildProcess): ChildProcess {
    children.push(child);
    return child;
  }

  async function checksumErrors(): Promise<number> {
    const { stdout } = await inNs("cat", "/proc/net/snmp6");
    return Number.parseInt(/^Icmp6InCsumErrors\s+(\d+)$/m.exec(stdout)?.[1] ?? "0", 10);
  }

  function raInput() {
    return {
      bridgeMac: "02:00:00:00:00:00",
      prefix: "fd10:0:2::",
      prefixLength: 120,
      mtu: 1400,
      dns: ["fd00::a"],
      searchDomains: ["cluster.local"],
    };
  }

  async function sendFrame(ra: Uint8Array): Promise<void> {
    const bytes = frame("02:00:00:00:00:00", "33:33:00:00:00:01", "fe80::ff:fe00:0", "ff02::1", ra);
    await inNs("python3", "-c", `${SEND_FRAME}\nsend()`, "srv", Buffer.from(bytes).toString("hex"));
  }
});
