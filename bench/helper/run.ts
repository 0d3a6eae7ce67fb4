// Helper benchmark (issue 3): one real Go program built with native GOCACHE, with go-cache's
// helper through the daemon, with go-cache's shim alone, and with another GOCACHEPROG helper
// (bradfitz/go-tool-cache's go-cacher, local disk). Cases: warm (all hits, fresh output dir),
// no-op (the same command again), warm `go run` (native caches the linked executable, GOCACHEPROG
// cannot), cold (empty cache, all misses and puts); plus the time each helper takes to handshake.
// Variants run interleaved, their order rotating every round, so machine noise spreads evenly.
// See bench/README.md, "Helper benchmark".
//
//   npx tsx bench/helper/run.ts [--reps N] [--cold-reps N] [--handshake-reps N]
//                               [--variants native,daemon,standalone,go-cacher]
//                               [--cases warm,noop,run,cold] [--work DIR] [--out DIR] [--name NAME]
//                               [--exp NAME=DIR,...] [--trace] [--profile] [--no-diag]
//                               [--no-handshake] [--report-only]
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { report as daemonReport, startDaemon, stopDaemon } from '../../src/helper/control.js';
import type { HelperStats } from '../../src/helper/control.js';
import { writeReport } from './report.js';
import { processAlive } from '../../test/harness/runner.js';
import {
  CASES,
  VARIANTS,
  type BenchResult,
  type CaseName,
  type Diag,
  type Sample,
  type TraceSummary,
  type VariantName,
} from './record.js';

const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');

// The program: restic 0.17.3 (264 modules in its graph, 693 packages in `go list -deps ./...`).
const MODULE = 'github.com/restic/restic';
const VERSION = 'v0.17.3';
const MODULE_SUM = 'h1:HALyLpq9AzTLUTG8aVQvMO8Xivm6l74j6DiNRgGwTNw=';
const BUILD_PKGS = ['./...'];
const RUN_PKG = './cmd/restic';
const RUN_ARGS = ['version'];
const GO_CACHER = 'github.com/bradfitz/go-tool-cache/cmd/go-cacher';
const GO_CACHER_VERSION = 'v0.0.0-20260722201841-0bb331e19f64';

const { values: args } = parseArgs({
  options: {
    reps: { type: 'string' },
    'cold-reps': { type: 'string' },
    'handshake-reps': { type: 'string' },
    variants: { type: 'string' },
    cases: { type: 'string' },
    work: { type: 'string' },
    out: { type: 'string' },
    'go-bin': { type: 'string' },
    profile: { type: 'boolean' },
    exp: { type: 'string' },
    trace: { type: 'boolean' },
    'report-only': { type: 'boolean' },
    name: { type: 'string' },
    'no-diag': { type: 'boolean' },
    'no-handshake': { type: 'boolean' },
    'reuse-warm': { type: 'boolean' },
  },
});

const OUT = path.resolve(args.out ?? path.join(REPO_ROOT, 'bench', 'results'));
const NAME = args.name ?? 'helper';
const JSON_FILE = path.join(OUT, `${NAME}.json`);

if (args['report-only']) {
  const result = JSON.parse(fs.readFileSync(JSON_FILE, 'utf8')) as BenchResult;
  writeReport(result, OUT, NAME);
  console.log(`wrote ${path.join(OUT, `${NAME}.md`)}`);
  process.exit(0);
}

