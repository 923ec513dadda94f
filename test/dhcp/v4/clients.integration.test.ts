import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { Dhcp4ServerConfig } from "../../../src/dhcp/v4/config.ts";
import { bridgeClient, GUEST_MAC } from "./helpers.ts";

// Real clients against the real server core: busybox udhcpc, then ISC dhclient, in a namespace of our own, talking
// over a veth pair to the server behind a minimal UDP harness. Needs root and the clients; skipped otherwise.
const canRun = process.getuid?.() === 0 && ["/usr/sbin/udhcpc", "/usr/sbin/dhclient"].every((f) => existsSync(f));

const suffix = randomBytes(4).toString("hex");
// The server and the guest each get a namespace, as a pod and a VM would, joined by a veth pair.
const ns = `vmnt-d4s-${suffix}`;
const guestNs = `vmnt-d4c-${suffix}`;
const harness = fileURLToPath(new URL("./udp-harness.ts", import.meta.url));
const config: Dhcp4ServerConfig = {
  interfaces: [{ name: "s0", serverIdentifier: "169.254.75.10", clients: [{ ...bridgeClient, mac: GUEST_MAC }] }],
};

function ip(...args: string[]): void {
  execFileSync("ip", ["-n", ns, ...args], { stdio: "pipe" });
}

function guestIp(...args: string[]): void {
  execFileSync("ip", ["-n", guestNs, ...args], { stdio: "pipe" });
}

async function waitFor(condition: () => boolean, message: string): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > 15_000) throw new Error(message);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function parseEnv(text: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) env.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return env;
}

