/**
 * KubeVirt's SIG-network admitter (`pkg/network/admitter`): `Validate()` and `ValidateCreation()` (reference §3.1–§3.10),
 * plus the discontinued feature-gate check (§1.6). Field paths and messages are KubeVirt's, quirks included.
 */
import type { ClusterConfig } from "../../api/cluster-config.ts";
import { isGateEnabled } from "../../api/cluster-config.ts";
import type { KvInterface, KvNetwork, KvPortRange, KvVmiSpec } from "../../api/kubevirt-types.ts";
import { type Cause, CauseType, cause } from "../cause.ts";
import type { LegacyBindings } from "./legacy.ts";
import { checkMac, goQuote, isGoIPv4, isIanaSvcName, isInterfaceName, isPciAddress, MacCheck } from "./syntax.ts";

/** Go treats an absent and a `null` pointer alike. */
const has = <T>(v: T): v is NonNullable<T> => v !== undefined && v !== null;

/** The models KubeVirt accepts in `interfaces[].model` (reference §1.1). */
export const INTERFACE_MODELS: readonly string[] = ["e1000", "e1000e", "igb", "ne2k_pci", "pcnet", "rtl8139", "virtio"];

/** The MAC reserved for masquerade's in-pod bridge (compared as an exact string). */
export const RESERVED_BRIDGE_MAC = "02:00:00:00:00:00";

const MAX_PORT_RANGES = 10;

/** Inputs shared by every rule. */
interface Ctx {
  readonly spec: KvVmiSpec;
  readonly root: string;
  readonly config: ClusterConfig;
  readonly legacy: LegacyBindings;
  readonly interfaces: readonly KvInterface[];
  readonly networks: readonly KvNetwork[];
  /** Go `IndexNetworkSpecByName`: the last network of each name wins. */
  readonly networksByName: ReadonlyMap<string, KvNetwork>;
}

function context(spec: KvVmiSpec, root: string, config: ClusterConfig, legacy: LegacyBindings): Ctx {
  const interfaces = spec.domain?.devices?.interfaces ?? [];
  const networks = spec.networks ?? [];
  const networksByName = new Map<string, KvNetwork>();
  for (const n of networks) networksByName.set(n.name ?? "", n);
  return { spec, root, config, legacy, interfaces, networks, networksByName };
}

const ifacesPath = (root: string): string => `${root}.domain.devices.interfaces`;
const ifacePath = (root: string, i: number): string => `${ifacesPath(root)}[${i}]`;
const netPath = (root: string, i: number): string => `${root}.networks[${i}]`;

/** A network that is neither pod nor multus when no network of the name exists (Go's zero value). */
const NO_NETWORK: KvNetwork = {};

/** `vmispec.LookUpDefaultNetwork`: the first pod network or Multus default network. */
export function defaultNetwork(networks: readonly KvNetwork[]): KvNetwork | undefined {
  return networks.find((n) => has(n.pod) || (has(n.multus) && n.multus?.default === true));
}

/**
 * `Validator.Validate()` with root `root` (`spec` for a VMI, `spec.template.spec` for a VM), in KubeVirt's order
 * (reference §3.1), with the given legacy-binding policy.
 */
export function validateNetworkSpec(
  spec: KvVmiSpec,
  root: string,
  config: ClusterConfig,
  legacy: LegacyBindings,
): Cause[] {
  const ctx = context(spec, root, config, legacy);
  return [
    ...singlePodNetwork(ctx),
    ...singleNetworkSource(ctx),
    ...multusNetworkName(ctx),
    ...interfaceState(ctx),
    ...interfaceBinding(ctx),
    ...networkNameUnique(ctx),
    ...draNetworks(ctx),
    ...networksToInterfaces(ctx),
    ...interfaceNameUnique(ctx),
    ...interfacesToNetworks(ctx),
    ...interfaceFields(ctx),
  ];
}

/**
 * `Validator.ValidateCreation()`: the discontinued legacy bindings (reference §3.4), skipping those vmnet accepts.
 */
