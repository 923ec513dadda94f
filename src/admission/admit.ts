/**
 * The dialect-independent admission entry point: picks the dialect of a VM document, then runs what the API server
 * and the webhooks would (decode → defaults → dialect admission) followed by vmnet's own checks, and locates every
 * cause in the source. vmnet's findings are warnings unless `strict` is set, when they deny.
 */
import { type ClusterConfig, DEFAULT_CLUSTER_CONFIG } from "../api/cluster-config.ts";
import type { Decoded } from "../api/decode.ts";
import { decodeKubeVirtVm, decodeKubeVirtVmi } from "../api/kubevirt.ts";
import type { KvVirtualMachine, KvVirtualMachineInstance, KvVmiSpec } from "../api/kubevirt-types.ts";
import { ObjectKind } from "../api/load.ts";
import type { FieldPath, SourceDocument } from "../api/source.ts";
import { decodeVirtinkVm } from "../api/virtink.ts";
import type { VkVirtualMachine } from "../api/virtink-types.ts";
import { type Cause, locate } from "./cause.ts";
import { admissionMessage, admitKubeVirt, applyKubeVirtDefaults } from "./kubevirt/index.ts";
import { admitVirtink, applyVirtinkDefaults, virtinkDenialMessage } from "./virtink/index.ts";
import { checkKubeVirtSpec, checkVirtinkVm, DEFAULT_POD_CIDRS, type NadFacts, parsePodCidrs } from "./vmnet/index.ts";

/** The VM kinds vmnet admits: the loader's object kinds that are VMs. */
export const VmKind = {
  KubeVirtVm: ObjectKind.KubeVirtVm,
  KubeVirtVmi: ObjectKind.KubeVirtVmi,
  VirtinkVm: ObjectKind.VirtinkVm,
} as const;
export type VmKind = (typeof VmKind)[keyof typeof VmKind];

/** A VM document to admit: its kind and its parsed source (for the value and for locating causes). */
export interface VmDocument {
  readonly kind: VmKind;
  readonly doc: SourceDocument;
}

/** Options of {@link admitVm} and {@link admitVms}. */
export interface AdmitOptions {
  /** The KubeVirt cluster configuration; KubeVirt's defaults when absent. Virtink has none. */
  readonly config?: ClusterConfig;
  /** The NADs given with the VM; vmnet's NAD checks run only when there is at least one. */
  readonly nads?: readonly NadFacts[];
  /** The stored object, for an UPDATE; a CREATE when absent. Must be of the same dialect. */
  readonly old?: VmDocument;
  /** Turns vmnet's own findings into denial causes. */
  readonly strict?: boolean;
  /** The pod network's CIDRs for the overlap check; the lab's 10.244.0.0/16 and fd00:10:244::/56 by default. */
  readonly podCidrs?: readonly string[];
  /** The random source for the MACs Virtink generates (node:crypto by default); tests pass a fixed one. */
  readonly randomBytes?: (n: number) => Uint8Array;
}

/** The verdict on one VM document. */
export interface VmAdmission {
  readonly kind: VmKind;
  readonly name: string;
  readonly doc: SourceDocument;
  readonly allowed: boolean;
  /** Denial causes, located in the source: the dialect's, then (under `strict`) vmnet's findings. */
  readonly causes: Cause[];
  /** The dialect's warnings, then (without `strict`) vmnet's findings rendered as `<field>: <message>`. */
  readonly warnings: string[];
  /** vmnet's own findings, located, whether they warn or deny. */
  readonly findings: Cause[];
  /** Whether the findings are among the causes (`strict`) rather than the warnings. */
  readonly findingsDeny: boolean;
  /** The dialect's own warnings (KubeVirt's admission warnings), without vmnet's findings. */
  readonly dialectWarnings: string[];
  readonly message?: string;
  /** The defaulted object, when defaulting succeeded. */
  readonly defaulted?: object;
}

/** The verdict on several VM documents: allowed only if every one is. */
export interface Admission {
  readonly allowed: boolean;
  readonly causes: Cause[];
  readonly warnings: string[];
  readonly message?: string;
  readonly objects: VmAdmission[];
}

/** Renders a vmnet finding as a warning string. */
export function warningText(c: Cause): string {
  return c.field === "" ? c.message : `${c.field}: ${c.message}`;
}

/** How to name a VM document in messages: its `metadata.name`, or its position in the file. */
export function displayName(vm: { readonly doc: SourceDocument }): string {
  return nameOf(vm.doc.value) || `document ${vm.doc.index + 1}`;
}

/** The `metadata.name` of an object, or `""`. */
export function nameOf(value: unknown): string {
  if (typeof value !== "object" || value === null) return "";
  const meta = (value as { metadata?: unknown }).metadata;
  if (typeof meta !== "object" || meta === null) return "";
  const name = (meta as { name?: unknown }).name;
  return typeof name === "string" ? name : "";
}

