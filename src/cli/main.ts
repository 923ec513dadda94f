/**
 * The `vmnet` command: dispatches to one module per command and maps failures to exit codes (0 allowed, 1 denied,
 * 2 unreadable input or bad usage). Errors are one clear line on stderr, never a stack trace.
 */
import { runAgentCommand } from "./agent.ts";
import { UsageError } from "./args.ts";
import { runDefault } from "./default.ts";
import { InputError } from "./input.ts";
import type { Command, CommandIo } from "./types.ts";
import { runValidate } from "./validate.ts";

/** The usage text. */
export const USAGE = `Usage: vmnet <command> [flags] FILE|-

Commands:
  validate   Admit the VMs/VMIs of FILE (KubeVirt kubevirt.io/v1 or Virtink v1alpha1) as the webhooks
             would, plus vmnet's own checks
  default    Print the VMs/VMIs of FILE with the mutating webhook's defaults applied
  help       Show this help

vmnet validate [-o text|json|yaml] [--kubevirt-config FILE] [--nad FILE]... [--old FILE]
               [--strict] [--pod-cidr CIDR]... FILE|-
  FILE may also hold the KubeVirt CR and NetworkAttachmentDefinitions; --kubevirt-config and --nad
  are alternatives. --old gives the stored object (an UPDATE). --strict turns vmnet's own warnings
  into denial causes. --pod-cidr replaces the pod network CIDRs vmnet checks overlaps against
  (default 10.244.0.0/16 and fd00:10:244::/56).

vmnet default [-o yaml|json] [--kubevirt-config FILE] [--old FILE] FILE|-

Exit codes: 0 allowed, 1 denied (or defaulting refused), 2 unreadable input or bad usage.
`;

const COMMANDS: Readonly<Record<string, Command>> = {
  agent: runAgentCommand,
  validate: runValidate,
  default: runDefault,
};

/** Runs vmnet with `argv` (without node and script); returns the exit code. */
export function main(argv: readonly string[], io: CommandIo): number {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    io.stderr(USAGE);
    return 2;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    io.stderr(`vmnet: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    io.stderr(USAGE);
    return 2;
  }
  try {
    return command(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`vmnet ${name}: ${e.message}\nRun "vmnet help" for usage.\n`);
      return 2;
    }
    if (e instanceof InputError) {
      io.stderr(`vmnet ${name}: ${e.message}\n`);
      return 2;
    }
    io.stderr(`vmnet ${name}: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
}

const io: CommandIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};
process.exitCode = main(process.argv.slice(2), io);
