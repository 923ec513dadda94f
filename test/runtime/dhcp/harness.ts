/**
 * Test harness for the DHCP agent's integration tests: uniquely named namespaces (`vmnt-` prefix) that are always
 * removed, `ip -json` readers, and real DHCP clients run in a guest namespace with a private mount and UTS namespace,
 * so the files they write (resolv.conf, leases, DUIDs) land in a temp dir and nothing of the host changes.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Why these tests cannot run here (not root, `ip`/`unshare` missing), or undefined. */
export function rootSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root to create network namespaces";
  for (const tool of ["ip", "unshare", "mount"]) {
    const r = spawnSync(tool, ["--version"], { stdio: "ignore" });
    if (r.error !== undefined) return `"${tool}" is missing`;
  }
  return undefined;
}

/** The first of `paths` that does not exist, as a skip reason, or undefined when all exist. */
export function missingTool(...paths: string[]): string | undefined {
  const missing = paths.find((p) => !existsSync(p));
  return missing === undefined ? undefined : `"${missing}" is missing`;
}

/** `ip -n <ns> ...`. */
export async function ipIn(ns: string, ...args: string[]): Promise<string> {
  return (await run("ip", ["-n", ns, ...args])).stdout;
}

/** Runs a command inside a namespace. */
export async function execIn(ns: string, ...args: string[]): Promise<string> {
  return (await run("ip", ["netns", "exec", ns, ...args])).stdout;
}

/** `ip -json addr show dev` as (family, local/prefix, scope) triples. */
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

/** `ip -json route` of one family, as `dst via gateway` strings ("default via 10.244.1.1"). */
export async function routes(ns: string, family: "-4" | "-6", dev: string): Promise<string[]> {
  const out = JSON.parse(await ipIn(ns, family, "-json", "route", "show", "dev", dev)) as {
    dst: string;
    gateway?: string;
  }[];
  return out.map((r) => (r.gateway === undefined ? r.dst : `${r.dst} via ${r.gateway}`));
}

/** The MTU of a link. */
export async function mtu(ns: string, dev: string): Promise<number> {
  const out = JSON.parse(await ipIn(ns, "-json", "link", "show", "dev", dev)) as { mtu: number }[];
  return out[0]?.mtu ?? 0;
}

/** Polls `probe` until it returns a value, or throws after `ms`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Namespaces, processes and a temp dir of one test file; `cleanup()` removes them all. */
export class Lab {
  readonly suffix = randomBytes(3).toString("hex");
  readonly dir = mkdtempSync(join(tmpdir(), "vmnt-dhcp-"));
  readonly #namespaces: string[] = [];
  readonly #children: ChildProcess[] = [];

  /** Creates `vmnt-<role>-<suffix>` with DAD off, so link-local addresses are usable at once. */
  async netns(role: string): Promise<string> {
    const name = `vmnt-${role}-${this.suffix}`;
    await run("ip", ["netns", "add", name]);
    this.#namespaces.push(name);
    await execIn(name, "sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.accept_dad=0");
    await ipIn(name, "link", "set", "lo", "up");
    return name;
  }

  /** Starts a long-running command in a namespace; it is killed in cleanup(). */
  spawnIn(ns: string, args: readonly string[]): ChildProcess {
    const child = spawn("ip", ["netns", "exec", ns, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    this.#children.push(child);
    return child;
  }

  /**
   * A client's private root: `<dir>/<name>/etc` (with Debian's dhclient rfc3442 hook, an empty resolv.conf) bound
   * over /etc, tmpfs on /run and /var/lib/dhcp*, and a new UTS namespace so a host-name option cannot rename the
   * machine. Returns the shell prefix to run inside it and the etc dir to read back.
   */
  clientRoot(name: string): { etc: string; wrap: (command: string) => string[] } {
    const etc = join(this.dir, name, "etc");
    mkdirSync(join(etc, "dhcp", "dhclient-exit-hooks.d"), { recursive: true });
    mkdirSync(join(etc, "dhcp", "dhclient-enter-hooks.d"), { recursive: true });
    const hook = "/etc/dhcp/dhclient-exit-hooks.d/rfc3442-classless-routes";
    if (existsSync(hook)) cpSync(hook, join(etc, "dhcp", "dhclient-exit-hooks.d", "rfc3442-classless-routes"));
    if (existsSync("/etc/dhcp/dhclient.conf")) cpSync("/etc/dhcp/dhclient.conf", join(etc, "dhcp", "dhclient.conf"));
    // dhclient-script checks /etc/fstab before writing resolv.conf.
    writeFileSync(join(etc, "fstab"), "");
    writeFileSync(join(etc, "resolv.conf"), "");
    const mounts = [
      `mount --bind ${etc} /etc`,
      "mount -t tmpfs vmnt /run",
      "mount -t tmpfs vmnt /var/lib/dhcp",
      "mount -t tmpfs vmnt /var/lib/dhcpcd",
    ].join(" && ");
    return {
      etc,
      wrap: (command) => [
        "unshare",
        "-m",
        "-u",
        "--propagation",
        "private",
        "sh",
        "-c",
        `${mounts} && exec ${command}`,
      ],
    };
  }

  /** Kills what was started (by pid) and deletes the namespaces and the temp dir. */
  async cleanup(): Promise<void> {
    for (const child of this.#children) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(timer);
    }
    for (const ns of this.#namespaces) await run("ip", ["netns", "del", ns]).catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Waits for a child to exit (or kills it after `ms`); returns its exit code. */
export function exitOf(child: ChildProcess, ms = 15_000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), ms);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}
