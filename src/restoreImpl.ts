// The main step: inputs → go env → keys → module cache → build-cache tiers → helper → state.
// Only bad inputs or a missing Go fail the step; every cache problem becomes a warning and a miss.
import * as core from '@actions/core';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { absorbTier, ageEntries } from './buildcache/tiers.js';
import type { TierEntry } from './buildcache/manifest.js';
import { restoreEntry } from './cacheio.js';
import { startDaemon, socketPathFor } from './helper/control.js';
import {
  mergeGoFlags,
  readGoEnv,
  relocateForWindows,
  supportsCacheProg,
  toolchainModule,
  type GoEnv,
} from './go.js';
import { InputError, parseInputs, type Inputs } from './inputs.js';
import {
  buildKeys,
  deltaPrefix,
  moduleDeltaKey,
  moduleDeltaPrefix,
  moduleKeys,
  tierKind,
  type KeyContext,
} from './keys.js';
import { chooseMode, quoteWord } from './mode.js';
import { applyContentMtimes } from './mtimes.js';
import { findDependencyFiles, hashFiles } from './modcache/gosum.js';
import {
  clearModCache,
  moduleArchivePaths,
  moduleSetHash,
  prepareModCacheDir,
} from './modcache/restore.js';
import {
  absorbModuleTier,
  archivedFiles,
  type ModFile,
  type ModulesRestored,
} from './modcache/tiers.js';
import { scanModCache } from './modcache/trim.js';
import { pullRequestNumber } from './savepolicy.js';
import {
  encodeState,
  STATE_FILE_ENV,
  STATE_NAME,
  type BuildState,
  type ModuleState,
  type RestoredSet,
  type RestoredTier,
  type State,
} from './state.js';
import { formatBytes, formatMs } from './format.js';

/** Restored entries get an mtime past Go's one-hour refresh interval, so native use shows as a fresh mtime. */
const NATIVE_AGE_MS = 2 * 3600e3;

export async function runRestore(): Promise<void> {
  let inputs: Inputs;
  try {
    inputs = parseInputs((name) => core.getInput(name));
  } catch (err) {
    core.setFailed(err instanceof InputError ? err.message : String(err));
    return;
  }
  // post-if reads this: `success() || env.GO_CACHE_SAVE_ON_FAILURE == 'true'`.
  core.exportVariable('GO_CACHE_SAVE_ON_FAILURE', String(inputs.saveOnFailure));

  let go: GoEnv;
  try {
    go = await readGoEnv();
  } catch (err) {
    core.setFailed(err instanceof Error ? err.message : String(err));
    return;
  }

  const env = process.env;
  const runnerTemp = env.RUNNER_TEMP || os.tmpdir();
  const workspace = env.GITHUB_WORKSPACE || process.cwd();
  const relocation = relocateForWindows({
    platform: process.platform,
    runnerTemp,
    workspace,
    gomodcache: go.gomodcache,
    gocache: go.gocache,
    goEnvFromUserEnv: { GOMODCACHE: env.GOMODCACHE, GOCACHE: env.GOCACHE },
  });
  for (const [name, value] of Object.entries(relocation.env)) {
    core.exportVariable(name, value);
    if (name === 'GOMODCACHE') go = { ...go, gomodcache: value };
    if (name === 'GOCACHE') go = { ...go, gocache: value };
  }
  const pr = pullRequestNumber(env.GITHUB_EVENT_NAME ?? '', env.GITHUB_REF ?? '');
  const keyContext: KeyContext = {
    prefix: inputs.keyPrefix,
    scope: inputs.scope || env.GITHUB_JOB || 'job',
    os: (env.RUNNER_OS || process.platform).toLowerCase(),
    arch: (env.RUNNER_ARCH || process.arch).toLowerCase(),
    goVersion: go.version,
    runTag: `${env.GITHUB_RUN_ID || Date.now()}-${env.GITHUB_RUN_ATTEMPT || '1'}`,
    ...(pr !== undefined ? { pullRequest: pr } : {}),
  };
  const problems: string[] = [];

  core.startGroup('go-cache: configuration and keys');
  core.info(
    `Go ${go.version} ${go.goos}/${go.goarch}; GOMODCACHE=${go.gomodcache}; GOCACHE=${go.gocache}`,
  );
  core.info(
    `key prefix '${keyContext.prefix}', scope '${keyContext.scope}'${inputs.scope ? '' : ' (the job id)'}, run tag ${keyContext.runTag}`,
  );
  core.info(
    `max-size ${formatBytes(inputs.maxSizeBytes)}, retention ${formatMs(inputs.retentionMs)}, save '${inputs.save}'`,
  );
  core.endGroup();

  if (inputs.testMtimes) await setContentMtimes(workspace);
  // Principle 2: a cache problem never fails the job; each part degrades to a warning and a miss.
  const guarded = async <T>(what: string, fn: () => Promise<T>): Promise<T | null> => {
    try {
      return await fn();
    } catch (err) {
      problems.push(`${what} restore failed: ${message(err)}`);
      core.warning(`go-cache: ${problems.at(-1)}; the job goes on without it`);
      return null;
    }
  };
  const modules = inputs.cacheModules
    ? await guarded('module cache', () =>
        restoreModules(inputs, go, keyContext, workspace, runnerTemp, problems),
      )
    : null;
  const build = inputs.cacheBuild
    ? await guarded('build cache', () => restoreBuild(inputs, go, keyContext, runnerTemp, problems))
    : null;

  const state: State = {
    version: 1,
    inputs,
    keyContext,
    goVersion: go.version,
    modules,
    build,
    problems,
  };
  core.saveState(STATE_NAME, encodeState(state));
  // The split restore/save actions cannot pass STATE_* between them: the save action finds the file.
  const stateFile = path.join(runnerTemp, 'go-cache', 'state.json');
  await fs.mkdir(path.dirname(stateFile), { recursive: true });
  await fs.writeFile(stateFile, encodeState(state));
  core.exportVariable(STATE_FILE_ENV, stateFile);

  core.setOutput('module-cache-hit', String(modules?.hit === 'exact'));
  core.setOutput('module-key', modules?.deltaKey ?? modules?.baseKey ?? '');
  core.setOutput('build-cache-hit', build?.hit ?? 'miss');
  core.setOutput('build-key', build?.tiers[0]?.key ?? '');
  core.setOutput(
    'restored-bytes',
    String((modules?.restoredBytes ?? 0) + (build?.tiers.reduce((n, t) => n + t.bytes, 0) ?? 0)),
  );
  core.setOutput('mode', build?.mode ?? 'off');
}

