// Which Go the job has and how it is configured: `go env -json`, read once by the main step.
// The decisions (version parsing, GOFLAGS merging, Windows drive relocation) are pure functions; only
// readGoEnv runs a process.
import { execFile } from 'node:child_process';
import * as path from 'node:path';

export interface GoEnv {
  /** Go's version without the `go` prefix or suffixes: `1.26.8`, `1.20`, `1.24rc1`, `1.27-devel`. */
  version: string;
  /** GOVERSION as Go prints it: `go1.26.8`, `go1.22.0 X:boringcrypto`, `devel go1.27-abc… …`. */
  goversion: string;
  goos: string;
  goarch: string;
  gomodcache: string;
  gocache: string;
  goflags: string;
  gopath: string;
  /** '' before Go 1.21. */
  gotoolchain: string;
  goproxy: string;
  /** '' outside a workspace (and before Go 1.18). */
  gowork: string;
  goroot: string;
  /** Every variable `go env -json` printed. */
  raw: Record<string, string>;
}

export interface GoVersion {
  major: number;
  minor: number;
  /** 0 when the version has none (go1.20, go1.24rc1). */
  patch: number;
  /** `rc1`, `beta2`, or '' for a release. */
  prerelease: string;
  /** A development build (`devel go1.27-…`). */
  devel: boolean;
}

export class GoNotFoundError extends Error {
  constructor(detail?: string) {
    super(
      'go-cache needs Go, and no `go` was found on PATH' +
        (detail ? ` (${detail})` : '') +
        '. Add `actions/setup-go` before this step, with `cache: false` so that setup-go does not ' +
        'also cache the module and build caches:\n' +
        '  - uses: actions/setup-go@v6\n' +
        '    with: { go-version-file: go.mod, cache: false }',
    );
    this.name = 'GoNotFoundError';
  }
}

const VERSION_RE = /go(\d+)\.(\d+)(?:\.(\d+))?((?:rc|beta|alpha)\d+)?/;

/**
 * Parses a GOVERSION value (`go1.26.8`, `go1.24rc1`, `go1.22.0 X:boringcrypto`,
 * `devel go1.27-e2f5a8b Tue Jan 6 …`) or a bare version (`1.26.8`). Null when it names no version.
 */
export function parseGoVersion(goVersionField: string): GoVersion | null {
  const s = goVersionField.trim();
  const devel = /^devel\b/.test(s) || /^go\d+\.\d+-devel/.test(s) || /^\d+\.\d+-devel/.test(s);
  const m = VERSION_RE.exec(/^\d/.test(s) ? `go${s}` : s);
  if (!m) return null;
  return {
    major: Number(m[1]),
    minor: Number(m[2]),
    patch: m[3] !== undefined ? Number(m[3]) : 0,
    prerelease: m[4] ?? '',
    devel,
  };
}

/**
 * The version as go-cache shows it and puts in keys: no `go` prefix, no experiment suffix, no spaces
 * or commas. `go1.26.8` → `1.26.8`, `go1.20` → `1.20`, `go1.24rc1` → `1.24rc1`,
 * `go1.22.0 X:boringcrypto` → `1.22.0`, `devel go1.27-abc…` → `1.27-devel`.
 */
export function normalizeGoVersion(goVersionField: string): string | null {
  const v = parseGoVersion(goVersionField);
  if (!v) return null;
  if (v.devel) return `${v.major}.${v.minor}-devel`;
  const m = VERSION_RE.exec(goVersionField.trim().replace(/^(\d)/, 'go$1'));
  // Keep the patch as written: go1.20 and go1.20.0 are different strings in Go's own world.
  return m ? `${m[1]}.${m[2]}${m[3] !== undefined ? `.${m[3]}` : ''}${m[4] ?? ''}` : null;
}

/** Compares two versions by major, minor, patch; a prerelease sorts before its release. */
export function compareGoVersions(a: GoVersion, b: GoVersion): number {
  if (a.major !== b.major) return a.major - b.major;
  if (a.minor !== b.minor) return a.minor - b.minor;
  if (a.patch !== b.patch) return a.patch - b.patch;
  if (a.prerelease === b.prerelease) return 0;
  if (a.prerelease === '') return 1;
  if (b.prerelease === '') return -1;
  return a.prerelease < b.prerelease ? -1 : 1;
}

