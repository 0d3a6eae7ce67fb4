// What the post step uploads. Pure: tier contents and sizes in, one decision out.
import { entryBytes, type TierEntry } from './manifest.js';

export interface SavePolicyInput {
  /** The base this job restored from its own scope, if any. */
  base: { key: string; entries: readonly TierEntry[] } | null;
  /** The delta this job restored on that base, if any. */
  delta: { key: string; entries: readonly TierEntry[] } | null;
  workingSet: readonly TierEntry[];
  /** Pull requests never replace the base their branch shares; they add deltas. */
  pullRequest: boolean;
  /** A delta past this share of its base's bytes becomes a new base. */
  maxDeltaShare?: number;
  /** A base with more than this share of its bytes unused by the working set is rewritten. */
  maxUnusedShare?: number;
}

export type SaveDecision =
  | { kind: 'none'; reason: string }
  | { kind: 'base'; entries: TierEntry[]; reason: string }
  | { kind: 'delta'; entries: TierEntry[]; reason: string };

const idOf = (e: TierEntry) => `${e.a}:${e.o}`;

export function decideSave(input: SavePolicyInput): SaveDecision {
  const maxDeltaShare = input.maxDeltaShare ?? 0.4;
  const maxUnusedShare = input.maxUnusedShare ?? 0.5;
  const ws = [...input.workingSet];
  if (ws.length === 0) return { kind: 'none', reason: 'the job used no build-cache entries' };
  if (!input.base) return { kind: 'base', entries: ws, reason: 'no base in this scope yet' };

  const inBase = new Set(input.base.entries.map(idOf));
  const gained = ws.filter((e) => !inBase.has(idOf(e)));
  const baseBytes = Math.max(1, entryBytes(input.base.entries));
  const gainedBytes = entryBytes(gained);
  const inWs = new Set(ws.map(idOf));
  const unusedBytes = entryBytes(input.base.entries.filter((e) => !inWs.has(idOf(e))));

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
  const restoredDelta = new Set((input.delta?.entries ?? []).map(idOf));
  if (gained.length === restoredDelta.size && gained.every((e) => restoredDelta.has(idOf(e)))) {
    return { kind: 'none', reason: 'cache up to date (the restored delta holds everything new)' };
  }
  return { kind: 'delta', entries: gained, reason: `${gained.length} entries new since the base` };
}

const pct = (x: number) => `${Math.round(x * 100)}%`;
