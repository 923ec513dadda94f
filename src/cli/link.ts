/** `vmnet link NAME IFACE up|down`: sets a guest NIC's link while the VM runs (QMP `set_link`). */
import { runVmCommand, STATE_DIR_FLAG, statePathsOf } from "../vm/command.ts";
import { parseArgs, UsageError } from "./args.ts";
import type { CommandIo } from "./types.ts";

/** Runs `vmnet link`. */
export function runLink(argv: readonly string[], io: CommandIo): Promise<number> {
  const args = parseArgs(argv, [STATE_DIR_FLAG]);
  const [name, iface, state, ...extra] = args.positionals;
  if (name === undefined || iface === undefined || (state !== "up" && state !== "down") || extra.length > 0) {
    throw new UsageError(`"vmnet link" takes NAME IFACE up|down`);
  }
  return runVmCommand("link", io, async () => {
    const { setVmLink } = await import("../vm/lifecycle.ts");
    await setVmLink(statePathsOf(args.values), name, iface, state === "up");
    io.stdout(`VM "${name}" interface "${iface}" link ${state}\n`);
    return 0;
  });
}
