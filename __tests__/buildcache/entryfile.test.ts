import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatIndexEntry, parseIndexEntry } from '../../src/buildcache/entryfile.js';
import { parseManifest } from '../../src/buildcache/manifest.js';

const a = 'a'.repeat(64);
const o = 'b'.repeat(64);

describe('index entries', () => {
  it('round-trips Go’s fixed-width format', () => {
    const text = formatIndexEntry({
      actionID: a,
      outputID: o,
      size: 1234,
      timeNanos: 1700000000123456789n,
    });
    expect(text).toBe(`v1 ${a} ${o} ${' '.repeat(16)}1234  1700000000123456789\n`);
    expect(text.length).toBe(175);
    expect(parseIndexEntry(text)).toEqual({
      actionID: a,
      outputID: o,
      size: 1234,
      timeNanos: 1700000000123456789n,
    });
  });

  it('rejects truncated or altered entries', () => {
    const text = formatIndexEntry({ actionID: a, outputID: o, size: 1, timeNanos: 1n });
    expect(parseIndexEntry(text.slice(0, -1))).toBeNull();
    expect(parseIndexEntry(text.replace('v1', 'v2'))).toBeNull();
    expect(parseIndexEntry(text.replace(a, 'g'.repeat(64)))).toBeNull();
  });

  it('reads entries written by the real go command', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gocache-'));
    const mod = fs.mkdtempSync(path.join(os.tmpdir(), 'mod-'));
    fs.writeFileSync(path.join(mod, 'go.mod'), 'module m\n\ngo 1.21\n');
    fs.writeFileSync(path.join(mod, 'm.go'), 'package m\n\nfunc F() int { return 1 }\n');
    execFileSync('go', ['build', './...'], {
      cwd: mod,
      env: { ...process.env, GOCACHE: dir, GOFLAGS: '', GOTOOLCHAIN: 'local', GOCACHEPROG: '' },
    });
    const entries = fs
      .readdirSync(dir, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('-a'));
    expect(entries.length).toBeGreaterThan(0);
    for (const f of entries)
      expect(parseIndexEntry(fs.readFileSync(path.join(dir, f), 'latin1'))).not.toBeNull();
  });
});

describe('parseManifest', () => {
  it('drops malformed entries and rejects foreign documents', () => {
    const good = { a, o, s: 3, t: 5 };
    const m = parseManifest(
      JSON.stringify({
        version: 1,
        kind: 'base',
        key: 'k',
        createdAt: 1,
        goVersion: '1.26',
        entries: [good, { a: 'x', o, s: 1, t: 1 }, { a, o, s: -1, t: 1 }],
      }),
    );
    expect(m?.entries).toEqual([good]);
    expect(parseManifest('{"version":2}')).toBeNull();
    expect(parseManifest('not json')).toBeNull();
  });
});
