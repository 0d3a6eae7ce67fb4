// A local GitHub Actions cache service (cache service v2) for tests, speaking the protocol exactly as
// @actions/cache 6.3.0 uses it:
//
// - Twirp JSON RPCs under POST /twirp/github.actions.results.api.v1.CacheService/<Method>
//   (CreateCacheEntry, FinalizeCacheEntryUpload, GetCacheEntryDownloadURL). Requests come with
//   proto field names (`restore_keys`, `size_bytes`); answers use them too (`signed_upload_url`,
//   `signed_download_url`, `matched_key`, `entry_id`). Errors are `{code,msg}` JSON with the twirp
//   HTTP status (the client JSON.parses every body, so an error body that is not JSON would be retried).
// - An Azure Blob Storage imitation for the signed URLs, path style because the host is an IP:
//   /devstoreaccount1/<container>/<blob>. The client uploads with the Azure SDK
//   (BlockBlobClient.uploadFile, maxSingleShotSize 128 MiB): Put Blob for archives up to 128 MiB, above
//   that Put Block (`comp=block&blockid=…`, 64 MiB blocks, 8 in parallel) + Put Block List
//   (`comp=blocklist`, XML body). Restores from a non-*.blob.core.windows.net host take a single plain
//   GET (downloadCacheHttpClient); HEAD and Range/x-ms-range are served too for the SDK's download path.
//
// Semantics follow GitHub's documented matching: among FINALIZED entries with the same version, the
// primary key exactly, then the primary key as a prefix, then for each restore key exactly and then as
// a prefix; the newest entry wins each step. Creating an entry whose key+version exists (finalized or in
// progress) is a twirp `already_exists` (HTTP 409).
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, promises as fsp } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

export type FaultKind =
  'conflict' | 'rate-limit' | 'server-error' | 'slow' | 'truncate-download' | 'corrupt-download';
export type Operation = 'create' | 'finalize' | 'lookup' | 'upload' | 'download';
export interface FaultSpec {
  kind: FaultKind;
  /** Operations the fault applies to; default: every operation the kind applies to. */
  on?: Operation[];
  /** How many matching requests get the fault; default: unlimited. */
  times?: number;
  /** For 'slow': how long to wait before answering (default 2000 ms). */
  delayMs?: number;
  /** For 'rate-limit': the Retry-After header, in seconds (default 1). */
  retryAfterSeconds?: number;
}
export interface CacheEntryInfo {
  key: string;
  version: string;
  size: number;
  createdAt: number;
}
export interface Traffic {
  uploadedBytes: number;
  downloadedBytes: number;
  /**
   * Requests per Operation ('create', 'finalize', 'lookup', 'upload', 'download'), faulted ones
   * included, plus finer counters: 'put-blob', 'put-block', 'put-block-list', 'get-blob',
   * 'head-blob', and 'other' for anything that is not part of the v2 protocol (e.g. a v1 client).
   */
  requests: Record<string, number>;
}
export interface CacheService {
  readonly name: string;
  readonly url: string;
  readonly env: Record<string, string>;
  readonly supportsFaults: boolean;
  setFault(fault: FaultSpec | null): void;
  entries(): Promise<CacheEntryInfo[]>;
  traffic(): Traffic;
  stop(): Promise<void>;
}
export interface StartOptions {
  port?: number;
  /** Where blobs (and index.json) live; kept on stop. Default: a temp dir, removed on stop. */
  dir?: string;
  /** Called with one line per request (method, path, status), e.g. for the CLI. */
  log?: (line: string) => void;
}

export const TWIRP_PREFIX = '/twirp/github.actions.results.api.v1.CacheService/';
export const BLOB_ACCOUNT = 'devstoreaccount1';
export const BLOB_CONTAINER = 'actions-cache';
const AZURE_VERSION = '2025-11-05';

export const ALL_OPERATIONS: readonly Operation[] = [
  'create',
  'finalize',
  'lookup',
  'upload',
  'download',
];
/** The operations each fault kind can apply to (and applies to when `on` is not given). */
export const FAULT_APPLIES_TO: Readonly<Record<FaultKind, readonly Operation[]>> = {
  conflict: ['create', 'finalize', 'upload'],
  'rate-limit': ALL_OPERATIONS,
  'server-error': ALL_OPERATIONS,
  slow: ALL_OPERATIONS,
  'truncate-download': ['download'],
  'corrupt-download': ['download'],
};

