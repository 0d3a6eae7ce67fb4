import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clearModCache, prepareModCacheDir } from '../../src/modcache/restore.js';
import { makeWritable } from '../../src/modcache/trim.js';

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

describe('clearModCache', () => {
  it('removes a read-only module tree', async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'clear-'));
    const mod = path.join(root, 'example.com', 'm@v1.0.0');
    await fs.mkdir(mod, { recursive: true });
    await fs.writeFile(path.join(mod, 'a.go'), 'package m');
    await fs.chmod(path.join(mod, 'a.go'), 0o444);
    await fs.chmod(mod, 0o555);
    await clearModCache(root);
    await expect(fs.stat(root)).rejects.toThrow(/ENOENT/);
  });
});
