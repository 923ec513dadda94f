/**
 * Bundles vmnet with esbuild into `.cache/dist/` for bin/vmnet: `node scripts/build.mjs [--verbose]` builds when the
 * bundle is older than a source (a no-op otherwise), exits 3 when esbuild is not installed and 1 when the build fails
 * (message appended to `.cache/build.log`), so the caller falls back to tsx.
 *
 * Layout: every build goes to its own `.cache/builds/<id>/` and `.cache/dist` is a symlink to the current one,
 * swapped with rename(2): a vmnet process never sees a half-written bundle, and one that runs from an older build
 * keeps its files (a build is deleted only when no process's command line names it). `<build>/stamp` holds the id; its
 * mtime is the build's START, so a source saved during a build makes the result stale at once.
 *
 * Inside the bundle, `import.meta.url` of every source module still names its source file (rewritten at load), so
 * paths computed from it (bin/vmnet, the repository root, sibling files) mean what they mean under tsx. Worker
 * modules are separate entry points; `VMNET_BUNDLE` (a define) maps their source paths to bundled files and
 * `startNetnsWorker` uses it (src/host/netns-worker.ts).
 */
import {
  closeSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root this script belongs to. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Bundled file name (without `.mjs`) → source entry, relative to the root. */
export const ENTRIES = {
  vmnet: "src/cli/main.ts",
  "netns-worker": "src/host/netns-worker.ts",
  "tap-relay": "src/lab/tap-relay.ts",
};

/** What, besides `src/`, makes a bundle stale (bin/vmnet checks the same list). */
export const INPUTS = ["src", "package-lock.json", "tsconfig.json", "scripts/build.mjs"];

/** Native modules stay outside the bundle and load from node_modules. */
const EXTERNAL = ["koffi"];

/**
 * Bundles `entries` (name → root-relative source) into `outdir` with linked source maps. Resolves with esbuild's
 * metafile; rejects with esbuild's error when a source does not compile.
 *
 * @param {{ root?: string, outdir: string, entries?: Record<string, string> }} options
 */
export async function bundle({ root = ROOT, outdir, entries = ENTRIES }) {
  const esbuild = await import("esbuild");
  const src = join(root, "src");
  /** @type {import("esbuild").Plugin} */
  const sourceUrls = {
    name: "source-import-meta-url",
    setup(build) {
      build.onLoad({ filter: /\.ts$/ }, async (args) => {
        const text = await readFile(args.path, "utf8");
        if (relative(src, args.path).startsWith("..") || !text.includes("import.meta.url")) return undefined;
        const rel = relative(outdir, args.path).split("\\").join("/");
        return {
          contents: text.replaceAll("import.meta.url", `new URL(${JSON.stringify(rel)}, import.meta.url).href`),
          loader: "ts",
        };
      });
    },
  };
  const workers = Object.fromEntries(Object.entries(entries).map(([name, source]) => [source, `${name}.mjs`]));
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: Object.fromEntries(Object.entries(entries).map(([name, source]) => [name, join(root, source)])),
    outdir,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    splitting: true,
    chunkNames: "chunk-[hash]",
    platform: "node",
    format: "esm",
    target: "node20",
    external: EXTERNAL,
    sourcemap: "linked",
    sourcesContent: false,
    metafile: true,
    logLevel: "silent",
    define: {
      VMNET_BUNDLE: JSON.stringify({ dist: relative(root, outdir).split("\\").join("/"), entries: workers }),
    },
    plugins: [sourceUrls],
    // CommonJS dependencies (yaml) call require() for Node built-ins, which an ES module lacks.
    banner: {
      js: 'import { createRequire as __vmnetRequire } from "node:module"; const require = __vmnetRequire(import.meta.url);',
    },
  });
  return result.metafile;
}

/** Newest mtime (ms) among `paths` and everything under them; missing paths count as 0. */
export function newestMtime(paths) {
  let newest = 0;
  const visit = (path) => {
    let st;
    try {
      st = statSync(path);
    } catch {
      return;
    }
    newest = Math.max(newest, st.mtimeMs);
    if (st.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
  };
  for (const p of paths) visit(p);
  return newest;
}

/** Whether `<root>/.cache/dist` exists and no input is newer than its stamp. */
export function isCurrent(root = ROOT) {
  let stamp;
  try {
    stamp = statSync(join(root, ".cache", "dist", "stamp")).mtimeMs;
  } catch {
    return false;
  }
  return newestMtime(INPUTS.map((p) => join(root, p))) <= stamp;
}

/** Build directories some process was started from (its command line names the directory). */
function buildsInUse(buildsDir) {
  const used = new Set();
  let pids = [];
  try {
    pids = readdirSync("/proc").filter((n) => /^\d+$/.test(n));
  } catch {
    return used;
  }
  for (const pid of pids) {
    let cmdline;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      continue;
    }
    const at = cmdline.indexOf(`${buildsDir}/`);
    if (at >= 0) used.add(cmdline.slice(at + buildsDir.length + 1).split("/")[0]);
  }
  return used;
}

