// The working set: what the next run should find in the cache. Pure; the save step feeds it what the
// restored tiers carried and what this job used, and gets back what to keep.
import type { TierEntry } from './manifest.js';

export interface WorkingSetInput {
  /** Entries the restored tiers carried, with the last-use times earlier runs recorded. */
  restored: readonly TierEntry[];
  /** Entries this job read or wrote, last use = when it did. */
  used: readonly TierEntry[];
  now: number;
  retentionMs: number;
  maxBytes: number;
}

export interface WorkingSet {
  entries: TierEntry[];
  bytes: number;
  /** Entries earlier runs used but nobody has used within the retention window. */
  expired: { count: number; bytes: number };
  /** Entries that fit the window but not the size budget. */
  overBudget: { count: number; bytes: number; executables: number };
}

export function computeWorkingSet(input: WorkingSetInput): WorkingSet {
  const byAction = new Map<string, TierEntry>();
  const expired = { count: 0, bytes: 0 };
  const horizon = input.now - input.retentionMs;
  for (const e of input.restored) {
    if (e.t < horizon) {
      expired.count++;
      expired.bytes += e.s;
      continue;
    }
    keepNewest(byAction, e);
  }
  for (const e of input.used) keepNewest(byAction, e);

  // Over budget, executables go first (they are large and cheap to relink compared with the
  // compiles they came from), then the least recently used.
  const ranked = [...byAction.values()].sort(
    (x, y) => (x.x ?? 0) - (y.x ?? 0) || y.t - x.t || (x.a < y.a ? -1 : 1),
  );
  const entries: TierEntry[] = [];
  const overBudget = { count: 0, bytes: 0, executables: 0 };
  let bytes = 0;
  for (const e of ranked) {
    if (bytes + e.s <= input.maxBytes) {
      entries.push(e);
      bytes += e.s;
    } else {
      overBudget.count++;
      overBudget.bytes += e.s;
      if (e.x) overBudget.executables++;
    }
  }
  return { entries, bytes, expired, overBudget };
}

function keepNewest(map: Map<string, TierEntry>, e: TierEntry): void {
  const have = map.get(e.a);
  if (have && have.o === e.o) {
    map.set(e.a, {
      ...have,
      t: Math.max(have.t, e.t),
      ...(e.x || have.x ? { x: 1 as const } : {}),
    });
    return;
  }
  // Records come oldest source first (base, delta, this job), so a different output for the same
  // action is a newer put: it is what the store holds now.
  map.set(e.a, e);
}
