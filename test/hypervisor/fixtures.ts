/** Hand-built plans for the hypervisor renderers: only the guest side matters to them. */
import type { NicModel } from "../../src/api/model.ts";
import { InterfaceName } from "../../src/plan/namescheme.ts";
import type { GuestNicPlan, InterfacePlan, NetworkPlan } from "../../src/plan/plan.ts";

/** Guest NIC fields a test sets; everything else takes KubeVirt's defaults for a virtio NIC. */
export interface GuestNicInput {
  readonly model?: NicModel;
  readonly transitional?: boolean;
  readonly mac?: string;
  readonly mtu?: number;
  readonly queues?: number;
  readonly pciAddress?: string;
  readonly bootOrder?: number;
  readonly acpiIndex?: number;
  readonly linkState?: "up" | "down";
  readonly tap?: string;
  readonly binding?: "bridge" | "masquerade";
}

/** One tap-attached interface plan named `name`. */
export function nic(name: string, input: GuestNicInput = {}): InterfacePlan {
  const model = input.model ?? "virtio";
  const virtio = model === "virtio";
  const guest: GuestNicPlan = {
    alias: `ua-${name}`,
    model,
    domainModel: virtio ? (input.transitional ? "virtio-transitional" : "virtio-non-transitional") : model,
    mac: input.mac ?? "02:00:00:00:00:01",
    ...(virtio ? { mtu: input.mtu ?? 1450 } : {}),
    ...(input.queues === undefined ? {} : { queues: input.queues }),
    queueCount: input.queues ?? 1,
    ...(input.pciAddress === undefined ? {} : { pciAddress: input.pciAddress }),
    ...(input.bootOrder === undefined ? {} : { bootOrder: input.bootOrder }),
    ...(input.acpiIndex === undefined ? {} : { acpiIndex: input.acpiIndex }),
    linkState: input.linkState ?? "up",
    tapName: InterfaceName.of(input.tap ?? "tap0"),
  };
  return {
    name,
    network: name,
    binding: input.binding ?? "masquerade",
    primary: name === "default",
    podInterface: InterfaceName.of("eth0"),
    podIPs: [],
    links: [],
    sysctls: [],
    guest,
  };
}

/** A KubeVirt plan with these interfaces. */
export function plan(...interfaces: InterfacePlan[]): NetworkPlan {
  return { dialect: "kubevirt", interfaces, sysctls: [], nft: { tables: [] } };
}
