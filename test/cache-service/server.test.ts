// The local cache service, driven by the REAL @actions/cache 6.3.0 client (saveCache/restoreCache),
// plus protocol-level checks. The assertions double as documentation of what the client does on each
// failure, because the action has to live with exactly that:
//   - saveCache never throws for service trouble: it returns -1 and logs (info for anything that
//     fails at CreateCacheEntry, warning for upload/finalize failures).
//   - restoreCache never throws for service trouble: it returns undefined and logs a warning.
import * as cache from '@actions/cache';
import { BlockBlobClient } from '@azure/storage-blob';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  capture,
  makeClientWorld,
  randomContent,
  sha256,
  sha256File,
  withFastRetries,
  type ClientWorld,
} from './client-kit.js';
import {
  TWIRP_PREFIX,
  parseRange,
  startCacheService,
  unreachableServiceEnv,
  type CacheService,
} from './server.js';

let svc: CacheService;
let world: ClientWorld;
let n = 0;
const uniq = (p: string): string => `${p}-${++n}-${Date.now()}`;

/** The client, with its stdout logging captured (and a throw rethrown). */
async function quiet<T>(fn: () => Promise<T>): Promise<T> {
  const c = await capture(fn);
  if (c.error !== undefined) throw c.error;
  return c.value as T;
}
const save = (paths: string[], key: string): Promise<number> =>
  quiet(() => cache.saveCache(paths, key));
const restore = (
  paths: string[],
  key: string,
  restoreKeys?: string[],
): Promise<string | undefined> => quiet(() => cache.restoreCache(paths, key, restoreKeys));

/** Requests per operation made while `fn` ran. */
async function delta<T>(
  fn: () => Promise<T>,
): Promise<{ value: T; requests: Record<string, number> }> {
  const before = svc.traffic().requests;
  const value = await fn();
  const after = svc.traffic().requests;
  const requests: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d) requests[k] = d;
  }
  return { value, requests };
}

