// Module-cache tiers: a base (the trimmed cache/download of some go.sum) and a delta on it (the module
// files a later go.sum added). A release that bumps a few dependencies then uploads those few zips, not
// the whole module cache again. Decisions are decideTierSave's (buildcache/policy.ts); this is the I/O.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { decideTierSave, type TierDecision } from '../buildcache/policy.js';
import { forEachLimited, linkOrCopy } from '../buildcache/tiers.js';
import { classifyItem, scanModCache, type ModCacheItem } from './trim.js';

/** One file of GOMODCACHE's cache/download, relative to GOMODCACHE with `/` separators. */
export interface ModFile {
  rel: string;
  bytes: number;
}

/** What main restored, for post's decision; written to a file (lists can be long). */
export interface ModulesRestored {
  base: { key: string; files: ModFile[] } | null;
  delta: { key: string; files: ModFile[] } | null;
}

/** The archived part of a scan (see moduleArchivePaths): the files under cache/download. */
export function archivedFiles(items: readonly ModCacheItem[]): ModFile[] {
  return items
    .filter((i) => !i.dir && i.rel.startsWith('cache/download/'))
    .map((i) => ({ rel: i.rel, bytes: i.bytes }));
}

export interface ModuleSaveInput {
  restored: ModulesRestored;
  /** archivedFiles of the trimmed cache. */
  kept: readonly ModFile[];
  pullRequest: boolean;
}

/**
 * Base, delta or nothing for the module cache, by the build tiers' rules: a delta holds every kept
 * file the base lacks; it becomes a new base past 40% of the base's bytes, or when more than half the
 * base is no longer named by go.sum.
 */
export function decideModuleSave(input: ModuleSaveInput): TierDecision<ModFile> {
  const { base, delta } = input.restored;
  return decideTierSave(
    {
      base: base && { key: base.key, entries: base.files },
      delta: delta && { key: delta.key, entries: delta.files },
      workingSet: input.kept,
      pullRequest: input.pullRequest,
    },
    { id: (f) => f.rel, bytes: (f) => f.bytes, noun: 'module files' },
  );
}

/** The module versions (escaped `module@version`) that `files` hold, for the log: at most `max`. */
export function describeModuleFiles(files: readonly ModFile[], max = 20): string {
  const keys = new Set<string>();
  for (const f of files) {
    const c = classifyItem(f.rel);
    if (c.kind === 'download') keys.add(c.key);
  }
  const sorted = [...keys].sort();
  const more = sorted.length > max ? `, and ${sorted.length - max} more` : '';
  return sorted.length ? sorted.slice(0, max).join(', ') + more : 'no module versions';
}

/** Lays out `files` of GOMODCACHE under `tierDir` for upload (linkOrCopy). Returns how many it staged. */
export async function stageModuleFiles(
  gomodcache: string,
  tierDir: string,
  files: readonly ModFile[],
): Promise<number> {
  await fs.rm(tierDir, { recursive: true, force: true });
  let staged = 0;
  await forEachLimited(files, 16, async (f) => {
    const rel = f.rel.split('/');
    try {
      await linkOrCopy(path.join(gomodcache, ...rel), path.join(tierDir, ...rel));
      staged++;
    } catch {
      // gone since the trim: the delta lacks it, and the next job downloads it
    }
  });
  return staged;
}

/**
 * Moves a restored delta's files from `tierDir` into GOMODCACHE. A file already there is replaced:
 * module files are content-addressed (go.sum-checked), and a newer `list` names more versions.
 */
export async function absorbModuleTier(tierDir: string, gomodcache: string): Promise<ModFile[]> {
  const files = archivedFiles(await scanModCache(tierDir, { sizes: false }));
  await forEachLimited(files, 16, async (f) => {
    const to = path.join(gomodcache, ...f.rel.split('/'));
    await fs.mkdir(path.dirname(to), { recursive: true });
    await fs.rename(path.join(tierDir, ...f.rel.split('/')), to);
  });
  return files;
}
