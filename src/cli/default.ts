/**
 * `vmnet default`: prints each VM/VMI of a file with the mutating webhook's defaults applied. When defaulting refuses
 * (e.g. KubeVirt's bridge default with the bridge not permitted on the pod network), prints
 * `{"allowed": false, "message"}` and exits 1.
 */
import { defaultVm, displayName } from "../admission/admit.ts";
import { FlagKind, type FlagSpec, parseArgs, singleInput } from "./args.ts";
import { oldFor, readInputs } from "./input.ts";
import { type DataFormat, formatData, formatObjects } from "./output.ts";
import type { CommandIo } from "./types.ts";

/** The flags of `vmnet default`. */
export const DEFAULT_FLAGS: readonly FlagSpec[] = [
  { long: "output", short: "o", kind: FlagKind.Value, choices: ["yaml", "json"] },
  { long: "kubevirt-config", kind: FlagKind.Value },
  { long: "old", kind: FlagKind.Value },
];

/** Runs `vmnet default`; returns the exit code. */
export function runDefault(argv: readonly string[], io: CommandIo): number {
  const args = parseArgs(argv, DEFAULT_FLAGS);
  const file = singleInput(args, "default");
  const format = (args.values.get("output") ?? "yaml") as DataFormat;
  const kubevirtConfig = args.values.get("kubevirt-config");
  const old = args.values.get("old");
  const inputs = readInputs({
    main: file,
    ...(kubevirtConfig === undefined ? {} : { kubevirtConfig }),
    ...(old === undefined ? {} : { old }),
  });
  const single = inputs.vms.length === 1;
  const results = inputs.vms.map((vm) => {
    const stored = oldFor(vm, inputs.olds, single);
    return {
      name: displayName(vm),
      r: defaultVm(vm, {
        config: inputs.config,
        ...(stored ? { old: stored } : {}),
      }),
    };
  });
  const refused = results.flatMap(({ name, r }) => (r.allowed ? [] : [{ name, message: r.message }]));
  if (refused.length > 0) {
    const message = single ? (refused[0]?.message ?? "") : refused.map((x) => `${x.name}: ${x.message}`).join("; ");
    io.stdout(formatData({ allowed: false, message }, format));
    return 1;
  }
  io.stdout(
    formatObjects(
      results.flatMap(({ r }) => (r.allowed ? [r.object] : [])),
      format,
    ),
  );
  return 0;
}
