// The Actions cache, seen by go-cache: calls that never throw. A cache fault becomes a result with an
// `error` the caller reports once; the user's job goes on.
import * as cache from '@actions/cache';

export interface RestoreResult {
  matchedKey: string | null;
  /** A key that matched but whose archive failed: the restore target may hold part of it. */
  failedKey?: string;
  ms: number;
  error?: string;
}

export interface SaveResult {
  saved: boolean;
  ms: number;
  /** Another job saved this key first (409): not a problem, just nothing to do. */
  conflict?: boolean;
  error?: string;
}

/**
 * Restores in two calls, a lookup and then the exact key, because restoreCache answers a failed
 * download or a corrupt archive the same way as a miss (undefined, after tar may already have written
 * part of it). Knowing that a key matched but did not arrive lets the caller clean up the partial files.
 */
export async function restoreEntry(
  paths: string[],
  primaryKey: string,
  restoreKeys: string[],
): Promise<RestoreResult> {
  const t0 = Date.now();
  try {
    const found = await cache.restoreCache(paths, primaryKey, restoreKeys, { lookupOnly: true });
    if (!found) return { matchedKey: null, ms: Date.now() - t0 };
    const got = await cache.restoreCache(paths, found, []);
    if (got !== found) {
      return {
        matchedKey: null,
        ms: Date.now() - t0,
        failedKey: found,
        error: `${found} matched but could not be downloaded or unpacked`,
      };
    }
    return { matchedKey: found, ms: Date.now() - t0 };
  } catch (err) {
    return { matchedKey: null, ms: Date.now() - t0, error: message(err) };
  }
}

export async function saveEntry(paths: string[], key: string): Promise<SaveResult> {
  const t0 = Date.now();
  try {
    const id = await cache.saveCache(paths, key);
    // saveCache answers -1 when it could not save, having logged why (409 included).
    return { saved: id !== -1, ms: Date.now() - t0 };
  } catch (err) {
    const msg = message(err);
    const conflict = /already exists|409|Unable to reserve/i.test(msg);
    return { saved: false, ms: Date.now() - t0, conflict, ...(conflict ? {} : { error: msg }) };
  }
}

export function isServiceAvailable(): boolean {
  try {
    return cache.isFeatureAvailable();
  } catch {
    return false;
  }
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));