export function validateDiscontinuedBindings(spec: KvVmiSpec, root: string, legacy: LegacyBindings): Cause[] {
  const out: Cause[] = [];
  for (const [i, iface] of (spec.domain?.devices?.interfaces ?? []).entries()) {
    const at = ifacePath(root, i);
    if (has(iface.slirp) && !legacy.slirp) {
      out.push(cause(CauseType.Invalid, `${at}.slirp`, "Slirp interface support has been discontinued since v1.3"));
    }
    if (has(iface.passt) && !legacy.passt) {
      out.push(cause(CauseType.Invalid, `${at}.passt`, "Passt network binding has been discontinued since v1.3"));
    }
    if (has(iface.macvtap) && !legacy.macvtap) {
      out.push(cause(CauseType.Invalid, `${at}.macvtap`, "Macvtap network binding has been discontinued since v1.3"));
    }
  }
  return out;
}

const DISCONTINUED_GATE_MESSAGES = {
  Passt: "Passt network binding is discontinued since v1.3. Please refer to Kubevirt user guide for alternatives.",
  Macvtap: "Macvtap network binding is discontinued since v1.3. Please refer to Kubevirt user guide for alternatives.",
} as const;

/**
 * `featuregate.ValidateFeatureGates` (reference §1.6): one field-less cause per listed discontinued gate whose binding
 * the spec uses, in the order the gates are listed. A gate whose binding vmnet accepts produces nothing.
 */
export function validateDiscontinuedGates(spec: KvVmiSpec, config: ClusterConfig, legacy: LegacyBindings): Cause[] {
  const ifaces = spec.domain?.devices?.interfaces ?? [];
  const out: Cause[] = [];
  for (const gate of config.featureGates) {
    if (gate === "Passt" && !legacy.passt && ifaces.some((i) => has(i.passt))) {
      out.push(cause(CauseType.NotSupported, "", DISCONTINUED_GATE_MESSAGES.Passt));
    } else if (gate === "Macvtap" && !legacy.macvtap && ifaces.some((i) => has(i.macvtap))) {
      out.push(cause(CauseType.NotSupported, "", DISCONTINUED_GATE_MESSAGES.Macvtap));
    }
  }
  return out;
}

// §3.2 network sources

function singlePodNetwork(ctx: Ctx): Cause[] {
  const out: Cause[] = [];
  const pods = ctx.networks.filter((n) => has(n.pod)).length;
  const multusDefaults = ctx.networks.filter((n) => has(n.multus) && n.multus?.default === true).length;
  if (pods > 1) {
    // KubeVirt reports this on `<root>.interfaces`, a path that does not exist.
    const at = `${ctx.root}.interfaces`;
    out.push(cause(CauseType.Duplicate, at, `more than one interface is connected to a pod network in ${at}`));
  }
  if (multusDefaults > 1) {
    out.push(cause(CauseType.Invalid, `${ctx.root}.networks`, "Multus CNI should only have one default network"));
  }
  if (pods > 0 && multusDefaults > 0) {
    out.push(
      cause(
        CauseType.Invalid,
        `${ctx.root}.networks`,
        "Pod network cannot be defined when Multus default network is defined",
      ),
    );
  }
  return out;
}

function singleNetworkSource(ctx: Ctx): Cause[] {
  const out: Cause[] = [];
  for (const [i, n] of ctx.networks.entries()) {
    const sources = [n.pod, n.multus, n.resourceClaim].filter(has).length;
    if (sources === 0) out.push(cause(CauseType.Required, netPath(ctx.root, i), "should have a network type"));
    else if (sources > 1)
      out.push(cause(CauseType.Required, netPath(ctx.root, i), "should have only one network type"));
  }
  return out;
}

function multusNetworkName(ctx: Ctx): Cause[] {
  const i = ctx.networks.findIndex((n) => has(n.multus) && (n.multus?.networkName ?? "") === "");
  if (i < 0) return [];
  return [cause(CauseType.Required, netPath(ctx.root, i), "CNI delegating plugin must have a networkName")];
}

// §3.3 interface state

const STATES: readonly string[] = ["", "absent", "down", "up"];

