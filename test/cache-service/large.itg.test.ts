// An archive above the Azure SDK's 128 MiB single-shot limit: the real client then uploads 64 MiB
// blocks (Put Block, 8 in parallel) and commits them with Put Block List. Slow-ish (≈150 MB through
// tar, zstd and two HTTP transfers), so it lives in the integration project.
import * as cache from '@actions/cache';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { capture, makeClientWorld, randomContent, sha256, sha256File } from './client-kit.js';
import { startCacheService, type CacheService } from './server.js';

let svc: CacheService;
beforeAll(async () => {
  svc = await startCacheService();
});
afterAll(async () => {
  await svc.stop();
});

it('a >128 MiB archive goes up as Put Block ×3 + Put Block List and restores byte for byte', async () => {
  const world = makeClientWorld();
  try {
    world.useService(svc.env);
    const data = randomContent(136 * 1024 * 1024); // incompressible: the archive stays > 128 MiB
    world.write({ 'data/big.bin': data });
    const paths = [world.abs('data')];

    const saved = await capture(() => cache.saveCache(paths, 'large-blocks'));
    expect(saved.error).toBeUndefined();
    expect(saved.value).toBeGreaterThan(0);
    const t = svc.traffic();
    expect(t.requests['put-block']).toBe(3);
    expect(t.requests['put-block-list']).toBe(1);
    expect(t.requests['put-blob']).toBeUndefined();
    const [entry] = await svc.entries();
    expect(entry!.size).toBeGreaterThan(128 * 1024 * 1024);
    expect(t.uploadedBytes).toBe(entry!.size);

    world.rm('data');
    const restored = await capture(() => cache.restoreCache(paths, 'large-blocks'));
    expect(restored.value).toBe('large-blocks');
    expect(sha256File(world.abs('data/big.bin'))).toBe(sha256(data));
    expect(svc.traffic().downloadedBytes).toBe(entry!.size);
  } finally {
    world.cleanup();
  }
});
