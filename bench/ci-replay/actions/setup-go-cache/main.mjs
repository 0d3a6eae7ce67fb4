// What actions/setup-go does for `cache: true` once Go is installed (src/cache-restore.ts): paths
// from `go env`, key `setup-go-<os>-<arch>-go-<version>-<hash of go.sum>`, no restore-keys.
import * as os from 'node:os';
import * as cache from '@actions/cache';
import * as core from '@actions/core';
import { findFiles, goEnv, hashFiles } from '../common.mjs';

try {
  const [gomodcache, gocache, goversion] = goEnv('GOMODCACHE', 'GOCACHE', 'GOVERSION');
  const workspace = process.env.GITHUB_WORKSPACE ?? process.cwd();
  const hash = hashFiles(findFiles(workspace, 'go.sum', false));
  if (!hash)
    throw new Error('Some specified paths were not resolved, unable to cache dependencies.');
  const version = goversion.replace(/^go/, '');
  const key = `setup-go-${process.env.RUNNER_OS}-${os.arch()}-go-${version}-${hash}`;
  core.saveState('CACHE_KEY', key);
  core.saveState('CACHE_PATHS', JSON.stringify([gomodcache, gocache]));
  const matched = await cache.restoreCache([gomodcache, gocache], key);
  core.setOutput('cache-hit', Boolean(matched));
  if (!matched) {
    core.info('Cache is not found');
  } else {
    core.saveState('CACHE_RESULT', matched);
    core.info(`Cache restored from key: ${matched}`);
  }
} catch (err) {
  core.setFailed(err instanceof Error ? err.message : String(err));
}
