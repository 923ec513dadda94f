/** `vmnet status NAME [-o yaml|json]`: the VMI's `status.interfaces` as KubeVirt reports it. */
import { runVmCommand, STATE_DIR_FLAG, statePathsOf } from "../vm/command.ts";
import { FlagKind, parseArgs, UsageError } from "./args.ts";
import type { CommandIo } from "./types.ts";

/** Runs `vmnet status`. */
export function runStatus(argv: readonly string[], io: CommandIo): Promise<number> {
  const args = parseArgs(argv, [
    STATE_DIR_FLAG,
    { long: "output", short: "o", kind: FlagKind.Value, choices: ["yaml", "json"] },
  ]);
  const [name, ...extra] = args.positionals;
  if (name === undefined || extra.length > 0) throw new UsageError(`"vmnet status" takes one VM NAME`);
  const format = args.values.get("output") === "json" ? "json" : "yaml";
  return runVmCommand("status", io, async () => {
    const { renderStatus } = await import("../runtime/status.ts");
    const { vmStatus } = await import("../vm/lifecycle.ts");
    io.stdout(renderStatus(await vmStatus(statePathsOf(args.values), name), format));
    return 0;
  });
}
