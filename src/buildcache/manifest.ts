// A tier's manifest: which build-cache entries it carries and when each was last used. Last-use times
// travel with the tier so that a later run can keep what recent runs used, not only what it used itself.

export interface TierEntry {
  /** ActionID, hex. */
  a: string;
  /** OutputID, hex: the SHA-256 of the output's content. */
  o: string;
  /** Output size in bytes. */
  s: number;
  /** Last use, ms since the epoch. */
  t: number;
  /** Set when the output is an executable (a cached `go run`/`go tool` binary or a test binary). */
  x?: 1;
}

export interface TierManifest {
  version: 1;
  kind: 'base' | 'delta';
  key: string;
  /** For a delta: the key of the base it was made on. */
  baseKey?: string;
  createdAt: number;
  goVersion: string;
  entries: TierEntry[];
}

export const MANIFEST_NAME = 'go-cache-manifest.json';

const HEX64 = /^[0-9a-f]{64}$/;

/** Parses a manifest, dropping malformed entries rather than trusting any of them. */
export function parseManifest(text: string): TierManifest | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof raw !== 'object' || raw === null) return null;
  const m = raw as Partial<TierManifest>;
  if (m.version !== 1 || (m.kind !== 'base' && m.kind !== 'delta') || !Array.isArray(m.entries)) {
    return null;
  }
  const entries = m.entries.filter(
    (e): e is TierEntry =>
      typeof e === 'object' &&
      e !== null &&
      HEX64.test(e.a) &&
      HEX64.test(e.o) &&
      Number.isSafeInteger(e.s) &&
      e.s >= 0 &&
      Number.isFinite(e.t),
  );
  return {
    version: 1,
    kind: m.kind,
    key: String(m.key ?? ''),
    ...(m.baseKey ? { baseKey: String(m.baseKey) } : {}),
    createdAt: Number(m.createdAt ?? 0),
    goVersion: String(m.goVersion ?? ''),
    entries,
  };
}

export const entryBytes = (entries: readonly TierEntry[]) => entries.reduce((n, e) => n + e.s, 0);