function interfaceState(ctx: Ctx): Cause[] {
  const out: Cause[] = [];
  const dflt = defaultNetwork(ctx.networks);
  for (const [i, iface] of ctx.interfaces.entries()) {
    const state = iface.state ?? "";
    const name = iface.name ?? "";
    const at = `${ifacePath(ctx.root, i)}.state`;
    if (!STATES.includes(state)) {
      out.push(cause(CauseType.Invalid, at, `logical ${name} interface state value is unsupported: ${state}`));
    }
    if (has(iface.sriov) && (state === "down" || state === "up")) {
      out.push(
        cause(
          CauseType.Invalid,
          at,
          `${goQuote(name)} interface's state ${goQuote(state)} is not supported for SR-IOV NICs`,
        ),
      );
    }
    if (state === "absent" && !has(iface.bridge)) {
      out.push(
        cause(
          CauseType.Invalid,
          at,
          `${goQuote(name)} interface's state ${goQuote(state)} is supported only for bridge binding`,
        ),
      );
    }
    if (state === "absent" && dflt !== undefined && (dflt.name ?? "") === name) {
      out.push(
        cause(
          CauseType.Invalid,
          at,
          `${goQuote(name)} interface's state ${goQuote(state)} is not supported on default networks`,
        ),
      );
    }
  }
  return out;
}

// §3.4 binding, plus vmnet's accepted legacy bindings (Appendix C)

function bindingCount(iface: KvInterface, legacy: LegacyBindings): number {
  let n = [iface.bridge, iface.masquerade, iface.sriov, iface.passtBinding, iface.binding].filter(has).length;
  if (legacy.slirp && has(iface.slirp)) n++;
  if (legacy.passt && has(iface.passt)) n++;
  if (legacy.macvtap && has(iface.macvtap)) n++;
  return n;
}

function interfaceBinding(ctx: Ctx): Cause[] {
  const out: Cause[] = [];
  const passtBindingOn = isGateEnabled(ctx.config, "PasstBinding");
  for (const [i, iface] of ctx.interfaces.entries()) {
    const name = iface.name ?? "";
    const at = ifacePath(ctx.root, i);
    const net = ctx.networksByName.get(name) ?? NO_NETWORK;
    const onPod = has(net.pod);
    if (bindingCount(iface, ctx.legacy) !== 1) {
      out.push(
        cause(
          CauseType.Invalid,
          at,
          `logical ${name} interface must have exactly one binding method or binding plugin`,
        ),
      );
    }
    if (has(iface.masquerade) && !onPod) {
      out.push(cause(CauseType.Invalid, `${at}.name`, "Masquerade interface only implemented with pod network"));
    }
    if (has(iface.masquerade) && iface.macAddress === RESERVED_BRIDGE_MAC) {
      out.push(
        cause(
          CauseType.Invalid,
          `${at}.macAddress`,
          "The requested MAC address is reserved for the in-pod bridge. Please choose another one.",
        ),
      );
    }
    if (has(iface.bridge) && onPod && !ctx.config.permitBridgeInterfaceOnPodNetwork) {
      out.push(
        cause(
          CauseType.Invalid,
          `${at}.name`,
          "Bridge on pod network configuration is not enabled under kubevirt-config",
        ),
      );
    }
    if (has(iface.passtBinding) && !passtBindingOn) {
      out.push(cause(CauseType.Invalid, `${at}.name`, "PasstBinding feature gate is not enabled"));
    }
    if (has(iface.passtBinding) && !onPod) {
      out.push(cause(CauseType.Invalid, `${at}.name`, "PasstBinding interface only implemented with pod network"));
    }
    // Legacy bindings vmnet accepts, with the rules of the KubeVirt versions that still had them (Appendix C).
    if (ctx.legacy.slirp && has(iface.slirp) && !onPod) {
      out.push(cause(CauseType.Invalid, `${at}.name`, "Slirp interface only implemented with pod network"));
    }
    if (ctx.legacy.macvtap && has(iface.macvtap) && !has(net.multus)) {
      out.push(cause(CauseType.Invalid, `${at}.name`, "Macvtap interface only implemented with Multus network"));
    }
    if (ctx.legacy.passt && has(iface.passt)) {
      if (!onPod) {
        out.push(cause(CauseType.Invalid, `${at}.name`, "Passt interface only implemented with pod network"));
      } else if (ctx.interfaces.length > 1) {
        // Seed: passt "doesn't allow extra multus networks to be configured on the VM".
        out.push(
          cause(
            CauseType.Invalid,
            `${at}.name`,
            "Passt interface is only supported as the single interface of the VMI",
          ),
        );
      }
    }
  }
  return out;
}

