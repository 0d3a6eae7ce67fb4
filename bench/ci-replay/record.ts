// What one benchmark run records, shared by the runner and the report.

export const STRATEGY_NAMES = [
  'none',
  'setup-go',
  'recipe',
  'go-cache',
  'go-cache-native',
  'go-cache-nomtimes',
  'go-cache-r0',
] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];
/**
 * What runs without --strategies. go-cache-nomtimes is the before of test-mtimes' before/after;
 * go-cache-r0 is a variant for looking into retention.
 */
export const DEFAULT_STRATEGIES = STRATEGY_NAMES.filter((s) => s !== 'go-cache-r0');

export const STRATEGY_LABELS: Record<StrategyName, string> = {
  none: 'no cache',
  'setup-go': 'setup-go cache',
  recipe: 'actions/cache recipe',
  'go-cache': 'go-cache (helper)',
  'go-cache-native': 'go-cache (native)',
  'go-cache-nomtimes': 'go-cache (helper, test-mtimes off)',
  'go-cache-r0': 'go-cache (helper, retention 0h)',
};

/** One CI run (one job) of one strategy. */
export interface JobRecord {
  run: number; // 1-based
  version: string;
  strategy: StrategyName;
  /** Position of this job among the strategies of its run (orders rotate per run). */
  order: number;
  startedAt: string;
  /** 1-minute load average when the job started (the machine is shared). */
  loadAvg: number;
  ok: boolean;
  failedSteps: string[];
  seconds: {
    checkout: number;
    restore: number;
    build: number;
    vet: number;
    test: number;
    save: number;
    /** restore + build + vet + test + save (checkout is the same for every strategy). */
    total: number;
  };
  bytes: {
    /** From the cache service (restores). */
    downloaded: number;
    /** To the cache service (saves). */
    uploaded: number;
    /** What the service holds for this strategy's keys after the job. */
    stored: number;
    entries: number;
    /** The part of `stored` the next job of this strategy would restore (see liveBytes in run.ts). */
    live: number;
    saves: number;
  };
  /** The local GOPROXY: module downloads a cold module cache has to make. */
  proxy: { requests: number; bytes: number; notFound: string[] };
  /** `go: downloading` lines in the build, vet and test output. */
  goDownloads: number;
  compiled: { build: number; vet: number; test: number };
  vetRuns: number;
  tests: { packages: number; cached: number };
  /** go-cache's post output (build-cache hits per get); null for the others. */
  hitRate: number | null;
  /** 1 − packages compiled by `go build` / packages compiled by the no-cache job of the same run. */
  estHitRate: number | null;
  /** Outputs of the cache step (main and post). */
  outputs: Record<string, string>;
  /** Warnings and errors the cache steps annotated, and harness notes (held-open pipes, leftovers). */
  notes: string[];
}

export interface BenchResult {
  schema: 1;
  startedAt: string;
  finishedAt: string;
  command: string;
  project: {
    module: string;
    versions: string[];
    testPackages: string[];
    deps: Record<string, { required: number; graph: number }>;
    /** First 12 hex digits of the sha256 of each version's go.sum. */
    goSum: Record<string, string>;
  };
  machine: {
    nproc: number;
    memoryBytes: number;
    cpuModel: string;
    kernel: string;
    node: string;
    go: string;
    loadAvgStart: number[];
    loadAvgEnd: number[];
  };
  action: { gitHead: string; dirtyFiles: number; distSha256: string };
  strategies: StrategyName[];
  jobs: JobRecord[];
}
