/** `vmnet down NAME`: removes the VM (QEMU, DHCP, pod network, pod, state); fine to run again or after a crash. */
import { runVmCommand, STATE_DIR_FLAG, statePathsOf } from "../vm/command.ts";
import { parseArgs, UsageError } from "./args.ts";
import type { CommandIo } from "./types.ts";

/** Runs `vmnet down`. */
export function runDown(argv: readonly string[], io: CommandIo): Promise<number> {
  const args = parseArgs(argv, [STATE_DIR_FLAG]);
  const [name, ...extra] = args.positionals;
  if (name === undefined || extra.length > 0) throw new UsageError(`"vmnet down" takes one VM NAME`);
  return runVmCommand("down", io, async () => {
    const { downVm } = await import("../vm/lifecycle.ts");
    const removed = await downVm(statePathsOf(args.values), name);
    io.stdout(removed ? `VM "${name}" removed\n` : `VM "${name}" not found, nothing to remove\n`);
    return 0;
  });
}
