// Module-cache tiers: a base (the trimmed cache/download of some go.sum) and a delta on it (the module
// files a later go.sum added). A release that bumps a few dependencies then uploads those few zips, not
// the whole module cache again. Decisions are decideTierSave's (buildcache/policy.ts); this is the I/O.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { decideTierSave, type TierDecision } from '../buildcache/policy.js';
import { forEachLimited } from '../buildcache/tiers.js';
import { classifyItem, type ModCacheItem } from './trim.js';

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

/** Lays out `files` of GOMODCACHE under `tierDir` for upload: hard links, copies across devices. */
export async function stageModuleFiles(
  gomodcache: string,
  tierDir: string,
  files: readonly ModFile[],
): Promise<number> {
  await fs.rm(tierDir, { recursive: true, force: true });
  let staged = 0;
  await forEachLimited(files, 16, async (f) => {
    const from = path.join(gomodcache, ...f.rel.split('/'));
    const to = path.join(tierDir, ...f.rel.split('/'));
    await fs.mkdir(path.dirname(to), { recursive: true });
    try {
      await fs.link(from, to);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EXDEV' && code !== 'EPERM') return; // gone since the trim: the delta lacks it
      await fs.copyFile(from, to);
    }
    staged++;
  });
  return staged;
}

/**
 * Moves a restored delta's files from `tierDir` into GOMODCACHE. A file already there is replaced:
 * module files are content-addressed (go.sum-checked), and a newer `list` names more versions.
 */
export async function absorbModuleTier(tierDir: string, gomodcache: string): Promise<ModFile[]> {
  const moved: ModFile[] = [];
  const files: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await fs
      .readdir(path.join(tierDir, ...rel.split('/')), { withFileTypes: true })
      .catch(() => []);
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(r);
      else if (e.isFile() && r.startsWith('cache/download/')) files.push(r);
    }
  };
  await walk('');
  await forEachLimited(files, 16, async (rel) => {
    const from = path.join(tierDir, ...rel.split('/'));
    const to = path.join(gomodcache, ...rel.split('/'));
    const st = await fs.stat(from);
    await fs.mkdir(path.dirname(to), { recursive: true });
    await fs.rename(from, to);
    moved.push({ rel, bytes: st.size });
  });
  moved.sort((a, b) => (a.rel < b.rel ? -1 : 1));
  return moved;
}