function namespaceOf(value: unknown): string | undefined {
  const meta = typeof value === "object" && value !== null ? (value as { metadata?: unknown }).metadata : undefined;
  const ns = typeof meta === "object" && meta !== null ? (meta as { namespace?: unknown }).namespace : undefined;
  return typeof ns === "string" && ns !== "" ? ns : undefined;
}

interface DialectVerdict {
  readonly allowed: boolean;
  readonly causes: Cause[];
  readonly warnings: string[];
  readonly message?: string;
  readonly defaulted?: object;
  /** vmnet findings, unlocated. */
  readonly findings: Cause[];
  /** The dialect's denial message for its own causes followed by vmnet's findings (under `strict`). */
  readonly joinWithFindings: (findings: readonly Cause[]) => string;
}

function decodeFailure(decoded: Decoded<unknown>, join: (causes: readonly Cause[]) => string): DialectVerdict {
  return {
    allowed: false,
    causes: decoded.causes,
    warnings: [],
    message: join(decoded.causes),
    findings: [],
    joinWithFindings: () => join(decoded.causes),
  };
}

function kubeVirt(vm: VmDocument, options: AdmitOptions): DialectVerdict {
  const config = options.config ?? DEFAULT_CLUSTER_CONFIG;
  const isVmi = vm.kind === VmKind.KubeVirtVmi;
  const decode = (value: unknown): Decoded<KvVirtualMachine | KvVirtualMachineInstance> =>
    isVmi ? decodeKubeVirtVmi(value) : decodeKubeVirtVm(value);
  const decoded = decode(vm.doc.value);
  if (decoded.causes.length > 0) return decodeFailure(decoded, admissionMessage);
  const old = options.old ? decode(options.old.doc.value).value : undefined;
  const r = admitKubeVirt(decoded.value, config, old ? { old } : {});
  const source = (r.defaulted ?? decoded.value) as KvVirtualMachine | KvVirtualMachineInstance;
  const spec: KvVmiSpec | undefined =
    source.kind === "VirtualMachineInstance" ? source.spec : (source as KvVirtualMachine).spec?.template?.spec;
  const findings = spec
    ? checkKubeVirtSpec(spec, {
        root: isVmi ? "spec" : "spec.template.spec",
        config,
        podCidrs: parsePodCidrs(options.podCidrs ?? DEFAULT_POD_CIDRS),
        ...(options.nads ? { nads: options.nads } : {}),
        ...(namespaceOf(vm.doc.value) ? { namespace: namespaceOf(vm.doc.value) } : {}),
      })
    : [];
  // KubeVirt's message may already summarise causes beyond the tenth ("and N more"), so findings are appended to it.
  const joinWithFindings = (extra: readonly Cause[]): string =>
    [r.message, admissionMessage(extra)].filter((m) => m !== undefined && m !== "").join(", ");
  return { ...r, findings, joinWithFindings };
}

function virtink(vm: VmDocument, options: AdmitOptions): DialectVerdict {
  const decoded = decodeVirtinkVm(vm.doc.value);
  if (decoded.causes.length > 0) return decodeFailure(decoded, virtinkDenialMessage);
  const old = options.old ? decodeVirtinkVm(options.old.doc.value).value : undefined;
  const r = admitVirtink(decoded.value, {
    ...(old ? { old } : {}),
    ...(options.randomBytes ? { randomBytes: options.randomBytes } : {}),
  });
  const findings = checkVirtinkVm(r.defaulted as VkVirtualMachine, {
    podCidrs: parsePodCidrs(options.podCidrs ?? DEFAULT_POD_CIDRS),
    ...(options.nads ? { nads: options.nads } : {}),
  });
  // Virtink's cause messages carry their field path; vmnet's findings get the same shape so the denial reads alike.
  const asVirtink = findings.map((f) => ({ ...f, message: `${f.field}: ${f.message}` }));
  return {
    ...r,
    findings: asVirtink,
    joinWithFindings: (extra) => virtinkDenialMessage([...r.causes, ...extra]),
  };
}

/** Admits one VM document (see the module comment). */
export function admitVm(vm: VmDocument, options: AdmitOptions = {}): VmAdmission {
  if (options.old && options.old.kind !== vm.kind) {
    throw new TypeError(`Cannot compare a "${vm.kind}" with an old object of kind "${options.old.kind}"`);
  }
  const r = vm.kind === VmKind.VirtinkVm ? virtink(vm, options) : kubeVirt(vm, options);
  // A rule KubeVirt or Virtink already applies is never reported a second time by vmnet.
  const upstream = new Set(r.causes.map((c) => `${c.field}\n${c.message}`));
  const findings = locate(
    r.findings.filter((f) => !upstream.has(`${f.field}\n${f.message}`)),
    vm.doc,
  );
  const causes = locate(r.causes, vm.kind === VmKind.KubeVirtVm ? templateRootedView(vm.doc) : vm.doc);
  const strict = options.strict === true;
  const allCauses = strict ? [...causes, ...findings] : causes;
  const allowed = r.allowed && (!strict || findings.length === 0);
  const message = allowed ? undefined : strict && findings.length > 0 ? r.joinWithFindings(findings) : r.message;
  return {
    kind: vm.kind,
    name: nameOf(vm.doc.value),
    doc: vm.doc,
    allowed,
    causes: allCauses,
    warnings: strict ? [...r.warnings] : [...r.warnings, ...findings.map((f) => warningText(stripPathPrefix(f)))],
    findings,
    findingsDeny: strict,
    dialectWarnings: [...r.warnings],
    ...(message === undefined ? {} : { message }),
    ...(r.defaulted ? { defaulted: r.defaulted } : {}),
  };
}

