// The daemon: one per job. Serves the store to every go command of the job (through their shims),
// holds the index in memory, records every entry read or written, and keeps statistics.
//
// Every connection is greeted with the GOCACHEPROG handshake. The first line the client sends
// decides what the connection is for:
//   {"Control":"ping"|"report"|"stop"}  → a control connection (the action's main and post steps);
//   anything else                       → a go-protocol connection (a shim, or anything speaking
//                                         the go command's protocol, inline put bodies included).
import { promises as fsp } from 'node:fs';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  encodeResponse,
  handshakeLine,
  RequestReader,
  type CacheRequest,
  type CacheResponse,
  type ReadResult,
} from './codec.js';
import type { HelperReport, HelperStats } from './control.js';
import { hitResponse, mergeUsage, Store, type IndexEntry, type UsageEntry } from './store.js';

/** Sent in the daemon's handshake so a shim knows it reached a go-cache daemon. */
export const DAEMON_HELLO = { Helper: 'go-cache/1' } as const;

export interface DaemonOptions {
  dir: string;
  socket: string;
  log?: (message: string) => void;
  /** how often the record of use is appended to <dir>/.go-cache/usage-daemon.jsonl */
  usageFlushMs?: number;
  /** how long stop waits for requests in flight */
  drainTimeoutMs?: number;
}

type Counters = Omit<HelperStats, 'latencyMs'>;

/** Logs the first few problems of a kind, then every 1000th, so a full disk does not flood the log. */
class ProblemLog {
  private count = 0;
  constructor(private readonly log: (m: string) => void) {}
  note(message: string): void {
    this.count++;
    if (this.count <= 20 || this.count % 1000 === 0) {
      this.log(`${message}${this.count === 20 ? ' (logging every 1000th from now on)' : ''}`);
    }
  }
}

export class Daemon {
  readonly store: Store;
  /** called once a control "stop" has been answered: the process should exit now */
  onStopped: (() => void) | null = null;

  private readonly log: (m: string) => void;
  private readonly problems: ProblemLog;
  private server: net.Server | null = null;
  private readonly index = new Map<string, IndexEntry>();
  private readonly usage = new Map<string, UsageEntry>();
  private dirty = new Set<string>();
  private readonly counters: Counters = {
    gets: 0,
    hits: 0,
    misses: 0,
    puts: 0,
    hitBytes: 0,
    putBytes: 0,
    errors: 0,
    connections: 0,
  };
  private readonly latencies: number[] = [];
  private readonly inflight = new Set<Promise<void>>();
  private readonly goSockets = new Set<net.Socket>();
  private flushTimer: NodeJS.Timeout | null = null;
  private stopping: Promise<HelperReport> | null = null;
  private nextConn = 0;

  constructor(private readonly opts: DaemonOptions) {
    this.store = new Store(opts.dir);
    this.log = opts.log ?? (() => undefined);
    this.problems = new ProblemLog(this.log);
  }

  async start(): Promise<void> {
    await fsp.mkdir(this.store.dir, { recursive: true });
    // A daemon starts a job's record of use; leftovers of killed processes go.
    await this.store.clearUsage().catch((e) => this.log(`clearing old usage records: ${e}`));
    await this.store.pruneTemp(60 * 60 * 1000).catch(() => 0);
    await this.listen();
    this.flushTimer = setInterval(() => void this.flushUsage(), this.opts.usageFlushMs ?? 10_000);
    this.flushTimer.unref();
    void this.loadIndex();
  }

