// The Actions cache, seen by go-cache: calls that never throw. A cache fault becomes a result with an
// `error` the caller reports once; the user's job goes on.
import * as cache from '@actions/cache';

export interface RestoreResult {
  matchedKey: string | null;
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

export async function restoreEntry(
  paths: string[],
  primaryKey: string,
  restoreKeys: string[],
): Promise<RestoreResult> {
  const t0 = Date.now();
  try {
    const matchedKey = (await cache.restoreCache(paths, primaryKey, restoreKeys)) ?? null;
    return { matchedKey, ms: Date.now() - t0 };
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
