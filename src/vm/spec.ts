/**
 * Reading what `vmnet up` boots: the VM file, `--nad` files and `--kubevirt-config`, admitted as the webhooks would
 * (a denied VM is refused) and turned into the planner's model, plus the NADs both as the planner checks them and as
 * the lab's Multus stand-in attaches them.
 */
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { admitVm } from "../admission/admit.ts";
import type { ClusterConfig } from "../api/cluster-config.ts";
import type { KvVirtualMachine } from "../api/kubevirt-types.ts";
import type { VmNetworkModel } from "../api/model.ts";
import { RESOURCE_NAME_ANNOTATION } from "../api/nad.ts";
import { kubeVirtObjectToModel, virtinkToModel } from "../api/to-model.ts";
import type { VkVirtualMachine } from "../api/virtink-types.ts";
import { InputError, readInputs } from "../cli/input.ts";
import type { LabNad, PodAttachmentRequest } from "../lab/pod.ts";
import type { PlanNad } from "../plan/plan.ts";
import { VmDeniedError } from "./errors.ts";

/** A VM ready to plan. */
export interface VmSpec {
  readonly model: VmNetworkModel;
  readonly config: ClusterConfig;
  /** With their `k8s.v1.cni.cncf.io/resourceName` (the macvtap planner reads the lower device from it). */
  readonly planNads: readonly PlanNad[];
  readonly labNads: ReadonlyMap<string, LabNad>;
  readonly warnings: readonly string[];
}

/** Loads, admits and models the single VM of `file`. Throws InputError or {@link VmDeniedError}. */
export function loadVmSpec(file: string, options: { kubevirtConfig?: string; nads?: readonly string[] } = {}): VmSpec {
  const inputs = readInputs({
    main: file,
    ...(options.kubevirtConfig === undefined ? {} : { kubevirtConfig: options.kubevirtConfig }),
    nads: options.nads ?? [],
  });
  if (inputs.vms.length !== 1) throw new InputError(`${file}: "vmnet up" boots one VM, found ${inputs.vms.length}`);
  const vm = inputs.vms[0];
  if (vm === undefined) throw new InputError(`${file}: no VM`);
  const admission = admitVm(vm, { config: inputs.config, nads: inputs.nads });
  if (!admission.allowed || admission.defaulted === undefined) {
    throw new VmDeniedError(admission.message ?? `VM "${admission.name}" was denied`);
  }
  const model =
    vm.kind === "virtink-vm"
      ? virtinkToModel(admission.defaulted as VkVirtualMachine)
      : kubeVirtObjectToModel(admission.defaulted as KvVirtualMachine);
  const planNads: PlanNad[] = [];
  const labNads = new Map<string, LabNad>();
  for (const f of [file, ...(options.nads ?? [])]) {
    for (const doc of parseAllDocuments(readFileSync(f, "utf8"))) {
      const nad = doc.toJS() as {
        kind?: string;
        metadata?: { name?: string; namespace?: string; annotations?: Record<string, unknown> };
        spec?: { config?: string };
      } | null;
      if (nad?.kind !== "NetworkAttachmentDefinition" || nad.metadata?.name === undefined) continue;
      const namespace = nad.metadata.namespace ?? model.namespace;
      const config = nad.spec?.config;
      const resource = nad.metadata.annotations?.[RESOURCE_NAME_ANNOTATION];
      const resourceName = typeof resource === "string" && resource !== "" ? { resourceName: resource } : {};
      planNads.push({
        namespace,
        name: nad.metadata.name,
        ...(config === undefined ? {} : { config }),
        ...resourceName,
      });
      labNads.set(`${namespace}/${nad.metadata.name}`, {
        name: nad.metadata.name,
        namespace,
        ...(config === undefined ? {} : { config: JSON.parse(config) as unknown }),
        ...resourceName,
      });
    }
  }
  return { model, config: inputs.config, planNads, labNads, warnings: admission.warnings };
}

/**
 * The Multus attachments of the VM's pod: the default network (if a NAD replaces eth0) and the secondaries. A
 * secondary carries its interface's `macAddress` as the selection element's `mac`, as KubeVirt writes the networks
 * annotation (kubevirt-network.md §4.1), so a CNI that honours it (macvtap-cni, tuning) creates the link with it.
 */
export function podAttachments(spec: VmSpec): {
  readonly defaultNetwork?: PodAttachmentRequest;
  readonly secondaries: PodAttachmentRequest[];
} {
  let defaultNetwork: PodAttachmentRequest | undefined;
  const secondaries: PodAttachmentRequest[] = [];
  for (const n of spec.model.networks) {
    if (n.source.kind !== "multus") continue;
    const ref = n.source.networkName.includes("/")
      ? n.source.networkName
      : `${spec.model.namespace}/${n.source.networkName}`;
    const nad = spec.labNads.get(ref);
    if (nad === undefined) throw new InputError(`Cannot find NetworkAttachmentDefinition "${ref}": pass it with --nad`);
    if (n.source.default) {
      defaultNetwork = { nad, networkName: n.name };
      continue;
    }
    const mac = spec.model.interfaces.find((i) => i.name === n.name)?.macAddress;
    secondaries.push({ nad, networkName: n.name, ...(mac === undefined ? {} : { mac }) });
  }
  return { ...(defaultNetwork === undefined ? {} : { defaultNetwork }), secondaries };
}
