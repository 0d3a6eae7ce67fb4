// One go command's GOCACHEPROG session, as run by the shim.
//
// The shim speaks the protocol to the go command itself: it answers the handshake at once, parses
// every request, and writes each put's body straight into a temp file in the store (verifying its
// SHA-256 on the way). To the daemon it forwards parsed requests: gets as they are, puts as
// {"BodyFile": <temp file>} so no body crosses the socket. It remembers every forwarded request
// that has no answer yet. If the daemon cannot be reached, closes the connection, or stays silent
// for stallMs while requests wait, the shim answers those requests itself from the same store and
// serves the rest of the session in-process ("standalone"). Puts are idempotent (a daemon that
// died after moving the body into place leaves nothing to redo but the index entry), so nothing is
// lost and nothing is answered twice: an answer is written only for an ID still pending.
import * as fs from 'node:fs';
import * as net from 'node:net';
import {
  encodeRequest,
  encodeResponse,
  handshakeLine,
  LineSplitter,
  parseResponse,
  RequestReader,
  type CacheRequest,
  type CacheResponse,
} from './codec.js';
import {
  hitResponse,
  mergeUsage,
  spillDir,
  Store,
  type IndexEntry,
  type UsageEntry,
} from './store.js';

export interface ShimOptions {
  dir: string;
  /** the daemon; without it the shim serves the store itself from the start */
  socket?: string;
  /** file to append diagnostics to (the shim never writes to the go command's stdout) */
  log?: string;
  input: AsyncIterable<Buffer | string>;
  output: NodeJS.WritableStream;
  /** for fatal protocol errors, which the go command shows (default: none) */
  errors?: NodeJS.WritableStream;
  /** the daemon is presumed dead when silent this long while requests wait */
  stallMs?: number;
  /** how long the daemon has to greet a new connection */
  connectTimeoutMs?: number;
  /** append what this shim served itself to <dir>/.go-cache/usage-<pid>.jsonl (default: socket set) */
  recordUsage?: boolean;
}

interface Pending {
  req: CacheRequest;
  bodyFile?: string;
}

type LinkState = 'connecting' | 'up' | 'down';

export async function runShim(o: ShimOptions): Promise<number> {
  return new ShimSession(o).run();
}

class ShimSession {
  private readonly store: Store;
  private readonly pending = new Map<number, Pending>();
  private readonly local = new Set<Promise<void>>();
  private readonly usage = new Map<string, UsageEntry>();
  /** body files this shim made that may still exist when it exits */
  private readonly temps = new Set<string>();
  private idleWaiters: (() => void)[] = [];
  private link: net.Socket | null = null;
  private state: LinkState = 'down';
  private stallTimer: NodeJS.Timeout | null = null;
  private outputBroken = false;
  private spilled = false;

  constructor(private readonly o: ShimOptions) {
    this.store = new Store(o.dir);
    o.output.on('error', () => {
      // The go command went away (EPIPE): nothing left to answer.
      this.outputBroken = true;
    });
  }

  private log(message: string): void {
    if (!this.o.log) return;
    try {
      fs.appendFileSync(
        this.o.log,
        `${new Date().toISOString()} [shim ${process.pid}] ${message}\n`,
      );
    } catch {
      // nowhere to report it
    }
  }

  private write(text: string): void {
    if (!this.outputBroken) this.o.output.write(text);
  }

  async run(): Promise<number> {
    this.write(handshakeLine());
    if (this.o.socket) this.connect(this.o.socket);
    const reader = new RequestReader(this.o.input);
    let code = 0;
    for (;;) {
      const r = await reader.next();
      if (r.kind === 'eof') break;
      if (r.kind === 'fatal' || r.kind === 'control') {
        const why = r.kind === 'fatal' ? r.error : 'unexpected control message';
        this.log(`protocol error: ${why}`);
        this.o.errors?.write(`go-cache: GOCACHEPROG protocol error: ${why}\n`);
        code = 1;
        break;
      }
      if (r.kind === 'invalid') {
        this.log(`request ${r.id}: ${r.error}`);
        this.write(encodeResponse({ id: r.id, err: r.error }));
        continue;
      }
      const req = r.request;
      if (req.command === 'get') {
        this.dispatch({ req });
      } else if (req.command === 'put') {
        if (req.bodyFile !== undefined) {
          this.write(encodeResponse({ id: req.id, err: 'BodyFile is for the daemon only' }));
          continue;
        }
        try {
          const body = await this.store.receiveBody(r.body, req.outputID!, req.bodySize);
          if (body.path === null) {
            this.log(`put ${req.id}: ${body.problem}; not stored`);
            this.write(
              encodeResponse({ id: req.id, diskPath: this.store.unwritablePut(req.outputID!) }),
            );
            continue;
          }
          this.temps.add(body.path);
          if (!body.inStore && !this.spilled) {
            this.spilled = true;
            this.log(
              `put ${req.id}: store not writable, body spilled to ${spillDir()} (not logged again)`,
            );
          }
          this.dispatch({ req, bodyFile: body.path });
        } catch (e) {
          const message = e instanceof Error ? e.message : String(e);
          this.log(`put ${req.id}: ${message}`);
          this.write(encodeResponse({ id: req.id, err: `put: ${message}` }));
        }
      } else if (req.command === 'close') {
        await this.idle();
        this.write(encodeResponse({ id: req.id }));
        break;
      }
    }
    await this.idle();
    await this.finish();
    return code;
  }

