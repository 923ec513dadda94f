/**
 * Reading YAML and JSON documents while keeping where every field came from, so that an admission cause can name
 * file:line:column and show the offending line.
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseAllDocuments } from "yaml";

/** One step of a field path: a map key or a list index. */
export type PathSegment = string | number;

/** A field path as segments, e.g. `["spec", "networks", 1, "name"]`. */
export type FieldPath = readonly PathSegment[];

/** A 1-based position in a source text. */
export interface Position {
  readonly line: number;
  readonly column: number;
}

/**
 * Renders a path the way Kubernetes' `field.Path` does: `spec.domain.devices.interfaces[0].name`.
 * Keys that are not plain identifiers are rendered in brackets, as Kubernetes does for map keys.
 */
export function renderPath(path: FieldPath): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) out += out === "" ? seg : `.${seg}`;
    else out += `[${seg}]`;
  }
  return out;
}

/** Parses a rendered `field.Path` string back into segments (the inverse of {@link renderPath}). */
export function parsePath(rendered: string): PathSegment[] {
  const segs: PathSegment[] = [];
  const re = /([^.[\]]+)|\[([^\]]*)\]/g;
  for (const m of rendered.matchAll(re)) {
    if (m[1] !== undefined) segs.push(m[1]);
    else if (m[2] !== undefined) segs.push(/^\d+$/.test(m[2]) ? Number(m[2]) : m[2]);
  }
  return segs;
}

/** A parsed document: its plain value and the positions of its fields. */
export interface SourceDocument {
  /** The file name as given by the caller (`-` for standard input). */
  readonly file: string;
  /** 0-based index of the document in its file. */
  readonly index: number;
  /** The document as plain JSON-like data. */
  readonly value: unknown;
  /** Where the field at `path` starts (the key for map entries, the item for list entries), if it is in the source. */
  positionOf(path: FieldPath): Position | undefined;
  /**
   * The position of `path`, or of its nearest ancestor present in the source (a cause about a missing field points
   * at the map that should hold it).
   */
  nearestPositionOf(path: FieldPath): Position | undefined;
  /** The text of a 1-based line of the source, without its line break. */
  lineText(line: number): string | undefined;
}

/** Raised when a text cannot be parsed as YAML or JSON. */
export class SourceSyntaxError extends SyntaxError {
  readonly file: string;
  readonly position: Position | undefined;
  constructor(file: string, message: string, position?: Position) {
    super(position ? `${file}:${position.line}:${position.column}: ${message}` : `${file}: ${message}`);
    this.name = "SourceSyntaxError";
    this.file = file;
    this.position = position;
  }
}

const keyOf = (path: FieldPath): string => JSON.stringify(path);

/**
 * Parses every document of a YAML or JSON text. Empty documents (e.g. a trailing `---`) are skipped.
 * Throws {@link SourceSyntaxError} naming the line of the first syntax error.
 */
export function parseDocuments(text: string, file: string): SourceDocument[] {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  if (!Array.isArray(docs)) {
    // parseAllDocuments returns an EmptyStream for an empty text.
    return [];
  }
  const lines = text.split(/\r?\n/);
  const out: SourceDocument[] = [];
  for (const doc of docs) {
    const err = doc.errors[0];
    if (err) {
      const at = lineCounter.linePos(err.pos[0]);
      throw new SourceSyntaxError(file, firstLine(err.message), { line: at.line, column: at.col });
    }
    if (doc.contents === null) continue;
    const positions = new Map<string, Position>();
    const at = (offset: number | undefined): Position | undefined => {
      if (offset === undefined) return undefined;
      const p = lineCounter.linePos(offset);
      return { line: p.line, column: p.col };
    };
    const walk = (node: unknown, path: PathSegment[]): void => {
      if (isMap(node)) {
        for (const pair of node.items) {
          if (!isPair(pair)) continue;
          const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
          const childPath = [...path, key];
          const pos = at((pair.key as Node | null)?.range?.[0]);
          if (pos) positions.set(keyOf(childPath), pos);
          walk(pair.value, childPath);
        }
      } else if (isSeq(node)) {
        node.items.forEach((item, i) => {
          const childPath = [...path, i];
          const pos = at((item as Node | null)?.range?.[0]);
          if (pos) positions.set(keyOf(childPath), pos);
          walk(item, childPath);
        });
      }
    };
    positions.set(keyOf([]), at(doc.contents.range?.[0]) ?? { line: 1, column: 1 });
    walk(doc.contents, []);
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      throw new SourceSyntaxError(file, e instanceof Error ? e.message : String(e), positions.get(keyOf([])));
    }
    out.push({
      file,
      index: out.length,
      value,
      positionOf: (path) => positions.get(keyOf(path)),
      nearestPositionOf: (path) => {
        for (let n = path.length; n >= 0; n--) {
          const p = positions.get(keyOf(path.slice(0, n)));
          if (p) return p;
        }
        return undefined;
      },
      lineText: (line) => lines[line - 1],
    });
  }
  return out;
}

function firstLine(s: string): string {
  return s.split("\n")[0] ?? s;
}
