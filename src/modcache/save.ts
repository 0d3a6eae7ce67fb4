// Saving GOMODCACHE: trim it to what the repository's go.sum files name, then save it.
import { actionsCache, type CacheApi } from './restore.js';
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

export interface ModCacheSaveResult {
  saved: boolean;
  cacheId: number | null;
  ms: number;
  /** A cache-service or validation problem (a key someone else saved first is not one: saved false, no error). */
  error?: string;
}

/** Saves `paths` under `key`. Never throws. */
export async function saveModCache(o: {
  paths: string[];
  key: string;
  cache?: CacheApi;
}): Promise<ModCacheSaveResult> {
  const t0 = Date.now();
  try {
    const id = await (o.cache ?? actionsCache).saveCache(o.paths, o.key);
    // saveCache answers -1 when it could not save, having logged why (an existing key included).
    return { saved: id !== -1, cacheId: id === -1 ? null : id, ms: Date.now() - t0 };
  } catch (err) {
    return {
      saved: false,
      cacheId: null,
      ms: Date.now() - t0,
      error: err instanceof Error ? err.message : String(err),
    };
  }
}
