// Restoring GOMODCACHE from the Actions cache.
//
// Restoring over an existing module cache: Go makes module trees read-only (unless -modcacherw), and
// tar cannot replace a file in a read-only directory: `tar: …: Cannot open: File exists` (setup-go's
// long-standing failure). Two ways out: restore into the existing directory after `chmod -R u+w`, or
// restore into a fresh sibling and point GOMODCACHE at it. We restore in place:
// - the module cache is content-addressed: a module@version's files are the same bytes wherever they
//   came from (go.sum-verified), so tar overwriting an existing file with the archived one is harmless,
//   and what was already there (a self-hosted runner's cache, a step before ours) stays usable;
// - GOMODCACHE keeps the value the user and `go env` agree on: no exported variable that a user's
//   `go env -w GOMODCACHE`, a later setup step or a script reading $(go env GOMODCACHE) could disagree
//   with, and the cache version @actions/cache derives from the path stays the same on save;
// - on GitHub-hosted runners GOMODCACHE is absent or empty, so the chmod walk costs nothing there.
// On POSIX only directories need u+w (unlinking needs the directory writable); Windows refuses to
// replace read-only files, so there files get it too (makeWritable).
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { makeWritable, moduleSetHashOfItems, scanModCache } from './trim.js';

/**
 * What of GOMODCACHE the Actions cache holds: cache/download (zips, .mod, .info, .ziphash, checksum
 * database), not the extracted trees. A tree is its zip unpacked, and Go unpacks a cached zip itself,
 * offline, when a build first needs the module (modfetch.Download). On restic's module cache
 * (bench/modcache/archive.sh, results in bench/README.md) the archive is 192 MB instead of 356 MB; the
 * unpacking moves from the restore into the build's module loading at about the same total cost.
 * The same paths on restore and save: @actions/cache versions an entry by them.
 */
export function moduleArchivePaths(gomodcache: string): string[] {
  return [path.join(gomodcache, 'cache', 'download')];
}

export interface PrepareResult {
  /** GOMODCACHE existed and had entries. */
  existed: boolean;
  /** Directories (and on Windows files) that were made writable. */
  madeWritable: number;
  /** A line for the log when something was done. */
  note?: string;
}

/** Makes an existing GOMODCACHE writable so that a restore can write over it. Never throws. */
export async function prepareModCacheDir(gomodcache: string): Promise<PrepareResult> {
  const entries = await fs.readdir(gomodcache).catch(() => [] as string[]);
  if (entries.length === 0) return { existed: false, madeWritable: 0 };
  const madeWritable = await makeWritable(gomodcache).catch(() => 0);
  return {
    existed: true,
    madeWritable,
    ...(madeWritable > 0
      ? {
          note: `GOMODCACHE ${gomodcache} already had content; made ${madeWritable} read-only entries writable so the restore can write over them`,
        }
      : {}),
  };
}

/** moduleSetHashOfItems of what GOMODCACHE holds now (names only: cheap). */
export async function moduleSetHash(gomodcache: string): Promise<string> {
  return moduleSetHashOfItems(await scanModCache(gomodcache, { sizes: false }));
}

/** Empties GOMODCACHE (read-only trees included), e.g. after a restore that unpacked only part of an archive. */
export async function clearModCache(gomodcache: string): Promise<void> {
  await makeWritable(gomodcache).catch(() => 0);
  await fs.rm(gomodcache, { recursive: true, force: true });
}
