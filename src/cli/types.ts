/**
 * What a vmnet command needs from its process: somewhere to write. Commands return their exit code.
 */

/** Output sinks of a command. */
export interface CommandIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/** A command: parses its own arguments and returns the exit code. */
export type Command = (argv: readonly string[], io: CommandIo) => number;