async function setContentMtimes(workspace: string): Promise<void> {
  try {
    const r = await applyContentMtimes(workspace);
    if (r.skipped) core.notice(`go-cache: test-mtimes skipped: ${r.skipped}`);
    else
      core.info(
        `test-mtimes: ${r.files} files and ${r.directories} directories given content-derived mtimes (${r.contentHashed} hashed by content) in ${formatMs(r.ms)}`,
      );
  } catch (err) {
    core.warning(
      `go-cache: could not set content-derived mtimes (${err instanceof Error ? err.message : String(err)}); go test results may not come from the cache`,
    );
  }
}

async function restoreModules(
  inputs: Inputs,
  go: GoEnv,
  kc: KeyContext,
  workspace: string,
  runnerTemp: string,
  problems: string[],
): Promise<ModuleState | null> {
  return core.group('go-cache: module cache', async () => {
    const files = await findDependencyFiles(workspace, inputs.dependencyPatterns);
    if (files.length === 0) {
      core.info(
        `No file matches ${inputs.dependencyPatterns.join(', ')} under ${workspace}: the module cache is not cached.`,
      );
      return null;
    }
    const keys = moduleKeys(kc, await hashFiles(files, workspace));
    core.info(
      `go.sum hash ${keys.depsHash} (from ${files.length} file(s): ${files.map((f) => path.relative(workspace, f)).join(', ')})`,
    );
    core.info(`base prefixes: ${keys.basePrefixes.join(', ')}`);
    const prepared = await prepareModCacheDir(go.gomodcache);
    if (prepared.note) core.info(prepared.note);
    // What was there before (a self-hosted runner's cache) is not the base's: a delta must not count on it.
    const before = prepared.existed
      ? new Set(
          archivedFiles(await scanModCache(go.gomodcache, { sizes: false })).map((f) => f.rel),
        )
      : new Set<string>();
    const archive = moduleArchivePaths(go.gomodcache);
    const restored: ModulesRestored = { base: null, delta: null };
    const t0 = Date.now();

    const b = await restoreEntry(archive, keys.exactBasePrefix, keys.basePrefixes);
    if (b.error) problems.push(`module cache restore failed: ${b.error}`);
    if (b.failedKey) {
      // A half-unpacked archive can leave a cut-off zip beside its .ziphash, and Go checks the
      // .ziphash against go.sum, not the zip: start from an empty cache.
      await clearModCache(go.gomodcache);
      core.warning(
        `go-cache: the module cache ${b.failedKey} did not restore cleanly; it was cleared and Go downloads what it needs`,
      );
    }
    if (b.matchedKey) {
      const got = archivedFiles(await scanModCache(go.gomodcache, { sizes: false })).filter(
        (f) => !before.has(f.rel),
      );
      restored.base = { key: b.matchedKey, files: got };
      core.info(
        `restored base ${b.matchedKey}: ${got.length} files, ${formatBytes(sumBytes(got))} in ${formatMs(b.ms)}`,
      );
    } else {
      core.info('no module cache matched');
    }
    let exact = b.matchedKey?.startsWith(keys.exactBasePrefix) ?? false;
    if (restored.base && !exact) {
      const tierDir = path.join(runnerTemp, 'go-cache', 'modtier');
      const want = moduleDeltaKey(kc, restored.base.key, keys.depsHash);
      const prefix = moduleDeltaPrefix(kc, restored.base.key);
      await fs.rm(tierDir, { recursive: true, force: true });
      // Unpacked beside GOMODCACHE and moved in only when whole: a broken delta leaves the base as it was.
      const d = await restoreEntry([tierDir], want, [prefix]);
      if (d.error) problems.push(`module cache delta restore failed: ${d.error}`);
      // Each file moves in whole (a rename), so a move that stops halfway leaves a usable cache.
      const got = d.matchedKey
        ? await absorbModuleTier(tierDir, go.gomodcache).catch((err: unknown) => {
            problems.push(
              `module cache delta ${d.matchedKey} could not be moved in: ${message(err)}`,
            );
            core.warning(`go-cache: ${problems.at(-1)}`);
            return null;
          })
        : null;
      if (d.matchedKey && got) {
        restored.delta = { key: d.matchedKey, files: got };
        exact = d.matchedKey === want;
        core.info(
          `restored delta ${d.matchedKey}: ${got.length} files, ${formatBytes(sumBytes(got))} in ${formatMs(d.ms)}`,
        );
      } else if (!d.matchedKey && !d.error) {
        core.info(`no delta on this base (${prefix})`);
      }
      await fs.rm(tierDir, { recursive: true, force: true });
    }
    const ms = Date.now() - t0;

    const restoredFile = path.join(runnerTemp, 'go-cache', 'modules-restored.json');
    await fs.mkdir(path.dirname(restoredFile), { recursive: true });
    await fs.writeFile(restoredFile, JSON.stringify(restored));
    const restoredSetHash = await moduleSetHash(go.gomodcache);

    // -modcacherw keeps the module cache writable so the post step can trim it and a later restore
    // can write over it; Go's checksum checks are untouched.
    const goflags = mergeGoFlags(process.env.GOFLAGS ?? go.goflags, ['-modcacherw']);
    if (goflags !== (process.env.GOFLAGS ?? go.goflags)) core.exportVariable('GOFLAGS', goflags);

    return {
      path: go.gomodcache,
      depsHash: keys.depsHash,
      hit: exact ? 'exact' : restored.base ? 'partial' : 'miss',
      baseKey: restored.base?.key ?? null,
      deltaKey: restored.delta?.key ?? null,
      restoredFile,
      restoredSetHash,
      dependencyFiles: files,
      toolchainModule: toolchainModule(go),
      restoredBytes: sumBytes([...(restored.base?.files ?? []), ...(restored.delta?.files ?? [])]),
      ms,
    };
  });
}