const REPS = Number(args.reps ?? 10);
const COLD_REPS = Number(args['cold-reps'] ?? Math.min(REPS, 5));
const HANDSHAKE_REPS = Number(args['handshake-reps'] ?? 20);
const WORK = path.resolve(args.work ?? path.join(REPO_ROOT, 'bench', 'work'));
const GO_BIN = path.resolve(args['go-bin'] ?? '/usr/local/go/bin');
const GO = path.join(GO_BIN, 'go');
const H = path.join(WORK, 'helper'); // this benchmark's scratch space
const GOMODCACHE = path.join(WORK, 'gomodcache');
const SRC = path.join(WORK, `restic-${VERSION}`);
const GOBIN = path.join(WORK, 'bin');
// The helper bundles as they were when the run started, copied to names that do not match the
// `pkill -f dist/helper/index.js` of test/e2e (which would kill this benchmark's daemons).
const SNAP = path.join(H, 'bundles', 'current');
/** --exp NAME=DIR[,NAME=DIR]: experimental builds (DIR/helper/index.js, DIR/shim/index.js). */
const EXPERIMENTS: Record<string, string> = Object.fromEntries(
  (args.exp ?? '')
    .split(',')
    .filter(Boolean)
    .map((kv) => {
      const [k, d] = kv.split('=');
      return [k, path.resolve(d)];
    }),
);
const ALL_VARIANTS = [
  ...VARIANTS,
  ...Object.keys(EXPERIMENTS).flatMap((e) => [`${e}-daemon`, `${e}-standalone`]),
];
const variants = pick(args.variants, ALL_VARIANTS) as VariantName[];
const TRACE = path.join(GOBIN, 'cacheprog-trace');
const cases = pick(args.cases, CASES) as CaseName[];

function pick(list: string | undefined, all: readonly string[]): string[] {
  if (!list) return [...all];
  const got = list.split(',').map((s) => s.trim());
  for (const g of got) if (!all.includes(g)) throw new Error(`unknown "${g}"; one of ${all}`);
  return got;
}

const log = (m: string): void => console.log(`${new Date().toISOString().slice(11, 19)} ${m}`);

function sh(
  cmd: string,
  argv: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): string {
  return execFileSync(cmd, argv, { encoding: 'utf8', maxBuffer: 1 << 28, ...opts });
}

function rmrf(p: string): void {
  fs.rmSync(p, { recursive: true, force: true });
}

function sha256File(f: string): string {
  return createHash('sha256').update(fs.readFileSync(f)).digest('hex');
}

// ---- environment ----------------------------------------------------------------------------------

/** The environment every timed go command gets: no network, no VCS stamping, the shared modules. */
function goEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('GO') && k !== 'GOROOT') delete env[k];
  return {
    ...env,
    PATH: `${GO_BIN}:${env.PATH}`,
    GOMODCACHE,
    GOFLAGS: '-mod=mod -buildvcs=false',
    GOTOOLCHAIN: 'local',
    GOPROXY: 'off',
    GOSUMDB: 'off',
    GOTELEMETRY: 'off',
    ...extra,
  };
}

function prepare(): { modules: number; packages: number; deps: number } {
  fs.mkdirSync(H, { recursive: true });
  const net = {
    ...goEnv({}),
    GOPROXY: 'https://proxy.golang.org',
    GOSUMDB: 'sum.golang.org',
    GOFLAGS: '-modcacherw',
  };
  if (!fs.existsSync(path.join(SRC, 'go.mod'))) {
    log(`fetching ${MODULE}@${VERSION} from the module proxy`);
    const info = JSON.parse(
      sh(GO, ['mod', 'download', '-json', `${MODULE}@${VERSION}`], { cwd: WORK, env: net }),
    ) as {
      Dir: string;
      Sum: string;
    };
    if (info.Sum !== MODULE_SUM)
      throw new Error(`${MODULE}@${VERSION}: sum ${info.Sum}, expected ${MODULE_SUM}`);
    rmrf(SRC);
    fs.cpSync(info.Dir, SRC, { recursive: true });
    sh('chmod', ['-R', 'u+w', SRC]);
  }
  // Every module the build loads, downloaded once; the timed commands run with GOPROXY=off.
  sh(GO, ['list', '-deps', '-test', ...BUILD_PKGS], {
    cwd: SRC,
    env: { ...net, GOFLAGS: '-mod=mod -modcacherw -buildvcs=false' },
  });
  if (variants.includes('go-cacher') && !fs.existsSync(path.join(GOBIN, 'go-cacher'))) {
    log(`installing ${GO_CACHER}@${GO_CACHER_VERSION}`);
    sh(GO, ['install', `${GO_CACHER}@${GO_CACHER_VERSION}`], { cwd: WORK, env: { ...net, GOBIN } });
  }
  if (args.trace) {
    sh(GO, ['build', '-o', TRACE, '.'], {
      cwd: path.join(import.meta.dirname, 'trace'),
      env: goEnv({ GOCACHE: path.join(H, 'list-cache'), GOFLAGS: '-buildvcs=false' }),
    });
  }
  // Snapshot the bundles so a rebuild of dist/ during the run cannot mix versions.
  snapshot(path.join(REPO_ROOT, 'dist'), SNAP);
  for (const [name, dir] of Object.entries(EXPERIMENTS)) snapshot(dir, bundleDir(name));
  const env = goEnv({ GOCACHE: path.join(H, 'list-cache') });
  const modules = sh(GO, ['list', '-m', 'all'], { cwd: SRC, env }).trim().split('\n').length;
  const packages = sh(GO, ['list', ...BUILD_PKGS], { cwd: SRC, env })
    .trim()
    .split('\n').length;
  const deps = sh(GO, ['list', '-deps', ...BUILD_PKGS], { cwd: SRC, env })
    .trim()
    .split('\n').length;
  return { modules, packages, deps };
}

