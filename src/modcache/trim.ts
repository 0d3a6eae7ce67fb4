// Trimming GOMODCACHE to the module versions a repository names, before it is saved.
//
// Layout (cmd/go/internal/modfetch):
//   <escaped module>@<escaped version>/      extracted tree (read-only without -modcacherw)
//   cache/download/<escaped module>/@v/list  versions seen (served by a file:// GOPROXY)
//   cache/download/<escaped module>/@v/<escaped version>.{mod,info,zip,ziphash,lock}
//   cache/download/sumdb/<host>/{lookup,tile}/…  checksum database answers and tiles
//   cache/vcs/<hash>/                        VCS clones for GOPROXY=direct (large, never kept)
//   cache/lock
//
// What the go command needs from it (measured with Go 1.26 and GOPROXY=off in
// __tests__/modcache/trim.itg.test.ts, with -mod=mod and -mod=readonly alike):
// - go build / test / vet: the zips or extracted trees of the modules that provide packages, and the
//   .mod files of the modules in the main go.mod. A main module at `go 1.16` or older (unpruned
//   module graph) also reads the .mod of every version in the graph: go.sum's `/go.mod`-only lines.
// - go mod download / verify / tidy: the .mod of every `/go.mod`-only version too, and the .info of
//   every version in the build list.
// - go mod download in a `go 1.16` module: also the zips of `/go.mod`-only versions (it fetches the
//   whole graph).
// So a version with a content hash in go.sum keeps everything; a `/go.mod`-only version keeps its
// files in cache/download (.mod and .info always; a zip when the job fetched one) but not an
// extracted tree, which only a build of its packages would use.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import type { KeepSet } from './gosum.js';

