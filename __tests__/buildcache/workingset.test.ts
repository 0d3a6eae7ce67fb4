import { describe, expect, it } from 'vitest';
import type { TierEntry } from '../../src/buildcache/manifest.js';
import { computeWorkingSet } from '../../src/buildcache/workingset.js';

const hex = (n: number, c = 'a') => n.toString(16).padStart(64, c === 'a' ? '0' : 'f');
const entry = (n: number, size: number, t: number, x = false): TierEntry => ({
  a: hex(n),
  o: hex(n, 'o'),
  s: size,
  t,
  ...(x ? { x: 1 as const } : {}),
});
const now = 1_000_000_000;
const day = 86400e3;

describe('computeWorkingSet', () => {
  it('keeps what the job used and what earlier runs used within the window', () => {
    const ws = computeWorkingSet({
      restored: [entry(1, 10, now - 3 * day), entry(2, 10, now - day / 2)],
      used: [entry(3, 10, now)],
      now,
      retentionMs: day,
      maxBytes: 1e9,
    });
    expect(ws.entries.map((e) => e.a).sort()).toEqual([hex(2), hex(3)]);
    expect(ws.expired).toEqual({ count: 1, bytes: 10 });
    expect(ws.bytes).toBe(20);
  });

  it('refreshes the last use of a restored entry this job used', () => {
    const ws = computeWorkingSet({
      restored: [entry(1, 10, now - 5 * day)],
      used: [entry(1, 10, now)],
      now,
      retentionMs: day,
      maxBytes: 1e9,
    });
    expect(ws.entries).toEqual([entry(1, 10, now)]);
  });

  it('prefers this job’s output when an action was rebuilt to a different output', () => {
    const rebuilt = { ...entry(1, 12, now), o: hex(99, 'o') };
    const ws = computeWorkingSet({
      restored: [entry(1, 10, now - 1000)],
      used: [rebuilt],
      now,
      retentionMs: day,
      maxBytes: 1e9,
    });
    expect(ws.entries).toEqual([rebuilt]);
  });

  it('over budget, drops executables first and then the least recently used', () => {
    const ws = computeWorkingSet({
      restored: [],
      used: [
        entry(1, 40, now - 10),
        entry(2, 40, now - 5),
        entry(3, 40, now, true),
        entry(4, 10, now - 20),
      ],
      now,
      retentionMs: day,
      maxBytes: 90,
    });
    expect(ws.entries.map((e) => e.a)).toEqual([hex(2), hex(1), hex(4)]);
    expect(ws.overBudget).toEqual({ count: 1, bytes: 40, executables: 1 });
    expect(ws.bytes).toBeLessThanOrEqual(90);
  });
});