// ---- variants ----------------------------------------------------------------------------------

interface Instance {
  env: NodeJS.ProcessEnv;
  traceFile?: string;
  daemonPid?: number;
  socket?: string;
  log?: string;
}

const SHIM = (bundles = SNAP): string => path.join(bundles, 'go-cache-shim.js');
const DAEMON = (bundles = SNAP): string => path.join(bundles, 'go-cache-daemon.js');
const bundleDir = (exp: string): string => path.join(H, 'bundles', `exp-${exp}`);

/** Copies <dist>/helper/index.js and <dist>/shim/index.js (self-contained ncc bundles). */
function snapshot(dist: string, to: string): void {
  rmrf(to);
  fs.mkdirSync(to, { recursive: true });
  fs.copyFileSync(path.join(dist, 'helper', 'index.js'), DAEMON(to));
  fs.copyFileSync(path.join(dist, 'shim', 'index.js'), SHIM(to));
  fs.copyFileSync(path.join(dist, 'shim', 'package.json'), path.join(to, 'package.json'));
}

/** daemon / standalone, maybe of an experimental build: which bundle and which mode. */
function goCacheVariant(v: VariantName): { dist: string; mode: 'daemon' | 'standalone' } | null {
  const m = /^(?:(.+)-)?(daemon|standalone)$/.exec(v);
  if (!m) return null;
  const dist = m[1] === undefined ? SNAP : EXPERIMENTS[m[1]] && bundleDir(m[1]);
  if (!dist) throw new Error(`no --exp ${m[1]}=<dir> for variant ${v}`);
  return { dist, mode: m[2] as 'daemon' | 'standalone' };
}

/** Sets up one variant on a cache directory: env for go, and a daemon where there is one. */
async function instance(v: VariantName, dir: string, tag: string): Promise<Instance> {
  const inst = await instanceBare(v, dir, tag);
  // --trace: cacheprog-trace between the go command and the helper (bench/helper/trace)
  if (args.trace && inst.env.GOCACHEPROG) {
    fs.mkdirSync(path.join(H, 'trace'), { recursive: true });
    inst.traceFile = path.join(H, 'trace', `${v}-${tag}.jsonl`);
    rmrf(inst.traceFile);
    inst.env.GOCACHEPROG = `${TRACE} -o ${inst.traceFile} -- ${inst.env.GOCACHEPROG}`;
  }
  return inst;
}

