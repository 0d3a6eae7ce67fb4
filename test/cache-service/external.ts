// An independent implementation of the Actions cache service v2, github.com/navruzm/gha-cache-server
// (its cmd/cache-server), so the e2e suites are not only checked against our own reading of the
// protocol. .ci/install-gha-cache-server.sh installs it; when it is missing, startExternalCacheService
// warns loudly (once) and returns null, and the suites run against the local service only.
//
// Everything we assume about its configuration lives in ghaCacheServerEnv() below (read from its
// internal/config/config.go at the pinned commit).
//
// Known differences from the local service (and so, possibly, from GitHub's):
// - CreateCacheEntry for a key+version that is already FINALIZED succeeds and the new upload replaces
//   the entry; only an upload in progress is refused, with 200 {ok:false} rather than 409.
// - Downloads are streamed without Content-Length, so the client cannot detect a truncated download.
// - No fault injection, no traffic counters; entries() goes through its management API and has no
//   sizes (size 0).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  cacheEnvFor,
  freePort,
  type CacheEntryInfo,
  type CacheService,
  type FaultSpec,
  type Traffic,
} from './server.js';

/** Keep in sync with .ci/install-gha-cache-server.sh. */
export const GHA_CACHE_SERVER_PACKAGE = 'github.com/navruzm/gha-cache-server/cmd/cache-server';
export const GHA_CACHE_SERVER_VERSION = '18103f171bfd';
export const NOT_INSTALLED_WARNING =
  '!!! gha-cache-server is not installed: the e2e suite runs against the local service only';

/** Where the install script puts the binary: $GHA_CACHE_SERVER_INSTALL_DIR or ~/.cache/go-cache-ci/bin. */
export function ghaCacheServerInstallDir(): string {
  return (
    process.env.GHA_CACHE_SERVER_INSTALL_DIR ||
    path.join(os.homedir(), '.cache', 'go-cache-ci', 'bin')
  );
}

/** $GHA_CACHE_SERVER_BIN if set, else the installed binary; null when neither exists. */
export function findGhaCacheServerBinary(): string | null {
  const explicit = process.env.GHA_CACHE_SERVER_BIN;
  if (explicit) return fs.existsSync(explicit) ? explicit : null;
  const exe = process.platform === 'win32' ? 'cache-server.exe' : 'cache-server';
  const candidate = path.join(ghaCacheServerInstallDir(), exe);
  return fs.existsSync(candidate) ? candidate : null;
}

/** The server's configuration, all in one place. */
export function ghaCacheServerEnv(o: {
  port: number;
  dataDir: string;
  managementKey: string;
}): Record<string, string> {
  const base = `http://127.0.0.1:${o.port}`;
  return {
    // LISTEN_ADDR wins over PORT in its config; both are set so either reading works, and the
    // address keeps it on loopback.
    LISTEN_ADDR: `127.0.0.1:${o.port}`,
    PORT: String(o.port),
    // Signed upload/download URLs are built as API_BASE_URL + "/devstoreaccount1/upload/<id>" and
    // API_BASE_URL + "/download/<id>": no trailing slash.
    API_BASE_URL: base,
    STORAGE_DRIVER: 'filesystem',
    STORAGE_FILESYSTEM_PATH: path.join(o.dataDir, 'storage'),
    DB_DRIVER: 'sqlite',
    DB_SQLITE_PATH: path.join(o.dataDir, 'sqlite.db'),
    // Decode the runtime token without checking its signature against GitHub's JWKS; it still needs
    // the `ac` scopes and `repository_id` claims, which makeRuntimeToken() provides.
    SKIP_TOKEN_VALIDATION: 'true',
    DISABLE_CLEANUP_JOBS: 'true',
    ENABLE_DIRECT_DOWNLOADS: 'false',
    MANAGEMENT_API_KEY: o.managementKey,
    DEBUG: process.env.GHA_CACHE_SERVER_DEBUG ? 'true' : 'false',
  };
}

let warnedMissing = false;

