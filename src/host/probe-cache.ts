/**
 * Answers of slow host probes (`busybox --list-full`, `ldd`, `qemu --version`, `qemu -device help`) cached on disk,
 * keyed by the identity of the files they depend on (path, device, inode, size, mtime). Every `vmnet up` is a new
 * process, and these probes cost it 150–250 ms of a budget of 1 s while their answers change only when a package is
 * upgraded, which replaces the file and so changes the key.
 */
import { createHash, randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { access, mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Default cache directory: `.cache/probes` in the checkout. */
export const DEFAULT_PROBE_CACHE_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", ".cache", "probes");

async function identity(path: string): Promise<string | undefined> {
  try {
    const s = await stat(path);
    return `${path} ${s.dev} ${s.ino} ${s.size} ${s.mtimeMs}`;
  } catch {
    return undefined;
  }
}

/**
 * `compute()`'s answer for `name` and the files `inputs`, from the cache when the inputs are unchanged. An input that
 * cannot be stat'ed disables caching for that call; an unreadable cache entry is computed again.
 */
export async function cachedProbe<T>(
  name: string,
  inputs: readonly string[],
  compute: () => Promise<T>,
  options: { readonly dir?: string } = {},
): Promise<T> {
  const ids = await Promise.all(inputs.map(identity));
  if (ids.some((id) => id === undefined)) return compute();
  const key = createHash("sha256")
    .update(`${name}\n${ids.join("\n")}`)
    .digest("hex")
    .slice(0, 16);
  const dir = options.dir ?? DEFAULT_PROBE_CACHE_DIR;
  const file = join(dir, `${name.replace(/[^A-Za-z0-9._-]/gu, "_")}-${key}.json`);
  try {
    const parsed = JSON.parse(await readFile(file, "utf8")) as { value?: T };
    if (parsed.value !== undefined) return parsed.value;
  } catch {
    // Not cached yet, or a damaged entry: compute it again.
  }
  const value = await compute();
  await mkdir(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(tmp, `${JSON.stringify({ value })}\n`);
  await rename(tmp, file);
  return value;
}

/** The executable `command` resolves to on PATH (itself when it holds a slash); undefined when there is none. */
export async function resolveOnPath(command: string, path = process.env.PATH ?? ""): Promise<string | undefined> {
  if (command.includes("/")) return command;
  for (const dir of path.split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, command);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return undefined;
}
