// Test helpers for driving the real @actions/cache client against a cache service: a throwaway
// workspace, the env the client reads, and a capture of what it logs (it writes straight to stdout).
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface ClientWorld {
  root: string;
  workspace: string;
  /** Writes files (relative to the workspace), creating directories. */
  write(files: Record<string, string | Buffer>): void;
  read(rel: string): string;
  exists(rel: string): boolean;
  rm(rel: string): void;
  abs(rel: string): string;
  /** Points process.env at a cache service (keeps GITHUB_WORKSPACE/RUNNER_TEMP). */
  useService(env: Record<string, string>): void;
  cleanup(): void;
}

const CLIENT_ENV = [
  'ACTIONS_CACHE_SERVICE_V2',
  'ACTIONS_RESULTS_URL',
  'ACTIONS_CACHE_URL',
  'ACTIONS_RUNTIME_TOKEN',
  'GITHUB_WORKSPACE',
  'RUNNER_TEMP',
  'GITHUB_SERVER_URL',
  'ACTIONS_CACHE_MODE',
  'RUNNER_DEBUG',
];

export function makeClientWorld(): ClientWorld {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'go-cache-client-'));
  const workspace = path.join(root, 'workspace');
  const temp = path.join(root, 'runner-temp');
  fs.mkdirSync(workspace, { recursive: true });
  fs.mkdirSync(temp, { recursive: true });
  const saved = Object.fromEntries(CLIENT_ENV.map((k) => [k, process.env[k]]));
  for (const k of CLIENT_ENV) delete process.env[k];
  process.env.GITHUB_WORKSPACE = workspace;
  process.env.RUNNER_TEMP = temp;
  const abs = (rel: string): string => path.join(workspace, rel);
  return {
    root,
    workspace,
    abs,
    write(files) {
      for (const [rel, content] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(abs(rel)), { recursive: true });
        fs.writeFileSync(abs(rel), content);
      }
    },
    read: (rel) => fs.readFileSync(abs(rel), 'utf8'),
    exists: (rel) => fs.existsSync(abs(rel)),
    rm: (rel) => fs.rmSync(abs(rel), { recursive: true, force: true }),
    useService(env) {
      for (const k of ['ACTIONS_CACHE_SERVICE_V2', 'ACTIONS_RESULTS_URL', 'ACTIONS_CACHE_URL']) {
        delete process.env[k];
      }
      Object.assign(process.env, env);
    },
    cleanup() {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

export interface Captured<T> {
  value?: T;
  error?: unknown;
  /** Everything written to stdout, as lines. */
  lines: string[];
  /** `::warning::` / `::error::` annotations and plain info lines, decoded. */
  warnings: string[];
  errors: string[];
  infos: string[];
  ms: number;
}

function decodeCommandValue(s: string): string {
  return s.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%');
}

/**
 * Runs `fn`, capturing (and silencing) stdout, where @actions/core writes info lines and
 * `::warning::`/`::error::`/`::debug::` commands. Never throws: a throw lands in `error`.
 */
export async function capture<T>(fn: () => Promise<T>): Promise<Captured<T>> {
  const chunks: string[] = [];
  const original = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    cb?.();
    return true;
  }) as typeof process.stdout.write;
  const started = Date.now();
  const out: Captured<T> = { lines: [], warnings: [], errors: [], infos: [], ms: 0 };
  try {
    out.value = await fn();
  } catch (err) {
    out.error = err;
  } finally {
    process.stdout.write = original;
  }
  out.ms = Date.now() - started;
  out.lines = chunks.join('').split(/\r?\n/).filter(Boolean);
  for (const line of out.lines) {
    const m = /^::(warning|error|debug|notice|add-mask)[^:]*::(.*)$/.exec(line);
    if (!m) out.infos.push(line);
    else if (m[1] === 'warning') out.warnings.push(decodeCommandValue(m[2]!));
    else if (m[1] === 'error') out.errors.push(decodeCommandValue(m[2]!));
  }
  return out;
}

/**
 * Makes every timer of `minMs` or more fire after 1 ms while `fn` runs: the client's retry sleeps
 * (twirp: 3 s, 4.5 s, …; Azure SDK: 4 s, …; downloads: 5 s) then cost nothing, while short timers
 * (the 1 s progress display) keep their length.
 */
export async function withFastRetries<T>(fn: () => Promise<T>, minMs = 2500): Promise<T> {
  const original = globalThis.setTimeout;
  const patched = ((handler: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) =>
    original(
      handler,
      typeof ms === 'number' && ms >= minMs ? 1 : ms,
      ...args,
    )) as typeof setTimeout;
  globalThis.setTimeout = Object.assign(patched, original);
  try {
    return await fn();
  } finally {
    globalThis.setTimeout = original;
  }
}

export function randomContent(bytes: number): Buffer {
  return randomBytes(bytes);
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sha256File(file: string): string {
  return sha256(fs.readFileSync(file));
}
