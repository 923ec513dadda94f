/**
 * Bundles entries (scripts/build.mjs) into a temporary directory whose node_modules holds koffi only, so the bundled
 * code cannot fall back to tsx: a worker started from it that needed tsx would fail to load.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundle, ENTRIES, ROOT } from "../../scripts/build.mjs";

/** A bundle outside the repository; `remove()` deletes it. */
export interface IsolatedBundle {
  readonly outdir: string;
  remove(): void;
}

/** Bundles vmnet's entries plus `extra` (name → root-relative source) into a fresh directory without tsx. */
export async function isolatedBundle(extra: Readonly<Record<string, string>>): Promise<IsolatedBundle> {
  const dir = mkdtempSync(join(tmpdir(), "vmnt-bundle-"));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    mkdirSync(join(dir, "node_modules"));
    symlinkSync(join(ROOT, "node_modules", "koffi"), join(dir, "node_modules", "koffi"));
    const outdir = join(dir, "dist");
    await bundle({ outdir, entries: { ...ENTRIES, ...extra } });
    return { outdir, remove };
  } catch (e) {
    remove();
    throw e;
  }
}