/** Removes builds other than `keep` that no running process was started from, and abandoned temporary links. */
function prune(cache, keep) {
  const builds = join(cache, "builds");
  const used = buildsInUse(builds);
  for (const name of readdirSync(builds)) {
    if (name !== keep && !used.has(name)) rmSync(join(builds, name), { recursive: true, force: true });
  }
}

/** Takes `<cache>/build.lock` (a directory holding the owner's pid); a dead owner's lock is taken over. */
async function lock(cache, timeoutMs = 120_000) {
  const dir = join(cache, "build.lock");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(dir);
      closeSync(openSync(join(dir, String(process.pid)), "w"));
      return () => rmSync(dir, { recursive: true, force: true });
    } catch (e) {
      if (e.code !== "EEXIST") throw e;
    }
    let owner = Number.NaN;
    try {
      owner = Number.parseInt(readdirSync(dir)[0] ?? "", 10);
    } catch {
      // Released between mkdir and here: try again at once.
      continue;
    }
    let alive = false;
    try {
      if (Number.isInteger(owner)) alive = process.kill(owner, 0);
    } catch {
      alive = false;
    }
    // An empty lock directory is one being created or removed right now, unless it stays empty (its owner died
    // before writing its pid).
    let emptyFor = 0;
    if (!Number.isInteger(owner))
      emptyFor = Date.now() - (lstatSync(dir, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
    if ((Number.isInteger(owner) && !alive) || emptyFor > 10_000) rmSync(dir, { recursive: true, force: true });
    // Correctness does not depend on the lock (each build has its own directory), so a stuck lock only costs a
    // duplicate build.
    if (Date.now() > deadline) return () => {};
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Makes `<root>/.cache/dist` current: returns "current" when it already was, "built" after a build. Concurrent callers
 * build once (a lock), and a failed build leaves the previous bundle in place.
 */
export async function ensureBundle(root = ROOT) {
  if (isCurrent(root)) return "current";
  const cache = join(root, ".cache");
  const builds = join(cache, "builds");
  mkdirSync(builds, { recursive: true });
  const unlock = await lock(cache);
  try {
    if (isCurrent(root)) return "current";
    const id = `${Date.now().toString(36)}-${process.pid}`;
    const outdir = join(builds, id);
    mkdirSync(outdir);
    // Written first: its mtime is the start of the build. bin/vmnet reads the id to run the build by its real path.
    writeFileSync(join(outdir, "stamp"), `${id}\n`);
    try {
      await bundle({ root, outdir });
    } catch (e) {
      rmSync(outdir, { recursive: true, force: true });
      throw e;
    }
    const dist = join(cache, "dist");
    // A plain directory (not a build link) cannot be replaced by rename(2).
    if (lstatSync(dist, { throwIfNoEntry: false })?.isDirectory()) rmSync(dist, { recursive: true, force: true });
    const link = join(cache, `dist.${id}`);
    symlinkSync(join("builds", id), link);
    renameSync(link, dist);
    prune(cache, id);
    return "built";
  } finally {
    unlock();
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    await import("esbuild");
  } catch {
    process.exit(3);
  }
  try {
    const outcome = await ensureBundle(ROOT);
    if (process.argv.includes("--verbose")) process.stderr.write(`vmnet bundle: ${outcome}\n`);
  } catch (e) {
    // bin/vmnet falls back to tsx, which reports a source error itself; the build's own message goes to a log.
    const message = `${new Date().toISOString()} ${e instanceof Error ? e.message : String(e)}\n`;
    try {
      mkdirSync(join(ROOT, ".cache"), { recursive: true });
      writeFileSync(join(ROOT, ".cache", "build.log"), message, { flag: "a" });
    } catch {
      // A checkout this user cannot write to: no bundle and no log, tsx still runs the sources.
    }
    if (process.argv.includes("--verbose")) process.stderr.write(`vmnet bundle: ${message}`);
    process.exit(1);
  }
}