/** Go's module.EscapePath / EscapeVersion: each uppercase letter becomes `!` and its lowercase. */
export function escapeModulePath(p: string): string {
  return p.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`);
}
export const escapeVersion = escapeModulePath;

/** The inverse of escapeModulePath; null for what Go would not write (uppercase, `!` not before a-z). */
export function unescapeModulePath(p: string): string | null {
  if (/[A-Z]/.test(p)) return null;
  let bad = false;
  const out = p.replace(/!(.?)/g, (_m, c: string) => {
    if (!/^[a-z]$/.test(c)) bad = true;
    return c.toUpperCase();
  });
  return bad ? null : out;
}

/** One file, or one directory kept or removed whole, relative to GOMODCACHE with `/` separators. */
export interface ModCacheItem {
  rel: string;
  dir: boolean;
  bytes: number;
  files: number;
  mtimeMs: number;
}

export type ItemClass =
  | { kind: 'lock' }
  | { kind: 'vcs' }
  | { kind: 'download'; key: string; ext: string }
  | { kind: 'list'; module: string }
  | { kind: 'extracted'; key: string }
  | { kind: 'sumdb-lookup'; key: string }
  | { kind: 'sumdb-tile'; level: number }
  | { kind: 'sumdb-other' }
  | { kind: 'other' };

const DOWNLOAD_EXTS = new Set(['mod', 'info', 'zip', 'ziphash', 'lock']);
/** The files that say which module versions a cache holds (see moduleSetHash). */
const SET_EXTS = new Set(['mod', 'info', 'zip']);

/** What an item is, from its path alone. Keys are escaped `module@version`. */
export function classifyItem(rel: string): ItemClass {
  if (rel === 'cache/lock') return { kind: 'lock' };
  if (rel === 'cache/vcs' || rel.startsWith('cache/vcs/')) return { kind: 'vcs' };
  if (rel.startsWith('cache/download/sumdb/')) {
    const parts = rel.split('/'); // cache download sumdb <host> <kind> …
    if (parts[4] === 'lookup' && parts.length >= 6) {
      return { kind: 'sumdb-lookup', key: parts.slice(5).join('/') };
    }
    if (parts[4] === 'tile') {
      const level = Number(parts[6]);
      return { kind: 'sumdb-tile', level: Number.isInteger(level) ? level : -1 };
    }
    return { kind: 'sumdb-other' };
  }
  if (rel.startsWith('cache/download/')) {
    const at = rel.lastIndexOf('/@v/');
    if (at === -1) return { kind: 'other' };
    const module = rel.slice('cache/download/'.length, at);
    const file = rel.slice(at + 4);
    if (!module || file.includes('/')) return { kind: 'other' };
    if (file === 'list') return { kind: 'list', module };
    const dot = file.lastIndexOf('.');
    const ext = dot === -1 ? '' : file.slice(dot + 1);
    if (dot <= 0 || !DOWNLOAD_EXTS.has(ext) || !file.startsWith('v')) return { kind: 'other' };
    return { kind: 'download', key: `${module}@${file.slice(0, dot)}`, ext };
  }
  if (rel === 'cache' || rel.startsWith('cache/')) return { kind: 'other' };
  const last = rel.slice(rel.lastIndexOf('/') + 1);
  const at = last.indexOf('@');
  if (at > 0 && !rel.slice(0, rel.length - last.length).includes('@')) {
    return { kind: 'extracted', key: rel };
  }
  return { kind: 'other' };
}

export interface TrimPlanOptions {
  /**
   * Bytes of cache/download/sumdb kept at most (default 2 MiB): lookups of kept modules first, then
   * the highest, newest tiles.
   */
  sumdbMaxBytes?: number;
}

export const DEFAULT_SUMDB_MAX_BYTES = 2 * 1024 * 1024;

export interface TrimPlan {
  keep: ModCacheItem[];
  remove: ModCacheItem[];
  /** Unescaped `module@version`s with something kept, sorted. */
  keptModules: string[];
  /** Unescaped `module@version`s that had files and keep none, sorted. */
  removedModules: string[];
  /** Keep-set versions the cache lacks: `full` ones without zip or tree, `mod` ones without .mod. */
  missingModules: string[];
  keptBytes: number;
  removedBytes: number;
}

function toKeepMap(keep: KeepSet | Set<string>): Map<string, 'full' | 'mod'> {
  const out = new Map<string, 'full' | 'mod'>();
  const entries: Iterable<[string, 'full' | 'mod']> =
    keep instanceof Map ? keep.entries() : [...keep].map((k) => [k, 'full'] as [string, 'full']);
  for (const [mv, kind] of entries) {
    const at = mv.lastIndexOf('@');
    if (at <= 0) continue;
    const key = `${escapeModulePath(mv.slice(0, at))}@${escapeVersion(mv.slice(at + 1))}`;
    if (kind === 'full' || !out.has(key)) out.set(key, kind);
  }
  return out;
}

function unescapeKey(key: string): string {
  const at = key.lastIndexOf('@');
  const m = unescapeModulePath(key.slice(0, at));
  const v = unescapeModulePath(key.slice(at + 1));
  return m !== null && v !== null ? `${m}@${v}` : key;
}

/**
 * Decides what of GOMODCACHE to keep. `keep` holds unescaped `module@version`s; a Set keeps each
 * whole, a KeepSet says per version. Pure: the items come from scanModCache.
 */
export function planTrim(
  items: readonly ModCacheItem[],
  keep: KeepSet | Set<string>,
  opts: TrimPlanOptions = {},
): TrimPlan {
  const want = toKeepMap(keep);
  const keptModuleNames = new Set<string>();
  for (const k of want.keys()) keptModuleNames.add(k.slice(0, k.lastIndexOf('@')));
  const kept: ModCacheItem[] = [];
  const removed: ModCacheItem[] = [];
  const sumdb: Array<{ item: ModCacheItem; rank: number }> = [];
  const seen = new Set<string>();
  const keptKeys = new Set<string>();
  const have = new Map<string, Set<string>>(); // key → exts present (and 'dir')

  for (const item of items) {
    const c = classifyItem(item.rel);
    let keepIt = false;
    switch (c.kind) {
      case 'lock':
        keepIt = true;
        break;
      case 'download': {
        seen.add(c.key);
        const w = want.get(c.key);
        keepIt = w !== undefined;
        if (keepIt) {
          keptKeys.add(c.key);
          if (!have.has(c.key)) have.set(c.key, new Set());
          have.get(c.key)!.add(c.ext);
        }
        break;
      }
      case 'extracted': {
        seen.add(c.key);
        keepIt = item.dir && want.get(c.key) === 'full';
        if (keepIt) {
          keptKeys.add(c.key);
          if (!have.has(c.key)) have.set(c.key, new Set());
          have.get(c.key)!.add('dir');
        }
        break;
      }
      case 'list':
        keepIt = keptModuleNames.has(c.module);
        break;
      case 'sumdb-lookup':
        sumdb.push({ item, rank: want.has(c.key) ? 3 : 0 });
        continue;
      case 'sumdb-tile':
        sumdb.push({ item, rank: c.level >= 0 ? 1 + Math.min(c.level, 1) : 0 });
        continue;
      case 'sumdb-other':
        sumdb.push({ item, rank: 0 });
        continue;
      case 'vcs':
      case 'other':
        keepIt = false;
        break;
    }
    (keepIt ? kept : removed).push(item);
  }

  // The checksum database cache, bounded: kept modules' lookups, then tiles (higher levels are shared
  // by more proofs), then the rest; newest first within a rank.
  sumdb.sort(
    (a, b) =>
      b.rank - a.rank ||
      tileLevel(b.item.rel) - tileLevel(a.item.rel) ||
      b.item.mtimeMs - a.item.mtimeMs ||
      (a.item.rel < b.item.rel ? -1 : 1),
  );
  let budget = opts.sumdbMaxBytes ?? DEFAULT_SUMDB_MAX_BYTES;
  for (const s of sumdb) {
    if (s.item.bytes <= budget) {
      budget -= s.item.bytes;
      kept.push(s.item);
    } else {
      removed.push(s.item);
    }
  }

  const missing: string[] = [];
  for (const [key, kind] of want) {
    const h = have.get(key);
    const ok = kind === 'full' ? h?.has('zip') || h?.has('dir') : h?.has('mod');
    if (!ok) missing.push(unescapeKey(key));
  }
  const sum = (xs: ModCacheItem[]) => xs.reduce((n, x) => n + x.bytes, 0);
  return {
    keep: kept,
    remove: removed,
    keptModules: [...keptKeys].map(unescapeKey).sort(),
    removedModules: [...seen]
      .filter((k) => !keptKeys.has(k))
      .map(unescapeKey)
      .sort(),
    missingModules: missing.sort(),
    keptBytes: sum(kept),
    removedBytes: sum(removed),
  };
}

function tileLevel(rel: string): number {
  const c = classifyItem(rel);
  return c.kind === 'sumdb-tile' ? c.level : -1;
}

/**
 * A hash of which module versions a cache holds: the names of its .mod/.info/.zip files (not extracted
 * trees, which are not archived, nor sumdb, lists or locks). The same on restore and after trim when
 * nothing changed, however many trees the job extracted in between.
 */
export function moduleSetHashOfItems(items: readonly ModCacheItem[]): string {
  const names: string[] = [];
  for (const it of items) {
    const c = classifyItem(it.rel);
    if (c.kind === 'download' && SET_EXTS.has(c.ext)) names.push(`${c.key}.${c.ext}`);
  }
  names.sort();
  return createHash('sha256').update(names.join('\n')).digest('hex');
}

export interface ScanOptions {
  /** Walk extracted trees and cache/vcs to size them (default true). */
  sizes?: boolean;
}

/**
 * Lists GOMODCACHE as items: every file under cache/download, each extracted module tree and cache/vcs
 * as one directory item, and any other file. A missing directory lists as empty.
 */
export async function scanModCache(
  gomodcache: string,
  opts: ScanOptions = {},
): Promise<ModCacheItem[]> {
  const sizes = opts.sizes ?? true;
  const items: ModCacheItem[] = [];
  const walk = async (rel: string, inDownload: boolean): Promise<void> => {
    const abs = rel ? path.join(gomodcache, ...rel.split('/')) : gomodcache;
    const entries = await fs.readdir(abs, { withFileTypes: true }).catch(() => []);
    await Promise.all(
      entries.map(async (e) => {
        const r = rel ? `${rel}/${e.name}` : e.name;
        const p = path.join(abs, e.name);
        if (e.isDirectory()) {
          const wholeDir =
            r === 'cache/vcs' ||
            (!inDownload &&
              r !== 'cache' &&
              r !== 'cache/download' &&
              (e.name.includes('@') || r.startsWith('cache/')));
          if (wholeDir) {
            const st = await fs.lstat(p).catch(() => null);
            const t = sizes ? await treeSize(p) : { bytes: 0, files: 0 };
            items.push({
              rel: r,
              dir: true,
              bytes: t.bytes,
              files: t.files,
              mtimeMs: st?.mtimeMs ?? 0,
            });
          } else {
            await walk(r, inDownload || r === 'cache/download');
          }
        } else {
          const st = await fs.lstat(p).catch(() => null);
          if (st) items.push({ rel: r, dir: false, bytes: st.size, files: 1, mtimeMs: st.mtimeMs });
        }
      }),
    );
  };
  await walk('', false);
  items.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  return items;
}

async function treeSize(dir: string): Promise<{ bytes: number; files: number }> {
  let bytes = 0;
  let files = 0;
  const walk = async (d: string): Promise<void> => {
    const entries = await fs.readdir(d, { withFileTypes: true }).catch(() => []);
    await Promise.all(
      entries.map(async (e) => {
        const p = path.join(d, e.name);
        if (e.isDirectory()) return walk(p);
        const st = await fs.lstat(p).catch(() => null);
        if (st) {
          bytes += st.size;
          files++;
        }
      }),
    );
  };
  await walk(dir);
  return { bytes, files };
}

/**
 * Adds owner write permission to `target` and, for a directory, everything below it (`chmod -R u+w`).
 * Go makes module trees read-only; without this neither rm nor tar can replace them. On POSIX only
 * directories need it (unlinking a file needs its directory writable); on Windows read-only files
 * refuse deletion, so files get it too. Returns how many modes changed.
 */
export async function makeWritable(target: string): Promise<number> {
  const files = process.platform === 'win32';
  let changed = 0;
  const fix = async (p: string, mode: number): Promise<void> => {
    if ((mode & 0o200) === 0) {
      await fs.chmod(p, (mode & 0o7777) | 0o200).catch(() => undefined);
      changed++;
    }
  };
  const walk = async (p: string): Promise<void> => {
    const st = await fs.lstat(p).catch(() => null);
    if (!st) return;
    if (st.isDirectory()) {
      await fix(p, st.mode);
      const entries = await fs.readdir(p).catch(() => []);
      await Promise.all(entries.map((e) => walk(path.join(p, e))));
    } else if (files && !st.isSymbolicLink()) {
      await fix(p, st.mode);
    }
  };
  await walk(target);
  return changed;
}

export interface TrimOptions extends TrimPlanOptions {
  /** Plan and report only. */
  dryRun?: boolean;
}

export interface TrimResult {
  keptModules: number;
  removedModules: number;
  /** Keep-set versions the cache does not have (informational: Go downloads only what it uses). */
  missingModules: number;
  keptBytes: number;
  removedBytes: number;
  /** Files and whole directories removed. */
  removedPaths: number;
  /** moduleSetHashOfItems of what is left: compare with the hash taken after restore. */
  keptSetHash: string;
  /** What is left (planned, for a dry run). */
  kept: ModCacheItem[];
  /** Removals that failed (first 20); the cache is then larger than planned, not wrong. */
  errors: string[];
  durationMs: number;
}

/** Trims GOMODCACHE to `keep` (see planTrim). Never throws for one path that will not go. */
export async function trimToKeepSet(
  gomodcache: string,
  keep: KeepSet | Set<string>,
  opts: TrimOptions = {},
): Promise<TrimResult> {
  const t0 = Date.now();
  const items = await scanModCache(gomodcache);
  const plan = planTrim(items, keep, opts);
  const errors: string[] = [];
  let removedPaths = 0;
  if (!opts.dryRun) {
    const parents = new Set<string>();
    await pool(plan.remove, 8, async (item) => {
      const abs = path.join(gomodcache, ...item.rel.split('/'));
      const parent = path.dirname(abs);
      parents.add(parent);
      try {
        await ensureDirWritable(parent);
        if (item.dir) await makeWritable(abs);
        else if (process.platform === 'win32') await fs.chmod(abs, 0o666).catch(() => undefined);
        await fs.rm(abs, { recursive: true, force: true, maxRetries: 2 });
        removedPaths++;
      } catch (err) {
        if (errors.length < 20) errors.push(`${item.rel}: ${(err as Error).message}`);
      }
    });
    await pruneEmptyDirs(gomodcache, parents);
  }
  return {
    keptModules: plan.keptModules.length,
    removedModules: plan.removedModules.length,
    missingModules: plan.missingModules.length,
    keptBytes: plan.keptBytes,
    removedBytes: plan.removedBytes,
    removedPaths,
    keptSetHash: moduleSetHashOfItems(plan.keep),
    kept: plan.keep,
    errors,
    durationMs: Date.now() - t0,
  };
}

async function ensureDirWritable(dir: string): Promise<void> {
  const st = await fs.lstat(dir).catch(() => null);
  if (st && st.isDirectory() && (st.mode & 0o200) === 0) {
    await fs.chmod(dir, (st.mode & 0o7777) | 0o200).catch(() => undefined);
  }
}

/** Removes directories left empty, deepest first; never GOMODCACHE, cache or cache/download. */
async function pruneEmptyDirs(root: string, dirs: Set<string>): Promise<void> {
  const stop = new Set([root, path.join(root, 'cache'), path.join(root, 'cache', 'download')]);
  const todo = new Set(dirs);
  while (todo.size) {
    const sorted = [...todo].sort((a, b) => b.length - a.length);
    todo.clear();
    for (const d of sorted) {
      if (stop.has(d) || !d.startsWith(root + path.sep)) continue;
      try {
        await fs.rmdir(d);
        todo.add(path.dirname(d));
      } catch {
        // not empty (or gone): leave it
      }
    }
  }
}

async function pool<T>(xs: readonly T[], n: number, f: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  const worker = async () => {
    while (i < xs.length) await f(xs[i++]!);
  };
  await Promise.all(Array.from({ length: Math.min(n, xs.length) }, worker));
}
