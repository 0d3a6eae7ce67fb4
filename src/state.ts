// What main hands to post, as one JSON value (Swatinem/rust-cache's habit): post rebuilds nothing from
// inputs and so cannot disagree with what main decided.
import type { TierEntry } from './buildcache/manifest.js';
import type { Inputs } from './inputs.js';
import type { KeyContext } from './keys.js';

export const STATE_NAME = 'go-cache';
/** Names the state file for the save-only action, which does not receive the restore's STATE_*. */
export const STATE_FILE_ENV = 'GO_CACHE_STATE_FILE';

export interface RestoredTier {
  key: string;
  kind: 'base' | 'delta';
  bytes: number;
  ms: number;
  entries: number;
  dropped: number;
}

export interface ModuleState {
  path: string;
  /** The go.sum hash part of the keys (moduleKeys). */
  depsHash: string;
  /** exact: the base or the delta was saved for these go.sum files. */
  hit: 'exact' | 'partial' | 'miss';
  baseKey: string | null;
  deltaKey: string | null;
  /** Where main wrote the ModulesRestored (modcache/tiers.ts). */
  restoredFile: string;
  /** Hash of the module versions present after restore: post saves only when the trimmed set differs. */
  restoredSetHash: string;
  dependencyFiles: string[];
  /** The golang.org/toolchain module version the job runs on, when GOTOOLCHAIN downloaded it. */
  toolchainModule: string | null;
  restoredBytes: number;
  ms: number;
}

export interface BuildState {
  mode: 'helper' | 'native';
  /** Why the mode is what it is (auto choice, old Go, helper failed to start). */
  modeReason: string;
  storeDir: string;
  tierDir: string;
  socket: string | null;
  daemonLog: string | null;
  daemonPid: number | null;
  /** When the job's own use began; native mode reads use from mtimes newer than this. */
  startedAt: number;
  /**
   * Where main wrote the RestoredSet: entry lists can run to megabytes, and state travels in an
   * environment variable, which Linux caps at 128 KiB.
   */
  restoredFile: string;
  tiers: RestoredTier[];
  hit: 'exact' | 'partial' | 'miss';
}

export interface RestoredSet {
  /** The base this job restored in its own scope (null for a fallback hit or a miss). */
  base: { key: string; entries: TierEntry[] } | null;
  delta: { key: string; entries: TierEntry[] } | null;
  /** Entries restored from another scope's tiers. */
  fallback: { key: string; entries: TierEntry[] } | null;
}

export interface State {
  version: 1;
  inputs: Inputs;
  keyContext: KeyContext;
  goVersion: string;
  modules: ModuleState | null;
  build: BuildState | null;
  /** Warnings from main, repeated in the summary. */
  problems: string[];
}

export function encodeState(s: State): string {
  return JSON.stringify(s);
}

export function decodeState(text: string): State | null {
  if (!text) return null;
  try {
    const s = JSON.parse(text) as State;
    return s.version === 1 ? s : null;
  } catch {
    return null;
  }
}

/** The state of this job's restore: the post step's own STATE_*, else the file the restore left. */
export function loadState(
  getState: (name: string) => string,
  readFile: (file: string) => string | null,
): State | null {
  const own = decodeState(getState(STATE_NAME));
  if (own) return own;
  const file = process.env[STATE_FILE_ENV];
  return file ? decodeState(readFile(file) ?? '') : null;
}
