// CI replay: successive releases of a real Go project, each built, vetted and tested in a fresh
// job through the runner harness against the local Actions cache service, once per caching
// strategy (interleaved per run so machine noise spreads evenly). See bench/README.md, "CI replay".
//
//   npx tsx bench/ci-replay/run.ts [--runs N] [--strategies a,b,c] [--work DIR] [--out DIR]
//                                  [--verbose] [--report-only]
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import {
  startCacheService,
  type CacheEntryInfo,
  type CacheService,
} from '../../test/cache-service/server.js';
import { compileLines } from '../../test/e2e/world.js';
import { Job, type StepResult } from '../../test/harness/runner.js';
import { startGoProxy, type GoProxy } from './goproxy.js';
import { dependencyCounts, MODULE, prepareSeed, TEST_PACKAGES, VERSIONS } from './project.js';
import {
  DEFAULT_STRATEGIES,
  STRATEGY_NAMES,
  type BenchResult,
  type JobRecord,
  type StrategyName,
} from './record.js';
import { writeReport } from './report.js';

const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');
const HERE = import.meta.dirname;

interface Strategy {
  /** The cache step: an action directory and its inputs; none for 'none'. */
  step?: { dir: string; inputs: Record<string, string> };
  /** Which of the service's keys belong to this strategy. */
  owns: (key: string) => boolean;
}

function strategies(actionDir: string): Record<StrategyName, Strategy> {
  return {
    none: { owns: () => false },
    'setup-go': {
      step: { dir: path.join(HERE, 'actions', 'setup-go-cache'), inputs: {} },
      owns: (k) => k.startsWith('setup-go-'),
    },
    recipe: {
      step: { dir: path.join(HERE, 'actions', 'cache-recipe'), inputs: {} },
      owns: (k) => /^[A-Za-z]+-go-/.test(k) && !k.startsWith('setup-go-'),
    },
    'go-cache': {
      step: { dir: actionDir, inputs: { 'key-prefix': 'replay-helper' } },
      owns: (k) => k.startsWith('replay-helper-'),
    },
    'go-cache-native': {
      step: { dir: actionDir, inputs: { 'key-prefix': 'replay-native', mode: 'native' } },
      owns: (k) => k.startsWith('replay-native-'),
    },
    // test-mtimes off: the before of the feature's before/after (the test step of go-cache is the after).
    'go-cache-nomtimes': {
      step: {
        dir: actionDir,
        inputs: { 'key-prefix': 'replay-nomtimes', 'test-mtimes': 'false' },
      },
      owns: (k) => k.startsWith('replay-nomtimes-'),
    },
    // Keeps only what the job itself used: what the tiers would hold if earlier runs were more than
    // the default retention (2d) ago, which the benchmark's minutes-apart runs never are.
    'go-cache-r0': {
      step: { dir: actionDir, inputs: { 'key-prefix': 'replay-r0', retention: '0h' } },
      owns: (k) => k.startsWith('replay-r0-'),
    },
  };
}

// ---------------------------------------------------------------------------------------------------

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string' },
    strategies: { type: 'string' },
    work: { type: 'string' },
    out: { type: 'string' },
    'go-bin': { type: 'string' },
    verbose: { type: 'boolean', default: false },
    'report-only': { type: 'boolean', default: false },
  },
});

const outDir = path.resolve(args.out ?? path.join(REPO_ROOT, 'bench', 'results'));
const jsonFile = path.join(outDir, 'ci-replay.json');
const log = (s: string) =>
  console.log(`[ci-replay ${new Date().toISOString().slice(11, 19)}] ${s}`);

if (args['report-only']) {
  const result = JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as BenchResult;
  writeReport(result, outDir);
  log(`report rewritten from ${jsonFile}`);
  process.exit(0);
}

