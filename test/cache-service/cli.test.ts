// The CLI: prints the client env on stdout, serves, and exits 0 on SIGTERM.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');

it('prints KEY=value env lines, writes --env-out, answers, and stops cleanly on SIGTERM', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'go-cache-cli-'));
  const envOut = path.join(dir, 'cache.env');
  const child = spawn(
    process.execPath,
    [
      path.join(repo, 'node_modules/tsx/dist/cli.mjs'),
      path.join(here, 'cli.ts'),
      '--dir',
      path.join(dir, 'store'),
      '--env-out',
      envOut,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  try {
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no env lines; stderr: ${stderr}`)), 20_000);
      child.stdout.on('data', (c: Buffer) => {
        stdout += c.toString();
        if (stdout.split('\n').length > 4) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}; stderr: ${stderr}`)));
    });
    const env = Object.fromEntries(
      stdout
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect(Object.keys(env).sort()).toEqual([
      'ACTIONS_CACHE_SERVICE_V2',
      'ACTIONS_CACHE_URL',
      'ACTIONS_RESULTS_URL',
      'ACTIONS_RUNTIME_TOKEN',
    ]);
    expect(env.ACTIONS_RESULTS_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(fs.readFileSync(envOut, 'utf8')).toBe(stdout);
    const health = await fetch(`${env.ACTIONS_RESULTS_URL}health`);
    expect(health.status).toBe(200);
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => resolve(code)),
    );
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toContain('SIGTERM: stopping');
    expect(fs.existsSync(path.join(dir, 'store', 'blobs'))).toBe(true);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 30_000);
