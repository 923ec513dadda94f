/**
 * Real-client checks in a throwaway network namespace: ISC dhclient -6 leases from `Dhcp6Server` over UDP, and the
 * Linux kernel installs the default route, on-link prefix and MTU from a `RouterAdvertiser` packet (sent through an
 * AF_PACKET socket so the kernel, not us, judges the ICMPv6 checksum). Skipped when not root or tools are missing.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { masqueradeAdvertiserConfig, RouterAdvertiser } from "../../../src/dhcp/ra/advertiser.ts";
import { parseIpv6 } from "../../../src/dhcp/ra/ipv6.ts";
import { DEFAULT_LIFETIME, type Dhcp6ServerConfig } from "../../../src/dhcp/v6/server.ts";

const run = promisify(execFile);
const HARNESS = fileURLToPath(new URL("./udp-harness.ts", import.meta.url));
const canRun =
  process.getuid?.() === 0 &&
  ["/usr/sbin/ip", "/usr/sbin/dhclient"].every((p) => existsSync(p)) &&
  existsSync("/proc/self/ns/net");

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

describe("DHCPv6 and RA against real clients", { skip: canRun ? false : "needs root, ip and dhclient" }, () => {
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
    for (const c of children) if (c.exitCode === null && c.pid !== undefined) process.kill(c.pid, "SIGTERM");
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
    const harness = spawn(
      "ip",
      ["netns", "exec", ns, process.execPath, "--import", "tsx", HARNESS, "srv", JSON.stringify(SERVER_CONFIG)],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    children.push(harness);
    let out = "";
    let err = "";
    harness.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    harness.stderr?.on("data", (d: Buffer) => {
      err += d.toString();
    });
    await waitFor("harness ready", () => {
      if (out.includes("ready")) return true;
      if (harness.exitCode !== null) throw new Error(`Harness exited: ${err}`);
      return undefined;
    });
    const leases = join(dir, "dhclient6.leases");
    const client = spawn(
      "ip",
      [
        "netns",
        "exec",
        ns,
        "dhclient",
        "-6",
        "-d",
        "-1",
        "-sf",
        "/bin/true",
        "-lf",
        leases,
        "-pf",
        join(dir, "dhclient6.pid"),
        "cli",
      ],
      { stdio: "ignore" },
    );
    children.push(client);
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
    const lines = out.split("\n").filter((l) => l.startsWith("{"));
    const types = lines.map((l) => (JSON.parse(l) as { type: number }).type);
    assert.deepEqual(types.slice(0, 2), [1, 3], "SOLICIT then REQUEST");
  });

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
    const send =
      "import socket,sys\ns=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\ns.bind((sys.argv[1],0))\ns.send(bytes.fromhex(sys.argv[2]))";
    await inNs("python3", "-c", send, "srv", Buffer.from(bytes).toString("hex"));
  }
});
