// The gha-cache-server wrapper, with stand-in binaries (the real one may not be installable here):
// missing → null and one loud warning; present → started with the configuration we assume, waited for,
// listed through its management API, and stopped; broken → a thrown error carrying its output.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cacheServiceFactories } from './services.js';

let dir: string;
const savedEnv = { ...process.env };

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'go-cache-external-'));
  vi.resetModules(); // the "warn once" flag is per module instance
});
afterEach(() => {
  process.env = { ...savedEnv };
  vi.restoreAllMocks();
  fs.rmSync(dir, { recursive: true, force: true });
});

function fakeServer(body: string): string {
  const file = path.join(dir, 'cache-server');
  fs.writeFileSync(file, `#!${process.execPath}\n${body}\n`, { mode: 0o755 });
  return file;
}

const FAKE = `
const http = require('node:http');
const fs = require('node:fs');
fs.writeFileSync(process.env.FAKE_ENV_OUT, JSON.stringify(process.env));
const [host, port] = process.env.LISTEN_ADDR.split(':');
http.createServer((req, res) => {
  if (req.url === '/health') { res.end('healthy'); return; }
  if (req.url.startsWith('/management-api/cache-entries')) {
    if (req.headers['x-api-key'] !== process.env.MANAGEMENT_API_KEY) { res.writeHead(401); res.end(); return; }
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ total: 1, items: [{ ID: 'x', Key: 'k1', Version: 'v1', UpdatedAt: 1234 }] }));
    return;
  }
  res.writeHead(404); res.end();
}).listen(Number(port), host);
process.on('SIGTERM', () => { fs.writeFileSync(process.env.FAKE_ENV_OUT + '.stopped', 'yes'); process.exit(0); });
`;

describe('startExternalCacheService', () => {
  it('returns null and warns loudly, once, when the binary is missing', async () => {
    process.env.GHA_CACHE_SERVER_BIN = path.join(dir, 'nope');
    const writes: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    const { startExternalCacheService, NOT_INSTALLED_WARNING } = await import('./external.js');
    expect(await startExternalCacheService()).toBeNull();
    expect(await startExternalCacheService()).toBeNull();
    const text = writes.join('');
    expect(text).toContain(NOT_INSTALLED_WARNING);
    expect(text.split(NOT_INSTALLED_WARNING)).toHaveLength(2);
    expect(NOT_INSTALLED_WARNING).toBe(
      '!!! gha-cache-server is not installed: the e2e suite runs against the local service only',
    );
  });

  it('starts the binary with the assumed configuration, lists entries, refuses faults, stops it', async () => {
    const envOut = path.join(dir, 'env.json');
    process.env.GHA_CACHE_SERVER_BIN = fakeServer(FAKE);
    process.env.FAKE_ENV_OUT = envOut;
    const { startExternalCacheService } = await import('./external.js');
    const svc = await startExternalCacheService();
    expect(svc).not.toBeNull();
    try {
      expect(svc!.name).toBe('gha-cache-server');
      expect(svc!.supportsFaults).toBe(false);
      expect(() => svc!.setFault({ kind: 'server-error' })).toThrow(/fault/);
      expect(svc!.traffic()).toEqual({ uploadedBytes: 0, downloadedBytes: 0, requests: {} });
      const port = new URL(svc!.url).port;
      const env = JSON.parse(fs.readFileSync(envOut, 'utf8')) as Record<string, string>;
      expect(env).toMatchObject({
        PORT: port,
        LISTEN_ADDR: `127.0.0.1:${port}`,
        API_BASE_URL: `http://127.0.0.1:${port}`,
        STORAGE_DRIVER: 'filesystem',
        DB_DRIVER: 'sqlite',
        SKIP_TOKEN_VALIDATION: 'true',
      });
      expect(env.STORAGE_FILESYSTEM_PATH).toBeTruthy();
      expect(env.DB_SQLITE_PATH).toMatch(/sqlite\.db$/);
      expect(svc!.env.ACTIONS_RESULTS_URL).toBe(`http://127.0.0.1:${port}/`);
      expect(svc!.env.ACTIONS_CACHE_SERVICE_V2).toBe('true');
      // The token carries what gha-cache-server reads with SKIP_TOKEN_VALIDATION.
      const claims = JSON.parse(
        Buffer.from(svc!.env.ACTIONS_RUNTIME_TOKEN!.split('.')[1]!, 'base64url').toString(),
      ) as { ac: string; repository_id: string };
      expect(JSON.parse(claims.ac)).toEqual([{ Scope: 'refs/heads/main', Permission: 3 }]);
      expect(claims.repository_id).toBe('1');
      expect(await svc!.entries()).toEqual([
        { key: 'k1', version: 'v1', size: 0, createdAt: 1234 },
      ]);
    } finally {
      await svc!.stop();
    }
    expect(fs.readFileSync(`${envOut}.stopped`, 'utf8')).toBe('yes');
  });

  it('throws, with the output, when the binary is there but does not come up', async () => {
    process.env.GHA_CACHE_SERVER_BIN = fakeServer(
      `console.error('panic: API_BASE_URL is required'); process.exit(2);`,
    );
    const { startExternalCacheService } = await import('./external.js');
    await expect(startExternalCacheService({ startTimeoutMs: 5000 })).rejects.toThrow(
      /did not start: exited \(2\)[\s\S]*API_BASE_URL is required/,
    );
  });
});

describe('cacheServiceFactories', () => {
  it('offers the local service and gha-cache-server', async () => {
    process.env.GHA_CACHE_SERVER_BIN = path.join(dir, 'nope');
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const factories = cacheServiceFactories();
    expect(factories.map((f) => f.name)).toEqual(['local', 'gha-cache-server']);
    const local = await factories[0]!.start();
    expect(local).not.toBeNull();
    expect(local!.supportsFaults).toBe(true);
    await local!.stop();
    expect(await factories[1]!.start()).toBeNull();
  });
});
