/** Types of scripts/build.mjs, for the tests that import it. */

/** The repository root the script belongs to. */
export declare const ROOT: string;
/** Bundled file name (without `.mjs`) → source entry, relative to the root. */
export declare const ENTRIES: Readonly<Record<string, string>>;
/** What, besides `src/`, makes a bundle stale. */
export declare const INPUTS: readonly string[];
/** Options of {@link bundle}. */
export interface BundleOptions {
  readonly root?: string;
  readonly outdir: string;
  readonly entries?: Readonly<Record<string, string>>;
}
/** Bundles `entries` into `outdir`; resolves with esbuild's metafile. */
export declare function bundle(options: BundleOptions): Promise<unknown>;
/** Newest mtime (ms) among `paths` and everything under them. */
export declare function newestMtime(paths: readonly string[]): number;
/** Whether `<root>/.cache/dist` exists and no input is newer than its stamp. */
export declare function isCurrent(root?: string): boolean;
/** Makes `<root>/.cache/dist` current. */
export declare function ensureBundle(root?: string): Promise<"current" | "built">;
