import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KeepSet } from '../../src/modcache/gosum.js';
import {
  classifyItem,
  escapeModulePath,
  escapeVersion,
  makeWritable,
  moduleSetHashOfItems,
  planTrim,
  scanModCache,
  trimToKeepSet,
  unescapeModulePath,
  type ModCacheItem,
} from '../../src/modcache/trim.js';
import { moduleSetHash } from '../../src/modcache/restore.js';
import { moduleSetHashOf, trimModCache } from '../../src/modcache/save.js';
import { writeTree } from './tree.js';

describe('module path escaping', () => {
  it('escapes uppercase as Go does', () => {
    expect(escapeModulePath('github.com/BurntSushi/toml')).toBe('github.com/!burnt!sushi/toml');
    expect(escapeModulePath('github.com/Azure/azure-sdk-for-go')).toBe(
      'github.com/!azure/azure-sdk-for-go',
    );
    expect(escapeModulePath('golang.org/x/sync')).toBe('golang.org/x/sync');
    expect(escapeVersion('v0.0.0-20200101-ABCdef')).toBe('v0.0.0-20200101-!a!b!cdef');
  });
  it('unescapes, and refuses what Go would not write', () => {
    expect(unescapeModulePath('github.com/!burnt!sushi/toml')).toBe('github.com/BurntSushi/toml');
    expect(unescapeModulePath('golang.org/x/sync')).toBe('golang.org/x/sync');
    expect(unescapeModulePath('a/!!b')).toBeNull();
    expect(unescapeModulePath('a/!')).toBeNull();
    expect(unescapeModulePath('a/!1')).toBeNull();
    expect(unescapeModulePath('a/B')).toBeNull();
  });
  it('round-trips', () => {
    for (const p of ['github.com/AaBb/CC', 'x.org/ÄÖ', 'a/b/v2', 'gopkg.in/yaml.v3']) {
      expect(unescapeModulePath(escapeModulePath(p))).toBe(p);
    }
  });
});

describe('classifyItem', () => {
  it('knows the layout', () => {
    expect(classifyItem('cache/lock')).toEqual({ kind: 'lock' });
    expect(classifyItem('cache/vcs')).toEqual({ kind: 'vcs' });
    expect(classifyItem('cache/download/github.com/!burnt!sushi/toml/@v/v1.3.2.zip')).toEqual({
      kind: 'download',
      key: 'github.com/!burnt!sushi/toml@v1.3.2',
      ext: 'zip',
    });
    expect(classifyItem('cache/download/a.com/m/@v/v1.0.0+incompatible.ziphash')).toEqual({
      kind: 'download',
      key: 'a.com/m@v1.0.0+incompatible',
      ext: 'ziphash',
    });
    expect(classifyItem('cache/download/a.com/m/@v/list')).toEqual({
      kind: 'list',
      module: 'a.com/m',
    });
    expect(classifyItem('cache/download/a.com/m/@v/v1.0.0.partial').kind).toBe('other');
    expect(classifyItem('cache/download/a.com/m/@v/v1.0.0.zip.tmp-123').kind).toBe('other');
    expect(classifyItem('cache/download/a.com/m/@v/list.lock').kind).toBe('other');
    expect(classifyItem('cache/download/a.com/m/@latest').kind).toBe('other');
    expect(classifyItem('cache/download/sumdb/sum.golang.org/lookup/a.com/m@v1.0.0')).toEqual({
      kind: 'sumdb-lookup',
      key: 'a.com/m@v1.0.0',
    });
    expect(classifyItem('cache/download/sumdb/sum.golang.org/tile/8/2/001')).toEqual({
      kind: 'sumdb-tile',
      level: 2,
    });
    expect(classifyItem('cache/download/sumdb/sum.golang.org/tile/8/data/x001')).toEqual({
      kind: 'sumdb-tile',
      level: -1,
    });
    expect(classifyItem('github.com/!burnt!sushi/toml@v1.3.2')).toEqual({
      kind: 'extracted',
      key: 'github.com/!burnt!sushi/toml@v1.3.2',
    });
    expect(classifyItem('github.com/foo@v1/sub@x').kind).toBe('other');
    expect(classifyItem('cache/other').kind).toBe('other');
    expect(classifyItem('README').kind).toBe('other');
  });
});

function file(rel: string, bytes = 100, mtimeMs = 0): ModCacheItem {
  return { rel, dir: false, bytes, files: 1, mtimeMs };
}
function dir(rel: string, bytes = 1000): ModCacheItem {
  return { rel, dir: true, bytes, files: 10, mtimeMs: 0 };
}
function versionItems(
  escMod: string,
  ver: string,
  exts: string[],
  extracted: boolean,
): ModCacheItem[] {
  const out = exts.map((e) => file(`cache/download/${escMod}/@v/${ver}.${e}`));
  out.push(file(`cache/download/${escMod}/@v/list`, 10));
  if (extracted) out.push(dir(`${escMod}@${ver}`));
  return out;
}
const ALL = ['mod', 'info', 'zip', 'ziphash', 'lock'];

