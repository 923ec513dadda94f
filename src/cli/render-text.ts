/**
 * The human-readable rendering of an admission verdict: each cause as `FILE:LINE:COLUMN: <field>: <message>`, the
 * offending source line with a caret under the column, and a hint on what to do.
 */
import { type Admission, stripPathPrefix, type VmAdmission, VmKind } from "../admission/admit.ts";
import type { Cause } from "../admission/cause.ts";
import type { SourceDocument } from "../api/source.ts";
import { hintFor } from "./hints.ts";

const KIND_LABEL: Readonly<Record<VmKind, string>> = {
  [VmKind.KubeVirtVm]: "VirtualMachine",
  [VmKind.KubeVirtVmi]: "VirtualMachineInstance",
  [VmKind.VirtinkVm]: "VirtualMachine (Virtink)",
};

/** A short label for an admitted object, e.g. `VirtualMachine "vm-1"`. */
export function objectLabel(o: { readonly kind: VmKind; readonly name: string; readonly doc: SourceDocument }): string {
  const kind = KIND_LABEL[o.kind];
  return o.name === "" ? `${kind} (document ${o.doc.index + 1})` : `${kind} "${o.name}"`;
}

/** Renders one cause: location line, source excerpt with caret, hint. `severity` prefixes the message. */
export function renderCause(c: Cause, doc: SourceDocument, severity?: "warning"): string {
  const shown = stripPathPrefix(c);
  const where = c.line === undefined ? doc.file : `${doc.file}:${c.line}:${c.column ?? 1}`;
  const what = shown.field === "" ? shown.message : `${shown.field}: ${shown.message}`;
  const lines = [`${where}: ${severity ? `${severity}: ` : ""}${what}`];
  const text = c.line === undefined ? undefined : doc.lineText(c.line);
  if (c.line !== undefined && text !== undefined) {
    const gutter = String(c.line).length;
    lines.push(`  ${String(c.line)} | ${text}`);
    lines.push(`  ${" ".repeat(gutter)} | ${" ".repeat(Math.max(0, (c.column ?? 1) - 1))}^`);
  }
  const hint = hintFor(shown);
  if (hint) lines.push(`  what to do: ${hint}`);
  return lines.join("\n");
}

/** The verdict line of one object. */
function verdictLine(o: VmAdmission): string {
  const label = `${o.doc.file}: ${objectLabel(o)}`;
  const warned = o.warnings.length > 0 ? ` (${plural(o.warnings.length, "warning")})` : "";
  if (o.allowed) return `${label}: allowed${warned}`;
  // The causes follow; a denial without causes (a refused default) has only its message to show.
  if (o.causes.length === 0) return `${label}: denied${o.message ? `: ${o.message}` : ""}${warned}`;
  return `${label}: denied, ${plural(o.causes.length, "cause")}${warned}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** The text output of `vmnet validate`: stdout (verdicts and causes) and stderr (warnings). */
export function renderValidateText(admission: Admission): { stdout: string; stderr: string } {
  const out: string[] = [];
  const err: string[] = [];
  for (const o of admission.objects) {
    out.push(verdictLine(o));
    for (const c of o.causes) out.push(renderCause(c, o.doc));
    // KubeVirt's own warnings carry no position; vmnet's findings (when they only warn) do.
    for (const w of o.dialectWarnings) err.push(`${o.doc.file}: warning: ${w}`);
    if (!o.findingsDeny) for (const f of o.findings) err.push(renderCause(f, o.doc, "warning"));
  }
  if (admission.objects.length > 1) {
    const denied = admission.objects.filter((o) => !o.allowed).length;
    out.push(
      denied === 0
        ? `all ${admission.objects.length} objects allowed`
        : `${denied} of ${admission.objects.length} objects denied`,
    );
  }
  return { stdout: `${out.join("\n")}\n`, stderr: err.length > 0 ? `${err.join("\n")}\n` : "" };
}
