/**
 * Runs bin/vmnet as a real process, from the repository root, for the CLI tests.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** What a vmnet process did. */
export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `bin/vmnet <args>` with `input` on standard input. */
export function vmnet(args: readonly string[], input = ""): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = execFile(`${ROOT}bin/vmnet`, [...args], { cwd: ROOT, encoding: "utf8" }, (error, stdout, stderr) => {
      const code = error && typeof error.code === "number" ? error.code : error ? -1 : 0;
      if (code === -1) reject(error);
      else resolve({ code, stdout, stderr });
    });
    child.stdin?.end(input);
  });
}
