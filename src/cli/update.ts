/**
 * `vmnet update -f VM.yaml [--nad FILE]... [--kubevirt-config FILE]`: a new spec for a running VM, admitted as `vmnet
 * up` admits it, applied while the guest runs (NIC hotplug, `state: absent` unplug, link state), one progress line
 * per step. Changes KubeVirt applies only on restart are refused, naming them.
 */
import { runVmCommand, STATE_DIR_FLAG, statePathsOf } from "../vm/command.ts";
import { parseArgs } from "./args.ts";
import type { CommandIo } from "./types.ts";
import { admitVmFile, VM_FILE_FLAGS, vmFileOf } from "./vm-file.ts";

/** Runs `vmnet update`. */
export function runUpdate(argv: readonly string[], io: CommandIo): Promise<number> {
  const args = parseArgs(argv, [STATE_DIR_FLAG, ...VM_FILE_FLAGS]);
  const file = vmFileOf(args, "update");
  return runVmCommand("update", io, async () => {
    const { updateVm } = await import("../vm/update.ts");
    const spec = await admitVmFile(args, file, io);
    const { steps } = await updateVm(statePathsOf(args.values), spec, { progress: (line) => io.stdout(`${line}\n`) });
    if (steps.length > 0)
      io.stdout(`VM "${spec.model.name}" updated (${steps.length} ${steps.length === 1 ? "change" : "changes"})\n`);
    return 0;
  });
}
