// Cache key derivation. Pure: everything it needs comes in as arguments, so a user's miss can be
// explained from the one log group that prints these parts.

export interface KeyContext {
  prefix: string;
  scope: string;
  /** RUNNER_OS / RUNNER_ARCH, lowercased; Go's own GOOS/GOARCH would hide a cross-compiling job's host. */
  os: string;
  arch: string;
  goVersion: string;
  /** Unique per job attempt: `<run id>-<attempt>`, plus the job id so matrix legs differ. */
  runTag: string;
  /** Set on pull_request events: their deltas are named for the PR. */
  pullRequest?: number;
}

export interface BuildKeys {
  /** Prefix shared by this scope's bases; restore takes the newest. */
  basePrefix: string;
  /** Fallback prefixes, tried in order after basePrefix. */
  fallbackPrefixes: string[];
  /** The key a new base is saved under. */
  newBase: string;
}

const sanitize = (s: string) => s.replace(/[^A-Za-z0-9._+@=-]/g, '_');

function buildRoot(k: KeyContext): string {
  return `${k.prefix}-build-${sanitize(k.os)}-${sanitize(k.arch)}-go${sanitize(k.goVersion)}`;
}

export function buildKeys(k: KeyContext): BuildKeys {
  const root = buildRoot(k);
  const basePrefix = `${root}-${sanitize(k.scope)}-base-`;
  return {
    basePrefix,
    // Another scope's tiers of the same Go version still share most of the standard library and
    // dependency packages, so a partial hit beats a cold build.
    fallbackPrefixes: [`${root}-`],
    newBase: `${basePrefix}${k.runTag}`,
  };
}

/** The part of a base key that names it uniquely; deltas carry it so they only ever meet their base. */
export function baseId(baseKey: string): string {
  const i = baseKey.lastIndexOf('-base-');
  return i < 0 ? 'none' : baseKey.slice(i + '-base-'.length);
}

export function deltaPrefix(k: KeyContext, baseKey: string): string {
  return `${buildRoot(k)}-${sanitize(k.scope)}-delta-${baseId(baseKey)}-`;
}

export function newDeltaKey(k: KeyContext, baseKey: string): string {
  const pr = k.pullRequest !== undefined ? `pr${k.pullRequest}-` : '';
  return `${deltaPrefix(k, baseKey)}${pr}${k.runTag}`;
}

export interface ModuleKeys {
  primary: string;
  restorePrefixes: string[];
}

export function moduleKeys(
  k: Pick<KeyContext, 'prefix' | 'os' | 'arch'>,
  depsHash: string,
): ModuleKeys {
  const root = `${k.prefix}-mod-${sanitize(k.os)}-${sanitize(k.arch)}-`;
  return { primary: `${root}${depsHash.slice(0, 32)}`, restorePrefixes: [root] };
}

/** Which tier a restored key is, read back from the key itself. */
export function tierKind(key: string): 'base' | 'delta' | 'unknown' {
  if (key.includes('-base-')) return 'base';
  if (key.includes('-delta-')) return 'delta';
  return 'unknown';
}
