/**
 * Named network namespaces (`ip netns`, bind mounts under /run/netns) and the veth/link-move helpers tests and the
 * lab need to connect them.
 */
import { assertNetnsName, type Executor, hostExecutor } from "./exec.ts";
import { assertInterfaceName } from "./netlink.ts";

/** Directory where `ip netns add` bind-mounts named namespaces. */
export const NETNS_RUN_DIR = "/run/netns";

/** Options shared by the namespace helpers. */
export interface NetnsOptions {
  readonly executor?: Executor;
}

/** Path of the bind mount of the named namespace, e.g. `/run/netns/vmnt-ab12`. */
export function netnsPath(name: string): string {
  assertNetnsName(name);
  return `${NETNS_RUN_DIR}/${name}`;
}

/** Creates the named namespace (`ip netns add`); fails when it exists. Its loopback is set up. */
export async function createNetns(name: string, options: NetnsOptions = {}): Promise<void> {
  assertNetnsName(name);
  const ex = options.executor ?? hostExecutor;
  await ex.run("ip", ["netns", "add", name]);
  await ex.run("ip", ["-n", name, "link", "set", "dev", "lo", "up"]);
}

/** Deletes the named namespace (`ip netns del`). Links inside it go away with its last reference. */
export async function deleteNetns(name: string, options: NetnsOptions = {}): Promise<void> {
  assertNetnsName(name);
  await (options.executor ?? hostExecutor).run("ip", ["netns", "del", name]);
}

/** Names of all named namespaces (`ip -json netns list`). */
export async function listNetns(options: NetnsOptions = {}): Promise<string[]> {
  const { stdout } = await (options.executor ?? hostExecutor).run("ip", ["-json", "netns", "list"]);
  if (stdout.trim() === "") return [];
  const parsed: unknown = JSON.parse(stdout);
  if (!Array.isArray(parsed)) throw new SyntaxError(`Cannot parse "ip -json netns list" output "${stdout}"`);
  return parsed.flatMap((e: unknown) =>
    typeof e === "object" && e !== null && "name" in e && typeof e.name === "string" ? [e.name] : [],
  );
}

/** One end of a veth pair: its name and the namespace it ends up in. */
export interface VethEnd {
  readonly name: string;
  readonly netns: string;
}

/** Creates a veth pair with `a` in `a.netns` and `b` in `b.netns` in one `ip` call; both ends stay down. */
export async function addVethPair(a: VethEnd, b: VethEnd, options: NetnsOptions = {}): Promise<void> {
  assertInterfaceName(a.name);
  assertInterfaceName(b.name);
  assertNetnsName(a.netns);
  assertNetnsName(b.netns);
  await (options.executor ?? hostExecutor).run("ip", [
    "-n",
    a.netns,
    "link",
    "add",
    "name",
    a.name,
    "type",
    "veth",
    "peer",
    "name",
    b.name,
    "netns",
    b.netns,
  ]);
}

/** Moves link `name` from namespace `from` into namespace `to`, optionally renaming it on the way. */
export async function moveLink(
  name: string,
  namespaces: { readonly from: string; readonly to: string; readonly newName?: string },
  options: NetnsOptions = {},
): Promise<void> {
  assertInterfaceName(name);
  assertNetnsName(namespaces.from);
  assertNetnsName(namespaces.to);
  const rename = namespaces.newName === undefined ? [] : ["name", namespaces.newName];
  if (namespaces.newName !== undefined) assertInterfaceName(namespaces.newName);
  await (options.executor ?? hostExecutor).run("ip", [
    "-n",
    namespaces.from,
    "link",
    "set",
    "dev",
    name,
    "netns",
    namespaces.to,
    ...rename,
  ]);
}