async function twirp(method: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${svc.url}${TWIRP_PREFIX}${method}`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Authorization: `Bearer ${svc.env.ACTIONS_RUNTIME_TOKEN}`,
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return {
    status: res.status,
    headers: res.headers,
    body: (await res.json()) as Record<string, unknown>,
  };
}

beforeAll(async () => {
  svc = await startCacheService();
});
afterAll(async () => {
  await svc.stop();
});
beforeEach(() => {
  world = makeClientWorld();
  world.useService(svc.env);
});
afterEach(() => {
  svc.setFault(null);
  world.cleanup();
});

describe('real @actions/cache client against the local service', () => {
  it('saves, then restores the exact key, with the traffic recorded', async () => {
    const key = uniq('exact');
    world.write({ 'data/a.txt': 'alpha', 'data/sub/b.txt': 'beta' });
    const paths = [world.abs('data')];

    const saved = await delta(() => capture(() => cache.saveCache(paths, key)));
    expect(saved.value.error).toBeUndefined();
    expect(saved.value.value).toBeGreaterThan(0);
    expect(saved.requests).toEqual({ create: 1, upload: 1, 'put-blob': 1, finalize: 1 });
    const entry = (await svc.entries()).find((e) => e.key === key);
    expect(entry).toBeDefined();
    expect(entry!.size).toBeGreaterThan(0);

    world.rm('data');
    const up = svc.traffic().uploadedBytes;
    const down0 = svc.traffic().downloadedBytes;
    const restored = await delta(() => capture(() => cache.restoreCache(paths, key)));
    expect(restored.value.value).toBe(key);
    expect(restored.value.infos).toContain(`Cache hit for: ${key}`);
    expect(restored.requests).toEqual({ lookup: 1, download: 1, 'get-blob': 1 });
    expect(world.read('data/a.txt')).toBe('alpha');
    expect(world.read('data/sub/b.txt')).toBe('beta');
    expect(svc.traffic().downloadedBytes - down0).toBe(entry!.size);
    expect(up).toBeGreaterThanOrEqual(entry!.size);
  });

  it('restore keys match as prefixes and pick the newest entry; an exact key beats a newer prefix', async () => {
    const base = uniq('prefix');
    const paths = [world.abs('data')];
    world.write({ 'data/v.txt': 'one' });
    expect(await save(paths, `${base}-aaa`).then((v) => v > 0)).toBe(true);
    world.write({ 'data/v.txt': 'two' });
    expect(await save(paths, `${base}-bbb`).then((v) => v > 0)).toBe(true);

    world.rm('data');
    const hit = await capture(() => cache.restoreCache(paths, `${base}-zzz-miss`, [`${base}-`]));
    expect(hit.value).toBe(`${base}-bbb`);
    expect(hit.infos).toContain(`Cache hit for restore-key: ${base}-bbb`);
    expect(world.read('data/v.txt')).toBe('two');

    // An exact restore key wins over a newer entry that merely has it as a prefix.
    world.rm('data');
    const exact = await capture(() => cache.restoreCache(paths, `${base}-nope`, [`${base}-aaa`]));
    expect(exact.value).toBe(`${base}-aaa`);
    expect(world.read('data/v.txt')).toBe('one');

    // Like GitHub's service, the primary key is also tried as a prefix before the restore keys.
    const primaryPrefix = await capture(() => cache.restoreCache(paths, `${base}-`, ['unrelated']));
    expect(primaryPrefix.value).toBe(`${base}-bbb`);
  });

  it('misses when the version differs (other paths), without downloading', async () => {
    const key = uniq('version');
    world.write({ 'data/a.txt': 'a', 'other/b.txt': 'b' });
    expect(await save([world.abs('data')], key)).toBeGreaterThan(0);
    const r = await delta(() => capture(() => cache.restoreCache([world.abs('other')], key)));
    expect(r.value.value).toBeUndefined();
    expect(r.value.warnings).toEqual([]);
    expect(r.requests).toEqual({ lookup: 1 });
  });

  it('a second save of the same key returns -1 and logs (info, not a warning) that it could not reserve', async () => {
    const key = uniq('dup');
    world.write({ 'data/a.txt': 'a' });
    const paths = [world.abs('data')];
    expect(await save(paths, key)).toBeGreaterThan(0);
    const second = await delta(() => capture(() => cache.saveCache(paths, key)));
    expect(second.value.error).toBeUndefined();
    expect(second.value.value).toBe(-1);
    expect(second.value.warnings).toEqual([]);
    expect(second.value.infos).toContain(
      `Failed to save: Unable to reserve cache with key ${key}, another job may be creating this cache.`,
    );
    expect(second.value.lines.join('\n')).toContain('(409) Conflict');
    expect(second.requests).toEqual({ create: 1 });
  });

  it('conflict fault on create: same as a real duplicate', async () => {
    const key = uniq('conflict');
    world.write({ 'data/a.txt': 'a' });
    svc.setFault({ kind: 'conflict' });
    const r = await capture(() => cache.saveCache([world.abs('data')], key));
    expect(r.value).toBe(-1);
    expect(
      r.infos.some((l) => l.startsWith(`Failed to save: Unable to reserve cache with key ${key}`)),
    ).toBe(true);
    expect((await svc.entries()).some((e) => e.key === key)).toBe(false);
  });

  it('429 on create: no retry, a rate-limit warning with Retry-After, then -1 (logged as info)', async () => {
    const key = uniq('rl-create');
    world.write({ 'data/a.txt': 'a' });
    svc.setFault({ kind: 'rate-limit', on: ['create'], retryAfterSeconds: 42 });
    const r = await delta(() => capture(() => cache.saveCache([world.abs('data')], key)));
    expect(r.value.value).toBe(-1);
    expect(r.value.warnings).toEqual([
      "You've hit a rate limit, your rate limit will reset in 42 seconds",
    ]);
    expect(r.value.infos).toContain(
      `Failed to save: Unable to reserve cache with key ${key}, another job may be creating this cache.`,
    );
    expect(r.requests).toEqual({ create: 1 });
  });

  it('429 on lookup: no retry, restoreCache returns undefined with a "Failed to restore" warning', async () => {
    const key = uniq('rl-lookup');
    world.write({ 'data/a.txt': 'a' });
    const paths = [world.abs('data')];
    expect(await save(paths, key)).toBeGreaterThan(0);
    svc.setFault({ kind: 'rate-limit', on: ['lookup'] });
    const r = await delta(() => capture(() => cache.restoreCache(paths, key)));
    expect(r.value.error).toBeUndefined();
    expect(r.value.value).toBeUndefined();
    expect(r.value.warnings).toEqual([
      "You've hit a rate limit, your rate limit will reset in 1 seconds",
      'Failed to restore: Failed to GetCacheEntryDownloadURL: Rate limited: Failed request: (429) Too Many Requests: injected fault: rate limit exceeded (lookup)',
    ]);
    expect(r.requests).toEqual({ lookup: 1 });
  });

  it('429 on finalize or upload: -1 with a warning; the entry is never listed', async () => {
    world.write({ 'data/a.txt': 'a' });
    const paths = [world.abs('data')];
    const k1 = uniq('rl-finalize');
    svc.setFault({ kind: 'rate-limit', on: ['finalize'] });
    const fin = await capture(() => cache.saveCache(paths, k1));
    expect(fin.value).toBe(-1);
    expect(fin.warnings).toContain(
      'Failed to save: Failed to FinalizeCacheEntryUpload: Rate limited: Failed request: (429) Too Many Requests: injected fault: rate limit exceeded (finalize)',
    );
    // The Azure SDK does not retry a 429 either.
    const k2 = uniq('rl-upload');
    svc.setFault({ kind: 'rate-limit', on: ['upload'] });
    const up = await delta(() => capture(() => cache.saveCache(paths, k2)));
    expect(up.value.value).toBe(-1);
    expect(up.requests).toEqual({ create: 1, upload: 1, 'put-blob': 1 });
    expect(up.value.warnings[0]).toMatch(
      /^uploadCacheArchiveSDK: internal error uploading cache archive: injected fault: too many requests/,
    );
    expect(up.value.warnings[1]).toMatch(/^Failed to save: injected fault: too many requests/);
    const keys = (await svc.entries()).map((e) => e.key);
    expect(keys).not.toContain(k1);
    expect(keys).not.toContain(k2);
  });

  it('one 500 on lookup: the twirp client retries after 3 s and the restore succeeds', async () => {
    const key = uniq('500-once');
    world.write({ 'data/a.txt': 'a' });
    const paths = [world.abs('data')];
    expect(await save(paths, key)).toBeGreaterThan(0);
    world.rm('data');
    svc.setFault({ kind: 'server-error', on: ['lookup'], times: 1 });
    const r = await delta(() => capture(() => cache.restoreCache(paths, key)));
    expect(r.value.value).toBe(key);
    expect(r.value.ms).toBeGreaterThanOrEqual(2900);
    expect(r.value.infos).toContain(
      'Attempt 1 of 5 failed with error: Failed request: (500) Internal Server Error: injected fault: internal error (lookup). Retrying request in 3000 ms...',
    );
    expect(r.requests).toEqual({ lookup: 2, download: 1, 'get-blob': 1 });
    expect(world.read('data/a.txt')).toBe('a');
  });

  it('persistent 500 on create and lookup: 5 attempts each (≈25-35 s of real backoff), then -1 / undefined', async () => {
    const key = uniq('500');
    world.write({ 'data/a.txt': 'a' });
    const paths = [world.abs('data')];
    svc.setFault({ kind: 'server-error', on: ['create', 'lookup'] });
    const save = await delta(() =>
      withFastRetries(() => capture(() => cache.saveCache(paths, key))),
    );
    expect(save.value.value).toBe(-1);
    expect(save.requests).toEqual({ create: 5 });
    // Reported through the ReserveCacheError branch: info, not warning or error.
    expect(save.value.warnings).toEqual([]);
    expect(save.value.errors).toEqual([]);
    expect(save.value.infos).toContain(
      `Failed to save: Unable to reserve cache with key ${key}, another job may be creating this cache.`,
    );
    const delays = save.value.infos
      .map((l) => /Retrying request in (\d+) ms/.exec(l)?.[1])
      .filter(Boolean)
      .map(Number);
    expect(delays).toHaveLength(4);
    expect(delays[0]).toBe(3000);
    expect(delays.reduce((a, b) => a + b, 0)).toBeGreaterThan(20_000);

    const restore = await delta(() =>
      withFastRetries(() => capture(() => cache.restoreCache(paths, key))),
    );
    expect(restore.value.value).toBeUndefined();
    expect(restore.requests).toEqual({ lookup: 5 });
    expect(restore.value.errors).toEqual([]);
    expect(restore.value.warnings).toEqual([
      'Failed to restore: Failed to GetCacheEntryDownloadURL: Failed to make request after 5 attempts: Failed request: (500) Internal Server Error: injected fault: internal error (lookup)',
    ]);
  });

  it('persistent 500 on upload (Azure SDK: 4 tries) or finalize (twirp: 5 tries): -1 with warnings', async () => {
    world.write({ 'data/a.txt': 'a' });
    const paths = [world.abs('data')];
    svc.setFault({ kind: 'server-error', on: ['upload'] });
    const up = await delta(() =>
      withFastRetries(() => capture(() => cache.saveCache(paths, uniq('500-up')))),
    );
    expect(up.value.value).toBe(-1);
    expect(up.requests).toEqual({ create: 1, upload: 4, 'put-blob': 4 });
    expect(up.value.warnings[1]).toMatch(/^Failed to save: injected fault: internal error/);

    svc.setFault({ kind: 'server-error', on: ['finalize'] });
    const fin = await delta(() =>
      withFastRetries(() => capture(() => cache.saveCache(paths, uniq('500-fin')))),
    );
    expect(fin.value.value).toBe(-1);
    expect(fin.requests).toEqual({ create: 1, upload: 1, 'put-blob': 1, finalize: 5 });
    expect(fin.value.warnings).toEqual([
      'Failed to save: Failed to FinalizeCacheEntryUpload: Failed to make request after 5 attempts: Failed request: (500) Internal Server Error: injected fault: internal error (finalize)',
    ]);
  });

  it('a failed finalize leaves the key reserved: the next save of that key gets 409', async () => {
    const key = uniq('stuck');
    world.write({ 'data/a.txt': 'a' });
    const paths = [world.abs('data')];
    svc.setFault({ kind: 'rate-limit', on: ['finalize'] });
    expect(await capture(() => cache.saveCache(paths, key)).then((c) => c.value)).toBe(-1);
    const again = await capture(() => cache.saveCache(paths, key));
    expect(again.value).toBe(-1);
    expect(again.lines.join('\n')).toContain('already in progress');
  });

  it('500 on download: not retried (only 502/503/504 are), restoreCache returns undefined with a warning', async () => {
    const key = uniq('500-dl');
    world.write({ 'data/a.txt': 'a' });
    const paths = [world.abs('data')];
    expect(await save(paths, key)).toBeGreaterThan(0);
    world.rm('data');
    svc.setFault({ kind: 'server-error', on: ['download'] });
    const r = await delta(() => capture(() => cache.restoreCache(paths, key)));
    expect(r.value.value).toBeUndefined();
    expect(r.value.warnings).toEqual([
      'Failed to restore: downloadCache failed: Cache service responded with 500',
    ]);
    expect(r.requests).toEqual({ lookup: 1, download: 1, 'get-blob': 1 });
    expect(world.exists('data/a.txt')).toBe(false);
  });

  it('429 on download: the client writes the error body as the archive; tar fails; undefined', async () => {
    const key = uniq('429-dl');
    world.write({ 'data/a.txt': 'a' });
    const paths = [world.abs('data')];
    expect(await save(paths, key)).toBeGreaterThan(0);
    world.rm('data');
    svc.setFault({ kind: 'rate-limit', on: ['download'] });
    const r = await capture(() => cache.restoreCache(paths, key));
    expect(r.value).toBeUndefined();
    expect(r.warnings).toEqual([
      `Failed to restore: "/usr/bin/tar" failed with error: The process '/usr/bin/tar' failed with exit code 2`,
    ]);
    expect(world.exists('data/a.txt')).toBe(false);
  });

  it('truncated download (half the bytes, then the connection drops): undefined, warning "aborted"', async () => {
    const key = uniq('trunc');
    world.write({ 'data/a.bin': randomContent(256 * 1024) });
    const paths = [world.abs('data')];
    expect(await save(paths, key)).toBeGreaterThan(0);
    const size = (await svc.entries()).find((e) => e.key === key)!.size;
    world.rm('data');
    svc.setFault({ kind: 'truncate-download' });
    const down0 = svc.traffic().downloadedBytes;
    const r = await capture(() => cache.restoreCache(paths, key));
    expect(r.error).toBeUndefined();
    expect(r.value).toBeUndefined();
    expect(r.warnings).toEqual(['Failed to restore: aborted']);
    expect(svc.traffic().downloadedBytes - down0).toBe(Math.floor(size / 2));
    expect(world.exists('data/a.bin')).toBe(false);
  });

  it('corrupt download (64 flipped bytes): zstd notices only at the end, tar exits 2, undefined — and the files tar already wrote STAY on disk', async () => {
    const key = uniq('corrupt');
    const files = {
      'data/1.bin': randomContent(1024 * 1024),
      'data/2.bin': randomContent(1024 * 1024),
      'data/3.bin': randomContent(1024 * 1024),
    };
    world.write(files);
    const paths = [world.abs('data')];
    expect(await save(paths, key)).toBeGreaterThan(0);
    world.rm('data');
    svc.setFault({ kind: 'corrupt-download', times: 1 });
    const r = await capture(() => cache.restoreCache(paths, key));
    expect(r.value).toBeUndefined();
    expect(r.warnings).toEqual([
      `Failed to restore: "/usr/bin/tar" failed with error: The process '/usr/bin/tar' failed with exit code 2`,
    ]);
    expect(r.infos.join('\n')).toMatch(/Decoding error .*(checksum|corruption)/i);
    // A "miss" that is not clean: whatever tar extracted before zstd failed is left behind, possibly
    // with the flipped bytes in it or cut short.
    const left = Object.keys(files).filter((f) => world.exists(f));
    expect(left.length).toBeGreaterThan(0);
    const intact = Object.entries(files).filter(
      ([f, data]) => world.exists(f) && sha256File(world.abs(f)) === sha256(data),
    );
    expect(intact.length).toBeLessThan(Object.keys(files).length);
    // The fault was used up: the next restore works.
    world.rm('data');
    const ok = await capture(() => cache.restoreCache(paths, key));
    expect(ok.value).toBe(key);
    for (const [f, data] of Object.entries(files))
      expect(sha256File(world.abs(f))).toBe(sha256(data));
  });

  it('slow answers (every operation delayed) still work', async () => {
    const key = uniq('slow');
    world.write({ 'data/a.txt': 'slow' });
    const paths = [world.abs('data')];
    svc.setFault({ kind: 'slow', delayMs: 400 });
    const s = await capture(() => cache.saveCache(paths, key));
    expect(s.value).toBeGreaterThan(0);
    expect(s.ms).toBeGreaterThanOrEqual(3 * 400 - 50); // create, upload, finalize
    world.rm('data');
    const r = await capture(() => cache.restoreCache(paths, key));
    expect(r.value).toBe(key);
    expect(r.ms).toBeGreaterThanOrEqual(2 * 400 - 50); // lookup, download
    expect(world.read('data/a.txt')).toBe('slow');
  });

  it('unreachable service: restore returns undefined (warning, ECONNREFUSED, no retry); save returns -1 (info)', async () => {
    world.useService(await unreachableServiceEnv());
    world.write({ 'data/a.txt': 'a' });
    const paths = [world.abs('data')];
    const r = await capture(() => cache.restoreCache(paths, 'any-key'));
    expect(r.error).toBeUndefined();
    expect(r.value).toBeUndefined();
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(
      /^Failed to restore: Failed to GetCacheEntryDownloadURL: Unable to make request: ECONNREFUSED/,
    );
    expect(r.ms).toBeLessThan(2000);
    const s = await capture(() => cache.saveCache(paths, 'any-key'));
    expect(s.error).toBeUndefined();
    expect(s.value).toBe(-1);
    expect(s.warnings).toEqual([]);
    expect(s.infos).toContain(
      'Failed to save: Unable to reserve cache with key any-key, another job may be creating this cache.',
    );
  });

  it('40 MB of random data goes up as one Put Blob (the SDK switches to blocks only above 128 MiB)', async () => {
    const key = uniq('big');
    const data = randomContent(40 * 1024 * 1024);
    world.write({ 'data/big.bin': data });
    const paths = [world.abs('data')];
    const s = await delta(() => save(paths, key));
    expect(s.value).toBeGreaterThan(0);
    expect(s.requests).toEqual({ create: 1, upload: 1, 'put-blob': 1, finalize: 1 });
    const size = (await svc.entries()).find((e) => e.key === key)!.size;
    expect(size).toBeGreaterThan(40 * 1024 * 1024);
    world.rm('data');
    expect(await restore(paths, key)).toBe(key);
    expect(sha256File(world.abs('data/big.bin'))).toBe(sha256(data));
  }, 60_000);
});

describe('Azure blob endpoints through the SDK the client uses', () => {
  it('Put Block + Put Block List (the >128 MiB path, here with 1 MiB blocks)', async () => {
    const key = uniq('blocks');
    const created = await twirp('CreateCacheEntry', { key, version: 'v-blocks' });
    expect(created.status).toBe(200);
    const url = created.body.signed_upload_url as string;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1\/actions-cache\/\d+\?.*sig=/);
    const file = path.join(world.root, 'blob.bin');
    const data = randomContent(5 * 1024 * 1024 + 12345);
    fs.writeFileSync(file, data);

    const up = await delta(() =>
      new BlockBlobClient(url).uploadFile(file, {
        blockSize: 1024 * 1024,
        maxSingleShotSize: 1024 * 1024,
        concurrency: 4,
      }),
    );
    expect(up.value._response.status).toBe(201);
    expect(up.requests).toEqual({ upload: 7, 'put-block': 6, 'put-block-list': 1 });

    const fin = await twirp('FinalizeCacheEntryUpload', {
      key,
      version: 'v-blocks',
      size_bytes: String(data.length),
    });
    expect(fin.body.ok).toBe(true);
    const look = await twirp('GetCacheEntryDownloadURL', { key, version: 'v-blocks' });
    const got = Buffer.from(
      await (await fetch(look.body.signed_download_url as string)).arrayBuffer(),
    );
    expect(sha256(got)).toBe(sha256(data));
  });

  it('the SDK download path (HEAD for the size, then x-ms-range GETs) returns the same bytes', async () => {
    const key = uniq('sdk-dl');
    const created = await twirp('CreateCacheEntry', { key, version: 'v1' });
    const data = randomContent(3 * 1024 * 1024 + 7);
    await new BlockBlobClient(created.body.signed_upload_url as string).uploadData(data, {
      blockSize: 1024 * 1024,
      maxSingleShotSize: 1024 * 1024,
    });
    const fin = await twirp('FinalizeCacheEntryUpload', {
      key,
      version: 'v1',
      size_bytes: String(data.length),
    });
    expect(fin.body).toEqual({ ok: true, entry_id: expect.any(String) });
    const look = await twirp('GetCacheEntryDownloadURL', { key, version: 'v1' });
    const dl = new BlockBlobClient(look.body.signed_download_url as string);
    const props = await dl.getProperties();
    expect(props.contentLength).toBe(data.length);
    expect(props.blobType).toBe('BlockBlob');
    const got = await dl.downloadToBuffer(0, data.length, {
      blockSize: 1024 * 1024,
      concurrency: 3,
    });
    expect(sha256(got)).toBe(sha256(data));
    const part = await fetch(look.body.signed_download_url as string, {
      headers: { Range: 'bytes=10-19' },
    });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 10-19/${data.length}`);
    expect(Buffer.from(await part.arrayBuffer())).toEqual(data.subarray(10, 20));
  });
});

