/**
 * passt: Debian's `passt` runs in the pod netns and translates the guest's L2 frames into the pod's own L4 sockets,
 * so the guest uses the pod IP and gets IPv6 without configuration. QEMU reaches it by `-netdev stream` on its unix
 * socket. One module serves the core `passt` (gate `Passt`), core `passtBinding` (gate `PasstBinding`) and the
 * built-in passt binding plugin (kubevirt-network.md §5.5, §7.5, Appendix C).
 *
 * Debian 12's passt (2023-03) has no vhost-user, so KubeVirt's `<backend type="passt">` is planned as the socket
 * mode; the port forwarding is the same: listed ports, else everything, Istio's ports excluded.
 */
import { isGateEnabled } from "../api/cluster-config.ts";
import type { InterfaceSpec } from "../api/model.ts";
import { guestNic, NON_ROOT_UID, requirePodLink, specOrStableMac } from "./common.ts";
import { PlanError, PlanErrorCode } from "./errors.ts";
import { ISTIO_RESERVED_PORTS } from "./masquerade.ts";
import type { BindingContext, InterfacePlan, ProcessPlan, Sysctl } from "./plan.ts";
import { podIPsOf } from "./pod-facts.ts";

/** Where Debian installs passt. */
export const PASST_BINARY = "/usr/bin/passt";
/** Unix socket paths are limited by `sun_path` (108 bytes with the NUL). */
const SUN_PATH_MAX = 107;

/** The pod sysctls passt needs: ICMP echo sockets and low ports for uid 107 (§5.5). */
export const PASST_SYSCTLS: readonly Sysctl[] = [
  { key: "net.ipv4.ping_group_range", value: "107 107" },
  { key: "net.ipv4.ip_unprivileged_port_start", value: "0" },
];

/** passt's `-t`/`-u` specifiers for an interface. */
export interface PasstPorts {
  readonly tcp: string;
  readonly udp: string;
}

/**
 * The port specifiers: `all` for both when no ports are listed; otherwise the listed ports per protocol (deduplicated:
 * passt rejects overlapping specifiers), `none` for a protocol with none. Istio adds `~<port>` exclusions to TCP, which
 * makes the TCP list non-empty, so the forward-everything default no longer applies (§7.5) and a TCP list of only
 * exclusions means "all but these" to passt.
 */
export function passtPorts(iface: InterfaceSpec, options: { readonly istio?: boolean } = {}): PasstPorts {
  const tcp: string[] = [];
  const udp: string[] = [];
  for (const p of iface.ports) {
    const list = p.protocol === "UDP" ? udp : tcp;
    const text = String(p.port);
    if (!list.includes(text)) list.push(text);
  }
  if (options.istio === true) for (const port of ISTIO_RESERVED_PORTS) tcp.push(`~${port}`);
  if (tcp.length === 0 && udp.length === 0) return { tcp: "all", udp: "all" };
  return { tcp: tcp.length === 0 ? "none" : tcp.join(","), udp: udp.length === 0 ? "none" : udp.join(",") };
}

/**
 * File descriptors passt needs when it binds every port of a protocol (one socket per port, family and protocol): the
 * seeds' "~2^18 sockets". The plan keeps forwarding everything, as the seeds promise; the runtime raises the limit or,
 * where the hard limit cannot be raised, refuses to start passt naming the interface and the limit
 * (src/runtime/processes.ts) rather than letting passt forward fewer ports than planned.
 */
export const PASST_ALL_PORTS_OPEN_FILES = 262_144;

/** `all`, or a list of only `~` exclusions, which passt also reads as "every port but these". */
function forwardsAll(spec: string): boolean {
  return spec === "all" || spec.split(",").every((p) => p.startsWith("~"));
}

/** The per-pod run directory: `runDir`, else `/run/vmnet/<namespace>/<name>`. */
export function podRunDir(ctx: BindingContext): string {
  return ctx.options.runDir ?? `/run/vmnet/${ctx.model.namespace}/${ctx.model.name}`;
}

