// actions/cache's restore (src/restoreImpl.ts) with the usual Go recipe:
//   key: ${{ runner.os }}-go-${{ hashFiles('**/go.sum') }}-${{ github.run_id }}
//   restore-keys: ${{ runner.os }}-go-${{ hashFiles('**/go.sum') }}-  and  ${{ runner.os }}-go-
import * as cache from '@actions/cache';
import * as core from '@actions/core';
import { findFiles, goEnv, hashFiles } from '../common.mjs';

try {
  const paths = goEnv('GOMODCACHE', 'GOCACHE');
  const workspace = process.env.GITHUB_WORKSPACE ?? process.cwd();
  const hash = hashFiles(findFiles(workspace, 'go.sum', true));
  const runnerOs = process.env.RUNNER_OS;
  const key = `${runnerOs}-go-${hash}-${process.env.GITHUB_RUN_ID}`;
  const restoreKeys = [`${runnerOs}-go-${hash}-`, `${runnerOs}-go-`];
  core.saveState('CACHE_KEY', key);
  core.saveState('CACHE_PATHS', JSON.stringify(paths));
  const matched = await cache.restoreCache(paths, key, restoreKeys);
  if (!matched) {
    core.info(`Cache not found for input keys: ${[key, ...restoreKeys].join(', ')}`);
  } else {
    core.saveState('CACHE_RESULT', matched);
    core.info(`Cache restored from key: ${matched}`);
  }
  core.setOutput('cache-hit', matched === key);
} catch (err) {
  core.setFailed(err instanceof Error ? err.message : String(err));
}
// actions/cache's restore exits explicitly too.
process.exit(process.exitCode ?? 0);