/**
 * An ACTIONS_RUNTIME_TOKEN shaped like the runner's: an (unsigned) JWT whose `ac` claim holds the cache
 * scopes as a JSON string (Permission 1 = read, 2 = write, 3 = both) and a `repository_id`. The local
 * service only needs a bearer token; gha-cache-server with SKIP_TOKEN_VALIDATION decodes these claims.
 */
export function makeRuntimeToken(opts: { scope?: string; permission?: number } = {}): string {
  const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const payload = {
    iss: 'go-cache-test',
    iat: now,
    exp: now + 24 * 3600,
    repository_id: '1',
    ac: JSON.stringify([
      { Scope: opts.scope ?? 'refs/heads/main', Permission: opts.permission ?? 3 },
    ]),
  };
  const sig = Buffer.from('go-cache-local-test-signature').toString('base64url');
  return `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64(payload)}.${sig}`;
}

/** The environment @actions/cache needs to talk v2 to a service at `baseUrl` (no trailing slash). */
export function cacheEnvFor(baseUrl: string, token = makeRuntimeToken()): Record<string, string> {
  return {
    ACTIONS_CACHE_SERVICE_V2: 'true',
    ACTIONS_RESULTS_URL: `${baseUrl}/`,
    ACTIONS_CACHE_URL: `${baseUrl}/`,
    ACTIONS_RUNTIME_TOKEN: token,
  };
}

/** The same environment, pointing at a 127.0.0.1 port that nothing listens on. */
export async function unreachableServiceEnv(): Promise<Record<string, string>> {
  const port = await freePort();
  return cacheEnvFor(`http://127.0.0.1:${port}`);
}

/** A port that was free a moment ago (bound, then closed). */
export async function freePort(): Promise<number> {
  const srv = http.createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export function validateFault(fault: FaultSpec): void {
  const applicable = FAULT_APPLIES_TO[fault.kind];
  if (!applicable) throw new Error(`unknown fault kind ${JSON.stringify(fault.kind)}`);
  for (const op of fault.on ?? []) {
    if (!applicable.includes(op)) {
      throw new Error(
        `fault ${fault.kind} does not apply to ${op} (it applies to ${applicable.join(', ')})`,
      );
    }
  }
  if (fault.times !== undefined && !(Number.isInteger(fault.times) && fault.times >= 0)) {
    throw new Error(`fault times must be a non-negative integer, got ${fault.times}`);
  }
}

interface Entry {
  id: number;
  key: string;
  version: string;
  createdAt: number;
  finalized: boolean;
  size: number;
  sig: string;
}

class TwirpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    msg: string,
  ) {
    super(msg);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function requestId(): string {
  return randomBytes(16).toString('hex');
}

function etagOf(entry: Entry): string {
  return `"0x8D${createHash('sha1').update(`${entry.id}:${entry.size}:${entry.sig}`).digest('hex').slice(0, 13).toUpperCase()}"`;
}

/** Parses `bytes=a-b`, `bytes=a-`, `bytes=-n` against `size`; null if absent, 'invalid' if unsatisfiable. */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | null | 'invalid' {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'invalid';
  let start: number;
  let end: number;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return 'invalid';
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || end < start) return 'invalid';
  return { start, end };
}

class LocalCacheService implements CacheService {
  readonly name = 'local';
  readonly supportsFaults = true;
  url = '';
  env: Record<string, string> = {};
  private readonly server: http.Server;
  private readonly entriesById = new Map<number, Entry>();
  private nextId = 1;
  private fault: (FaultSpec & { remaining: number }) | null = null;
  private readonly counters: Traffic = { uploadedBytes: 0, downloadedBytes: 0, requests: {} };

