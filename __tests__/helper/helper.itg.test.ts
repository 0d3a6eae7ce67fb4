// The real go command against the bundled daemon and shim (dist/), through GOCACHEPROG.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ping, report, socketPathFor, startDaemon, stopDaemon } from '../../src/helper/control.js';
import { ENTRY_SIZE, formatIndexEntry, parseIndexEntry } from '../../src/helper/store.js';
import {
  compiles,
  copyFixture,
  DAEMON_JS,
  ensureBundles,
  go,
  goEnv,
  run,
  seedStore,
  shimCommand,
  SHIM_JS,
} from './itg.js';
import { actionOf, getRequest, putRequest, sha, tempDir } from './util.js';

let work: string;
let mod: string;
let store: string;
let socket: string;
let env: NodeJS.ProcessEnv;
let shimLog: string;
let daemonPid = 0;

beforeAll(async () => {
  await ensureBundles();
  const seed = await seedStore();
  work = tempDir('itg');
  mod = copyFixture(path.join(work, 'mod'));
  store = path.join(work, 'store');
  fs.cpSync(seed, store, { recursive: true });
  socket = socketPathFor(path.join(work, 'private'));
  shimLog = path.join(work, 'shim.log');
  ({ pid: daemonPid } = await startDaemon({
    script: DAEMON_JS,
    dir: store,
    socket,
    log: path.join(work, 'daemon.log'),
  }));
  env = goEnv(work, { GOCACHEPROG: shimCommand({ store, socket, log: shimLog }) });
});

