import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyContentMtimes, directoryHashes, mtimeFor, parseLsFilesStage } from '../src/mtimes.js';

describe('mtimeFor', () => {
  it('is old enough for the test cache and differs with the content', () => {
    const a = mtimeFor('0123456789abcdef0123456789abcdef01234567');
    const b = mtimeFor('1123456789abcdef0123456789abcdef01234567');
    expect(a).not.toBe(b);
    for (const t of [a, b]) {
      expect(t).toBeGreaterThanOrEqual(946684800);
      expect(t * 1000).toBeLessThan(Date.now() - 86400e3);
    }
  });
});

describe('parseLsFilesStage', () => {
  it('reads files and symlinks, skips submodules and conflict stages', () => {
    const h = 'a'.repeat(40);
    const out =
      [
        `100644 ${h} 0\tgo.mod`,
        `120000 ${h} 0\tlink`,
        `160000 ${h} 0\tsub`,
        `100644 ${h} 2\tconflict.go`,
        `100755 ${h} 0\tdir/with\ttab.sh`,
      ].join('\0') + '\0';
    expect(parseLsFilesStage(out)).toEqual([
      { path: 'go.mod', hash: h, symlink: false },
      { path: 'link', hash: h, symlink: true },
      { path: 'dir/with\ttab.sh', hash: h, symlink: false },
    ]);
  });
});

describe('directoryHashes', () => {
  it('changes a directory’s hash, and its parents’, when a file in it changes', () => {
    const before = directoryHashes([
      { path: 'a/b/x.txt', hash: '1', symlink: false },
      { path: 'a/y.txt', hash: '2', symlink: false },
    ]);
    const after = directoryHashes([
      { path: 'a/b/x.txt', hash: '3', symlink: false },
      { path: 'a/y.txt', hash: '2', symlink: false },
    ]);
    expect([...before.keys()].sort()).toEqual(['.', 'a', 'a/b']);
    for (const d of ['.', 'a', 'a/b']) expect(after.get(d)).not.toBe(before.get(d));
  });
});

describe('applyContentMtimes', () => {
  const git = (cwd: string, ...args: string[]) =>
    execFileSync('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { cwd });

  it('gives two clones of one commit the same mtimes, without touching anything outside', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mtimes-'));
    const src = path.join(root, 'src');
    fs.mkdirSync(path.join(src, 'pkg', 'testdata'), { recursive: true });
    fs.writeFileSync(path.join(src, 'pkg', 'testdata', 'in.txt'), 'hello\n');
    fs.writeFileSync(path.join(src, 'go.mod'), 'module m\n');
    fs.writeFileSync(path.join(root, 'outside.txt'), 'x');
    fs.symlinkSync(path.join(root, 'outside.txt'), path.join(src, 'escape'));
    git(src, 'init', '-q');
    git(src, 'add', '.');
    git(src, 'commit', '-qm', 'c');
    const outsideBefore = fs.statSync(path.join(root, 'outside.txt')).mtimeMs;
    const clones = ['c1', 'c2'].map((c) => {
      git(root, 'clone', '-q', src, c);
      return path.join(root, c);
    });
    for (const c of clones) {
      fs.writeFileSync(path.join(c, 'untracked.txt'), 'u');
      const r = await applyContentMtimes(c);
      expect(r).toMatchObject({ files: 4, contentHashed: 1 });
    }
    for (const rel of [
      'go.mod',
      'pkg/testdata/in.txt',
      'pkg/testdata',
      'pkg',
      '.',
      'untracked.txt',
    ]) {
      const [a, b] = clones.map((c) => fs.statSync(path.join(c, rel)).mtimeMs);
      expect(a, rel).toBe(b);
      expect(a!, rel).toBeLessThan(Date.now() - 86400e3);
    }
    expect(fs.statSync(path.join(root, 'outside.txt')).mtimeMs).toBe(outsideBefore);
  });

  it('gives a same-size edit a different mtime', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mtimes-'));
    fs.writeFileSync(path.join(dir, 'a.txt'), 'aaaa');
    git(dir, 'init', '-q');
    git(dir, 'add', '.');
    git(dir, 'commit', '-qm', 'c');
    await applyContentMtimes(dir);
    const before = fs.statSync(path.join(dir, 'a.txt')).mtimeMs;
    fs.writeFileSync(path.join(dir, 'a.txt'), 'bbbb');
    await applyContentMtimes(dir);
    expect(fs.statSync(path.join(dir, 'a.txt')).mtimeMs).not.toBe(before);
  });

  it('skips a workspace that is not a git checkout', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mtimes-'));
    expect((await applyContentMtimes(dir)).skipped).toMatch(/not a git checkout/);
  });
});
