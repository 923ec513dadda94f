/**
 * The `sriov` binding (kubevirt-network.md §5.7, §7.4; virtink-network.md §4.3): nothing happens in the pod netns, the
 * VF the SR-IOV CNI moved into the pod (bound to vfio-pci) is passed through to the guest. The plan names the VF by
 * the PCI address Multus reports in network-status `device-info.pci`; the MAC stays the CNI's business (the spec MAC
 * reaches it through the Multus selection element) and there is no link state (admission refuses `state` on SR-IOV).
 * Adapters at the end turn plans into the inputs of the libvirt, Cloud Hypervisor and QEMU renderers.
 */

import type { ChNicInput } from "../hypervisor/cloud-hypervisor.ts";
import type { SriovHostdevInput } from "../hypervisor/libvirt-xml.ts";
import { PciAddress } from "../hypervisor/nic-models.ts";
import type { QemuProps } from "../hypervisor/qemu-argv.ts";
import { pciControllerId, QemuMachine, renderOption, rootBus } from "../hypervisor/qemu-argv.ts";
import { PlanError, PlanErrorCode } from "./errors.ts";
import { kubevirtPodInterfaceNames } from "./namescheme.ts";
import { networkInfoOf, sriovPciAddresses } from "./network-info.ts";
import type { DeviceStatusEntry, SriovPlan } from "./passthrough-types.ts";
import type { BindingContext } from "./plan.ts";

/** KubeVirt's alias prefix of SR-IOV hostdevs (status maps `sriov-<name>` back to the interface). */
export const SRIOV_ALIAS_PREFIX = "sriov-";

function canonicalHostAddress(text: string, network: string): string {
  try {
    return PciAddress.parse(text).toString();
  } catch (cause) {
    throw new PlanError(
      PlanErrorCode.InvalidHostPciAddress,
      `Cannot use VF PCI address "${text}" of network "${network}": ${(cause as Error).message}`,
      { cause },
    );
  }
}

function kubevirtHostAddress(ctx: BindingContext, status: readonly DeviceStatusEntry[]): string | undefined {
  const info = networkInfoOf(ctx.model, status, { config: ctx.options.config });
  // The launcher attaches only interfaces whose status has multus-status, i.e. whose network-status entry exists.
  if (info?.interfaces.some((e) => e.network === ctx.iface.name) !== true) return undefined;
  return sriovPciAddresses(info, [ctx.iface.name]).get(ctx.iface.name);
}

/** KubeVirt names the pod interface by the scheme network-status reveals (§4.2), not by the links in the pod. */
function kubevirtStatusPodInterface(ctx: BindingContext, status: readonly DeviceStatusEntry[]): string {
  const reported = status.map((s) => s.interface).filter((i): i is string => i !== undefined);
  if (reported.length === 0) return ctx.podInterface.value;
  const names = kubevirtPodInterfaceNames(ctx.model, {
    existingLinks: reported,
    ...(ctx.options.podInterfaceNames === undefined ? {} : { overrides: ctx.options.podInterfaceNames }),
  });
  return names.get(ctx.network.name)?.value ?? ctx.podInterface.value;
}

function virtinkHostAddress(ctx: BindingContext, status: readonly DeviceStatusEntry[]): string | undefined {
  for (const s of status) {
    if (s.interface !== ctx.podInterface.value) continue;
    const pci = s["device-info"]?.pci;
    if (typeof pci !== "object" || pci === null) continue;
    const a = (pci as Readonly<Record<string, unknown>>)["pci-address"];
    // Virtink adds a device per matching entry; Multus writes one entry per interface, so the first is the one.
    // Virtink does not check the address (an empty one gives a path CH refuses); planSriov does.
    if (typeof a === "string") return a;
  }
  return undefined;
}