  // ---- the daemon link ----

  private connect(socket: string): void {
    this.state = 'connecting';
    const sock = net.createConnection(socket);
    this.link = sock;
    const lines = new LineSplitter((line) => this.fromDaemon(line));
    sock.on('data', (chunk: Buffer) => lines.push(chunk));
    sock.on('error', (e) => this.down(`daemon connection: ${e.message}`));
    sock.on('close', () => this.down('the daemon closed the connection'));
    this.armStall(this.o.connectTimeoutMs ?? 5_000);
  }

  private fromDaemon(line: string): void {
    if (this.state === 'down') return;
    if (this.state === 'connecting') {
      let hello: Record<string, unknown> | null = null;
      try {
        hello = JSON.parse(line) as Record<string, unknown>;
      } catch {
        // handled below
      }
      if (!hello || hello.ID !== 0 || typeof hello.Helper !== 'string') {
        return this.down(`not a go-cache daemon: ${line.slice(0, 80)}`);
      }
      this.state = 'up';
      this.armStall();
      return;
    }
    const res = parseResponse(line);
    if (!res) return this.down(`bad response from the daemon: ${line.slice(0, 80)}`);
    const p = this.pending.get(res.id);
    if (!p) {
      this.log(`daemon answered request ${res.id}, which is not waiting; ignored`);
      return;
    }
    this.pending.delete(res.id);
    if (res.err && p.req.command === 'put') {
      // An error answer to a put fails the go command: try the store here instead.
      this.log(`daemon could not take put ${res.id} (${res.err}); storing it here`);
      this.serveHere(p);
      this.armStall();
      return;
    }
    // A body the daemon moved into the store is no longer ours to remove.
    if (p.bodyFile !== undefined && res.diskPath && res.diskPath !== p.bodyFile) {
      this.temps.delete(p.bodyFile);
    }
    this.write(line + '\n');
    this.armStall();
    this.settle();
  }

  /** Restarts the stall timer: while requests wait, the daemon must say something this often. */
  private armStall(ms = this.o.stallMs ?? 15_000): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = null;
    if (this.state === 'down') return;
    if (this.state === 'up' && this.pending.size === 0) return;
    this.stallTimer = setTimeout(() => {
      this.down(
        this.state === 'connecting'
          ? 'the daemon did not greet in time'
          : `the daemon did not answer within ${ms} ms`,
      );
    }, ms);
    this.stallTimer.unref();
  }

  /** The daemon is gone: answer everything it left unanswered, and serve the rest here. */
  private down(why: string): void {
    if (this.state === 'down') return;
    this.state = 'down';
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.link?.destroy();
    const orphans = [...this.pending.values()];
    this.pending.clear();
    this.log(`${why}; serving the store here (${orphans.length} requests were waiting)`);
    for (const p of orphans) this.serveHere(p);
    this.settle();
  }

  private dispatch(p: Pending): void {
    if (this.state === 'down') return this.serveHere(p);
    this.pending.set(p.req.id, p);
    const req = p.bodyFile === undefined ? p.req : { ...p.req, bodyFile: p.bodyFile };
    this.link!.write(encodeRequest(req));
    if (this.state === 'up' && this.pending.size === 1) this.armStall();
  }

  // ---- standalone ----

  private serveHere(p: Pending): void {
    const work = this.answerHere(p).then(
      (res) => this.write(encodeResponse(res)),
      (e: unknown) => {
        this.log(`request ${p.req.id}: ${e}`);
        this.write(
          encodeResponse({ id: p.req.id, err: String(e instanceof Error ? e.message : e) }),
        );
      },
    );
    const tracked = work.finally(() => {
      this.local.delete(tracked);
      this.settle();
    });
    this.local.add(tracked);
  }

  private async answerHere(p: Pending): Promise<CacheResponse> {
    const { req } = p;
    if (req.command === 'get') {
      const hit = await this.store.get(req.actionID!);
      if (!hit) return { id: req.id, miss: true };
      this.recordUse(hit.entry, 'get');
      return hitResponse(req.id, hit);
    }
    const res = await this.store.commitPut(req.actionID!, req.outputID!, req.bodySize, p.bodyFile!);
    if (res.diskPath !== p.bodyFile) this.temps.delete(p.bodyFile!);
    if (res.stored) this.recordUse(res.entry, 'put');
    else this.log(`put ${req.id}: not stored: ${res.problem}`);
    return { id: req.id, diskPath: res.diskPath };
  }

  private recordUse(e: IndexEntry, op: 'get' | 'put'): void {
    const { actionID, outputID, size } = e;
    mergeUsage(this.usage, { actionID, outputID, size, lastUse: Date.now(), op });
  }

  // ---- ending ----

  private settle(): void {
    if (this.pending.size > 0 || this.local.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves when every request has been answered. */
  private idle(): Promise<void> {
    if (this.pending.size === 0 && this.local.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async finish(): Promise<void> {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    if (this.link && this.state !== 'down') {
      this.state = 'down';
      this.link.end();
    }
    if ((this.o.recordUsage ?? this.o.socket !== undefined) && this.usage.size > 0) {
      await this.store
        .appendUsage(String(process.pid), this.usage.values())
        .catch((e) => this.log(`writing the usage record: ${e}`));
    }
    // The go command is done with the bodies it was answered with from outside the store.
    for (const t of this.temps) await fs.promises.rm(t, { force: true });
  }
}
