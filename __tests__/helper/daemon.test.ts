import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeRequest } from '../../src/helper/codec.js';
import {
  ping,
  readStandaloneUsage,
  report,
  socketPathFor,
  stopDaemon,
} from '../../src/helper/control.js';
import { Daemon, percentiles } from '../../src/helper/daemon.js';
import { Store } from '../../src/helper/store.js';
import { actionOf, getRequest, putRequest, RawClient, sha, tempDir } from './util.js';

let dir: string;
let socket: string;
let daemon: Daemon;
let logLines: string[];

beforeEach(async () => {
  dir = tempDir('daemon');
  socket = socketPathFor(path.join(dir, 'private'));
  logLines = [];
  daemon = new Daemon({
    dir: path.join(dir, 'store'),
    socket,
    log: (m) => logLines.push(m),
    usageFlushMs: 100,
  });
  await daemon.start();
});

afterEach(async () => {
  await daemon.stop('test over');
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('Daemon', () => {
  it('greets every connection with the handshake, listens in a private 0700 directory', async () => {
    const c = await RawClient.connect(socket);
    await c.responses.waitFor([0]);
    expect(JSON.parse(c.responses.lines[0])).toEqual({
      ID: 0,
      KnownCommands: ['get', 'put', 'close'],
      Helper: 'go-cache/1',
    });
    if (process.platform !== 'win32') {
      expect(fs.statSync(path.dirname(socket)).mode & 0o777).toBe(0o700);
    }
    c.end();
  });

  it('serves the go protocol: miss, put (inline body), hit, close', async () => {
    const c = await RawClient.connect(socket);
    const a = actionOf('x');
    const body = Buffer.from('package object file');
    c.send(getRequest(1, a));
    expect((await c.responses.waitFor([1]))[0]).toEqual({ id: 1, miss: true });
    c.send(putRequest(2, a, body));
    const [put] = await c.responses.waitFor([2]);
    expect(put.diskPath).toBe(new Store(path.join(dir, 'store')).outputPath(sha(body)));
    c.send(getRequest(3, a));
    const [hit] = await c.responses.waitFor([3]);
    expect(hit).toMatchObject({
      id: 3,
      outputID: sha(body),
      size: body.length,
      diskPath: put.diskPath,
    });
    expect(Date.now() - Date.parse(hit.time!)).toBeLessThan(60_000);
    c.send(encodeRequest({ id: 4, command: 'close', bodySize: 0 }));
    await c.responses.waitFor([4]);
    await c.closed;

    const r = await report(socket);
    expect(r.stats).toMatchObject({
      gets: 2,
      hits: 1,
      misses: 1,
      puts: 1,
      hitBytes: body.length,
      putBytes: body.length,
      errors: 0,
      connections: 1,
    });
    expect(r.stats.latencyMs.max).toBeGreaterThan(0);
    expect(r.usage).toEqual([
      {
        actionID: a,
        outputID: sha(body),
        size: body.length,
        lastUse: expect.any(Number),
        op: 'put',
      },
    ]);
  });

  it('accepts a put whose body is already in a file in the store (BodyFile, from a shim)', async () => {
    const store = new Store(path.join(dir, 'store'));
    const body = Buffer.from('written by the shim');
    const tmp = await store.createTemp();
    await tmp.handle.writeFile(body);
    await tmp.handle.close();
    const c = await RawClient.connect(socket);
    const a = actionOf('bodyfile');
    c.send(
      encodeRequest({
        id: 1,
        command: 'put',
        actionID: a,
        outputID: sha(body),
        bodySize: body.length,
        bodyFile: tmp.path,
      }),
    );
    const [res] = await c.responses.waitFor([1]);
    expect(res.diskPath).toBe(store.outputPath(sha(body)));
    expect(fs.existsSync(tmp.path)).toBe(false);
    expect((await store.get(a))!.diskPath).toBe(res.diskPath);
    c.end();
  });

  it('serves many connections at once', async () => {
    const clients = await Promise.all(Array.from({ length: 8 }, () => RawClient.connect(socket)));
    await Promise.all(
      clients.map(async (c, i) => {
        for (let j = 0; j < 20; j++) {
          const body = Buffer.from(`conn ${i} entry ${j}`);
          c.send(putRequest(2 * j + 1, actionOf(`${i}/${j}`), body));
          c.send(getRequest(2 * j + 2, actionOf(`${i}/${j}`)));
        }
        const answers = await c.responses.waitFor(Array.from({ length: 40 }, (_, k) => k + 1));
        for (let j = 0; j < 20; j++) {
          expect(answers[2 * j].diskPath).toBeTruthy();
          // a get sent right after a put may be answered before the put commits: hit or miss
          expect(answers[2 * j + 1].err).toBeUndefined();
        }
        c.end();
      }),
    );
    const r = await report(socket);
    expect(r.stats.connections).toBe(8);
    expect(r.stats.puts).toBe(160);
    expect(r.usage).toHaveLength(160);
  });

  it('finds entries written by another process after it started (disk fallback)', async () => {
    const store = new Store(path.join(dir, 'store'));
    const body = Buffer.from('from a standalone shim');
    const tmp = await store.createTemp();
    await tmp.handle.writeFile(body);
    await tmp.handle.close();
    await store.commitPut(actionOf('other'), sha(body), body.length, tmp.path);
    const c = await RawClient.connect(socket);
    c.send(getRequest(1, actionOf('other')));
    expect((await c.responses.waitFor([1]))[0].diskPath).toBe(store.outputPath(sha(body)));
    c.end();
  });

  it('a put it cannot write anywhere is still answered with a DiskPath, never Err', async () => {
    fs.rmSync(path.join(dir, 'store', '.go-cache'), { recursive: true, force: true });
    fs.writeFileSync(path.join(dir, 'store', '.go-cache'), 'in the way');
    const tmpdir = process.env.TMPDIR;
    process.env.TMPDIR = path.join(dir, 'store', '.go-cache'); // and no spill dir
    try {
      const c = await RawClient.connect(socket);
      const body = Buffer.from('homeless');
      c.send(putRequest(1, actionOf('homeless'), body));
      const [r] = await c.responses.waitFor([1]);
      expect(r).toEqual({
        id: 1,
        diskPath: new Store(path.join(dir, 'store')).outputPath(sha(body)),
      });
      c.end();
      expect((await report(socket)).stats).toMatchObject({ puts: 1, errors: 1 });
    } finally {
      if (tmpdir === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = tmpdir;
    }
  });

  describe('malformed input', () => {
    it('answers bad requests with Err, keeps the connection, keeps no entry', async () => {
      const c = await RawClient.connect(socket);
      const body = Buffer.from('real body');
      c.send(`{"ID":1,"Command":"frob"}\n`);
      c.send(
        encodeRequest(
          {
            id: 2,
            command: 'put',
            actionID: actionOf('bad'),
            outputID: sha(Buffer.from('other')),
            bodySize: body.length,
          },
          body,
        ),
      );
      c.send(
        `{"ID":3,"Command":"put","ActionID":"${Buffer.from(actionOf('short'), 'hex').toString('base64')}","OutputID":"${Buffer.from(sha(body), 'hex').toString('base64')}","BodySize":100}\n\n"${body.toString('base64')}"\n`,
      );
      c.send(getRequest(4, actionOf('bad')));
      const [r1, r2, r3, r4] = await c.responses.waitFor([1, 2, 3, 4]);
      expect(r1.err).toMatch(/unknown command/);
      expect(r2.err).toMatch(/does not match OutputID/);
      expect(r3.err).toMatch(/BodySize says 100/);
      expect(r4).toEqual({ id: 4, miss: true });
      c.end();
      const st = (await report(socket)).stats;
      expect(st.errors).toBe(3);
      expect(fs.readdirSync(path.join(dir, 'store', '.go-cache', 'tmp'))).toEqual([]);
    });

    it.each([
      ['not JSON', 'hello daemon\n'],
      ['an unusable ID', '{"ID":-5,"Command":"get"}\n'],
      [
        'a control message on a go connection',
        `${getRequest(1, actionOf('a'))}{"Control":"stop"}\n`,
      ],
    ])('%s: closes that connection with a log line, the daemon lives on', async (_n, text) => {
      const c = await RawClient.connect(socket);
      c.send(text);
      await c.closed;
      expect(await ping(socket)).toBe(true);
      expect(logLines.join('\n')).toMatch(/closing the connection/);
    });

    it('an unknown control is answered with Err', async () => {
      const c = await RawClient.connect(socket);
      c.send('{"Control":"dance"}\n');
      await new Promise((r) => setTimeout(r, 100));
      expect(c.responses.lines.some((l) => l.includes('unknown control'))).toBe(true);
      c.end();
    });
  });

  it('stop: answers what is in flight, writes the usage record, reports, closes go connections', async () => {
    const c = await RawClient.connect(socket);
    const body = Buffer.from('last put');
    c.send(putRequest(1, actionOf('last'), body));
    await c.responses.waitFor([1]);
    const stopped = new Promise<void>((resolve) => (daemon.onStopped = resolve));
    const r = await stopDaemon(socket);
    await stopped;
    expect(r.stats.puts).toBe(1);
    expect(r.usage.map((u) => u.actionID)).toEqual([actionOf('last')]);
    await c.closed;
    expect(await ping(socket, 200)).toBe(false);
    expect(readStandaloneUsage(path.join(dir, 'store')).map((u) => u.actionID)).toEqual([
      actionOf('last'),
    ]);
  });

  it('flushes the record of use periodically (a SIGKILLed daemon loses little)', async () => {
    const c = await RawClient.connect(socket);
    c.send(putRequest(1, actionOf('p'), Buffer.from('p')));
    await c.responses.waitFor([1]);
    await new Promise((r) => setTimeout(r, 300));
    expect(readStandaloneUsage(path.join(dir, 'store'))).toHaveLength(1);
    c.end();
  });

  it('a second daemon on the same socket refuses to start; a stale socket file is replaced', async () => {
    const second = new Daemon({ dir: path.join(dir, 'store'), socket });
    await expect(second.start()).rejects.toThrow(/another helper is listening/);
    if (process.platform === 'win32') return;
    await daemon.stop('make room');
    fs.writeFileSync(socket, ''); // what a killed daemon leaves
    const third = new Daemon({ dir: path.join(dir, 'store'), socket });
    await third.start();
    expect(await ping(socket)).toBe(true);
    await third.stop('done');
  });

  it('loads the index of an existing store at startup', async () => {
    await daemon.stop('restart');
    const store = new Store(path.join(dir, 'store'));
    for (let i = 0; i < 5; i++) {
      const body = Buffer.from(`entry ${i}`);
      const t = await store.createTemp();
      await t.handle.writeFile(body);
      await t.handle.close();
      await store.commitPut(actionOf(`i${i}`), sha(body), body.length, t.path);
    }
    daemon = new Daemon({ dir: store.dir, socket, log: (m) => logLines.push(m) });
    await daemon.start();
    await new Promise((r) => setTimeout(r, 200));
    expect(logLines.join('\n')).toMatch(/index: 5 entries/);
  });
});

describe('percentiles', () => {
  it('nearest rank', () => {
    expect(percentiles([])).toEqual({ p50: 0, p90: 0, p99: 0, max: 0 });
    const s = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentiles(s)).toEqual({ p50: 50, p90: 90, p99: 99, max: 100 });
  });
});
