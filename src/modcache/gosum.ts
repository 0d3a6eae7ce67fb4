// go.sum / go.work.sum: which module versions a repository names, where its dependency files are, and
// one hash over them for the module-cache key.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

/**
 * What to keep of one module version: `full` = its downloads and its extracted tree (go.sum has an
 * `h1:` line for its content); `mod` = its downloads only (go.sum has only a `/go.mod` line: Go reads
 * its go.mod to build the module graph, and never builds its packages). See trim.ts.
 */
export type KeepKind = 'full' | 'mod';
/** `module@version` (unescaped, as go.sum writes it) → what to keep of it. */
export type KeepSet = Map<string, KeepKind>;

interface GoSumLine {
  module: string;
  version: string;
  goModOnly: boolean;
}

function* goSumLines(text: string): Generator<GoSumLine> {
  for (const line of text.split(/\r?\n/)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length !== 3 || !fields[2]!.includes(':')) continue;
    const [module, rawVersion] = fields as [string, string];
    const goModOnly = rawVersion.endsWith('/go.mod');
    const version = goModOnly ? rawVersion.slice(0, -'/go.mod'.length) : rawVersion;
    if (!module || !version.startsWith('v')) continue;
    yield { module, version, goModOnly };
  }
}

/** Every `module@version` that a go.sum (or go.work.sum) names, `/go.mod`-only lines included. */
export function parseGoSum(text: string): Set<string> {
  const out = new Set<string>();
  for (const l of goSumLines(text)) out.add(`${l.module}@${l.version}`);
  return out;
}

/** Adds what a go.sum names to `into`: `full` for a version with a content hash, else `mod`. */
export function addGoSumToKeepSet(text: string, into: KeepSet = new Map()): KeepSet {
  for (const l of goSumLines(text)) {
    const key = `${l.module}@${l.version}`;
    if (!l.goModOnly) into.set(key, 'full');
    else if (!into.has(key)) into.set(key, 'mod');
  }
  return into;
}

/** The keep set of several go.sum files, plus `extra` module versions (a toolchain, tools) kept whole. */
export async function readKeepSet(files: string[], extra: string[] = []): Promise<KeepSet> {
  const keep: KeepSet = new Map();
  for (const f of files) addGoSumToKeepSet(await fs.readFile(f, 'utf8'), keep);
  for (const m of extra) keep.set(m, 'full');
  return keep;
}

export const DEFAULT_DEPENDENCY_PATTERNS = ['**/go.sum', '**/go.work.sum'];
/** Directories never searched: other ecosystems' trees, vendored copies, VCS data, test fixtures. */
export const SKIPPED_DIRS: ReadonlySet<string> = new Set([
  'node_modules',
  'vendor',
  '.git',
  'testdata',
]);

/**
 * A glob as a RegExp over `/`-separated relative paths: `**` is any number of whole segments (zero
 * included), `*` anything within a segment, `?` one character within a segment. Dotfiles match.
 */
export function globToRegExp(pattern: string): RegExp {
  const segs = normalizePattern(pattern).split('/');
  let re = '';
  segs.forEach((seg, i) => {
    const last = i === segs.length - 1;
    if (seg === '**') {
      re += last ? '.*' : '(?:[^/]+/)*';
      return;
    }
    for (const ch of seg) {
      if (ch === '*') re += '[^/]*';
      else if (ch === '?') re += '[^/]';
      else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
    if (!last) re += '/';
  });
  return new RegExp(`^${re}$`);
}

function normalizePattern(p: string): string {
  return p
    .trim()
    .replace(/\\/g, '/')
    .replace(/^\.\//, '')
    .replace(/\/{2,}/g, '/')
    .replace(/\/$/, '');
}

export function matchGlob(pattern: string, relPath: string): boolean {
  return globToRegExp(pattern).test(relPath.replace(/\\/g, '/'));
}

/**
 * The files under `workspace` that match `patterns` (relative globs; a leading `!` excludes), sorted by
 * relative path, as absolute paths. Symlinked directories are not followed; SKIPPED_DIRS are not
 * entered. An absolute pattern inside the workspace is made relative to it.
 */
export async function findDependencyFiles(
  workspace: string,
  patterns: string[] = DEFAULT_DEPENDENCY_PATTERNS,
): Promise<string[]> {
  const include: RegExp[] = [];
  const exclude: RegExp[] = [];
  const roots = new Set<string>();
  for (let p of patterns) {
    p = p.trim();
    if (!p) continue;
    const negated = p.startsWith('!');
    if (negated) p = p.slice(1);
    if (path.isAbsolute(p)) p = path.relative(workspace, p);
    p = normalizePattern(p);
    (negated ? exclude : include).push(globToRegExp(p));
    if (!negated) roots.add(literalBase(p));
  }
  const found = new Set<string>();
  const walk = async (rel: string): Promise<void> => {
    const entries = await fs
      .readdir(path.join(workspace, rel), { withFileTypes: true })
      .catch(() => []);
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (!SKIPPED_DIRS.has(e.name)) await walk(r);
      } else if (e.isFile() || e.isSymbolicLink()) {
        if (!include.some((re) => re.test(r)) || exclude.some((re) => re.test(r))) continue;
        if (e.isSymbolicLink()) {
          const st = await fs.stat(path.join(workspace, r)).catch(() => null);
          if (!st?.isFile()) continue;
        }
        found.add(r);
      }
    }
  };
  // Walk from the deepest literal directory of each pattern; drop roots inside other roots.
  const sorted = [...roots].sort();
  const starts = sorted.filter((r) => !sorted.some((o) => o !== r && isInside(r, o)));
  for (const s of starts) await walk(s);
  return [...found].sort().map((r) => path.join(workspace, ...r.split('/')));
}

function literalBase(pattern: string): string {
  const segs = pattern.split('/');
  const lit: string[] = [];
  for (const s of segs.slice(0, -1)) {
    if (/[*?]/.test(s)) break;
    lit.push(s);
  }
  return lit.join('/');
}

function isInside(rel: string, dir: string): boolean {
  return dir === '' || rel.startsWith(`${dir}/`);
}

/**
 * SHA-256 (hex) over the files, in order of their `/`-separated paths relative to `root`, each as
 * path, NUL, content with CRLF read as LF (a Windows checkout with autocrlf hashes like Linux).
 */
export async function hashFiles(files: string[], root: string): Promise<string> {
  const items = await Promise.all(
    files.map(async (f) => ({
      rel: path.relative(root, f).split(path.sep).join('/'),
      content: (await fs.readFile(f)).toString('utf8').replace(/\r\n/g, '\n'),
    })),
  );
  items.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  const h = createHash('sha256');
  for (const it of items) {
    h.update(it.rel);
    h.update('\0');
    h.update(String(Buffer.byteLength(it.content)));
    h.update('\0');
    h.update(it.content);
  }
  return h.digest('hex');
}
