/**
 * Virtink's `vhostUser` binding (virtink-network.md §3.2 step 5, §4.5, §6.2): a userspace switch (OVS-DPDK through
 * kube-ovn or the userspace CNI) serves a vhost-user socket; Cloud Hypervisor connects to it as a `net[]` entry with
 * `vhost_user: true`, `vhost_mode: "Server"`, and the guest memory shared. The prerunner learns the socket from its
 * environment, which the pod rendering derived from the NAD; the planner takes that environment as facts.
 */

import type { ChNicInput } from "../hypervisor/cloud-hypervisor.ts";
import { PlanError, PlanErrorCode } from "./errors.ts";
import type { UserspaceConfigurationData, VhostUserPlan } from "./passthrough-types.ts";
import { VhostUserNetType } from "./passthrough-types.ts";
import type { BindingContext } from "./plan.ts";

/** Where the vhost-user sockets are mounted in Virtink's VM pod. */
export const VHOST_USER_SOCKET_DIR = "/var/run/vhost-user";
/** The MTU Virtink gives userspace-CNI vhost-user NICs. */
export const USERSPACE_VHOST_USER_MTU = 1500;

/**
 * The vhost-user `NET_TYPE` of a NAD's `spec.config`, as the controller decides it: `kube-ovn` or `userspace`, else
 * Virtink's `CNI plugin <type> is not supported for vhost-uesr` (the typo is Virtink's).
 */
export function vhostUserNetTypeOf(nadConfig: string): VhostUserNetType {
  let type: unknown;
  try {
    type = (JSON.parse(nadConfig) as { readonly type?: unknown } | null)?.type;
  } catch (cause) {
    throw new PlanError(PlanErrorCode.VhostUserConfigInvalid, `Cannot parse NAD config: ${(cause as Error).message}`, {
      cause,
    });
  }
  if (type === VhostUserNetType.KubeOvn || type === VhostUserNetType.Userspace) return type;
  throw new PlanError(
    PlanErrorCode.VhostUserNetTypeUnsupported,
    `CNI plugin ${typeof type === "string" ? type : ""} is not supported for vhost-uesr`,
  );
}

/**
 * Parses `USERSPACE_CONFIGURATION_DATA`, keeping entries with the keys Virtink reads; Virtink's
 * `userspace configuration data not found` when empty, `unmarshal userspace configuration data: …` when not a JSON
 * array.
 */
export function parseUserspaceConfigurationData(text: string): UserspaceConfigurationData[] {
  if (text === "") {
    throw new PlanError(PlanErrorCode.VhostUserConfigInvalid, "userspace configuration data not found");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new PlanError(
      PlanErrorCode.VhostUserConfigInvalid,
      `unmarshal userspace configuration data: ${(cause as Error).message}`,
      { cause },
    );
  }
  if (!Array.isArray(parsed)) {
    throw new PlanError(
      PlanErrorCode.VhostUserConfigInvalid,
      "unmarshal userspace configuration data: expected a JSON array",
    );
  }
  return parsed.flatMap((e: unknown): UserspaceConfigurationData[] => {
    if (typeof e !== "object" || e === null) return [];
    const o = e as { containerId?: unknown; ifName?: unknown; name?: unknown; config?: unknown };
    const vhost = (o.config as { vhost?: { socketfile?: unknown } } | undefined)?.vhost;
    const socketfile = typeof vhost?.socketfile === "string" ? vhost.socketfile : "";
    return [
      {
        containerId: typeof o.containerId === "string" ? o.containerId : "",
        ifName: typeof o.ifName === "string" ? o.ifName : "",
        ...(typeof o.name === "string" ? { name: o.name } : {}),
        config: { vhost: { socketfile } },
      },
    ];
  });
}

function kubeOvn(ctx: BindingContext, socket: string | undefined): { mtu: number; socket: string } {
  if (socket === undefined || socket === "") {
    throw new PlanError(PlanErrorCode.VhostUserSocketMissing, "vhost-user socket path not found");
  }
  const eth0 = ctx.pod.links.find((l) => l.name === "eth0");
  if (eth0 === undefined) {
    // netlink's LinkNotFoundError text, as Virtink wraps it.
    throw new PlanError(PlanErrorCode.VhostUserConfigInvalid, "get link: Link not found");
  }
  return { mtu: eth0.mtu, socket };
}