// §3.5 names

function networkNameUnique(ctx: Ctx): Cause[] {
  const out: Cause[] = [];
  const seen = new Set<string>();
  for (const [i, n] of ctx.networks.entries()) {
    const name = n.name ?? "";
    if (seen.has(name)) {
      out.push(
        cause(
          CauseType.Duplicate,
          `${netPath(ctx.root, i)}.name`,
          `Network with name ${goQuote(name)} already exists, every network must have a unique name`,
        ),
      );
    }
    seen.add(name);
  }
  return out;
}

function networksToInterfaces(ctx: Ctx): Cause[] {
  const names = new Set(ctx.interfaces.map((i) => i.name ?? ""));
  const out: Cause[] = [];
  for (const [i, n] of ctx.networks.entries()) {
    const name = n.name ?? "";
    if (!names.has(name)) {
      const at = `${netPath(ctx.root, i)}.name`;
      out.push(cause(CauseType.Required, at, `${at} '${name}' not found.`));
    }
  }
  return out;
}

function interfaceNameUnique(ctx: Ctx): Cause[] {
  const out: Cause[] = [];
  const seen = new Set<string>();
  for (const [i, iface] of ctx.interfaces.entries()) {
    const name = iface.name ?? "";
    if (seen.has(name)) {
      out.push(
        cause(
          CauseType.Duplicate,
          `${ifacePath(ctx.root, i)}.name`,
          "Only one interface can be connected to one specific network",
        ),
      );
    }
    seen.add(name);
  }
  return out;
}

function interfacesToNetworks(ctx: Ctx): Cause[] {
  const out: Cause[] = [];
  for (const [i, iface] of ctx.interfaces.entries()) {
    const name = iface.name ?? "";
    if (!ctx.networksByName.has(name)) {
      const at = `${ifacePath(ctx.root, i)}.name`;
      out.push(cause(CauseType.Invalid, at, `${at} '${name}' not found.`));
    }
  }
  return out;
}

// §3.10 DRA networks

function draNetworks(ctx: Ctx): Cause[] {
  if (!ctx.networks.some((n) => has(n.resourceClaim))) return [];
  const networksAt = `${ctx.root}.networks`;
  if (!isGateEnabled(ctx.config, "NetworkDevicesWithDRA")) {
    return [
      cause(
        CauseType.Invalid,
        networksAt,
        "vmi.spec.networks contains DRA networks but NetworkDevicesWithDRA feature gate is not enabled",
      ),
    ];
  }
  if (ctx.networks.some((n) => has(n.multus))) {
    return [
      cause(
        CauseType.Invalid,
        networksAt,
        "mixing Multus and DRA resourceClaim networks in the same VMI is not supported",
      ),
    ];
  }
  const claimNames = new Set((ctx.spec.resourceClaims ?? []).map((c) => c.name ?? ""));
  const firstIndexByPair = new Map<string, number>();
  for (const [i, n] of ctx.networks.entries()) {
    const claim = n.resourceClaim?.claimName ?? "";
    const request = n.resourceClaim?.requestName ?? "";
    if (has(n.resourceClaim) && claim !== "" && request !== "" && !firstIndexByPair.has(`${claim}/${request}`)) {
      firstIndexByPair.set(`${claim}/${request}`, i);
    }
  }
  // `vmispec.LookupInterfaceByName`: the first interface of each name.
  const firstInterfaceByName = new Map<string, KvInterface>();
  for (const x of ctx.interfaces)
    if (!firstInterfaceByName.has(x.name ?? "")) firstInterfaceByName.set(x.name ?? "", x);
  const out: Cause[] = [];
  for (const [i, n] of ctx.networks.entries()) {
    if (!has(n.resourceClaim)) continue;
    const name = n.name ?? "";
    const iface = firstInterfaceByName.get(name);
    if (iface && !has(iface.sriov) && !has(iface.binding)) {
      out.push(
        cause(
          CauseType.Invalid,
          ifacesPath(ctx.root),
          `DRA network ${goQuote(name)} requires an SR-IOV or binding plugin interface`,
        ),
      );
    }
    const claim = n.resourceClaim?.claimName ?? "";
    const request = n.resourceClaim?.requestName ?? "";
    const at = netPath(ctx.root, i);
    if (claim === "") {
      out.push(cause(CauseType.Required, `${at}.resourceClaim.claimName`, "claimName is required for DRA network"));
    }
    if (request === "") {
      out.push(cause(CauseType.Required, `${at}.resourceClaim.requestName`, "requestName is required for DRA network"));
    }
    if (claim === "" || request === "") continue;
    if (!claimNames.has(claim)) {
      out.push(
        cause(
          CauseType.NotFound,
          `${at}.resourceClaim.claimName`,
          `network references resourceClaim ${goQuote(claim)} which is not defined in spec.resourceClaims`,
        ),
      );
    }
    const pair = `${claim}/${request}`;
    if (firstIndexByPair.get(pair) !== i) {
      out.push(cause(CauseType.Duplicate, at, `duplicate claimName/requestName combination ${goQuote(pair)}`));
    }
  }
  return out;
}

