/**
 * Device names inside the pod, identical to KubeVirt's (`pkg/network/namescheme`, reference §4.2, §5.2, Appendix A)
 * and Virtink's (virtink reference §1.2, §4).
 */
import { createHash } from "node:crypto";
import type { NetworkSpec, VmNetworkModel } from "../api/model.ts";
import { primaryNetwork } from "../api/model.ts";

/** IFNAMSIZ is 16 bytes including the terminating NUL. */
const IFNAMSIZ_MAX = 15;

/** A valid Linux network interface name: 1 to 15 bytes, no `/`, `:` or whitespace, not `.` or `..`. */
export class InterfaceName {
  private constructor(readonly value: string) {}

  /** Validates `name` as the kernel's `dev_valid_name` does; throws RangeError or TypeError when it is not valid. */
  static of(name: string): InterfaceName {
    const bytes = Buffer.byteLength(name, "utf8");
    if (bytes === 0 || bytes > IFNAMSIZ_MAX) {
      throw new RangeError(`Cannot use interface name "${name}": it must be 1 to 15 bytes long, not ${bytes}`);
    }
    if (name === "." || name === "..") throw new TypeError(`Cannot use interface name "${name}"`);
    if (/[/:\s]/u.test(name)) {
      throw new TypeError(`Cannot use interface name "${name}": it contains "/", ":" or whitespace`);
    }
    return new InterfaceName(name);
  }

  /** Whether `name` would be accepted by `InterfaceName.of`. */
  static isValid(name: string): boolean {
    try {
      InterfaceName.of(name);
      return true;
    } catch {
      return false;
    }
  }

  /** The name as text. */
  toString(): string {
    return this.value;
  }

  /** Serialises as the plain name, so plans print readably. */
  toJSON(): string {
    return this.value;
  }
}

/** KubeVirt's primary pod interface. */
export const PRIMARY_POD_INTERFACE = "eth0";

/** Matches KubeVirt's legacy ordinal secondary interface names. */
const ORDINAL = /^net\d+$/;

/** Whether `name` is a legacy ordinal pod interface name (`net1`, …); `eth0` is not. */
export function isOrdinalName(name: string): boolean {
  return ORDINAL.test(name);
}

/** KubeVirt's hashed pod interface name: `pod` + the first 11 hex characters of SHA-256(network name). */
export function hashedPodInterfaceName(networkName: string): InterfaceName {
  // 11 = 15 (IFNAMSIZ-1) minus len("-nic"), so `<hash>-nic` still fits.
  const hash = createHash("sha256").update(networkName, "utf8").digest("hex").slice(0, 11);
  return InterfaceName.of(`pod${hash}`);
}

/** KubeVirt's legacy ordinal name `net<n>` (1-based among secondary Multus networks). */
export function ordinalPodInterfaceName(n: number): InterfaceName {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`Cannot build an ordinal interface name from "${n}"`);
  return InterfaceName.of(`net${n}`);
}

/** Options for {@link kubevirtPodInterfaceNames}. */
export interface PodInterfaceNameOptions {
  /** Names of the links already in the pod netns: any ordinal one selects the legacy scheme, as virt-handler does. */
  readonly existingLinks?: readonly string[];
  /** `status.interfaces[].podInterfaceName` per network name (dynamic naming); wins over the computed name. */
  readonly overrides?: Readonly<Record<string, string>>;
}

/** KubeVirt's pod interface name of every network of `model`, keyed by network name. */
export function kubevirtPodInterfaceNames(
  model: VmNetworkModel,
  options: PodInterfaceNameOptions = {},
): Map<string, InterfaceName> {
  const ordinal = (options.existingLinks ?? []).some(isOrdinalName);
  const primary = primaryNetwork(model);
  const names = new Map<string, InterfaceName>();
  let secondaryIndex = 0;
  for (const net of model.networks) {
    const isPrimary = net === primary;
    if (!isPrimary && net.source.kind === "multus") secondaryIndex++;
    const override = options.overrides?.[net.name];
    if (override !== undefined) names.set(net.name, InterfaceName.of(override));
    else if (isPrimary) names.set(net.name, InterfaceName.of(PRIMARY_POD_INTERFACE));
    else names.set(net.name, ordinal ? ordinalPodInterfaceName(secondaryIndex) : hashedPodInterfaceName(net.name));
  }
  return names;
}

/** KubeVirt's T: the pod interface name without a leading `pod` (`eth0`→`eth0`, `pod16477688c0e`→`16477688c0e`). */
function suffixOf(podIface: InterfaceName): string {
  return podIface.value.startsWith("pod") ? podIface.value.slice(3) : podIface.value;
}

/** KubeVirt's in-pod bridge `k6t-<T>`. */
export function kubevirtBridgeName(podIface: InterfaceName): InterfaceName {
  return InterfaceName.of(`k6t-${suffixOf(podIface)}`);
}

/** KubeVirt's renamed pod NIC `<T>-nic` (bridge binding). */
export function kubevirtNicName(podIface: InterfaceName): InterfaceName {
  return InterfaceName.of(`${suffixOf(podIface)}-nic`);
}

/** KubeVirt's tap: `tap0` for the primary network, else `tap` + the pod interface name minus its first 3 bytes. */
export function kubevirtTapName(podIface: InterfaceName, primary: boolean): InterfaceName {
  return InterfaceName.of(primary ? "tap0" : `tap${podIface.value.slice(3)}`);
}

/** Virtink's in-pod link of a network: `eth0` for the pod network, else `net<j>` with j its 0-based index. */
export function virtinkLinkName(model: VmNetworkModel, network: NetworkSpec): InterfaceName {
  if (network.source.kind === "pod") return InterfaceName.of(PRIMARY_POD_INTERFACE);
  const j = model.networks.indexOf(network);
  if (j < 0) throw new RangeError(`Cannot name network "${network.name}": it is not in the model`);
  return InterfaceName.of(`net${j}`);
}

/** Virtink's bridge `br-<L>`. */
export function virtinkBridgeName(link: InterfaceName): InterfaceName {
  return InterfaceName.of(`br-${link.value}`);
}

/** Virtink's tap `tap-<L>`. */
export function virtinkTapName(link: InterfaceName): InterfaceName {
  return InterfaceName.of(`tap-${link.value}`);
}

/** Virtink's renamed uplink `<L>-nic`. */
export function virtinkNicName(link: InterfaceName): InterfaceName {
  return InterfaceName.of(`${link.value}-nic`);
}
