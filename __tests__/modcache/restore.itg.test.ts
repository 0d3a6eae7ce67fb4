// `tar: …: Cannot open: File exists`: restoring over Go's read-only module trees, as a user who is not
// root (root ignores permissions). Runs where it can switch to `nobody`: root with runuser and tar.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareModCacheDir } from '../../src/modcache/restore.js';
import { makeWritable } from '../../src/modcache/trim.js';

const canSwitch =
  process.platform === 'linux' &&
  process.getuid?.() === 0 &&
  spawnSync('runuser', ['-u', 'nobody', '--', 'tar', '--version']).status === 0;

function asNobody(args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync('runuser', ['-u', 'nobody', '--', ...args], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

describe.skipIf(!canSwitch)('restoring over an existing read-only module cache', () => {
  let root: string;
  let mc: string;
  let archive: string;

  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'restore-itg-'));
    await fs.chmod(root, 0o755);
    mc = path.join(root, 'mod');
    archive = path.join(root, 'cache.tar');
    const tree = path.join(mc, 'golang.org', 'x', 'sync@v0.24.0');
    await fs.mkdir(path.join(tree, 'errgroup'), { recursive: true });
    await fs.writeFile(path.join(tree, 'errgroup', 'errgroup.go'), 'package errgroup\n');
    await fs.mkdir(path.join(mc, 'cache', 'download', 'golang.org', 'x', 'sync', '@v'), {
      recursive: true,
    });
    await fs.writeFile(
      path.join(mc, 'cache', 'download', 'golang.org', 'x', 'sync', '@v', 'v0.24.0.zip'),
      'z',
    );
    // As Go leaves it: files and directories of module trees read-only.
    await fs.chmod(path.join(tree, 'errgroup', 'errgroup.go'), 0o444);
    await fs.chmod(path.join(tree, 'errgroup'), 0o555);
    await fs.chmod(tree, 0o555);
    execFileSync('chown', ['-R', 'nobody', root]);
    // The archive a cache restore would extract: the same tree (read-only modes included).
    const r = asNobody(['tar', '-cf', archive, '-C', mc, '.']);
    expect(r.status, r.stderr).toBe(0);
  });

  afterAll(async () => {
    if (!root) return;
    await makeWritable(root);
    await fs.rm(root, { recursive: true, force: true });
  });

  it('fails without preparation, succeeds after prepareModCacheDir', async () => {
    const first = asNobody(['tar', '-xf', archive, '-C', mc]);
    expect(first.status).not.toBe(0);
    expect(first.stderr).toMatch(/Cannot open: File exists/);

    const prepared = await prepareModCacheDir(mc);
    expect(prepared.existed).toBe(true);
    expect(prepared.madeWritable).toBeGreaterThan(0);

    const second = asNobody(['tar', '-xf', archive, '-C', mc]);
    expect(second.status, second.stderr).toBe(0);
    expect(
      await fs.readFile(
        path.join(mc, 'golang.org', 'x', 'sync@v0.24.0', 'errgroup', 'errgroup.go'),
        'utf8',
      ),
    ).toBe('package errgroup\n');
  });
});
