/**
 * vmnet's own checks on a KubeVirt VMI spec: things KubeVirt admits but that fail later (at pod rendering or in the
 * pod), or that silently do nothing. Nothing here repeats a KubeVirt admission rule: e.g. a second masquerade
 * interface needs a second network, which KubeVirt already denies whatever it is (a second pod network, masquerade on
 * multus, or a missing network), and SR-IOV link states are KubeVirt's own cause.
 */

import type { ClusterConfig } from "../../api/cluster-config.ts";
import type { KvInterface, KvVmiSpec } from "../../api/kubevirt-types.ts";
import { type Cause, CauseType, cause } from "../cause.ts";
import type { Cidr } from "./cidr.ts";
import { checkMacs, checkNads, checkVmCidr, type MultusUse } from "./common.ts";
import type { NadFacts } from "./nad-facts.ts";

/** What the KubeVirt checks need besides the spec. */
export interface KubeVirtCheckOptions {
  /** The rendered path of the VMI spec: `spec` for a VMI, `spec.template.spec` for a VM. */
  readonly root: string;
  readonly config: ClusterConfig;
  readonly podCidrs: readonly Cidr[];
  /** The NADs given with the VM; the NAD checks are skipped when there are none. */
  readonly nads?: readonly NadFacts[];
  readonly namespace?: string;
}

const CORE_BINDINGS = ["bridge", "masquerade", "sriov", "passtBinding", "slirp", "macvtap", "passt"] as const;

/** The binding an interface uses: a core method key, `plugin`, or undefined (KubeVirt denies that itself). */
export function kubeVirtBindingOf(iface: KvInterface): string | undefined {
  for (const b of CORE_BINDINGS) if (iface[b] !== undefined && iface[b] !== null) return b;
  if (iface.binding) return "plugin";
  return undefined;
}

/** Runs every vmnet check on a (defaulted) KubeVirt VMI spec. */
export function checkKubeVirtSpec(spec: KvVmiSpec, options: KubeVirtCheckOptions): Cause[] {
  const ifacesPath = `${options.root}.domain.devices.interfaces`;
  const netsPath = `${options.root}.networks`;
  const interfaces = Array.isArray(spec.domain?.devices?.interfaces) ? spec.domain.devices.interfaces : [];
  const networks = Array.isArray(spec.networks) ? spec.networks : [];
  const out: Cause[] = [];

  interfaces.forEach((iface, i) => {
    const at = `${ifacesPath}[${i}]`;
    const pluginName = iface.binding?.name;
    if (pluginName && !Object.hasOwn(options.config.bindingPlugins, pluginName)) {
      out.push(
        cause(
          CauseType.NotFound,
          `${at}.binding.name`,
          `Network binding plugin "${pluginName}" is not registered in the KubeVirt CR (spec.configuration.network.binding); rendering the pod would fail with "unable to find the network binding plugin '${pluginName}' in Kubevirt configuration"`,
        ),
      );
    }
    const binding = kubeVirtBindingOf(iface);
    if ((binding === "bridge" || binding === "sriov") && Array.isArray(iface.ports) && iface.ports.length > 0) {
      out.push(
        cause(
          CauseType.Invalid,
          `${at}.ports`,
          `Ports have no effect on a ${binding} interface: the guest receives all traffic; only masquerade forwards selected ports`,
        ),
      );
    }
  });

  out.push(
    ...checkMacs(
      interfaces.flatMap((iface, i) =>
        typeof iface.macAddress === "string"
          ? [{ interfaceName: iface.name ?? "", mac: iface.macAddress, field: `${ifacesPath}[${i}].macAddress` }]
          : [],
      ),
    ),
  );

  const uses: MultusUse[] = [];
  networks.forEach((net, j) => {
    const at = `${netsPath}[${j}]`;
    const i = interfaces.findIndex((f) => f.name === net.name);
    const iface = i >= 0 ? interfaces[i] : undefined;
    const binding = iface ? kubeVirtBindingOf(iface) : undefined;
    if (net.pod) {
      const cidrs = [
        { key: "vmNetworkCIDR", value: net.pod.vmNetworkCIDR, family: 4 },
        { key: "vmIPv6NetworkCIDR", value: net.pod.vmIPv6NetworkCIDR, family: 6 },
      ] as const;
      for (const { key, value, family } of cidrs) {
        if (typeof value !== "string" || value === "") continue;
        const field = `${at}.pod.${key}`;
        if (iface && binding !== "masquerade") {
          out.push(
            cause(
              CauseType.Invalid,
              field,
              `${key} has no effect on interface "${iface.name}": only a masquerade interface uses it, this one uses ${binding ?? "no binding"}`,
            ),
          );
          continue;
        }
        out.push(...checkVmCidr(value, family, { field, label: key, podCidrs: options.podCidrs }));
      }
    }
    if (net.multus && typeof net.multus.networkName === "string" && net.multus.networkName !== "") {
      uses.push({
        field: `${at}.multus.networkName`,
        networkName: net.multus.networkName,
        ...(binding
          ? { binding, bindingField: `${ifacesPath}[${i}].${binding === "plugin" ? "binding" : binding}` }
          : {}),
        allowMacvlanPassthru: false,
      });
    }
  });
  out.push(...checkNads(uses, options.nads, options.namespace));
  return out;
}