// §3.5–§3.9 per-interface fields

function interfaceFields(ctx: Ctx): Cause[] {
  const out: Cause[] = [];
  for (const [i, iface] of ctx.interfaces.entries()) {
    const at = ifacePath(ctx.root, i);
    const net = ctx.networksByName.get(iface.name ?? "") ?? NO_NETWORK;
    out.push(...nameFormat(at, iface), ...model(at, iface), ...mac(at, iface), ...pci(at, iface));
    out.push(...ports(at, iface, net), ...portRanges(ctx, at, iface, net), ...dhcpOptions(ctx, at, iface));
  }
  return out;
}

function nameFormat(at: string, iface: KvInterface): Cause[] {
  if (isInterfaceName(iface.name ?? "")) return [];
  return [
    cause(
      CauseType.Invalid,
      `${at}.name`,
      "Network interface name can only contain alphabetical characters, numbers, dashes (-) or underscores (_)",
    ),
  ];
}

function model(at: string, iface: KvInterface): Cause[] {
  const m = iface.model ?? "";
  if (m === "" || INTERFACE_MODELS.includes(m)) return [];
  // The first %s is the path of the interface's name, not the name itself.
  return [cause(CauseType.NotSupported, `${at}.model`, `interface ${at}.name uses model ${m} that is not supported.`)];
}

function mac(at: string, iface: KvInterface): Cause[] {
  const m = iface.macAddress ?? "";
  if (m === "") return [];
  switch (checkMac(m)) {
    case MacCheck.Ok:
      return [];
    case MacCheck.Malformed:
      return [cause(CauseType.Invalid, `${at}.macAddress`, `interface ${at}.name has malformed MAC address (${m}).`)];
    case MacCheck.TooLong:
      return [cause(CauseType.Invalid, `${at}.macAddress`, `interface ${at}.name has too long MAC address (${m}).`)];
  }
}

function pci(at: string, iface: KvInterface): Cause[] {
  const p = iface.pciAddress ?? "";
  if (p === "" || isPciAddress(p)) return [];
  return [cause(CauseType.Invalid, `${at}.pciAddress`, `interface ${at}.name has malformed PCI address (${p}).`)];
}

function ports(at: string, iface: KvInterface, net: KvNetwork): Cause[] {
  if (!has(net.pod) || !has(iface.ports)) return [];
  const list = iface.ports ?? [];
  const out: Cause[] = [];
  const seen = new Set<string>();
  for (const [j, p] of list.entries()) {
    const name = p.name ?? "";
    if (name === "") continue;
    const nameAt = `${at}.ports[${j}].name`;
    if (seen.has(name)) out.push(cause(CauseType.Duplicate, nameAt, `Duplicate name of the port: ${name}`));
    if (!isIanaSvcName(name)) out.push(cause(CauseType.Invalid, nameAt, `Invalid name of the port: ${name}`));
    seen.add(name);
  }
  for (const [j, p] of list.entries()) {
    const port = p.port ?? 0;
    const portAt = `${at}.ports[${j}].port`;
    if (port === 0) out.push(cause(CauseType.Required, portAt, "Port field is mandatory."));
    else if (port < 0 || port >= 65536) {
      out.push(cause(CauseType.Invalid, portAt, "Port field must be in range 0 < x < 65536."));
    }
    const protocol = p.protocol ?? "";
    if (protocol !== "" && protocol !== "TCP" && protocol !== "UDP") {
      out.push(cause(CauseType.Invalid, `${at}.ports[${j}].protocol`, "Unknown protocol, only TCP or UDP allowed"));
    }
  }
  return out;
}

