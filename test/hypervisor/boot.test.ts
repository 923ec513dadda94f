/**
 * Boots the project-built guest under QEMU TCG: one guest with no NIC answering the guest agent over virtio-serial,
 * one with a user-mode virtio NIC leasing 10.0.2.15 from QEMU's built-in DHCP server, every NIC model, and NIC
 * hotplug. They boot in parallel.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { masqueradeDhcp6Config } from "../../src/dhcp/v6/server.ts";
import { Accel, accelArgs, probeAccel, serialBootArgs } from "../../src/hypervisor/accel.ts";
import { QmpClient } from "../../src/hypervisor/qmp.ts";
import {
  buildGuestImage,
  GUEST_READY_MARKER,
  type GuestImage,
  GuestNetMode,
  guestCommandLine,
  guestLeaseMarker,
} from "../../src/lab/guest-image.ts";

const QEMU = "qemu-system-x86_64";
const DHCP6_HARNESS = fileURLToPath(new URL("../dhcp/v6/udp-harness.ts", import.meta.url));
// About 10-20 s on an idle 2-core machine; generous because the machine is shared and TCG is CPU-bound.
const BOOT_TIMEOUT_MS = 120_000;

function skipReason(): string | undefined {
  const qemu = spawnSync(QEMU, ["--version"]);
  if (qemu.error !== undefined || qemu.status !== 0) return `${QEMU} is missing`;
  if (spawnSync("ldd", ["/usr/sbin/qemu-ga"]).status !== 0) return "qemu-guest-agent is missing";
  return undefined;
}

/** A running QEMU whose serial console is captured. */
interface Guest {
  readonly child: ChildProcess;
  /** Everything the serial console printed so far. */
  console(): string;
  /** Resolves with the console text from `marker` to the end of its line, once printed. */
  waitFor(marker: string, timeoutMs: number): Promise<string>;
  kill(): Promise<void>;
}

