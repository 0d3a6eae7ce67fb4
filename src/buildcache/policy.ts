// What the post step uploads, for build-cache entries and module files alike. Pure: tier contents and
// sizes in, one decision out.
import type { TierEntry } from './manifest.js';

export interface TierPolicyInput<T> {
  /** The base this job restored from its own scope, if any. */
  base: { key: string; entries: readonly T[] } | null;
  /** The delta this job restored on that base, if any. */
  delta: { key: string; entries: readonly T[] } | null;
  /** What the next job should find. */
  workingSet: readonly T[];
  /** Pull requests never replace the base their branch shares; they add deltas. */
  pullRequest: boolean;
  /** A delta past this share of its base's bytes becomes a new base. */
  maxDeltaShare?: number;
  /** A base with more than this share of its bytes unused by the working set is rewritten. */
  maxUnusedShare?: number;
}

export type TierDecision<T> =
  | { kind: 'none'; reason: string }
  | { kind: 'base'; entries: T[]; reason: string }
  | { kind: 'delta'; entries: T[]; reason: string };

export interface TierItems<T> {
  id: (t: T) => string;
  bytes: (t: T) => number;
  /** Plural noun for the log: "build-cache entries", "module files". */
  noun: string;
}

/**
 * Base or delta or nothing. A delta holds everything the working set has that the base lacks (so a
 * chain is never longer than base + one delta); it becomes a new base once it outgrows a share of
 * the base, or once the base is mostly unused, which keeps what is stored bounded.
 */
export function decideTierSave<T>(input: TierPolicyInput<T>, items: TierItems<T>): TierDecision<T> {
  const { id, bytes, noun } = items;
  const sum = (xs: readonly T[]) => xs.reduce((n, x) => n + bytes(x), 0);
  const maxDeltaShare = input.maxDeltaShare ?? 0.4;
  const maxUnusedShare = input.maxUnusedShare ?? 0.5;
  const ws = [...input.workingSet];
  if (ws.length === 0) return { kind: 'none', reason: `the job used no ${noun}` };
  if (!input.base) return { kind: 'base', entries: ws, reason: 'no base in this scope yet' };

  const inBase = new Set(input.base.entries.map(id));
  const gained = ws.filter((e) => !inBase.has(id(e)));
  const baseBytes = Math.max(1, sum(input.base.entries));
  const gainedBytes = sum(gained);
  const inWs = new Set(ws.map(id));
  const unusedBytes = sum(input.base.entries.filter((e) => !inWs.has(id(e))));

  if (!input.pullRequest) {
    if (gainedBytes > maxDeltaShare * baseBytes) {
      return {
        kind: 'base',
        entries: ws,
        reason: `the delta (${pct(gainedBytes / baseBytes)} of the base) outgrew ${pct(maxDeltaShare)}`,
      };
    }
    if (unusedBytes > maxUnusedShare * baseBytes) {
      return {
        kind: 'base',
        entries: ws,
        reason: `${pct(unusedBytes / baseBytes)} of the base is no longer used`,
      };
    }
  }
  if (gained.length === 0) return { kind: 'none', reason: 'cache up to date' };
  const restoredDelta = new Set((input.delta?.entries ?? []).map(id));
  if (gained.length === restoredDelta.size && gained.every((e) => restoredDelta.has(id(e)))) {
    return { kind: 'none', reason: 'cache up to date (the restored delta holds everything new)' };
  }
  return { kind: 'delta', entries: gained, reason: `${gained.length} ${noun} new since the base` };
}

export type SavePolicyInput = TierPolicyInput<TierEntry>;
export type SaveDecision = TierDecision<TierEntry>;

/** The build-cache tiers' decision. */
export function decideSave(input: SavePolicyInput): SaveDecision {
  return decideTierSave(input, {
    id: (e) => `${e.a}:${e.o}`,
    bytes: (e) => e.s,
    noun: 'build-cache entries',
  });
}

const pct = (x: number) => `${Math.round(x * 100)}%`;