function portRanges(ctx: Ctx, at: string, iface: KvInterface, net: KvNetwork): Cause[] {
  if (!has(iface.portRanges)) return [];
  if (!isGateEnabled(ctx.config, "PortRangesSpec")) {
    return [
      cause(
        CauseType.Invalid,
        `${at}.name`,
        "portRanges is specified on interface but the PortRangesSpec feature gate is not enabled",
      ),
    ];
  }
  if (!has(net.pod)) return [];
  const list = iface.portRanges ?? [];
  const out: Cause[] = [];
  if ((iface.ports?.length ?? 0) > 0) {
    out.push(cause(CauseType.Invalid, `${at}.name`, "Cannot define both ports and portRanges on interface"));
  }
  if (!has(iface.masquerade)) {
    out.push(cause(CauseType.Invalid, `${at}.name`, "portRanges are only supported on masquerade interfaces"));
  }
  if (list.length > MAX_PORT_RANGES) {
    out.push(cause(CauseType.Invalid, `${at}.portRanges`, "No more than 10 portRanges are allowed"));
    return out;
  }
  const valid: Required<Pick<KvPortRange, "protocol" | "start" | "end">>[] = [];
  for (const [k, r] of list.entries()) {
    const rAt = `${at}.portRanges[${k}]`;
    const protocol = r.protocol ?? "";
    const start = r.start ?? 0;
    const end = r.end ?? 0;
    if (protocol !== "TCP" && protocol !== "UDP") {
      out.push(cause(CauseType.Invalid, `${rAt}.protocol`, "Unknown protocol, only TCP or UDP allowed"));
    } else if (start <= 0 || start >= 65536) {
      out.push(cause(CauseType.Invalid, `${rAt}.start`, "Start must be a valid port number, 0 < x < 65536"));
    } else if (end <= 0 || end >= 65536) {
      out.push(cause(CauseType.Invalid, `${rAt}.end`, "End must be a valid port number, 0 < x < 65536"));
    } else if (start > end) {
      out.push(cause(CauseType.Invalid, `${rAt}.start`, "Start must be less than or equal to end"));
    } else {
      valid.push({ protocol, start, end });
    }
  }
  for (const protocol of ["TCP", "UDP"]) {
    const sorted = valid.filter((r) => r.protocol === protocol).sort((a, b) => a.start - b.start || a.end - b.end);
    for (let k = 1; k < sorted.length; k++) {
      const prev = sorted[k - 1];
      const cur = sorted[k];
      if (prev && cur && cur.start <= prev.end) {
        out.push(
          cause(
            CauseType.Invalid,
            `${at}.portRanges`,
            `${protocol} portRanges [${prev.start}-${prev.end}] and [${cur.start}-${cur.end}] overlap`,
          ),
        );
      }
    }
  }
  return out;
}

function dhcpOptions(ctx: Ctx, at: string, iface: KvInterface): Cause[] {
  const opts = iface.dhcpOptions;
  if (!has(opts)) return [];
  const out: Cause[] = [];
  const privateOptions = opts.privateOptions ?? [];
  const codes = privateOptions.map((o) => o.option ?? 0);
  // Reported on the root (e.g. `spec`), not on the interface: a KubeVirt quirk.
  if (new Set(codes).size < codes.length) {
    out.push(cause(CauseType.Invalid, ctx.root, "Found Duplicates: you have provided duplicate DHCPPrivateOptions"));
  }
  for (const code of codes) {
    if (!(code >= 224 && code <= 254)) {
      out.push(
        cause(CauseType.Invalid, ctx.root, "provided DHCPPrivateOptions are out of range, must be in range 224 to 254"),
      );
    }
  }
  for (const [j, ntp] of (opts.ntpServers ?? []).entries()) {
    if (!isGoIPv4(ntp)) {
      out.push(
        cause(
          CauseType.Invalid,
          `${at}.dhcpOptions.ntpServers[${j}]`,
          "NTP servers must be a list of valid IPv4 addresses.",
        ),
      );
    }
  }
  return out;
}
