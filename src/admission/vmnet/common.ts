/**
 * vmnet checks shared by both dialects: MAC addresses, VM network CIDRs and the NADs a multus network refers to.
 * Each returns causes with a rendered field path; the caller decides whether they warn or deny.
 */
import { tryParseMac } from "../../api/mac.ts";
import { type Cause, CauseType, cause } from "../cause.ts";
import { type Cidr, cidrSize, cidrsOverlap, parseCidr } from "./cidr.ts";
import { findNad, type NadFacts } from "./nad-facts.ts";

/** The pod CIDRs of the vmnet lab (and of a kind/kubeadm cluster with flannel defaults). */
export const DEFAULT_POD_CIDRS: readonly string[] = ["10.244.0.0/16", "fd00:10:244::/56"];

/** NAD resource names of the macvtap device plugin: `macvtap.network.kubevirt.io/<lower device>`. */
export const MACVTAP_RESOURCE_PREFIX = "macvtap.network.kubevirt.io/";

/** The MTU range Linux accepts on an Ethernet link (RFC 791 minimum for IPv4 up to the 16-bit maximum). */
export const MTU_MIN = 68;
export const MTU_MAX = 65535;

/** CNIs whose pod interface must keep its own MAC, which a bridge binding takes away (seed: "Invalid CNIs"). */
export const BRIDGE_INCOMPATIBLE_CNIS: readonly string[] = ["macvlan", "ipvlan"];

/** A guest NIC's MAC as written, with the field that holds it. */
export interface MacEntry {
  readonly interfaceName: string;
  readonly mac: string;
  readonly field: string;
}

/** Multicast, all-zero and duplicate MACs (compared after normalising the spelling). Unparsable MACs are skipped. */
export function checkMacs(entries: readonly MacEntry[]): Cause[] {
  const out: Cause[] = [];
  const seen = new Map<string, string>();
  for (const e of entries) {
    if (e.mac === "") continue;
    const octets = tryParseMac(e.mac);
    if (!octets) continue;
    const first = octets[0] ?? 0;
    if (octets.every((b) => b === 0)) {
      out.push(
        cause(CauseType.Invalid, e.field, `MAC address "${e.mac}" is all zeros; a guest NIC needs a real address`),
      );
    } else if ((first & 1) === 1) {
      out.push(
        cause(
          CauseType.Invalid,
          e.field,
          `MAC address "${e.mac}" is a multicast address (bit 0 of the first octet is set); a guest NIC needs a unicast one`,
        ),
      );
    }
    const key = [...octets].join(",");
    const owner = seen.get(key);
    if (owner !== undefined) {
      out.push(cause(CauseType.Duplicate, e.field, `MAC address "${e.mac}" is also used by interface "${owner}"`));
    } else {
      seen.set(key, e.interfaceName);
    }
  }
  return out;
}

/** Parses the pod CIDRs given as an option; a bad one is an argument error, not a finding. */
export function parsePodCidrs(texts: readonly string[]): Cidr[] {
  return texts.map((t) => {
    const c = parseCidr(t);
    if (!c) throw new RangeError(`Cannot parse pod CIDR "${t}"`);
    return c;
  });
}

/**
 * A VM-side network CIDR (KubeVirt `vmNetworkCIDR`/`vmIPv6NetworkCIDR`, Virtink `masquerade.cidr`): it must parse as
 * the expected family, hold at least 4 addresses (network, gateway, guest, broadcast) and stay clear of the pod network.
 */
export function checkVmCidr(
  text: string,
  family: 4 | 6 | undefined,
  options: { readonly field: string; readonly label: string; readonly podCidrs: readonly Cidr[] },
): Cause[] {
  const { field, label } = options;
  const c = parseCidr(text);
  if (!c || (family !== undefined && c.family !== family)) {
    const what = family === undefined ? "CIDR" : `IPv${family} CIDR`;
    return [
      cause(
        CauseType.Invalid,
        field,
        `${label} "${text}" is not a valid ${what}; masquerade setup would fail at runtime`,
      ),
    ];
  }
  const out: Cause[] = [];
  if (cidrSize(c) < 4n) {
    out.push(
      cause(
        CauseType.Invalid,
        field,
        `${label} "${text}" has fewer than 4 addresses; masquerade needs a network, gateway, guest and broadcast address`,
      ),
    );
  }
  for (const pod of options.podCidrs) {
    if (cidrsOverlap(c, pod)) {
      out.push(
        cause(
          CauseType.Invalid,
          field,
          `${label} "${text}" overlaps the pod network "${pod.text}"; the guest could not reach pods in that range`,
        ),
      );
    }
  }
  return out;
}

/** A multus network of a VM, with the fields that name it and its interface's binding. */
export interface MultusUse {
  /** The field holding `networkName`. */
  readonly field: string;
  readonly networkName: string;
  /** The binding of the interface on this network, if an interface uses it. */
  readonly binding?: string;
  /** The field of that binding (e.g. `…interfaces[1].bridge`). */
  readonly bindingField?: string;
  /** A macvlan NAD in `passthru` mode works with a bridge (Virtink seed); KubeVirt does not make the exception. */
  readonly allowMacvlanPassthru: boolean;
}

/**
 * NAD-level checks for each multus network: the NAD must be among those given (only when some were given), its MTU
 * must be a valid link MTU, a macvtap NAD needs the device plugin's resource name, and a bridge binding cannot sit on
 * a macvlan/ipvlan NAD.
 */
export function checkNads(
  uses: readonly MultusUse[],
  nads: readonly NadFacts[] | undefined,
  vmNamespace: string | undefined,
): Cause[] {
  if (!nads || nads.length === 0) return [];
  const out: Cause[] = [];
  for (const use of uses) {
    const nad = findNad(nads, use.networkName, vmNamespace);
    if (!nad) {
      const known = nads.map((n) => `"${n.namespace ? `${n.namespace}/` : ""}${n.name}"`).join(", ");
      out.push(
        cause(
          CauseType.NotFound,
          use.field,
          `Network attachment definition "${use.networkName}" is not among the given ones (${known})`,
        ),
      );
      continue;
    }
    for (const p of nad.plugins) {
      if (p.mtu !== undefined && (p.mtu < MTU_MIN || p.mtu > MTU_MAX)) {
        out.push(
          cause(
            CauseType.Invalid,
            use.field,
            `Network attachment definition "${nad.name}" sets MTU ${p.mtu} on its "${p.type}" plugin, outside the range ${MTU_MIN} to ${MTU_MAX}`,
          ),
        );
      }
    }
    const main = nad.plugins[0];
    if (!main) continue;
    if (main.type === "macvtap" && !(nad.resourceName ?? "").startsWith(MACVTAP_RESOURCE_PREFIX)) {
      out.push(
        cause(
          CauseType.Invalid,
          use.field,
          `Network attachment definition "${nad.name}" uses the macvtap CNI but its "k8s.v1.cni.cncf.io/resourceName" annotation is not "${MACVTAP_RESOURCE_PREFIX}<device>"`,
        ),
      );
    }
    const passthru = main.type === "macvlan" && main.mode === "passthru" && use.allowMacvlanPassthru;
    if (use.binding === "bridge" && BRIDGE_INCOMPATIBLE_CNIS.includes(main.type) && !passthru) {
      out.push(
        cause(
          CauseType.Invalid,
          use.bindingField ?? use.field,
          `Bridge binding does not work with the "${main.type}" CNI of network attachment definition "${nad.name}": the bridge gives the pod interface's MAC address to the guest, and ${main.type} needs the original one`,
        ),
      );
    }
  }
  return out;
}