/**
 * KubeVirt roots a VM's `ValidateCreation` causes at `spec` rather than `spec.template.spec` (reference §3.1, e.g.
 * `spec.domain.devices.interfaces[0].slirp`). The field is reported as KubeVirt has it; this view locates such a
 * path at the template's field, where the user wrote it.
 */
function templateRootedView(doc: SourceDocument): SourceDocument {
  const inTemplate = (path: FieldPath): FieldPath | undefined =>
    path[0] === "spec" && path.length > 1 && path[1] !== "template"
      ? ["spec", "template", "spec", ...path.slice(1)]
      : undefined;
  return {
    ...doc,
    positionOf: (path) => {
      const alt = inTemplate(path);
      return doc.positionOf(path) ?? (alt ? doc.positionOf(alt) : undefined);
    },
    nearestPositionOf: (path) => {
      const alt = inTemplate(path);
      return doc.positionOf(path) ?? (alt ? doc.nearestPositionOf(alt) : doc.nearestPositionOf(path));
    },
  };
}

/** Virtink-style messages start with their field path; this removes it, for rendering next to the field. */
export function stripPathPrefix(c: Cause): Cause {
  const prefix = `${c.field}: `;
  return c.field !== "" && c.message.startsWith(prefix) ? { ...c, message: c.message.slice(prefix.length) } : c;
}

/** Admits every VM document; the result is allowed only if all are. */
export function admitVms(vms: readonly VmDocument[], options: AdmitOptions = {}): Admission {
  return combineAdmissions(vms.map((vm) => admitVm(vm, options)));
}

/** Combines verdicts on several VMs: allowed only if all are; the message names each denied VM when there are several. */
export function combineAdmissions(objects: readonly VmAdmission[]): Admission {
  const denied = objects.filter((o) => !o.allowed);
  const message =
    denied.length === 0
      ? undefined
      : objects.length === 1
        ? denied[0]?.message
        : denied.map((o) => `${displayName(o)}: ${o.message ?? "denied"}`).join("; ");
  return {
    allowed: denied.length === 0,
    causes: objects.flatMap((o) => o.causes),
    warnings: objects.flatMap((o) => o.warnings),
    ...(message === undefined ? {} : { message }),
    objects: [...objects],
  };
}

/** The outcome of {@link defaultVm}: the defaulted object, or the mutating webhook's refusal. */
export type Defaulting =
  | { readonly allowed: true; readonly object: object }
  | { readonly allowed: false; readonly message: string };

/**
 * Applies the dialect's mutating-webhook defaults to a VM document (after the API server's decoding), without
 * validating. A document that does not decode, or that defaulting refuses (e.g. KubeVirt's bridge default when the
 * bridge is not permitted on the pod network), is refused with the message the API server would give.
 */
export function defaultVm(vm: VmDocument, options: AdmitOptions = {}): Defaulting {
  if (vm.kind === VmKind.VirtinkVm) {
    const decoded = decodeVirtinkVm(vm.doc.value);
    if (decoded.causes.length > 0) return { allowed: false, message: virtinkDenialMessage(decoded.causes) };
    const old = options.old ? decodeVirtinkVm(options.old.doc.value).value : undefined;
    return {
      allowed: true,
      object: applyVirtinkDefaults(decoded.value, {
        ...(old ? { old } : {}),
        ...(options.randomBytes ? { randomBytes: options.randomBytes } : {}),
      }),
    };
  }
  const config = options.config ?? DEFAULT_CLUSTER_CONFIG;
  if (vm.kind === VmKind.KubeVirtVmi) {
    const decoded = decodeKubeVirtVmi(vm.doc.value);
    if (decoded.causes.length > 0) return { allowed: false, message: admissionMessage(decoded.causes) };
    const r = applyKubeVirtDefaults(decoded.value.spec ?? {}, config);
    if ("error" in r) return { allowed: false, message: r.error };
    return { allowed: true, object: { ...decoded.value, spec: r.spec } };
  }
  const decoded = decodeKubeVirtVm(vm.doc.value);
  if (decoded.causes.length > 0) return { allowed: false, message: admissionMessage(decoded.causes) };
  const template = decoded.value.spec?.template;
  if (!template) return { allowed: true, object: decoded.value };
  const r = applyKubeVirtDefaults(template.spec ?? {}, config);
  if ("error" in r) return { allowed: false, message: r.error };
  return {
    allowed: true,
    object: { ...decoded.value, spec: { ...decoded.value.spec, template: { ...template, spec: r.spec } } },
  };
}
