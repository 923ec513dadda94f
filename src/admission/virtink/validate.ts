/**
 * Virtink's validating webhook (`ValidateVM`), the networking rules I1–I10, N1–N5 and the update rule U1 of the
 * Virtink reference §2.3, evaluated in the order of §2.2.
 */
import { CidrParseError, goInt64AddressCount, tryParseCidr } from "../../api/ip.ts";
import { goMacErrorText, tryParseMac } from "../../api/mac.ts";
import type { FieldPath } from "../../api/source.ts";
import type { VkVirtualMachine } from "../../api/virtink-types.ts";
import type { Cause } from "../cause.ts";
import { duplicateError, forbiddenError, invalidError, requiredError } from "./field-error.ts";
import { goString, isRecord, type JsonRecord, listOf, present } from "./json.ts";

/** Options of {@link validateVirtinkVm}. */
export interface VirtinkValidateOptions {
  /** The stored object on UPDATE; enables the immutability rule U1. */
  readonly old?: VkVirtualMachine;
}

/** Binding methods in the order Virtink counts them; the first present one is "the" binding. */
export const VIRTINK_BINDING_METHODS = ["bridge", "masquerade", "sriov", "vdpa", "vhostUser"] as const;
/** A Virtink interface binding method key. */
export type VirtinkBindingMethod = (typeof VIRTINK_BINDING_METHODS)[number];

/** Network sources in the order Virtink counts them. */
export const VIRTINK_NETWORK_SOURCES = ["pod", "multus"] as const;
/** A Virtink network source key. */
export type VirtinkNetworkSource = (typeof VIRTINK_NETWORK_SOURCES)[number];

/** The fewest addresses a masquerade CIDR must hold: network, gateway, guest, broadcast. */
const MASQUERADE_MIN_ADDRESSES = 4;

/**
 * Validates the networking part of a (normally already defaulted) Virtink VM and returns one cause per Go
 * `field.Error`, in Virtink's order. Never throws.
 */
export function validateVirtinkVm(vm: VkVirtualMachine, options: VirtinkValidateOptions = {}): Cause[] {
  const causes: Cause[] = [];
  const spec: JsonRecord = isRecord(vm.spec) ? vm.spec : {};
  const instance: JsonRecord = isRecord(spec.instance) ? spec.instance : {};
  const cpu = isRecord(instance.cpu) ? instance.cpu : {};
  const memory = isRecord(instance.memory) ? instance.memory : {};
  const vhostUserAllowed = cpu.dedicatedCPUPlacement === true && present(memory.hugepages);

  const interfaceNames = new Set<string>();
  listOf(instance.interfaces).forEach((raw, i) => {
    const iface = isRecord(raw) ? raw : {};
    const path: FieldPath = ["spec", "instance", "interfaces", i];
    const name = goString(iface.name);
    if (interfaceNames.has(name)) causes.push(duplicateError([...path, "name"], name));
    interfaceNames.add(name);
    if (present(iface.vhostUser) && !vhostUserAllowed) {
      causes.push(
        forbiddenError(
          [...path, "vhostUser"],
          "may not use vhost-user interface without dedicated CPU placement and hugepages",
        ),
      );
    }
    causes.push(...validateInterface(iface, path));
  });

  const networkNames = new Set<string>();
  listOf(spec.networks).forEach((raw, j) => {
    const network = isRecord(raw) ? raw : {};
    const path: FieldPath = ["spec", "networks", j];
    const name = goString(network.name);
    if (networkNames.has(name)) causes.push(duplicateError([...path, "name"], name));
    networkNames.add(name);
    causes.push(...validateNetwork(network, path));
  });

  if (options.old !== undefined && specUpdated(options.old.spec, spec)) {
    causes.push(forbiddenError(["spec"], "VM spec may not be updated except runPolicy, volumes, instance.disks"));
  }
  return causes;
}

function validateInterface(iface: JsonRecord, path: FieldPath): Cause[] {
  const causes: Cause[] = [];
  if (goString(iface.name) === "") causes.push(requiredError([...path, "name"]));
  const mac = goString(iface.mac);
  // Virtink checks emptiness and then parses anyway, so "" yields both errors.
  if (mac === "") causes.push(requiredError([...path, "mac"]));
  if (tryParseMac(mac) === undefined) causes.push(invalidError([...path, "mac"], mac, goMacErrorText(mac)));

  let count = 0;
  for (const method of VIRTINK_BINDING_METHODS) {
    const value = iface[method];
    if (!present(value)) continue;
    count++;
    if (count > 1) {
      causes.push(forbiddenError([...path, method], "may not specify more than 1 binding method"));
    } else if (method === "masquerade") {
      const cidr = isRecord(value) ? goString(value.cidr) : "";
      causes.push(...validateCidr(cidr, MASQUERADE_MIN_ADDRESSES, [...path, "masquerade", "cidr"]));
    }
  }
  if (count === 0) causes.push(requiredError(path, "at least 1 binding method is required"));
  return causes;
}

