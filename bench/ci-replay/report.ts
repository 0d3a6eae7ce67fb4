// The CI-replay report: bench/results/ci-replay.md and two hand-written SVG charts, from the JSON.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { STRATEGY_LABELS, type BenchResult, type JobRecord, type StrategyName } from './record.js';

const COLORS: Record<StrategyName, string> = {
  none: '#7f7f7f',
  'setup-go': '#d62728',
  recipe: '#ff7f0e',
  'go-cache': '#1f77b4',
  'go-cache-native': '#2ca02c',
  'go-cache-nomtimes': '#8c564b',
  'go-cache-r0': '#9467bd',
};

export function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export const mib = (b: number | null) => (b === null ? '–' : `${(b / 1048576).toFixed(1)} MiB`);
const sec = (s: number | null) => (s === null ? '–' : s.toFixed(1));
const pct = (x: number | null) => (x === null ? '–' : `${(x * 100).toFixed(0)}%`);
const ratio = (a: number | null, b: number | null) =>
  a === null || b === null || b === 0 ? null : a / b;
const fx = (r: number | null) => (r === null ? '–' : `${r.toFixed(2)}×`);

/** Least-squares slope of ys over their index. */
function slope(ys: number[]): number {
  const n = ys.length;
  if (n < 2) return 0;
  const mx = (n - 1) / 2;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  ys.forEach((y, x) => {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  });
  return num / den;
}

export interface Summary {
  strategy: StrategyName;
  jobs: number;
  failed: number;
  total: number | null;
  restore: number | null;
  build: number | null;
  vet: number | null;
  test: number | null;
  save: number | null;
  downloaded: number | null;
  uploaded: number | null;
  uploadedSum: number;
  saves: number;
  storedLast: number | null;
  storedFirst: number | null;
  storedSlope: number;
  liveLast: number | null;
  liveSlope: number;
  compiled: number | null;
  compiledTest: number | null;
  hitRate: number | null;
  estHitRate: number | null;
  testsCached: number | null;
  goDownloads: number | null;
  proxyBytes: number | null;
}

/** Medians over runs 2..N (run 1 is cold for every strategy). */
export function summarize(result: BenchResult): Summary[] {
  return result.strategies.map((strategy) => {
    const all = result.jobs.filter((j) => j.strategy === strategy).sort((a, b) => a.run - b.run);
    const js = all.filter((j) => j.run >= 2);
    const m = (f: (j: JobRecord) => number | null) =>
      median(js.map(f).filter((x): x is number => x !== null));
    const stored = js.map((j) => j.bytes.stored);
    return {
      strategy,
      jobs: js.length,
      failed: js.filter((j) => !j.ok).length,
      total: m((j) => j.seconds.total),
      restore: m((j) => j.seconds.restore),
      build: m((j) => j.seconds.build),
      vet: m((j) => j.seconds.vet),
      test: m((j) => j.seconds.test),
      save: m((j) => j.seconds.save),
      downloaded: m((j) => j.bytes.downloaded),
      uploaded: m((j) => j.bytes.uploaded),
      uploadedSum: js.reduce((a, j) => a + j.bytes.uploaded, 0),
      saves: js.reduce((a, j) => a + j.bytes.saves, 0),
      storedFirst: stored.length ? stored[0]! : null,
      storedLast: stored.length ? stored[stored.length - 1]! : null,
      storedSlope: slope(stored),
      liveLast: js.length ? (js[js.length - 1]!.bytes.live ?? null) : null,
      liveSlope: slope(js.map((j) => j.bytes.live ?? 0)),
      compiled: m((j) => j.compiled.build),
      compiledTest: m((j) => j.compiled.test),
      hitRate: m((j) => j.hitRate),
      estHitRate: m((j) => j.estHitRate),
      testsCached: m((j) => j.tests.cached),
      goDownloads: m((j) => j.goDownloads),
      proxyBytes: m((j) => j.proxy.bytes),
    };
  });
}

