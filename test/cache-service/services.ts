// What e2e suites iterate over: the local service always, gha-cache-server when it is installed.
//
//   for (const f of cacheServiceFactories()) {
//     describe(f.name, () => {
//       let svc: CacheService | null;
//       beforeAll(async () => { svc = await f.start(); });
//       afterAll(async () => { await svc?.stop(); });
//       it('…', async (ctx) => { if (!svc) return ctx.skip(); … });
//     });
//   }
import { startExternalCacheService } from './external.js';
import { startCacheService, type CacheService } from './server.js';

export interface CacheServiceFactory {
  name: string;
  /** null: not available here (already warned about). */
  start: () => Promise<CacheService | null>;
}

export function cacheServiceFactories(): CacheServiceFactory[] {
  return [
    { name: 'local', start: () => startCacheService() },
    { name: 'gha-cache-server', start: () => startExternalCacheService() },
  ];
}