afterAll(async () => {
  if (socket && (await ping(socket))) await stopDaemon(socket).catch(() => undefined);
  try {
    if (daemonPid) process.kill(daemonPid, 'SIGKILL');
  } catch {
    // already gone
  }
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('go through the daemon', () => {
  it('second build compiles nothing; second test run is (cached); same binary as with GOCACHE', async () => {
    const first = await go(['build', '-x', '-o', path.join(work, 'app1'), './cmd/app'], {
      cwd: mod,
      env,
    });
    expect(compiles(first.stderr)).toHaveLength(4); // shapes, words, calc, main: the std lib was seeded
    const second = await go(['build', '-x', '-o', path.join(work, 'app2'), './cmd/app'], {
      cwd: mod,
      env,
    });
    expect(compiles(second.stderr)).toEqual([]);

    const t1 = await go(['test', './...'], { cwd: mod, env });
    expect(t1.stdout).toMatch(/^ok\s+example\.com\/fixture\/internal\/calc\s+[\d.]+s$/m);
    expect(t1.stdout).not.toMatch(/\(cached\)/);
    const t2 = await go(['test', '-x', './...'], { cwd: mod, env });
    const oks = t2.stdout.split('\n').filter((l) => l.startsWith('ok'));
    expect(oks).toHaveLength(3);
    for (const l of oks) expect(l).toMatch(/\(cached\)$/);
    expect(compiles(t2.stderr)).toEqual([]);

    // The same build with Go's own disk cache (a fresh copy of the same seed) gives the same bytes.
    const nativeCache = path.join(work, 'native-cache');
    fs.cpSync(await seedStore(), nativeCache, { recursive: true });
    await go(['build', '-o', path.join(work, 'app-native'), './cmd/app'], {
      cwd: mod,
      env: { ...env, GOCACHEPROG: '', GOCACHE: nativeCache },
    });
    const helperBin = fs.readFileSync(path.join(work, 'app1'));
    expect(fs.readFileSync(path.join(work, 'app2')).equals(helperBin)).toBe(true);
    expect(fs.readFileSync(path.join(work, 'app-native')).equals(helperBin)).toBe(true);
    const out = await run(path.join(work, 'app1'), ['1', '2'], { cwd: work, env });
    expect(out.stdout).toBe(
      'variant=base area=9.00 words=[the brown dog end fox jumps lazy over quick] sum=3\n',
    );

    const r = await report(socket);
    expect(r.stats.errors).toBe(0);
    expect(r.stats.hits).toBeGreaterThan(0);
    expect(r.stats.puts).toBeGreaterThan(0);
    expect(r.stats.connections).toBeGreaterThanOrEqual(4);
    expect(r.usage.some((u) => u.op === 'put')).toBe(true);
    expect(r.usage.some((u) => u.op === 'get')).toBe(true);
    // Nothing served by a shim on its own: every go command reached the daemon.
    expect(fs.existsSync(shimLog) ? fs.readFileSync(shimLog, 'utf8') : '').toBe('');
  });

  it('index entries written through the helper are the ones Go writes (and reads)', async () => {
    let checked = 0;
    for (const sub of fs.readdirSync(store).filter((n) => /^[0-9a-f]{2}$/.test(n))) {
      for (const name of fs.readdirSync(path.join(store, sub)).filter((n) => n.endsWith('-a'))) {
        const text = fs.readFileSync(path.join(store, sub, name), 'latin1');
        expect(text.length).toBe(ENTRY_SIZE);
        const e = parseIndexEntry(text, name.slice(0, -2));
        expect(e, name).not.toBeNull();
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(100);
    // Entries Go itself wrote (the seed was made with Go's disk cache) parse and re-format to the
    // same bytes.
    const seed = await seedStore();
    let native = 0;
    for (const sub of ['00', '3f', '80', 'c1', 'ff']) {
      const names = fs.readdirSync(path.join(seed, sub)).filter((n) => n.endsWith('-a'));
      for (const name of names) {
        const text = fs.readFileSync(path.join(seed, sub, name), 'latin1');
        expect(formatIndexEntry(parseIndexEntry(text, name.slice(0, -2))!)).toBe(text);
        native++;
      }
    }
    expect(native).toBeGreaterThan(0);
    // And Go itself reads the store as its GOCACHE: a build with it compiles nothing.
    const asGocache = await go(['build', '-x', '-o', path.join(work, 'app3'), './cmd/app'], {
      cwd: mod,
      env: { ...env, GOCACHEPROG: '', GOCACHE: store },
    });
    expect(compiles(asGocache.stderr)).toEqual([]);
  });

  it('go clean -testcache still invalidates test results served by the helper', async () => {
    expect((await go(['test', './...'], { cwd: mod, env })).stdout).toMatch(/\(cached\)/);
    await go(['clean', '-testcache'], { cwd: mod, env });
    const after = await go(['test', './...'], { cwd: mod, env });
    expect(after.stdout).not.toMatch(/\(cached\)/);
    expect((await go(['test', './...'], { cwd: mod, env })).stdout).toMatch(/\(cached\)/);
  });

  it('four go builds at once against one daemon', async () => {
    const before = (await report(socket)).stats;
    const builds = await Promise.all(
      [1, 2, 3, 4].map((v) =>
        go(['build', '-x', '-tags', `v${v}`, '-o', path.join(work, `app-v${v}`), './cmd/app'], {
          cwd: mod,
          env,
        }),
      ),
    );
    for (const b of builds) expect(compiles(b.stderr).length).toBeGreaterThanOrEqual(2); // shapes and main
    for (const v of [1, 2, 3, 4]) {
      const out = await run(path.join(work, `app-v${v}`), [], { cwd: work, env });
      expect(out.stdout).toMatch(new RegExp(`^variant=v${v} `));
    }
    const after = (await report(socket)).stats;
    expect(after.connections - before.connections).toBe(4);
    expect(after.puts).toBeGreaterThan(before.puts);
    expect(after.errors).toBe(0);
    // and all four are cached now
    const again = await go(
      ['build', '-x', '-tags', 'v3', '-o', path.join(work, 'app-v3b'), './cmd/app'],
      { cwd: mod, env },
    );
    expect(compiles(again.stderr)).toEqual([]);
  });
});

describe('malformed protocol input', () => {
  it('to the shim: answers what it can, then a clear error and exit 1, no stack trace', async () => {
    const body = Buffer.from('fine body');
    const input =
      getRequest(1, actionOf('never-put')) +
      `{"ID":2,"Command":"frob"}\n` +
      putRequest(3, actionOf('good'), body) +
      '{"ID":4,"Command":"put","ActionID":"AAAA",\n';
    const r = await run(process.execPath, [SHIM_JS, '--dir', store, '--socket', socket], {
      cwd: work,
      env,
      input,
    });
    expect(r.code).toBe(1);
    // one line, naming the problem and the input (JSON.parse's wording varies between node versions)
    expect(r.stderr).toMatch(
      /^go-cache: GOCACHEPROG protocol error: request is not valid JSON \(.+\): "\{\\"ID\\":4,.*"\n$/,
    );
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toEqual({ ID: 0, KnownCommands: ['get', 'put', 'close'] });
    const byId = new Map(lines.slice(1).map((l) => [l.ID, l]));
    expect(byId.get(1)).toEqual({ ID: 1, Miss: true });
    expect(byId.get(2)).toMatchObject({ Err: expect.stringMatching(/unknown command/) });
    expect(byId.get(3)).toMatchObject({ DiskPath: expect.stringContaining(sha(body)) });
  });

  it('to the shim: random bytes never crash it or hang', async () => {
    for (const input of [
      Buffer.from([0, 1, 2, 255, 10, 34, 10]),
      Buffer.from('"' + 'A'.repeat(1000)),
      Buffer.alloc(0),
    ]) {
      const r = await run(process.execPath, [SHIM_JS, '--dir', store], {
        cwd: work,
        env,
        input,
        timeoutMs: 10_000,
      });
      expect([0, 1]).toContain(r.code);
      expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
    }
  });

  it('to the daemon: bad connections are closed, bad puts refused, no corrupt entry, daemon lives', async () => {
    const talk = (text: string) =>
      new Promise<string>((resolve) => {
        const s = net.createConnection(socket);
        let got = '';
        s.on('data', (c) => (got += c));
        s.on('connect', () => {
          s.write(text);
          setTimeout(() => s.end(), 300);
        });
        s.on('close', () => resolve(got));
        s.on('error', () => undefined);
      });
    expect(await talk('GET / HTTP/1.1\r\n\r\n')).toMatch(/^\{"ID":0/);
    const a = actionOf('corrupt');
    const body = Buffer.from('some body');
    const bad = putRequest(1, a, body).replace(
      body.toString('base64'),
      Buffer.from('another!!').toString('base64'),
    );
    const answer = await talk(bad + getRequest(2, a));
    expect(answer).toMatch(/"ID":1,"Err":"put: body SHA-256 [0-9a-f]+ does not match OutputID/);
    expect(answer).toMatch(/\{"ID":2,"Miss":true\}/);
    expect(fs.existsSync(path.join(store, a.slice(0, 2), `${a}-a`))).toBe(false);
    expect(await ping(socket)).toBe(true);
    expect((await report(socket)).stats.errors).toBeGreaterThanOrEqual(2);
  });
});