function startGuest(
  image: GuestImage,
  append: string,
  extraArgs: readonly string[],
  wrapper: readonly string[] = [],
): Guest {
  const args = [...serialBootArgs(Accel.Tcg, { kernel: image.kernel, initrd: image.initrd, append }), ...extraArgs];
  // `ip netns exec` execs QEMU in place, so the child's pid is QEMU's and kill() reaches it.
  const [command, ...rest] = [...wrapper, QEMU, ...args];
  const child = spawn(command ?? QEMU, rest, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    output += chunk.toString("latin1");
    for (const check of waiters) check();
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  let exited = false;
  child.on("exit", () => {
    exited = true;
    for (const check of waiters) check();
  });
  return {
    child,
    console: () => output,
    waitFor: (marker, timeoutMs) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const at = output.indexOf(marker);
          const eol = at < 0 ? -1 : output.indexOf("\n", at);
          if (eol >= 0) {
            done();
            resolve(output.slice(at, eol).trim());
          } else if (exited) {
            done();
            reject(new Error(`QEMU exited before "${marker}"; console:\n${output.slice(-2000)}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`No "${marker}" within ${timeoutMs} ms; console:\n${output.slice(-2000)}`));
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGKILL");
      await gone;
    },
  };
}

/** A minimal line-oriented QGA client, test-local on purpose (src/hypervisor/qga.ts is the real one). */
class RawQga {
  private buffer = "";
  private readonly lines: string[] = [];
  private wake: (() => void) | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding("latin1");
    socket.on("data", (data: string) => {
      // guest-sync-delimited answers are prefixed with 0xFF so a client can drop half-read junk from before it.
      this.buffer += data.replaceAll("\xff", "");
      for (let nl = this.buffer.indexOf("\n"); nl >= 0; nl = this.buffer.indexOf("\n")) {
        const line = this.buffer.slice(0, nl).trim();
        this.buffer = this.buffer.slice(nl + 1);
        if (line !== "") this.lines.push(line);
      }
      this.wake?.();
    });
  }

  static connect(path: string): Promise<RawQga> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      socket.once("connect", () => resolve(new RawQga(socket)));
      socket.once("error", reject);
    });
  }

  /**
   * Sends one command and returns the first reply (an object with "return" or "error") that `accept` takes; replies it
   * rejects (stale answers to earlier commands) are dropped.
   */
  async execute(
    command: string,
    args: object | undefined,
    timeoutMs: number,
    accept: (reply: Record<string, unknown>) => boolean = () => true,
  ): Promise<Record<string, unknown>> {
    this.socket.write(
      `${JSON.stringify(args === undefined ? { execute: command } : { execute: command, arguments: args })}\n`,
    );
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.lines.shift();
      if (line !== undefined) {
        const parsed: unknown = JSON.parse(line);
        if (typeof parsed !== "object" || parsed === null || !("return" in parsed || "error" in parsed)) continue;
        const reply = parsed as Record<string, unknown>;
        if (accept(reply)) return reply;
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`No reply to "${command}" within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /**
   * Until qemu-ga opens its port, QEMU holds back what the host writes and delivers it all at once later, so earlier
   * attempts get answered too: retry guest-sync-delimited with a fresh id until the agent echoes that id, dropping the
   * answers to older attempts.
   */
  async sync(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let id = 1000; Date.now() < deadline; id++) {
      try {
        await this.execute("guest-sync-delimited", { id }, 1_500, (reply) => reply.return === id);
        return;
      } catch {
        // No answer yet: the agent is still starting.
      }
    }
    throw new Error(`The guest agent did not answer guest-sync within ${timeoutMs} ms`);
  }

  /** A whole guest file through guest-file-open/read/close. */
  async readFile(path: string): Promise<string> {
    const opened = await this.execute("guest-file-open", { path, mode: "r" }, 5_000);
    const handle = opened.return;
    assert.equal(typeof handle, "number", `cannot open "${path}" in the guest: ${JSON.stringify(opened)}`);
    try {
      let text = "";
      for (;;) {
        const read = await this.execute("guest-file-read", { handle, count: 65536 }, 5_000);
        const chunk = read.return as { "buf-b64": string; eof: boolean } | undefined;
        assert.ok(chunk !== undefined, `cannot read "${path}" in the guest: ${JSON.stringify(read)}`);
        text += Buffer.from(chunk["buf-b64"], "base64").toString("utf8");
        if (chunk.eof) return text;
      }
    } finally {
      await this.execute("guest-file-close", { handle }, 5_000);
    }
  }

  /** Runs `path` in the guest through guest-exec and returns its stdout once it exits 0. */
  async exec(path: string, args: readonly string[]): Promise<string> {
    const started = await this.execute("guest-exec", { path, arg: args, "capture-output": true }, 5_000);
    const pid = (started.return as { pid?: number } | undefined)?.pid;
    assert.equal(typeof pid, "number", `cannot run "${path}" in the guest: ${JSON.stringify(started)}`);
    for (let i = 0; i < 100; i++) {
      const status = await this.execute("guest-exec-status", { pid }, 5_000);
      const result = status.return as { exited: boolean; exitcode?: number; "out-data"?: string } | undefined;
      if (result?.exited === true) {
        assert.equal(result.exitcode, 0, `"${path}" failed in the guest: ${JSON.stringify(result)}`);
        return Buffer.from(result["out-data"] ?? "", "base64").toString("utf8");
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`"${path}" did not exit in the guest`);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** QEMU arguments for a virtio-serial guest agent channel on a Unix socket QEMU listens on. */
function qgaArgs(socketPath: string): string[] {
  return [
    "-chardev",
    `socket,id=qga0,path=${socketPath},server=on,wait=off`,
    "-device",
    "virtio-serial-pci",
    "-device",
    "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0",
  ];
}

/** A TCP port free on 127.0.0.1 right now (QEMU's hostfwd needs a concrete port). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

/**
 * Sends `request` to 127.0.0.1:`port` and collects the answer until the peer closes or `expectBytes` arrived. QEMU's
 * hostfwd accepts before the guest does, so a connection the guest never took is retried.
 */
async function tcpExchange(port: number, request: string, expectBytes?: number): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, "127.0.0.1");
      let data = "";
      const timer = setTimeout(() => {
        socket.destroy();
        resolve(data);
      }, 10_000);
      socket.setEncoding("latin1");
      socket.on("connect", () => socket.write(request));
      socket.on("data", (chunk: string) => {
        data += chunk;
        if (expectBytes !== undefined && data.length >= expectBytes) {
          clearTimeout(timer);
          socket.destroy();
          resolve(data);
        }
      });
      socket.on("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.on("close", () => {
        clearTimeout(timer);
        resolve(data);
      });
    });
    if (answer !== "" || attempt >= 4) return answer;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** The listed keys of a parsed JSON object. */
function pick(value: unknown, keys: readonly string[]): Record<string, unknown> {
  assert.ok(typeof value === "object" && value !== null, `not an object: ${JSON.stringify(value)}`);
  const record = value as Record<string, unknown>;
  return Object.fromEntries(keys.map((k) => [k, record[k]]));
}

interface GuestInterface {
  readonly name: string;
  readonly "hardware-address"?: string;
  readonly "ip-addresses"?: readonly { readonly "ip-address": string; readonly "ip-address-type": string }[];
}

const skip = skipReason();

function netnsSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root for a network namespace with a tap";
  if (spawnSync("ip", ["-V"]).status !== 0) return "iproute2 is missing";
  if (spawnSync("busybox", ["udhcpd", "--help"]).error !== undefined) return "busybox (udhcpd) is missing";
  return undefined;
}

describe("guest boot under TCG", { skip, concurrency: true }, () => {
  let imagePromise: Promise<GuestImage> | undefined;
  const image = (): Promise<GuestImage> => {
    imagePromise ??= buildGuestImage();
    return imagePromise;
  };

  test("guest agent answers guest-ping and guest-network-get-interfaces over virtio-serial with -nic none", async () => {
    const dir = await mkdtemp(join(tmpdir(), "vmnt-boot-"));
    const socketPath = join(dir, "qga.sock");
    const guest = startGuest(await image(), guestCommandLine({ net: [], hostname: "vmnt-qga" }), [
      "-nic",
      "none",
      ...qgaArgs(socketPath),
    ]);
    let qga: RawQga | undefined;
    try {
      await guest.waitFor(GUEST_READY_MARKER, BOOT_TIMEOUT_MS);
      assert.match(guest.console(), /vmnet-guest: qemu-ga started/);
      qga = await RawQga.connect(socketPath);
      await qga.sync(60_000);
      assert.deepEqual(await qga.execute("guest-ping", undefined, 5_000), { return: {} });
      const reply = await qga.execute("guest-network-get-interfaces", undefined, 5_000);
      assert.ok(Array.isArray(reply.return), `unexpected reply ${JSON.stringify(reply)}`);
      const interfaces = reply.return as GuestInterface[];
      // No NIC: the loopback is all there is, with the addresses init brought up.
      assert.deepEqual(
        interfaces.map((i) => i.name),
        ["lo"],
      );
      const lo = interfaces[0];
      assert.ok(lo !== undefined);
      assert.ok(lo["ip-addresses"]?.some((a) => a["ip-address"] === "127.0.0.1" && a["ip-address-type"] === "ipv4"));
      const hostname = await qga.execute("guest-get-host-name", undefined, 5_000);
      assert.deepEqual(hostname, { return: { "host-name": "vmnt-qga" } });
    } finally {
      qga?.close();
      await guest.kill();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("init's udhcpc leases 10.0.2.15 from QEMU's user-mode DHCP; SLAAC, the HTTP page and TCP echo work", async () => {
    const mac = "52:54:00:12:34:56";
    const dir = await mkdtemp(join(tmpdir(), "vmnt-boot-"));
    const socketPath = join(dir, "qga.sock");
    const [httpPort, echoPort] = [await freePort(), await freePort()];
    const guest = startGuest(await image(), guestCommandLine({ hostname: "vmnt-nic" }), [
      "-netdev",
      `user,id=n0,hostfwd=tcp:127.0.0.1:${httpPort}-:80,hostfwd=tcp:127.0.0.1:${echoPort}-:7`,
      "-device",
      `virtio-net-pci,netdev=n0,mac=${mac}`,
      ...qgaArgs(socketPath),
    ]);
    let qga: RawQga | undefined;
    try {
      const lease = await guest.waitFor(guestLeaseMarker("eth0"), BOOT_TIMEOUT_MS);
      assert.equal(lease, "vmnet-guest: lease eth0 10.0.2.15");
      await guest.waitFor(GUEST_READY_MARKER, 60_000);
      // dhcpcd does SLAAC with EUI-64 identifiers on QEMU's fec0::/64.
      assert.equal(
        await guest.waitFor("vmnet-guest: addr6 eth0 ", 60_000),
        "vmnet-guest: addr6 eth0 fec0::5054:ff:fe12:3456",
      );

      qga = await RawQga.connect(socketPath);
      await qga.sync(60_000);
      const lease4: unknown = JSON.parse(await qga.readFile("/run/vmnet/eth0.dhcp4.json"));
      assert.deepEqual(pick(lease4, ["interface", "ip", "prefix", "routers", "dns", "serverId"]), {
        interface: "eth0",
        ip: "10.0.2.15",
        prefix: 24,
        routers: ["10.0.2.2"],
        dns: ["10.0.2.3"],
        serverId: "10.0.2.2",
      });
      assert.match(await qga.readFile("/etc/resolv.conf"), /^nameserver 10\.0\.2\.3$/m);
      const reply = await qga.execute("guest-network-get-interfaces", undefined, 5_000);
      const eth0 = (reply.return as GuestInterface[]).find((i) => i.name === "eth0");
      assert.equal(eth0?.["hardware-address"], mac);
      assert.ok(eth0?.["ip-addresses"]?.some((a) => a["ip-address"] === "10.0.2.15"));

      const page = await tcpExchange(httpPort, "GET / HTTP/1.0\r\n\r\n");
      assert.match(page, /^HTTP\/1\.0 200 OK\r\n/);
      assert.match(page, /^hostname vmnt-nic$/m);
      assert.match(page, /^address eth0 10\.0\.2\.15\/24$/m);
      assert.equal(await tcpExchange(echoPort, "ping vmnet\n", "ping vmnet\n".length), "ping vmnet\n");
    } finally {
      qga?.close();
      await guest.kill();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("every NIC model gets a lease, named in PCI order; udhcpd's MTU, routes (121), DNS and search and a DHCPv6 lease apply", {
    skip: netnsSkipReason(),
  }, async () => {
    const netns = `vmnt-${randomBytes(5).toString("hex")}`;
    const dir = await mkdtemp(join(tmpdir(), "vmnt-boot-"));
    const socketPath = join(dir, "qga.sock");
    let udhcpd: ChildProcess | undefined;
    let dhcp6: ChildProcess | undefined;
    let guest: Guest | undefined;
    let qga: RawQga | undefined;
    try {
      const ipn = (...args: string[]): void => {
        execFileSync("ip", ["-n", netns, ...args]);
      };
      execFileSync("ip", ["netns", "add", netns]);
      ipn("link", "set", "lo", "up");
      ipn("tuntap", "add", "dev", "tap0", "mode", "tap");
      ipn("addr", "add", "192.168.77.1/24", "dev", "tap0");
      // The DHCPv6 server answers from tap0's link-local address; skip DAD so it exists as soon as QEMU attaches.
      execFileSync("ip", ["netns", "exec", netns, "sysctl", "-qw", "net.ipv6.conf.tap0.accept_dad=0"]);
      ipn("link", "set", "tap0", "up");
      const conf = join(dir, "udhcpd.conf");
      await writeFile(
        conf,
        [
          "start 192.168.77.100",
          // One address, since busybox udhcpd picks a pool address from a hash of the MAC.
          "end 192.168.77.100",
          "interface tap0",
          `lease_file ${join(dir, "udhcpd.leases")}`,
          `pidfile ${join(dir, "udhcpd.pid")}`,
          "option subnet 255.255.255.0",
          "option router 192.168.77.1",
          "option dns 192.168.77.53",
          "option domain vmnet.test",
          "option search a.vmnet.test b.vmnet.test",
          "option mtu 1400",
          "option staticroutes 10.200.0.0/16 192.168.77.254, 0.0.0.0/0 192.168.77.1",
          "option lease 600",
          "",
        ].join("\n"),
      );
      await writeFile(join(dir, "udhcpd.leases"), "");
      udhcpd = spawn("ip", ["netns", "exec", netns, "busybox", "udhcpd", "-f", conf], { stdio: "ignore" });
      // The project's DHCPv6 server core behind the DHCPv6 tests' UDP harness, with KubeVirt's masquerade settings.
      const dhcp6Config = masqueradeDhcp6Config({
        bridgeMac: "02:00:00:00:00:00",
        guestAddress: "fd10:0:2::2",
        dns: ["fd10::53"],
        searchDomains: ["v6.vmnet.test"],
      });
      dhcp6 = spawn(
        "ip",
        [
          "netns",
          "exec",
          netns,
          process.execPath,
          "--import",
          "tsx",
          DHCP6_HARNESS,
          "tap0",
          JSON.stringify(dhcp6Config),
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      let dhcp6Output = "";
      const dhcp6Ready = new Promise<void>((resolve, reject) => {
        dhcp6?.stdout?.on("data", (chunk: Buffer) => {
          dhcp6Output += chunk.toString();
          if (dhcp6Output.includes("ready")) resolve();
        });
        dhcp6?.stderr?.on("data", (chunk: Buffer) => {
          dhcp6Output += chunk.toString();
        });
        dhcp6?.on("exit", () => reject(new Error(`The DHCPv6 harness exited: ${dhcp6Output}`)));
      });

      const models = [
        { device: "virtio-net-pci", driver: "virtio_net" },
        { device: "e1000", driver: "e1000" },
        { device: "e1000e", driver: "e1000e" },
        { device: "rtl8139", driver: "8139cp" },
        { device: "ne2k_pci", driver: "ne2k-pci" },
        { device: "pcnet", driver: "pcnet32" },
      ] as const;
      const nicArgs = models.flatMap((m, i) => {
        const mac = `52:54:00:77:00:0${i}`;
        // NIC 0 is a tap in the namespace, served by udhcpd; the others each get their own user-mode network.
        const netdev =
          i === 0 ? "tap,id=n0,ifname=tap0,script=no,downscript=no" : `user,id=n${i},net=10.0.${i + 2}.0/24`;
        return ["-netdev", netdev, "-device", `${m.device},netdev=n${i},mac=${mac}`];
      });
      guest = startGuest(
        await image(),
        guestCommandLine({ net: [GuestNetMode.Dhcp4, GuestNetMode.Dhcp6] }),
        [...nicArgs, ...qgaArgs(socketPath)],
        ["ip", "netns", "exec", netns],
      );

      const leases = await Promise.all(
        models.map((_, i) => guest?.waitFor(guestLeaseMarker(`eth${i}`), BOOT_TIMEOUT_MS)),
      );
      assert.deepEqual(leases, [
        "vmnet-guest: lease eth0 192.168.77.100",
        ...models.slice(1).map((_, i) => `vmnet-guest: lease eth${i + 1} 10.0.${i + 3}.15`),
      ]);
      for (const [i, m] of models.entries())
        assert.match(
          guest.console(),
          new RegExp(`^vmnet-guest: link eth${i} 52:54:00:77:00:0${i} ${m.driver}\\r?$`, "m"),
        );
      assert.match(guest.console(), /^vmnet-guest: modules \d+\r?$/m);

      qga = await RawQga.connect(socketPath);
      await qga.sync(60_000);
      const lease: unknown = JSON.parse(await qga.readFile("/run/vmnet/eth0.dhcp4.json"));
      assert.deepEqual(pick(lease, ["ip", "prefix", "routers", "dns", "domain", "search", "mtu", "staticRoutes"]), {
        ip: "192.168.77.100",
        prefix: 24,
        routers: ["192.168.77.1"],
        dns: ["192.168.77.53"],
        domain: "vmnet.test",
        search: ["a.vmnet.test", "b.vmnet.test"],
        mtu: 1400,
        staticRoutes: ["10.200.0.0/16", "192.168.77.254", "0.0.0.0/0", "192.168.77.1"],
      });
      assert.equal((await qga.readFile("/sys/class/net/eth0/mtu")).trim(), "1400");
      const routes = await qga.exec("/sbin/ip", ["-4", "route", "show", "dev", "eth0"]);
      assert.match(routes, /^default via 192\.168\.77\.1 /m);
      assert.match(routes, /^10\.200\.0\.0\/16 via 192\.168\.77\.254 /m);
      const resolv = await qga.readFile("/etc/resolv.conf");
      assert.match(resolv, /^search( \S+)*( vmnet\.test| a\.vmnet\.test| b\.vmnet\.test){3}/m);
      assert.match(resolv, /^nameserver 192\.168\.77\.53$/m);
      assert.match(resolv, /^nameserver 10\.0\.3\.3$/m);

      // dhcpcd solicits at once (ia_na in its config) with no router advertisement on the tap.
      await dhcp6Ready;
      assert.equal(await guest.waitFor("vmnet-guest: lease6 eth0 ", 60_000), "vmnet-guest: lease6 eth0 fd10:0:2::2");
      const lease6: unknown = JSON.parse(await qga.readFile("/run/vmnet/eth0.dhcp6.json"));
      assert.deepEqual(pick(lease6, ["addresses", "dns", "search"]), {
        addresses: ["fd10:0:2::2"],
        dns: ["fd10::53"],
        search: ["v6.vmnet.test"],
      });
      const resolv6 = await qga.readFile("/etc/resolv.conf");
      assert.match(resolv6, /^nameserver fd10::53$/m);
      assert.match(resolv6, /^search .* v6\.vmnet\.test/m);
      assert.match(await qga.exec("/sbin/ip", ["-6", "addr", "show", "dev", "eth0"]), /inet6 fd10:0:2::2\/128 /);
    } finally {
      qga?.close();
      await guest?.kill();
      udhcpd?.kill("SIGKILL");
      dhcp6?.kill("SIGKILL");
      spawnSync("ip", ["netns", "delete", netns]);
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("a NIC hot-plugged after boot is configured and leases; unplugged it is forgotten, plugged again configured", async () => {
    const dir = await mkdtemp(join(tmpdir(), "vmnt-boot-"));
    const qmpPath = join(dir, "qmp.sock");
    const guest = startGuest(await image(), guestCommandLine({ hostname: "vmnt-hp" }), [
      "-machine",
      "q35",
      "-qmp",
      `unix:${qmpPath},server=on,wait=off`,
      "-device",
      "pcie-root-port,id=hp1,chassis=1,port=1,bus=pcie.0,addr=0x10",
      "-netdev",
      "user,id=n0",
      "-device",
      "virtio-net-pci,netdev=n0,mac=52:54:00:00:0a:00",
    ]);
    let qmp: QmpClient | undefined;
    try {
      await guest.waitFor(GUEST_READY_MARKER, BOOT_TIMEOUT_MS);
      qmp = await QmpClient.connect(qmpPath, { connectTimeoutMs: 10_000 });
      const plug = async (n: number) => {
        await qmp?.execute("netdev_add", { type: "user", id: `h${n}` });
        await qmp?.execute("device_add", {
          driver: "virtio-net-pci",
          id: `hd${n}`,
          netdev: `h${n}`,
          mac: `52:54:00:00:0a:0${n}`,
          bus: "hp1",
        });
      };
      await plug(1);
      assert.equal(
        await guest.waitFor("vmnet-guest: link eth1 ", 60_000),
        "vmnet-guest: link eth1 52:54:00:00:0a:01 virtio_net",
      );
      assert.equal(await guest.waitFor(guestLeaseMarker("eth1"), 60_000), "vmnet-guest: lease eth1 10.0.2.15");
      await qmp.execute("device_del", { id: "hd1" });
      await guest.waitFor("vmnet-guest: unplugged eth1", 60_000);
      await qmp.execute("netdev_del", { id: "h1" });
      await plug(2);
      await guest.waitFor("vmnet-guest: link eth1 52:54:00:00:0a:02 ", 60_000);
    } finally {
      qmp?.close();
      await guest.kill();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("probeAccel answers tcg or kvm and caches the verdict", async () => {
    const dir = await mkdtemp(join(tmpdir(), "vmnt-accel-"));
    try {
      const { kernel, initrd } = await image();
      const first = await probeAccel({ kernel, initrd, timeoutMs: 15_000, cacheDir: dir });
      assert.ok(first === Accel.Tcg || first === Accel.Kvm);
      const started = Date.now();
      assert.equal(await probeAccel({ kernel, initrd, timeoutMs: 15_000, cacheDir: dir }), first);
      assert.ok(Date.now() - started < 2_000, "the second probe should come from the cache");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** A stand-in QEMU: answers --version, records its pid, then hangs (like nested KVM here) or prints the ready marker. */
async function fakeQemu(dir: string, behaviour: "hang" | "ready"): Promise<string> {
  const path = join(dir, `qemu-${behaviour}`);
  const ready = behaviour === "ready" ? `echo "${GUEST_READY_MARKER}"` : "";
  await writeFile(
    path,
    `#!/bin/sh\nif [ "$1" = --version ]; then echo "QEMU emulator version 9.9.9 (fake)"; exit 0; fi\necho $$ >"${dir}/pid-${behaviour}"\necho "$@" >"${dir}/args-${behaviour}"\n${ready}\nexec sleep 300\n`,
  );
  await chmod(path, 0o755);
  return path;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("probeAccel", () => {
  const image = { kernel: "/boot/vmlinuz-test", initrd: "/nonexistent/initrd" };

  test("probeAccel kills a KVM guest that never reaches the ready marker and answers tcg", async () => {
    const dir = await mkdtemp(join(tmpdir(), "vmnt-accel-"));
    try {
      const qemu = await fakeQemu(dir, "hang");
      const kvmDevice = join(dir, "kvm");
      await writeFile(kvmDevice, "");
      assert.equal(await probeAccel({ ...image, qemu, kvmDevice, timeoutMs: 500, cacheDir: dir }), Accel.Tcg);
      const pid = Number(await readFile(join(dir, "pid-hang"), "utf8"));
      assert.equal(alive(pid), false, "the hung QEMU is killed");
      assert.match(await readFile(join(dir, "args-hang"), "utf8"), /-accel kvm .*-kernel \/boot\/vmlinuz-test -initrd/);
      const verdict: unknown = JSON.parse(await readFile(join(dir, "accel-vmlinuz-test-9.9.9.json"), "utf8"));
      assert.equal((verdict as { accel: string }).accel, Accel.Tcg);
      assert.match((verdict as { reason: string }).reason, /no ready marker within 500 ms/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("probeAccel answers kvm when the KVM guest prints the ready marker, and caches it per host boot", async () => {
    const dir = await mkdtemp(join(tmpdir(), "vmnt-accel-"));
    try {
      const qemu = await fakeQemu(dir, "ready");
      const kvmDevice = join(dir, "kvm");
      await writeFile(kvmDevice, "");
      assert.equal(await probeAccel({ ...image, qemu, kvmDevice, timeoutMs: 5_000, cacheDir: dir }), Accel.Kvm);
      assert.equal(alive(Number(await readFile(join(dir, "pid-ready"), "utf8"))), false, "the probe guest is killed");

      // A cached verdict is used without booting, even when KVM has since become unusable ...
      const cacheFile = join(dir, "accel-vmlinuz-test-9.9.9.json");
      await rm(join(dir, "pid-ready"));
      const missing = join(dir, "no-kvm");
      assert.equal(await probeAccel({ ...image, qemu, kvmDevice: missing, cacheDir: dir }), Accel.Kvm);
      assert.equal(existsSync(join(dir, "pid-ready")), false);
      // ... but only within the host boot it was measured in.
      const cached = JSON.parse(await readFile(cacheFile, "utf8")) as Record<string, unknown>;
      await writeFile(cacheFile, JSON.stringify({ ...cached, bootId: "another-boot" }));
      assert.equal(await probeAccel({ ...image, qemu, kvmDevice: missing, cacheDir: dir }), Accel.Tcg);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("accelArgs selects the accelerator", () => {
    assert.deepEqual(accelArgs(Accel.Tcg), ["-accel", "tcg"]);
    assert.deepEqual(accelArgs(Accel.Kvm), ["-accel", "kvm", "-cpu", "host"]);
  });
});
