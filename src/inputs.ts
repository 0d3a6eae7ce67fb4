// One typed, validated Inputs object. Main parses it once and hands it to post through state, so post
// never re-reads (and can never disagree with) what main decided. Each parser throws an InputError that
// names the input and what it allows; main turns that into setFailed.

export type Mode = 'auto' | 'helper' | 'native';
export type SaveSetting = 'auto' | 'true' | 'false';

export interface Inputs {
  keyPrefix: string;
  /** Empty means "the job id", resolved by the caller who knows GITHUB_JOB. */
  scope: string;
  dependencyPatterns: string[];
  cacheModules: boolean;
  cacheBuild: boolean;
  mode: Mode;
  maxSizeBytes: number;
  retentionMs: number;
  save: SaveSetting;
  saveOnFailure: boolean;
  testMtimes: boolean;
}

export class InputError extends Error {
  constructor(
    readonly input: string,
    message: string,
  ) {
    super(`Invalid input '${input}': ${message}`);
    this.name = 'InputError';
  }
}

export const DEFAULT_DEPENDENCY_PATTERNS = ['**/go.sum', '**/go.work.sum'];

/** Reads a raw input by name; '' when unset, as @actions/core's getInput does. */
export type InputReader = (name: string) => string;

export function parseInputs(read: InputReader): Inputs {
  return {
    keyPrefix: parseKeyPart('key-prefix', read('key-prefix') || 'go-cache'),
    scope: read('scope') ? parseKeyPart('scope', read('scope')) : '',
    dependencyPatterns: parseList(read('cache-dependency-path'), DEFAULT_DEPENDENCY_PATTERNS),
    cacheModules: parseBool('cache-modules', read('cache-modules'), true),
    cacheBuild: parseBool('cache-build', read('cache-build'), true),
    mode: parseChoice('mode', read('mode') || 'auto', ['auto', 'helper', 'native'] as const),
    maxSizeBytes: parseSize('max-size', read('max-size') || '1GiB'),
    retentionMs: parseDuration('retention', read('retention') || '2d'),
    save: parseChoice('save', read('save') || 'auto', ['auto', 'true', 'false'] as const),
    saveOnFailure: parseBool('save-on-failure', read('save-on-failure'), false),
    testMtimes: parseBool('test-mtimes', read('test-mtimes'), true),
  };
}

export function parseBool(input: string, raw: string, fallback: boolean): boolean {
  const v = raw.trim().toLowerCase();
  if (v === '') return fallback;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new InputError(input, `'${raw}' is not a boolean. Must be 'true' or 'false'.`);
}

export function parseChoice<T extends string>(
  input: string,
  raw: string,
  allowed: readonly T[],
): T {
  const v = raw.trim().toLowerCase();
  if ((allowed as readonly string[]).includes(v)) return v as T;
  throw new InputError(
    input,
    `'${raw}' is not allowed. Must be ${allowed
      .map((a) => `'${a}'`)
      .join(', ')
      .replace(/, ([^,]*)$/, ' or $1')}.`,
  );
}

// The Actions cache refuses keys over 512 characters and keys containing commas.
const KEY_PART = /^[A-Za-z0-9._+@/=-]{1,100}$/;

export function parseKeyPart(input: string, raw: string): string {
  const v = raw.trim();
  if (!KEY_PART.test(v)) {
    throw new InputError(
      input,
      `'${raw}' must be 1 to 100 characters of letters, digits and . _ + @ / = - (no spaces or commas).`,
    );
  }
  return v;
}

export function parseList(raw: string, fallback: string[]): string[] {
  const items = raw
    .split(/\r?\n/)
    .flatMap((line) => line.split(','))
    .map((s) => s.trim())
    .filter((s) => s !== '' && !s.startsWith('#'));
  return items.length ? items : fallback;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  kib: 1024,
  m: 1e6,
  mb: 1e6,
  mib: 1024 ** 2,
  g: 1e9,
  gb: 1e9,
  gib: 1024 ** 3,
};

export function parseSize(input: string, raw: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(raw);
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new InputError(
      input,
      `'${raw}' is not a size. Use a number with B, KB, MB, GB, KiB, MiB or GiB, e.g. '1GiB' or '500MB'.`,
    );
  }
  const bytes = Math.floor(Number(m[1]) * unit);
  if (bytes < 1024 ** 2) throw new InputError(input, `'${raw}' is below the minimum of 1MiB.`);
  if (bytes > 10 * 1024 ** 3) {
    throw new InputError(
      input,
      `'${raw}' is above 10GiB, the whole Actions cache of a repository.`,
    );
  }
  return bytes;
}

const DURATION_UNITS: Record<string, number> = { h: 3600e3, d: 86400e3, w: 7 * 86400e3 };

export function parseDuration(input: string, raw: string): number {
  const m = /^\s*(\d+)\s*([hdw])\s*$/i.exec(raw);
  if (!m)
    throw new InputError(
      input,
      `'${raw}' is not a duration. Use hours, days or weeks, e.g. '36h', '2d' or '1w'.`,
    );
  const ms = Number(m[1]) * DURATION_UNITS[m[2]!.toLowerCase()]!;
  if (ms > 90 * 86400e3) throw new InputError(input, `'${raw}' is longer than 90 days.`);
  return ms;
}
