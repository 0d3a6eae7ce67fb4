// The split actions: go-cache/restore early, go-cache/save where the workflow chooses. The save
// action has no STATE_* of the restore's; it finds the restore's state through GO_CACHE_STATE_FILE.
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCacheService, type CacheService } from '../cache-service/server.js';
import { compileLines, makeWorld, newJob, REPO_ROOT } from './world.js';

describe('split restore and save actions', () => {
  let service: CacheService;
  beforeAll(async () => {
    service = await startCacheService();
  });
  afterAll(async () => {
    await service.stop();
  });

  it('save in a later step, restore exactly in the next job', async () => {
    const world = makeWorld();
    const job = async () => {
      const j = newJob(world, { env: service.env });
      const restore = await j.uses(path.join(REPO_ROOT, 'restore'));
      const build = await j.run('go build -x ./... 2>&1 >/dev/null | grep -c "/compile " || true');
      const save = await j.uses(path.join(REPO_ROOT, 'save'));
      const posts = await j.end();
      expect(posts, 'the split actions have no post steps').toEqual([]);
      expect([restore.outcome, build.outcome, save.outcome]).toEqual([
        'success',
        'success',
        'success',
      ]);
      expect(j.leftovers, 'the save action stops the daemon').toEqual([]);
      return { restore, build, save };
    };
    const cold = await job();
    expect(cold.save.output).toMatch(/build cache: saved/);
    const warm = await job();
    expect(warm.restore.outputs['build-cache-hit']).toBe('exact');
    expect(warm.build.stdout.trim()).toBe('0');
    expect(compileLines(warm.build.stdout)).toEqual([]);
    expect(warm.save.outputs['hit-rate']).not.toBe('');
  });
});
