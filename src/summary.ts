// What the user sees at the end: outputs, one notice line and a job summary table.
import * as core from '@actions/core';
import type { SaveDecision } from './buildcache/policy.js';
import type { WorkingSet } from './buildcache/workingset.js';
import type { SaveResult } from './cacheio.js';
import { formatBytes, formatMs } from './format.js';
import type { HelperStats } from './helper/control.js';
import type { TrimResult } from './modcache/save.js';
import type { BuildState, ModuleState, RestoredTier, State } from './state.js';

export interface BuildReport {
  mode: BuildState['mode'];
  modeReason: string;
  hit: BuildState['hit'];
  tiers: RestoredTier[];
  stats: HelperStats | null;
  usedCount: number;
  workingSet: WorkingSet;
  decision: SaveDecision;
  savedKey: string | null;
  savedBytes: number;
  result: SaveResult | null;
  /** Share of this job's entries the restored base and delta already held; null when unknown. */
  overlap: number | null;
  problems: string[];
}

export interface ModuleReport {
  state: ModuleState;
  action: string;
  trim: TrimResult | null;
  result: SaveResult | null;
  problems: string[];
  savedKey: string | null;
  savedBytes: number;
}

export interface Report {
  state: State;
  build: BuildReport | null;
  modules: ModuleReport | null;
  policyReason: string;
}

/** Hit rate in [0,1] from the helper's statistics, or null when no go command asked anything. */
export function hitRate(stats: HelperStats | null): number | null {
  return stats && stats.gets > 0 ? stats.hits / stats.gets : null;
}

export function noticeLine(r: Report): string {
  const parts: string[] = [];
  const b = r.build;
  if (b) {
    const rate = hitRate(b.stats);
    parts.push(
      rate !== null
        ? `build cache ${Math.round(rate * 100)}% - ${b.stats!.hits} hits, ${b.stats!.misses} misses (${b.hit})`
        : `build cache ${b.hit} (${b.mode} mode, ${b.usedCount} entries used)`,
    );
    parts.push(
      b.savedKey && b.result?.saved
        ? `saved ${b.decision.kind} ${formatBytes(b.savedBytes)}`
        : b.decision.reason,
    );
  }
  if (r.modules)
    parts.push(
      `modules ${r.modules.state.hit}` +
        (r.modules.savedKey ? `, saved ${formatBytes(r.modules.savedBytes)}` : ''),
    );
  return `go-cache: ${parts.join('; ')}`;
}

export async function writeReport(r: Report): Promise<void> {
  const b = r.build;
  const rate = hitRate(b?.stats ?? null);
  core.setOutput('hit-rate', rate === null ? '' : rate.toFixed(3));
  core.setOutput('saved-bytes', String(b?.result?.saved ? b.savedBytes : 0));
  core.notice(noticeLine(r));

  const s = core.summary.addHeading('go-cache', 3);
  if (b) {
    s.addRaw(
      `<p>Build cache: <b>${b.hit}</b> in <b>${b.mode}</b> mode (${escape(b.modeReason)}).</p>`,
      true,
    );
    const restoredRows = b.tiers.map((t) => [
      t.kind,
      code(t.key),
      formatBytes(t.bytes),
      String(t.entries),
      formatMs(t.ms),
      String(t.dropped),
    ]);
    s.addTable([
      [th('restored tier'), th('key'), th('size'), th('entries'), th('time'), th('dropped')],
      ...(restoredRows.length ? restoredRows : [['none', '', '', '', '', '']]),
    ]);
    if (b.stats) {
      const st = b.stats;
      s.addTable([
        [
          th('gets'),
          th('hits'),
          th('misses'),
          th('hit rate'),
          th('puts'),
          th('put bytes'),
          th('errors'),
          th('latency p50 / p99'),
        ],
        [
          String(st.gets),
          String(st.hits),
          String(st.misses),
          rate === null ? '–' : `${(rate * 100).toFixed(1)}%`,
          String(st.puts),
          formatBytes(st.putBytes),
          String(st.errors),
          `${st.latencyMs.p50.toFixed(2)} / ${st.latencyMs.p99.toFixed(2)} ms`,
        ],
      ]);
    }
    const ws = b.workingSet;
    s.addTable([
      [th('working set'), th('entries'), th('size')],
      ['kept', String(ws.entries.length), formatBytes(ws.bytes)],
      [
        `trimmed: unused for ${formatMs(r.state.inputs.retentionMs)}`,
        String(ws.expired.count),
        formatBytes(ws.expired.bytes),
      ],
      [
        `trimmed: over max-size ${formatBytes(r.state.inputs.maxSizeBytes)}`,
        String(ws.overBudget.count),
        formatBytes(ws.overBudget.bytes),
      ],
    ]);
    s.addTable([
      [th('saved'), th('key'), th('size'), th('time'), th('why')],
      [
        b.decision.kind,
        b.savedKey ? code(b.savedKey) : '',
        b.savedKey ? formatBytes(b.savedBytes) : '',
        b.result ? formatMs(b.result.ms) : '',
        escape(
          b.result && !b.result.saved
            ? b.result.conflict
              ? 'another job saved this key first'
              : `failed: ${b.result.error ?? 'see log'}`
            : b.decision.reason,
        ),
      ],
    ]);
    if (b.overlap !== null && b.overlap < 0.5) {
      s.addRaw(
        `<p>⚠️ Only ${Math.round(b.overlap * 100)}% of what this job used was in the restored base. Jobs that build differently may share the scope <code>${escape(r.state.keyContext.scope)}</code>; give them their own, for example <code>scope: \${{ github.job }}-\${{ matrix.os }}-\${{ matrix.tags }}</code>.</p>`,
        true,
      );
    }
  }
  const m = r.modules;
  if (m) {
    s.addTable([
      [th('module cache'), th('key'), th('restored'), th('time'), th('trimmed'), th('action')],
      [
        m.state.hit,
        [m.state.baseKey, m.state.deltaKey]
          .filter((k): k is string => k !== null)
          .map(code)
          .join('<br>'),
        formatBytes(m.state.restoredBytes),
        formatMs(m.state.ms),
        m.trim ? `${m.trim.removedModules} modules, ${formatBytes(m.trim.removedBytes)}` : '',
        escape(m.action),
      ],
    ]);
  }
  const problems = [...r.state.problems, ...(b?.problems ?? []), ...(m?.problems ?? [])];
  if (problems.length) s.addList(problems.map(escape));
  await s.write();
}

const th = (data: string) => ({ data, header: true });
const code = (s: string) => `<code>${escape(s)}</code>`;
const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