const runs = Number(args.runs ?? VERSIONS.length);
if (!Number.isInteger(runs) || runs < 1 || runs > VERSIONS.length) {
  throw new Error(`--runs must be 1..${VERSIONS.length} (one run per version)`);
}
const chosen = (args.strategies ?? DEFAULT_STRATEGIES.join(','))
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean) as StrategyName[];
for (const s of chosen) {
  if (!STRATEGY_NAMES.includes(s)) {
    throw new Error(`unknown strategy '${s}'; known: ${STRATEGY_NAMES.join(', ')}`);
  }
}
const work = path.resolve(args.work ?? path.join(os.tmpdir(), 'go-cache-ci-replay'));
const goBin = args['go-bin'] ?? '/usr/local/go/bin';
const command = [
  'npx tsx bench/ci-replay/run.ts',
  `--runs ${runs}`,
  `--strategies ${chosen.join(',')}`,
  ...(args.out ? [`--out ${args.out}`] : []),
].join(' ');

// ---------------------------------------------------------------------------------------------------

function sh(cmd: string, argv: string[], o: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  return execFileSync(cmd, argv, { encoding: 'utf8', maxBuffer: 64 << 20, ...o }).trim();
}

function rmTree(dir: string): void {
  try {
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  } catch {
    // a read-only module cache as a non-root user
    execFileSync('chmod', ['-R', 'u+w', dir]);
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

/**
 * A copy of the action as it is now, so a dist/ rebuilt during the benchmark cannot mix versions.
 * The copy's dist/ is named bundle/ (action.yml rewritten to match; the bundles find each other by
 * relative path): test/e2e kills helper daemons with `pkill -f dist/helper/index.js`, which would
 * otherwise kill this benchmark's daemons whenever the e2e suite runs on the same machine.
 */
async function snapshotAction(dest: string): Promise<BenchResult['action']> {
  const bundle = path.join(dest, 'bundle');
  for (let attempt = 0; ; attempt++) {
    try {
      rmTree(dest);
      fs.mkdirSync(dest, { recursive: true });
      const yml = fs.readFileSync(path.join(REPO_ROOT, 'action.yml'), 'utf8');
      const renamed = yml.replace(/^(\s+(?:main|post):\s*['"]?)dist\//gm, '$1bundle/');
      if ((renamed.match(/bundle\//g) ?? []).length !== 2) {
        throw new Error("action.yml: expected main and post under 'dist/'");
      }
      fs.writeFileSync(path.join(dest, 'action.yml'), renamed);
      fs.cpSync(path.join(REPO_ROOT, 'dist'), bundle, { recursive: true });
      for (const f of ['restore/index.js', 'save/index.js', 'helper/index.js', 'shim/index.js']) {
        if (!fs.existsSync(path.join(bundle, f))) throw new Error(`dist/${f} is missing`);
      }
      break;
    } catch (err) {
      if (attempt >= 10) throw err;
      log(`dist/ is not complete (${String(err)}); waiting a minute (it may be being rebuilt)`);
      await new Promise((r) => setTimeout(r, 60_000));
    }
  }
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const e of fs
      .readdirSync(d, { withFileTypes: true })
      .sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else h.update(`dist/${path.relative(bundle, p)}\0`).update(fs.readFileSync(p));
    }
  };
  walk(bundle);
  let gitHead = '';
  let dirtyFiles = -1;
  try {
    gitHead = sh('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT });
    dirtyFiles = sh('git', ['status', '--porcelain', '--', 'src', 'dist', 'action.yml'], {
      cwd: REPO_ROOT,
    })
      .split('\n')
      .filter(Boolean).length;
  } catch {
    // not a git checkout
  }
  return { gitHead, dirtyFiles, distSha256: h.digest('hex') };
}

function machine(): BenchResult['machine'] {
  const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  return {
    nproc: os.availableParallelism(),
    memoryBytes: os.totalmem(),
    cpuModel: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown',
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    go: sh(path.join(goBin, 'go'), ['version']),
    loadAvgStart: os.loadavg(),
    loadAvgEnd: [],
  };
}

/**
 * Bytes of the entries the next job would restore, if its keys stayed the same: the newest entry for
 * setup-go and the recipe; for go-cache, of the build cache and of the module cache each, the newest
 * base and the newest delta made on it. The rest of `stored` is superseded entries that only eviction
 * removes.
 */
export function liveBytes(strategy: StrategyName, mine: CacheEntryInfo[]): number {
  const newest = (es: CacheEntryInfo[]) =>
    es.reduce<CacheEntryInfo | null>((a, e) => (a && a.createdAt >= e.createdAt ? a : e), null);
  if (strategy === 'none') return 0;
  if (strategy === 'setup-go' || strategy === 'recipe') return newest(mine)?.size ?? 0;
  let live = 0;
  for (const family of ['-build-', '-mod-']) {
    const es = mine.filter((e) => e.key.includes(family));
    const base = newest(es.filter((e) => e.key.includes('-base-')));
    const id = base ? base.key.slice(base.key.lastIndexOf('-base-') + '-base-'.length) : null;
    const delta = id ? newest(es.filter((e) => e.key.includes(`-delta-${id}-`))) : null;
    live += (base?.size ?? 0) + (delta?.size ?? 0);
  }
  return live;
}

const count = (text: string, re: RegExp) => text.split('\n').filter((l) => re.test(l)).length;
const readOr = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '');
const secs = (s: StepResult | undefined) => (s && !s.skipped ? s.durationMs / 1000 : 0);

interface Context {
  service: CacheService;
  proxy: GoProxy;
  origin: string;
  runnerRoot: string;
  logDir: string;
  strategies: Record<StrategyName, Strategy>;
}

async function runJob(
  ctx: Context,
  strategy: StrategyName,
  run: number,
  order: number,
): Promise<JobRecord> {
  const { version } = VERSIONS[run - 1]!;
  const strat = ctx.strategies[strategy];
  rmTree(ctx.runnerRoot);
  const sha = sh('git', ['rev-parse', `${version}^{commit}`], { cwd: ctx.origin });
  const logLines: string[] = [];
  const job = new Job({
    root: ctx.runnerRoot,
    jobId: 'build',
    runId: String(7000 + run),
    runNumber: String(run),
    runAttempt: '1',
    ref: 'refs/heads/main',
    sha,
    eventName: 'push',
    repository: 'restic/restic',
    env: {
      ...ctx.service.env,
      PATH: `${goBin}:${process.env.PATH ?? ''}`,
      GOPROXY: ctx.proxy.url,
      GOTOOLCHAIN: 'local',
      GOFLAGS: '',
    },
    log: args.verbose
      ? true
      : (l) => {
          logLines.push(l);
        },
  });
  const temp = job.env['RUNNER_TEMP']!;
  const traffic0 = ctx.service.traffic();
  const proxy0 = ctx.proxy.traffic();
  const loadAvg = os.loadavg()[0]!;
  const startedAt = new Date().toISOString();

  const checkout = await job.run(
    `git -c advice.detachedHead=false clone -q --depth 1 --branch ${version} file://${ctx.origin} .`,
    { name: 'checkout' },
  );
  const cache = strat.step
    ? await job.uses(strat.step.dir, strat.step.inputs, { name: `cache (${strategy})` })
    : undefined;
  const fail = (f: string) => `{ tail -n 40 "$RUNNER_TEMP/${f}" >&2; exit 1; }`;
  const build = await job.run(
    `go build -x ./... 2>"$RUNNER_TEMP/build.err" || ${fail('build.err')}`,
    {
      name: 'go build',
    },
  );
  const vet = await job.run(`go vet -x ./... 2>"$RUNNER_TEMP/vet.err" || ${fail('vet.err')}`, {
    name: 'go vet',
  });
  const test = await job.run(
    `go test -x ${TEST_PACKAGES.join(' ')} 2>"$RUNNER_TEMP/test.err" | tee "$RUNNER_TEMP/test.out" || ${fail('test.err')}`,
    { name: 'go test' },
  );
  const posts = await job.end();

  const traffic1 = ctx.service.traffic();
  const proxy1 = ctx.proxy.traffic();
  const mine = (await ctx.service.entries()).filter((e) => strat.owns(e.key));
  const buildErr = readOr(path.join(temp, 'build.err'));
  const vetErr = readOr(path.join(temp, 'vet.err'));
  const testErr = readOr(path.join(temp, 'test.err'));
  const testOut = readOr(path.join(temp, 'test.out'));
  const downloading = /^go: downloading /;
  const steps = [checkout, cache, build, vet, test, ...posts].filter(
    (s): s is StepResult => s !== undefined,
  );
  const notes: string[] = [];
  for (const s of [cache, ...posts]) {
    if (!s) continue;
    for (const a of s.annotations) {
      if (a.level === 'warning' || a.level === 'error')
        notes.push(`${s.name}: ${a.level}: ${a.message}`);
    }
  }
  for (const s of steps) if (s.heldOpen) notes.push(`${s.name}: held its output pipes open`);
  for (const l of job.leftovers) notes.push(`leftover process killed: ${l.command}`);
  const post = posts[0];
  const outputs = { ...(cache?.outputs ?? {}), ...(post?.outputs ?? {}) };
  const seconds = {
    checkout: secs(checkout),
    restore: secs(cache),
    build: secs(build),
    vet: secs(vet),
    test: secs(test),
    save: posts.reduce((a, p) => a + secs(p), 0),
    total: 0,
  };
  seconds.total = seconds.restore + seconds.build + seconds.vet + seconds.test + seconds.save;
  const rec: JobRecord = {
    run,
    version,
    strategy,
    order,
    startedAt,
    loadAvg,
    ok: steps.every((s) => s.outcome !== 'failure'),
    failedSteps: steps.filter((s) => s.outcome === 'failure').map((s) => s.name),
    seconds,
    bytes: {
      downloaded: traffic1.downloadedBytes - traffic0.downloadedBytes,
      uploaded: traffic1.uploadedBytes - traffic0.uploadedBytes,
      stored: mine.reduce((a, e) => a + e.size, 0),
      entries: mine.length,
      live: liveBytes(strategy, mine),
      saves: (traffic1.requests['finalize'] ?? 0) - (traffic0.requests['finalize'] ?? 0),
    },
    proxy: {
      requests: proxy1.requests - proxy0.requests,
      bytes: proxy1.bytes - proxy0.bytes,
      notFound: proxy1.notFound.slice(proxy0.notFound.length),
    },
    goDownloads:
      count(buildErr, downloading) + count(vetErr, downloading) + count(testErr, downloading),
    compiled: {
      build: compileLines(buildErr).length,
      vet: compileLines(vetErr).length,
      test: compileLines(testErr).length,
    },
    vetRuns: count(vetErr, /[/\\]vet(\.exe)?"?\s/),
    tests: {
      packages: count(testOut, /^(ok|FAIL)\s/),
      cached: count(testOut, /^ok\s.*\(cached\)/),
    },
    hitRate: outputs['hit-rate'] ? Number(outputs['hit-rate']) : null,
    estHitRate: null,
    outputs,
    notes,
  };
  const logBase = path.join(ctx.logDir, `run${String(run).padStart(2, '0')}-${strategy}`);
  const logFile = `${logBase}.log`;
  // The -x output of each go command, for a look at what was compiled and run.
  for (const [name, text] of Object.entries({ build: buildErr, vet: vetErr, test: testErr })) {
    fs.writeFileSync(`${logBase}.${name}-x.txt.gz`, gzipSync(text));
  }
  fs.writeFileSync(
    logFile,
    [
      ...steps.flatMap((s) => [
        `==== ${s.name} (${s.kind}, ${s.outcome}, ${s.durationMs} ms)`,
        s.output,
      ]),
      '==== job summary',
      job.summary(),
      '==== harness',
      ...logLines.filter((l) => l.startsWith('[harness]')),
    ].join('\n'),
  );
  return rec;
}

function fillEstimates(jobs: JobRecord[]): void {
  for (const j of jobs) {
    const cold = jobs.find((k) => k.run === j.run && k.strategy === 'none');
    if (cold && cold.ok && cold.compiled.build > 0) {
      j.estHitRate = Math.max(0, 1 - j.compiled.build / cold.compiled.build);
    }
  }
}

const fmtSize = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;

// ---------------------------------------------------------------------------------------------------

fs.mkdirSync(work, { recursive: true });
fs.mkdirSync(outDir, { recursive: true });
const startedAt = new Date().toISOString();
const mach = machine();
log(
  `work dir ${work}; ${runs} runs × ${chosen.join(', ')}; ${mach.go}; load ${mach.loadAvgStart[0]?.toFixed(2)}`,
);
const seed = prepareSeed(path.join(work, 'seed'), goBin, log);
const action = await snapshotAction(path.join(work, 'action'));
log(
  `action snapshot: HEAD ${action.gitHead.slice(0, 12)}, ${action.dirtyFiles} changed files in src/dist, dist sha256 ${action.distSha256.slice(0, 12)}`,
);
const proxy = await startGoProxy(path.join(seed.modcache, 'cache', 'download'));
const serviceDir = path.join(work, 'service');
rmTree(serviceDir);
const service = await startCacheService({ dir: serviceDir });
const logDir = path.join(work, 'logs');
rmTree(logDir);
fs.mkdirSync(logDir, { recursive: true });

const goEnvForCounts: NodeJS.ProcessEnv = {
  ...process.env,
  PATH: `${goBin}:${process.env.PATH ?? ''}`,
  GOPROXY: proxy.url,
  GOMODCACHE: seed.modcache,
  GOFLAGS: '',
  GOTOOLCHAIN: 'local',
};
const deps: BenchResult['project']['deps'] = {};
for (const v of new Set([VERSIONS[0]!.version, VERSIONS[runs - 1]!.version])) {
  deps[v] = dependencyCounts(seed.origin, v, goEnvForCounts);
  log(
    `${MODULE}@${v}: ${deps[v].required} modules required in go.mod, ${deps[v].graph} in the module graph`,
  );
}

const result: BenchResult = {
  schema: 1,
  startedAt,
  finishedAt: '',
  command,
  project: {
    module: MODULE,
    versions: VERSIONS.slice(0, runs).map((v) => v.version),
    testPackages: TEST_PACKAGES,
    deps,
    goSum: Object.fromEntries(
      VERSIONS.slice(0, runs).map(({ version }) => [
        version,
        createHash('sha256')
          .update(execFileSync('git', ['show', `${version}:go.sum`], { cwd: seed.origin }))
          .digest('hex')
          .slice(0, 12),
      ]),
    ),
  },
  machine: mach,
  action,
  strategies: chosen,
  jobs: [],
};
const ctx: Context = {
  service,
  proxy,
  origin: seed.origin,
  runnerRoot: path.join(work, 'runner'),
  logDir,
  strategies: strategies(path.join(work, 'action')),
};

try {
  for (let run = 1; run <= runs; run++) {
    const order = chosen.map((_, i) => chosen[(i + run - 1) % chosen.length]!);
    for (const [i, strategy] of order.entries()) {
      const rec = await runJob(ctx, strategy, run, i);
      result.jobs.push(rec);
      const s = rec.seconds;
      log(
        `run ${run} ${rec.version} ${strategy.padEnd(15)} ${rec.ok ? 'ok  ' : 'FAIL'} total ${s.total.toFixed(1)}s ` +
          `(restore ${s.restore.toFixed(1)} build ${s.build.toFixed(1)} vet ${s.vet.toFixed(1)} test ${s.test.toFixed(1)} save ${s.save.toFixed(1)}) ` +
          `down ${fmtSize(rec.bytes.downloaded)} up ${fmtSize(rec.bytes.uploaded)} stored ${fmtSize(rec.bytes.stored)} ` +
          `compiled ${rec.compiled.build}/${rec.compiled.vet}/${rec.compiled.test} tests cached ${rec.tests.cached}/${rec.tests.packages} ` +
          `go-downloads ${rec.goDownloads}${rec.hitRate !== null ? ` hit-rate ${rec.hitRate}` : ''} load ${rec.loadAvg.toFixed(1)}` +
          (rec.failedSteps.length ? ` FAILED: ${rec.failedSteps.join(', ')}` : '') +
          (rec.proxy.notFound.length
            ? ` proxy 404: ${rec.proxy.notFound.slice(0, 3).join(' ')}`
            : ''),
      );
      for (const n of rec.notes) log(`    note: ${n}`);
      fillEstimates(result.jobs);
      result.finishedAt = new Date().toISOString();
      fs.writeFileSync(jsonFile, JSON.stringify(result, null, 2) + '\n');
    }
  }
} finally {
  await service.stop();
  await proxy.stop();
}
result.machine.loadAvgEnd = os.loadavg();
result.finishedAt = new Date().toISOString();
fillEstimates(result.jobs);
fs.writeFileSync(jsonFile, JSON.stringify(result, null, 2) + '\n');
writeReport(result, outDir);
log(
  `wrote ${path.relative(REPO_ROOT, outDir)}/ci-replay.{md,json}, ci-replay-time.svg, ci-replay-stored.svg; job logs in ${logDir}`,
);
