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
  /** The go.sum hash part (32 hex) that says which module set a base or delta was saved for. */
  depsHash: string;
  /** Prefixes tried in order for the base: one saved for these go.sum files, then the newest. */
  basePrefixes: string[];
  /** A base whose key starts with this was saved for these go.sum files: an exact hit. */
  exactBasePrefix: string;
  /** The key a new base is saved under. */
  newBase: string;
}

function moduleRoot(k: Pick<KeyContext, 'prefix' | 'os' | 'arch'>): string {
  return `${k.prefix}-mod-${sanitize(k.os)}-${sanitize(k.arch)}-`;
}

// Module caches are shared by every scope of an os/arch: a module version is the same bytes for all.
// A base is `<root>base-<deps hash>-<run tag>`; a delta on it is `<root>delta-<the base's deps hash and
// run tag>-<deps hash>`, so a delta only ever meets its own base and names the go.sum it completes.
export function moduleKeys(
  k: Pick<KeyContext, 'prefix' | 'os' | 'arch' | 'runTag'>,
  depsHash: string,
): ModuleKeys {
  const root = moduleRoot(k);
  const h = depsHash.slice(0, 32);
  const exactBasePrefix = `${root}base-${h}-`;
  return {
    depsHash: h,
    basePrefixes: [exactBasePrefix, `${root}base-`],
    exactBasePrefix,
    newBase: `${exactBasePrefix}${k.runTag}`,
  };
}

/** Prefix of the deltas on a module base; restore takes the newest when none is exact. */
export function moduleDeltaPrefix(
  k: Pick<KeyContext, 'prefix' | 'os' | 'arch'>,
  moduleBaseKey: string,
): string {
  return `${moduleRoot(k)}delta-${baseId(moduleBaseKey)}-`;
}

/** The delta on `moduleBaseKey` that completes it to the module set of `depsHash`. */
export function moduleDeltaKey(
  k: Pick<KeyContext, 'prefix' | 'os' | 'arch'>,
  moduleBaseKey: string,
  depsHash: string,
): string {
  return `${moduleDeltaPrefix(k, moduleBaseKey)}${depsHash.slice(0, 32)}`;
}

/** Which tier a restored key is, read back from the key itself. */
export function tierKind(key: string): 'base' | 'delta' | 'unknown' {
  if (key.includes('-base-')) return 'base';
  if (key.includes('-delta-')) return 'delta';
  return 'unknown';
}
