/**
 * The network-adjacent rules of KubeVirt's `ValidateVirtualMachineInstanceSpec` (reference §3.11) and the public
 * validation entry points. Only the rules that concern networking are ported; disks, CPU, memory and the rest of the
 * VMI spec are someone else's business.
 */
import type { ClusterConfig } from "../../api/cluster-config.ts";
import type { KvVmiSpec } from "../../api/kubevirt-types.ts";
import { type Cause, CauseType, cause } from "../cause.ts";
import { type LegacyBindings, legacyBindingsFor } from "./legacy.ts";
import { validateDiscontinuedBindings, validateDiscontinuedGates, validateNetworkSpec } from "./network.ts";
import { dns1123LabelErrors, dns1123SubdomainErrors, goStringSlice, parseGoIP } from "./syntax.ts";

const has = <T>(v: T): v is NonNullable<T> => v !== undefined && v !== null;

/**
 * KubeVirt's VMI spec validation restricted to networking, with root `root`: hostname and subdomain, the SIG-network
 * `Validate()` (reference §3.1 order), then boot order, probes, DNS policy and config, and launchSecurity, in the
 * order `ValidateVirtualMachineInstanceSpec` runs them.
 */
export function validateKubeVirtVmiSpec(spec: KvVmiSpec, root: string, config: ClusterConfig): Cause[] {
  return validateVmiSpecWith(spec, root, config, legacyBindingsFor(config));
}

/** {@link validateKubeVirtVmiSpec} with an explicit legacy-binding policy. */
export function validateVmiSpecWith(
  spec: KvVmiSpec,
  root: string,
  config: ClusterConfig,
  legacy: LegacyBindings,
): Cause[] {
  return [...hostnameRules(spec, root), ...validateNetworkSpec(spec, root, config, legacy), ...laterRules(spec, root)];
}

/**
 * `ValidateCreation` (discontinued bindings) preceded by the discontinued feature-gate check of reference §1.6, whose
 * causes have no field.
 */
export function validateKubeVirtCreation(spec: KvVmiSpec, root: string, config: ClusterConfig): Cause[] {
  const legacy = legacyBindingsFor(config);
  return [...validateDiscontinuedGates(spec, config, legacy), ...validateDiscontinuedBindings(spec, root, legacy)];
}

/** The rules `ValidateVirtualMachineInstanceSpec` runs before the network validator. */
export function hostnameRules(spec: KvVmiSpec, root: string): Cause[] {
  const out: Cause[] = [];
  const hostname = spec.hostname ?? "";
  if (hostname !== "") {
    const errs = dns1123LabelErrors(hostname);
    if (errs.length > 0) {
      out.push(
        cause(
          CauseType.Invalid,
          `${root}.hostname`,
          `${root}.hostname does not conform to the kubernetes DNS_LABEL rules : ${errs.join(", ")}`,
        ),
      );
    }
  }
  const subdomain = spec.subdomain ?? "";
  if (subdomain !== "") {
    const errs = dns1123SubdomainErrors(subdomain);
    if (errs.length > 0) {
      out.push(
        cause(
          CauseType.Invalid,
          `${root}.subdomain`,
          `${root}.subdomain does not conform to the kubernetes DNS_SUBDOMAIN rules : ${errs.join(", ")}`,
        ),
      );
    }
  }
  return out;
}

/** The rules `ValidateVirtualMachineInstanceSpec` runs after the network validator. */
export function laterRules(spec: KvVmiSpec, root: string): Cause[] {
  return [
    ...bootOrder(spec, root),
    ...probesNeedPodNetwork(spec, root),
    ...dnsPolicy(spec, root),
    ...dnsConfig(spec, root),
    ...launchSecurity(spec, root),
  ];
}

function bootOrder(spec: KvVmiSpec, root: string): Cause[] {
  const used = new Set<number>();
  // Disks claim their boot orders first; their own errors belong to storage validation, which vmnet does not port.
  for (const disk of spec.domain?.devices?.disks ?? []) {
    if (typeof disk.bootOrder === "number" && disk.bootOrder >= 1) used.add(disk.bootOrder);
  }
  const out: Cause[] = [];
  for (const [i, iface] of (spec.domain?.devices?.interfaces ?? []).entries()) {
    const order = iface.bootOrder;
    if (order === undefined || order === null) continue;
    if (order < 1) {
      // KubeVirt indexes the root itself here (`spec[0]`), not the interface list: a quirk kept on purpose.
      out.push(
        cause(CauseType.Invalid, `${root}[${i}].bootOrder`, `${root}[${i}] must have a boot order > 0, if supplied`),
      );
      continue;
    }
    const at = `${root}.domain.devices.interfaces[${i}].bootOrder`;
    if (used.has(order)) {
      out.push(cause(CauseType.Invalid, at, `Boot order for ${at} already set for a different device.`));
    }
    used.add(order);
  }
  return out;
}