/**
 * The passt process of an interface: foreground, socket under the run dir, addresses and routes of the pod link, DNS
 * servers and search list of the pod's resolv.conf, the port specifiers.
 */
export function passtProcess(ctx: BindingContext): ProcessPlan {
  const stateDir = podRunDir(ctx);
  const socketPath = `${stateDir}/passt-${ctx.podInterface.value}.socket`;
  if (Buffer.byteLength(socketPath, "utf8") > SUN_PATH_MAX) {
    throw new PlanError(
      PlanErrorCode.SocketPathTooLong,
      `Cannot use passt socket path "${socketPath}": it must be at most ${SUN_PATH_MAX} bytes`,
    );
  }
  const id = ctx.options.nonRoot === false ? 0 : NON_ROOT_UID;
  const ports = passtPorts(ctx.iface, { istio: ctx.options.istio === true });
  return {
    binary: PASST_BINARY,
    args: [
      "--foreground",
      "--socket",
      socketPath,
      "--runas",
      `${id}:${id}`,
      "--interface",
      ctx.podInterface.value,
      // passt would read the resolv.conf of its mount namespace, which under `ip netns exec` is the host's.
      ...[...ctx.dns.nameserversV4, ...ctx.dns.nameserversV6].flatMap((d) => ["--dns", d]),
      ...(ctx.dns.search.length === 0 ? [] : ["--search", ctx.dns.search.join(" ")]),
      "-t",
      ports.tcp,
      "-u",
      ports.udp,
    ],
    socketPath,
    stateDir,
    runAs: { uid: id, gid: id },
    ...(forwardsAll(ports.tcp) || forwardsAll(ports.udp) ? { openFiles: PASST_ALL_PORTS_OPEN_FILES } : {}),
  };
}

/**
 * Plans a passt interface with the given binding kind. No links are created; the pod link must exist and its IPs are
 * cached for status. The guest MAC is the spec's (or status') and otherwise stable-generated: passt learns whatever
 * the guest uses.
 */
export function planPasst(ctx: BindingContext, binding: "passt" | "passtBinding" | "plugin"): InterfacePlan {
  const link = requirePodLink(ctx);
  const process = passtProcess(ctx);
  const { mac, generated } = specOrStableMac(ctx);
  // passt hands the guest its MTU by DHCP/NDP itself; a virtio host_mtu from the pod link would only cap it. A stream
  // netdev has one queue, so multiqueue does not apply.
  const { mtu: _mtu, queues: _queues, ...nic } = guestNic(ctx, { mac, mtu: link.mtu, tapName: ctx.podInterface });
  return {
    name: ctx.iface.name,
    network: ctx.network.name,
    binding,
    primary: ctx.primary,
    podInterface: ctx.podInterface,
    podIPs: podIPsOf(link, ctx.pod),
    links: [],
    sysctls: PASST_SYSCTLS,
    process,
    guest: {
      ...nic,
      queueCount: 1,
      backend: { kind: "stream", socketPath: process.socketPath },
      ...(generated ? { macGenerated: true } : {}),
    },
  };
}

/** Core `passt` (gate `Passt`, v1.7 strings) and `passtBinding` (gate `PasstBinding`): pod network only. */
export function planCorePasst(ctx: BindingContext, kind: "passt" | "passtBinding"): InterfacePlan {
  const label = kind === "passt" ? "Passt" : "PasstBinding";
  const gate = kind === "passt" ? "Passt" : "PasstBinding";
  if (!isGateEnabled(ctx.options.config, gate)) {
    throw new PlanError(PlanErrorCode.FeatureGateDisabled, `${label} feature gate is not enabled`);
  }
  if (ctx.network.source.kind !== "pod") {
    const what = kind === "passt" ? "Passt interface" : "PasstBinding interface";
    throw new PlanError(PlanErrorCode.NetworkKindUnsupported, `${what} only implemented with pod network`);
  }
  return planPasst(ctx, kind);
}
