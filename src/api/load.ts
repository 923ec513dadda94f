/**
 * Loading a file of Kubernetes objects (YAML or JSON, one or more documents, `kind: List` included) and telling what
 * each object is by its apiVersion and kind.
 */
import { KUBEVIRT_API_VERSION } from "./kubevirt-types.ts";
import { NAD_API_VERSION, NAD_KIND } from "./nad.ts";
import { type FieldPath, type Position, parseDocuments, type SourceDocument } from "./source.ts";
import { VIRTINK_API_VERSION } from "./virtink-types.ts";

/** What a loaded object is. */
export const ObjectKind = {
  KubeVirtVm: "kubevirt-vm",
  KubeVirtVmi: "kubevirt-vmi",
  VirtinkVm: "virtink-vm",
  KubeVirtCr: "kubevirt-cr",
  Nad: "nad",
} as const;
export type ObjectKind = (typeof ObjectKind)[keyof typeof ObjectKind];

/** One object of a file, classified. For an item of a `kind: List`, `doc` is a view of that item. */
export interface LoadedObject {
  readonly kind: ObjectKind;
  readonly doc: SourceDocument;
  /** The index in `items` when the object came from a `kind: List`. */
  readonly listIndex?: number;
}

/** The apiVersion/kind pairs vmnet understands. */
export const ACCEPTED_KINDS: readonly {
  readonly apiVersion: string;
  readonly kind: string;
  readonly is: ObjectKind;
}[] = [
  { apiVersion: KUBEVIRT_API_VERSION, kind: "VirtualMachine", is: ObjectKind.KubeVirtVm },
  { apiVersion: KUBEVIRT_API_VERSION, kind: "VirtualMachineInstance", is: ObjectKind.KubeVirtVmi },
  { apiVersion: VIRTINK_API_VERSION, kind: "VirtualMachine", is: ObjectKind.VirtinkVm },
  { apiVersion: KUBEVIRT_API_VERSION, kind: "KubeVirt", is: ObjectKind.KubeVirtCr },
  { apiVersion: NAD_API_VERSION, kind: NAD_KIND, is: ObjectKind.Nad },
];

/** What {@link UnknownObjectError} knows about the object. */
export interface UnknownObjectDetails {
  readonly position?: Position;
  readonly apiVersion?: unknown;
  readonly kind?: unknown;
  /** What is wrong, e.g. `the document is not an object`. */
  readonly problem: string;
}

/** Raised for an object vmnet does not understand; names the file and line, and what is accepted. */
export class UnknownObjectError extends Error {
  readonly file: string;
  readonly position: Position | undefined;
  readonly apiVersion: unknown;
  readonly kind: unknown;
  constructor(file: string, details: UnknownObjectDetails) {
    const at = details.position ? `${file}:${details.position.line}:${details.position.column}` : file;
    const accepted = ACCEPTED_KINDS.map((k) => `${k.apiVersion} ${k.kind}`).join(", ");
    super(`${at}: ${details.problem}; vmnet accepts ${accepted} (or a v1 List of them)`);
    this.name = "UnknownObjectError";
    this.file = file;
    this.position = details.position;
    this.apiVersion = details.apiVersion;
    this.kind = details.kind;
  }
}

const describe = (v: unknown): string =>
  typeof v === "string" ? `"${v}"` : v === undefined ? "missing" : JSON.stringify(v);

/** Classifies one object by apiVersion and kind; throws {@link UnknownObjectError} when it is none of ours. */
function classify(doc: SourceDocument): ObjectKind {
  const v = doc.value;
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    const position = doc.positionOf([]);
    throw new UnknownObjectError(doc.file, {
      ...(position ? { position } : {}),
      problem: "the document is not an object",
    });
  }
  const { apiVersion, kind } = v as { apiVersion?: unknown; kind?: unknown };
  const match = ACCEPTED_KINDS.find((k) => k.apiVersion === apiVersion && k.kind === kind);
  if (match) return match.is;
  const position = doc.positionOf(["kind"]) ?? doc.positionOf(["apiVersion"]) ?? doc.positionOf([]);
  throw new UnknownObjectError(doc.file, {
    ...(position ? { position } : {}),
    apiVersion,
    kind,
    problem: `unknown object with apiVersion ${describe(apiVersion)} and kind ${describe(kind)}`,
  });
}

/**
 * A view of `items[index]` of a List document: its value is the item and its paths are relative to the item, so
 * causes about `spec...` land on the item's lines.
 */
export function listItemView(list: SourceDocument, index: number, item: unknown): SourceDocument {
  const prefix: FieldPath = ["items", index];
  return {
    file: list.file,
    index: list.index,
    value: item,
    positionOf: (path) => list.positionOf([...prefix, ...path]),
    nearestPositionOf: (path) => list.nearestPositionOf([...prefix, ...path]),
    lineText: (line) => list.lineText(line),
  };
}

function isList(value: unknown): value is { kind: "List"; items: unknown[] } {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const v = value as { apiVersion?: unknown; kind?: unknown; items?: unknown };
  return v.kind === "List" && (v.apiVersion === "v1" || v.apiVersion === undefined) && Array.isArray(v.items);
}

/**
 * Parses every document of a YAML or JSON text and classifies each object, expanding `kind: List`. Throws
 * `SourceSyntaxError` for a syntax error and {@link UnknownObjectError} for an object of another kind.
 */
export function loadObjects(text: string, file: string): LoadedObject[] {
  const out: LoadedObject[] = [];
  for (const doc of parseDocuments(text, file)) {
    // A trailing `---` (or a document of only comments) parses as a null document: nothing to load.
    if (doc.value === null || doc.value === undefined) continue;
    if (isList(doc.value)) {
      doc.value.items.forEach((item, i) => {
        const view = listItemView(doc, i, item);
        out.push({ kind: classify(view), doc: view, listIndex: i });
      });
    } else {
      out.push({ kind: classify(doc), doc });
    }
  }
  return out;
}