function probesNeedPodNetwork(spec: KvVmiSpec, root: string): Cause[] {
  if ((spec.networks ?? []).some((n) => has(n.pod))) return [];
  const out: Cause[] = [];
  for (const probe of ["readinessProbe", "livenessProbe"] as const) {
    const p = spec[probe];
    if (!has(p)) continue;
    for (const handler of ["httpGet", "tcpSocket"] as const) {
      if (!has(p[handler])) continue;
      const at = `${root}.${probe}.${handler}`;
      out.push(cause(CauseType.Invalid, at, `${at} is only allowed if the Pod Network is attached`));
    }
  }
  return out;
}

const DNS_POLICIES = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None", ""];

function dnsPolicy(spec: KvVmiSpec, root: string): Cause[] {
  const policy = spec.dnsPolicy ?? "";
  if (DNS_POLICIES.includes(policy)) return [];
  return [
    cause(
      CauseType.NotSupported,
      `${root}.dnsPolicy`,
      `DNSPolicy: ${policy} is not supported, valid values: ${goStringSlice(DNS_POLICIES)}`,
    ),
  ];
}

function dnsConfig(spec: KvVmiSpec, root: string): Cause[] {
  const config = spec.dnsConfig;
  const nameservers = config?.nameservers ?? [];
  if (spec.dnsPolicy === "None") {
    if (!has(config)) {
      return [cause(CauseType.Required, `${root}.dnsConfig`, "must provide `dnsConfig` when `dnsPolicy` is None")];
    }
    if (nameservers.length === 0) {
      // KubeVirt's copy of the Kubernetes check uses bare field names instead of paths.
      return [
        cause(CauseType.Required, "nameservers", "must provide at least one DNS nameserver when `dnsPolicy` is None"),
      ];
    }
  }
  if (!has(config)) return [];
  const out: Cause[] = [];
  if (nameservers.length > 3) {
    out.push(
      cause(CauseType.Invalid, "nameservers", `must not have more than 3 nameservers: ${goStringSlice(nameservers)}`),
    );
  }
  for (const ns of nameservers) {
    if (!parseGoIP(ns)) out.push(cause(CauseType.Invalid, "nameservers", `must be valid IP address: ${ns}`));
  }
  const searches = config?.searches ?? [];
  if (searches.length > 6) {
    out.push(cause(CauseType.Invalid, "searchDomains", "must not have more than 6 search paths"));
  }
  if (Buffer.byteLength(searches.join(" "), "utf8") > 256) {
    out.push(
      cause(
        CauseType.Invalid,
        "searchDomains",
        "must not have more than 256 characters (including spaces) in the search list",
      ),
    );
  }
  for (const search of searches) {
    for (const msg of dns1123SubdomainErrors(search)) out.push(cause(CauseType.Invalid, "searchDomains", msg));
  }
  for (const option of config?.options ?? []) {
    if ((option.name ?? "") === "") out.push(cause(CauseType.Invalid, "options", "Option.Name must not be empty"));
  }
  return out;
}

/**
 * The bootable-NIC rule of the amd64 launchSecurity check. It applies when exactly one of SEV, SNP or TDX is selected
 * (otherwise KubeVirt reports the selection itself, a non-network cause vmnet does not port). KubeVirt reports it on
 * `<root>.launchSecurity` although the field lives in `<root>.domain.launchSecurity`.
 */
function launchSecurity(spec: KvVmiSpec, root: string): Cause[] {
  const ls = spec.domain?.launchSecurity;
  if (!has(ls)) return [];
  const arch = typeof spec.architecture === "string" ? spec.architecture : "";
  if (arch !== "" && arch !== "amd64") return [];
  const types = (["sev", "snp", "tdx"] as const).filter((key) => has(ls[key])).map((key) => key.toUpperCase());
  const [type] = types;
  if (types.length !== 1 || type === undefined) return [];
  const out: Cause[] = [];
  for (const iface of spec.domain?.devices?.interfaces ?? []) {
    if (iface.bootOrder === undefined || iface.bootOrder === null) continue;
    out.push(
      cause(
        CauseType.Invalid,
        `${root}.launchSecurity`,
        `${type} does not work with bootable NICs: ${iface.name ?? ""}`,
      ),
    );
  }
  return out;
}
