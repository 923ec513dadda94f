/** `vmnet exec NAME -- CMD...`: runs CMD in the guest through the guest agent; its output and exit code are ours. */
import { runVmCommand, STATE_DIR_FLAG, statePathsOf } from "../vm/command.ts";
import { FlagKind, parseArgs, UsageError } from "./args.ts";
import type { CommandIo } from "./types.ts";

/** Runs `vmnet exec`. */
export function runExec(argv: readonly string[], io: CommandIo): Promise<number> {
  const args = parseArgs(argv, [STATE_DIR_FLAG, { long: "timeout", kind: FlagKind.Value }]);
  const [name, ...command] = args.positionals;
  if (name === undefined || command.length === 0) throw new UsageError(`"vmnet exec" needs NAME -- CMD...`);
  const timeout = args.values.get("timeout");
  const seconds = timeout === undefined ? 60 : Number(timeout);
  if (!/^[1-9][0-9]{0,5}$/.test(timeout ?? "60"))
    throw new UsageError(`Flag "--timeout" needs whole seconds, not "${timeout}"`);
  return runVmCommand("exec", io, async () => {
    const { execInVm } = await import("../vm/lifecycle.ts");
    const r = await execInVm(statePathsOf(args.values), name, command, { timeoutMs: seconds * 1000 });
    io.stdout(r.stdout.toString("utf8"));
    io.stderr(r.stderr.toString("utf8"));
    return r.exitCode;
  });
}
