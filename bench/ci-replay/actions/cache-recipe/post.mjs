// actions/cache's post (src/saveImpl.ts): save unless the primary key matched exactly.
import * as cache from '@actions/cache';
import * as core from '@actions/core';

try {
  const key = core.getState('CACHE_KEY');
  const matched = core.getState('CACHE_RESULT');
  const paths = JSON.parse(core.getState('CACHE_PATHS') || '[]');
  if (!key) {
    core.warning('Key is not specified.');
  } else if (matched === key) {
    core.info(`Cache hit occurred on the primary key ${key}, not saving cache.`);
  } else {
    const id = await cache.saveCache(paths, key);
    if (id !== -1) core.info(`Cache saved with key: ${key}`);
  }
} catch (err) {
  core.warning(err instanceof Error ? err.message : String(err));
}
// actions/cache exits explicitly (dangling retried requests must not hold the step).
process.exit(0);
