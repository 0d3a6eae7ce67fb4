// What the action's main and post steps call to run the helper daemon.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { LineSplitter } from './codec.js';
import {
  HELPER_DIR,
  mergeUsage,
  parseUsageLine,
  USAGE_PREFIX,
  USAGE_SUFFIX,
  type UsageEntry,
} from './store.js';

export type { UsageEntry } from './store.js';
export { mergeUsage } from './store.js';

export interface HelperStats {
  gets: number;
  hits: number;
  misses: number;
  puts: number;
  hitBytes: number;
  putBytes: number;
  /** requests answered with an error, malformed input, and puts the store could not keep */
  errors: number;
  /** go-protocol connections (one per go command that reached the daemon) */
  connections: number;
  /** the daemon's time to answer a get or a put (a put's body already received) */
  latencyMs: { p50: number; p90: number; p99: number; max: number };
}

export interface HelperReport {
  stats: HelperStats;
  usage: UsageEntry[];
}

/** Sends one control message and waits for its answer (a JSON object with the same Control). */
function control(
  socket: string,
  kind: string,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err: Error | null, value?: Record<string, unknown>): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    const timer = setTimeout(
      () =>
        finish(new Error(`the go-cache helper did not answer "${kind}" within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const sock = net.createConnection(socket);
    const lines = new LineSplitter((line) => {
      let msg: unknown;
      try {
        msg = JSON.parse(line);
      } catch {
        return finish(
          new Error(`the go-cache helper answered with non-JSON: ${line.slice(0, 80)}`),
        );
      }
      if (typeof msg !== 'object' || msg === null) return;
      const m = msg as Record<string, unknown>;
      if (m.ID === 0 && m.KnownCommands) return; // the handshake every connection gets
      if (typeof m.Err === 'string') return finish(new Error(`go-cache helper: ${m.Err}`));
      if (m.Control === kind) finish(null, m);
    });
    sock.on('connect', () => sock.write(JSON.stringify({ Control: kind }) + '\n'));
    sock.on('data', (chunk: Buffer) => lines.push(chunk));
    sock.on('error', (e) => finish(new Error(`go-cache helper at ${socket}: ${e.message}`)));
    sock.on('close', () => finish(new Error(`the go-cache helper closed the connection`)));
  });
}

async function pingPid(socket: string, timeoutMs: number): Promise<number | null> {
  try {
    const m = await control(socket, 'ping', timeoutMs);
    return m.OK === true && typeof m.Pid === 'number' ? m.Pid : null;
  } catch {
    return null;
  }
}

export async function ping(socket: string, timeoutMs = 1000): Promise<boolean> {
  return (await pingPid(socket, timeoutMs)) !== null;
}

function asReport(m: Record<string, unknown>): HelperReport {
  const r = m.Report as HelperReport | undefined;
  if (!r || typeof r !== 'object' || !r.stats || !Array.isArray(r.usage)) {
    throw new Error('the go-cache helper sent a report without stats or usage');
  }
  return r;
}

export async function report(socket: string, timeoutMs = 10_000): Promise<HelperReport> {
  return asReport(await control(socket, 'report', timeoutMs));
}

/** Asks the daemon to answer what is in flight, write its record of use, report and exit. */
export async function stopDaemon(socket: string, timeoutMs = 30_000): Promise<HelperReport> {
  return asReport(await control(socket, 'stop', timeoutMs));
}

function logTail(log: string): string {
  try {
    const text = fs.readFileSync(log, 'utf8').trimEnd();
    if (!text) return '';
    return `; its log (${log}) ends with:\n${text.split('\n').slice(-10).join('\n')}`;
  } catch {
    return '';
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Starts the daemon detached (its own process group, stdio to /dev/null, never the step's pipes),
 * then polls ping until it answers or timeoutMs passes.
 */
export async function startDaemon(o: {
  script: string;
  dir: string;
  socket: string;
  log: string;
  node?: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}): Promise<{ pid: number }> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  fs.mkdirSync(path.dirname(o.log), { recursive: true });
  const child = spawn(
    o.node ?? process.execPath,
    [o.script, '--dir', o.dir, '--socket', o.socket, '--log', o.log],
    { detached: true, stdio: 'ignore', env: o.env ?? process.env, windowsHide: true },
  );
  let exited: string | null = null;
  child.on('error', (e) => (exited = `could not start: ${e.message}`));
  child.on('exit', (code, signal) => (exited = `exited (${signal ?? `code ${code}`})`));
  child.unref();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited !== null) throw new Error(`the go-cache helper ${exited}${logTail(o.log)}`);
    const left = deadline - Date.now();
    if (left <= 0) break;
    const pid = await pingPid(o.socket, Math.min(1000, left));
    if (pid !== null && pid === child.pid) return { pid };
    await sleep(Math.min(50, Math.max(0, deadline - Date.now())));
  }
  if (child.pid !== undefined) {
    try {
      process.kill(child.pid);
    } catch {
      // already gone
    }
  }
  throw new Error(
    `the go-cache helper did not answer on ${o.socket} within ${timeoutMs} ms${logTail(o.log)}`,
  );
}

/**
 * The record of use left in <dir>/.go-cache/usage-*.jsonl by shims that served the store
 * themselves (the daemon was unreachable or died) and by the daemon itself (flushed periodically
 * and on exit, so a daemon killed by SIGTERM loses nothing). Merged per action ID.
 */
export function readStandaloneUsage(dir: string): UsageEntry[] {
  const helperDir = path.join(dir, HELPER_DIR);
  let names: string[];
  try {
    names = fs.readdirSync(helperDir);
  } catch {
    return [];
  }
  const merged = new Map<string, UsageEntry>();
  for (const name of names) {
    if (!name.startsWith(USAGE_PREFIX) || !name.endsWith(USAGE_SUFFIX)) continue;
    let text: string;
    try {
      text = fs.readFileSync(path.join(helperDir, name), 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const e = parseUsageLine(line);
      if (e) mergeUsage(merged, e);
    }
  }
  return [...merged.values()];
}

/**
 * The daemon's address: a Unix socket in privateDir (which should be 0700), or a named pipe on
 * Windows. A Unix socket path must fit in sun_path (104 bytes on macOS): a longer one moves to a
 * private directory under the system temp dir named by a hash of privateDir.
 */
export function socketPathFor(privateDir: string): string {
  const abs = path.resolve(privateDir);
  const hash = createHash('sha256').update(abs).digest('hex').slice(0, 16);
  if (process.platform === 'win32') return `\\\\.\\pipe\\go-cache-${hash}`;
  const p = path.join(abs, 'helper.sock');
  if (Buffer.byteLength(p) <= 100) return p;
  return path.join(os.tmpdir(), `go-cache-${hash}`, 'helper.sock');
}
