// Runs JavaScript actions and shell steps the way the GitHub Actions runner (actions/runner) does, so
// that tests exercise the bundled action end to end: inputs as INPUT_*, per-step file commands,
// workflow commands on stdout/stderr, state handed from main to post, post steps in reverse order with
// post-if, the 5-second "stdout still open" fallback (here: heldOpenGraceMs) and the orphan-process
// cleanup at the end of the job (processes carrying this job's RUNNER_TRACKING_ID).
//
// See docs/CONTRACTS.md ("Runner harness") for the API.

import { spawn, execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';

import { readActionManifest } from './actionyml.js';
import type { ActionManifest } from './actionyml.js';
import { evaluateCondition, interpolate } from './expr.js';
import type { ExprContext, ExprValue } from './expr.js';
import {
  CommandProcessor,
  FILE_COMMANDS,
  SET_ENV_BLOCK_LIST,
  STEP_SUMMARY_LIMIT,
  addToPrependPath,
  composePath,
  iterKeyValueFile,
  maskSecrets,
  parseAddPath,
  splitLines,
} from './filecommands.js';
import type { Annotation, FileCommandContext } from './filecommands.js';

export type { Annotation } from './filecommands.js';

export interface JobOptions {
  /** Temp dir for RUNNER_TEMP, tool cache, workspace, HOME (made if absent; default: a new mkdtemp). */
  root?: string;
  /** GITHUB_WORKSPACE (default <root>/workspace). */
  workspace?: string;
  /** Extra job env (e.g. a CacheService's env, PATH with go). Wins over everything the harness sets. */
  env?: Record<string, string>;
  /** Names of further variables to inherit from this process (PATH, locale, proxies, TMPDIR… always are). */
  passEnv?: string[];
  jobId?: string;
  runId?: string;
  runNumber?: string;
  runAttempt?: string;
  ref?: string;
  sha?: string;
  eventName?: string;
  repository?: string;
  /** For pull_request events: GITHUB_BASE_REF / GITHUB_HEAD_REF (empty otherwise, as on a push). */
  baseRef?: string;
  headRef?: string;
  /** github.token for `${{ github.token }}` in input defaults (default ''). */
  token?: string;
  /** Node binary for node20/node24 actions (default $ACTION_NODE or process.execPath). */
  node?: string;
  /** How long to wait for stdout/stderr to close after the step's process exited (default 1500). */
  heldOpenGraceMs?: number;
  /** SIGTERM → SIGKILL grace for leftover processes at end() (default 1000). */
  killGraceMs?: number;
  /** Echo step output live with a `[step name]` prefix (true: to stderr). Default: HARNESS_VERBOSE=1. */
  log?: boolean | ((line: string) => void);
  /** RUNNER_DEBUG=1 and `::debug::` lines shown in the step log, like a run with debug logging on. */
  debug?: boolean;
}

export interface StepResult {
  name: string;
  /** GITHUB_ACTION of the step (`__run`, `__run_2`, the action's id…). */
  id: string;
  kind: 'main' | 'post' | 'run';
  /** The process's exit code (128+n when killed by signal n); 0 when skipped. */
  exitCode: number;
  signal: string | null;
  /** 'failure' when the exit code is not 0 or a file/workflow command could not be processed. */
  outcome: 'success' | 'failure' | 'skipped';
  /** What the process wrote, unmasked and unprocessed. */
  stdout: string;
  stderr: string;
  /**
   * The step's log as the Actions UI would show it: stdout and stderr lines in arrival order, masked,
   * with commands rendered as the runner renders them (`##[group]x`, `##[warning]msg`, …) and command
   * lines that the runner hides (set-output, add-mask, debug unless opts.debug) left out.
   */
  output: string;
  outputs: Record<string, string>;
  annotations: Annotation[];
  /** This step's GITHUB_STEP_SUMMARY (masked, as uploaded). */
  summary: string;
  durationMs: number;
  /** The process exited but stdout/stderr stayed open past heldOpenGraceMs (a child inherited them). */
  heldOpen: boolean;
  skipped: boolean;
  pid: number | null;
}

export interface Leftover {
  pid: number;
  command: string;
  /** The last signal sent: SIGTERM if that sufficed, SIGKILL otherwise. */
  signal: 'SIGTERM' | 'SIGKILL';
}

interface PostStep {
  manifest: ActionManifest;
  actionDir: string;
  name: string;
  id: string;
  inputEnv: Record<string, string>;
  inputs: Record<string, string>;
  state: Record<string, string>;
  stepEnv: Record<string, string>;
}

const INHERITED_ENV = [
  'PATH',
  'LANG',
  'LANGUAGE',
  'LC_ALL',
  'LC_CTYPE',
  'TZ',
  'USER',
  'LOGNAME',
  'SHELL',
  'TMPDIR',
  'TEMP',
  'TMP',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'all_proxy',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'ALL_PROXY',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'NODE_EXTRA_CA_CERTS',
  // Windows needs these for almost any process to start.
  'SystemRoot',
  'SystemDrive',
  'windir',
  'ComSpec',
  'PATHEXT',
  'ProgramFiles',
  'ProgramFiles(x86)',
  'ProgramW6432',
  'ProgramData',
  'CommonProgramFiles',
  'NUMBER_OF_PROCESSORS',
  'PROCESSOR_ARCHITECTURE',
  'OS',
];

const IS_WINDOWS = process.platform === 'win32';

/** Sets a variable, replacing other spellings of the same name on Windows (env is case-insensitive). */
function setVar(env: Record<string, string>, key: string, value: string): void {
  if (IS_WINDOWS) {
    const lower = key.toLowerCase();
    for (const k of Object.keys(env)) if (k !== key && k.toLowerCase() === lower) delete env[k];
  }
  env[key] = value;
}

function getVar(env: Record<string, string>, key: string): string | undefined {
  if (!IS_WINDOWS) return env[key];
  const lower = key.toLowerCase();
  for (const [k, v] of Object.entries(env)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

function merge(into: Record<string, string>, from: Record<string, string> | undefined): void {
  for (const [k, v] of Object.entries(from ?? {})) setVar(into, k, v);
}

function runnerOs(): string {
  return process.platform === 'win32'
    ? 'Windows'
    : process.platform === 'darwin'
      ? 'macOS'
      : 'Linux';
}

function runnerArch(): string {
  const m: Record<string, string> = { x64: 'X64', arm64: 'ARM64', ia32: 'X86', arm: 'ARM' };
  return m[process.arch] ?? process.arch.toUpperCase();
}

function inputEnvName(name: string): string {
  return `INPUT_${name.replace(/ /g, '_').toUpperCase()}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function signalNumber(sig: string): number {
  return (os.constants.signals as Record<string, number>)[sig] ?? 0;
}

/** Linux: is the process gone (or a zombie, which is as good as gone)? */
function procGone(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X';
  } catch {
    return true;
  }
}

/** Running and not a zombie: for tests and benchmarks that watch processes they started. */
export function processAlive(pid: number): boolean {
  return !pidGone(pid);
}

function pidGone(pid: number): boolean {
  if (process.platform === 'linux') return procGone(pid);
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

function procCommand(pid: number): { command: string; name: string } {
  let command = '';
  let name = '';
  try {
    command = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    /* gone */
  }
  try {
    name = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    /* gone */
  }
  return { command: command || name, name: name || command.split(' ')[0] || '?' };
}

export class Job {
  readonly root: string;
  readonly workspace: string;
  /** RUNNER_TRACKING_ID of every step of this job (`github_<uuid>`). */
  readonly trackingId: string;
  /** Processes still carrying this job's tracking id at end(), which end() killed. */
  readonly leftovers: Leftover[] = [];
  /** Every step run so far, posts included, in order. */
  readonly steps: StepResult[] = [];
  /** The harness log: step starts/ends, warnings (held-open pipes, orphans) and every step's output. */
  readonly logLines: string[] = [];

  private readonly opts: JobOptions;
  private readonly createdRoot: boolean;
  private readonly baseEnv: Record<string, string> = {};
  /** Runner-provided variables that a step's env or GITHUB_ENV cannot override. */
  private readonly protectedEnv: Record<string, string> = {};
  private readonly addedEnv: Record<string, string> = {};
  private prependPath: string[] = [];
  private readonly posts: PostStep[] = [];
  private readonly secrets = new Set<string>();
  private readonly ids = new Map<string, number>();
  private readonly stepPids: number[] = [];
  private readonly fileCommandDir: string;
  private previousFiles: string[] = [];
  private failed = false;
  private ended = false;
  private readonly sink: ((line: string) => void) | null;

  constructor(opts: JobOptions = {}) {
    this.opts = opts;
    this.createdRoot = !opts.root;
    this.root = path.resolve(opts.root ?? fs.mkdtempSync(path.join(os.tmpdir(), 'go-cache-job-')));
    this.workspace = path.resolve(opts.workspace ?? path.join(this.root, 'workspace'));
    this.trackingId = `github_${randomUUID()}`;
    const verbose = opts.log ?? process.env['HARNESS_VERBOSE'] === '1';
    this.sink =
      typeof verbose === 'function'
        ? verbose
        : verbose
          ? (l: string) => process.stderr.write(l + '\n')
          : null;

    const temp = path.join(this.root, 'temp');
    const toolCache = path.join(this.root, 'toolcache');
    const home = path.join(this.root, 'home');
    this.fileCommandDir = path.join(temp, '_runner_file_commands');
    for (const d of [this.root, this.workspace, temp, toolCache, home, this.fileCommandDir]) {
      fs.mkdirSync(d, { recursive: true });
    }

    const repository = opts.repository ?? 'octo-org/go-cache-fixture';
    const [owner = 'octo-org', repoName = 'repo'] = repository.split('/');
    const ref = opts.ref ?? 'refs/heads/main';
    const refName = ref.replace(/^refs\/(heads|tags)\//, '').replace(/^refs\/pull\//, '');
    const sha = opts.sha ?? 'f0e1d2c3b4a5968778695a4b3c2d1e0f1a2b3c4d';
    const eventName = opts.eventName ?? 'push';
    const eventPath = path.join(temp, '_github_workflow', 'event.json');
    fs.mkdirSync(path.dirname(eventPath), { recursive: true });
    const repoObj = {
      name: repoName,
      full_name: repository,
      owner: { login: owner },
      default_branch: 'main',
      private: false,
    };
    const event: Record<string, unknown> = {
      ref,
      after: sha,
      before: '0000000000000000000000000000000000000000',
      repository: repoObj,
      sender: { login: 'octocat', type: 'User' },
    };
    if (eventName.startsWith('pull_request')) {
      event['pull_request'] = {
        number: Number(/^refs\/pull\/(\d+)/.exec(ref)?.[1] ?? 1),
        head: { ref: opts.headRef ?? 'feature', sha },
        base: { ref: opts.baseRef ?? 'main', repo: repoObj },
      };
    }
    fs.writeFileSync(eventPath, JSON.stringify(event, null, 2));

    for (const k of [...INHERITED_ENV, ...(opts.passEnv ?? [])]) {
      const v = process.env[k];
      if (v !== undefined) setVar(this.baseEnv, k, v);
    }
    const isPr = eventName.startsWith('pull_request');
    const runtime: Record<string, string> = {
      CI: 'true',
      GITHUB_ACTIONS: 'true',
      HOME: home,
      RUNNER_OS: runnerOs(),
      RUNNER_ARCH: runnerArch(),
      RUNNER_NAME: 'GitHub Actions 1',
      RUNNER_ENVIRONMENT: 'github-hosted',
      RUNNER_TEMP: temp,
      RUNNER_TOOL_CACHE: toolCache,
      RUNNER_WORKSPACE: path.dirname(this.workspace),
      GITHUB_WORKSPACE: this.workspace,
      GITHUB_JOB: opts.jobId ?? 'test',
      GITHUB_RUN_ID: opts.runId ?? String(1_000_000_000 + Math.floor(Math.random() * 1e9)),
      GITHUB_RUN_NUMBER: opts.runNumber ?? '1',
      GITHUB_RUN_ATTEMPT: opts.runAttempt ?? '1',
      GITHUB_REF: ref,
      GITHUB_REF_NAME: refName,
      GITHUB_REF_TYPE: ref.startsWith('refs/tags/') ? 'tag' : 'branch',
      GITHUB_REF_PROTECTED: 'false',
      GITHUB_SHA: sha,
      GITHUB_BASE_REF: isPr ? (opts.baseRef ?? 'main') : '',
      GITHUB_HEAD_REF: isPr ? (opts.headRef ?? 'feature') : '',
      GITHUB_EVENT_NAME: eventName,
      GITHUB_EVENT_PATH: eventPath,
      GITHUB_REPOSITORY: repository,
      GITHUB_REPOSITORY_OWNER: owner,
      GITHUB_REPOSITORY_ID: '1',
      GITHUB_REPOSITORY_OWNER_ID: '1',
      GITHUB_ACTOR: 'octocat',
      GITHUB_ACTOR_ID: '1',
      GITHUB_TRIGGERING_ACTOR: 'octocat',
      GITHUB_WORKFLOW: 'CI',
      GITHUB_WORKFLOW_REF: `${repository}/.github/workflows/ci.yml@${ref}`,
      GITHUB_WORKFLOW_SHA: sha,
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_API_URL: 'https://api.github.com',
      GITHUB_GRAPHQL_URL: 'https://api.github.com/graphql',
      GITHUB_RETENTION_DAYS: '90',
    };
    if (opts.debug) runtime['RUNNER_DEBUG'] = '1';
    if (IS_WINDOWS) {
      runtime['USERPROFILE'] = home;
      runtime['APPDATA'] = path.join(home, 'AppData', 'Roaming');
      runtime['LOCALAPPDATA'] = path.join(home, 'AppData', 'Local');
    }
    merge(this.baseEnv, runtime);
    merge(this.baseEnv, opts.env);
    // Runner-provided values win over GITHUB_ENV and a step's env (the runner exports its contexts
    // last), unless the test chose them through opts.env.
    for (const [k, v] of Object.entries(runtime)) {
      if (getVar(opts.env ?? {}, k) === undefined && k !== 'HOME' && k !== 'CI')
        this.protectedEnv[k] = v;
    }
    this.note(
      `job ${this.baseEnv['GITHUB_JOB']}: root ${this.root}, RUNNER_TRACKING_ID=${this.trackingId}`,
    );
  }

  /** The job's environment as the next step will see it (before per-step variables). */
  get env(): Record<string, string> {
    const env: Record<string, string> = {};
    merge(env, this.baseEnv);
    merge(env, this.addedEnv);
    merge(env, this.protectedEnv);
    setVar(env, 'PATH', composePath(this.prependPath, getVar(env, 'PATH') ?? '', path.delimiter));
    return env;
  }

  /** 'failure' once any step failed (non-zero exit or a command the runner rejects). */
  status(): 'success' | 'failure' {
    return this.failed ? 'failure' : 'success';
  }

  /** All GITHUB_STEP_SUMMARY content so far, in step order. */
  summary(): string {
    return this.steps.map((s) => s.summary).join('');
  }

  /** Runs an action's main now and queues its post for end(). */
  async uses(
    actionDir: string,
    inputs: Record<string, string> = {},
    opts: { id?: string; name?: string; env?: Record<string, string> } = {},
  ): Promise<StepResult> {
    this.assertOpen();
    const dir = path.resolve(actionDir);
    const manifest = readActionManifest(dir);
    const using = manifest.runs.using.toLowerCase();
    if (using !== 'node20' && using !== 'node24') {
      throw new Error(
        `harness: '${manifest.file}': 'runs.using: ${manifest.runs.using}' is not supported (node20 or node24)`,
      );
    }
    if (manifest.runs.pre) {
      throw new Error(`harness: '${manifest.file}': 'runs.pre' is not supported`);
    }
    const name = opts.name ?? manifest.name;
    const id = this.nextId(opts.id ?? `__${path.basename(dir).replace(/[^A-Za-z0-9_-]/g, '_')}`);

    // Inputs: every declared input is set (default applied, '' when none); undeclared ones too.
    const warnings: Annotation[] = [];
    const given = new Map(Object.entries(inputs).map(([k, v]) => [k.toLowerCase(), { k, v }]));
    const values: Record<string, string> = {};
    const defaultsCtx = this.exprContext({}, opts.env);
    for (const [inputName, meta] of Object.entries(manifest.inputs)) {
      const g = given.get(inputName.toLowerCase());
      if (g) {
        values[inputName] = g.v;
        given.delete(inputName.toLowerCase());
        if (meta.deprecationMessage) {
          warnings.push({
            level: 'warning',
            message: `Input '${inputName}' has been deprecated with message: ${meta.deprecationMessage}`,
          });
        }
      } else {
        values[inputName] = interpolate(meta.default ?? '', defaultsCtx);
      }
    }
    if (given.size > 0) {
      const unexpected = [...given.values()].map((g) => g.k);
      const valid = Object.keys(manifest.inputs);
      warnings.push({
        level: 'warning',
        message: `Unexpected input(s) '${unexpected.join("', '")}', valid inputs are ['${valid.join("', '")}']`,
      });
      for (const g of given.values()) values[g.k] = g.v;
    }
    const inputEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(values)) inputEnv[inputEnvName(k)] = v;

    const state: Record<string, string> = {};
    const result = await this.execute({
      kind: 'main',
      name,
      id,
      file: this.nodeBinary(),
      script: path.join(dir, manifest.runs.main),
      args: [path.join(dir, manifest.runs.main)],
      cwd: this.workspace,
      extraEnv: { ...inputEnv, GITHUB_ACTION_PATH: dir },
      stepEnv: opts.env,
      state,
      preAnnotations: warnings,
    });
    if (manifest.runs.post) {
      this.posts.push({
        manifest,
        actionDir: dir,
        name: `Post ${name}`,
        id,
        inputEnv,
        inputs: values,
        state,
        stepEnv: { ...(opts.env ?? {}) },
      });
    }
    return result;
  }

  /** Runs a script with `bash --noprofile --norc -eo pipefail` (the runner's `shell: bash`). */
  async run(
    script: string,
    opts: { cwd?: string; env?: Record<string, string>; name?: string; id?: string } = {},
  ): Promise<StepResult> {
    this.assertOpen();
    const firstLine = script.trim().split('\n')[0] ?? '';
    const name =
      opts.name ?? `Run ${firstLine.length > 60 ? firstLine.slice(0, 57) + '...' : firstLine}`;
    const id = this.nextId(opts.id ?? '__run');
    const scriptFile = path.join(this.baseEnv['RUNNER_TEMP'] ?? this.root, `${randomUUID()}.sh`);
    fs.writeFileSync(scriptFile, script);
    return this.execute({
      kind: 'run',
      name,
      id,
      file: 'bash',
      script: scriptFile,
      args: ['--noprofile', '--norc', '-eo', 'pipefail', scriptFile],
      cwd: opts.cwd ? path.resolve(this.workspace, opts.cwd) : this.workspace,
      extraEnv: {},
      stepEnv: opts.env,
      state: {},
      preAnnotations: [],
    });
  }

  /** Runs the queued posts (last registered first, post-if honoured), then kills leftover processes. */
  async end(): Promise<StepResult[]> {
    if (this.ended) return [];
    this.ended = true;
    const results: StepResult[] = [];
    for (const post of this.posts.slice().reverse()) results.push(await this.runPost(post));
    await this.cleanupOrphans();
    return results;
  }

  /** end() if not yet done, then removes the root directory if the harness created it. */
  async dispose(): Promise<void> {
    await this.end();
    if (this.createdRoot) fs.rmSync(this.root, { recursive: true, force: true, maxRetries: 3 });
  }

  // -------------------------------------------------------------------------------------------------

  private assertOpen(): void {
    if (this.ended) throw new Error('harness: the job has ended; create a new Job');
  }

  private nodeBinary(): string {
    return this.opts.node ?? process.env['ACTION_NODE'] ?? process.execPath;
  }

  private nextId(base: string): string {
    const n = (this.ids.get(base) ?? 0) + 1;
    this.ids.set(base, n);
    return n === 1 ? base : `${base}_${n}`;
  }

  private note(line: string): void {
    const l = `[harness] ${line}`;
    this.logLines.push(l);
    this.sink?.(l);
  }

  private exprContext(
    inputs: Record<string, string>,
    stepEnv?: Record<string, string>,
  ): ExprContext {
    const env = this.env;
    merge(env, stepEnv);
    const b = this.baseEnv;
    return {
      jobStatus: this.failed ? 'failure' : 'success',
      contexts: {
        env: env as ExprValue,
        inputs: inputs as ExprValue,
        github: {
          token: this.opts.token ?? '',
          workspace: this.workspace,
          repository: b['GITHUB_REPOSITORY'] ?? '',
          repository_owner: b['GITHUB_REPOSITORY_OWNER'] ?? '',
          ref: b['GITHUB_REF'] ?? '',
          ref_name: b['GITHUB_REF_NAME'] ?? '',
          sha: b['GITHUB_SHA'] ?? '',
          job: b['GITHUB_JOB'] ?? '',
          run_id: b['GITHUB_RUN_ID'] ?? '',
          run_number: b['GITHUB_RUN_NUMBER'] ?? '',
          run_attempt: b['GITHUB_RUN_ATTEMPT'] ?? '',
          event_name: b['GITHUB_EVENT_NAME'] ?? '',
          server_url: b['GITHUB_SERVER_URL'] ?? '',
          api_url: b['GITHUB_API_URL'] ?? '',
          actor: b['GITHUB_ACTOR'] ?? '',
        },
        runner: {
          os: b['RUNNER_OS'] ?? '',
          arch: b['RUNNER_ARCH'] ?? '',
          name: b['RUNNER_NAME'] ?? '',
          temp: b['RUNNER_TEMP'] ?? '',
          tool_cache: b['RUNNER_TOOL_CACHE'] ?? '',
          environment: b['RUNNER_ENVIRONMENT'] ?? '',
          debug: this.opts.debug ? '1' : '',
        },
        job: { status: this.failed ? 'failure' : 'success' },
      },
      caseSensitive: IS_WINDOWS ? new Set() : new Set(['env']),
    };
  }

  private async runPost(post: PostStep): Promise<StepResult> {
    const condition = post.manifest.runs.postIf;
    let run: boolean;
    try {
      run = evaluateCondition(condition, this.exprContext(post.inputs, post.stepEnv));
    } catch (e) {
      // The runner fails the step (and so the job) when its condition cannot be evaluated.
      const r = this.emptyResult(post.name, post.id, 'post');
      r.outcome = 'failure';
      r.annotations.push({
        level: 'error',
        message: `post-if '${condition}': ${(e as Error).message}`,
      });
      this.failed = true;
      this.steps.push(r);
      this.note(
        `${post.name}: condition '${condition}' could not be evaluated: ${(e as Error).message}`,
      );
      return r;
    }
    if (!run) {
      const r = this.emptyResult(post.name, post.id, 'post');
      r.skipped = true;
      r.outcome = 'skipped';
      this.steps.push(r);
      this.note(
        `${post.name}: skipped (post-if '${condition}' is false; job status ${this.status()})`,
      );
      return r;
    }
    const stateEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(post.state)) stateEnv[`STATE_${k}`] = v;
    const script = path.join(post.actionDir, post.manifest.runs.post!);
    return this.execute({
      kind: 'post',
      name: post.name,
      id: post.id,
      file: this.nodeBinary(),
      script,
      args: [script],
      cwd: this.workspace,
      extraEnv: { ...post.inputEnv, GITHUB_ACTION_PATH: post.actionDir, ...stateEnv },
      stepEnv: post.stepEnv,
      state: {},
      preAnnotations: [],
    });
  }

  private emptyResult(name: string, id: string, kind: StepResult['kind']): StepResult {
    return {
      name,
      id,
      kind,
      exitCode: 0,
      signal: null,
      outcome: 'success',
      stdout: '',
      stderr: '',
      output: '',
      outputs: {},
      annotations: [],
      summary: '',
      durationMs: 0,
      heldOpen: false,
      skipped: false,
      pid: null,
    };
  }

  /** Fresh, empty file-command files for one step (the previous step's are deleted, as the runner does). */
  private initFileCommands(): Record<FileCommandContext, string> {
    for (const f of this.previousFiles) fs.rmSync(f, { force: true });
    const suffix = randomUUID();
    const files = {} as Record<FileCommandContext, string>;
    for (const fc of FILE_COMMANDS) {
      const f = path.join(this.fileCommandDir, fc.prefix + suffix);
      fs.writeFileSync(f, '');
      files[fc.context] = f;
    }
    this.previousFiles = Object.values(files);
    return files;
  }

  private async execute(s: {
    kind: StepResult['kind'];
    name: string;
    id: string;
    file: string;
    script: string;
    args: string[];
    cwd: string;
    extraEnv: Record<string, string>;
    stepEnv: Record<string, string> | undefined;
    state: Record<string, string>;
    preAnnotations: Annotation[];
  }): Promise<StepResult> {
    const result = this.emptyResult(s.name, s.id, s.kind);
    result.annotations.push(...s.preAnnotations);
    const files = this.initFileCommands();

    // Environment, lowest to highest precedence: inherited + runner + opts.env, GITHUB_ENV additions,
    // the step's own env, runner-provided variables, per-step variables; PATH gets GITHUB_PATH in front.
    const env: Record<string, string> = {};
    merge(env, this.baseEnv);
    merge(env, this.addedEnv);
    merge(env, s.stepEnv);
    merge(env, this.protectedEnv);
    setVar(env, 'GITHUB_ACTION', s.id);
    setVar(env, 'GITHUB_ACTION_REPOSITORY', '');
    setVar(env, 'GITHUB_ACTION_REF', '');
    for (const fc of FILE_COMMANDS) setVar(env, fc.env, files[fc.context]);
    setVar(env, 'RUNNER_TRACKING_ID', this.trackingId);
    merge(env, s.extraEnv);
    setVar(env, 'PATH', composePath(this.prependPath, getVar(env, 'PATH') ?? '', path.delimiter));

    const outputLines: string[] = [];
    let commandFailed = false;
    const prefix = `[${s.name}]`;
    const emit = (line: string): void => {
      const masked = maskSecrets(line, this.secrets);
      outputLines.push(masked);
      this.logLines.push(`${prefix} ${masked}`);
      this.sink?.(`${prefix} ${masked}`);
    };
    const allowUnsecure = /^true$/i.test(getVar(env, 'ACTIONS_ALLOW_UNSECURE_COMMANDS') ?? '');
    const processor = new CommandProcessor(
      {
        log: emit,
        annotate: (a) => result.annotations.push(a),
        setOutput: (k, v) => (result.outputs[k] = v),
        saveState: (k, v) => setStateCI(s.state, k, v),
        addMask: (secret) => this.secrets.add(secret),
        setEnv: (k, v) => setVar(this.addedEnv, k, v),
        addPath: (p) => (this.prependPath = addToPrependPath(this.prependPath, [p])),
        fail: () => (commandFailed = true),
      },
      { allowUnsecureCommands: allowUnsecure, debug: this.opts.debug },
    );

    this.note(`>>> ${s.name} (${s.kind}, GITHUB_ACTION=${s.id})`);
    const started = performance.now();
    const raw = await this.spawnStep(
      s.file,
      s.args,
      s.cwd,
      env,
      (line) => processor.processLine(line),
      s.name,
    );
    result.durationMs = Math.round(performance.now() - started);
    result.stdout = raw.stdout;
    result.stderr = raw.stderr;
    result.exitCode = raw.exitCode;
    result.signal = raw.signal;
    result.heldOpen = raw.heldOpen;
    result.pid = raw.pid;
    if (raw.spawnError) {
      result.annotations.push({ level: 'error', message: raw.spawnError });
      emit(`##[error]${raw.spawnError}`);
    }
    if (s.kind === 'run' && raw.exitCode !== 0) {
      result.annotations.push({
        level: 'error',
        message: `Process completed with exit code ${raw.exitCode}.`,
      });
      emit(`##[error]Process completed with exit code ${raw.exitCode}.`);
    }

    // File commands, in the runner's order: path, env, step summary, state, output.
    const fail = (context: string, e: unknown): void => {
      const messages = [
        `Unable to process file command '${context}' successfully.`,
        (e as Error).message,
      ];
      for (const m of messages) {
        result.annotations.push({ level: 'error', message: m });
        emit(`##[error]${m}`);
      }
      commandFailed = true;
    };
    const read = (f: string): string | null => {
      try {
        return fs.readFileSync(f, 'utf8');
      } catch {
        return null;
      }
    };
    for (const fc of FILE_COMMANDS) {
      const text = read(files[fc.context]);
      if (text === null) continue;
      try {
        switch (fc.context) {
          case 'path':
            this.prependPath = addToPrependPath(this.prependPath, parseAddPath(text));
            break;
          case 'env':
            for (const [k, v] of iterKeyValueFile(text)) {
              if (SET_ENV_BLOCK_LIST.some((b) => b.toLowerCase() === k.toLowerCase())) {
                const m = `Can't store ${k} output parameter using '$GITHUB_ENV' command.`;
                result.annotations.push({ level: 'error', message: m });
                emit(`##[error]${m}`);
                continue;
              }
              if (k !== '') setVar(this.addedEnv, k, v);
            }
            break;
          case 'step_summary': {
            const size = fs.statSync(files[fc.context]).size;
            if (size === 0) break;
            if (size > STEP_SUMMARY_LIMIT) {
              const m =
                `$GITHUB_STEP_SUMMARY upload aborted, supports content up to a size of ${STEP_SUMMARY_LIMIT / 1024}k, ` +
                `got ${Math.floor(size / 1024)}k. For more information see: ` +
                'https://docs.github.com/actions/using-workflows/workflow-commands-for-github-actions#adding-a-markdown-summary';
              result.annotations.push({ level: 'error', message: m });
              emit(`##[error]${m}`);
              break;
            }
            result.summary = splitLines(text)
              .map((l) => maskSecrets(l, this.secrets) + '\n')
              .join('');
            break;
          }
          case 'state':
            for (const [k, v] of iterKeyValueFile(text)) setStateCI(s.state, k, v);
            break;
          case 'output':
            for (const [k, v] of iterKeyValueFile(text)) result.outputs[k] = v;
            break;
        }
      } catch (e) {
        fail(fc.context, e);
      }
    }

    result.output = outputLines.map((l) => l + '\n').join('');
    result.outcome = raw.exitCode !== 0 || commandFailed ? 'failure' : 'success';
    if (result.outcome === 'failure') this.failed = true;
    this.steps.push(result);
    this.note(
      `<<< ${s.name}: ${result.outcome} (exit ${result.exitCode}${result.signal ? `, ${result.signal}` : ''}) in ${result.durationMs} ms`,
    );
    return result;
  }

  private spawnStep(
    file: string,
    args: string[],
    cwd: string,
    env: Record<string, string>,
    onLine: (line: string) => void,
    name: string,
  ): Promise<{
    exitCode: number;
    signal: string | null;
    stdout: string;
    stderr: string;
    heldOpen: boolean;
    pid: number | null;
    spawnError: string | null;
  }> {
    const grace = this.opts.heldOpenGraceMs ?? 1500;
    // Off Linux the step gets its own process group, so end() can find what it left behind.
    const ownGroup = process.platform !== 'linux' && !IS_WINDOWS;
    return new Promise((resolve) => {
      const child = spawn(file, args, {
        cwd,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: ownGroup,
        windowsHide: true,
      });
      if (child.pid !== undefined) this.stepPids.push(child.pid);
      const raw = { stdout: '', stderr: '' };
      const partial = { stdout: '', stderr: '' };
      const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
      let exitCode: number | null = null;
      let signal: string | null = null;
      let spawnError: string | null = null;
      let heldOpen = false;
      let done = false;
      let timer: NodeJS.Timeout | null = null;

      const feed = (stream: 'stdout' | 'stderr', text: string): void => {
        raw[stream] += text;
        let buf = partial[stream] + text;
        let holdCR = false;
        if (buf.endsWith('\r')) {
          buf = buf.slice(0, -1);
          holdCR = true;
        }
        const parts = buf.split(/\r\n|\r|\n/);
        partial[stream] = parts.pop()! + (holdCR ? '\r' : '');
        for (const line of parts) onLine(line);
      };
      const flush = (stream: 'stdout' | 'stderr'): void => {
        const rest = decoders[stream].end();
        if (rest) feed(stream, rest);
        const p = partial[stream].replace(/\r$/, '');
        partial[stream] = '';
        if (p !== '') onLine(p);
      };
      child.stdout.on('data', (b: Buffer) => feed('stdout', decoders.stdout.write(b)));
      child.stderr.on('data', (b: Buffer) => feed('stderr', decoders.stderr.write(b)));

      const finish = (): void => {
        if (done) return;
        done = true;
        if (timer) clearTimeout(timer);
        flush('stdout');
        flush('stderr');
        let code = exitCode ?? -1;
        if (exitCode === null && signal) code = 128 + signalNumber(signal);
        if (spawnError && exitCode === null) code = 127;
        resolve({
          exitCode: code,
          signal,
          stdout: raw.stdout,
          stderr: raw.stderr,
          heldOpen,
          pid: child.pid ?? null,
          spawnError,
        });
      };
      child.on('error', (e) => {
        spawnError = `harness: could not start '${file}': ${e.message}`;
        setImmediate(finish);
      });
      child.on('exit', (code, sig) => {
        exitCode = code;
        signal = sig;
        timer = setTimeout(() => {
          heldOpen = true;
          this.note(
            `WARNING step "${name}": its process exited (${code ?? sig}) but stdout/stderr are still open ` +
              `${grace} ms later: a process it started inherited them and is still running. ` +
              'Stopped waiting (the real runner waits 5 s, then moves on and leaves that process running ' +
              'until the job ends).',
          );
          child.stdout.destroy();
          child.stderr.destroy();
          finish();
        }, grace);
      });
      child.on('close', () => finish());
    });
  }

  private async cleanupOrphans(): Promise<void> {
    this.note('Cleaning up orphan processes');
    if (process.platform === 'linux') {
      const victims = this.scanProc();
      await this.terminate(victims);
      return;
    }
    if (IS_WINDOWS) {
      this.note('orphan process cleanup is not implemented on Windows');
      return;
    }
    // macOS and other Unixes: best effort by the steps' process groups.
    const groups = new Set(this.stepPids);
    let list: Array<{ pid: number; command: string; name: string }> = [];
    try {
      const out = execFileSync('ps', ['-A', '-o', 'pid=,pgid=,command='], { encoding: 'utf8' });
      for (const line of out.split('\n')) {
        const m = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line);
        if (!m) continue;
        const pid = Number(m[1]);
        if (pid === process.pid || !groups.has(Number(m[2]))) continue;
        list.push({ pid, command: m[3]!, name: m[3]!.split(' ')[0]! });
      }
    } catch (e) {
      this.note(`could not list processes: ${(e as Error).message}`);
      list = [];
    }
    await this.terminate(list);
  }

  /** Linux: every process whose environment carries this job's RUNNER_TRACKING_ID. */
  private scanProc(): Array<{ pid: number; command: string; name: string }> {
    const want = `RUNNER_TRACKING_ID=${this.trackingId}`;
    const out: Array<{ pid: number; command: string; name: string }> = [];
    for (const d of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      const pid = Number(d);
      if (pid === process.pid) continue;
      let environ: string;
      try {
        environ = fs.readFileSync(`/proc/${d}/environ`, 'latin1');
      } catch {
        continue;
      }
      if (!environ.split('\0').includes(want)) continue;
      if (procGone(pid)) continue;
      out.push({ pid, ...procCommand(pid) });
    }
    return out;
  }

  private async terminate(
    victims: Array<{ pid: number; command: string; name: string }>,
  ): Promise<void> {
    if (victims.length === 0) return;
    const kill = (pid: number, sig: NodeJS.Signals): void => {
      try {
        process.kill(pid, sig);
      } catch {
        /* already gone */
      }
    };
    for (const v of victims) {
      this.note(`Terminate orphan process: pid (${v.pid}) (${v.name}): ${v.command}`);
      kill(v.pid, 'SIGTERM');
    }
    const deadline = Date.now() + (this.opts.killGraceMs ?? 1000);
    while (Date.now() < deadline && victims.some((v) => !pidGone(v.pid))) await sleep(25);
    const stubborn = new Set<number>();
    for (const v of victims) {
      if (!pidGone(v.pid)) {
        stubborn.add(v.pid);
        this.note(`pid ${v.pid} ignored SIGTERM; sending SIGKILL`);
        kill(v.pid, 'SIGKILL');
      }
    }
    const killDeadline = Date.now() + 2000;
    while (Date.now() < killDeadline && victims.some((v) => !pidGone(v.pid))) await sleep(25);
    for (const v of victims) {
      this.leftovers.push({
        pid: v.pid,
        command: v.command,
        signal: stubborn.has(v.pid) ? 'SIGKILL' : 'SIGTERM',
      });
    }
  }
}

/** The runner's state dictionary ignores case (the first spelling of a name is kept). */
function setStateCI(state: Record<string, string>, key: string, value: string): void {
  const existing = Object.keys(state).find((k) => k.toLowerCase() === key.toLowerCase());
  state[existing ?? key] = value;
}
