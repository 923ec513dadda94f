/**
 * Virtink's `vdpa` binding (virtink-network.md §4.4, §6.2): the vDPA CNI moves a vhost-vdpa device into the pod and
 * reports its character device in network-status `device-info.vdpa.path`; Cloud Hypervisor gets a `vdpa[]` entry with
 * the interface's `numQueues` (always sent, 0 when unset) and `iommu`. Nothing happens in the pod netns.
 */

import type { ChNicInput } from "../hypervisor/cloud-hypervisor.ts";
import { qemuNetId, renderOption } from "../hypervisor/qemu-argv.ts";
import { PlanError, PlanErrorCode } from "./errors.ts";
import type { DeviceStatusEntry, VdpaPlan } from "./passthrough-types.ts";
import type { BindingContext } from "./plan.ts";

function vdpaPath(status: readonly DeviceStatusEntry[], podInterface: string): string | undefined {
  for (const s of status) {
    if (s.interface !== podInterface) continue;
    const vdpa = s["device-info"]?.vdpa;
    if (typeof vdpa !== "object" || vdpa === null) continue;
    const p = (vdpa as Readonly<Record<string, unknown>>).path;
    // Virtink adds an entry per match; Multus writes one entry per interface, so the first is the one.
    return typeof p === "string" ? p : "";
  }
  return undefined;
}

/**
 * Plans a `vdpa` interface (Virtink only; KubeVirt has no such binding). `path` is absent when no network-status
 * entry for the link has `device-info.vdpa`: Virtink then adds nothing and reports nothing (quirk 11).
 */
export function planVdpa(ctx: BindingContext): VdpaPlan {
  const { binding } = ctx.iface;
  if (binding.kind !== "vdpa" || ctx.model.dialect !== "virtink") {
    throw new PlanError(
      PlanErrorCode.BindingUnsupported,
      `Cannot plan interface "${ctx.iface.name}" as vDPA: binding "${binding.kind}" in a ${ctx.model.dialect} VM`,
    );
  }
  const path = vdpaPath(ctx.options.passthrough?.networkStatus ?? [], ctx.podInterface.value);
  return {
    kind: "vdpa",
    name: ctx.iface.name,
    network: ctx.network.name,
    podInterface: ctx.podInterface.value,
    ...(path === undefined ? {} : { path }),
    numQueues: binding.numQueues,
    iommu: binding.iommu,
  };
}

/** The Cloud Hypervisor `vdpa[]` inputs of the plans that have a device, in order. */
export function vdpaChNics(plans: readonly VdpaPlan[]): ChNicInput[] {
  return plans.flatMap((p) =>
    p.path === undefined
      ? []
      : [{ kind: "vdpa" as const, name: p.name, path: p.path, numQueues: p.numQueues, iommu: p.iommu }],
  );
}

/**
 * QEMU argv for the plans that have a device: `-netdev vhost-vdpa,vhostdev=<path>` and a modern virtio-net device on
 * it (vmnet's QEMU path; Virtink itself only runs Cloud Hypervisor). QEMU's `queues` counts queue pairs where CH's
 * `num_queues` counts RX and TX queues, so `numQueues` 2N becomes N pairs; 0 (unset) and 2 leave QEMU's single pair.
 */
export function vdpaQemuArgs(plans: readonly VdpaPlan[]): string[] {
  return plans.flatMap((p) => {
    if (p.path === undefined) return [];
    if (!Number.isInteger(p.numQueues) || p.numQueues < 0 || p.numQueues % 2 !== 0) {
      throw new RangeError(`Cannot use ${p.numQueues} vDPA queues on interface "${p.name}": expected an even count`);
    }
    const id = qemuNetId(p.name);
    const pairs = p.numQueues / 2;
    return [
      "-netdev",
      renderOption({ type: "vhost-vdpa", id, vhostdev: p.path, ...(pairs > 1 ? { queues: pairs } : {}) }, "type"),
      "-device",
      renderOption(
        {
          driver: "virtio-net-pci",
          netdev: id,
          id,
          "disable-legacy": true,
          ...(pairs > 1 ? { mq: true, vectors: 2 * pairs + 2 } : {}),
          ...(p.iommu ? { iommu_platform: true } : {}),
        },
        "driver",
      ),
    ];
  });
}