// ---------------------------------------------------------------------------------------------------
// SVG

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceStep(max: number, ticks: number): number {
  const raw = max / ticks;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

export function lineChart(o: {
  title: string;
  yLabel: string;
  xLabels: string[];
  series: Array<{ name: string; color: string; values: Array<number | null>; dashed?: boolean }>;
  yFormat: (v: number) => string;
}): string {
  const W = 840;
  const H = 420;
  const L = 70;
  const R = 240;
  const T = 40;
  const B = 60;
  const pw = W - L - R;
  const ph = H - T - B;
  const all = o.series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const step = niceStep(Math.max(1e-9, ...all), 5);
  const ymax = step * Math.max(1, Math.ceil(Math.max(1e-9, ...all) / step));
  const n = o.xLabels.length;
  const x = (i: number) => L + (n === 1 ? pw / 2 : (i * pw) / (n - 1));
  const y = (v: number) => T + ph - (v / ymax) * ph;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(o.title)}</text>`,
  );
  for (let v = 0; v <= ymax + 1e-9; v += step) {
    out.push(
      `<line x1="${L}" y1="${y(v).toFixed(1)}" x2="${L + pw}" y2="${y(v).toFixed(1)}" stroke="#e0e0e0"/>`,
      `<text x="${L - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${esc(o.yFormat(v))}</text>`,
    );
  }
  o.xLabels.forEach((lab, i) => {
    out.push(
      `<line x1="${x(i).toFixed(1)}" y1="${T + ph}" x2="${x(i).toFixed(1)}" y2="${T + ph + 4}" stroke="#333"/>`,
      `<text x="${x(i).toFixed(1)}" y="${T + ph + 18}" text-anchor="middle">${esc(String(i + 1))}</text>`,
      `<text x="${x(i).toFixed(1)}" y="${T + ph + 32}" text-anchor="middle" font-size="10" fill="#555">${esc(lab)}</text>`,
    );
  });
  out.push(
    `<line x1="${L}" y1="${T}" x2="${L}" y2="${T + ph}" stroke="#333"/>`,
    `<line x1="${L}" y1="${T + ph}" x2="${L + pw}" y2="${T + ph}" stroke="#333"/>`,
    `<text x="${L + pw / 2}" y="${H - 8}" text-anchor="middle">run (version checked out)</text>`,
    `<text x="16" y="${T + ph / 2}" text-anchor="middle" transform="rotate(-90 16 ${T + ph / 2})">${esc(o.yLabel)}</text>`,
  );
  o.series.forEach((s, k) => {
    const pts = s.values
      .map((v, i) => (v === null ? null : `${x(i).toFixed(1)},${y(v).toFixed(1)}`))
      .filter((p): p is string => p !== null);
    if (pts.length > 1) {
      out.push(
        `<polyline fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''} points="${pts.join(' ')}"/>`,
      );
    }
    for (const p of pts) {
      const [px, py] = p.split(',');
      out.push(`<circle cx="${px}" cy="${py}" r="3.5" fill="${s.color}"/>`);
    }
    const ly = T + 10 + k * 20;
    out.push(
      `<line x1="${L + pw + 16}" y1="${ly}" x2="${L + pw + 40}" y2="${ly}" stroke="${s.color}" stroke-width="3"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
      `<text x="${L + pw + 46}" y="${ly + 4}">${esc(s.name)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------------
// Markdown

function table(head: string[], rows: string[][], align?: string[]): string {
  const a = align ?? head.map((_, i) => (i === 0 ? ':--' : '--:'));
  return [
    `| ${head.join(' | ')} |`,
    `| ${a.join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

function verdict(ok: boolean | null): string {
  return ok === null ? 'not measured' : ok ? '**met**' : '**missed**';
}

export function renderMarkdown(result: BenchResult): string {
  const S = summarize(result);
  const by = (s: StrategyName) => S.find((x) => x.strategy === s) ?? null;
  const n = result.project.versions.length;
  const gc = by('go-cache');
  const sg = by('setup-go');
  const rc = by('recipe');
  const m = result.machine;
  const lines: string[] = [];
  const minutes = (Date.parse(result.finishedAt) - Date.parse(result.startedAt)) / 60000;

  lines.push(
    '# CI replay: go-cache against the Go caching people use today',
    '',
    `Generated by \`${result.command}\` (${result.startedAt} → ${result.finishedAt}, ${minutes.toFixed(0)} min). ` +
      'Do not edit by hand: rerun, or `npx tsx bench/ci-replay/run.ts --report-only` to redraw from `ci-replay.json`.',
    '',
    '## Scenario',
    '',
    `- Project: \`${result.project.module}\`; ${n} successive releases stand for ${n} successive commits: ` +
      result.project.versions.map((v) => `\`${v}\``).join(', ') +
      '.',
    ...Object.entries(result.project.deps).map(
      ([v, d]) =>
        `- \`${v}\`: ${d.required} modules required in go.mod, ${d.graph} in the module graph.`,
    ),
    goSumLine(result),
    '- Each run is one job on a wiped runner root (same path every time): a fresh depth-1 clone of the ' +
      'version (fresh mtimes, a git checkout), a fresh HOME (empty GOMODCACHE and GOCACHE), then the ' +
      'cache step, `go build -x ./...`, `go vet -x ./...`, `go test -x` on ' +
      result.project.testPackages.map((p) => `\`${p}\``).join(' ') +
      ', and the post steps. Jobs run through the runner harness (`test/harness/`) against the local Actions cache ' +
      'service (`test/cache-service/`); modules come from a local GOPROXY on 127.0.0.1 serving a seed ' +
      'filled once from the Go module proxy.',
    '- Strategies, each under its own keys, interleaved per run (the order rotates each run):',
    '  - **no cache**;',
    '  - **setup-go cache**: what `actions/setup-go` does with `cache: true` — GOMODCACHE + GOCACHE under ' +
      '`setup-go-<os>-<arch>-go-<version>-<hash of go.sum>`, no restore-keys, saved in the post only on a ' +
      'primary-key miss (`bench/ci-replay/actions/setup-go-cache/`);',
    '  - **actions/cache recipe**: key `<os>-go-<hash of **/go.sum>-<run id>`, restore-keys ' +
      '`<os>-go-<hash>-` and `<os>-go-`, saved every run (`bench/ci-replay/actions/cache-recipe/`);',
    '  - **go-cache (helper)**: this action with its defaults (`key-prefix: replay-helper`);',
    '  - **go-cache (native)**: this action with `mode: native` (`key-prefix: replay-native`).',
    ...(result.strategies.includes('go-cache-nomtimes')
      ? [
          '  - **go-cache (helper, test-mtimes off)**: defaults but `test-mtimes: false` ' +
            '(`key-prefix: replay-nomtimes`): the before of the test-mtimes before/after.',
        ]
      : []),
    ...(result.strategies.includes('go-cache-r0')
      ? [
          '  - **go-cache (helper, retention 0h)**: defaults but `retention: 0h` (`key-prefix: replay-r0`): ' +
            'tiers keep only what the job itself used, as they would if earlier runs were older than the ' +
            'default 2-day retention (in this benchmark every run is minutes after the last).',
        ]
      : []),
    '',
    '## Machine',
    '',
    `- ${m.nproc} CPUs (${m.cpuModel}), ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB memory, ${m.kernel}`,
    `- ${m.go}; Node.js ${m.node}`,
    `- load average (1, 5, 15 min) at start ${m.loadAvgStart.map((x) => x.toFixed(2)).join(', ')}` +
      (m.loadAvgEnd.length ? `, at end ${m.loadAvgEnd.map((x) => x.toFixed(2)).join(', ')}` : '') +
      ' (the machine is shared; each job records its own load in the JSON)',
    `- action under test: HEAD \`${result.action.gitHead.slice(0, 12)}\`` +
      (result.action.dirtyFiles > 0
        ? ` plus ${result.action.dirtyFiles} uncommitted files in src/, dist/, action.yml`
        : '') +
      `, dist/ sha256 \`${result.action.distSha256.slice(0, 16)}\` (copied before the first job)`,
    '',
    'Reproduce: `' +
      result.command +
      '` (the first run also fills the seed, about 5 GB, through the Go module proxy).',
    '',
    `## Summary (medians over runs 2..${n})`,
    '',
  );

  lines.push(
    table(
      [
        'strategy',
        'total s',
        'restore s',
        'build s',
        'vet s',
        'test s',
        'save s',
        'downloaded',
        'uploaded',
        'stored after last run',
        'stored growth per run',
        'live after last run',
        'pkgs compiled (build)',
        'hit rate (action)',
        'hit rate (compiled)',
        'tests cached',
        'module downloads',
      ],
      S.map((s) => [
        STRATEGY_LABELS[s.strategy] + (s.failed ? ` (${s.failed} failed)` : ''),
        sec(s.total),
        sec(s.restore),
        sec(s.build),
        sec(s.vet),
        sec(s.test),
        sec(s.save),
        mib(s.downloaded),
        mib(s.uploaded),
        mib(s.storedLast),
        mib(s.storedSlope),
        mib(s.liveLast),
        s.compiled === null ? '–' : String(s.compiled),
        pct(s.hitRate),
        pct(s.estHitRate),
        s.testsCached === null
          ? '–'
          : `${s.testsCached}/${result.jobs.find((j) => j.strategy === s.strategy)?.tests.packages ?? '?'}`,
        s.goDownloads === null ? '–' : String(s.goDownloads),
      ]),
    ),
    '',
  );

  // One row of ratios: `a`'s medians over `other`'s.
  const cmp = (other: Summary | null, label: string, a = gc) =>
    !a || !other
      ? []
      : [
          [
            `${STRATEGY_LABELS[a.strategy]} / ${label}`,
            ...(
              ['total', 'restore', 'build', 'save', 'uploaded', 'downloaded', 'storedLast'] as const
            ).map((k) => fx(ratio(a[k], other[k]))),
          ],
        ];
  const nat = by('go-cache-native');
  const ratioRows = [
    ...cmp(sg, 'setup-go'),
    ...cmp(rc, 'recipe'),
    ...cmp(by('none'), 'no cache'),
    ...cmp(sg, 'setup-go', nat),
    ...cmp(rc, 'recipe', nat),
    ...cmp(gc, 'go-cache (helper)', nat),
    ...cmp(gc, 'go-cache (helper)', by('go-cache-r0')),
  ];
  if (ratioRows.length) {
    lines.push(
      'Ratios of the medians:',
      '',
      table(
        ['', 'total', 'restore', 'build', 'save', 'uploaded', 'downloaded', 'stored (last run)'],
        ratioRows,
      ),
      '',
    );
  }

  // Targets
  lines.push('## Targets', '');
  const tRows: string[][] = [];
  const tTime = (other: Summary | null, label: string, bound: number) => {
    const r = gc && other ? ratio(gc.total, other.total) : null;
    tRows.push([
      `go-cache total job time ≤ ${bound} × ${label}'s`,
      r === null ? '–' : `${sec(gc!.total)} s vs ${sec(other!.total)} s = ${fx(r)}`,
      verdict(r === null ? null : r <= bound),
    ]);
  };
  tTime(sg, 'setup-go', 0.6);
  tTime(rc, 'the recipe', 0.8);
  {
    const r = gc && rc ? ratio(gc.uploaded, rc.uploaded) : null;
    tRows.push([
      'go-cache bytes uploaded per run ≤ 0.2 × the recipe’s',
      r === null ? '–' : `${mib(gc!.uploaded)} vs ${mib(rc!.uploaded)} = ${fx(r)}`,
      verdict(r === null ? null : r <= 0.2),
    ]);
  }
  if (gc && gc.storedFirst !== null && gc.storedLast !== null) {
    // "Bounded": the fitted growth over runs 2..N adds less than a quarter of the median stored.
    const storedMed = median(
      result.jobs.filter((j) => j.strategy === 'go-cache' && j.run >= 2).map((j) => j.bytes.stored),
    )!;
    const growth = gc.storedSlope * Math.max(1, gc.jobs - 1);
    const ok = growth <= 0.25 * storedMed;
    tRows.push([
      'go-cache bytes stored bounded (no growth trend)',
      `run 2: ${mib(gc.storedFirst)}, run ${n}: ${mib(gc.storedLast)}; fitted growth ${mib(gc.storedSlope)}/run` +
        (rc ? ` (recipe: ${mib(rc.storedSlope)}/run)` : '') +
        `; live part after run ${n}: ${mib(gc.liveLast)}, fitted growth ${mib(gc.liveSlope)}/run`,
      verdict(ok) + (ok ? '' : ' (fitted growth over the runs > 25% of the median stored)'),
    ]);
    // What is stored also holds superseded entries, which only GitHub's eviction (7 days unused, or the
    // 10 GB limit) removes; the live part is what the strategy itself keeps bounded.
    const liveMed = median(
      result.jobs
        .filter((j) => j.strategy === 'go-cache' && j.run >= 2)
        .map((j) => j.bytes.live ?? 0),
    )!;
    const liveGrowth = gc.liveSlope * Math.max(1, gc.jobs - 1);
    const liveOk = liveGrowth <= 0.25 * liveMed;
    tRows.push([
      'go-cache live bytes (what the next job restores) bounded',
      `median ${mib(liveMed)}, after run ${n}: ${mib(gc.liveLast)}; fitted growth ${mib(gc.liveSlope)}/run` +
        (rc ? ` (recipe: ${mib(rc.liveSlope)}/run)` : ''),
      verdict(liveOk) +
        (liveOk ? '' : ' (fitted growth over the runs > 25% of the median live bytes)'),
    ]);
  }
  lines.push(
    table(['target', 'measured (medians, runs 2..N)', 'verdict'], tRows, [':--', ':--', ':--']),
    '',
  );

  // Where the difference comes from
  if (gc) {
    const phases = ['restore', 'build', 'vet', 'test', 'save'] as const;
    const diffRows = [sg, rc, by('none')]
      .filter((o): o is Summary => o !== null)
      .map((o) => [
        `go-cache (helper) − ${STRATEGY_LABELS[o.strategy]}`,
        ...phases.map((p) => {
          const a = gc[p];
          const b = o[p];
          return a === null || b === null ? '–' : `${a - b >= 0 ? '+' : ''}${(a - b).toFixed(1)}`;
        }),
        gc.total === null || o.total === null
          ? '–'
          : `${gc.total - o.total >= 0 ? '+' : ''}${(gc.total - o.total).toFixed(1)}`,
      ]);
    if (diffRows.length) {
      lines.push(
        'Where the time difference comes from (difference of the medians, seconds; negative = go-cache faster):',
        '',
        table(['', ...phases, 'total'], diffRows),
        '',
      );
    }
  }

  // test-mtimes before/after: the same action with the feature off and on, side by side per run.
  const mtOff = result.jobs.filter((j) => j.strategy === 'go-cache-nomtimes');
  const mtOn = result.jobs.filter((j) => j.strategy === 'go-cache');
  if (mtOff.length && mtOn.length) {
    const rows: string[][] = [];
    const pairs: Array<[JobRecord, JobRecord]> = [];
    for (const off of [...mtOff].sort((a, b) => a.run - b.run)) {
      const on = mtOn.find((j) => j.run === off.run);
      if (!on) continue;
      pairs.push([off, on]);
      rows.push([
        String(off.run),
        off.version,
        sec(off.seconds.test),
        sec(on.seconds.test),
        `${off.tests.cached}/${off.tests.packages}`,
        `${on.tests.cached}/${on.tests.packages}`,
        `${off.compiled.test} / ${on.compiled.test}`,
      ]);
    }
    const later = pairs.filter(([off]) => off.run >= 2);
    const med = (f: (j: JobRecord) => number, k: 0 | 1) => median(later.map((p) => f(p[k])));
    rows.push([
      'median 2..N',
      '',
      sec(med((j) => j.seconds.test, 0)),
      sec(med((j) => j.seconds.test, 1)),
      String(med((j) => j.tests.cached, 0)),
      String(med((j) => j.tests.cached, 1)),
      `${med((j) => j.compiled.test, 0)} / ${med((j) => j.compiled.test, 1)}`,
    ]);
    lines.push(
      '## test-mtimes before/after',
      '',
      'The test step of go-cache (helper) with `test-mtimes: false` (before) and with the default `true` ' +
        '(after), in the same runs. A test result comes from the cache only when its package and every ' +
        'file it opened are unchanged, so across whole releases most tests rerun either way; the runs ' +
        'with few source changes show the effect.',
      '',
      table(
        [
          'run',
          'version',
          'test s (off)',
          'test s (on)',
          'tests cached (off)',
          'tests cached (on)',
          'test compiles off / on',
        ],
        rows,
      ),
      '',
    );
  }

  lines.push(
    '## Charts',
    '',
    '![total job time per run](ci-replay-time.svg)',
    '',
    '![bytes stored per run](ci-replay-stored.svg)',
    '',
    '## Every run',
    '',
  );
  const order = result.strategies;
  const jobs = [...result.jobs].sort(
    (a, b) => a.run - b.run || order.indexOf(a.strategy) - order.indexOf(b.strategy),
  );
  lines.push(
    table(
      [
        'run',
        'version',
        'strategy',
        'order',
        'load',
        'restore s',
        'build s',
        'vet s',
        'test s',
        'save s',
        'total s',
        'downloaded',
        'uploaded',
        'stored (entries) / live',
        'compiled build/vet/test',
        'hit rate (action / compiled)',
        'tests cached',
        'module downloads (proxy)',
        'cache result',
      ],
      jobs.map((j) => [
        String(j.run),
        j.version,
        STRATEGY_LABELS[j.strategy] + (j.ok ? '' : ` **FAILED: ${j.failedSteps.join(', ')}**`),
        String(j.order + 1),
        j.loadAvg.toFixed(1),
        sec(j.seconds.restore),
        sec(j.seconds.build),
        sec(j.seconds.vet),
        sec(j.seconds.test),
        sec(j.seconds.save),
        sec(j.seconds.total),
        mib(j.bytes.downloaded),
        mib(j.bytes.uploaded),
        `${mib(j.bytes.stored)} (${j.bytes.entries}) / ${mib(j.bytes.live ?? null)}`,
        `${j.compiled.build}/${j.compiled.vet}/${j.compiled.test}`,
        `${pct(j.hitRate)} / ${pct(j.estHitRate)}`,
        `${j.tests.cached}/${j.tests.packages}`,
        `${j.goDownloads} (${mib(j.proxy.bytes)})`,
        cacheResult(j),
      ]),
      [':--', ':--', ':--', ...Array<string>(15).fill('--:'), ':--'],
    ),
    '',
  );

  const notes = jobs.flatMap((j) => [
    ...j.notes.map((x) => `- run ${j.run} ${STRATEGY_LABELS[j.strategy]}: ${x}`),
    ...(j.proxy.notFound.length
      ? [
          `- run ${j.run} ${STRATEGY_LABELS[j.strategy]}: GOPROXY 404s: ${j.proxy.notFound.slice(0, 5).join(', ')}`,
        ]
      : []),
  ]);
  if (notes.length) lines.push('## Notes from the jobs', '', ...notes, '');

  lines.push(
    '## How to read it',
    '',
    '- **restore** is the cache step’s main (0 for no cache), **save** its post; **total** = restore + build + vet + test + save ' +
      '(the checkout is the same for every strategy and left out).',
    '- **downloaded / uploaded**: bytes the cache service served / received during the job. **stored**: the sum of the ' +
      'sizes of the entries under the strategy’s keys after the job (the Actions cache evicts nothing below 10 GB ' +
      'except entries unused for 7 days, so within this benchmark every saved entry stays). **live**: the part of it the ' +
      'next job would restore (setup-go, recipe: the newest entry; go-cache: of the build cache and of the module ' +
      'cache each, the newest base and the newest delta on it); the rest is superseded entries that only eviction removes. **growth per run**: ' +
      'least-squares slope over runs 2..N.',
    '- **pkgs compiled**: `compile` invocations in `go build -x` output. **hit rate (compiled)**: 1 − that / the no-cache ' +
      'job’s count for the same version. **hit rate (action)**: go-cache’s `hit-rate` output (build-cache hits per get ' +
      'over the whole job: build, vet and test).',
    '- **tests cached**: test packages reported `(cached)`. **module downloads**: `go: downloading` lines in the ' +
      'build, vet and test output; in brackets the bytes the local GOPROXY served.',
    '- **cache result**: setup-go/recipe `cache-hit`; go-cache `module-cache-hit`/`build-cache-hit`, and `saved-bytes` (build cache only).',
    '',
  );
  return lines.join('\n');
}

function goSumLine(result: BenchResult): string {
  const vs = result.project.versions;
  const sums = result.project.goSum ?? {};
  const changes = vs.slice(1).filter((v, i) => sums[v] !== sums[vs[i]!]).length;
  return (
    `- go.sum changes between ${changes} of the ${vs.length - 1} consecutive pairs of releases ` +
    `(${new Set(vs.map((v) => sums[v])).size} distinct go.sum files), which is what keys the setup-go cache.`
  );
}

function cacheResult(j: JobRecord): string {
  const o = j.outputs;
  if (j.strategy === 'none') return '';
  if (j.strategy === 'setup-go' || j.strategy === 'recipe') {
    return `hit=${o['cache-hit'] ?? '?'}${j.bytes.saves ? `, ${j.bytes.saves} saved` : ''}`;
  }
  return `mod=${o['module-cache-hit'] ?? '?'} build=${o['build-cache-hit'] ?? '?'} saved=${mib(Number(o['saved-bytes'] ?? NaN))}, ${j.bytes.saves} entries saved`;
}

export function writeReport(result: BenchResult, outDir: string): void {
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'ci-replay.md'), renderMarkdown(result));
  const xLabels = result.project.versions;
  const seriesOf = (f: (j: JobRecord) => number | null) =>
    result.strategies.map((s) => ({
      name: STRATEGY_LABELS[s],
      color: COLORS[s],
      values: xLabels.map((_, i) => {
        const j = result.jobs.find((k) => k.strategy === s && k.run === i + 1);
        return j ? f(j) : null;
      }),
    }));
  fs.writeFileSync(
    path.join(outDir, 'ci-replay-time.svg'),
    lineChart({
      title: 'Total job time per run (restore + build + vet + test + save)',
      yLabel: 'seconds',
      xLabels,
      series: seriesOf((j) => j.seconds.total),
      yFormat: (v) => `${Math.round(v)} s`,
    }),
  );
  fs.writeFileSync(
    path.join(outDir, 'ci-replay-stored.svg'),
    lineChart({
      title: 'Bytes stored per strategy after each run (dashed: live part)',
      yLabel: 'stored (MiB)',
      xLabels,
      series: [
        ...seriesOf((j) => j.bytes.stored / 2 ** 20),
        ...seriesOf((j) => (j.bytes.live === undefined ? null : j.bytes.live / 2 ** 20)).map(
          (s) => ({
            ...s,
            name: `${s.name}, live`,
            dashed: true,
          }),
        ),
      ].filter((s) => !s.name.startsWith(STRATEGY_LABELS.none)),
      yFormat: (v) => (v >= 1024 ? `${(v / 1024).toFixed(2)} GiB` : `${Math.round(v)} MiB`),
    }),
  );
}
