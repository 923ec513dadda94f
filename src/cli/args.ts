/**
 * Command-line flag parsing for vmnet's commands: `--flag value`, `--flag=value`, `-o json`, `-ojson`, repeatable
 * flags, and `-` for standard input. Errors are {@link UsageError}s, which the entry point turns into exit code 2.
 */

/** A command line that cannot be understood; the message says what is wrong. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** How a flag takes its value. */
export const FlagKind = { Bool: "bool", Value: "value", Repeated: "repeated" } as const;
export type FlagKind = (typeof FlagKind)[keyof typeof FlagKind];

/** One flag a command accepts. */
export interface FlagSpec {
  readonly long: string;
  readonly short?: string;
  readonly kind: FlagKind;
  /** Allowed values, when the set is closed (e.g. output formats). */
  readonly choices?: readonly string[];
}

/** The parsed flags and positional arguments of one command. */
export interface ParsedArgs {
  readonly bools: ReadonlySet<string>;
  readonly values: ReadonlyMap<string, string>;
  readonly repeated: ReadonlyMap<string, readonly string[]>;
  readonly positionals: readonly string[];
}

/** Parses `argv` (the arguments after the command name) against `specs`. */
export function parseArgs(argv: readonly string[], specs: readonly FlagSpec[]): ParsedArgs {
  const bools = new Set<string>();
  const values = new Map<string, string>();
  const repeated = new Map<string, string[]>();
  const positionals: string[] = [];
  const byLong = new Map(specs.map((s) => [s.long, s]));
  const byShort = new Map(specs.flatMap((s) => (s.short ? [[s.short, s] as const] : [])));

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === "-" || !arg.startsWith("-")) {
      positionals.push(arg);
      continue;
    }
    let spec: FlagSpec | undefined;
    let inline: string | undefined;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
      spec = byLong.get(name);
    } else {
      spec = byShort.get(arg.slice(1, 2));
      inline = arg.length > 2 ? arg.slice(2).replace(/^=/, "") : undefined;
    }
    if (!spec) throw new UsageError(`Unknown flag "${arg.split("=")[0]}"`);
    const shown = `--${spec.long}`;
    if (spec.kind === FlagKind.Bool) {
      if (inline !== undefined) throw new UsageError(`Flag "${shown}" takes no value`);
      bools.add(spec.long);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith("-") && next !== "-")) {
        throw new UsageError(`Flag "${shown}" needs a value`);
      }
      value = next;
      i++;
    }
    if (spec.choices && !spec.choices.includes(value)) {
      throw new UsageError(
        `Flag "${shown}" must be one of ${spec.choices.map((c) => `"${c}"`).join(", ")}, not "${value}"`,
      );
    }
    if (spec.kind === FlagKind.Repeated) {
      repeated.set(spec.long, [...(repeated.get(spec.long) ?? []), value]);
    } else {
      if (values.has(spec.long)) throw new UsageError(`Flag "${shown}" given more than once`);
      values.set(spec.long, value);
    }
  }
  return { bools, values, repeated, positionals };
}

/** The single input file a command takes (`-` for standard input). */
export function singleInput(args: ParsedArgs, command: string): string {
  if (args.positionals.length === 0) throw new UsageError(`"vmnet ${command}" needs a FILE (or - for standard input)`);
  if (args.positionals.length > 1) {
    throw new UsageError(
      `"vmnet ${command}" takes one FILE, got ${args.positionals.length}: ${args.positionals.map((p) => `"${p}"`).join(" ")}`,
    );
  }
  return args.positionals[0] ?? "-";
}
