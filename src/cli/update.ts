/**
 * `vmnet update -f VM.yaml [--nad FILE]... [--kubevirt-config FILE]`: a new spec for a running VM, admitted as `vmnet
 * up` admits it, applied while the guest runs (NIC hotplug, `state: absent` unplug, link state), one progress line
 * per step. Changes KubeVirt applies only on restart are refused, naming them.
 */
import { runVmCommand, STATE_DIR_FLAG, statePathsOf } from "../vm/command.ts";
import { FlagKind, parseArgs, UsageError } from "./args.ts";
import type { CommandIo } from "./types.ts";

/** Runs `vmnet update`. */
export function runUpdate(argv: readonly string[], io: CommandIo): Promise<number> {
  const args = parseArgs(argv, [
    STATE_DIR_FLAG,
    { long: "file", short: "f", kind: FlagKind.Value },
    { long: "nad", kind: FlagKind.Repeated },
    { long: "kubevirt-config", kind: FlagKind.Value },
  ]);
  const file = args.values.get("file") ?? args.positionals[0];
  if (file === undefined) throw new UsageError(`"vmnet update" needs -f VM.yaml`);
  if (args.positionals.length > (args.values.has("file") ? 0 : 1)) {
    throw new UsageError(`"vmnet update" takes one VM file`);
  }
  const kubevirtConfig = args.values.get("kubevirt-config");
  return runVmCommand("update", io, async () => {
    const { loadVmSpec } = await import("../vm/spec.ts");
    const { updateVm } = await import("../vm/update.ts");
    const spec = loadVmSpec(file, {
      nads: args.repeated.get("nad") ?? [],
      ...(kubevirtConfig === undefined ? {} : { kubevirtConfig }),
    });
    const name = spec.model.name;
    for (const w of spec.warnings) io.stderr(`Warning: ${w}\n`);
    io.stdout(`admitted: ${spec.model.dialect} VM "${spec.model.namespace}/${name}"\n`);
    const { steps } = await updateVm(statePathsOf(args.values), spec, { progress: (line) => io.stdout(`${line}\n`) });
    if (steps.length > 0)
      io.stdout(`VM "${name}" updated (${steps.length} ${steps.length === 1 ? "change" : "changes"})\n`);
    return 0;
  });
}