function userspace(ctx: BindingContext, data: string | undefined, dirs: readonly string[]): string {
  const entries = parseUserspaceConfigurationData(data ?? "");
  // Virtink takes the first entry for the link, and needs both a container id and a socket file from it.
  const entry = entries.find((e) => e.ifName === ctx.podInterface.value);
  const file = entry?.config.vhost.socketfile ?? "";
  if (entry === undefined || entry.containerId === "" || file === "") {
    throw new PlanError(PlanErrorCode.VhostUserLinkNotFound, "vhost-user link not found");
  }
  if (entry.containerId.length < 12) {
    // Virtink slices [0:12] and panics on a shorter id.
    throw new PlanError(
      PlanErrorCode.VhostUserConfigInvalid,
      `Cannot use container id "${entry.containerId}" of link "${entry.ifName}": shorter than 12 characters`,
    );
  }
  const dir = `${VHOST_USER_SOCKET_DIR}/${entry.containerId.slice(0, 12)}`;
  return dirs.includes(dir) ? `${dir}/${file}` : `${VHOST_USER_SOCKET_DIR}/${file}`;
}

/**
 * Plans a `vhostUser` interface from the prerunner's environment (`ctx.options.passthrough.vhostUser`). Errors are
 * Virtink's: `network type not found`, `vhost-user socket path not found`, `get link: Link not found`,
 * `userspace configuration data not found`, `vhost-user link not found`. Where Virtink's prerunner silently goes on with
 * an empty socket (a `NET_TYPE` other than kube-ovn and userspace, which its controller never sets), vmnet fails with
 * the controller's message instead.
 */
export function planVhostUser(ctx: BindingContext): VhostUserPlan {
  const { iface } = ctx;
  if (iface.binding.kind !== "vhostUser" || ctx.model.dialect !== "virtink") {
    throw new PlanError(
      PlanErrorCode.BindingUnsupported,
      `Cannot plan interface "${iface.name}" as vhost-user: binding "${iface.binding.kind}" in a ${ctx.model.dialect} VM`,
    );
  }
  if (iface.macAddress === undefined) {
    throw new PlanError(
      PlanErrorCode.VhostUserMacMissing,
      `Cannot plan vhost-user interface "${iface.name}": it has no MAC (Virtink's webhook always sets one)`,
    );
  }
  const env = ctx.options.passthrough?.vhostUser ?? {};
  if (env.netType === undefined || env.netType === "") {
    throw new PlanError(PlanErrorCode.VhostUserNetTypeMissing, "network type not found");
  }
  let mtu: number;
  let socket: string;
  if (env.netType === VhostUserNetType.KubeOvn) {
    ({ mtu, socket } = kubeOvn(ctx, env.vhostUserSocket));
  } else if (env.netType === VhostUserNetType.Userspace) {
    mtu = USERSPACE_VHOST_USER_MTU;
    socket = userspace(ctx, env.userspaceConfigurationData, env.existingDirectories ?? []);
  } else {
    throw new PlanError(
      PlanErrorCode.VhostUserNetTypeUnsupported,
      `CNI plugin ${env.netType} is not supported for vhost-uesr`,
    );
  }
  return {
    kind: "vhostUser",
    name: iface.name,
    network: ctx.network.name,
    podInterface: ctx.podInterface.value,
    netType: env.netType,
    mac: iface.macAddress,
    mtu,
    socket,
  };
}

/** Options of {@link vhostUserChNics}. */
export interface VhostUserChOptions {
  /**
   * Reproduce Virtink's kube-ovn bug (quirk 6): `vhost_socket` left out, as Virtink's shadowed variable does. Default
   * false: vmnet passes the socket, without which Cloud Hypervisor has nothing to connect to.
   */
  readonly virtinkKubeOvnSocketBug?: boolean;
}

/** The Cloud Hypervisor `net[]` inputs (vhost-user, memory shared) of the plans, in order. */
export function vhostUserChNics(plans: readonly VhostUserPlan[], options: VhostUserChOptions = {}): ChNicInput[] {
  return plans.map((p) => ({
    kind: "vhostUser" as const,
    name: p.name,
    mac: p.mac,
    mtu: p.mtu,
    ...(options.virtinkKubeOvnSocketBug === true && p.netType === VhostUserNetType.KubeOvn ? {} : { socket: p.socket }),
  }));
}