function validateCidr(cidr: string, capacity: number, path: FieldPath): Cause[] {
  if (cidr === "") return [requiredError(path)];
  // Virtink is built with Go 1.19, whose ParseCIDR reads IPv6 groups the pre-netip way.
  const parsed = tryParseCidr(cidr, { legacyIPv6: true });
  if (parsed === undefined) {
    // Go reports the parse error and then, the subnet being nil, a second error.
    const error = new CidrParseError(cidr).message;
    return [invalidError(path, cidr, error), invalidError(path, cidr, "must specify subnet")];
  }
  if (goInt64AddressCount(parsed) < BigInt(capacity)) {
    return [invalidError(path, cidr, `must contain at least ${capacity} IPs`)];
  }
  return [];
}

function validateNetwork(network: JsonRecord, path: FieldPath): Cause[] {
  const causes: Cause[] = [];
  if (goString(network.name) === "") causes.push(requiredError([...path, "name"]));
  let count = 0;
  for (const source of VIRTINK_NETWORK_SOURCES) {
    const value = network[source];
    if (!present(value)) continue;
    count++;
    if (count > 1) {
      causes.push(forbiddenError([...path, source], "may not specify more than 1 network source"));
    } else if (source === "multus") {
      const networkName = isRecord(value) ? goString(value.networkName) : "";
      if (networkName === "") causes.push(requiredError([...path, "multus", "networkName"]));
    }
  }
  if (count === 0) causes.push(requiredError(path, "at least 1 network source is required"));
  return causes;
}

/**
 * U1: Virtink copies runPolicy, volumes and instance.disks from the new spec into the old one and compares the two
 * with `reflect.DeepEqual` on the decoded Go structs.
 */
function specUpdated(oldSpecValue: unknown, newSpec: JsonRecord): boolean {
  const oldSpec: JsonRecord = isRecord(oldSpecValue) ? { ...oldSpecValue } : {};
  oldSpec.runPolicy = newSpec.runPolicy;
  oldSpec.volumes = newSpec.volumes;
  const newInstance = isRecord(newSpec.instance) ? newSpec.instance : undefined;
  const oldInstance: JsonRecord = isRecord(oldSpec.instance) ? { ...oldSpec.instance } : {};
  oldInstance.disks = newInstance?.disks;
  oldSpec.instance = oldInstance;
  return !goDeepEqual(oldSpec, newSpec, "");
}

// Go value structs (not pointers) in VirtualMachineSpec: absent and `{}` decode alike.
const VALUE_STRUCT_PATHS: ReadonlySet<string> = new Set([
  "instance",
  "instance.cpu",
  "instance.memory",
  "instance.kernel",
  "resources",
]);

/**
 * `reflect.DeepEqual` of two decoded Go specs, approximated on JSON: null and absent are the same; an absent
 * scalar equals its Go zero value (`""`, 0, false); an absent value struct equals `{}`; an absent list differs from
 * `[]` (nil versus empty slice) and an absent pointer differs from `{}`.
 */
function goDeepEqual(a: unknown, b: unknown, path: string): boolean {
  const x = a === null ? undefined : a;
  const y = b === null ? undefined : b;
  if (x === undefined || y === undefined) {
    const other = x === undefined ? y : x;
    if (other === undefined || other === "" || other === 0 || other === false) return true;
    return VALUE_STRUCT_PATHS.has(path) && isRecord(other) && goDeepEqual(other, {}, path);
  }
  if (Array.isArray(x) || Array.isArray(y)) {
    if (!Array.isArray(x) || !Array.isArray(y) || x.length !== y.length) return false;
    return x.every((v, k) => goDeepEqual(v, y[k], `${path}[]`));
  }
  if (isRecord(x) || isRecord(y)) {
    if (!isRecord(x) || !isRecord(y)) return false;
    const keys = new Set([...Object.keys(x), ...Object.keys(y)]);
    for (const k of keys) {
      if (!goDeepEqual(x[k], y[k], path === "" ? k : `${path}.${k}`)) return false;
    }
    return true;
  }
  return Object.is(x, y) || x === y;
}
