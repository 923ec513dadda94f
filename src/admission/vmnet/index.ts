/**
 * vmnet's own admission checks, stricter than KubeVirt and Virtink: findings that upstream admits but that fail later
 * or do nothing. They are warnings by default and denial causes under `--strict`.
 */
export type { Cidr } from "./cidr.ts";
export { cidrSize, cidrsOverlap, parseCidr } from "./cidr.ts";
export { DEFAULT_POD_CIDRS, parsePodCidrs } from "./common.ts";
export { checkKubeVirtSpec, type KubeVirtCheckOptions, kubeVirtBindingOf } from "./kubevirt.ts";
export { type CniPluginFacts, findNad, type NadFacts, nadFactsFrom } from "./nad-facts.ts";
export { checkVirtinkVm, type VirtinkCheckOptions, virtinkBindingOf } from "./virtink.ts";
