import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type GoVersion,
  compareGoVersions,
  goVersionFromVersionOutput,
  GoNotFoundError,
  mergeGoFlags,
  normalizeGoVersion,
  parseGoEnvJson,
  parseGoVersion,
  readGoEnv,
  relocateForWindows,
  supportsCacheProg,
  toolchainModule,
} from '../src/go.js';

describe('parseGoVersion / normalizeGoVersion', () => {
  const cases: Array<[string, string, Partial<GoVersion>]> = [
    ['go1.26.8', '1.26.8', { major: 1, minor: 26, patch: 8, prerelease: '', devel: false }],
    ['go1.20', '1.20', { major: 1, minor: 20, patch: 0 }],
    ['go1.21.0', '1.21.0', { minor: 21, patch: 0 }],
    ['go1.24rc1', '1.24rc1', { minor: 24, patch: 0, prerelease: 'rc1' }],
    ['go1.21beta2', '1.21beta2', { prerelease: 'beta2' }],
    ['go1.22.0 X:boringcrypto', '1.22.0', { minor: 22, patch: 0, devel: false }],
    ['go1.25.1 X:nocoverageredesign,greenteagc', '1.25.1', { minor: 25, patch: 1 }],
    [
      'devel go1.27-e2f5a8b Tue Jan 6 10:00:00 2026 +0000',
      '1.27-devel',
      { major: 1, minor: 27, devel: true },
    ],
    ['1.26.8', '1.26.8', { minor: 26, patch: 8 }],
    ['  go1.19.8\n', '1.19.8', { minor: 19, patch: 8 }],
  ];
  for (const [input, normalized, parts] of cases) {
    it(`${JSON.stringify(input)} → ${normalized}`, () => {
      expect(normalizeGoVersion(input)).toBe(normalized);
      expect(parseGoVersion(input)).toMatchObject(parts);
    });
  }
  it('names no version', () => {
    for (const s of ['', 'devel', 'gccgo', 'go', 'version 1']) {
      expect(parseGoVersion(s)).toBeNull();
      expect(normalizeGoVersion(s)).toBeNull();
    }
  });
  it('normalized versions are key-safe', () => {
    for (const [input] of cases) expect(normalizeGoVersion(input)).toMatch(/^[0-9a-z.-]+$/);
  });
  it('orders prereleases before releases', () => {
    const v = (s: string) => parseGoVersion(s)!;
    expect(compareGoVersions(v('go1.24rc1'), v('go1.24.0'))).toBeLessThan(0);
    expect(compareGoVersions(v('go1.24rc1'), v('go1.24rc2'))).toBeLessThan(0);
    expect(compareGoVersions(v('go1.23.9'), v('go1.24rc1'))).toBeLessThan(0);
    expect(compareGoVersions(v('go1.24'), v('go1.24.0'))).toBe(0);
    expect(compareGoVersions(v('go1.26.10'), v('go1.26.9'))).toBeGreaterThan(0);
  });
});

describe('supportsCacheProg', () => {
  it('is Go 1.24 and newer', () => {
    expect(supportsCacheProg('1.24.0')).toBe(true);
    expect(supportsCacheProg('1.24rc1')).toBe(true);
    expect(supportsCacheProg('1.26.8')).toBe(true);
    expect(supportsCacheProg('1.27-devel')).toBe(true);
    expect(supportsCacheProg('go1.24.3')).toBe(true);
    expect(supportsCacheProg('2.0.0')).toBe(true);
    expect(supportsCacheProg('1.23.12')).toBe(false);
    expect(supportsCacheProg('1.19.8')).toBe(false);
    expect(supportsCacheProg('1.3')).toBe(false);
    expect(supportsCacheProg('')).toBe(false);
  });
});

describe('goVersionFromVersionOutput', () => {
  it('reads `go version`', () => {
    expect(goVersionFromVersionOutput('go version go1.19.8 linux/amd64\n')).toBe('go1.19.8');
    expect(goVersionFromVersionOutput('go version go1.22.0 X:boringcrypto linux/amd64')).toBe(
      'go1.22.0',
    );
    expect(goVersionFromVersionOutput('go version devel go1.27-abc123 Tue … linux/amd64')).toBe(
      'devel go1.27-abc123',
    );
    expect(goVersionFromVersionOutput('hello')).toBeNull();
  });
});

