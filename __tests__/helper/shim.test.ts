// The shim's session logic, in-process: with a real daemon, with none, and with daemons that die or
// stall in the middle of a stream.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  encodeRequest,
  encodeResponse,
  handshakeLine,
  LineSplitter,
  parseResponse,
} from '../../src/helper/codec.js';
import { readStandaloneUsage, report, socketPathFor } from '../../src/helper/control.js';
import { Daemon, DAEMON_HELLO } from '../../src/helper/daemon.js';
import { runShim, type ShimOptions } from '../../src/helper/proxy.js';
import { Store } from '../../src/helper/store.js';
import { actionOf, getRequest, putRequest, Responses, sha, tempDir } from './util.js';

let dir: string;
let storeDir: string;
let socket: string;
const cleanups: (() => Promise<void> | void)[] = [];

beforeEach(() => {
  dir = tempDir('shim');
  storeDir = path.join(dir, 'store');
  socket = socketPathFor(path.join(dir, 'private'));
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A shim session fed through a pipe, like the go command's stdin/stdout. */
function startShim(opts: Partial<ShimOptions> = {}) {
  const input = new PassThrough();
  const output = new PassThrough();
  const errors = new PassThrough();
  const responses = new Responses();
  output.on('data', (c: Buffer) => responses.push(c));
  let errText = '';
  errors.on('data', (c: Buffer) => (errText += c));
  const log = path.join(dir, 'shim.log');
  const done = runShim({ dir: storeDir, log, input, output, errors, ...opts });
  return {
    send: (t: string) => input.write(t),
    end: () => input.end(),
    responses,
    done,
    stderr: () => errText,
    log: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : ''),
  };
}

async function startDaemon(): Promise<Daemon> {
  const d = new Daemon({ dir: storeDir, socket });
  await d.start();
  cleanups.push(() => d.stop('test over').then(() => undefined));
  return d;
}

/**
 * A daemon that greets, then hands each request line to `onRequest`, which may answer it, do
 * nothing, or kill the connection.
 */
async function fakeDaemon(
  onRequest: (line: string, sock: net.Socket, n: number) => void,
): Promise<{ requests: string[] }> {
  const requests: string[] = [];
  fs.mkdirSync(path.dirname(socket), { recursive: true, mode: 0o700 });
  const server = net.createServer((sock) => {
    sock.on('error', () => undefined);
    sock.write(handshakeLine(DAEMON_HELLO));
    const lines = new LineSplitter((line) => {
      requests.push(line);
      onRequest(line, sock, requests.length);
    });
    sock.on('data', (c: Buffer) => lines.push(c));
  });
  await new Promise<void>((r) => server.listen(socket, r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return { requests };
}

const close = (id: number): string => encodeRequest({ id, command: 'close', bodySize: 0 });

/** Every ID answered exactly once. */
function expectAnsweredOnce(responses: Responses, ids: number[]): void {
  for (const id of ids) expect(responses.byId.get(id), `answers to ${id}`).toHaveLength(1);
}

describe('shim with a daemon', () => {
  it('answers the handshake at once and relays the daemon’s answers', async () => {
    await startDaemon();
    const s = startShim({ socket });
    await s.responses.waitFor([0]);
    expect(s.responses.lines[0]).toBe('{"ID":0,"KnownCommands":["get","put","close"]}');
    const a = actionOf('a');
    const body = Buffer.from('object file');
    s.send(getRequest(1, a));
    s.send(putRequest(2, a, body));
    await s.responses.waitFor([1, 2]);
    s.send(getRequest(3, a));
    s.send(close(4));
    const [miss, put, hit] = await s.responses.waitFor([1, 2, 3, 4]);
    expect(miss.miss).toBe(true);
    expect(put.diskPath).toBe(new Store(storeDir).outputPath(sha(body)));
    expect(hit).toMatchObject({ outputID: sha(body), size: body.length, diskPath: put.diskPath });
    s.end();
    expect(await s.done).toBe(0);
    const r = await report(socket);
    expect(r.stats).toMatchObject({ gets: 2, hits: 1, puts: 1, connections: 1 });
    // served by the daemon: no standalone record
    expect(
      fs
        .readdirSync(path.join(storeDir, '.go-cache'))
        .filter((n) => n.startsWith('usage-') && n !== 'usage-daemon.jsonl'),
    ).toEqual([]);
  });
});

describe('shim without a daemon', () => {
  it('serves the store itself when the socket does not exist, and records what it served', async () => {
    const s = startShim({ socket });
    const a = actionOf('alone');
    const body = Buffer.from('standalone');
    s.send(putRequest(1, a, body));
    await s.responses.waitFor([1]);
    s.send(getRequest(2, a));
    s.send(close(3));
    const [put, hit] = await s.responses.waitFor([1, 2, 3]);
    expect(put.diskPath).toBeTruthy();
    expect(hit.diskPath).toBe(put.diskPath);
    s.end();
    expect(await s.done).toBe(0);
    expect(readStandaloneUsage(storeDir)).toEqual([
      {
        actionID: a,
        outputID: sha(body),
        size: body.length,
        lastUse: expect.any(Number),
        op: 'put',
      },
    ]);
    expect(s.log()).toMatch(/serving the store here/);
  });

  it('without --socket: standalone from the start, no usage record (local use)', async () => {
    const s = startShim();
    s.send(putRequest(1, actionOf('local'), Buffer.from('x')));
    s.send(close(2));
    await s.responses.waitFor([1, 2]);
    s.end();
    expect(await s.done).toBe(0);
    expect(readStandaloneUsage(storeDir)).toEqual([]);
  });

  it('ends when the go command goes away without close', async () => {
    const s = startShim();
    s.send(getRequest(1, actionOf('gone')));
    s.end();
    expect(await s.done).toBe(0);
    expect(s.responses.byId.get(1)).toHaveLength(1);
  });
});

describe('daemon trouble in the middle of a stream', () => {
  it('the daemon dies with requests waiting: the shim answers them itself, each exactly once', async () => {
    // Answers the first 3 requests properly (via a real store), then swallows 4 and dies.
    const store = new Store(storeDir);
    const fake = await fakeDaemon((line, sock, n) => {
      const req = JSON.parse(line) as { ID: number; Command: string };
      if (n <= 3) sock.write(encodeResponse({ id: req.ID, miss: true }));
      if (n === 7) sock.destroy();
    });
    const s = startShim({ socket });
    const ids = [1, 2, 3, 4, 5, 6, 7];
    const bodies = new Map<number, Buffer>();
    for (const id of ids) {
      if (id % 2 === 0) {
        const b = Buffer.from(`body ${id}`.repeat(id * 100));
        bodies.set(id, b);
        s.send(putRequest(id, actionOf(`k${id}`), b));
      } else {
        s.send(getRequest(id, actionOf(`k${id}`)));
      }
    }
    s.send(close(8));
    await s.responses.waitFor([...ids, 8]);
    s.end();
    expect(await s.done).toBe(0);
    expectAnsweredOnce(s.responses, [...ids, 8]);
    expect(fake.requests).toHaveLength(7);
    for (const [id, b] of bodies) {
      const r = s.responses.byId.get(id)![0];
      if (id > 3) {
        expect(r.err).toBeUndefined();
        expect(fs.readFileSync(r.diskPath!)).toEqual(b);
        expect((await store.get(actionOf(`k${id}`)))?.diskPath).toBe(r.diskPath);
      }
    }
    expect(s.log()).toMatch(
      /the daemon closed the connection; serving the store here \(4 requests were waiting\)/,
    );
    // what the shim served itself is in its record of use
    expect(
      readStandaloneUsage(storeDir)
        .map((u) => u.actionID)
        .sort(),
    ).toEqual([4, 6].map((i) => actionOf(`k${i}`)).sort());
    expect(fs.readdirSync(store.tmpDir)).toEqual([]);
  });

  it('the daemon moved a put’s body into place and died before answering: the put completes', async () => {
    const store = new Store(storeDir);
    await fakeDaemon((line, sock) => {
      const req = JSON.parse(line) as { BodyFile: string; OutputID: string };
      const out = store.outputPath(Buffer.from(req.OutputID, 'base64').toString('hex'));
      fs.mkdirSync(path.dirname(out), { recursive: true });
      fs.renameSync(req.BodyFile, out);
      sock.destroy();
    });
    const s = startShim({ socket });
    const body = Buffer.from('half done');
    s.send(putRequest(1, actionOf('half'), body));
    s.send(close(2));
    const [put] = await s.responses.waitFor([1, 2]);
    s.end();
    await s.done;
    expect(put.diskPath).toBe(store.outputPath(sha(body)));
    expect((await store.get(actionOf('half')))!.diskPath).toBe(put.diskPath);
  });

  it('a daemon answering a put with Err: the shim stores it itself (an Err would fail the go command)', async () => {
    await fakeDaemon((line, sock) => {
      const req = JSON.parse(line) as { ID: number };
      sock.write(encodeResponse({ id: req.ID, err: 'daemon disk trouble' }));
    });
    const s = startShim({ socket });
    const body = Buffer.from('retry me here');
    s.send(putRequest(1, actionOf('retry'), body));
    s.send(getRequest(2, actionOf('retry')));
    s.send(close(3));
    const [put, get] = await s.responses.waitFor([1, 2, 3]);
    s.end();
    await s.done;
    expect(put.err).toBeUndefined();
    expect(put.diskPath).toBe(new Store(storeDir).outputPath(sha(body)));
    expect(get.err).toBe('daemon disk trouble'); // a get error is a miss to the go command
    expect(s.log()).toMatch(/daemon could not take put 1 \(daemon disk trouble\); storing it here/);
  });

  it('a daemon that stops answering: after stallMs the shim takes over', async () => {
    await fakeDaemon(() => undefined); // greets, then silence
    const s = startShim({ socket, stallMs: 300 });
    const t0 = Date.now();
    s.send(getRequest(1, actionOf('s1')));
    s.send(getRequest(2, actionOf('s2')));
    s.send(close(3));
    const answers = await s.responses.waitFor([1, 2, 3]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(answers[0].miss).toBe(true);
    s.end();
    await s.done;
    expect(s.log()).toMatch(/did not answer within 300 ms/);
  });

  it('something that is not our daemon on the socket: standalone', async () => {
    fs.mkdirSync(path.dirname(socket), { recursive: true });
    const server = net.createServer((sock) => {
      sock.resume(); // read (and drop) what the shim sends, so the connection can end
      sock.end('HTTP/1.1 400 Bad Request\r\n\r\n');
    });
    await new Promise<void>((r) => server.listen(socket, r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const s = startShim({ socket });
    s.send(getRequest(1, actionOf('x')));
    s.send(close(2));
    await s.responses.waitFor([1, 2]);
    s.end();
    await s.done;
    expectAnsweredOnce(s.responses, [1, 2]);
    expect(s.log()).toMatch(/not a go-cache daemon/);
  });

  it('a daemon answering an ID that is not waiting is ignored (the go command would die of it)', async () => {
    await fakeDaemon((line, sock) => {
      const req = JSON.parse(line) as { ID: number };
      sock.write(encodeResponse({ id: 999, miss: true }));
      sock.write(encodeResponse({ id: req.ID, miss: true }));
      sock.write(encodeResponse({ id: req.ID, miss: true }));
    });
    const s = startShim({ socket });
    s.send(getRequest(1, actionOf('dup')));
    s.send(close(2));
    await s.responses.waitFor([1, 2]);
    s.end();
    await s.done;
    expect(s.responses.byId.has(999)).toBe(false);
    expectAnsweredOnce(s.responses, [1, 2]);
  });
});

describe('shim with malformed input from its stdin', () => {
  it('bad requests get Err answers; unparseable input ends the session with a clear error', async () => {
    await startDaemon();
    const s = startShim({ socket });
    const body = Buffer.from('body');
    s.send('{"ID":1,"Command":"frob"}\n');
    s.send(
      encodeRequest(
        {
          id: 2,
          command: 'put',
          actionID: actionOf('m'),
          outputID: sha(Buffer.from('no')),
          bodySize: 4,
        },
        body,
      ),
    );
    s.send(
      `{"ID":3,"Command":"put","ActionID":"${Buffer.from(actionOf('n'), 'hex').toString('base64')}","OutputID":"${Buffer.from(sha(body), 'hex').toString('base64')}","BodySize":4}\n\n"!!!!"\n`,
    );
    s.send(getRequest(4, actionOf('m')));
    const [r1, r2, r3, r4] = await s.responses.waitFor([1, 2, 3, 4]);
    expect(r1.err).toMatch(/unknown command/);
    expect(r2.err).toMatch(/does not match OutputID/);
    expect(r3.err).toMatch(/not valid base64/);
    expect(r4.miss).toBe(true);
    s.send('this is not JSON\n');
    expect(await s.done).toBe(1);
    expect(s.stderr()).toMatch(/GOCACHEPROG protocol error: request is not valid JSON/);
    expect(await new Store(storeDir).get(actionOf('m'))).toBeNull();
    expect(fs.readdirSync(new Store(storeDir).tmpDir)).toEqual([]);
  });

  it('a response for each parsed request, even when the output pipe breaks', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    const done = runShim({ dir: storeDir, input, output });
    output.destroy(new Error('EPIPE'));
    input.write(getRequest(1, actionOf('z')));
    input.end();
    expect(await done).toBe(0);
  });

  it('rejects BodyFile from the go side', async () => {
    const s = startShim();
    s.send(
      encodeRequest({
        id: 1,
        command: 'put',
        actionID: actionOf('f'),
        outputID: sha(Buffer.from('x')),
        bodySize: 1,
        bodyFile: '/etc/passwd',
      }),
    );
    const [r] = await s.responses.waitFor([1]);
    expect(r.err).toMatch(/daemon only/);
    s.end();
    await s.done;
  });
});

// parseResponse is used by the shim on every daemon line; make sure it keeps what the go command needs.
it('parseResponse keeps every field of a hit', () => {
  const line = encodeResponse({
    id: 9,
    outputID: 'ab'.repeat(32),
    size: 3,
    time: '2024-01-01T00:00:00Z',
    diskPath: '/x',
  });
  expect(parseResponse(line.trim())).toEqual({
    id: 9,
    outputID: 'ab'.repeat(32),
    size: 3,
    time: '2024-01-01T00:00:00Z',
    diskPath: '/x',
  });
});