function warnMissing(): void {
  if (warnedMissing) return;
  warnedMissing = true;
  const bar = '!'.repeat(100);
  process.stderr.write(
    [
      bar,
      NOT_INSTALLED_WARNING,
      `!!! looked for $GHA_CACHE_SERVER_BIN (${process.env.GHA_CACHE_SERVER_BIN ?? 'unset'}) and ${path.join(ghaCacheServerInstallDir(), 'cache-server')}`,
      '!!! install it with: bash .ci/install-gha-cache-server.sh',
      bar,
      '',
    ].join('\n'),
  );
}

class ExternalCacheService implements CacheService {
  readonly name = 'gha-cache-server';
  readonly supportsFaults = false;
  readonly url: string;
  readonly env: Record<string, string>;

  constructor(
    private readonly child: ChildProcess,
    port: number,
    private readonly dataDir: string,
    private readonly managementKey: string,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    this.env = cacheEnvFor(this.url);
  }

  setFault(_fault: FaultSpec | null): void {
    throw new Error('gha-cache-server does not support fault injection (supportsFaults is false)');
  }

  async entries(): Promise<CacheEntryInfo[]> {
    const out: CacheEntryInfo[] = [];
    try {
      for (let page = 1; page <= 100; page++) {
        const res = await fetch(
          `${this.url}/management-api/cache-entries?page=${page}&itemsPerPage=100`,
          { headers: { 'X-Api-Key': this.managementKey }, signal: AbortSignal.timeout(10_000) },
        );
        if (!res.ok) return out;
        const body = (await res.json()) as {
          total?: number;
          items?: Array<Record<string, unknown>>;
        };
        const items = body.items ?? [];
        for (const it of items) {
          out.push({
            key: String(it.Key ?? it.key ?? ''),
            version: String(it.Version ?? it.version ?? ''),
            size: 0, // not recorded by gha-cache-server
            createdAt: Number(it.UpdatedAt ?? it.updatedAt ?? 0),
          });
        }
        if (items.length < 100 || out.length >= (body.total ?? 0)) break;
      }
    } catch {
      // No listing: entries are optional for this implementation.
    }
    return out.sort((a, b) => a.createdAt - b.createdAt);
  }

  traffic(): Traffic {
    return { uploadedBytes: 0, downloadedBytes: 0, requests: {} };
  }

  async stop(): Promise<void> {
    await stopChild(this.child);
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function waitHealthy(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`exited (${child.exitCode ?? child.signalCode}) before answering`);
    }
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`did not answer on ${url}/health within ${timeoutMs} ms`);
}

/**
 * Starts gha-cache-server on a free loopback port with its data in a temp dir. Returns null (after a
 * loud warning, once per process) when the binary is not installed; throws when it is installed but
 * does not come up, since that is a real problem worth seeing.
 */
export async function startExternalCacheService(
  opts: { startTimeoutMs?: number } = {},
): Promise<CacheService | null> {
  const bin = findGhaCacheServerBinary();
  if (!bin) {
    warnMissing();
    return null;
  }
  let lastError: Error | null = null;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gha-cache-server-'));
    const port = await freePort();
    const managementKey = randomBytes(16).toString('hex');
    const logFile = path.join(dataDir, 'server.log');
    const log = fs.openSync(logFile, 'a');
    const child = spawn(bin, [], {
      cwd: dataDir,
      env: { ...process.env, ...ghaCacheServerEnv({ port, dataDir, managementKey }) },
      stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    const spawned = await new Promise<Error | null>((resolve) => {
      child.once('spawn', () => resolve(null));
      child.once('error', (err) => resolve(err));
    });
    try {
      if (spawned) throw spawned;
      await waitHealthy(`http://127.0.0.1:${port}`, child, opts.startTimeoutMs ?? 20_000);
      return new ExternalCacheService(child, port, dataDir, managementKey);
    } catch (err) {
      await stopChild(child).catch(() => undefined);
      const output = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(-4000) : '';
      fs.rmSync(dataDir, { recursive: true, force: true });
      lastError = new Error(
        `gha-cache-server (${bin}) did not start: ${err instanceof Error ? err.message : String(err)}` +
          (output ? `\n--- its output ---\n${output}` : ''),
      );
      // A port taken between freePort() and its bind is worth another try; anything else is not.
      if (!/address already in use/i.test(output)) break;
    }
  }
  throw lastError ?? new Error('gha-cache-server did not start');
}