  constructor(
    private readonly dir: string,
    private readonly ownsDir: boolean,
    private readonly log?: (line: string) => void,
  ) {
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.log?.(`internal error: ${err instanceof Error ? err.stack : String(err)}`);
        if (!res.headersSent) {
          res.writeHead(500, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ code: 'internal', msg: String(err) }));
        } else {
          res.destroy();
        }
      });
    });
    this.server.keepAliveTimeout = 5_000;
  }

  async start(port: number): Promise<void> {
    await fsp.mkdir(path.join(this.dir, 'blobs'), { recursive: true });
    await fsp.mkdir(path.join(this.dir, 'blocks'), { recursive: true });
    await fsp.mkdir(path.join(this.dir, 'tmp'), { recursive: true });
    await this.loadIndex();
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const addr = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${addr.port}`;
    this.env = cacheEnvFor(this.url);
  }

  setFault(fault: FaultSpec | null): void {
    if (fault === null) {
      this.fault = null;
      return;
    }
    validateFault(fault);
    this.fault = { ...fault, remaining: fault.times ?? Infinity };
  }

  async entries(): Promise<CacheEntryInfo[]> {
    return [...this.entriesById.values()]
      .filter((e) => e.finalized)
      .sort((a, b) => a.id - b.id)
      .map((e) => ({ key: e.key, version: e.version, size: e.size, createdAt: e.createdAt }));
  }

  traffic(): Traffic {
    return {
      uploadedBytes: this.counters.uploadedBytes,
      downloadedBytes: this.counters.downloadedBytes,
      requests: { ...this.counters.requests },
    };
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    if (this.ownsDir) await fsp.rm(this.dir, { recursive: true, force: true });
  }

  // --- plumbing -----------------------------------------------------------------------------------

  private count(name: string): void {
    this.counters.requests[name] = (this.counters.requests[name] ?? 0) + 1;
  }

  /** The active fault for this operation, consuming one of its `times`. */
  private takeFault(op: Operation): FaultSpec | null {
    const f = this.fault;
    if (!f) return null;
    const on = f.on ?? FAULT_APPLIES_TO[f.kind];
    if (!on.includes(op) || !FAULT_APPLIES_TO[f.kind].includes(op)) return null;
    if (f.remaining <= 0) return null;
    f.remaining -= 1;
    if (f.remaining <= 0) this.fault = null;
    return f;
  }

  private blobPath(id: number): string {
    return path.join(this.dir, 'blobs', String(id));
  }

  private blocksDir(id: number): string {
    return path.join(this.dir, 'blocks', String(id));
  }

  private tmpPath(): string {
    return path.join(this.dir, 'tmp', `${Date.now()}-${randomBytes(6).toString('hex')}`);
  }

  private async loadIndex(): Promise<void> {
    const file = path.join(this.dir, 'index.json');
    if (!existsSync(file)) return;
    const saved = JSON.parse(await fsp.readFile(file, 'utf8')) as { entries: Entry[] };
    for (const e of saved.entries) {
      if (e.finalized && existsSync(this.blobPath(e.id))) this.entriesById.set(e.id, e);
      this.nextId = Math.max(this.nextId, e.id + 1);
    }
  }

  private async saveIndex(): Promise<void> {
    const file = path.join(this.dir, 'index.json');
    const tmp = this.tmpPath();
    const entries = [...this.entriesById.values()].filter((e) => e.finalized);
    await fsp.writeFile(tmp, JSON.stringify({ entries }, null, 1));
    await fsp.rename(tmp, file);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    res.on('finish', () =>
      this.log?.(`${req.method} ${u.pathname}${u.search} -> ${res.statusCode}`),
    );
    if (u.pathname.startsWith(TWIRP_PREFIX)) {
      await this.handleTwirp(req, res, u.pathname.slice(TWIRP_PREFIX.length));
      return;
    }
    const blobPrefix = `/${BLOB_ACCOUNT}/${BLOB_CONTAINER}/`;
    if (u.pathname.startsWith(blobPrefix)) {
      await this.handleBlob(req, res, u, u.pathname.slice(blobPrefix.length));
      return;
    }
    this.count('other');
    await readBody(req);
    if (u.pathname === '/health' || u.pathname === '/') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('OK');
      return;
    }
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end(
      JSON.stringify({
        code: 'bad_route',
        msg:
          `not part of the cache service v2 protocol: ${req.method} ${u.pathname}` +
          (u.pathname.includes('_apis/artifactcache')
            ? ' (a v1 client: is ACTIONS_CACHE_SERVICE_V2 unset, or GITHUB_SERVER_URL not github.com?)'
            : ''),
      }),
    );
  }

  // --- twirp --------------------------------------------------------------------------------------

  private async handleTwirp(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    method: string,
  ): Promise<void> {
    const op: Operation | undefined = (
      {
        CreateCacheEntry: 'create',
        FinalizeCacheEntryUpload: 'finalize',
        GetCacheEntryDownloadURL: 'lookup',
      } as Record<string, Operation>
    )[method];
    const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      const text = JSON.stringify(body);
      res.writeHead(status, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(text),
        ...headers,
      });
      res.end(text);
    };
    const raw = await readBody(req);
    if (!op) {
      this.count('other');
      send(404, { code: 'bad_route', msg: `no handler for path ${TWIRP_PREFIX}${method}` });
      return;
    }
    this.count(op);
    try {
      if (req.method !== 'POST') {
        throw new TwirpError(404, 'bad_route', `unsupported method ${req.method} (only POST)`);
      }
      const fault = this.takeFault(op);
      if (fault) {
        const handled = await this.twirpFault(fault, op, send);
        if (handled) return;
      }
      const auth = req.headers.authorization ?? '';
      if (!/^Bearer \S+/.test(auth)) {
        throw new TwirpError(401, 'unauthenticated', 'missing or malformed Authorization header');
      }
      if (!String(req.headers['content-type'] ?? '').includes('application/json')) {
        throw new TwirpError(
          415,
          'bad_route',
          `unexpected Content-Type ${req.headers['content-type']} (only application/json is served)`,
        );
      }
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
      } catch {
        throw new TwirpError(400, 'malformed', 'the request body is not valid JSON');
      }
      if (typeof body !== 'object' || body === null) {
        throw new TwirpError(400, 'malformed', 'the request body is not a JSON object');
      }
      const reply =
        op === 'create'
          ? this.createEntry(body)
          : op === 'finalize'
            ? await this.finalizeEntry(body)
            : this.lookup(body);
      send(200, reply);
    } catch (err) {
      if (err instanceof TwirpError) {
        send(err.status, { code: err.code, msg: err.message });
        return;
      }
      throw err;
    }
  }

  /** Applies a fault to a twirp call; false means "carry on normally" (after a delay). */
  private async twirpFault(
    fault: FaultSpec,
    op: Operation,
    send: (status: number, body: unknown, headers?: Record<string, string>) => void,
  ): Promise<boolean> {
    switch (fault.kind) {
      case 'slow':
        await sleep(fault.delayMs ?? 2000);
        return false;
      case 'conflict':
        send(409, {
          code: 'already_exists',
          msg: `injected fault: cache entry with the same key, version, and scope already exists (${op})`,
        });
        return true;
      case 'rate-limit':
        send(
          429,
          { code: 'resource_exhausted', msg: `injected fault: rate limit exceeded (${op})` },
          { 'Retry-After': String(fault.retryAfterSeconds ?? 1) },
        );
        return true;
      case 'server-error':
        send(500, { code: 'internal', msg: `injected fault: internal error (${op})` });
        return true;
      default:
        return false;
    }
  }

  private keyAndVersion(body: Record<string, unknown>): { key: string; version: string } {
    const { key, version } = body;
    if (typeof key !== 'string' || key === '') {
      throw new TwirpError(400, 'invalid_argument', 'key is required');
    }
    if (typeof version !== 'string' || version === '') {
      throw new TwirpError(400, 'invalid_argument', 'version is required');
    }
    if (key.length > 512) throw new TwirpError(400, 'invalid_argument', 'key is too long');
    return { key, version };
  }

  private createEntry(body: Record<string, unknown>): Record<string, unknown> {
    const { key, version } = this.keyAndVersion(body);
    for (const e of this.entriesById.values()) {
      if (e.key === key && e.version === version) {
        throw new TwirpError(
          409,
          'already_exists',
          e.finalized
            ? 'cache entry with the same key, version, and scope already exists'
            : 'an upload for this key, version, and scope is already in progress',
        );
      }
    }
    const entry: Entry = {
      id: this.nextId++,
      key,
      version,
      createdAt: Date.now(),
      finalized: false,
      size: 0,
      sig: randomBytes(24).toString('base64url'),
    };
    this.entriesById.set(entry.id, entry);
    return { ok: true, signed_upload_url: this.signedUrl(entry, 'cw') };
  }

  private signedUrl(entry: Entry, perms: string): string {
    const se = new Date(Date.now() + 6 * 3600 * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
    const q = new URLSearchParams({ sv: AZURE_VERSION, sr: 'b', sp: perms, se, sig: entry.sig });
    return `${this.url}/${BLOB_ACCOUNT}/${BLOB_CONTAINER}/${entry.id}?${q.toString()}`;
  }

  private async finalizeEntry(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const { key, version } = this.keyAndVersion(body);
    const entry = [...this.entriesById.values()].find(
      (e) => e.key === key && e.version === version && !e.finalized,
    );
    if (!entry) {
      throw new TwirpError(
        404,
        'not_found',
        'no cache entry upload in progress for this key and version',
      );
    }
    const st = await fsp.stat(this.blobPath(entry.id)).catch(() => null);
    if (!st) {
      this.entriesById.delete(entry.id);
      return { ok: false, message: 'no data was uploaded for this cache entry' };
    }
    const declared = Number(body.size_bytes ?? body.sizeBytes);
    if (Number.isFinite(declared) && declared !== st.size) {
      this.entriesById.delete(entry.id);
      await fsp.rm(this.blobPath(entry.id), { force: true });
      return {
        ok: false,
        message: `uploaded size ${st.size} does not match the declared size ${declared}`,
      };
    }
    entry.finalized = true;
    entry.size = st.size;
    await this.saveIndex();
    return { ok: true, entry_id: String(entry.id) };
  }

  private lookup(body: Record<string, unknown>): Record<string, unknown> {
    const { key, version } = this.keyAndVersion(body);
    const restoreKeys = Array.isArray(body.restore_keys)
      ? (body.restore_keys as unknown[]).filter((k): k is string => typeof k === 'string')
      : [];
    const candidates = [...this.entriesById.values()]
      .filter((e) => e.finalized && e.version === version)
      .sort((a, b) => b.createdAt - a.createdAt || b.id - a.id);
    let match: Entry | undefined;
    for (const k of [key, ...restoreKeys]) {
      match = candidates.find((e) => e.key === k) ?? candidates.find((e) => e.key.startsWith(k));
      if (match) break;
    }
    if (!match) return { ok: false, signed_download_url: '', matched_key: '' };
    return { ok: true, signed_download_url: this.signedUrl(match, 'r'), matched_key: match.key };
  }

  // --- blobs --------------------------------------------------------------------------------------

  private azureError(
    res: http.ServerResponse,
    status: number,
    code: string,
    message: string,
    headers: Record<string, string> = {},
  ): void {
    const xml =
      `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code>` +
      `<Message>${message.replace(/[<>&]/g, ' ')}\nRequestId:${requestId()}\nTime:${new Date().toISOString()}</Message></Error>`;
    res.writeHead(status, {
      'Content-Type': 'application/xml',
      'Content-Length': Buffer.byteLength(xml),
      'x-ms-error-code': code,
      'x-ms-request-id': requestId(),
      'x-ms-version': AZURE_VERSION,
      ...headers,
    });
    res.end(xml);
  }

  private async handleBlob(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    u: URL,
    blobName: string,
  ): Promise<void> {
    const method = req.method ?? 'GET';
    const comp = u.searchParams.get('comp');
    const isUpload = method === 'PUT';
    const isDownload = method === 'GET' || method === 'HEAD';
    const op: Operation | null = isUpload ? 'upload' : isDownload ? 'download' : null;
    const detail = isUpload
      ? comp === 'block'
        ? 'put-block'
        : comp === 'blocklist'
          ? 'put-block-list'
          : 'put-blob'
      : method === 'HEAD'
        ? 'head-blob'
        : 'get-blob';
    if (!op || (comp !== null && comp !== 'block' && comp !== 'blocklist')) {
      this.count('other');
      await readBody(req);
      this.azureError(
        res,
        400,
        'UnsupportedHttpVerb',
        `${method} ${comp ?? ''} is not served here`,
      );
      return;
    }
    this.count(op);
    this.count(detail);

    const fault = this.takeFault(op);
    if (fault) {
      if (fault.kind === 'slow') {
        await sleep(fault.delayMs ?? 2000);
      } else if (
        fault.kind === 'conflict' ||
        fault.kind === 'rate-limit' ||
        fault.kind === 'server-error'
      ) {
        if (isUpload) await this.drain(req);
        if (fault.kind === 'conflict') {
          this.azureError(res, 409, 'BlobAlreadyExists', 'injected fault: the blob already exists');
        } else if (fault.kind === 'rate-limit') {
          this.azureError(res, 429, 'TooManyRequests', 'injected fault: too many requests', {
            'Retry-After': String(fault.retryAfterSeconds ?? 1),
          });
        } else {
          this.azureError(res, 500, 'InternalError', 'injected fault: internal error');
        }
        return;
      }
    }

    const id = /^\d+$/.test(blobName) ? Number(blobName) : NaN;
    const entry = this.entriesById.get(id);
    if (!entry || u.searchParams.get('sig') !== entry.sig) {
      if (isUpload) await this.drain(req);
      if (!entry) this.azureError(res, 404, 'BlobNotFound', 'The specified blob does not exist.');
      else
        this.azureError(
          res,
          403,
          'AuthenticationFailed',
          'Server failed to authenticate the request (bad or missing sig).',
        );
      return;
    }
    if (isUpload) {
      if (entry.finalized) {
        await this.drain(req);
        this.azureError(res, 409, 'BlobImmutable', 'the cache entry is already finalized');
        return;
      }
      if (comp === 'block') await this.putBlock(req, res, entry, u.searchParams.get('blockid'));
      else if (comp === 'blocklist') await this.putBlockList(req, res, entry);
      else await this.putBlob(req, res, entry);
      return;
    }
    if (!entry.finalized) {
      this.azureError(
        res,
        404,
        'BlobNotFound',
        'The specified blob does not exist (not finalized).',
      );
      return;
    }
    await this.getBlob(req, res, entry, method === 'HEAD', fault);
  }

  private async drain(req: http.IncomingMessage): Promise<void> {
    for await (const c of req) this.counters.uploadedBytes += (c as Buffer).length;
  }

  /** Streams the request body to `dest` (via a temp file), counting bytes; returns the size. */
  private async receive(req: http.IncomingMessage, dest: string): Promise<number> {
    const tmp = this.tmpPath();
    let n = 0;
    const counters = this.counters;
    try {
      await pipeline(
        req,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            n += chunk.length;
            counters.uploadedBytes += chunk.length;
            yield chunk;
          }
        },
        createWriteStream(tmp),
      );
      const declared = req.headers['content-length'];
      if (declared !== undefined && Number(declared) !== n) {
        throw new Error(`body has ${n} bytes, Content-Length said ${declared}`);
      }
      await fsp.rename(tmp, dest);
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw err;
    }
    return n;
  }

  private created(
    res: http.ServerResponse,
    req: http.IncomingMessage,
    extra: Record<string, string>,
  ): void {
    res.writeHead(201, {
      'Content-Length': 0,
      'x-ms-request-id': requestId(),
      'x-ms-version': String(req.headers['x-ms-version'] ?? AZURE_VERSION),
      'x-ms-request-server-encrypted': 'true',
      Date: new Date().toUTCString(),
      ...extra,
    });
    res.end();
  }

  private async putBlob(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    entry: Entry,
  ): Promise<void> {
    const blobType = req.headers['x-ms-blob-type'];
    if (blobType !== undefined && blobType !== 'BlockBlob') {
      await this.drain(req);
      this.azureError(
        res,
        400,
        'InvalidHeaderValue',
        `x-ms-blob-type ${blobType} is not supported`,
      );
      return;
    }
    entry.size = await this.receive(req, this.blobPath(entry.id));
    this.created(res, req, {
      ETag: etagOf(entry),
      'Last-Modified': new Date().toUTCString(),
    });
  }

  private async putBlock(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    entry: Entry,
    blockId: string | null,
  ): Promise<void> {
    if (!blockId) {
      await this.drain(req);
      this.azureError(res, 400, 'InvalidQueryParameterValue', 'blockid is required');
      return;
    }
    const dir = this.blocksDir(entry.id);
    await fsp.mkdir(dir, { recursive: true });
    await this.receive(req, path.join(dir, Buffer.from(blockId, 'utf8').toString('hex')));
    this.created(res, req, {});
  }

  private async putBlockList(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    entry: Entry,
  ): Promise<void> {
    const xml = (await readBody(req)).toString('utf8');
    const ids = [...xml.matchAll(/<(Latest|Uncommitted|Committed)>([^<]*)<\/\1>/g)].map(
      (m) => m[2]!,
    );
    if (!/<BlockList>/.test(xml)) {
      this.azureError(res, 400, 'InvalidXmlDocument', 'the body is not a BlockList');
      return;
    }
    const dir = this.blocksDir(entry.id);
    const files = ids.map((b) => path.join(dir, Buffer.from(b, 'utf8').toString('hex')));
    for (const f of files) {
      if (!existsSync(f)) {
        this.azureError(res, 400, 'InvalidBlockList', 'The specified block list is invalid.');
        return;
      }
    }
    const tmp = this.tmpPath();
    const out = await fsp.open(tmp, 'w');
    try {
      for (const f of files) {
        for await (const chunk of createReadStream(f)) await out.write(chunk as Buffer);
      }
    } finally {
      await out.close();
    }
    await fsp.rename(tmp, this.blobPath(entry.id));
    await fsp.rm(dir, { recursive: true, force: true });
    entry.size = (await fsp.stat(this.blobPath(entry.id))).size;
    this.created(res, req, { ETag: etagOf(entry), 'Last-Modified': new Date().toUTCString() });
  }

  private async getBlob(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    entry: Entry,
    head: boolean,
    fault: FaultSpec | null,
  ): Promise<void> {
    const file = this.blobPath(entry.id);
    const st = await fsp.stat(file);
    const size = st.size;
    const rangeHeader = (req.headers['x-ms-range'] as string | undefined) ?? req.headers.range;
    const range = parseRange(rangeHeader, size);
    if (range === 'invalid') {
      this.azureError(
        res,
        416,
        'InvalidRange',
        'The range specified is invalid for the current size of the resource.',
        {
          'Content-Range': `bytes */${size}`,
        },
      );
      return;
    }
    const start = range ? range.start : 0;
    const end = range ? range.end : size - 1;
    const length = size === 0 ? 0 : end - start + 1;
    const headers: Record<string, string | number> = {
      'Content-Type': 'application/octet-stream',
      'Content-Length': length,
      'Accept-Ranges': 'bytes',
      ETag: etagOf(entry),
      'Last-Modified': new Date(entry.createdAt).toUTCString(),
      'x-ms-blob-type': 'BlockBlob',
      'x-ms-lease-status': 'unlocked',
      'x-ms-lease-state': 'available',
      'x-ms-server-encrypted': 'true',
      'x-ms-creation-time': new Date(entry.createdAt).toUTCString(),
      'x-ms-request-id': requestId(),
      'x-ms-version': String(req.headers['x-ms-version'] ?? AZURE_VERSION),
    };
    if (range) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    res.writeHead(range ? 206 : 200, headers);
    if (head || length === 0) {
      res.end();
      return;
    }

    // Which bytes of the body get through, and which get flipped.
    const sendLimit =
      fault?.kind === 'truncate-download' ? Math.max(0, Math.floor(length / 2)) : length;
    const flipFrom = fault?.kind === 'corrupt-download' ? Math.floor(length / 2) : -1;
    const flipTo = flipFrom >= 0 ? Math.min(length, flipFrom + 64) : -1;

    let sent = 0;
    const stream = createReadStream(file, { start, end });
    try {
      for await (const chunk of stream) {
        let buf = chunk as Buffer;
        if (sent + buf.length > sendLimit) buf = buf.subarray(0, sendLimit - sent);
        if (flipFrom >= 0 && sent < flipTo && sent + buf.length > flipFrom) {
          buf = Buffer.from(buf);
          for (let i = Math.max(flipFrom, sent); i < Math.min(flipTo, sent + buf.length); i++) {
            buf[i - sent] = buf[i - sent]! ^ 0xff;
          }
        }
        if (buf.length > 0) {
          const ok = res.write(buf);
          sent += buf.length;
          this.counters.downloadedBytes += buf.length;
          if (!ok) await new Promise((r) => res.once('drain', r));
        }
        if (sent >= sendLimit || res.destroyed) break;
      }
    } finally {
      stream.destroy();
    }
    if (sent < length) {
      // Fewer bytes than Content-Length, then the connection goes away, as a dropped download does.
      await new Promise((r) => setTimeout(r, 20));
      res.socket?.destroy();
      return;
    }
    res.end();
  }
}

export async function startCacheService(opts: StartOptions = {}): Promise<CacheService> {
  const ownsDir = !opts.dir;
  const dir = opts.dir
    ? path.resolve(opts.dir)
    : await fsp.mkdtemp(path.join(os.tmpdir(), 'go-cache-service-'));
  const svc = new LocalCacheService(dir, ownsDir, opts.log);
  try {
    await svc.start(opts.port ?? 0);
  } catch (err) {
    if (ownsDir) await fsp.rm(dir, { recursive: true, force: true });
    throw err;
  }
  return svc;
}
