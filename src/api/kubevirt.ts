/**
 * Decoding `kubevirt.io/v1` VirtualMachine and VirtualMachineInstance objects: the CRD's type checks on every
 * network-relevant field (reference §1.1-§1.4), then KubeVirt's own decode-time normalisation (`DHCPOptions` and
 * `PodNetwork` `UnmarshalJSON`, reference §1.2, §1.3).
 */
import { type Decoded, decodeWith, isObject, type Schema, s } from "./decode.ts";
import { formatIp, parseCidrSloppy, parseIpSloppy } from "./ip.ts";
import type { KvVirtualMachine, KvVirtualMachineInstance, KvVmiSpec } from "./kubevirt-types.ts";

/** `+kubebuilder:validation:MaxItems:=256` on `interfaces` and `networks`. */
export const MAX_INTERFACES = 256;
export const MAX_NETWORKS = 256;

const bindingMethod = s.object();

const portSchema = s.object({ name: s.string, protocol: s.string, port: s.integer });
const portRangeSchema = s.object({ protocol: s.string, start: s.integer, end: s.integer });

const dhcpOptionsSchema = s.object({
  bootFileName: s.string,
  tftpServerName: s.string,
  ntpServers: s.array(s.string),
  privateOptions: s.array(s.object({ option: s.integer, value: s.string })),
});

const interfaceSchema = s.object({
  name: s.string,
  model: s.string,
  bridge: bindingMethod,
  masquerade: bindingMethod,
  sriov: bindingMethod,
  passtBinding: bindingMethod,
  slirp: bindingMethod,
  macvtap: bindingMethod,
  passt: bindingMethod,
  binding: s.object({ name: s.string }),
  ports: s.array(portSchema),
  portRanges: s.array(portRangeSchema),
  macAddress: s.string,
  bootOrder: s.integer,
  pciAddress: s.string,
  dhcpOptions: dhcpOptionsSchema,
  tag: s.string,
  acpiIndex: s.integer,
  state: s.string,
});

const networkSchema = s.object({
  name: s.string,
  pod: s.object({ vmNetworkCIDR: s.string, vmIPv6NetworkCIDR: s.string }),
  multus: s.object({ networkName: s.string, default: s.boolean }),
  resourceClaim: s.object({ claimName: s.string, requestName: s.string }),
});

/** The schema of a VMI spec (`spec` of a VMI, `spec.template.spec` of a VM), network-relevant fields only. */
export const VMI_SPEC_SCHEMA: Schema = s.object({
  domain: s.object({
    devices: s.object({
      interfaces: s.array(interfaceSchema, { maxItems: MAX_INTERFACES }),
      autoattachPodInterface: s.boolean,
      networkInterfaceMultiqueue: s.boolean,
      useVirtioTransitional: s.boolean,
      disks: s.array(s.object({ name: s.string, bootOrder: s.integer })),
    }),
    cpu: s.object({ sockets: s.integer, cores: s.integer, threads: s.integer }),
    launchSecurity: s.object(),
  }),
  networks: s.array(networkSchema, { maxItems: MAX_NETWORKS }),
  hostname: s.string,
  subdomain: s.string,
  dnsPolicy: s.string,
  dnsConfig: s.object({
    nameservers: s.array(s.string),
    searches: s.array(s.string),
    options: s.array(s.object({ name: s.string, value: s.string })),
  }),
  readinessProbe: s.object(),
  livenessProbe: s.object(),
  resourceClaims: s.array(s.object({ name: s.string })),
});

/** `ObjectMeta`, the fields vmnet reads. */
export const OBJECT_META_SCHEMA: Schema = s.object({
  name: s.string,
  namespace: s.string,
  annotations: s.map(s.string),
  labels: s.map(s.string),
});

const VMI_SCHEMA: Schema = s.object({
  apiVersion: s.string,
  kind: s.string,
  metadata: OBJECT_META_SCHEMA,
  spec: VMI_SPEC_SCHEMA,
});

const VM_SCHEMA: Schema = s.object({
  apiVersion: s.string,
  kind: s.string,
  metadata: OBJECT_META_SCHEMA,
  spec: s.object({
    running: s.boolean,
    runStrategy: s.string,
    template: s.object({ metadata: OBJECT_META_SCHEMA, spec: VMI_SPEC_SCHEMA }),
  }),
});

/**
 * KubeVirt's `sanitizeIP`: a sloppy parse re-serialised with Go's `IP.String` (`010.0.0.1` → `10.0.0.1`,
 * `::ffff:1.2.3.4` → `1.2.3.4`); undefined when it does not parse.
 */
export function sanitizeIp(address: string): string | undefined {
  const ip = parseIpSloppy(address);
  return ip ? formatIp(ip) : undefined;
}

/** KubeVirt's `sanitizeCIDR`: `<ip>/<prefix>` from a sloppy parse, the IP not masked; undefined when it does not parse. */
export function sanitizeCidr(cidr: string): string | undefined {
  try {
    const c = parseCidrSloppy(cidr);
    return `${formatIp(c.ip)}/${c.prefix}`;
  } catch {
    return undefined;
  }
}

/**
 * Applies KubeVirt's decode-time normalisation to a (type-checked) VMI spec, in place: `dhcpOptions.ntpServers[]`
 * and `pod.vmNetworkCIDR`. Values that do not parse are left as written, for the webhook (or runtime) to reject.
 */
export function normalizeVmiSpec(spec: KvVmiSpec): void {
  for (const iface of spec.domain?.devices?.interfaces ?? []) {
    const ntp = iface.dhcpOptions?.ntpServers;
    if (!ntp) continue;
    ntp.forEach((server, i) => {
      ntp[i] = sanitizeIp(server) ?? server;
    });
  }
  for (const net of spec.networks ?? []) {
    const cidr = net.pod?.vmNetworkCIDR;
    if (net.pod && cidr !== undefined && cidr !== "") net.pod.vmNetworkCIDR = sanitizeCidr(cidr) ?? cidr;
  }
}

function decodeObject<T>(value: unknown, schema: Schema, fallback: T): Decoded<T> {
  const { value: decoded, causes } = decodeWith(value, schema);
  return { value: isObject(decoded) ? (decoded as T) : fallback, causes };
}

/** Decodes a `kubevirt.io/v1` VirtualMachine: type checks (paths under `spec.template.spec`) and normalisation. */
export function decodeKubeVirtVm(value: unknown): Decoded<KvVirtualMachine> {
  const out = decodeObject<KvVirtualMachine>(value, VM_SCHEMA, { apiVersion: "", kind: "VirtualMachine" });
  const spec = out.value.spec?.template?.spec;
  if (spec) normalizeVmiSpec(spec);
  return out;
}

/** Decodes a `kubevirt.io/v1` VirtualMachineInstance: type checks (paths under `spec`) and normalisation. */
export function decodeKubeVirtVmi(value: unknown): Decoded<KvVirtualMachineInstance> {
  const out = decodeObject<KvVirtualMachineInstance>(value, VMI_SCHEMA, {
    apiVersion: "",
    kind: "VirtualMachineInstance",
  });
  if (out.value.spec) normalizeVmiSpec(out.value.spec);
  return out;
}
