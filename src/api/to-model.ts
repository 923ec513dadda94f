/**
 * Mapping both dialects into the one internal model ({@link VmNetworkModel}). Called after defaulting and admission
 * have passed, so a spec that admission would deny (no binding, two bindings, an unknown model, a bad MAC) is a
 * programming error here and throws a TypeError.
 */
import type {
  KvDhcpOptions,
  KvInterface,
  KvNetwork,
  KvPort,
  KvPortRange,
  KvVirtualMachine,
  KvVirtualMachineInstance,
  KvVmiSpec,
} from "./kubevirt-types.ts";
import { normalizeMac } from "./mac.ts";
import {
  type Binding,
  type DhcpOptionsSpec,
  Dialect,
  type InterfaceSpec,
  LinkState,
  type NetworkSpec,
  NicModel,
  type PortRangeSpec,
  type PortSpec,
  Protocol,
  type VmNetworkModel,
} from "./model.ts";
import type { VkInterface, VkNetwork, VkVirtualMachine } from "./virtink-types.ts";

/** The namespace of an object that names none, as kubectl applies it. */
export const DEFAULT_NAMESPACE = "default";

/** Which VM a KubeVirt VMI spec belongs to. */
export interface VmMeta {
  readonly name: string;
  readonly namespace?: string;
}

const KV_CORE_BINDINGS = ["bridge", "masquerade", "sriov", "passtBinding", "slirp", "passt", "macvtap"] as const;

function kubeVirtBinding(iface: KvInterface): Binding {
  const found: Binding[] = KV_CORE_BINDINGS.filter((k) => iface[k] !== undefined).map((kind) => ({ kind }));
  if (iface.binding !== undefined) found.push({ kind: "plugin", name: iface.binding.name ?? "" });
  const [only, ...rest] = found;
  if (!only || rest.length > 0) {
    throw new TypeError(
      `Interface "${iface.name ?? ""}" must have exactly one binding method, found ${found.length}: admit the spec first`,
    );
  }
  return only;
}

const MODELS: ReadonlySet<string> = new Set(Object.values(NicModel));

function nicModel(model: string | undefined, name: string): NicModel {
  if (model === undefined || model === "") return NicModel.Virtio;
  if (!MODELS.has(model)) throw new TypeError(`Interface "${name}" uses unsupported model "${model}"`);
  return model as NicModel;
}

function linkState(state: string | undefined, name: string): LinkState {
  switch (state) {
    case undefined:
    case "":
    case LinkState.Up:
      return LinkState.Up;
    case LinkState.Down:
      return LinkState.Down;
    case LinkState.Absent:
      return LinkState.Absent;
    default:
      throw new TypeError(`Interface "${name}" has unsupported state "${state}"`);
  }
}

function protocol(p: string | undefined): Protocol | undefined {
  if (p === undefined || p === "" || p === Protocol.TCP) return Protocol.TCP;
  if (p === Protocol.UDP) return Protocol.UDP;
  return undefined;
}

const isPort = (n: number | undefined): n is number => n !== undefined && Number.isInteger(n) && n > 0 && n < 65536;

/**
 * KubeVirt validates ports only on pod networks, the only place they are used (masquerade/passt forwarding), so a
 * secondary interface may carry ports admission never looked at; those that cannot be represented are left out.
 */
function ports(list: readonly KvPort[] | undefined): PortSpec[] {
  const out: PortSpec[] = [];
  for (const p of list ?? []) {
    const proto = protocol(p.protocol);
    if (!proto || !isPort(p.port)) continue;
    out.push({ ...(p.name ? { name: p.name } : {}), protocol: proto, port: p.port });
  }
  return out;
}

function portRanges(list: readonly KvPortRange[] | undefined): PortRangeSpec[] {
  const out: PortRangeSpec[] = [];
  for (const r of list ?? []) {
    const proto = r.protocol === Protocol.TCP || r.protocol === Protocol.UDP ? r.protocol : undefined;
    if (!proto || !isPort(r.start) || !isPort(r.end)) continue;
    out.push({ protocol: proto, start: r.start, end: r.end });
  }
  return out;
}

function dhcpOptions(o: KvDhcpOptions): DhcpOptionsSpec {
  const privateOptions: { option: number; value: string }[] = [];
  for (const p of o.privateOptions ?? []) {
    if (p.option !== undefined) privateOptions.push({ option: p.option, value: p.value ?? "" });
  }
  return {
    ...(o.bootFileName !== undefined ? { bootFileName: o.bootFileName } : {}),
    ...(o.tftpServerName !== undefined ? { tftpServerName: o.tftpServerName } : {}),
    ntpServers: [...(o.ntpServers ?? [])],
    privateOptions,
  };
}

function mac(value: string | undefined, name: string): { macAddress?: string } {
  if (value === undefined || value === "") return {};
  try {
    return { macAddress: normalizeMac(value) };
  } catch (e) {
    throw new TypeError(`Interface "${name}" has malformed MAC address "${value}"`, { cause: e });
  }
}

function kubeVirtInterface(iface: KvInterface): InterfaceSpec {
  const name = iface.name ?? "";
  return {
    name,
    binding: kubeVirtBinding(iface),
    model: nicModel(iface.model, name),
    ...mac(iface.macAddress, name),
    ports: ports(iface.ports),
    portRanges: portRanges(iface.portRanges),
    ...(iface.pciAddress ? { pciAddress: iface.pciAddress } : {}),
    ...(iface.bootOrder !== undefined ? { bootOrder: iface.bootOrder } : {}),
    ...(iface.dhcpOptions ? { dhcpOptions: dhcpOptions(iface.dhcpOptions) } : {}),
    ...(iface.tag ? { tag: iface.tag } : {}),
    ...(iface.acpiIndex !== undefined ? { acpiIndex: iface.acpiIndex } : {}),
    state: linkState(iface.state, name),
  };
}

