// What one run of the helper benchmark records (bench/results/helper.json).
import type { HelperStats } from '../../src/helper/control.js';

export const VARIANTS = ['native', 'daemon', 'standalone', 'go-cacher'] as const;
/**
 * One of VARIANTS, or `<exp>-daemon` / `<exp>-standalone` for an experimental build of the helper
 * given with --exp <exp>=<dir>.
 */
export type VariantName = string;

export const CASES = ['warm', 'noop', 'run', 'cold'] as const;
export type CaseName = (typeof CASES)[number];

export interface Sample {
  variant: VariantName;
  case: CaseName;
  /** 0 = warm-up (not in the medians) */
  round: number;
  /** seconds, spawn to exit of the go command */
  wall: number;
  /** user and system CPU seconds of the go command and everything it waited for (shims, compilers) */
  user: number;
  sys: number;
  /** CPU seconds the daemon spent meanwhile (daemon variant only) */
  daemonCpu: number;
  /** user + sys + daemonCpu */
  cpu: number;
  /** 1-minute load average when the command ended */
  loadavg: number;
  /** with --trace: what cacheprog-trace saw between the go command and the helper */
  trace?: TraceSummary;
}

export interface TraceSummary {
  handshakeMs: number;
  sessionMs: number;
  maxInFlight: number;
  commands: Record<
    string,
    {
      count: number;
      misses?: number;
      bytes?: number;
      sumMs: number;
      p50Ms: number;
      p90Ms: number;
      p99Ms: number;
      maxMs: number;
    }
  >;
}

export interface Diag {
  variant: VariantName;
  /** per case: compile and link processes in `-x` output; helper requests where known */
  cases: Record<
    string,
    {
      compiles: number;
      links: number;
      gets?: number;
      hits?: number;
      puts?: number;
      hitBytes?: number;
      putBytes?: number;
    }
  >;
}

export interface BenchResult {
  started: string;
  finished: string;
  project: {
    module: string;
    version: string;
    modules: number;
    packages: number;
    deps: number;
    build: string[];
    run: string[];
  };
  machine: {
    cpus: number;
    cpuModel: string;
    memGB: number;
    kernel: string;
    loadavgStart: number[];
    loadavgEnd: number[];
  };
  go: string;
  node: string;
  gitHead: string;
  dist: { helper: string; shim: string };
  otherHelper: string;
  reps: number;
  coldReps: number;
  env: Record<string, string>;
  commands: Record<string, string>;
  goCacheProg: Record<string, string>;
  samples: Sample[];
  daemonStats: { variant: VariantName; case: string; round: number; stats: HelperStats }[];
  diags: Diag[];
  handshakeMs: Record<string, number[]>;
  /** experimental helper builds measured beside the real one (--exp) */
  experiments?: Record<string, string>;
  traced?: boolean;
}
