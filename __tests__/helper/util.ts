// Shared by the helper tests: temp dirs, a go-protocol client, response collection.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  encodeRequest,
  LineSplitter,
  parseResponse,
  type CacheResponse,
} from '../../src/helper/codec.js';

export const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
export const actionOf = (name: string): string => sha(Buffer.from(`action ${name}`));

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `go-cache-${prefix}-`));
}

export function getRequest(id: number, actionID: string): string {
  return encodeRequest({ id, command: 'get', actionID, bodySize: 0 });
}

export function putRequest(id: number, actionID: string, body: Buffer): string {
  return encodeRequest(
    { id, command: 'put', actionID, outputID: sha(body), bodySize: body.length },
    body,
  );
}

/** Collects response lines (the first one is the handshake) and lets a test wait for an ID. */
export class Responses {
  readonly lines: string[] = [];
  readonly byId = new Map<number, CacheResponse[]>();
  private waiters: (() => void)[] = [];
  private readonly splitter = new LineSplitter((line) => {
    this.lines.push(line);
    const r = parseResponse(line);
    if (r) this.byId.set(r.id, [...(this.byId.get(r.id) ?? []), r]);
    for (const w of this.waiters.splice(0)) w();
  });

  push(chunk: Buffer | string): void {
    this.splitter.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  }

  async waitFor(ids: number[], timeoutMs = 5000): Promise<CacheResponse[]> {
    const deadline = Date.now() + timeoutMs;
    while (!ids.every((id) => this.byId.has(id))) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `no response for ${ids.filter((id) => !this.byId.has(id))} in ${timeoutMs} ms`,
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return ids.map((id) => this.byId.get(id)![0]);
  }
}

/** A raw connection to the daemon, as a shim or the go command would make it. */
export class RawClient {
  readonly responses = new Responses();
  readonly closed: Promise<void>;
  private constructor(readonly sock: net.Socket) {
    sock.on('data', (c: Buffer) => this.responses.push(c));
    this.closed = new Promise((resolve) => sock.on('close', () => resolve()));
    sock.on('error', () => undefined);
  }

  static connect(socket: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.createConnection(socket);
      s.once('connect', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  send(text: string | Buffer): void {
    this.sock.write(text);
  }

  end(): void {
    this.sock.end();
  }
}

export async function waitUntil(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