describe('planTrim', () => {
  const items: ModCacheItem[] = [
    file('cache/lock', 0),
    dir('cache/vcs', 50_000),
    ...versionItems('github.com/!burnt!sushi/toml', 'v1.3.2', ALL, true),
    ...versionItems('github.com/!burnt!sushi/toml', 'v1.2.0', ALL, true),
    ...versionItems('gopkg.in/check.v1', 'v0.0.0-20161208181325-20d25e280405', ALL, true),
    ...versionItems('github.com/unrelated/x', 'v0.1.0', ALL, true),
    file('cache/download/github.com/unrelated/x/@v/v0.2.0.partial'),
    dir('golang.org/x/tools@v0.1.0.tmp-12345'),
    ...versionItems('golang.org/toolchain', 'v0.0.1-go1.26.8.linux-amd64', ALL, true),
    file('cache/download/sumdb/sum.golang.org/lookup/github.com/!burnt!sushi/toml@v1.3.2', 200),
    file('cache/download/sumdb/sum.golang.org/lookup/github.com/unrelated/x@v0.1.0', 200),
    file('cache/download/sumdb/sum.golang.org/tile/8/0/x001/234', 8192, 1),
    file('cache/download/sumdb/sum.golang.org/tile/8/0/x001/235', 8192, 2),
    file('cache/download/sumdb/sum.golang.org/tile/8/2/001', 8192, 0),
    file('stray.txt', 5),
  ];
  const keep: KeepSet = new Map([
    ['github.com/BurntSushi/toml@v1.3.2', 'full'],
    ['gopkg.in/check.v1@v0.0.0-20161208181325-20d25e280405', 'mod'],
    ['golang.org/x/sync@v0.24.0', 'full'],
    ['golang.org/toolchain@v0.0.1-go1.26.8.linux-amd64', 'full'],
  ]);
  const plan = planTrim(items, keep);
  const kept = new Set(plan.keep.map((i) => i.rel));
  const removed = new Set(plan.remove.map((i) => i.rel));

  it('keeps everything of a full version, its list and its sumdb lookup', () => {
    for (const e of ALL)
      expect(kept).toContain(`cache/download/github.com/!burnt!sushi/toml/@v/v1.3.2.${e}`);
    expect(kept).toContain('github.com/!burnt!sushi/toml@v1.3.2');
    expect(kept).toContain('cache/download/github.com/!burnt!sushi/toml/@v/list');
    expect(kept).toContain(
      'cache/download/sumdb/sum.golang.org/lookup/github.com/!burnt!sushi/toml@v1.3.2',
    );
    expect(kept).toContain('cache/lock');
  });
  it('keeps the downloads of a /go.mod-only version, not its extracted tree', () => {
    const p = 'cache/download/gopkg.in/check.v1/@v/v0.0.0-20161208181325-20d25e280405';
    for (const e of ALL) expect(kept).toContain(`${p}.${e}`);
    expect(removed).toContain('gopkg.in/check.v1@v0.0.0-20161208181325-20d25e280405');
  });
  it('removes other versions, unrelated modules, vcs, partial downloads and strays', () => {
    expect(removed).toContain('cache/vcs');
    expect(removed).toContain('github.com/!burnt!sushi/toml@v1.2.0');
    expect(removed).toContain('cache/download/github.com/!burnt!sushi/toml/@v/v1.2.0.zip');
    expect(removed).toContain('github.com/unrelated/x@v0.1.0');
    expect(removed).toContain('cache/download/github.com/unrelated/x/@v/list');
    expect(removed).toContain('cache/download/github.com/unrelated/x/@v/v0.2.0.partial');
    expect(removed).toContain('golang.org/x/tools@v0.1.0.tmp-12345');
    expect(removed).toContain('stray.txt');
  });
  it('keeps a toolchain module named in the keep set', () => {
    expect(kept).toContain('golang.org/toolchain@v0.0.1-go1.26.8.linux-amd64');
  });
  it('partitions the items and adds up the bytes', () => {
    expect(plan.keep.length + plan.remove.length).toBe(items.length);
    expect(plan.keptBytes + plan.removedBytes).toBe(items.reduce((n, i) => n + i.bytes, 0));
  });
  it('reports modules kept, removed and missing, unescaped', () => {
    expect(plan.keptModules).toEqual([
      'github.com/BurntSushi/toml@v1.3.2',
      'golang.org/toolchain@v0.0.1-go1.26.8.linux-amd64',
      'gopkg.in/check.v1@v0.0.0-20161208181325-20d25e280405',
    ]);
    expect(plan.removedModules).toEqual([
      'github.com/BurntSushi/toml@v1.2.0',
      'github.com/unrelated/x@v0.1.0',
      'golang.org/x/tools@v0.1.0.tmp-12345',
    ]);
    expect(plan.missingModules).toEqual(['golang.org/x/sync@v0.24.0']);
  });
  it('bounds the checksum database: lookups of kept modules, then higher and newer tiles', () => {
    const small = planTrim(items, keep, { sumdbMaxBytes: 200 + 8192 + 8192 });
    const k = new Set(small.keep.map((i) => i.rel));
    expect(k).toContain(
      'cache/download/sumdb/sum.golang.org/lookup/github.com/!burnt!sushi/toml@v1.3.2',
    );
    expect(k).toContain('cache/download/sumdb/sum.golang.org/tile/8/2/001');
    expect(k).toContain('cache/download/sumdb/sum.golang.org/tile/8/0/x001/235');
    expect(k).not.toContain('cache/download/sumdb/sum.golang.org/tile/8/0/x001/234');
    expect(k).not.toContain(
      'cache/download/sumdb/sum.golang.org/lookup/github.com/unrelated/x@v0.1.0',
    );
    const none = planTrim(items, keep, { sumdbMaxBytes: 0 });
    expect(none.keep.some((i) => i.rel.includes('/sumdb/'))).toBe(false);
  });
  it('a plain Set keeps each version whole', () => {
    const p = planTrim(items, new Set(['gopkg.in/check.v1@v0.0.0-20161208181325-20d25e280405']));
    expect(p.keep.map((i) => i.rel)).toContain(
      'gopkg.in/check.v1@v0.0.0-20161208181325-20d25e280405',
    );
  });
  it('an empty keep set keeps only the lock and the bounded sumdb', () => {
    const p = planTrim(items, new Set(), { sumdbMaxBytes: 0 });
    expect(p.keep.map((i) => i.rel)).toEqual(['cache/lock']);
  });
});

