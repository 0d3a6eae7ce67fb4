// Saving GOMODCACHE: trim it to what the repository's go.sum files name, then save it.
import { readKeepSet } from './gosum.js';
import { trimToKeepSet, type TrimOptions, type TrimResult } from './trim.js';

export type { TrimResult };

export interface TrimModCacheOptions extends TrimOptions {
  /** Module versions kept whole besides go.sum's, e.g. toolchainModule(goEnv). */
  extraModules?: string[];
}

/**
 * Trims GOMODCACHE to the module versions that `dependencyFiles` (go.sum, go.work.sum) name, plus
 * `extraModules`. Throws only when a dependency file cannot be read (then nothing was removed).
 */
export async function trimModCache(
  gomodcache: string,
  dependencyFiles: string[],
  opts: TrimModCacheOptions = {},
): Promise<TrimResult> {
  const keep = await readKeepSet(dependencyFiles, opts.extraModules ?? []);
  return trimToKeepSet(gomodcache, keep, opts);
}

/** The module-set hash of a trimmed cache; equals moduleSetHash() of a cache restored unchanged. */
export function moduleSetHashOf(trim: TrimResult): string {
  return trim.keptSetHash;
}