describe("Dhcp4Server with real DHCP clients over a veth pair", { skip: !canRun }, () => {
  let dir = "";
  let server: ChildProcess | undefined;
  let serverOutput = "";
  let client: ChildProcess | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "vmnt-d4-"));
    execFileSync("ip", ["netns", "add", ns]);
    execFileSync("ip", ["netns", "add", guestNs]);
    ip("link", "add", "c0", "address", GUEST_MAC, "type", "veth", "peer", "name", "s0");
    ip("link", "set", "c0", "netns", guestNs);
    ip("addr", "add", "169.254.75.10/16", "dev", "s0");
    for (const dev of ["lo", "s0"]) ip("link", "set", dev, "up");
    for (const dev of ["lo", "c0"]) guestIp("link", "set", dev, "up");
    // Limited broadcast needs a route; this one exists only inside the test namespace.
    ip("route", "add", "255.255.255.255/32", "dev", "s0");
    // The guest's unicast RELEASE comes from its new address; without a route back, rp_filter would drop it.
    ip("route", "add", "10.244.1.0/24", "dev", "s0");
    server = spawn("ip", ["netns", "exec", ns, process.execPath, "--import", "tsx", harness, JSON.stringify(config)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    server.stdout?.on("data", (d: Buffer) => {
      serverOutput += d.toString();
    });
    await waitFor(() => serverOutput.includes("ready"), "DHCP harness did not start");
  });

  after(() => {
    for (const child of [client, server]) {
      if (child?.pid !== undefined && child.exitCode === null) child.kill("SIGKILL");
    }
    for (const name of [ns, guestNs]) {
      try {
        execFileSync("ip", ["netns", "del", name], { stdio: "ignore" });
      } catch {
        // Already gone (setup failed before creating it).
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it("configures the client with every option as udhcpc understands it", async () => {
    const out = join(dir, "bound.env");
    const released = join(dir, "released");
    const script = join(dir, "script.sh");
    // The address and a route to the server let udhcpc's unicast RELEASE leave later; the namespace is ours.
    const bound = `ip addr add "$ip/$mask" dev "$interface"; ip route add 169.254.0.0/16 dev "$interface"; env > ${out}.new; mv ${out}.new ${out}`;
    const deconfig = `[ -f ${out} ] && touch ${released}`;
    writeFileSync(script, `#!/bin/sh\ncase "$1" in\nbound) ${bound} ;;\ndeconfig) ${deconfig} ;;\nesac\nexit 0\n`, {
      mode: 0o755,
    });
    const options = "-O search -O staticroutes -O mtu -O tftp -O bootfile -O 240".split(" ");
    const udhcpc = ["udhcpc", "-i", "c0", "-f", "-n", "-t", "4", "-T", "1", "-s", script, ...options];
    client = spawn("ip", ["netns", "exec", guestNs, ...udhcpc], { stdio: "ignore" });
    await waitFor(() => existsSync(out), "udhcpc did not bind");
    // SIGUSR2 makes udhcpc release its lease (a unicast RELEASE to the server identifier), then run deconfig.
    client.kill("SIGUSR2");
    await waitFor(() => existsSync(released), "udhcpc did not release");
    await waitFor(() => serverOutput.includes("releases 1\n"), "the server did not see the RELEASE");
    const exited = new Promise((resolve) => client?.once("exit", resolve));
    client.kill("SIGTERM");
    await exited;
    const env = parseEnv(readFileSync(out, "utf8"));
    assert.equal(env.get("ip"), "10.244.1.5");
    assert.equal(env.get("subnet"), "255.255.255.0");
    assert.equal(env.get("mask"), "24");
    assert.equal(env.get("broadcast"), "10.244.1.255");
    assert.equal(env.get("router"), "10.244.1.1");
    assert.equal(env.get("dns"), "10.96.0.10");
    assert.equal(env.get("domain"), "default.svc.cluster.local");
    assert.equal(env.get("search"), "default.svc.cluster.local svc.cluster.local cluster.local");
    assert.equal(env.get("staticroutes"), "10.96.0.0/12 10.244.1.1 0.0.0.0/0 10.244.1.1");
    assert.equal(env.get("mtu"), "1450");
    assert.equal(env.get("hostname"), "vm1");
    assert.equal(env.get("ntpsrv"), "10.0.0.5");
    assert.equal(env.get("tftp"), "tftp.example");
    assert.equal(env.get("bootfile"), "pxelinux.0");
    assert.equal(env.get("serverid"), "169.254.75.10");
    assert.equal(env.get("lease"), "86313600");
    assert.equal(env.get("opt240"), "68656c6c6f");
  });

  it("configures ISC dhclient, which reads option 119 and option 121 with its own decoders", async () => {
    guestIp("addr", "flush", "dev", "c0");
    const out = join(dir, "dhclient.env");
    const script = join(dir, "dhclient-script.sh");
    writeFileSync(
      script,
      `#!/bin/sh\nif [ "$reason" = BOUND ]; then env > ${out}.new; mv ${out}.new ${out}; fi\nexit 0\n`,
      {
        mode: 0o755,
      },
    );
    const conf = join(dir, "dhclient.conf");
    writeFileSync(
      conf,
      [
        "option rfc3442-classless-static-routes code 121 = array of unsigned integer 8;",
        "request subnet-mask, broadcast-address, routers, domain-name, domain-name-servers, domain-search,",
        "  host-name, interface-mtu, rfc3442-classless-static-routes, ntp-servers;",
        "",
      ].join("\n"),
    );
    const files = ["-cf", conf, "-sf", script, "-lf", join(dir, "dhclient.leases"), "-pf", join(dir, "dhclient.pid")];
    client = spawn("ip", ["netns", "exec", guestNs, "dhclient", "-4", "-d", "-1", ...files, "c0"], { stdio: "ignore" });
    await waitFor(() => existsSync(out), "dhclient did not bind");
    const exited = new Promise((resolve) => client?.once("exit", resolve));
    client.kill("SIGTERM");
    await exited;
    const env = parseEnv(readFileSync(out, "utf8"));
    assert.equal(env.get("new_ip_address"), "10.244.1.5");
    assert.equal(env.get("new_subnet_mask"), "255.255.255.0");
    assert.equal(env.get("new_broadcast_address"), "10.244.1.255");
    assert.equal(env.get("new_routers"), "10.244.1.1");
    assert.equal(env.get("new_domain_name_servers"), "10.96.0.10");
    assert.equal(env.get("new_domain_name"), "default.svc.cluster.local");
    assert.equal(env.get("new_domain_search"), "default.svc.cluster.local. svc.cluster.local. cluster.local.");
    assert.equal(env.get("new_rfc3442_classless_static_routes"), "12 10 96 10 244 1 1 0 10 244 1 1");
    assert.equal(env.get("new_interface_mtu"), "1450");
    assert.equal(env.get("new_host_name"), "vm1");
    assert.equal(env.get("new_ntp_servers"), "10.0.0.5");
    assert.equal(env.get("new_dhcp_server_identifier"), "169.254.75.10");
    assert.equal(env.get("new_dhcp_lease_time"), "86313600");
  });

  it("saw two DISCOVER/REQUEST exchanges and udhcpc's RELEASE, and dropped nothing", async () => {
    const exited = new Promise((resolve) => server?.once("exit", resolve));
    server?.kill("SIGTERM");
    await exited;
    const report = JSON.parse(serverOutput.slice(serverOutput.indexOf("{"))) as {
      stats: { sent: unknown; releases: number; dropped: Record<string, number> };
      leases: { state: string; ip: string }[];
    };
    assert.deepEqual(report.stats.sent, { offer: 2, ack: 2, nak: 0 });
    assert.equal(report.stats.releases, 1);
    assert.deepEqual(
      Object.entries(report.stats.dropped).filter(([, n]) => n > 0),
      [],
    );
    assert.deepEqual(
      report.leases.map((l) => [l.state, l.ip]),
      [["bound", "10.244.1.5"]],
    );
  });
});