const sumBytes = (files: readonly ModFile[]) => files.reduce((n, f) => n + f.bytes, 0);

async function restoreBuild(
  inputs: Inputs,
  go: GoEnv,
  kc: KeyContext,
  runnerTemp: string,
  problems: string[],
): Promise<BuildState> {
  return core.group('go-cache: build cache', async () => {
    const root = path.join(runnerTemp, 'go-cache');
    const storeDir = path.join(root, 'build');
    const tierDir = path.join(root, 'tier');
    await fs.mkdir(storeDir, { recursive: true });
    const keys = buildKeys(kc);
    const restored: RestoredSet = { base: null, delta: null, fallback: null };
    const tiers: RestoredTier[] = [];
    let dropped = 0;

    const restoreTier = async (primary: string, prefixes: string[]) => {
      await fs.rm(tierDir, { recursive: true, force: true });
      const r = await restoreEntry([tierDir], primary, prefixes);
      if (r.error) problems.push(`build cache restore failed: ${r.error}`);
      if (!r.matchedKey) return null;
      const absorbed = await absorbTier(tierDir, storeDir);
      await fs.rm(tierDir, { recursive: true, force: true });
      if (!absorbed.manifest) {
        problems.push(`build cache entry ${r.matchedKey} has no readable manifest; ignored`);
        return null;
      }
      for (const d of absorbed.dropped.slice(0, 20))
        core.warning(`dropped build-cache entry ${d.actionID.slice(0, 12)}…: ${d.reason}`);
      if (absorbed.dropped.length) {
        problems.push(
          `${absorbed.dropped.length} restored build-cache entries failed verification and were dropped; Go rebuilds them`,
        );
      }
      dropped += absorbed.dropped.length;
      const kind = absorbed.manifest.kind;
      tiers.push({
        key: r.matchedKey,
        kind,
        bytes: absorbed.bytes,
        ms: r.ms,
        entries: absorbed.entries.length,
        dropped: absorbed.dropped.length,
      });
      core.info(
        `restored ${kind} ${r.matchedKey}: ${absorbed.entries.length} entries, ${formatBytes(absorbed.bytes)} in ${formatMs(r.ms)}`,
      );
      return { key: r.matchedKey, entries: absorbed.entries };
    };

    core.info(`base prefix ${keys.basePrefix}; fallbacks ${keys.fallbackPrefixes.join(', ')}`);
    const first = await restoreTier(keys.basePrefix, [keys.basePrefix, ...keys.fallbackPrefixes]);
    if (first && first.key.startsWith(keys.basePrefix) && tierKind(first.key) === 'base') {
      restored.base = first;
      const dp = deltaPrefix(kc, first.key);
      core.info(`delta prefix ${dp}`);
      restored.delta = await restoreTier(dp, [dp]);
      if (!restored.delta) core.info('no delta on this base');
    } else if (first) {
      restored.fallback = first;
      core.info(`${first.key} is not this scope's base: a partial hit`);
    } else {
      core.info('no build cache matched');
    }
    const hit: BuildState['hit'] =
      restored.base && dropped === 0 ? 'exact' : tiers.length ? 'partial' : 'miss';

    const restoredFile = path.join(root, 'restored.json');
    await fs.writeFile(restoredFile, JSON.stringify(restored));
    const all: TierEntry[] = [restored.base, restored.delta, restored.fallback].flatMap(
      (t) => t?.entries ?? [],
    );

    let { mode, reason } = chooseMode(inputs.mode, go.version, supportsCacheProg(go.version));
    let socket: string | null = null;
    let daemonLog: string | null = null;
    let daemonPid: number | null = null;
    if (mode === 'helper') {
      const bundle = path.dirname(path.resolve(process.argv[1] ?? '.'));
      const privateDir = await fs.mkdtemp(path.join(root, 'sock-'));
      await fs.chmod(privateDir, 0o700);
      socket = socketPathFor(privateDir);
      daemonLog = path.join(root, 'helper.log');
      try {
        const started = await startDaemon({
          script: path.join(bundle, '..', 'helper', 'index.js'),
          dir: storeDir,
          socket,
          log: daemonLog,
          node: process.execPath,
          timeoutMs: 10_000,
        });
        daemonPid = started.pid;
        const shim = path.join(bundle, '..', 'shim', 'index.js');
        // The shim's log shows when it had to serve the store itself; the post step prints it.
        const prog = [
          process.execPath,
          shim,
          '--dir',
          storeDir,
          '--socket',
          socket,
          '--log',
          path.join(root, 'shim.log'),
        ]
          .map(quoteWord)
          .join(' ');
        core.exportVariable('GOCACHEPROG', prog);
        core.info(`helper daemon pid ${daemonPid} on ${socket}; GOCACHEPROG=${prog}`);
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        core.warning(
          `go-cache: the GOCACHEPROG helper did not start (${msg}); GOCACHE points at the restored store instead, so the job keeps its cache.`,
        );
        problems.push(`helper did not start: ${msg}`);
        mode = 'native';
        reason = 'the helper did not start';
        socket = null;
      }
    }
    const startedAt = Date.now();
    if (mode === 'native') {
      await ageEntries(storeDir, all, new Date(startedAt - NATIVE_AGE_MS));
      core.exportVariable('GOCACHE', storeDir);
      core.info(`GOCACHE=${storeDir} (${reason})`);
    }
    return {
      mode,
      modeReason: reason,
      storeDir,
      tierDir,
      socket,
      daemonLog,
      daemonPid,
      startedAt,
      restoredFile,
      tiers,
      hit,
    };
  });
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));
