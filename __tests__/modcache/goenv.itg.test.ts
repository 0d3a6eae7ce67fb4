// readGoEnv against the real go commands on this machine: Go 1.26 (/usr/local/go or PATH) and, when
// installed, Debian's Go 1.19 (apt-get install golang-1.19-go).
import { existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GoNotFoundError, readGoEnv, supportsCacheProg } from '../../src/go.js';

const GO = existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : null;
const GO119 = existsSync('/usr/lib/go-1.19/bin/go') ? '/usr/lib/go-1.19/bin/go' : null;

const env = (goBin: string) => ({
  ...process.env,
  PATH: `${path.dirname(goBin)}${path.delimiter}${process.env.PATH ?? ''}`,
  GOTOOLCHAIN: 'local',
  GOFLAGS: '-modcacherw -tags=x',
});

describe.skipIf(!GO)('readGoEnv with Go 1.26', () => {
  it('reads the version and the paths', async () => {
    const g = await readGoEnv({ env: env(GO!), cwd: os.tmpdir() });
    expect(g.version).toMatch(/^1\.(2[6-9]|[3-9]\d)(\.\d+)?/);
    expect(g.goversion).toBe(`go${g.version}`);
    expect(supportsCacheProg(g.version)).toBe(true);
    expect(g.goos).toBe(process.platform === 'win32' ? 'windows' : process.platform);
    expect(g.goarch).toMatch(/^(amd64|arm64)$/);
    expect(path.isAbsolute(g.gomodcache)).toBe(true);
    expect(path.isAbsolute(g.gocache)).toBe(true);
    expect(g.goflags).toBe('-modcacherw -tags=x');
    expect(g.gotoolchain).toBe('local');
    expect(g.goroot).toBe('/usr/local/go');
    expect(g.raw.GOVERSION).toBe(g.goversion);
  });
  it('takes an explicit binary', async () => {
    const g = await readGoEnv({ go: GO!, env: { ...process.env, GOTOOLCHAIN: 'local' } });
    expect(g.goroot).toBe('/usr/local/go');
  });
  it('reports a failing go command', async () => {
    await expect(
      readGoEnv({ go: GO!, env: { ...process.env, GOTOOLCHAIN: 'bogus' } }),
    ).rejects.toThrow(/go env -json` failed/);
  });
  it('throws GoNotFoundError when PATH has no go', async () => {
    await expect(readGoEnv({ env: { PATH: '/nonexistent' } })).rejects.toBeInstanceOf(
      GoNotFoundError,
    );
  });
});

describe.skipIf(!GO119)('readGoEnv with Go 1.19', () => {
  it('reads an old Go (no GOTOOLCHAIN, no GOCACHEPROG)', async () => {
    const g = await readGoEnv({ go: GO119!, env: env(GO119!), cwd: os.tmpdir() });
    expect(g.version).toMatch(/^1\.19(\.\d+)?$/);
    expect(supportsCacheProg(g.version)).toBe(false);
    expect(g.gotoolchain).toBe('');
    expect(g.raw.GOTOOLCHAIN).toBeUndefined();
    expect(g.gomodcache).not.toBe('');
    expect(g.goroot).toBe('/usr/lib/go-1.19');
  });
});
