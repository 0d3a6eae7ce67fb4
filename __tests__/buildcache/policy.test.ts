import { describe, expect, it } from 'vitest';
import type { TierEntry } from '../../src/buildcache/manifest.js';
import { decideSave } from '../../src/buildcache/policy.js';

const e = (n: number, size = 100): TierEntry => ({
  a: n.toString(16).padStart(64, '0'),
  o: n.toString(16).padStart(64, 'f'),
  s: size,
  t: 0,
});
const range = (from: number, to: number, size = 100) =>
  Array.from({ length: to - from }, (_, i) => e(from + i, size));

describe('decideSave', () => {
  const base = { key: 'k-base-1-1', entries: range(0, 100) };

  it('writes a base when the scope has none', () => {
    expect(
      decideSave({ base: null, delta: null, workingSet: range(0, 5), pullRequest: false }),
    ).toMatchObject({ kind: 'base' });
  });

  it('saves nothing when nothing changed', () => {
    expect(
      decideSave({ base, delta: null, workingSet: range(0, 100), pullRequest: false }),
    ).toEqual({ kind: 'none', reason: 'cache up to date' });
  });

  it('uploads only what was gained as a delta', () => {
    const d = decideSave({
      base,
      delta: null,
      workingSet: [...range(0, 98), ...range(200, 203)],
      pullRequest: false,
    });
    expect(d.kind).toBe('delta');
    expect(d.kind === 'delta' && d.entries.map((x) => x.a)).toEqual(
      range(200, 203).map((x) => x.a),
    );
  });

  it('skips the upload when the restored delta already holds everything new', () => {
    const delta = { key: 'k-delta', entries: range(200, 203) };
    expect(
      decideSave({
        base,
        delta,
        workingSet: [...range(0, 100), ...range(200, 203)],
        pullRequest: false,
      }).kind,
    ).toBe('none');
  });

  it('writes a new base when the delta outgrows its share of the base', () => {
    expect(
      decideSave({
        base,
        delta: null,
        workingSet: [...range(0, 100), ...range(200, 260)],
        pullRequest: false,
      }),
    ).toMatchObject({ kind: 'base' });
  });

  it('writes a new base when most of the base is no longer used', () => {
    expect(
      decideSave({ base, delta: null, workingSet: range(0, 30), pullRequest: false }),
    ).toMatchObject({ kind: 'base' });
  });

  it('never replaces the base from a pull request', () => {
    const d = decideSave({
      base,
      delta: null,
      workingSet: [...range(0, 100), ...range(200, 260)],
      pullRequest: true,
    });
    expect(d.kind).toBe('delta');
  });
});