describe('parseGoEnvJson', () => {
  const base = {
    GOOS: 'linux',
    GOARCH: 'amd64',
    GOMODCACHE: '/home/u/go/pkg/mod',
    GOCACHE: '/home/u/.cache/go-build',
    GOFLAGS: '-buildvcs=false',
    GOPATH: '/home/u/go',
    GOTOOLCHAIN: 'auto',
    GOPROXY: 'https://proxy.golang.org,direct',
    GOWORK: '',
    GOROOT: '/usr/local/go',
  };
  it('reads Go 1.26', () => {
    const env = parseGoEnvJson(JSON.stringify({ ...base, GOVERSION: 'go1.26.8' }));
    expect(env).toMatchObject({
      version: '1.26.8',
      goversion: 'go1.26.8',
      goos: 'linux',
      goarch: 'amd64',
      gomodcache: '/home/u/go/pkg/mod',
      gocache: '/home/u/.cache/go-build',
      goflags: '-buildvcs=false',
      gopath: '/home/u/go',
      gotoolchain: 'auto',
      goproxy: 'https://proxy.golang.org,direct',
      gowork: '',
      goroot: '/usr/local/go',
    });
    expect(env.raw.GOVERSION).toBe('go1.26.8');
  });
  it('falls back to `go version` and GOPATH for old Go', () => {
    const { GOMODCACHE: _m, GOTOOLCHAIN: _t, GOWORK: _w, ...old } = base;
    const env = parseGoEnvJson(JSON.stringify(old), 'go version go1.14.15 linux/amd64\n');
    expect(env.version).toBe('1.14.15');
    expect(env.gomodcache).toBe('/home/u/go/pkg/mod');
    expect(env.gotoolchain).toBe('');
    expect(env.gowork).toBe('');
  });
  it('takes the first GOPATH entry on Windows', () => {
    const env = parseGoEnvJson(
      JSON.stringify({
        GOOS: 'windows',
        GOARCH: 'amd64',
        GOVERSION: 'go1.15.1',
        GOPATH: 'C:\\Users\\u\\go;D:\\other',
      }),
    );
    expect(env.gomodcache).toBe('C:\\Users\\u\\go\\pkg\\mod');
  });
  it('says what is wrong', () => {
    expect(() => parseGoEnvJson('not json')).toThrow(/go env -json/);
    expect(() => parseGoEnvJson('[]')).toThrow(/JSON object/);
    expect(() => parseGoEnvJson(JSON.stringify(base))).toThrow(/Go version/);
  });
});