/** Plans an `sriov` interface (BindingContext signature; passthrough facts ride on `ctx.options.passthrough`). */
export function planSriov(ctx: BindingContext): SriovPlan {
  const status = ctx.options.passthrough?.networkStatus ?? [];
  const virtink = ctx.model.dialect === "virtink";
  const raw = virtink ? virtinkHostAddress(ctx, status) : kubevirtHostAddress(ctx, status);
  const { iface } = ctx;
  return {
    kind: "sriov",
    name: iface.name,
    network: ctx.network.name,
    podInterface: virtink ? ctx.podInterface.value : kubevirtStatusPodInterface(ctx, status),
    ...(raw === undefined ? {} : { hostPciAddress: canonicalHostAddress(raw, ctx.network.name) }),
    ...(iface.macAddress === undefined ? {} : { cniMac: iface.macAddress }),
    alias: `ua-${SRIOV_ALIAS_PREFIX}${iface.name}`,
    ...(iface.pciAddress === undefined ? {} : { guestPciAddress: iface.pciAddress }),
    ...(iface.bootOrder === undefined ? {} : { bootOrder: iface.bootOrder }),
  };
}

/** The libvirt `<hostdev>` inputs of the plans that have a VF, in order. */
export function sriovHostdevInputs(plans: readonly SriovPlan[]): SriovHostdevInput[] {
  return plans.flatMap((p) =>
    p.hostPciAddress === undefined
      ? []
      : [
          {
            name: p.name,
            hostPciAddress: p.hostPciAddress,
            ...(p.guestPciAddress === undefined ? {} : { pciAddress: p.guestPciAddress }),
            ...(p.bootOrder === undefined ? {} : { bootOrder: p.bootOrder }),
          },
        ],
  );
}

/** The Cloud Hypervisor `devices[]` inputs of the plans that have a VF (Virtink's `/sys/bus/pci/devices/<addr>`). */
export function sriovChNics(plans: readonly SriovPlan[]): ChNicInput[] {
  return plans.flatMap((p) =>
    p.hostPciAddress === undefined ? [] : [{ kind: "vfio" as const, name: p.name, pciAddress: p.hostPciAddress }],
  );
}

/** Options of {@link sriovQemuDevice}. */
export interface SriovQemuOptions {
  /** Default q35. */
  readonly machine?: QemuMachine;
}

/**
 * The `-device vfio-pci` properties of an SR-IOV plan: `host` the VF, `id` the libvirt alias, the guest address on the
 * root bus or on controller `pci.<bus>` (which must exist, e.g. from renderQemuNet), `bootindex` from `bootOrder` as
 * KubeVirt's hostdevs. TypeError when the plan has no VF.
 */
export function sriovQemuDevice(plan: SriovPlan, options: SriovQemuOptions = {}): QemuProps {
  if (plan.hostPciAddress === undefined) {
    throw new TypeError(`Cannot pass through interface "${plan.name}": network-status names no VF for it`);
  }
  const guest = plan.guestPciAddress === undefined ? undefined : PciAddress.parse(plan.guestPciAddress);
  if (guest !== undefined && guest.domain !== 0) {
    throw new RangeError(
      `Cannot use PCI address "${plan.guestPciAddress}" of interface "${plan.name}": domain must be 0000`,
    );
  }
  const bus =
    guest === undefined
      ? undefined
      : guest.bus === 0
        ? rootBus(options.machine ?? QemuMachine.Q35)
        : pciControllerId(guest.bus);
  return {
    driver: "vfio-pci",
    host: plan.hostPciAddress,
    id: plan.alias,
    ...(bus === undefined ? {} : { bus }),
    ...(guest === undefined ? {} : { addr: guest.qemuAddr }),
    ...(plan.bootOrder === undefined ? {} : { bootindex: plan.bootOrder }),
  };
}

/** `-device vfio-pci,…` argv for the plans that have a VF, in order. */
export function sriovQemuArgs(plans: readonly SriovPlan[], options: SriovQemuOptions = {}): string[] {
  return plans
    .filter((p) => p.hostPciAddress !== undefined)
    .flatMap((p) => ["-device", renderOption(sriovQemuDevice(p, options), "driver")]);
}
