/**
 * vmnet's own checks on a Virtink VirtualMachine: the gaps of Virtink's webhook (Virtink reference §2.5) that make
 * the controller or the pod fail later, plus the checks shared with KubeVirt.
 */
import type { VkInterface, VkVirtualMachine } from "../../api/virtink-types.ts";
import { type Cause, CauseType, cause } from "../cause.ts";
import type { Cidr } from "./cidr.ts";
import { checkMacs, checkNads, checkVmCidr, type MultusUse } from "./common.ts";
import type { NadFacts } from "./nad-facts.ts";

/** What the Virtink checks need besides the VM. */
export interface VirtinkCheckOptions {
  readonly podCidrs: readonly Cidr[];
  readonly nads?: readonly NadFacts[];
}

const METHODS = ["bridge", "masquerade", "sriov", "vdpa", "vhostUser"] as const;

/** The first binding method present, in Virtink's order (the one Virtink acts on). */
export function virtinkBindingOf(iface: VkInterface): (typeof METHODS)[number] | undefined {
  return METHODS.find((m) => iface[m] !== undefined && iface[m] !== null);
}

/** Runs every vmnet check on a (defaulted) Virtink VM. */
export function checkVirtinkVm(vm: VkVirtualMachine, options: VirtinkCheckOptions): Cause[] {
  const ifacesPath = "spec.instance.interfaces";
  const interfaces = Array.isArray(vm.spec?.instance?.interfaces) ? vm.spec.instance.interfaces : [];
  const networks = Array.isArray(vm.spec?.networks) ? vm.spec.networks : [];
  const out: Cause[] = [];

  networks.forEach((net, j) => {
    if (typeof net.name !== "string" || net.name === "") return;
    if (!interfaces.some((f) => f.name === net.name)) {
      out.push(
        cause(
          CauseType.NotFound,
          `spec.networks[${j}].name`,
          `Network "${net.name}" has no interface of the same name; the controller would fail with "interface not found for network: ${net.name}"`,
        ),
      );
    }
  });
  interfaces.forEach((iface, i) => {
    if (typeof iface.name !== "string" || iface.name === "") return;
    if (!networks.some((n) => n.name === iface.name)) {
      out.push(
        cause(
          CauseType.NotFound,
          `${ifacesPath}[${i}].name`,
          `Interface "${iface.name}" has no network of the same name; no NIC would be created for it`,
        ),
      );
    }
  });

  const podNets = networks.flatMap((n, j) => (n.pod ? [j] : []));
  for (const j of podNets.slice(1)) {
    out.push(
      cause(
        CauseType.Duplicate,
        `spec.networks[${j}].pod`,
        `More than one pod network: both would be wired to the pod's "eth0" and the second fails at runtime`,
      ),
    );
  }

  const masq = interfaces.flatMap((f, i) => (virtinkBindingOf(f) === "masquerade" ? [i] : []));
  for (const i of masq.slice(1)) {
    out.push(
      cause(
        CauseType.Duplicate,
        `${ifacesPath}[${i}].masquerade`,
        `More than one masquerade interface: each adds an "enable-ip-forward" init container, so the pod would be invalid`,
      ),
    );
  }

  const uses: MultusUse[] = [];
  interfaces.forEach((iface, i) => {
    const at = `${ifacesPath}[${i}]`;
    const binding = virtinkBindingOf(iface);
    const net = networks.find((n) => n.name === iface.name);
    if (binding === "masquerade") {
      if (net?.multus && !net.pod) {
        out.push(
          cause(
            CauseType.Forbidden,
            `${at}.masquerade`,
            `Masquerade is only allowed to connect to the pod network; network "${net.name}" is a multus network`,
          ),
        );
      }
      const cidr = iface.masquerade?.cidr;
      if (typeof cidr === "string" && cidr !== "") {
        // Virtink itself rejects an unparsable or too small CIDR; only the overlap is left to check.
        out.push(
          ...checkVmCidr(cidr, undefined, {
            field: `${at}.masquerade.cidr`,
            label: "cidr",
            podCidrs: options.podCidrs,
          }).filter((c) => c.message.includes("overlaps")),
        );
      }
    }
    if ((binding === "sriov" || binding === "vdpa") && net?.pod) {
      out.push(
        cause(
          CauseType.Invalid,
          `${at}.${binding}`,
          `A ${binding} interface needs a multus network that provides the device; on the pod network "${net.name}" no device would be attached`,
        ),
      );
    }
    if (net?.multus && !net.pod && typeof net.multus.networkName === "string" && net.multus.networkName !== "") {
      const j = networks.indexOf(net);
      uses.push({
        field: `spec.networks[${j}].multus.networkName`,
        networkName: net.multus.networkName,
        ...(binding ? { binding, bindingField: `${at}.${binding}` } : {}),
        allowMacvlanPassthru: true,
      });
    }
  });

  out.push(
    ...checkMacs(
      interfaces.flatMap((f, i) =>
        typeof f.mac === "string"
          ? [{ interfaceName: f.name ?? "", mac: f.mac, field: `${ifacesPath}[${i}].mac` }]
          : [],
      ),
    ),
  );
  out.push(...checkNads(uses, options.nads, vm.metadata?.namespace));
  return out;
}
