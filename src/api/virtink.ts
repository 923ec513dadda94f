/**
 * Decoding `virt.virtink.smartx.com/v1alpha1` VirtualMachine objects with the checks of Virtink's CRD schema
 * (Virtink reference §1.1): JSON types, and the keys the schema requires (`name` on interfaces and networks,
 * `multus.networkName`), which must be present even when empty.
 */
import { type Decoded, decodeWith, isObject, type Schema, s } from "./decode.ts";
import { OBJECT_META_SCHEMA } from "./kubevirt.ts";
import type { VkVirtualMachine } from "./virtink-types.ts";

const bindingMethod = s.object();

const interfaceSchema = s.object(
  {
    name: s.string,
    mac: s.string,
    bridge: bindingMethod,
    masquerade: s.object({ cidr: s.string }),
    sriov: bindingMethod,
    vdpa: s.object({ numQueues: s.integer, iommu: s.boolean }),
    vhostUser: bindingMethod,
  },
  { required: ["name"] },
);

const networkSchema = s.object(
  {
    name: s.string,
    pod: s.object(),
    multus: s.object({ networkName: s.string }, { required: ["networkName"] }),
  },
  { required: ["name"] },
);

const VM_SCHEMA: Schema = s.object({
  apiVersion: s.string,
  kind: s.string,
  metadata: OBJECT_META_SCHEMA,
  spec: s.object({
    runPolicy: s.string,
    instance: s.object({
      cpu: s.object({ sockets: s.integer, coresPerSocket: s.integer, dedicatedCPUPlacement: s.boolean }),
      // `memory.size` is a resource.Quantity (int-or-string), so only the container is typed.
      memory: s.object({ size: s.any, hugepages: s.object() }),
      interfaces: s.array(interfaceSchema),
      disks: s.array(s.any),
    }),
    networks: s.array(networkSchema),
    volumes: s.array(s.any),
  }),
});

/** Decodes a Virtink VirtualMachine: type checks and required keys, with wrong-typed fields dropped. */
export function decodeVirtinkVm(value: unknown): Decoded<VkVirtualMachine> {
  const { value: decoded, causes } = decodeWith(value, VM_SCHEMA);
  return {
    value: isObject(decoded) ? (decoded as unknown as VkVirtualMachine) : { apiVersion: "", kind: "VirtualMachine" },
    causes,
  };
}
