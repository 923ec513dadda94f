/**
 * Builders for Virtink VMs used by the admission tests.
 */
import type { VkInterface, VkNetwork, VkVirtualMachine } from "../../../src/api/virtink-types.ts";
import { VIRTINK_API_VERSION } from "../../../src/api/virtink-types.ts";

type Spec = NonNullable<VkVirtualMachine["spec"]>;
type Instance = NonNullable<Spec["instance"]>;

/** A VM as stored after defaulting, with the given interfaces and networks and optional instance/spec extras. */
export function vkVm(
  interfaces: VkInterface[] | undefined,
  networks: VkNetwork[] | undefined,
  extra: { instance?: Partial<Instance>; spec?: Partial<Spec> } = {},
): VkVirtualMachine {
  const instance: Instance = { cpu: { sockets: 1, coresPerSocket: 1 }, memory: { size: "1Gi" }, ...extra.instance };
  if (interfaces !== undefined) instance.interfaces = interfaces;
  const spec: Spec = { runPolicy: "Once", instance, ...extra.spec };
  if (networks !== undefined) spec.networks = networks;
  return { apiVersion: VIRTINK_API_VERSION, kind: "VirtualMachine", metadata: { name: "vm" }, spec };
}

/** The canonical valid pair: a bridged interface on the pod network. */
export const podBridge = (): { iface: VkInterface; network: VkNetwork } => ({
  iface: { name: "pod", mac: "52:54:00:12:34:56", bridge: {} },
  network: { name: "pod", pod: {} },
});

/** The fields of causes, for terse expectations: `[type, field, message]`. */
export type CauseRow = readonly [string, string, string];

/** Dedicated CPU placement plus hugepages: what vhost-user requires. */
export const dedicatedWithHugepages = (): Partial<Instance> => ({
  cpu: { sockets: 1, coresPerSocket: 1, dedicatedCPUPlacement: true },
  memory: { size: "1Gi", hugepages: { pageSize: "2Mi" } },
});
