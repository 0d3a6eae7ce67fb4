// The replayed project: successive releases of restic (github.com/restic/restic) stand for successive
// commits of one repository. Fetched once through the Go module proxy into a seed directory (the
// project's source, and every module its builds and tests need); the benchmark's jobs then take
// modules from a local GOPROXY that serves that seed, so a run talks only to 127.0.0.1.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const MODULE = 'github.com/restic/restic';

/**
 * Every release the Go module proxy serves between v0.16.0 and v0.18.1 (v0.16.1, v0.17.1 and
 * v0.17.2 are not served here), with the module's h1 checksum: the source fetch skips the checksum
 * database, so the sum is checked against this list instead.
 */
export const VERSIONS: ReadonlyArray<{ version: string; sum: string }> = [
  { version: 'v0.16.0', sum: 'h1:yst34Q2qHm8N+uEK4DFT1A0Do8n8ZQoUhRKQuJkeCPI=' },
  { version: 'v0.16.2', sum: 'h1:lKhji1o/KWDm/9Xvmriq53ZLLHOmPe3QP6nenynVqjY=' },
  { version: 'v0.16.3', sum: 'h1:Mjt54VjTD6vgdj3qfutwCLAYF1tZedP6H6fC//3pA3M=' },
  { version: 'v0.16.4', sum: 'h1:gvsowIM7EsW8a0w8MHPiagrwqkejBTxtgzGi07Lh4pY=' },
  { version: 'v0.16.5', sum: 'h1:He7+WvsWUJJBRtcIJj8QsM1RP84CFOexXR5v+UB0nrA=' },
  { version: 'v0.17.0', sum: 'h1:YrITQZ4vBnlbR/PvkZpDDJyvLJhqxDfb0VRz+P275uE=' },
  { version: 'v0.17.3', sum: 'h1:HALyLpq9AzTLUTG8aVQvMO8Xivm6l74j6DiNRgGwTNw=' },
  { version: 'v0.18.0', sum: 'h1:2xSVnbNWYeeZ00AufTLCiw7edzCZS2LE6oDEMlLTr2I=' },
  { version: 'v0.18.1', sum: 'h1:XmTfPA6+cUP2hPKXjUhHTj0GNfoWM1G1uhf+Ssg/j1M=' },
];

/**
 * The `go test` subset: packages with tests in every version above that pass as root on 2 cores in
 * a few seconds (internal/archiver is left out: its unreadable-directory tests fail as root).
 */
export const TEST_PACKAGES = [
  './internal/crypto',
  './internal/restic',
  './internal/filter',
  './internal/walker',
  './internal/checker',
  './internal/dump',
  './internal/backend/local',
  './internal/repository',
  './internal/bloblru',
  './internal/errors',
  './internal/ui/...',
];

export interface Seed {
  /** GOMODCACHE of the seed; its cache/download is what the local GOPROXY serves. */
  modcache: string;
  /** A git repository with one commit per version, tagged with the version. */
  origin: string;
}

const GIT_ID = ['-c', 'user.email=ci@example.com', '-c', 'user.name=ci'];

function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): string {
  return execFileSync(cmd, args, {
    cwd,
    env,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * Makes (or reuses) the seed under `dir`: downloads each version's source and the modules its
 * packages and tests need, and commits the versions into an origin repository. Uses the real module
 * proxy ($GOPROXY or proxy.golang.org); done once, a stamp file marks it complete.
 */
export function prepareSeed(
  dir: string,
  goBin: string,
  log: (s: string) => void,
  versions = VERSIONS,
): Seed {
  const modcache = path.join(dir, 'mod');
  const origin = path.join(dir, 'origin');
  const stamp = path.join(dir, 'seed-complete.json');
  const want = JSON.stringify(versions.map((v) => v.version));
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === want) return { modcache, origin };

  log(`preparing the seed in ${dir} (once; downloads about 5 GB of modules through the Go proxy)`);
  fs.rmSync(origin, { recursive: true, force: true });
  fs.mkdirSync(origin, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${goBin}:${process.env.PATH ?? ''}`,
    GOMODCACHE: modcache,
    GOCACHE: path.join(dir, 'gocache'),
    GOFLAGS: '-modcacherw',
    GOTOOLCHAIN: 'local',
    GOPROXY: process.env.GOPROXY || 'https://proxy.golang.org,direct',
  };
  sh('git', ['init', '-q', '-b', 'main'], origin, env);
  versions.forEach(({ version, sum }, i) => {
    log(`  ${MODULE}@${version}`);
    // The checksum database is skipped for the project itself (the proxy here does not serve its
    // lookups); the h1 sum is checked against VERSIONS instead.
    const info = JSON.parse(
      sh('go', ['mod', 'download', '-json', `${MODULE}@${version}`], dir, {
        ...env,
        GOSUMDB: 'off',
      }),
    ) as { Dir?: string; Sum?: string; Error?: string };
    if (info.Error || !info.Dir) throw new Error(`go mod download ${version}: ${info.Error}`);
    if (info.Sum !== sum) throw new Error(`${MODULE}@${version}: sum ${info.Sum}, expected ${sum}`);
    for (const e of fs.readdirSync(origin)) {
      if (e !== '.git') fs.rmSync(path.join(origin, e), { recursive: true, force: true });
    }
    fs.cpSync(info.Dir, origin, { recursive: true });
    sh('chmod', ['-R', 'u+w', '.'], origin, env);
    // What the builds, vet and the tests load: go.sum pins it, so the checksum database is not asked.
    sh('go', ['mod', 'download'], origin, env);
    sh('go', ['list', '-deps', '-test', './...'], origin, env);
    sh('go', ['list', '-m', 'all'], origin, env);
    const date = new Date(Date.UTC(2024, 0, 1 + i)).toISOString();
    const genv = { ...env, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date };
    sh('git', [...GIT_ID, 'add', '-A'], origin, genv);
    sh('git', [...GIT_ID, 'commit', '-qm', `restic ${version}`], origin, genv);
    sh('git', [...GIT_ID, 'tag', version], origin, genv);
  });
  fs.writeFileSync(stamp, want);
  return { modcache, origin };
}

/** Module counts of one version: go.mod requirements and the whole module graph. */
export function dependencyCounts(
  origin: string,
  version: string,
  goEnv: NodeJS.ProcessEnv,
): { required: number; graph: number } {
  const gomod = sh('git', ['show', `${version}:go.mod`], origin, goEnv);
  const required = gomod.split('\n').filter((l) => /^\s+\S+ v\S+/.test(l)).length;
  const tmp = fs.mkdtempSync(path.join(path.dirname(origin), 'count-'));
  try {
    sh(
      'git',
      ['clone', '-q', '--depth', '1', '--branch', version, `file://${origin}`, tmp],
      tmp,
      goEnv,
    );
    const graph = sh('go', ['list', '-m', 'all'], tmp, goEnv).trim().split('\n').length - 1;
    return { required, graph };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
