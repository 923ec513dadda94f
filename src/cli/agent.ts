/**
 * `vmnet agent run [--state-dir DIR]`: runs the long-lived DHCP/RA agent in the foreground until SIGTERM, SIGINT or
 * a `shutdown` request. CLI commands start it themselves (detached) through `ensureAgent`; running it by hand, or
 * under a service manager, works the same way. Exit code 0 after a clean shutdown, 1 when it cannot run (another
 * agent holds the state directory, or the socket cannot be opened).
 */
import { DEFAULT_STATE_DIR } from "../agent/paths.ts";
import { runAgent } from "../agent/server.ts";
import { FlagKind, parseArgs, UsageError } from "./args.ts";
import type { CommandIo } from "./types.ts";

/** Time allowed between a finished shutdown and the process's exit, should anything keep the event loop alive. */
const EXIT_GRACE_MS = 2000;

/** The state directory of `vmnet agent run ...`; throws {@link UsageError} on anything else. */
export function parseAgentArgs(argv: readonly string[]): { readonly stateDir: string } {
  const [sub, ...rest] = argv;
  if (sub !== "run") {
    throw new UsageError(
      sub === undefined ? '"vmnet agent" needs a subcommand: run' : `Unknown subcommand "agent ${sub}": expected "run"`,
    );
  }
  const args = parseArgs(rest, [{ long: "state-dir", kind: FlagKind.Value }]);
  if (args.positionals.length > 0) {
    throw new UsageError(
      `"vmnet agent run" takes no arguments, got ${args.positionals.map((p) => `"${p}"`).join(" ")}`,
    );
  }
  return { stateDir: args.values.get("state-dir") ?? DEFAULT_STATE_DIR };
}

/** Runs `vmnet agent run`; resolves with the exit code once the agent has shut down. */
export async function runAgentCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const { stateDir } = parseAgentArgs(argv);
  const log = (line: string) => io.stderr(`${new Date().toISOString()} ${line}\n`);
  let code = 0;
  try {
    const agent = await runAgent({ stateDir, log });
    await agent.closed;
  } catch (e) {
    io.stderr(`vmnet agent: ${e instanceof Error ? e.message : String(e)}\n`);
    code = 1;
  }
  setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
  return code;
}
