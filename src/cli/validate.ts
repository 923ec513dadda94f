/**
 * `vmnet validate`: admits every VM/VMI of a file as KubeVirt's or Virtink's webhooks would, plus vmnet's own checks.
 * Exit 0 when all are allowed, 1 when any is denied.
 */
import { type Admission, admitVm, combineAdmissions } from "../admission/admit.ts";
import { parsePodCidrs } from "../admission/vmnet/index.ts";
import { FlagKind, type FlagSpec, parseArgs, singleInput, UsageError } from "./args.ts";
import { oldFor, readInputs } from "./input.ts";
import { type DataFormat, formatData } from "./output.ts";
import { renderValidateText } from "./render-text.ts";
import type { CommandIo } from "./types.ts";

/** Output formats of `vmnet validate`. */
export const VALIDATE_FORMATS = ["text", "json", "yaml"] as const;

/** The flags of `vmnet validate`. */
export const VALIDATE_FLAGS: readonly FlagSpec[] = [
  { long: "output", short: "o", kind: FlagKind.Value, choices: VALIDATE_FORMATS },
  { long: "kubevirt-config", kind: FlagKind.Value },
  { long: "nad", kind: FlagKind.Repeated },
  { long: "old", kind: FlagKind.Value },
  { long: "strict", kind: FlagKind.Bool },
  { long: "pod-cidr", kind: FlagKind.Repeated },
];

/** The machine-readable verdict: `{allowed, causes, warnings, message?}`, plus `objects` when a file holds several. */
export function verdictData(a: Admission): Record<string, unknown> {
  const causes = (cs: Admission["causes"]) =>
    cs.map((c) => ({
      type: c.type,
      field: c.field,
      message: c.message,
      ...(c.line === undefined ? {} : { line: c.line }),
      ...(c.column === undefined ? {} : { column: c.column }),
    }));
  return {
    allowed: a.allowed,
    causes: causes(a.causes),
    warnings: a.warnings,
    ...(a.message === undefined ? {} : { message: a.message }),
    ...(a.objects.length > 1
      ? {
          objects: a.objects.map((o) => ({
            kind: o.kind,
            name: o.name,
            allowed: o.allowed,
            causes: causes(o.causes),
            warnings: o.warnings,
            ...(o.message === undefined ? {} : { message: o.message }),
          })),
        }
      : {}),
  };
}

/** Runs `vmnet validate`; returns the exit code. */
export function runValidate(argv: readonly string[], io: CommandIo): number {
  const args = parseArgs(argv, VALIDATE_FLAGS);
  const file = singleInput(args, "validate");
  const podCidrs = args.repeated.get("pod-cidr");
  if (podCidrs) {
    try {
      parsePodCidrs(podCidrs);
    } catch (e) {
      throw new UsageError(e instanceof Error ? e.message : String(e));
    }
  }
  const kubevirtConfig = args.values.get("kubevirt-config");
  const old = args.values.get("old");
  const inputs = readInputs({
    main: file,
    ...(kubevirtConfig === undefined ? {} : { kubevirtConfig }),
    nads: args.repeated.get("nad") ?? [],
    ...(old === undefined ? {} : { old }),
  });
  const single = inputs.vms.length === 1;
  const objects = inputs.vms.map((vm) => {
    const stored = oldFor(vm, inputs.olds, single);
    return admitVm(vm, {
      config: inputs.config,
      nads: inputs.nads,
      strict: args.bools.has("strict"),
      ...(podCidrs ? { podCidrs } : {}),
      ...(stored ? { old: stored } : {}),
    });
  });
  const admission = combineAdmissions(objects);
  const format = args.values.get("output") ?? "text";
  if (format === "text") {
    const { stdout, stderr } = renderValidateText(admission);
    io.stdout(stdout);
    if (stderr !== "") io.stderr(stderr);
  } else {
    io.stdout(formatData(verdictData(admission), format as DataFormat));
  }
  return admission.allowed ? 0 : 1;
}
