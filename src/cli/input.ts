/**
 * Reading the command's inputs: the main file (or standard input) with its VMs and, optionally, a KubeVirt CR and
 * NADs; `--kubevirt-config`, `--nad` and `--old` files. Anything that cannot be read or understood is an
 * {@link InputError} naming the file (and line), which the entry point turns into exit code 2.
 */
import { readFileSync } from "node:fs";
import { nameOf, type VmDocument, VmKind } from "../admission/admit.ts";
import { type Cause, locate } from "../admission/cause.ts";
import { type NadFacts, nadFactsFrom } from "../admission/vmnet/index.ts";
import { type ClusterConfig, DEFAULT_CLUSTER_CONFIG } from "../api/cluster-config.ts";
import { clusterConfigFromKubeVirt } from "../api/kubevirt-cr.ts";
import { type LoadedObject, loadObjects, UnknownObjectError } from "../api/load.ts";
import { decodeNad } from "../api/nad.ts";
import { type SourceDocument, SourceSyntaxError } from "../api/source.ts";

/** An input that cannot be read or understood. The message names the file, and the line when there is one. */
export class InputError extends Error {
  override name = "InputError";
}

/** Reads a file, or standard input for `-`. */
export function readText(file: string): string {
  try {
    return readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (e) {
    const code = typeof e === "object" && e !== null && "code" in e ? String(e.code) : "";
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : code || String(e);
    throw new InputError(`${file === "-" ? "standard input" : file}: cannot read: ${why}`);
  }
}

function where(doc: SourceDocument): string {
  const pos = doc.positionOf([]);
  return pos ? `${doc.file}:${pos.line}` : doc.file;
}

function at(doc: SourceDocument, c: Cause): string {
  const located = locate([c], doc)[0];
  return located?.line === undefined ? where(doc) : `${doc.file}:${located.line}:${located.column}`;
}

function causeText(c: Cause): string {
  return c.field === "" || c.message.startsWith(`${c.field}`) ? c.message : `${c.field}: ${c.message}`;
}

/** Parses and classifies every document of a file. */
export function loadFile(file: string): LoadedObject[] {
  const text = readText(file);
  try {
    return loadObjects(text, file);
  } catch (e) {
    // The loader names file:line in its messages (syntax errors, unknown kinds); keep them as they are.
    if (e instanceof SourceSyntaxError || e instanceof UnknownObjectError)
      throw new InputError(e.message, { cause: e });
    throw e;
  }
}

/** The inputs of `vmnet validate` and `vmnet default`. */
export interface Inputs {
  readonly vms: VmDocument[];
  readonly config: ClusterConfig;
  readonly nads: NadFacts[];
  readonly olds: VmDocument[];
}

/** Where the inputs come from. */
export interface InputFiles {
  readonly main: string;
  readonly kubevirtConfig?: string;
  readonly nads?: readonly string[];
  readonly old?: string;
}

const VM_KINDS = new Set<string>(Object.values(VmKind));

function isVm(o: LoadedObject): o is LoadedObject & VmDocument {
  return VM_KINDS.has(o.kind);
}

/** Reads every input file, checks each holds what its flag promises, and reads the CR and NADs. */
export function readInputs(files: InputFiles): Inputs {
  const stdinUses = [files.main, files.kubevirtConfig, files.old, ...(files.nads ?? [])].filter((f) => f === "-");
  if (stdinUses.length > 1) throw new InputError("Standard input (-) can be read only once");

  const main = loadFile(files.main);
  const vms = main.filter(isVm);
  if (vms.length === 0) {
    const what = files.main === "-" ? "standard input" : files.main;
    throw new InputError(
      `${what}: no VirtualMachine or VirtualMachineInstance in ${files.main === "-" ? "it" : "this file"}`,
    );
  }
  const crs = main.filter((o) => o.kind === "kubevirt-cr");
  const nadObjects = main.filter((o) => o.kind === "nad");

  if (files.kubevirtConfig !== undefined) {
    const objs = loadFile(files.kubevirtConfig);
    const other = objs.find((o) => o.kind !== "kubevirt-cr");
    if (other) throw new InputError(`${where(other.doc)}: --kubevirt-config expects only a KubeVirt CR here`);
    crs.push(...objs);
  }
  if (crs.length > 1) {
    throw new InputError(
      `More than one KubeVirt CR given (${crs.map((c) => where(c.doc)).join(", ")}); vmnet needs exactly one configuration`,
    );
  }
  for (const f of files.nads ?? []) {
    const objs = loadFile(f);
    const other = objs.find((o) => o.kind !== "nad");
    if (other) throw new InputError(`${where(other.doc)}: --nad expects only NetworkAttachmentDefinitions here`);
    nadObjects.push(...objs);
  }

  let config = DEFAULT_CLUSTER_CONFIG;
  const cr = crs[0];
  if (cr) {
    const decoded = clusterConfigFromKubeVirt(cr.doc.value);
    const bad = decoded.causes[0];
    if (bad) throw new InputError(`${at(cr.doc, bad)}: invalid KubeVirt CR: ${causeText(bad)}`);
    config = decoded.value;
  }

  const nads = nadObjects.map((o) => {
    const decoded = decodeNad(o.doc.value);
    const bad = decoded.causes[0];
    if (bad) throw new InputError(`${at(o.doc, bad)}: invalid NetworkAttachmentDefinition: ${causeText(bad)}`);
    return nadFactsFrom(decoded.value);
  });

  const olds: VmDocument[] = [];
  if (files.old !== undefined) {
    const objs = loadFile(files.old);
    const other = objs.find((o) => !isVm(o));
    if (other) throw new InputError(`${where(other.doc)}: --old expects only the stored VM or VMI here`);
    olds.push(...objs.filter(isVm));
  }
  return { vms, config, nads, olds };
}

/**
 * The stored object for a VM: the old document of the same kind and name, or the only old document when both sides
 * hold a single VM. Throws when an old document exists but is of another kind.
 */
export function oldFor(vm: VmDocument, olds: readonly VmDocument[], single: boolean): VmDocument | undefined {
  const name = (d: VmDocument): string => nameOf(d.doc.value);
  const match = single && olds.length === 1 ? olds[0] : olds.find((o) => o.kind === vm.kind && name(o) === name(vm));
  if (match && match.kind !== vm.kind) {
    throw new InputError(
      `${where(match.doc)}: the old object is a "${match.kind}", not a "${vm.kind}" like ${where(vm.doc)}`,
    );
  }
  return match;
}
