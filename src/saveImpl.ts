// The post step: stop the helper, compute the working set, upload what changed, trim and save the
// module cache, tell the user. It never fails the job: anything thrown ends as a warning.
import * as core from '@actions/core';
import { readFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { entryBytes, type TierEntry, type TierManifest } from './buildcache/manifest.js';
import { decideSave, type SaveDecision } from './buildcache/policy.js';
import { listStore, markExecutables, stageTier } from './buildcache/tiers.js';
import { computeWorkingSet, type WorkingSet } from './buildcache/workingset.js';
import { saveEntry, type SaveResult } from './cacheio.js';
import {
  mergeUsage,
  readStandaloneUsage,
  stopDaemon,
  type HelperStats,
  type UsageEntry,
} from './helper/control.js';
import { buildKeys, moduleDeltaKey, moduleKeys, newDeltaKey } from './keys.js';
import { moduleArchivePaths } from './modcache/restore.js';
import {
  archivedFiles,
  decideModuleSave,
  describeModuleFiles,
  stageModuleFiles,
  type ModulesRestored,
} from './modcache/tiers.js';
import { moduleSetHashOf, trimModCache, type TrimResult } from './modcache/save.js';
import { maySave } from './savepolicy.js';
import {
  loadState,
  type BuildState,
  type ModuleState,
  type RestoredSet,
  type State,
} from './state.js';
import { writeReport, type BuildReport, type ModuleReport } from './summary.js';

export async function runSave(): Promise<void> {
  try {
    await save();
  } catch (err) {
    core.warning(
      `go-cache: the post step hit an unexpected problem and saved nothing more: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    );
  }
}

async function save(): Promise<void> {
  const state = loadState(
    (name) => core.getState(name),
    (file) => {
      try {
        return readFileSync(file, 'utf8');
      } catch {
        return null;
      }
    },
  );
  if (!state) {
    core.info(
      'go-cache: the main step did not record its state (it failed or did not run); nothing to save.',
    );
    return;
  }
  const policy = maySave({
    setting: state.inputs.save,
    eventName: process.env.GITHUB_EVENT_NAME ?? '',
    ref: process.env.GITHUB_REF ?? '',
  });
  const build = state.build ? await saveBuild(state, state.build, policy) : null;
  if (state.build?.daemonLog) {
    await printLog(state.build.daemonLog);
    await printLog(path.join(path.dirname(state.build.daemonLog), 'shim.log'));
  }
  const modules = state.modules ? await saveModules(state, state.modules, policy) : null;
  await writeReport({ state, build, modules, policyReason: policy.reason });
}

async function saveBuild(
  state: State,
  b: BuildState,
  policy: { save: boolean; reason: string },
): Promise<BuildReport> {
  return core.group('go-cache: build cache save', async () => {
    const restored = await readRestored(b.restoredFile);
    const restoredEntries = [restored.base, restored.delta, restored.fallback].flatMap(
      (t) => t?.entries ?? [],
    );
    const problems: string[] = [];
    let stats: HelperStats | null = null;
    let used: TierEntry[];

    if (b.mode === 'helper' && b.socket) {
      let usage: UsageEntry[] | null = null;
      try {
        const report = await stopDaemon(b.socket, 20_000);
        stats = report.stats;
        usage = report.usage;
      } catch (err) {
        problems.push(
          `the helper daemon did not answer (${err instanceof Error ? err.message : String(err)}); what it served is read from the store instead`,
        );
        core.warning(`go-cache: ${problems.at(-1)}`);
      }
      // The daemon also flushes its record to the store; merging keeps one record per action.
      const merged = new Map<string, UsageEntry>();
      for (const u of [...(usage ?? []), ...readStandaloneUsage(b.storeDir)]) mergeUsage(merged, u);
      used = [...merged.values()].map(toTierEntry);
      if (problems.length) {
        // Without the daemon's record, everything written since the restore counts as used, and
        // what was restored keeps the last-use times it came with.
        const restoredIds = new Set(restoredEntries.map((e) => e.a));
        used.push(
          ...(await listStore(b.storeDir)).filter(
            (e) => !restoredIds.has(e.a) && e.t >= b.startedAt - 1000,
          ),
        );
      }
    } else {
      // Native mode: restore aged every entry past Go's one-hour mtime refresh, so anything Go read or
      // wrote during the job carries a fresh mtime now.
      used = (await listStore(b.storeDir))
        .filter((e) => e.mtimeMs >= b.startedAt - 1000)
        .map(({ a, o, s, t }) => ({ a, o, s, t }));
    }

    await markExecutables(b.storeDir, used);
    const now = Date.now();
    const ws = computeWorkingSet({
      restored: restoredEntries,
      used,
      now,
      retentionMs: state.inputs.retentionMs,
      maxBytes: state.inputs.maxSizeBytes,
    });
    const overlap = overlapShare(restored, used);
    core.info(
      `working set: ${ws.entries.length} entries, ${ws.bytes} bytes (used by this job: ${used.length}; expired: ${ws.expired.count}; over budget: ${ws.overBudget.count})`,
    );

    let decision: SaveDecision;
    let result: SaveResult | null = null;
    let savedKey: string | null = null;
    let savedBytes = 0;
    if (!policy.save) {
      decision = { kind: 'none', reason: policy.reason };
    } else {
      decision = decideSave({
        base: restored.base,
        delta: restored.delta,
        workingSet: ws.entries,
        pullRequest: state.keyContext.pullRequest !== undefined,
      });
    }
    core.info(`decision: ${decision.kind} (${decision.reason})`);
    if (decision.kind !== 'none') {
      savedKey =
        decision.kind === 'base'
          ? buildKeys(state.keyContext).newBase
          : newDeltaKey(state.keyContext, restored.base!.key);
      const manifest: TierManifest = {
        version: 1,
        kind: decision.kind,
        key: savedKey,
        ...(decision.kind === 'delta' ? { baseKey: restored.base!.key } : {}),
        createdAt: now,
        goVersion: state.goVersion,
        entries: decision.entries,
      };
      const staged = await stageTier(b.storeDir, b.tierDir, manifest);
      savedBytes = entryBytes(staged.entries);
      result = await saveEntry([b.tierDir], savedKey);
      await fs.rm(b.tierDir, { recursive: true, force: true });
      reportSaveResult('build cache', savedKey, result, problems);
    }
    return {
      mode: b.mode,
      modeReason: b.modeReason,
      hit: b.hit,
      tiers: b.tiers,
      stats,
      usedCount: used.length,
      workingSet: ws,
      decision,
      savedKey,
      savedBytes,
      result,
      overlap,
      problems,
    };
  });
}

async function saveModules(
  state: State,
  m: ModuleState,
  policy: { save: boolean; reason: string },
): Promise<ModuleReport> {
  return core.group('go-cache: module cache save', async () => {
    const problems: string[] = [];
    const unsaved = (action: string, trim: TrimResult | null = null): ModuleReport => ({
      state: m,
      action,
      trim,
      result: null,
      problems,
      savedKey: null,
      savedBytes: 0,
    });
    if (m.hit === 'exact') return unsaved(`hit on ${m.deltaKey ?? m.baseKey}: nothing to save`);
    if (!policy.save) return unsaved(policy.reason);
    let trim: TrimResult;
    try {
      trim = await trimModCache(m.path, m.dependencyFiles, {
        extraModules: m.toolchainModule ? [m.toolchainModule] : [],
      });
    } catch (err) {
      problems.push(
        `module cache trim failed: ${err instanceof Error ? err.message : String(err)}; not saved`,
      );
      return unsaved('not saved');
    }
    if (moduleSetHashOf(trim) === m.restoredSetHash) {
      return unsaved('module set unchanged since restore: not saved', trim);
    }
    const restored = await readModulesRestored(m.restoredFile);
    const decision = decideModuleSave({
      restored,
      kept: archivedFiles(trim.kept),
      pullRequest: state.keyContext.pullRequest !== undefined,
    });
    core.info(`decision: ${decision.kind} (${decision.reason})`);
    if (decision.kind === 'none') return unsaved(decision.reason, trim);
    let savedKey: string;
    let result: SaveResult;
    if (decision.kind === 'base') {
      savedKey = moduleKeys(state.keyContext, m.depsHash).newBase;
      result = await saveEntry(moduleArchivePaths(m.path), savedKey);
    } else {
      savedKey = moduleDeltaKey(state.keyContext, restored.base!.key, m.depsHash);
      core.info(`delta: ${describeModuleFiles(decision.entries)}`);
      const tierDir = path.join(path.dirname(m.restoredFile), 'modtier');
      await stageModuleFiles(m.path, tierDir, decision.entries);
      result = await saveEntry([tierDir], savedKey);
      await fs.rm(tierDir, { recursive: true, force: true });
    }
    reportSaveResult('module cache', savedKey, result, problems);
    if (!result.saved) return { ...unsaved('not saved', trim), result };
    return {
      ...unsaved(`saved ${decision.kind} ${savedKey} (${decision.reason})`, trim),
      result,
      savedKey,
      savedBytes: decision.entries.reduce((n, f) => n + f.bytes, 0),
    };
  });
}

async function readModulesRestored(file: string): Promise<ModulesRestored> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as ModulesRestored;
  } catch {
    return { base: null, delta: null };
  }
}

function reportSaveResult(what: string, key: string, r: SaveResult, problems: string[]): void {
  if (r.saved) core.info(`${what}: saved ${key} in ${r.ms} ms`);
  else if (r.conflict) core.info(`${what}: ${key} was already saved by another job; nothing to do`);
  else {
    const msg = `${what}: could not save ${key}${r.error ? `: ${r.error}` : ' (see the log above)'}`;
    problems.push(msg);
    core.warning(`go-cache: ${msg}`);
  }
}

function toTierEntry(u: UsageEntry): TierEntry {
  return { a: u.actionID, o: u.outputID, s: u.size, t: u.lastUse };
}

/** Share of this job's entries that the restored tiers already had: low means scopes are mixed. */
function overlapShare(restored: RestoredSet, used: readonly TierEntry[]): number | null {
  const have = new Set(
    [restored.base, restored.delta].flatMap((t) => t?.entries ?? []).map((e) => e.a),
  );
  if (have.size === 0 || used.length === 0) return null;
  return used.filter((e) => have.has(e.a)).length / used.length;
}

async function readRestored(file: string): Promise<RestoredSet> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as RestoredSet;
  } catch {
    return { base: null, delta: null, fallback: null };
  }
}

async function printLog(file: string): Promise<void> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  if (!text) return;
  const lines = text.trimEnd().split('\n');
  core.startGroup(
    `go-cache: helper log (${path.basename(file)}, last ${Math.min(lines.length, 200)} lines)`,
  );
  core.info(lines.slice(-200).join('\n'));
  core.endGroup();
}

export type { WorkingSet };