describe('moduleSetHashOfItems', () => {
  it('depends on downloaded module files only, not order, trees, sumdb, lists or locks', () => {
    const a = [
      ...versionItems('a.com/m', 'v1.0.0', ALL, true),
      file('cache/download/sumdb/x/lookup/a.com/m@v1.0.0'),
    ];
    const b = [...versionItems('a.com/m', 'v1.0.0', ['mod', 'info', 'zip'], true)].reverse();
    expect(moduleSetHashOfItems(a)).toBe(moduleSetHashOfItems(b));
    // Trees are not archived: a job that extracted one has the set it restored.
    expect(moduleSetHashOfItems(a)).toBe(
      moduleSetHashOfItems(versionItems('a.com/m', 'v1.0.0', ALL, false)),
    );
    expect(moduleSetHashOfItems(a)).not.toBe(
      moduleSetHashOfItems(versionItems('a.com/m', 'v1.0.0', ['mod', 'info'], false)),
    );
  });
});

describe('trimToKeepSet on disk', () => {
  let root: string;
  let mc: string;
  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'trim-'));
    mc = path.join(root, 'mod');
    const v = (m: string, ver: string) => ({
      [`cache/download/${m}/@v/list`]: `${ver}\n`,
      [`cache/download/${m}/@v/${ver}.mod`]: 'module x\n',
      [`cache/download/${m}/@v/${ver}.info`]: '{}',
      [`cache/download/${m}/@v/${ver}.zip`]: 'z'.repeat(1000),
      [`cache/download/${m}/@v/${ver}.ziphash`]: 'h1:x',
      [`cache/download/${m}/@v/${ver}.lock`]: '',
      [`${m}@${ver}/go.mod`]: 'module x\n',
      [`${m}@${ver}/sub/a.go`]: 'package sub\n'.repeat(20),
    });
    await writeTree(mc, {
      ...v('github.com/!burnt!sushi/toml', 'v1.3.2'),
      ...v('example.com/gone', 'v1.0.0'),
      ...v('example.com/modonly', 'v2.0.0'),
      'cache/lock': '',
      'cache/vcs/0123abcd/HEAD': 'ref: refs/heads/main\n',
      'cache/vcs/0123abcd.lock': '',
      'cache/download/sumdb/sum.golang.org/lookup/example.com/gone@v1.0.0': 'x',
    });
    // Go's read-only module trees (as without -modcacherw).
    for (const m of [
      'github.com/!burnt!sushi/toml@v1.3.2',
      'example.com/gone@v1.0.0',
      'example.com/modonly@v2.0.0',
    ]) {
      await fs.chmod(path.join(mc, m, 'sub', 'a.go'), 0o444);
      await fs.chmod(path.join(mc, m, 'sub'), 0o555);
      await fs.chmod(path.join(mc, m), 0o555);
    }
  });
  afterEach(async () => {
    await makeWritable(root);
    await fs.rm(root, { recursive: true, force: true });
  });

  it('removes what is not kept, read-only trees included, and prunes empty dirs', async () => {
    const keep: KeepSet = new Map([
      ['github.com/BurntSushi/toml@v1.3.2', 'full'],
      ['example.com/modonly@v2.0.0', 'mod'],
    ]);
    const before = await scanModCache(mc);
    const dry = await trimToKeepSet(mc, keep, { dryRun: true });
    expect(dry.removedPaths).toBe(0);
    expect(await scanModCache(mc)).toEqual(before);

    const r = await trimToKeepSet(mc, keep);
    expect(r.errors).toEqual([]);
    expect(r.keptModules).toBe(2);
    expect(r.removedModules).toBe(1);
    // gone: 5 download files, list, tree; modonly: its tree; cache/vcs whole.
    expect(r.removedPaths).toBe(9);
    expect(r.removedBytes).toBe(dry.removedBytes);
    const after = (await scanModCache(mc)).map((i) => i.rel);
    expect(after).toEqual([
      'cache/download/example.com/modonly/@v/list',
      'cache/download/example.com/modonly/@v/v2.0.0.info',
      'cache/download/example.com/modonly/@v/v2.0.0.lock',
      'cache/download/example.com/modonly/@v/v2.0.0.mod',
      'cache/download/example.com/modonly/@v/v2.0.0.zip',
      'cache/download/example.com/modonly/@v/v2.0.0.ziphash',
      'cache/download/github.com/!burnt!sushi/toml/@v/list',
      'cache/download/github.com/!burnt!sushi/toml/@v/v1.3.2.info',
      'cache/download/github.com/!burnt!sushi/toml/@v/v1.3.2.lock',
      'cache/download/github.com/!burnt!sushi/toml/@v/v1.3.2.mod',
      'cache/download/github.com/!burnt!sushi/toml/@v/v1.3.2.zip',
      'cache/download/github.com/!burnt!sushi/toml/@v/v1.3.2.ziphash',
      // Within the sumdb budget: lookups are kept even for versions not kept (they are tiny).
      'cache/download/sumdb/sum.golang.org/lookup/example.com/gone@v1.0.0',
      'cache/lock',
      'github.com/!burnt!sushi/toml@v1.3.2',
    ]);
    // Empty directories went too.
    await expect(fs.stat(path.join(mc, 'example.com', 'gone@v1.0.0'))).rejects.toThrow();
    await expect(
      fs.stat(path.join(mc, 'cache', 'download', 'example.com', 'gone')),
    ).rejects.toThrow();
    await expect(fs.stat(path.join(mc, 'cache', 'vcs'))).rejects.toThrow();
    await expect(fs.stat(path.join(mc, 'cache', 'download', 'sumdb'))).resolves.toBeDefined();
    // What was left unchanged hashes the same as a fresh scan (what restore records).
    expect(r.keptSetHash).toBe(await moduleSetHash(mc));
    const again = await trimToKeepSet(mc, keep);
    expect(again.removedPaths).toBe(0);
    expect(again.keptSetHash).toBe(r.keptSetHash);
  });

  it('trims from go.sum files (save.ts)', async () => {
    const sum = path.join(root, 'go.sum');
    await fs.writeFile(
      sum,
      'github.com/BurntSushi/toml v1.3.2 h1:x=\ngithub.com/BurntSushi/toml v1.3.2/go.mod h1:y=\n',
    );
    const r = await trimModCache(mc, [sum], { extraModules: ['example.com/gone@v1.0.0'] });
    expect(r.keptModules).toBe(2);
    expect(r.removedModules).toBe(1);
    expect(moduleSetHashOf(r)).toBe(await moduleSetHash(mc));
    await expect(trimModCache(mc, [path.join(root, 'missing.sum')])).rejects.toThrow();
  });

  it('treats a missing GOMODCACHE as empty', async () => {
    const r = await trimToKeepSet(path.join(root, 'nope'), new Set(['a.com/m@v1.0.0']));
    expect(r).toMatchObject({
      keptModules: 0,
      removedModules: 0,
      removedPaths: 0,
      missingModules: 1,
    });
  });
});

describe('makeWritable', () => {
  it('adds u+w to directories (chmod -R u+w)', async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'rw-'));
    try {
      await writeTree(root, { 'a/b/c.txt': 'x' });
      await fs.chmod(path.join(root, 'a', 'b'), 0o555);
      await fs.chmod(path.join(root, 'a'), 0o555);
      expect(await makeWritable(root)).toBe(2);
      expect((await fs.stat(path.join(root, 'a', 'b'))).mode & 0o777).toBe(0o755);
      expect(await makeWritable(root)).toBe(0);
      expect(await makeWritable(path.join(root, 'missing'))).toBe(0);
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });
});
