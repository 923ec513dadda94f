/**
 * Running host programs: no shell, optional stdin, optionally inside a named network namespace, with a timeout.
 * Every other host adapter spawns through an {@link Executor}, so tests can count and inspect the processes started.
 */
import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { join } from "node:path";

/** Options for one program run. */
export interface RunOptions {
  /** Named network namespace (`/run/netns/<name>`) to run the program in; the root namespace when absent. */
  readonly netns?: string;
  /** Text written to the program's stdin, which is then closed. */
  readonly stdin?: string;
  /** Kill the program (SIGKILL) after this many milliseconds. Default {@link DEFAULT_TIMEOUT_MS}. */
  readonly timeoutMs?: number;
  /** Resolve with the result instead of throwing {@link HostCommandError} when the exit code is not 0. */
  readonly allowFailure?: boolean;
  /**
   * The program's whole environment, as `env -i K=V ... program` gives it: nothing of vmnet's own environment is
   * inherited (CNI plugins must see exactly their CNI_* variables). The program itself, and `ip` for a `netns` run, are
   * still looked up on vmnet's own PATH. Inherited whole when absent.
   */
  readonly env?: Readonly<Record<string, string>>;
}

/** What a finished program produced. `code` is -1 when it was killed by a signal. */
export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

/** Spawns host programs. The only way host adapters reach the OS's command-line tools. */
export interface Executor {
  run(program: string, args: readonly string[], options?: RunOptions): Promise<ExecResult>;
}

/** Default timeout of one program run. */
export const DEFAULT_TIMEOUT_MS = 30_000;

// Failures that can go away on their own: the kernel or a lock was busy, or the program ran out of time.
const RETRYABLE_STDERR = /Device or resource busy|Resource temporarily unavailable|Try again|Interrupted system call/i;

/** A host program failed to start, exited non-zero, or timed out. */
export class HostCommandError extends Error {
  override readonly name = "HostCommandError";
  /** Program and arguments as spawned (including the `ip netns exec` prefix, if any). */
  readonly command: readonly string[];
  /** Exit code; -1 when killed by a signal or when the program could not be started. */
  readonly exitCode: number;
  readonly stderr: string;
  /** Whether running the same command again can succeed (busy kernel object, timeout). */
  readonly retryable: boolean;
  /** Whether the program was killed for exceeding its timeout. */
  readonly timedOut: boolean;

  constructor(
    message: string,
    details: {
      readonly command: readonly string[];
      readonly exitCode: number;
      readonly stderr: string;
      readonly timedOut?: boolean;
      readonly retryable?: boolean;
      readonly cause?: unknown;
    },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.command = details.command;
    this.exitCode = details.exitCode;
    this.stderr = details.stderr;
    this.timedOut = details.timedOut ?? false;
    this.retryable = details.retryable ?? (this.timedOut || RETRYABLE_STDERR.test(details.stderr));
  }
}

const NETNS_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** Throws a RangeError unless `name` is a usable `ip netns` name (no slashes, not "." or ".."). */
export function assertNetnsName(name: string): void {
  if (!NETNS_NAME.test(name) || name === "." || name === "..") {
    throw new RangeError(`Invalid network namespace name "${name}"`);
  }
}

/** The argv that runs `program args` inside `netns` (or as is when `netns` is undefined). */
export function commandLine(program: string, args: readonly string[], netns?: string): string[] {
  if (netns === undefined) return [program, ...args];
  assertNetnsName(netns);
  return ["ip", "netns", "exec", netns, program, ...args];
}

function describe(argv: readonly string[]): string {
  return argv.join(" ");
}

/**
 * `program` as an absolute path found on vmnet's own PATH; as given when it has a slash or is not found (the spawn
 * then fails with ENOENT, as it would have). Node looks a program up on the CHILD's PATH when an env is given.
 */
function onOwnPath(program: string): string {
  if (program.includes("/")) return program;
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir === "") continue;
    const candidate = join(dir, program);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this directory.
    }
  }
  return program;
}

/** The real executor: `child_process.spawn` without a shell. */
export class HostExecutor implements Executor {
  run(program: string, args: readonly string[], options: RunOptions = {}): Promise<ExecResult> {
    const argv = commandLine(program, args, options.netns);
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const [file, ...rest] = argv as [string, ...string[]];
    return new Promise((resolve, reject) => {
      const child =
        options.env === undefined
          ? spawn(file, rest, { stdio: ["pipe", "pipe", "pipe"], shell: false })
          : spawn(onOwnPath(file), rest, { stdio: ["pipe", "pipe", "pipe"], shell: false, env: { ...options.env } });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let timedOut = false;
      let settled = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill("SIGKILL");
      }, timeoutMs);
      child.stdout.on("data", (b: Buffer) => out.push(b));
      child.stderr.on("data", (b: Buffer) => err.push(b));
      // A program that exits without reading stdin makes the write fail with EPIPE; its exit status tells the story.
      child.stdin.on("error", () => {});
      child.on("error", (e) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(
          new HostCommandError(`Cannot run "${describe(argv)}": ${e.message}`, {
            command: argv,
            exitCode: -1,
            stderr: "",
            retryable: false,
            cause: e,
          }),
        );
      });
      child.on("close", (code) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const result: ExecResult = {
          stdout: Buffer.concat(out).toString("utf8"),
          stderr: Buffer.concat(err).toString("utf8"),
          code: code ?? -1,
        };
        if (timedOut) {
          reject(
            new HostCommandError(`Command "${describe(argv)}" timed out after ${timeoutMs} ms`, {
              command: argv,
              exitCode: -1,
              stderr: result.stderr,
              timedOut: true,
            }),
          );
        } else if (result.code !== 0 && options.allowFailure !== true) {
          reject(
            new HostCommandError(
              `Command "${describe(argv)}" failed with exit code ${result.code}: ${result.stderr.trim()}`,
              { command: argv, exitCode: result.code, stderr: result.stderr },
            ),
          );
        } else {
          resolve(result);
        }
      });
      if (options.stdin !== undefined) child.stdin.end(options.stdin);
      else child.stdin.end();
    });
  }
}

/** The shared real executor. */
export const hostExecutor: Executor = new HostExecutor();

/** One recorded program run. */
export interface RecordedCall {
  readonly program: string;
  readonly args: readonly string[];
  readonly options: RunOptions;
}

/** Wraps an executor and records every run, so tests can assert how many processes an operation spawned. */
export class RecordingExecutor implements Executor {
  readonly calls: RecordedCall[] = [];
  readonly #inner: Executor;

  constructor(inner: Executor = hostExecutor) {
    this.#inner = inner;
  }

  run(program: string, args: readonly string[], options: RunOptions = {}): Promise<ExecResult> {
    this.calls.push({ program, args: [...args], options });
    return this.#inner.run(program, args, options);
  }
}
