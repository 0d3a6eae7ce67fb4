// actions/setup-go's post step (src/cache-save.ts): save unless the primary key matched exactly.
import * as fs from 'node:fs';
import * as cache from '@actions/cache';
import * as core from '@actions/core';

try {
  const key = core.getState('CACHE_KEY');
  const matched = core.getState('CACHE_RESULT');
  const paths = JSON.parse(core.getState('CACHE_PATHS') || '[]').filter((p) => fs.existsSync(p));
  if (!key || paths.length === 0) {
    core.warning('There are no cache folders on the disk');
  } else if (matched === key) {
    core.info(`Cache hit occurred on the primary key ${key}, not saving cache.`);
  } else {
    const id = await cache.saveCache(paths, key);
    if (id !== -1) core.info(`Cache saved with the key: ${key}`);
  }
} catch (err) {
  core.warning(err instanceof Error ? err.message : String(err));
}
// setup-go exits explicitly so open handles cannot hold the post step.
process.exit(0);
