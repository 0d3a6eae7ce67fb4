import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { prepareModCacheDir, restoreModCache, type CacheApi } from '../../src/modcache/restore.js';
import { saveModCache } from '../../src/modcache/save.js';
import { makeWritable } from '../../src/modcache/trim.js';

function fakeCache(over: Partial<CacheApi>): CacheApi {
  return {
    restoreCache: async () => undefined,
    saveCache: async () => -1,
    ...over,
  };
}

describe('prepareModCacheDir', () => {
  let root: string;
  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'prep-'));
  });
  afterEach(async () => {
    await makeWritable(root);
    await fs.rm(root, { recursive: true, force: true });
  });

  it('does nothing for a missing or empty GOMODCACHE', async () => {
    expect(await prepareModCacheDir(path.join(root, 'missing'))).toEqual({
      existed: false,
      madeWritable: 0,
    });
    await fs.mkdir(path.join(root, 'empty'));
    expect(await prepareModCacheDir(path.join(root, 'empty'))).toEqual({
      existed: false,
      madeWritable: 0,
    });
  });
  it('makes a read-only module tree writable so tar can write over it', async () => {
    const m = path.join(root, 'mod', 'a.com', 'm@v1.0.0');
    await fs.mkdir(path.join(m, 'sub'), { recursive: true });
    await fs.writeFile(path.join(m, 'sub', 'x.go'), 'package sub\n');
    await fs.chmod(path.join(m, 'sub'), 0o555);
    await fs.chmod(m, 0o555);
    const r = await prepareModCacheDir(path.join(root, 'mod'));
    expect(r.existed).toBe(true);
    expect(r.madeWritable).toBe(2);
    expect(r.note).toMatch(/writable/);
    expect((await fs.stat(m)).mode & 0o200).toBe(0o200);
    expect((await fs.stat(path.join(m, 'sub'))).mode & 0o200).toBe(0o200);
  });
});

describe('restoreModCache', () => {
  it('reports an exact hit, a partial hit and a miss', async () => {
    const args = { paths: ['/nonexistent/mod'], primaryKey: 'k-1', restoreKeys: ['k-'] };
    const exact = await restoreModCache({
      ...args,
      cache: fakeCache({ restoreCache: async () => 'k-1' }),
    });
    expect(exact).toMatchObject({ matchedKey: 'k-1', exact: true });
    expect(exact.error).toBeUndefined();
    const partial = await restoreModCache({
      ...args,
      cache: fakeCache({ restoreCache: async () => 'k-0' }),
    });
    expect(partial).toMatchObject({ matchedKey: 'k-0', exact: false });
    const miss = await restoreModCache({ ...args, cache: fakeCache({}) });
    expect(miss).toMatchObject({ matchedKey: null, exact: false });
  });
  it('passes paths and keys through', async () => {
    const seen: unknown[] = [];
    await restoreModCache({
      paths: ['/x/mod'],
      primaryKey: 'p',
      restoreKeys: ['r1', 'r2'],
      cache: fakeCache({
        restoreCache: async (...a) => {
          seen.push(a);
          return undefined;
        },
      }),
    });
    expect(seen).toEqual([[['/x/mod'], 'p', ['r1', 'r2']]]);
  });
  it('never throws: a fault is a miss with an error', async () => {
    const r = await restoreModCache({
      paths: ['/nonexistent/mod'],
      primaryKey: 'k',
      cache: fakeCache({
        restoreCache: async () => {
          throw new Error('Key Validation Error: k cannot contain commas.');
        },
      }),
    });
    expect(r).toMatchObject({
      matchedKey: null,
      exact: false,
      error: expect.stringMatching(/commas/),
    });
  });
});

describe('saveModCache', () => {
  it('reports saved, not saved, and errors without throwing', async () => {
    expect(
      await saveModCache({
        paths: ['/x'],
        key: 'k',
        cache: fakeCache({ saveCache: async () => 42 }),
      }),
    ).toMatchObject({ saved: true, cacheId: 42 });
    const no = await saveModCache({
      paths: ['/x'],
      key: 'k',
      cache: fakeCache({ saveCache: async () => -1 }),
    });
    expect(no).toMatchObject({ saved: false, cacheId: null });
    expect(no.error).toBeUndefined();
    const bad = await saveModCache({
      paths: ['/x'],
      key: 'k',
      cache: fakeCache({
        saveCache: async () => {
          throw new Error('Path Validation Error: none of the paths exist');
        },
      }),
    });
    expect(bad).toMatchObject({ saved: false, error: expect.stringMatching(/Path Validation/) });
  });
});
