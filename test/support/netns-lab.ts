/**
 * What the namespace-level integration tests share (the DHCP agent's and the dataplane end-to-end ones): `ip -json`
 * readers, polling, a udhcpc script that applies and records a lease, and {@link NetnsLab}, which creates `vmnt-`
 * namespaces, runs real clients in them with a private /etc, and removes everything it made.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Why namespace tests cannot run here (not root, one of `tools` missing), or undefined. */
export function netnsSkipReason(...tools: string[]): string | undefined {
  if (process.getuid?.() !== 0) return "needs root to create network namespaces";
  const missing = tools.find((tool) => spawnSync(tool, ["--version"], { stdio: "ignore" }).error !== undefined);
  return missing === undefined ? undefined : `"${missing}" is missing`;
}

/** The first of `paths` that does not exist, as a skip reason, or undefined when all exist. */
export function missingPath(...paths: string[]): string | undefined {
  const missing = paths.find((p) => !existsSync(p));
  return missing === undefined ? undefined : `"${missing}" is missing`;
}

/** `ip -n <ns> ...`. */
export async function ipIn(ns: string, ...args: string[]): Promise<string> {
  return (await run("ip", ["-n", ns, ...args])).stdout;
}

/** Runs a command inside a namespace; returns stdout. */
export async function execIn(ns: string, ...args: string[]): Promise<string> {
  return (await run("ip", ["netns", "exec", ns, ...args], { timeout: 30_000 })).stdout;
}