describe('readGoEnv without Go', () => {
  it('throws GoNotFoundError with the setup-go hint', async () => {
    const err = await readGoEnv({ env: { PATH: '/nonexistent' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GoNotFoundError);
    expect((err as Error).message).toMatch(/actions\/setup-go/);
    expect((err as Error).message).toMatch(/cache: false/);
  });
  it('names a missing explicit binary', async () => {
    const err = await readGoEnv({ go: '/nonexistent/go' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GoNotFoundError);
    expect((err as Error).message).toMatch(/\/nonexistent\/go/);
  });
});

describe('mergeGoFlags', () => {
  it('appends to empty', () => {
    expect(mergeGoFlags('', ['-modcacherw'])).toBe('-modcacherw');
    expect(mergeGoFlags('  ', [])).toBe('');
  });
  it("keeps the user's flags first and unchanged", () => {
    expect(mergeGoFlags('-mod=mod  -tags=a,b', ['-modcacherw'])).toBe(
      '-mod=mod -tags=a,b -modcacherw',
    );
  });
  it('does not add a flag twice', () => {
    expect(mergeGoFlags('-modcacherw', ['-modcacherw'])).toBe('-modcacherw');
    expect(mergeGoFlags('-modcacherw=true', ['-modcacherw'])).toBe('-modcacherw=true');
    expect(mergeGoFlags('--modcacherw', ['-modcacherw'])).toBe('--modcacherw');
    expect(mergeGoFlags('', ['-modcacherw', '-modcacherw'])).toBe('-modcacherw');
    expect(mergeGoFlags('', ['-modcacherw -trimpath', '-trimpath'])).toBe('-modcacherw -trimpath');
  });
  it("lets the user's value win", () => {
    expect(mergeGoFlags('-modcacherw=false', ['-modcacherw'])).toBe('-modcacherw=false');
    expect(mergeGoFlags('-mod=vendor', ['-mod=mod'])).toBe('-mod=vendor');
  });
  it("keeps the user's own duplicates (Go's business)", () => {
    expect(mergeGoFlags('-tags=a -tags=b', ['-modcacherw'])).toBe('-tags=a -tags=b -modcacherw');
  });
  it('normalises whitespace', () => {
    expect(mergeGoFlags('\t-race\n -v ', ['-modcacherw'])).toBe('-race -v -modcacherw');
  });
});

describe('toolchainModule', () => {
  it('names the toolchain module Go switched to', () => {
    expect(
      toolchainModule({
        goos: 'linux',
        gomodcache: '/home/u/go/pkg/mod',
        goroot: '/home/u/go/pkg/mod/golang.org/toolchain@v0.0.1-go1.26.8.linux-amd64',
      }),
    ).toBe('golang.org/toolchain@v0.0.1-go1.26.8.linux-amd64');
    expect(
      toolchainModule({
        goos: 'windows',
        gomodcache: 'D:\\go\\pkg\\mod',
        goroot: 'D:\\go\\pkg\\mod\\golang.org\\toolchain@v0.0.1-go1.25.0.windows-amd64',
      }),
    ).toBe('golang.org/toolchain@v0.0.1-go1.25.0.windows-amd64');
  });
  it('is null for an installed Go', () => {
    expect(
      toolchainModule({ goos: 'linux', gomodcache: '/home/u/go/pkg/mod', goroot: '/usr/local/go' }),
    ).toBeNull();
    expect(toolchainModule({ goos: 'linux', gomodcache: '', goroot: '/usr/local/go' })).toBeNull();
  });
});

describe('relocateForWindows', () => {
  const hosted = {
    platform: 'win32',
    runnerTemp: 'D:\\a\\_temp',
    workspace: 'D:\\a\\repo\\repo',
    gomodcache: 'C:\\Users\\runneradmin\\go\\pkg\\mod',
    gocache: 'C:\\Users\\runneradmin\\AppData\\Local\\go-build',
    goEnvFromUserEnv: {},
  };
  it('moves both caches from C: to the work drive on a hosted runner', () => {
    const r = relocateForWindows(hosted);
    expect(r.env).toEqual({
      GOMODCACHE: path.win32.join('D:\\a\\_temp', 'go-cache-env', 'gomodcache'),
      GOCACHE: path.win32.join('D:\\a\\_temp', 'go-cache-env', 'gocache'),
    });
    expect(path.win32.parse(r.env.GOMODCACHE!).root).toBe('D:\\');
    expect(r.reason).toMatch(/C: is slow/);
  });
  it('takes the workspace drive when RUNNER_TEMP is unset', () => {
    const r = relocateForWindows({ ...hosted, runnerTemp: '', workspace: 'e:\\w\\repo' });
    expect(r.env.GOMODCACHE).toBe('e:\\w\\repo\\go-cache-env\\gomodcache');
  });
  it('honours a base dir', () => {
    const r = relocateForWindows({ ...hosted, baseDir: 'D:\\gocache' });
    expect(r.env.GOCACHE).toBe('D:\\gocache\\gocache');
  });
  it('keeps what the user set', () => {
    const r = relocateForWindows({
      ...hosted,
      goEnvFromUserEnv: { GOMODCACHE: 'C:\\mine' },
    });
    expect(r.env.GOMODCACHE).toBeUndefined();
    expect(r.env.GOCACHE).toBeDefined();
  });
  it('does nothing when the work drive is C: or unknown, off Windows, or off C:', () => {
    expect(relocateForWindows({ ...hosted, runnerTemp: 'C:\\actions\\_temp' }).env).toEqual({});
    expect(relocateForWindows({ ...hosted, runnerTemp: 'c:\\t' }).env).toEqual({});
    expect(
      relocateForWindows({ ...hosted, runnerTemp: '\\\\server\\share\\t', workspace: '' }).env,
    ).toEqual({});
    expect(relocateForWindows({ ...hosted, platform: 'linux' }).env).toEqual({});
    expect(
      relocateForWindows({ ...hosted, gomodcache: 'D:\\go\\mod', gocache: 'E:\\gocache' }).env,
    ).toEqual({});
  });
});
