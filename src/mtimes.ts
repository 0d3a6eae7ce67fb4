// Content-derived mtimes, so `go test` results come from the cache across fresh checkouts.
// Go's test cache keys every file a test opens by size and mtime (golang/go#58571), and a checkout
// gives every file a new mtime. Giving each file an mtime derived from its content (the git blob hash
// from the index, no read needed) makes the key the same on every clone of a commit. Never one fixed
// date: Go's module index caches parsed imports by (name, mtime, size), and a same-size edit would then
// be served stale; a content-derived mtime changes with the content.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lutimesSync, utimesSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { forEachLimited } from './buildcache/tiers.js';

const run = promisify(execFile);

/** 2000-01-01: old enough that Go's two-second "too new to cache" cutoff never applies. */
const EPOCH_S = 946684800;
/** Spread over about 20 years: a same-size edit keeps its mtime only with odds of one in 6·10⁸. */
const SPAN_S = 20 * 365 * 86400;

/** The mtime (seconds) for content with this hash. Pure. */
export function mtimeFor(hexHash: string): number {
  return EPOCH_S + (parseInt(hexHash.slice(0, 12), 16) % SPAN_S);
}

export interface FileHash {
  /** Path relative to the workspace, with '/' separators. */
  path: string;
  hash: string;
  symlink: boolean;
}

/**
 * Hashes for every directory that holds a listed file, derived from its children's names and hashes,
 * so a directory's mtime (which tests that list it see) is as deterministic as its files'. Pure.
 */
export function directoryHashes(files: readonly FileHash[]): Map<string, string> {
  const children = new Map<string, Map<string, string>>();
  const add = (dir: string, name: string, hash: string) => {
    let m = children.get(dir);
    if (!m) children.set(dir, (m = new Map()));
    m.set(name, hash);
  };
  for (const f of files) {
    const parts = f.path.split('/');
    for (let i = 0; i < parts.length - 1; i++)
      add(parts.slice(0, i).join('/') || '.', parts[i]!, '');
    add(parts.slice(0, -1).join('/') || '.', parts.at(-1)!, f.hash);
  }
  const out = new Map<string, string>();
  const hashOf = (dir: string): string => {
    const have = out.get(dir);
    if (have) return have;
    const h = createHash('sha256');
    for (const [name, childHash] of [...(children.get(dir) ?? new Map<string, string>())].sort(
      ([a], [b]) => (a < b ? -1 : 1),
    )) {
      h.update(`${name}\0${childHash || hashOf(dir === '.' ? name : `${dir}/${name}`)}\n`);
    }
    const hex = h.digest('hex');
    out.set(dir, hex);
    return hex;
  };
  for (const dir of children.keys()) hashOf(dir);
  return out;
}

/** Parses `git ls-files -s -z`: mode, blob hash, stage, path. Submodules (mode 160000) are skipped. */
export function parseLsFilesStage(out: string): FileHash[] {
  const files: FileHash[] = [];
  for (const rec of out.split('\0')) {
    const m = /^(\d{6}) ([0-9a-f]{40,64}) (\d)\t(.+)$/s.exec(rec);
    if (!m || m[1] === '160000' || m[3] !== '0') continue;
    files.push({ path: m[4]!, hash: m[2]!, symlink: m[1] === '120000' });
  }
  return files;
}

export interface MtimeResult {
  files: number;
  directories: number;
  contentHashed: number;
  ms: number;
  skipped?: string;
}

export async function applyContentMtimes(workspace: string): Promise<MtimeResult> {
  const t0 = Date.now();
  const git = (args: string[]) =>
    run('git', ['-C', workspace, ...args], { maxBuffer: 1 << 30, encoding: 'utf8' });
  try {
    await git(['rev-parse', '--is-inside-work-tree']);
  } catch {
    return {
      files: 0,
      directories: 0,
      contentHashed: 0,
      ms: Date.now() - t0,
      skipped: `${workspace} is not a git checkout`,
    };
  }
  const [staged, changed] = await Promise.all([
    git(['ls-files', '-s', '-z']),
    // Modified tracked files and untracked, non-ignored ones: their index hash is not their content.
    git(['ls-files', '-m', '-o', '--exclude-standard', '-z']),
  ]);
  const byPath = new Map(parseLsFilesStage(staged.stdout).map((f) => [f.path, f]));
  const needContent = changed.stdout.split('\0').filter(Boolean);
  let contentHashed = 0;
  await forEachLimited(needContent, 8, async (rel) => {
    const abs = path.join(workspace, rel);
    const st = await fs.lstat(abs).catch(() => null);
    if (!st) {
      byPath.delete(rel); // deleted in the working tree
      return;
    }
    if (!st.isFile() && !st.isSymbolicLink()) return;
    const content = st.isSymbolicLink()
      ? Buffer.from(await fs.readlink(abs))
      : await fs.readFile(abs);
    byPath.set(rel, {
      path: rel,
      hash: createHash('sha256').update(content).digest('hex'),
      symlink: st.isSymbolicLink(),
    });
    contentHashed++;
  });
  const files = [...byPath.values()];
  const dirs = directoryHashes(files);
  // Synchronous on purpose: tens of thousands of tiny syscalls, nothing else to overlap them with,
  // and a promise per file costs more than the call itself. Symlinks get lutimes: a link is never
  // followed, since it may point out of the workspace. Directories come last.
  const touch = (rel: string, hash: string, symlink: boolean) => {
    const t = mtimeFor(hash);
    try {
      (symlink ? lutimesSync : utimesSync)(path.join(workspace, rel), t, t);
    } catch {
      // A file that vanished or cannot be touched only costs its test a cache miss.
    }
  };
  for (const f of files) touch(f.path, f.hash, f.symlink);
  for (const [dir, hash] of dirs) touch(dir, hash, false);
  return { files: files.length, directories: dirs.size, contentHashed, ms: Date.now() - t0 };
}
