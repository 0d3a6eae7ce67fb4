import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  absorbModuleTier,
  archivedFiles,
  decideModuleSave,
  describeModuleFiles,
  stageModuleFiles,
  type ModFile,
} from '../../src/modcache/tiers.js';
import type { ModCacheItem } from '../../src/modcache/trim.js';
import { writeTree } from './tree.js';

const zip = (mod: string, ver: string, bytes: number): ModFile[] => [
  { rel: `cache/download/${mod}/@v/${ver}.zip`, bytes },
  { rel: `cache/download/${mod}/@v/${ver}.mod`, bytes: 100 },
  { rel: `cache/download/${mod}/@v/${ver}.info`, bytes: 50 },
  { rel: `cache/download/${mod}/@v/${ver}.ziphash`, bytes: 47 },
];
const mods = (n: number, ver = 'v1.0.0', bytes = 10_000) =>
  Array.from({ length: n }, (_, i) => zip(`example.com/m${i}`, ver, bytes)).flat();

describe('archivedFiles', () => {
  it('keeps the files under cache/download, not trees, locks or vcs', () => {
    const items: ModCacheItem[] = [
      { rel: 'cache/download/a.com/m/@v/v1.0.0.zip', dir: false, bytes: 5, files: 1, mtimeMs: 0 },
      {
        rel: 'cache/download/sumdb/s/lookup/a.com/m@v1.0.0',
        dir: false,
        bytes: 3,
        files: 1,
        mtimeMs: 0,
      },
      { rel: 'a.com/m@v1.0.0', dir: true, bytes: 50, files: 4, mtimeMs: 0 },
      { rel: 'cache/lock', dir: false, bytes: 0, files: 1, mtimeMs: 0 },
      { rel: 'cache/vcs', dir: true, bytes: 9, files: 2, mtimeMs: 0 },
    ];
    expect(archivedFiles(items)).toEqual([
      { rel: 'cache/download/a.com/m/@v/v1.0.0.zip', bytes: 5 },
      { rel: 'cache/download/sumdb/s/lookup/a.com/m@v1.0.0', bytes: 3 },
    ]);
  });
});

describe('decideModuleSave', () => {
  const base = { key: 'p-mod-linux-x64-base-aa-1-1', files: mods(20) };

  it('saves a base when nothing was restored', () => {
    const d = decideModuleSave({
      restored: { base: null, delta: null },
      kept: mods(3),
      pullRequest: false,
    });
    expect(d.kind).toBe('base');
  });

  it('uploads only the module versions the base lacks', () => {
    const bumped = zip('example.com/new', 'v0.1.0', 10_000);
    const d = decideModuleSave({
      restored: { base, delta: null },
      kept: [...mods(20), ...bumped],
      pullRequest: false,
    });
    expect(d.kind).toBe('delta');
    expect(d.kind === 'delta' && d.entries).toEqual(bumped);
  });

  it('carries the restored delta forward: a chain is base + one delta', () => {
    const first = zip('example.com/new', 'v0.1.0', 10_000);
    const second = zip('example.com/newer', 'v0.2.0', 10_000);
    const d = decideModuleSave({
      restored: { base, delta: { key: 'p-mod-linux-x64-delta-aa-1-1-bb', files: first } },
      kept: [...mods(20), ...first, ...second],
      pullRequest: false,
    });
    expect(d.kind === 'delta' && d.entries.map((f) => f.rel).sort()).toEqual(
      [...first, ...second].map((f) => f.rel).sort(),
    );
  });

  it('saves nothing when the restored delta already holds what is new', () => {
    const first = zip('example.com/new', 'v0.1.0', 10_000);
    const d = decideModuleSave({
      restored: { base, delta: { key: 'd', files: first } },
      kept: [...mods(20), ...first],
      pullRequest: false,
    });
    expect(d.kind).toBe('none');
  });

  it('writes a new base when the delta outgrows 40% of the base', () => {
    const many = mods(9, 'v2.0.0'); // 9 new versions against 20 in the base
    const d = decideModuleSave({
      restored: { base, delta: null },
      kept: [...mods(20), ...many],
      pullRequest: false,
    });
    expect(d.kind).toBe('base');
    expect(d.kind === 'base' && d.entries).toHaveLength(29 * 4);
  });

  it('writes a new base when go.sum no longer names most of the base', () => {
    const d = decideModuleSave({
      restored: { base, delta: null },
      kept: mods(8),
      pullRequest: false,
    });
    expect(d).toMatchObject({ kind: 'base', reason: expect.stringMatching(/no longer used/) });
  });

  it('a pull request adds a delta and never replaces the base', () => {
    const d = decideModuleSave({
      restored: { base, delta: null },
      kept: [...mods(20), ...mods(15, 'v3.0.0')],
      pullRequest: true,
    });
    expect(d.kind).toBe('delta');
  });
});

describe('stageModuleFiles and absorbModuleTier', () => {
  let root: string;
  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'modtier-'));
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('round-trips the delta files into another module cache, replacing what is there', async () => {
    const src = path.join(root, 'src');
    const dst = path.join(root, 'dst');
    const tier = path.join(root, 'tier');
    const files: Record<string, string> = {
      'cache/download/a.com/m/@v/v1.1.0.zip': 'zip bytes',
      'cache/download/a.com/m/@v/v1.1.0.mod': 'module a.com/m\n',
      'cache/download/a.com/m/@v/list': 'v1.0.0\nv1.1.0\n',
    };
    await writeTree(src, files);
    await writeTree(dst, {
      'cache/download/a.com/m/@v/list': 'v1.0.0\n',
      'cache/download/a.com/m/@v/v1.0.0.zip': 'old zip',
    });

    const want = Object.entries(files).map(([rel, text]) => ({ rel, bytes: text.length }));
    expect(
      await stageModuleFiles(src, tier, [...want, { rel: 'cache/download/gone.zip', bytes: 1 }]),
    ).toBe(3);
    // Staging links, it does not move: the job's own cache is untouched.
    expect(await fs.readFile(path.join(src, 'cache/download/a.com/m/@v/v1.1.0.zip'), 'utf8')).toBe(
      'zip bytes',
    );

    const moved = await absorbModuleTier(tier, dst);
    expect(moved).toEqual([...want].sort((a, b) => (a.rel < b.rel ? -1 : 1)));
    for (const [rel, text] of Object.entries(files))
      expect(await fs.readFile(path.join(dst, rel), 'utf8')).toBe(text);
    expect(await fs.readFile(path.join(dst, 'cache/download/a.com/m/@v/v1.0.0.zip'), 'utf8')).toBe(
      'old zip',
    );
  });

  it('absorbs nothing from an empty or missing tier', async () => {
    expect(await absorbModuleTier(path.join(root, 'none'), path.join(root, 'dst'))).toEqual([]);
  });
});

describe('describeModuleFiles', () => {
  it('names each module version once, sorted, and counts the rest', () => {
    const files = [...zip('b.com/x', 'v1.0.0', 1), ...zip('a.com/y', 'v2.0.0', 1)];
    expect(describeModuleFiles(files)).toBe('a.com/y@v2.0.0, b.com/x@v1.0.0');
    expect(describeModuleFiles(files, 1)).toBe('a.com/y@v2.0.0, and 1 more');
    expect(describeModuleFiles([])).toBe('no module versions');
  });
});