/** The network's source; undefined for sources the model has no place for (DRA `resourceClaim` networks). */
function kubeVirtNetwork(net: KvNetwork): NetworkSpec | undefined {
  const name = net.name ?? "";
  if (net.pod) {
    return {
      name,
      source: {
        kind: "pod",
        ...(net.pod.vmNetworkCIDR ? { vmNetworkCIDR: net.pod.vmNetworkCIDR } : {}),
        ...(net.pod.vmIPv6NetworkCIDR ? { vmIPv6NetworkCIDR: net.pod.vmIPv6NetworkCIDR } : {}),
      },
    };
  }
  if (net.multus) {
    return {
      name,
      source: { kind: "multus", networkName: net.multus.networkName ?? "", default: net.multus.default === true },
    };
  }
  return undefined;
}

const countOf = (n: number | undefined): number => (n !== undefined && n > 0 ? n : 1);

/** Maps a defaulted, admitted KubeVirt VMI spec (`spec` of a VMI, `spec.template.spec` of a VM) into the model. */
export function kubeVirtToModel(spec: KvVmiSpec, meta: VmMeta): VmNetworkModel {
  const devices = spec.domain?.devices ?? {};
  const cpu = spec.domain?.cpu ?? {};
  const networks: NetworkSpec[] = [];
  for (const net of spec.networks ?? []) {
    const n = kubeVirtNetwork(net);
    if (n) networks.push(n);
  }
  return {
    dialect: Dialect.KubeVirt,
    name: meta.name,
    namespace: meta.namespace || DEFAULT_NAMESPACE,
    interfaces: (devices.interfaces ?? []).map(kubeVirtInterface),
    networks,
    multiqueue: devices.networkInterfaceMultiqueue === true,
    vcpus: countOf(cpu.sockets) * countOf(cpu.cores) * countOf(cpu.threads),
    ...(spec.hostname ? { hostname: spec.hostname } : {}),
    ...(spec.subdomain ? { subdomain: spec.subdomain } : {}),
    useVirtioTransitional: devices.useVirtioTransitional === true,
  };
}

/** {@link kubeVirtToModel} for a whole VM (its `spec.template.spec`) or VMI (its `spec`), named by its metadata. */
export function kubeVirtObjectToModel(obj: KvVirtualMachine | KvVirtualMachineInstance): VmNetworkModel {
  const spec = obj.kind === "VirtualMachineInstance" ? obj.spec : (obj as KvVirtualMachine).spec?.template?.spec;
  return kubeVirtToModel(spec ?? {}, {
    name: obj.metadata?.name ?? "",
    ...(obj.metadata?.namespace ? { namespace: obj.metadata.namespace } : {}),
  });
}

function virtinkBinding(iface: VkInterface): Binding {
  const found: Binding[] = [];
  if (iface.bridge !== undefined) found.push({ kind: "bridge" });
  if (iface.masquerade !== undefined) {
    const cidr = iface.masquerade.cidr;
    found.push(cidr ? { kind: "masquerade", cidr } : { kind: "masquerade" });
  }
  if (iface.sriov !== undefined) found.push({ kind: "sriov" });
  // Virtink neither defaults nor validates vdpa's fields: absent means 0 queues and no IOMMU, as serialised to CH.
  if (iface.vdpa !== undefined) {
    found.push({ kind: "vdpa", numQueues: iface.vdpa.numQueues ?? 0, iommu: iface.vdpa.iommu ?? false });
  }
  if (iface.vhostUser !== undefined) found.push({ kind: "vhostUser" });
  const [only, ...rest] = found;
  if (!only || rest.length > 0) {
    throw new TypeError(
      `Interface "${iface.name ?? ""}" must have exactly one binding method, found ${found.length}: admit the spec first`,
    );
  }
  return only;
}

function virtinkInterface(iface: VkInterface): InterfaceSpec {
  const name = iface.name ?? "";
  return {
    name,
    binding: virtinkBinding(iface),
    // Cloud Hypervisor offers only virtio-net; Virtink has no model field.
    model: NicModel.Virtio,
    ...mac(iface.mac, name),
    ports: [],
    portRanges: [],
    state: LinkState.Up,
  };
}

function virtinkNetwork(net: VkNetwork): NetworkSpec | undefined {
  const name = net.name ?? "";
  if (net.pod) return { name, source: { kind: "pod" } };
  if (net.multus)
    return { name, source: { kind: "multus", networkName: net.multus.networkName ?? "", default: false } };
  return undefined;
}

/** Maps a defaulted, admitted Virtink VirtualMachine into the model. */
export function virtinkToModel(vm: VkVirtualMachine): VmNetworkModel {
  const instance = vm.spec?.instance ?? {};
  const networks: NetworkSpec[] = [];
  for (const net of vm.spec?.networks ?? []) {
    const n = virtinkNetwork(net);
    if (n) networks.push(n);
  }
  return {
    dialect: Dialect.Virtink,
    name: vm.metadata?.name ?? "",
    namespace: vm.metadata?.namespace || DEFAULT_NAMESPACE,
    interfaces: (instance.interfaces ?? []).map(virtinkInterface),
    networks,
    multiqueue: false,
    vcpus: countOf(instance.cpu?.sockets) * countOf(instance.cpu?.coresPerSocket),
    useVirtioTransitional: false,
  };
}