describe('protocol details', () => {
  it('twirp errors are {code,msg} JSON with the twirp status', async () => {
    expect(await twirp('NoSuchMethod', {})).toMatchObject({
      status: 404,
      body: { code: 'bad_route' },
    });
    expect(await twirp('CreateCacheEntry', '{not json')).toMatchObject({
      status: 400,
      body: { code: 'malformed' },
    });
    expect(await twirp('CreateCacheEntry', { key: 'k' })).toMatchObject({
      status: 400,
      body: { code: 'invalid_argument' },
    });
    const noAuth = await fetch(`${svc.url}${TWIRP_PREFIX}GetCacheEntryDownloadURL`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ key: 'k', version: 'v' }),
    });
    expect(noAuth.status).toBe(401);
    expect(await noAuth.json()).toMatchObject({ code: 'unauthenticated' });
  });

  it('create → 409 while in progress; finalize checks the size; blobs need the right sig; lookups only see finalized entries', async () => {
    const key = uniq('proto');
    const c1 = await twirp('CreateCacheEntry', { key, version: 'v' });
    expect(c1.body.ok).toBe(true);
    expect(await twirp('CreateCacheEntry', { key, version: 'v' })).toMatchObject({
      status: 409,
      body: { code: 'already_exists' },
    });
    // Same key, other version: a separate entry.
    expect((await twirp('CreateCacheEntry', { key, version: 'other' })).body.ok).toBe(true);

    const url = new URL(c1.body.signed_upload_url as string);
    const bad = new URL(url);
    bad.searchParams.set('sig', 'nope');
    const put = (u: URL, body: string) =>
      fetch(u, { method: 'PUT', headers: { 'x-ms-blob-type': 'BlockBlob' }, body });
    expect((await put(bad, 'x')).status).toBe(403);
    expect((await put(url, 'hello')).status).toBe(201);

    expect((await twirp('GetCacheEntryDownloadURL', { key, version: 'v' })).body.ok).toBe(false);
    const wrong = await twirp('FinalizeCacheEntryUpload', { key, version: 'v', size_bytes: '4' });
    expect(wrong.body).toMatchObject({
      ok: false,
      message: expect.stringContaining('does not match'),
    });
    // The failed finalize dropped the reservation: create again, upload, finalize properly.
    const c2 = await twirp('CreateCacheEntry', { key, version: 'v' });
    expect((await put(new URL(c2.body.signed_upload_url as string), 'hello')).status).toBe(201);
    expect(
      (await twirp('FinalizeCacheEntryUpload', { key, version: 'v', size_bytes: '5' })).body.ok,
    ).toBe(true);
    expect(
      await twirp('FinalizeCacheEntryUpload', { key, version: 'v', size_bytes: '5' }),
    ).toMatchObject({
      status: 404,
      body: { code: 'not_found' },
    });
    const look = await twirp('GetCacheEntryDownloadURL', {
      key,
      version: 'v',
      restore_keys: ['x'],
    });
    expect(look.body).toMatchObject({ ok: true, matched_key: key });
    const got = await fetch(look.body.signed_download_url as string);
    expect(await got.text()).toBe('hello');
    expect(got.headers.get('content-length')).toBe('5');
    const head = await fetch(look.body.signed_download_url as string, { method: 'HEAD' });
    expect(head.headers.get('x-ms-blob-type')).toBe('BlockBlob');
    expect((await svc.entries()).filter((e) => e.key === key)).toEqual([
      { key, version: 'v', size: 5, createdAt: expect.any(Number) },
    ]);
  });

  it('faults: validated, limited by `times`, scoped by `on`, and 429 carries Retry-After', async () => {
    expect(() => svc.setFault({ kind: 'truncate-download', on: ['create'] })).toThrow(
      /does not apply/,
    );
    expect(() => svc.setFault({ kind: 'slow', times: -1 })).toThrow(/times/);
    svc.setFault({ kind: 'rate-limit', on: ['lookup'], times: 2, retryAfterSeconds: 7 });
    const create = await twirp('CreateCacheEntry', { key: uniq('f'), version: 'v' });
    expect(create.status).toBe(200);
    const a = await twirp('GetCacheEntryDownloadURL', { key: 'x', version: 'v' });
    expect(a.status).toBe(429);
    expect(a.headers.get('retry-after')).toBe('7');
    expect(a.body).toMatchObject({ code: 'resource_exhausted' });
    expect((await twirp('GetCacheEntryDownloadURL', { key: 'x', version: 'v' })).status).toBe(429);
    expect((await twirp('GetCacheEntryDownloadURL', { key: 'x', version: 'v' })).status).toBe(200);
  });

  it('parses Range headers', () => {
    expect(parseRange(undefined, 10)).toBeNull();
    expect(parseRange('bytes=0-4', 10)).toEqual({ start: 0, end: 4 });
    expect(parseRange('bytes=5-', 10)).toEqual({ start: 5, end: 9 });
    expect(parseRange('bytes=-3', 10)).toEqual({ start: 7, end: 9 });
    expect(parseRange('bytes=8-100', 10)).toEqual({ start: 8, end: 9 });
    expect(parseRange('bytes=10-', 10)).toBe('invalid');
    expect(parseRange('items=0-1', 10)).toBe('invalid');
  });

  it('with a dir, finalized entries survive a restart', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'go-cache-svc-dir-'));
    try {
      const a = await startCacheService({ dir });
      world.useService(a.env);
      world.write({ 'data/a.txt': 'persist' });
      const paths = [world.abs('data')];
      expect(await save(paths, 'persisted')).toBeGreaterThan(0);
      await a.stop();
      expect(fs.existsSync(path.join(dir, 'index.json'))).toBe(true);
      const b = await startCacheService({ dir });
      try {
        world.useService(b.env);
        world.rm('data');
        expect((await b.entries()).map((e) => e.key)).toEqual(['persisted']);
        expect(await restore(paths, 'persisted')).toBe('persisted');
        expect(world.read('data/a.txt')).toBe('persist');
        // Ids continue after the saved ones.
        world.write({ 'data/a.txt': 'second' });
        expect(await save(paths, 'persisted-2')).toBe(2);
      } finally {
        await b.stop();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
