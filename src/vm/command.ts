/**
 * What the VM commands (`vmnet lab|up|down|status|exec|link|list`) share: the `--state-dir` flag and turning their
 * failures into one line on stderr and an exit code.
 */
import { FlagKind, type FlagSpec, UsageError } from "../cli/args.ts";
import { InputError } from "../cli/input.ts";
import type { CommandIo } from "../cli/types.ts";
import { VmDeniedError, VmError } from "./errors.ts";
import { LockBusyError } from "./lock.ts";
import { type StatePaths, stateDirOf, statePaths } from "./paths.ts";

/** `--state-dir DIR` (default `VMNET_STATE_DIR`, else /run/vmnet). */
export const STATE_DIR_FLAG: FlagSpec = { long: "state-dir", kind: FlagKind.Value };

/** The state paths the parsed flags name. */
export function statePathsOf(values: ReadonlyMap<string, string>): StatePaths {
  return statePaths(stateDirOf(values.get("state-dir")));
}

/**
 * Runs a VM command body: usage and input errors propagate (the entry point reports them with exit code 2), a denied
 * VM, a VM error and any other failure are printed as `vmnet <command>: <message>` and exit 1.
 */
export async function runVmCommand(command: string, io: CommandIo, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof UsageError || e instanceof InputError) throw e;
    const known = e instanceof VmError || e instanceof VmDeniedError || e instanceof LockBusyError;
    const message = e instanceof Error ? e.message : String(e);
    const detail =
      e instanceof AggregateError && e.errors.length > 0
        ? `: ${e.errors.map((x) => (x instanceof Error ? x.message : String(x))).join("; ")}`
        : "";
    io.stderr(`vmnet ${command}: ${known ? "" : "error: "}${message}${detail}\n`);
    return 1;
  }
}