  private async listen(): Promise<void> {
    const socket = this.opts.socket;
    if (process.platform !== 'win32') {
      await fsp.mkdir(path.dirname(socket), { recursive: true, mode: 0o700 });
    }
    const server = net.createServer((sock) => this.accept(sock));
    try {
      await listenOn(server, socket);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || process.platform === 'win32') {
        throw e;
      }
      // A socket file is there: another daemon, or one left by a killed daemon.
      if (await canConnect(socket)) {
        throw new Error(`another helper is listening on ${socket}`, { cause: e });
      }
      await fsp.rm(socket, { force: true });
      await listenOn(server, socket);
    }
    server.on('error', (e) => this.log(`server error: ${e.message}`));
    this.server = server;
  }

  private async loadIndex(): Promise<void> {
    const t0 = performance.now();
    let n = 0;
    try {
      for await (const e of this.store.scan()) {
        if (this.stopping) return;
        if (!this.index.has(e.actionID)) this.index.set(e.actionID, e);
        n++;
      }
      this.log(`index: ${n} entries in ${Math.round(performance.now() - t0)} ms`);
    } catch (e) {
      this.log(`index scan failed after ${n} entries: ${e}`);
    }
  }

  private accept(sock: net.Socket): void {
    const conn = ++this.nextConn;
    sock.on('error', (e) => this.log(`conn ${conn}: ${e.message}`));
    sock.write(handshakeLine(DAEMON_HELLO));
    const reader = new RequestReader(sock);
    void (async () => {
      const first = await reader.next();
      if (first.kind === 'control') await this.serveControl(sock, reader, first);
      else if (first.kind !== 'eof') await this.serveGo(conn, sock, reader, first);
    })()
      .catch((e) => this.log(`conn ${conn}: ${e instanceof Error ? e.stack : e}`))
      .finally(() => {
        this.goSockets.delete(sock);
        sock.end();
      });
  }

  // ---- go protocol ----

  private async serveGo(
    conn: number,
    sock: net.Socket,
    reader: RequestReader,
    first: ReadResult,
  ): Promise<void> {
    this.counters.connections++;
    this.goSockets.add(sock);
    const t0 = performance.now();
    const mine = new Set<Promise<void>>();
    // Inline bodies that ended up answered from outside the store: removed when the go command is done.
    const leftovers = new Set<string>();
    let requests = 0;
    const send = (r: CacheResponse): void => {
      if (!sock.destroyed) sock.write(encodeResponse(r));
    };
    const track = (id: number, work: Promise<CacheResponse>): void => {
      const done = work
        .catch((e: unknown): CacheResponse => {
          this.counters.errors++;
          this.problems.note(`conn ${conn}: request ${id}: ${e}`);
          return { id, err: String(e instanceof Error ? e.message : e) };
        })
        .then(send)
        .finally(() => {
          mine.delete(done);
          this.inflight.delete(done);
        });
      mine.add(done);
      this.inflight.add(done);
    };

    for (let r = first; ; r = await reader.next()) {
      if (r.kind === 'eof') break;
      if (r.kind === 'fatal' || r.kind === 'control') {
        this.counters.errors++;
        const why = r.kind === 'fatal' ? r.error : 'a control message on a go connection';
        this.log(`conn ${conn}: ${why}; closing the connection`);
        break;
      }
      requests++;
      if (r.kind === 'invalid') {
        this.counters.errors++;
        this.problems.note(`conn ${conn}: request ${r.id}: ${r.error}`);
        send({ id: r.id, err: r.error });
        continue;
      }
      const req = r.request;
      if (req.command === 'get') {
        track(req.id, this.get(req, performance.now()));
      } else if (req.command === 'put') {
        let bodyFile = req.bodyFile;
        let inline = false;
        if (bodyFile === undefined) {
          try {
            const body = await this.store.receiveBody(r.body, req.outputID!, req.bodySize);
            if (body.path === null) {
              this.counters.puts++;
              this.counters.errors++;
              this.problems.note(`conn ${conn}: put ${req.id}: ${body.problem}`);
              send({ id: req.id, diskPath: this.store.unwritablePut(req.outputID!) });
              continue;
            }
            bodyFile = body.path;
            inline = true;
          } catch (e) {
            this.counters.errors++;
            const message = e instanceof Error ? e.message : String(e);
            this.problems.note(`conn ${conn}: put ${req.id}: ${message}`);
            send({ id: req.id, err: `put: ${message}` });
            continue;
          }
        }
        const file = bodyFile;
        const work = this.put(req, file, performance.now()).then((res) => {
          if (inline && res.diskPath === file) leftovers.add(file);
          return res;
        });
        track(req.id, work);
      } else if (req.command === 'close') {
        await Promise.allSettled([...mine]);
        send({ id: req.id });
        break;
      }
    }
    await Promise.allSettled([...mine]);
    for (const f of leftovers) await fsp.rm(f, { force: true });
    this.log(
      `conn ${conn}: ${requests} requests in ${Math.round(performance.now() - t0)} ms, closed`,
    );
  }

  private async get(req: CacheRequest, started: number): Promise<CacheResponse> {
    this.counters.gets++;
    const actionID = req.actionID!;
    try {
      const hit = await this.store.get(actionID, this.index.get(actionID));
      if (!hit) {
        this.counters.misses++;
        return { id: req.id, miss: true };
      }
      this.index.set(actionID, hit.entry);
      this.counters.hits++;
      this.counters.hitBytes += hit.entry.size;
      this.recordUse(hit.entry, 'get');
      return hitResponse(req.id, hit);
    } finally {
      this.latencies.push(performance.now() - started);
    }
  }

  private async put(req: CacheRequest, bodyFile: string, started: number): Promise<CacheResponse> {
    this.counters.puts++;
    this.counters.putBytes += req.bodySize;
    try {
      const res = await this.store.commitPut(req.actionID!, req.outputID!, req.bodySize, bodyFile);
      if (res.stored) {
        this.index.set(res.entry.actionID, res.entry);
        this.recordUse(res.entry, 'put');
      } else {
        this.counters.errors++;
        this.problems.note(`put ${req.actionID!.slice(0, 16)}: not stored: ${res.problem}`);
      }
      return { id: req.id, diskPath: res.diskPath };
    } finally {
      this.latencies.push(performance.now() - started);
    }
  }

  private recordUse(e: IndexEntry, op: 'get' | 'put'): void {
    const { actionID, outputID, size } = e;
    mergeUsage(this.usage, { actionID, outputID, size, lastUse: Date.now(), op });
    this.dirty.add(actionID);
  }

  // ---- control ----

  private async serveControl(
    sock: net.Socket,
    reader: RequestReader,
    first: ReadResult,
  ): Promise<void> {
    const reply = (o: Record<string, unknown>): void => {
      if (!sock.destroyed) sock.write(JSON.stringify(o) + '\n');
    };
    for (let r = first; ; r = await reader.next()) {
      if (r.kind === 'eof') return;
      if (r.kind !== 'control') {
        reply({ Err: 'expected a control message like {"Control":"ping"}' });
        return;
      }
      switch (r.control) {
        case 'ping':
          reply({ Control: 'ping', OK: true, Pid: process.pid, Dir: this.store.dir });
          break;
        case 'report':
          reply({ Control: 'report', Report: this.report() });
          break;
        case 'stop': {
          const report = await this.stop('stop requested');
          await new Promise<void>((resolve) => {
            if (sock.destroyed) return resolve();
            sock.end(JSON.stringify({ Control: 'stop', Report: report }) + '\n', () => resolve());
          });
          this.onStopped?.();
          return;
        }
        default:
          reply({ Control: r.control, Err: `unknown control ${JSON.stringify(r.control)}` });
      }
    }
  }

  report(): HelperReport {
    return {
      stats: { ...this.counters, latencyMs: percentiles(this.latencies) },
      usage: [...this.usage.values()],
    };
  }

  /**
   * Stops accepting connections, waits (bounded) for requests in flight, writes the record of use
   * and closes the remaining go connections (their shims then serve the store themselves).
   */
  stop(reason: string): Promise<HelperReport> {
    this.stopping ??= (async () => {
      this.log(`stopping: ${reason}`);
      this.server?.close();
      if (this.flushTimer) clearInterval(this.flushTimer);
      const drained = await withTimeout(
        Promise.allSettled([...this.inflight]),
        this.opts.drainTimeoutMs ?? 10_000,
      );
      if (!drained) this.log(`stop: ${this.inflight.size} requests still in flight, not waiting`);
      const report = this.report();
      await this.flushUsage();
      for (const s of this.goSockets) s.destroy();
      const st = report.stats;
      this.log(
        `stopped: ${st.connections} connections, ${st.gets} gets (${st.hits} hits), ${st.puts} puts, ` +
          `${st.errors} errors, p50 ${st.latencyMs.p50} ms, p99 ${st.latencyMs.p99} ms`,
      );
      return report;
    })();
    return this.stopping;
  }

  /** Appends what changed since the last flush to <dir>/.go-cache/usage-daemon.jsonl. */
  async flushUsage(): Promise<void> {
    const changed = this.takeDirty();
    if (changed.length === 0) return;
    try {
      await this.store.appendUsage('daemon', changed);
    } catch (e) {
      for (const e2 of changed) this.dirty.add(e2.actionID);
      this.log(`writing the usage record: ${e}`);
    }
  }

  /** For a dying process: no awaiting. */
  flushUsageSync(): void {
    const changed = this.takeDirty();
    if (changed.length === 0) return;
    try {
      fs.mkdirSync(path.dirname(this.store.usageFile('daemon')), { recursive: true });
      fs.appendFileSync(
        this.store.usageFile('daemon'),
        changed.map((e) => JSON.stringify(e) + '\n').join(''),
      );
    } catch (e) {
      this.log(`writing the usage record: ${e}`);
    }
  }

  private takeDirty(): UsageEntry[] {
    const out: UsageEntry[] = [];
    for (const id of this.dirty) {
      const e = this.usage.get(id);
      if (e) out.push(e);
    }
    this.dirty = new Set();
    return out;
  }
}

function listenOn(server: net.Server, socket: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    server.once('error', onError);
    server.listen(socket, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function canConnect(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createConnection(socket);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function withTimeout(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function percentiles(samples: readonly number[]): HelperStats['latencyMs'] {
  if (samples.length === 0) return { p50: 0, p90: 0, p99: 0, max: 0 };
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number): number => {
    const v = sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
    return Math.round(v * 1000) / 1000;
  };
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1) };
}