/** GOCACHEPROG is there from Go 1.24 on (its release candidates and development builds too). */
export function supportsCacheProg(version: string): boolean {
  const v = parseGoVersion(version);
  if (!v) return false;
  return v.major > 1 || (v.major === 1 && v.minor >= 24);
}

/** `go version go1.19.8 linux/amd64` → `go1.19.8`; `go version devel go1.27-abc … linux/amd64` too. */
export function goVersionFromVersionOutput(out: string): string | null {
  const m = /^go version (devel \S+|go\S+)/m.exec(out.trim());
  return m ? m[1]! : null;
}

/**
 * Builds a GoEnv from `go env -json` output. `versionOutput` (what `go version` printed) is used
 * only when the JSON has no GOVERSION (Go 1.15 and older).
 */
export function parseGoEnvJson(json: string, versionOutput?: string): GoEnv {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    throw new Error(`could not read \`go env -json\` output: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error('`go env -json` did not print a JSON object');
  }
  const raw: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    raw[k] = typeof v === 'string' ? v : String(v);
  }
  const goversion =
    raw.GOVERSION || (versionOutput ? goVersionFromVersionOutput(versionOutput) : null) || '';
  const version = normalizeGoVersion(goversion);
  if (!version) {
    throw new Error(
      `could not tell the Go version (GOVERSION=${JSON.stringify(raw.GOVERSION ?? '')}` +
        (versionOutput !== undefined
          ? `, go version: ${JSON.stringify(versionOutput.trim())}`
          : '') +
        ')',
    );
  }
  const gopath = raw.GOPATH ?? '';
  // GOMODCACHE is in `go env` from Go 1.15; before that it is always GOPATH[0]/pkg/mod.
  const firstGopath = gopath.split(raw.GOOS === 'windows' ? ';' : ':')[0] ?? '';
  const join = raw.GOOS === 'windows' ? path.win32.join : path.posix.join;
  return {
    version,
    goversion,
    goos: raw.GOOS ?? '',
    goarch: raw.GOARCH ?? '',
    gomodcache: raw.GOMODCACHE || (firstGopath ? join(firstGopath, 'pkg', 'mod') : ''),
    gocache: raw.GOCACHE ?? '',
    goflags: raw.GOFLAGS ?? '',
    gopath,
    gotoolchain: raw.GOTOOLCHAIN ?? '',
    goproxy: raw.GOPROXY ?? '',
    gowork: raw.GOWORK ?? '',
    goroot: raw.GOROOT ?? '',
    raw,
  };
}

export interface ReadGoEnvOptions {
  /** The go binary (default `go`, found on PATH). */
  go?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Go may download a toolchain first (GOTOOLCHAIN): allow for it. Default 5 minutes. */
  timeoutMs?: number;
}

/** Runs `go env -json` quietly (nothing on the step's log) and returns the parsed environment. */
export async function readGoEnv(opts: ReadGoEnvOptions = {}): Promise<GoEnv> {
  const go = opts.go ?? 'go';
  const json = await runGo(go, ['env', '-json'], opts);
  let versionOutput: string | undefined;
  if (!/"GOVERSION"\s*:\s*"[^"]/.test(json)) {
    versionOutput = await runGo(go, ['version'], opts).catch(() => undefined);
  }
  return parseGoEnvJson(json, versionOutput);
}

function runGo(go: string, args: string[], opts: ReadGoEnvOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      go,
      args,
      {
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        timeout: opts.timeoutMs ?? 300_000,
        maxBuffer: 16 * 1024 * 1024,
        windowsHide: true,
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') {
          return reject(new GoNotFoundError(go === 'go' ? undefined : `${go} does not exist`));
        }
        const detail = (stderr || err.message).trim().split('\n').slice(-5).join('\n');
        reject(new Error(`\`${go} ${args.join(' ')}\` failed: ${detail}`));
      },
    );
  });
}

