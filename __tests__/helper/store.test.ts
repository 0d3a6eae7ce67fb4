import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeRequest, RequestReader, type BodyReader } from '../../src/helper/codec.js';
import { readStandaloneUsage } from '../../src/helper/control.js';
import {
  ENTRY_SIZE,
  formatIndexEntry,
  parseIndexEntry,
  spillDir,
  Store,
  type IndexEntry,
} from '../../src/helper/store.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const A = 'ab'.repeat(32);

/** A BodyReader for `body`, via the real codec. */
async function bodyOf(body: Buffer): Promise<BodyReader | null> {
  const text = encodeRequest(
    { id: 1, command: 'put', actionID: A, outputID: sha(body), bodySize: body.length },
    body,
  );
  const reader = new RequestReader(Readable.from([Buffer.from(text)]));
  const r = await reader.next();
  if (r.kind !== 'request') throw new Error(r.kind);
  return r.body;
}

async function put(store: Store, actionID: string, body: Buffer) {
  const received = await store.receiveBody(await bodyOf(body), sha(body), body.length);
  return store.commitPut(actionID, sha(body), body.length, received.path!);
}

let dir: string;
let store: Store;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'go-cache-store-'));
  store = new Store(path.join(dir, 'store'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('index entries', () => {
  const e: IndexEntry = {
    actionID: '0123456789abcdef'.repeat(4),
    outputID: 'fedcba9876543210'.repeat(4),
    size: 1234,
    timeNs: 1_700_000_000_123_456_789n,
  };

  it('are byte for byte Go\'s fmt.Sprintf("v1 %x %x %20d %20d\\n")', () => {
    const text = formatIndexEntry(e);
    expect(text).toBe(`v1 ${e.actionID} ${e.outputID}                 1234  1700000000123456789\n`);
    expect(text.length).toBe(ENTRY_SIZE);
    expect(parseIndexEntry(text, e.actionID)).toEqual(e);
  });

  it.each([
    ['too short', (t: string) => t.slice(0, -2) + '\n'],
    ['too long', (t: string) => t + 'x'],
    ['wrong version', (t: string) => 'v2' + t.slice(2)],
    ['no newline', (t: string) => t.slice(0, -1) + ' '],
    ['bad hex', (t: string) => 'v1 zz' + t.slice(5)],
    ['negative size', (t: string) => t.replace('                1234', '               -1234')],
    ['size not a number', (t: string) => t.replace('                1234', '                12x4')],
  ])('%s: rejected like Go does', (_n, mangle) => {
    expect(parseIndexEntry(mangle(formatIndexEntry(e)))).toBeNull();
  });

  it('must be for the action asked about', () => {
    expect(parseIndexEntry(formatIndexEntry(e), 'ff'.repeat(32))).toBeNull();
    expect(
      parseIndexEntry(formatIndexEntry(e).toUpperCase().replace('V1', 'v1'), e.actionID),
    ).toEqual(e);
  });
});

describe('Store', () => {
  it('put then get: Go layout, DiskPath without extension, Time from the entry', async () => {
    const body = Buffer.from('compiled package');
    const before = BigInt(Date.now()) * 1_000_000n;
    const res = await put(store, A, body);
    expect(res.stored).toBe(true);
    const out = sha(body);
    expect(res.diskPath).toBe(path.join(store.dir, out.slice(0, 2), `${out}-d`));
    expect(path.extname(res.diskPath)).toBe('');
    expect(fs.readFileSync(res.diskPath)).toEqual(body);
    const entryText = fs.readFileSync(path.join(store.dir, 'ab', `${A}-a`), 'latin1');
    expect(entryText).toMatch(new RegExp(`^v1 ${A} ${out} {4}\\s*16 +\\d{19}\\n$`));

    const hit = await store.get(A);
    expect(hit).not.toBeNull();
    expect(hit!.diskPath).toBe(res.diskPath);
    expect(hit!.entry.size).toBe(body.length);
    expect(hit!.entry.timeNs).toBeGreaterThanOrEqual(before);
    expect(await store.get('cd'.repeat(32))).toBeNull();
    // nothing left behind in the temp dir
    expect(fs.readdirSync(store.tmpDir)).toEqual([]);
  });

  it('outputs are executable (0o777 & ~umask), as Go makes cached executables', async () => {
    if (process.platform === 'win32') return;
    const res = await put(store, A, Buffer.from('#!/bin/sh\n'));
    const umask = process.umask();
    expect(fs.statSync(res.diskPath).mode & 0o777).toBe(0o777 & ~umask);
  });

  it('an empty body is a valid output', async () => {
    const res = await put(store, A, Buffer.alloc(0));
    expect(res.stored).toBe(true);
    expect((await store.get(A))!.entry.size).toBe(0);
  });

  it('a large body is streamed to disk', async () => {
    const body = randomBytes(5 * 1024 * 1024 + 7);
    const res = await put(store, A, body);
    expect(sha(fs.readFileSync(res.diskPath))).toBe(sha(body));
  });

  it('a body whose SHA-256 is not the OutputID is rejected, nothing kept', async () => {
    const body = Buffer.from('the real body');
    const other = sha(Buffer.from('something else'));
    await expect(store.receiveBody(await bodyOf(body), other, body.length)).rejects.toThrow(
      /does not match OutputID/,
    );
    expect(fs.readdirSync(store.tmpDir)).toEqual([]);
    expect(await store.get(A)).toBeNull();
  });

  it('an output of another size than recorded is a miss, and so is a missing output', async () => {
    const body = Buffer.from('twelve bytes');
    const res = await put(store, A, body);
    fs.truncateSync(res.diskPath, 5);
    expect(await store.get(A)).toBeNull();
    fs.rmSync(res.diskPath);
    expect(await store.get(A)).toBeNull();
  });

  it('a corrupt index entry is a miss', async () => {
    await put(store, A, Buffer.from('x'));
    fs.writeFileSync(store.entryPath(A), 'v1 garbage\n');
    expect(await store.get(A)).toBeNull();
  });

  it("serves an executable Go's disk cache stored as <out>-d/<name>", async () => {
    const exe = Buffer.from('\x7fELF pretend');
    const out = sha(exe);
    fs.mkdirSync(store.outputPath(out), { recursive: true });
    fs.mkdirSync(path.dirname(store.entryPath(A)), { recursive: true });
    fs.writeFileSync(path.join(store.outputPath(out), 'tool'), exe);
    fs.writeFileSync(
      store.entryPath(A),
      formatIndexEntry({ actionID: A, outputID: out, size: exe.length, timeNs: 1n }),
    );
    expect((await store.get(A))!.diskPath).toBe(path.join(store.outputPath(out), 'tool'));
  });

  it('a known (in-memory) entry whose output is gone falls back to the entry on disk', async () => {
    const first = await put(store, A, Buffer.from('first'));
    const second = await put(store, A, Buffer.from('second'));
    fs.rmSync(first.diskPath);
    const hit = await store.get(A, first.entry);
    expect(hit!.diskPath).toBe(second.diskPath);
  });

  it('commitPut is idempotent: a body already moved into place (a daemon that died) is fine', async () => {
    const body = Buffer.from('moved by someone else');
    const received = await store.receiveBody(await bodyOf(body), sha(body), body.length);
    fs.mkdirSync(path.dirname(store.outputPath(sha(body))), { recursive: true });
    fs.renameSync(received.path!, store.outputPath(sha(body)));
    const res = await store.commitPut(A, sha(body), body.length, received.path!);
    expect(res.stored).toBe(true);
    expect((await store.get(A))!.diskPath).toBe(store.outputPath(sha(body)));
  });

  it('refreshes mtimes of used entries at most hourly, as Go does', async () => {
    const res = await put(store, A, Buffer.from('old'));
    const old = new Date(Date.now() - 3 * 3600_000);
    fs.utimesSync(res.diskPath, old, old);
    fs.utimesSync(store.entryPath(A), old, old);
    await store.get(A);
    await new Promise((r) => setTimeout(r, 50));
    expect(fs.statSync(res.diskPath).mtimeMs).toBeGreaterThan(Date.now() - 60_000);
    expect(fs.statSync(store.entryPath(A)).mtimeMs).toBeGreaterThan(Date.now() - 60_000);
  });

  describe('when the store cannot be written', () => {
    it('no temp dir possible: the body is spilled and still answered with a DiskPath', async () => {
      fs.mkdirSync(store.dir, { recursive: true });
      fs.writeFileSync(path.join(store.dir, '.go-cache'), 'in the way');
      const body = Buffer.from('spilled');
      const received = await store.receiveBody(await bodyOf(body), sha(body), body.length);
      expect(received.inStore).toBe(false);
      expect(path.dirname(received.path!)).toBe(spillDir());
      const res = await store.commitPut(A, sha(body), body.length, received.path!);
      expect(res).toMatchObject({ stored: false, diskPath: received.path });
      expect(fs.readFileSync(res.diskPath)).toEqual(body);
      expect(await store.get(A)).toBeNull();
      fs.rmSync(received.path!);
    });

    it('nothing writable at all: the body is still read and checked, no path, no throw', async () => {
      fs.mkdirSync(store.dir, { recursive: true });
      fs.writeFileSync(path.join(store.dir, '.go-cache'), 'in the way');
      const tmpdir = process.env.TMPDIR;
      process.env.TMPDIR = path.join(store.dir, '.go-cache'); // a file: no spill dir either
      try {
        const body = Buffer.from('nowhere');
        const received = await store.receiveBody(await bodyOf(body), sha(body), body.length);
        expect(received.path).toBeNull();
        expect(received.problem).toMatch(/writing the body/);
        expect(store.unwritablePut(sha(body))).toBe(store.outputPath(sha(body)));
        await expect(
          store.receiveBody(await bodyOf(body), sha(Buffer.from('x')), body.length),
        ).rejects.toThrow(/does not match/);
      } finally {
        if (tmpdir === undefined) delete process.env.TMPDIR;
        else process.env.TMPDIR = tmpdir;
      }
    });

    it('output directory unusable: not stored, answered with the temp file', async () => {
      const body = Buffer.from('nowhere to go');
      fs.mkdirSync(store.dir, { recursive: true });
      fs.writeFileSync(path.join(store.dir, sha(body).slice(0, 2)), 'a file, not a dir');
      const res = await put(store, A, body);
      expect(res.stored).toBe(false);
      expect(res.problem).toMatch(/storing the output/);
      expect(fs.readFileSync(res.diskPath)).toEqual(body);
      expect(await store.get(A)).toBeNull();
    });

    it('index directory unusable: the output is kept but not indexed', async () => {
      const body = Buffer.from('output fine, index not');
      fs.mkdirSync(store.dir, { recursive: true });
      fs.writeFileSync(path.join(store.dir, 'ab'), 'a file, not a dir');
      const res = await put(store, A, body);
      expect(res).toMatchObject({ stored: false, diskPath: store.outputPath(sha(body)) });
      expect(res.problem).toMatch(/index entry/);
      expect(await store.get(A)).toBeNull();
    });
  });

  it('scan yields every valid index entry', async () => {
    const ids = ['01', '02', 'fe'].map((p) => p.repeat(32));
    for (const id of ids) await put(store, id, Buffer.from(id));
    fs.writeFileSync(path.join(store.dir, 'fe', `${'fd'.repeat(32)}-a`), 'junk');
    const seen: string[] = [];
    for await (const e of store.scan()) seen.push(e.actionID);
    expect(seen.sort()).toEqual(ids.sort());
  });

  it('usage records are appended and merged per action (latest use wins, put sticks)', async () => {
    const out = 'ee'.repeat(32);
    await store.appendUsage('daemon', [
      { actionID: A, outputID: out, size: 1, lastUse: 100, op: 'put' },
    ]);
    await store.appendUsage('4242', [
      { actionID: A, outputID: out, size: 1, lastUse: 200, op: 'get' },
      { actionID: 'cd'.repeat(32), outputID: out, size: 2, lastUse: 50, op: 'get' },
    ]);
    fs.appendFileSync(store.usageFile('4242'), '{"actionID":"torn');
    const usage = readStandaloneUsage(store.dir).sort((a, b) => a.lastUse - b.lastUse);
    expect(usage).toEqual([
      { actionID: 'cd'.repeat(32), outputID: out, size: 2, lastUse: 50, op: 'get' },
      { actionID: A, outputID: out, size: 1, lastUse: 200, op: 'put' },
    ]);
    await store.clearUsage();
    expect(readStandaloneUsage(store.dir)).toEqual([]);
    expect(readStandaloneUsage(path.join(dir, 'nope'))).toEqual([]);
  });
});