/** Runs a command inside a namespace; returns its exit code and output instead of throwing. */
export async function tryIn(ns: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("ip", ["netns", "exec", ns, ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Global and link-local addresses of a device as `address/prefix` (IPv4 and IPv6), with scope. */
export async function addresses(ns: string, dev: string): Promise<{ family: string; cidr: string; scope: string }[]> {
  const out = JSON.parse(await ipIn(ns, "-json", "addr", "show", "dev", dev)) as {
    addr_info: { family: string; local: string; prefixlen: number; scope: string }[];
  }[];
  return (out[0]?.addr_info ?? []).map((a) => ({
    family: a.family,
    cidr: `${a.local}/${a.prefixlen}`,
    scope: a.scope,
  }));
}

/** Routes of one family through `dev`, as `dst` or `dst via gateway` ("default via 10.244.1.1"). */
export async function routes(ns: string, family: "-4" | "-6", dev: string): Promise<string[]> {
  const out = JSON.parse(await ipIn(ns, family, "-json", "route", "show", "dev", dev)) as {
    dst: string;
    gateway?: string;
  }[];
  return out.map((r) => (r.gateway === undefined ? r.dst : `${r.dst} via ${r.gateway}`));
}

/** A link's MTU and MAC. */
export async function linkOf(ns: string, dev: string): Promise<{ mtu: number; mac: string }> {
  const out = JSON.parse(await ipIn(ns, "-json", "link", "show", "dev", dev)) as { mtu: number; address: string }[];
  return { mtu: out[0]?.mtu ?? 0, mac: out[0]?.address ?? "" };
}

/** Polls `probe` until it returns a value, or throws after `ms`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits for a child to exit (killing it after `ms`); returns its exit code. */
export function exitOf(child: ChildProcess, ms = 20_000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), ms);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** A udhcpc script that applies the lease (address, MTU, option 121 or router) and records resolv.conf and env. */
export function udhcpcScript(dir: string, name: string): { script: string; resolv: string; env: string } {
  const resolv = join(dir, `${name}.resolv.conf`);
  const env = join(dir, `${name}.env`);
  const script = join(dir, `${name}.sh`);
  writeFileSync(
    script,
    `#!/bin/sh
case "$1" in
deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
bound|renew)
  ip -4 addr flush dev "$interface"
  ip addr add "$ip/$mask" dev "$interface"
  [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
  if [ -n "$staticroutes" ]; then
    set -- $staticroutes
    while [ $# -ge 2 ]; do
      if [ "$2" = 0.0.0.0 ]; then ip route replace "$1" dev "$interface"; else ip route replace "$1" via "$2" dev "$interface"; fi
      shift 2
    done
  elif [ -n "$router" ]; then
    ip route replace default via "\${router%% *}" dev "$interface"
  fi
  { [ -n "$search" ] && echo "search $search"; for d in $dns; do echo "nameserver $d"; done; } > ${resolv}
  env > ${env}
  ;;
esac
exit 0
`,
    { mode: 0o755 },
  );
  return { script, resolv, env };
}

/** `KEY=value` lines as a map. */
export function envOf(path: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) out.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return out;
}

/** A child started by {@link NetnsLab.spawnIn}: `out()` is what it wrote so far, stdout and stderr together. */
export type LabChild = ChildProcess & { out: () => string };

/** Options of {@link NetnsLab.clientRoot}. */
export interface ClientRootOptions {
  /**
   * Add a dhclient exit hook appending `$reason new_host_name=... uts=...` to `<etc>/vmnet-record`, and name the
   * client's UTS namespace "localhost" so dhclient-script applies a host-name option (inside it only).
   */
  readonly recordHostName?: boolean;
}

/** Namespaces, child processes and a temp dir of one test file; `cleanup()` removes them all. */
export class NetnsLab {
  readonly suffix = randomBytes(3).toString("hex");
  readonly dir: string;
  /** The namespaces made by {@link netns}, to delete. */
  protected readonly namespaces: string[] = [];
  readonly #children: ChildProcess[] = [];

  /** `dirPrefix` names the temp dir (`vmnt-dhcp-`, `vmnt-e2e-`). */
  constructor(dirPrefix: string) {
    this.dir = mkdtempSync(join(tmpdir(), dirPrefix));
  }

  /** Creates `vmnt-<role>-<suffix>` with DAD off, so link-local addresses are usable at once (a VM's NIC has no wait). */
  async netns(role: string): Promise<string> {
    const name = `vmnt-${role}-${this.suffix}`;
    await run("ip", ["netns", "add", name]);
    this.namespaces.push(name);
    await execIn(name, "sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.accept_dad=0");
    await ipIn(name, "link", "set", "lo", "up");
    return name;
  }

  /** Starts a long-running command in a namespace; it is killed in cleanup(). Output is collected. */
  spawnIn(ns: string, args: readonly string[]): LabChild {
    const child = spawn("ip", ["netns", "exec", ns, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const collect = (d: Buffer) => {
      out += d.toString();
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    this.#children.push(child);
    return Object.assign(child, { out: () => out });
  }

  /**
   * A client's private root: `<dir>/<name>/etc` (with Debian's dhclient rfc3442 hook, an empty resolv.conf) bound
   * over /etc, tmpfs on /run and /var/lib/dhcp*, and a new UTS namespace so a host-name option cannot rename the
   * machine. Returns the etc dir to read back and the argv that runs a shell command inside it.
   */
  clientRoot(name: string, options: ClientRootOptions = {}): { etc: string; wrap: (command: string) => string[] } {
    const etc = join(this.dir, name, "etc");
    const exitHooks = join(etc, "dhcp", "dhclient-exit-hooks.d");
    mkdirSync(exitHooks, { recursive: true });
    mkdirSync(join(etc, "dhcp", "dhclient-enter-hooks.d"), { recursive: true });
    const hook = "/etc/dhcp/dhclient-exit-hooks.d/rfc3442-classless-routes";
    if (existsSync(hook)) cpSync(hook, join(exitHooks, "rfc3442-classless-routes"));
    if (existsSync("/etc/dhcp/dhclient.conf")) cpSync("/etc/dhcp/dhclient.conf", join(etc, "dhcp", "dhclient.conf"));
    // dhclient-script checks /etc/fstab before writing resolv.conf.
    writeFileSync(join(etc, "fstab"), "");
    writeFileSync(join(etc, "resolv.conf"), "");
    const mounts = [
      `mount --bind ${etc} /etc`,
      "mount -t tmpfs vmnt /run",
      "mount -t tmpfs vmnt /var/lib/dhcp",
      "mount -t tmpfs vmnt /var/lib/dhcpcd",
    ];
    if (options.recordHostName === true) {
      writeFileSync(
        join(exitHooks, "zz-vmnet-record"),
        'echo "$reason new_host_name=$new_host_name uts=$(hostname)" >> /etc/vmnet-record\n',
      );
      writeFileSync(join(etc, "vmnet-record"), "");
      mounts.push("hostname localhost");
    }
    const setup = mounts.join(" && ");
    return {
      etc,
      wrap: (command) => ["unshare", "-m", "-u", "--propagation", "private", "sh", "-c", `${setup} && exec ${command}`],
    };
  }

  /** Stops every child still running: SIGTERM, then SIGKILL after 3 s. */
  async stopChildren(): Promise<void> {
    for (const child of this.#children) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(timer);
    }
  }

  /** Kills what was started (by pid) and deletes the namespaces and the temp dir. */
  async cleanup(): Promise<void> {
    await this.stopChildren();
    for (const ns of this.namespaces) await run("ip", ["netns", "del", ns]).catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
