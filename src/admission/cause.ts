/**
 * Admission causes: what KubeVirt calls `metav1.StatusCause`, plus where in the source the field is.
 */
import type { FieldPath, SourceDocument } from "../api/source.ts";
import { parsePath } from "../api/source.ts";

/** The cause types KubeVirt reports (`metav1.CauseType`). */
export const CauseType = {
  Invalid: "FieldValueInvalid",
  Required: "FieldValueRequired",
  Duplicate: "FieldValueDuplicate",
  NotSupported: "FieldValueNotSupported",
  NotFound: "FieldValueNotFound",
  Forbidden: "FieldValueForbidden",
} as const;
export type CauseType = (typeof CauseType)[keyof typeof CauseType];

/** One reason a spec is denied, or a warning. `field` is the rendered `field.Path` (may be empty). */
export interface Cause {
  readonly type: CauseType;
  readonly field: string;
  readonly message: string;
  readonly line?: number;
  readonly column?: number;
}

/** Builds a cause; `field` is a rendered path such as `spec.networks[0].name`, or `""` for none. */
export function cause(type: CauseType, field: string, message: string): Cause {
  return { type, field, message };
}

/** Adds the source line and column of each cause's field (or of its nearest ancestor present in the source). */
export function locate(causes: readonly Cause[], doc: SourceDocument | undefined): Cause[] {
  if (!doc) return [...causes];
  return causes.map((c) => {
    const path: FieldPath = c.field === "" ? [] : parsePath(c.field);
    const pos = doc.nearestPositionOf(path);
    return pos ? { ...c, line: pos.line, column: pos.column } : { ...c };
  });
}