/** GOFLAGS items are whitespace-separated `-flag` or `-flag=value` words (strings.Fields in Go). */
function flagName(item: string): string {
  const bare = item.replace(/^--?/, '');
  const eq = bare.indexOf('=');
  return eq === -1 ? bare : bare.slice(0, eq);
}

/**
 * Appends `add` to the user's GOFLAGS. The user's items stay first and unchanged; an item of ours is
 * skipped when a flag of the same name is already there (the user's value wins: `-modcacherw=false`
 * stays false) or was already added.
 */
export function mergeGoFlags(existing: string, add: string[]): string {
  const items = existing.split(/\s+/).filter(Boolean);
  const names = new Set(items.map(flagName));
  for (const raw of add) {
    for (const item of raw.split(/\s+/).filter(Boolean)) {
      const name = flagName(item);
      if (names.has(name)) continue;
      names.add(name);
      items.push(item);
    }
  }
  return items.join(' ');
}

/**
 * The module that holds a toolchain Go switched to (GOTOOLCHAIN), when the running go is one:
 * `golang.org/toolchain@v0.0.1-go1.26.8.linux-amd64`. Null for a go installed outside GOMODCACHE.
 */
export function toolchainModule(env: Pick<GoEnv, 'goroot' | 'gomodcache' | 'goos'>): string | null {
  if (!env.goroot || !env.gomodcache) return null;
  const p = env.goos === 'windows' ? path.win32 : path.posix;
  const parts = p.relative(env.gomodcache, env.goroot).split(p.sep);
  if (parts[0] !== 'golang.org' || !parts[1]?.startsWith('toolchain@v')) return null;
  return `${parts[0]}/${parts[1]}`;
}

export interface WindowsRelocationInput {
  platform: string;
  /** RUNNER_TEMP: its drive is the runner's work drive (D: on GitHub-hosted Windows runners). */
  runnerTemp?: string;
  /** GITHUB_WORKSPACE: the work drive when RUNNER_TEMP is not set. */
  workspace?: string;
  gomodcache: string;
  gocache: string;
  /** GOMODCACHE / GOCACHE as the user set them in the environment: a choice of theirs is kept. */
  goEnvFromUserEnv: { GOMODCACHE?: string; GOCACHE?: string };
  /** Where the moved caches go (default `<RUNNER_TEMP>\go-cache-env`). */
  baseDir?: string;
}

export interface WindowsRelocation {
  /** The variables to export; empty when nothing moves. */
  env: { GOMODCACHE?: string; GOCACHE?: string };
  reason: string;
}

function driveOf(p: string): string | null {
  const m = /^([A-Za-z]):/.exec(p);
  return m ? m[1]!.toUpperCase() : null;
}

/**
 * On Windows runners the default GOMODCACHE and GOCACHE are on C:, which is much slower than the work
 * drive (setup-go#495: a restore to C: took 12 minutes, the same to D: 30 seconds). When a cache is on
 * C: and the work drive is not, point it at the work drive. Paths the user set are never moved.
 */
export function relocateForWindows(o: WindowsRelocationInput): WindowsRelocation {
  if (o.platform !== 'win32') return { env: {}, reason: 'not Windows' };
  const work = o.runnerTemp || o.workspace || '';
  const workDrive = driveOf(work);
  if (!workDrive) return { env: {}, reason: 'the work drive is unknown' };
  if (workDrive === 'C') return { env: {}, reason: 'the work drive is C:' };
  const base = o.baseDir ?? path.win32.join(work, 'go-cache-env');
  const env: WindowsRelocation['env'] = {};
  const moved: string[] = [];
  const candidates = [
    ['GOMODCACHE', o.gomodcache, 'gomodcache'],
    ['GOCACHE', o.gocache, 'gocache'],
  ] as const;
  for (const [name, current, dir] of candidates) {
    if (o.goEnvFromUserEnv[name]) continue;
    if (driveOf(current) !== 'C') continue;
    env[name] = path.win32.join(base, dir);
    moved.push(`${name} ${current} → ${env[name]}`);
  }
  return moved.length
    ? { env, reason: `C: is slow on Windows runners; moved to ${workDrive}: ${moved.join('; ')}` }
    : { env, reason: 'nothing on C: to move, or set by the user' };
}
