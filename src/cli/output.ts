/**
 * Machine-readable output of vmnet's commands: JSON (two-space indented) and YAML, always ending with a newline.
 */
import { stringify } from "yaml";

/** Output formats for data. */
export const DataFormat = { Json: "json", Yaml: "yaml" } as const;
export type DataFormat = (typeof DataFormat)[keyof typeof DataFormat];

/** Serialises a JSON-like value. */
export function formatData(value: unknown, format: DataFormat): string {
  if (format === DataFormat.Json) return `${JSON.stringify(value, null, 2)}\n`;
  return stringify(value, { lineWidth: 0 });
}

/** Serialises several objects: one YAML stream with `---` separators, or a Kubernetes `List` in JSON. */
export function formatObjects(values: readonly unknown[], format: DataFormat): string {
  if (values.length === 1) return formatData(values[0], format);
  if (format === DataFormat.Json) return formatData({ apiVersion: "v1", kind: "List", items: values }, format);
  return values.map((v) => `---\n${formatData(v, format)}`).join("");
}