async function instanceBare(v: VariantName, dir: string, tag: string): Promise<Instance> {
  fs.mkdirSync(dir, { recursive: true });
  const aux = path.join(H, 'aux', v); // the GOCACHE go still wants beside GOCACHEPROG (testexpire.txt)
  fs.mkdirSync(aux, { recursive: true });
  const node = process.execPath;
  if (v === 'native') return { env: goEnv({ GOCACHE: dir }) };
  if (v === 'go-cacher') {
    return {
      env: goEnv({
        GOCACHE: aux,
        GOCACHEPROG: `${path.join(GOBIN, 'go-cacher')} --cache-dir ${dir}`,
      }),
    };
  }
  const gc = goCacheVariant(v);
  if (!gc) throw new Error(`unknown variant ${v}`);
  // --profile: CPU profiles of every shim and daemon, in <work>/helper/prof/<variant>-<tag>/
  const profDir = path.join(H, 'prof', `${v}-${tag}`);
  const nodeProf = args.profile ? `${node} --cpu-prof --cpu-prof-dir=${profDir}` : node;
  if (gc.mode === 'standalone') {
    return {
      env: goEnv({ GOCACHE: aux, GOCACHEPROG: `${nodeProf} ${SHIM(gc.dist)} --dir ${dir}` }),
    };
  }
  const sockDir = path.join(H, 'sock');
  fs.mkdirSync(sockDir, { recursive: true, mode: 0o700 });
  const socket = path.join(sockDir, 'helper.sock');
  const logFile = path.join(H, 'logs', `${v}-${tag}.log`);
  rmrf(logFile);
  const prof = args.profile ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profDir}` } : {};
  const { pid } = await startDaemon({
    script: DAEMON(gc.dist),
    dir,
    socket,
    log: logFile,
    env: { ...process.env, ...prof },
  });
  return {
    env: goEnv({
      GOCACHE: aux,
      GOCACHEPROG: `${nodeProf} ${SHIM(gc.dist)} --dir ${dir} --socket ${socket}`,
    }),
    daemonPid: pid,
    socket,
    log: logFile,
  };
}

async function release(inst: Instance): Promise<HelperStats | undefined> {
  if (!inst.socket) return undefined;
  let stats: HelperStats | undefined;
  try {
    stats = (await stopDaemon(inst.socket)).stats;
  } catch (e) {
    log(`stopping the daemon: ${e instanceof Error ? e.message : e}`);
    if (inst.daemonPid && processAlive(inst.daemonPid)) process.kill(inst.daemonPid);
  }
  // wait until the process is gone, so the next daemon can take the socket
  for (let i = 0; i < 200 && inst.daemonPid && processAlive(inst.daemonPid); i++) await sleep(25);
  return stats;
}

/** A daemon that is gone after a command (killed by someone else) makes that sample void. */
class DaemonGone extends Error {}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** utime+stime of a process in seconds (for the daemon, which is not a child of the go command). */
function procCpu(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // CLK_TCK = 100 on Linux
  } catch {
    return 0;
  }
}

// ---- timing ----------------------------------------------------------------------------------

interface Timed {
  wall: number;
  user: number;
  sys: number;
  maxRssKb: number;
  stderr: string;
}

/** Runs a go command under /usr/bin/time (user/sys include the helper processes go starts). */
function timeGo(argv: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<Timed> {
  const tf = path.join(H, 'time.out');
  rmrf(tf);
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('/usr/bin/time', ['-o', tf, '-f', '%U %S %M', GO, ...argv], {
      cwd,
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      if (stderr.length < 1 << 24) stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const wall = (performance.now() - t0) / 1000;
      if (code !== 0) {
        return reject(new Error(`go ${argv.join(' ')} exited ${code}:\n${stderr.slice(-3000)}`));
      }
      const last = fs.readFileSync(tf, 'utf8').trim().split('\n').pop()!.split(' ');
      resolve({
        wall,
        user: Number(last[0]),
        sys: Number(last[1]),
        maxRssKb: Number(last[2]),
        stderr,
      });
    });
  });
}

function commandFor(c: CaseName, out: string): string[] {
  if (c === 'run') return ['run', RUN_PKG, ...RUN_ARGS];
  return ['build', '-o', out + '/', ...BUILD_PKGS];
}

async function measure(
  v: VariantName,
  c: CaseName,
  round: number,
  inst: Instance,
  out: string,
  samples: Sample[],
): Promise<Sample> {
  const cpu0 = procCpu(inst.daemonPid);
  const t = await timeGo(commandFor(c, out), inst.env, SRC);
  if (inst.daemonPid && !processAlive(inst.daemonPid)) {
    throw new DaemonGone(`the daemon (pid ${inst.daemonPid}) died during ${c}`);
  }
  const daemonCpu = inst.daemonPid ? procCpu(inst.daemonPid) - cpu0 : 0;
  let trace: TraceSummary | undefined;
  if (inst.traceFile) {
    const lines = fs.readFileSync(inst.traceFile, 'utf8').trim().split('\n');
    trace = JSON.parse(lines[lines.length - 1]) as TraceSummary;
  }
  const s: Sample = {
    variant: v,
    case: c,
    round,
    wall: round3(t.wall),
    user: t.user,
    sys: t.sys,
    daemonCpu: round3(daemonCpu),
    cpu: round3(t.user + t.sys + daemonCpu),
    loadavg: round3(os.loadavg()[0]),
    ...(trace ? { trace } : {}),
  };
  samples.push(s);
  log(
    `${round === 0 ? 'warm-up' : `round ${round}`} ${c.padEnd(5)} ${v.padEnd(10)} ${s.wall.toFixed(2)} s wall, ` +
      `${s.cpu.toFixed(2)} s cpu, load ${s.loadavg}`,
  );
  return s;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

function rotate<T>(xs: readonly T[], k: number): T[] {
  const n = xs.length;
  return xs.map((_, i) => xs[(i + k) % n]);
}

// ---- diagnostics: what each variant's go command actually does ---------------------------------

/** Counts compile and link processes in `-x` output. */
function countTools(stderr: string): { compiles: number; links: number } {
  let compiles = 0;
  let links = 0;
  for (const line of stderr.split('\n')) {
    if (/\/compile\s/.test(line) && !line.includes('-V=full')) compiles++;
    if (/\/link\s/.test(line) && !line.includes('-V=full')) links++;
  }
  return { compiles, links };
}

async function diagnose(v: VariantName, dir: string): Promise<Diag> {
  const inst = await instance(v, dir, 'diag');
  if (v === 'go-cacher') inst.env.GOCACHEPROG += ' --verbose';
  const out = path.join(H, 'out', `diag-${v}`);
  rmrf(out);
  const diag: Diag = { variant: v, cases: {} };
  try {
    for (const c of ['warm', 'noop', 'run'] as const) {
      const cmd = commandFor(c, out);
      // `go run` twice: natively, the first run puts the executable and the second reuses it.
      if (c === 'run') await timeGo(cmd, inst.env, SRC);
      const before = inst.socket ? (await daemonReport(inst.socket)).stats : undefined;
      const t = await timeGo([cmd[0], '-x', ...cmd.slice(1)], inst.env, SRC);
      const tools = countTools(t.stderr);
      const entry: Diag['cases'][string] = { ...tools };
      if (inst.socket && before) {
        const after = (await daemonReport(inst.socket)).stats;
        entry.gets = after.gets - before.gets;
        entry.hits = after.hits - before.hits;
        entry.puts = after.puts - before.puts;
        entry.hitBytes = after.hitBytes - before.hitBytes;
        entry.putBytes = after.putBytes - before.putBytes;
      }
      const m =
        /cacher: closing; (\d+) gets \((\d+) hits, (\d+) misses, (\d+) errors\); (\d+) puts/.exec(
          t.stderr,
        );
      if (m) {
        entry.gets = Number(m[1]);
        entry.hits = Number(m[2]);
        entry.puts = Number(m[5]);
      }
      diag.cases[c] = entry;
      log(`diag ${v} ${c}: ${JSON.stringify(entry)}`);
    }
  } finally {
    await release(inst);
    rmrf(out);
  }
  return diag;
}

// ---- handshake ----------------------------------------------------------------------------------

/** Spawn → first line on stdout, in ms; then closes stdin and waits for the exit (not timed). */
function firstLine(cmd: string, argv: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'ignore'] });
    let t1 = -1;
    let buf = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      if (t1 >= 0) return;
      buf += d;
      if (buf.includes('\n')) {
        t1 = performance.now() - t0;
        child.stdin.end();
      }
    });
    child.on('error', reject);
    child.on('close', () => (t1 >= 0 ? resolve(round3(t1)) : reject(new Error(`${cmd}: no line`))));
  });
}

async function handshakes(reps: number): Promise<Record<string, number[]>> {
  const store = path.join(H, 'hs-store');
  fs.mkdirSync(store, { recursive: true });
  const inst = await instance('daemon', store, 'handshake');
  const node = process.execPath;
  const subjects: Record<string, [string, string[]]> = {
    "node -e 'console.log(1)'": [node, ['-e', 'console.log(1)']],
    'shim, standalone': [node, [SHIM(), '--dir', store]],
    'shim, with daemon': [node, [SHIM(), '--dir', store, '--socket', inst.socket!]],
    'go-cacher': [path.join(GOBIN, 'go-cacher'), ['--cache-dir', path.join(H, 'hs-go-cacher')]],
  };
  const names = Object.keys(subjects);
  const out: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  try {
    for (const n of names) await firstLine(...subjects[n]); // warm-up
    for (let i = 0; i < reps; i++) {
      for (const n of rotate(names, i)) out[n].push(await firstLine(...subjects[n]));
    }
  } finally {
    await release(inst);
  }
  for (const n of names) log(`handshake ${n}: median ${median(out[n])} ms`);
  return out;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// ---- main ----------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = new Date();
  log(`preparing ${MODULE}@${VERSION} in ${SRC}`);
  const project = prepare();
  log(
    `${project.modules} modules, ${project.packages} packages (${project.deps} with dependencies)`,
  );
  const samples: Sample[] = [];
  const daemonStats: BenchResult['daemonStats'] = [];
  const warmDir = (v: VariantName): string => path.join(H, 'warm', v);
  const coldDir = (v: VariantName): string => path.join(H, 'cold', v);
  const outDir = (v: VariantName, c: string, r: number): string =>
    path.join(H, 'out', `${v}-${c}-${r}`);
  const loadStart = os.loadavg();
  const warmCases = cases.filter((c) => c !== 'cold');

  /** Runs one variant's step; a step whose daemon was killed by someone else is done again. */
  const step = async (v: VariantName, r: number, what: string, run: () => Promise<void>) => {
    for (let attempt = 1; ; attempt++) {
      const n = samples.length;
      const d = daemonStats.length;
      try {
        return await run();
      } catch (e) {
        if (!(e instanceof DaemonGone) || attempt >= 3) throw e;
        log(`${e.message}; ${what} of ${v} in round ${r} again`);
        samples.splice(n);
        daemonStats.splice(d);
      }
    }
  };

  // Round 0 (not counted): a cold build per variant fills its warm cache; it is the cold warm-up.
  // --reuse-warm keeps the warm caches an earlier run left (for quick traced or profiled runs).
  const reuse = (v: VariantName): boolean =>
    !!args['reuse-warm'] && fs.existsSync(path.join(warmDir(v), '00'));
  for (const v of variants) if (!reuse(v)) rmrf(warmDir(v));
  for (const v of variants) {
    if (reuse(v)) continue;
    await step(v, 0, 'fill', async () => {
      rmrf(warmDir(v));
      const inst = await instance(v, warmDir(v), 'fill');
      try {
        await measure(v, 'cold', 0, inst, outDir(v, 'fill', 0), samples);
      } finally {
        const st = await release(inst);
        if (st) daemonStats.push({ variant: v, case: 'cold', round: 0, stats: st });
        rmrf(outDir(v, 'fill', 0));
      }
    });
  }
  // What each variant's warm, no-op and run cases do (-x, helper counters); not timed.
  const diags: Diag[] = [];
  if (!args['no-diag']) for (const v of variants) diags.push(await diagnose(v, warmDir(v)));
  const hs = args['no-handshake'] ? {} : await handshakes(HANDSHAKE_REPS);

  const rounds = Math.max(REPS, COLD_REPS);
  for (let r = 0; r <= rounds; r++) {
    // r = 0 is the warm-up of the warm cases (and the first `go run`, which native caches).
    if (r <= REPS && warmCases.length > 0) {
      for (const v of rotate(variants, r)) {
        await step(v, r, 'warm', async () => {
          const inst = await instance(v, warmDir(v), `warm-${r}`);
          const out = outDir(v, 'warm', r);
          rmrf(out);
          try {
            for (const c of warmCases) await measure(v, c, r, inst, out, samples);
            if (inst.socket && r > 0) {
              daemonStats.push({
                variant: v,
                case: 'warm+noop+run',
                round: r,
                stats: (await daemonReport(inst.socket)).stats,
              });
            }
          } finally {
            await release(inst);
            rmrf(out);
          }
        });
      }
    }
    if (r >= 1 && r <= COLD_REPS && cases.includes('cold')) {
      for (const v of rotate(variants, r)) {
        await step(v, r, 'cold', async () => {
          rmrf(coldDir(v));
          rmrf(path.join(H, 'aux', v));
          const inst = await instance(v, coldDir(v), `cold-${r}`);
          const out = outDir(v, 'cold', r);
          rmrf(out);
          try {
            await measure(v, 'cold', r, inst, out, samples);
          } finally {
            const st = await release(inst);
            if (st) daemonStats.push({ variant: v, case: 'cold', round: r, stats: st });
            rmrf(out);
            rmrf(coldDir(v));
          }
        });
      }
    }
    writeResult(); // after every round, so an interrupted run still leaves its numbers
  }

  function writeResult(): void {
    const result: BenchResult = {
      started: started.toISOString(),
      finished: new Date().toISOString(),
      project: {
        module: MODULE,
        version: VERSION,
        ...project,
        build: BUILD_PKGS,
        run: [RUN_PKG, ...RUN_ARGS],
      },
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? '?',
        memGB: Math.round(os.totalmem() / 2 ** 30),
        kernel: os.release(),
        loadavgStart: loadStart.map(round3),
        loadavgEnd: os.loadavg().map(round3),
      },
      go: sh(GO, ['version']).trim(),
      node: process.version,
      gitHead: sh('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT }).trim(),
      dist: {
        helper: sha256File(DAEMON()).slice(0, 16),
        shim: sha256File(SHIM()).slice(0, 16),
      },
      otherHelper: `${GO_CACHER}@${GO_CACHER_VERSION}`,
      reps: REPS,
      coldReps: COLD_REPS,
      env: {
        GOFLAGS: '-mod=mod -buildvcs=false',
        GOTOOLCHAIN: 'local',
        GOPROXY: 'off',
        GOSUMDB: 'off',
      },
      commands: {
        warm: `go ${commandFor('warm', '<new dir>').join(' ')}`,
        noop: `go ${commandFor('noop', '<same dir>').join(' ')}`,
        run: `go ${commandFor('run', '').join(' ')}`,
        cold: `go ${commandFor('cold', '<new dir>').join(' ')}`,
      },
      goCacheProg: {
        native: '(unset); GOCACHE=<dir>',
        daemon:
          'node dist/shim/index.js --dir <dir> --socket <sock>  (daemon: node dist/helper/index.js --dir <dir> --socket <sock> --log <file>)',
        standalone: 'node dist/shim/index.js --dir <dir>',
        'go-cacher': 'go-cacher --cache-dir <dir>',
      },
      samples,
      daemonStats,
      diags,
      handshakeMs: hs,
      ...(Object.keys(EXPERIMENTS).length > 0 ? { experiments: EXPERIMENTS } : {}),
      ...(args.trace ? { traced: true } : {}),
    };
    fs.mkdirSync(OUT, { recursive: true });
    fs.writeFileSync(JSON_FILE, JSON.stringify(result, null, 1) + '\n');
    writeReport(result, OUT, NAME);
  }
  log(`wrote ${JSON_FILE} and ${path.join(OUT, `${NAME}.md`)}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
