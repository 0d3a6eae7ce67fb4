import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterEach, describe, expect, it } from 'vitest';

import { Job, processAlive } from './runner.js';
import type { JobOptions, StepResult } from './runner.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const fx = (...p: string[]): string => path.join(fixtures, ...p);
const linux = process.platform === 'linux';

const jobs: Job[] = [];
const strays: number[] = [];
function newJob(opts: JobOptions = {}): Job {
  const j = new Job({ heldOpenGraceMs: 300, ...opts });
  jobs.push(j);
  return j;
}
afterEach(async () => {
  for (const j of jobs.splice(0)) await j.dispose();
  for (const pid of strays.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

function envOf(r: StepResult): Record<string, string> {
  return JSON.parse(r.outputs['env'] ?? '{}') as Record<string, string>;
}
const dumpEnv =
  'printf "env<<ENV_END\\n%s\\nENV_END\\n" "$(node -e \'console.log(JSON.stringify(process.env))\')" >> "$GITHUB_OUTPUT"';

describe('a JavaScript action: main, file commands, workflow commands, post', () => {
  it('hands env, outputs, state and summary over exactly as the runner does', async () => {
    const job = newJob();
    const main = await job.uses(fx('full'));
    expect(main).toMatchObject({
      kind: 'main',
      exitCode: 0,
      outcome: 'success',
      heldOpen: false,
      skipped: false,
    });

    // GITHUB_OUTPUT in both forms, plus the legacy command (still honoured, with a deprecation warning).
    expect(main.outputs).toMatchObject({
      'simple-output': 'o1',
      'multi-output': 'a\nb',
      'legacy-output': 'legacy\nvalue',
      greeting: 'hello',
    });
    expect(main.annotations).toContainEqual(
      expect.objectContaining({
        level: 'warning',
        message: expect.stringContaining('`set-output` command is deprecated'),
      }),
    );
    // State is not visible to the step that saved it...
    expect(main.outputs['saw-state']).toBe('[]');

    // ...nor to other steps; GITHUB_ENV (both forms) is.
    const later = await job.run(`${dumpEnv}\nenv | grep '^STATE_' || echo no-state`);
    const env = envOf(later);
    expect(env['SIMPLE_VAR']).toBe('a=b=c');
    expect(env['MULTI_VAR']).toBe('line one\nline two');
    expect(Object.keys(env).filter((k) => k.startsWith('STATE_'))).toEqual([]);
    expect(later.output).toContain('no-state');

    // The post sees STATE_* (file form, heredoc form and ::save-state) and the job env.
    const posts = await job.end();
    expect(posts).toHaveLength(1);
    expect(posts[0]).toMatchObject({
      name: 'Post Full fixture',
      kind: 'post',
      outcome: 'success',
      outputs: { 'post-ok': 'true' },
    });
    expect(posts[0]!.output).toContain('post saw SIMPLE_VAR=a=b=c');
    expect(job.summary()).toBe('## Full fixture\n\n| a | b |\npost summary\n');
    expect(job.status()).toBe('success');
  });

  it('parses workflow commands on stdout and stderr, renders them, and masks secrets for the rest of the job', async () => {
    const job = newJob();
    const r = await job.uses(fx('full'));
    expect(r.annotations).toContainEqual({
      level: 'warning',
      message: 'watch out',
      properties: { file: 'src/a.go', line: '3', title: 'Careful' },
    });
    expect(r.annotations).toContainEqual({ level: 'error', message: 'on stderr' });
    expect(r.annotations).toContainEqual({ level: 'notice', message: 'note this' });
    expect(r.annotations).toContainEqual({ level: 'debug', message: 'a debug message' });
    expect(r.stderr).toBe('::error::on stderr\n');
    // The log as the UI shows it: groups and annotations rendered, hidden commands gone, secret masked.
    expect(r.output).toContain('##[group]My group\ninside the group\n##[endgroup]\n');
    expect(r.output).toContain('##[warning]watch out\n');
    expect(r.output).toContain('the password is ***\n');
    expect(r.output).not.toContain('hunter2');
    expect(r.output).not.toContain('set-output');
    expect(r.output).not.toContain('a debug message');
    expect(r.stdout).toContain('the password is hunter2'); // raw stdout is what the process wrote
    // An error annotation alone does not fail the step (core.setFailed also sets the exit code).
    expect(r.outcome).toBe('success');

    const next = await job.run('echo "still hunter2 here"');
    expect(next.output).toBe('still *** here\n');
  });

  it('sets INPUT_* for every declared input, with defaults, spaces→_ and hyphens kept', async () => {
    const job = newJob();
    const r = await job.uses(fx('inputs'), {
      'key-prefix': 'custom',
      'OLD-ONE': 'given',
      extra: 'e',
    });
    const inputs = JSON.parse(r.outputs['inputs'] ?? '{}') as Record<string, string>;
    const os = { linux: 'Linux', darwin: 'macOS', win32: 'Windows' }[process.platform as string];
    expect(inputs).toEqual({
      'INPUT_KEY-PREFIX': 'custom',
      INPUT_MY_INPUT: 'spaced "value"',
      'INPUT_NO-DEFAULT': '',
      'INPUT_FROM-EXPR': `${os}-main`,
      'INPUT_OLD-ONE': 'given',
      INPUT_TEXT: 'line 1\nline 2\n',
      INPUT_EXTRA: 'e',
    });
    expect(r.annotations).toEqual([
      {
        level: 'warning',
        message: "Input 'old-one' has been deprecated with message: use key-prefix",
      },
      {
        level: 'warning',
        message:
          "Unexpected input(s) 'extra', valid inputs are ['key-prefix', 'my input', 'no-default', 'from-expr', 'old-one', 'text']",
      },
    ]);
  });
});

describe('job environment', () => {
  it('gives every step the runner variables, a private HOME and one RUNNER_TRACKING_ID', async () => {
    const job = newJob({
      env: { FROM_OPTS: '1', ACTIONS_RUNTIME_TOKEN: 'tok' },
      ref: 'refs/heads/feature/x',
      jobId: 'build',
    });
    const a = envOf(await job.run(dumpEnv));
    const b = envOf(await job.run(dumpEnv));
    expect(a).toMatchObject({
      CI: 'true',
      GITHUB_ACTIONS: 'true',
      RUNNER_ENVIRONMENT: 'github-hosted',
      RUNNER_OS: { linux: 'Linux', darwin: 'macOS', win32: 'Windows' }[process.platform as string],
      RUNNER_ARCH: { x64: 'X64', arm64: 'ARM64' }[process.arch as string] ?? expect.any(String),
      RUNNER_TEMP: path.join(job.root, 'temp'),
      RUNNER_TOOL_CACHE: path.join(job.root, 'toolcache'),
      HOME: path.join(job.root, 'home'),
      GITHUB_WORKSPACE: job.workspace,
      GITHUB_JOB: 'build',
      GITHUB_REF: 'refs/heads/feature/x',
      GITHUB_REF_NAME: 'feature/x',
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_EVENT_NAME: 'push',
      GITHUB_ACTION: '__run',
      FROM_OPTS: '1',
      ACTIONS_RUNTIME_TOKEN: 'tok',
    });
    expect(a['GITHUB_RUN_ID']).toMatch(/^\d+$/);
    expect(a['RUNNER_TRACKING_ID']).toMatch(/^github_[0-9a-f-]{36}$/);
    expect(b['RUNNER_TRACKING_ID']).toBe(a['RUNNER_TRACKING_ID']);
    expect(b['GITHUB_ACTION']).toBe('__run_2');
    expect(a['PATH']).toBe(process.env['PATH']);
    expect(a['HOME']).not.toBe(os.homedir());
    // Fresh file-command files per step, under RUNNER_TEMP/_runner_file_commands.
    expect(path.dirname(a['GITHUB_OUTPUT']!)).toBe(
      path.join(job.root, 'temp', '_runner_file_commands'),
    );
    expect(a['GITHUB_OUTPUT']).not.toBe(b['GITHUB_OUTPUT']);
    expect(path.basename(a['GITHUB_ENV']!)).toMatch(/^set_env_/);
    const event = JSON.parse(fs.readFileSync(a['GITHUB_EVENT_PATH']!, 'utf8')) as { ref: string };
    expect(event.ref).toBe('refs/heads/feature/x');
    // Nothing leaks in from this process's environment beyond the basics.
    expect(a['VITEST']).toBeUndefined();
  });

  it('lets GITHUB_ENV and a step env change variables, but not the runner-provided ones', async () => {
    const job = newJob();
    await job.run(
      'echo "GITHUB_WORKSPACE=/elsewhere" >> "$GITHUB_ENV"; echo "MINE=1" >> "$GITHUB_ENV"',
    );
    const e = envOf(await job.run(dumpEnv, { env: { STEP_ONLY: 's', MINE: '2' } }));
    expect(e['GITHUB_WORKSPACE']).toBe(job.workspace);
    expect(e['MINE']).toBe('2');
    expect(e['STEP_ONLY']).toBe('s');
    expect(job.env['MINE']).toBe('1');
    expect(job.env['STEP_ONLY']).toBeUndefined();
  });

  it('refuses NODE_OPTIONS through GITHUB_ENV', async () => {
    const job = newJob();
    const r = await job.run('echo "NODE_OPTIONS=--require=/evil.js" >> "$GITHUB_ENV"');
    expect(r.annotations).toContainEqual({
      level: 'error',
      message: "Can't store NODE_OPTIONS output parameter using '$GITHUB_ENV' command.",
    });
    expect(job.env['NODE_OPTIONS']).toBeUndefined();
  });

  it('prepends GITHUB_PATH entries for later steps, last added first', async () => {
    const job = newJob();
    const r = await job.run(
      [
        'mkdir -p "$RUNNER_TEMP/one" "$RUNNER_TEMP/two"',
        'printf "#!/bin/sh\\necho from-one\\n" > "$RUNNER_TEMP/one/hello-tool"',
        'printf "#!/bin/sh\\necho from-two\\n" > "$RUNNER_TEMP/two/hello-tool"',
        'chmod +x "$RUNNER_TEMP/one/hello-tool" "$RUNNER_TEMP/two/hello-tool"',
        'echo "$RUNNER_TEMP/one" >> "$GITHUB_PATH"',
        'echo "$RUNNER_TEMP/two" >> "$GITHUB_PATH"',
        'command -v hello-tool || echo not-yet',
      ].join('\n'),
    );
    expect(r.output).toContain('not-yet');
    const r2 = await job.run('hello-tool');
    expect(r2.output).toBe('from-two\n');
    const temp = path.join(job.root, 'temp');
    expect(job.env['PATH']).toBe(
      [path.join(temp, 'two'), path.join(temp, 'one'), process.env['PATH']].join(path.delimiter),
    );
  });
});

describe('run()', () => {
  it('runs bash with -e and pipefail in the workspace, and fails the job on a non-zero exit', async () => {
    const job = newJob();
    const ok = await job.run('pwd; false | true; echo piped');
    expect(ok.exitCode).toBe(1);
    expect(ok.output).toBe(`${job.workspace}\n##[error]Process completed with exit code 1.\n`);
    expect(ok.outcome).toBe('failure');
    expect(job.status()).toBe('failure');
    const e = await job.run('false\necho after');
    expect(e.output).not.toContain('after');
    fs.mkdirSync(path.join(job.workspace, 'sub'));
    const sub = await job.run('pwd', { cwd: 'sub' });
    expect(sub.output).toBe(`${path.join(job.workspace, 'sub')}\n`);
  });

  it('fails a step whose file command is malformed even though it exited 0', async () => {
    const job = newJob();
    const r = await job.run(
      '{ echo "body<<EOF"; printf "%s" "no newline"; echo "EOF"; } >> "$GITHUB_OUTPUT"',
    );
    expect(r.exitCode).toBe(0);
    expect(r.outcome).toBe('failure');
    expect(r.annotations.map((a) => a.message)).toEqual([
      "Unable to process file command 'output' successfully.",
      "Invalid value. Matching delimiter not found 'EOF'",
    ]);
    expect(job.status()).toBe('failure');
  });

  it('rejects a step summary over 1 MiB', async () => {
    const job = newJob();
    const r = await job.run(`head -c 1100000 /dev/zero | tr '\\0' a > "$GITHUB_STEP_SUMMARY"`);
    expect(r.summary).toBe('');
    expect(r.annotations[0]?.message).toMatch(
      /^\$GITHUB_STEP_SUMMARY upload aborted, supports content up to a size of 1024k, got 1074k/,
    );
    expect(r.outcome).toBe('success');
  });

  it('echoes step output live through the log option, prefixed with the step name', async () => {
    const lines: string[] = [];
    const job = newJob({ log: (l) => lines.push(l) });
    await job.run('echo hi; echo "::warning::w"', { name: 'greet' });
    expect(lines).toContain('[greet] hi');
    expect(lines).toContain('[greet] ##[warning]w');
    expect(lines.some((l) => l.startsWith('[harness] <<< greet: success'))).toBe(true);
  });
});

describe('held-open pipes and leftover processes', () => {
  it('flags a step whose detached child keeps stdout open, and kills that child at end()', async () => {
    const job = newJob();
    const r = await job.uses(fx('held-open'));
    const pid = Number(r.outputs['child-pid']);
    strays.push(pid);
    expect(r.heldOpen).toBe(true);
    expect(r.exitCode).toBe(0);
    expect(r.output).toBe('main done\n');
    expect(r.durationMs).toBeGreaterThanOrEqual(300);
    expect(r.durationMs).toBeLessThan(5000);
    expect(
      job.logLines.some(
        (l) => l.includes('WARNING step "Held-open fixture"') && l.includes('still open'),
      ),
    ).toBe(true);
    expect(processAlive(pid)).toBe(true);
    await job.end();
    if (linux) {
      expect(job.leftovers.map((l) => l.pid)).toContain(pid);
      expect(processAlive(pid)).toBe(false);
    }
  });

  it('flags a shell step that backgrounds a process with inherited stdout', async () => {
    const job = newJob();
    const r = await job.run('sleep 30 &\necho started');
    expect(r.heldOpen).toBe(true);
    expect(r.output).toBe('started\n');
    await job.end();
    if (linux) expect(job.leftovers.map((l) => l.command)).toContain('sleep 30');
  });

  it('does not flag a step whose processes all finished', async () => {
    const job = newJob();
    const r = await job.run('sleep 0.1 & wait; echo done');
    expect(r.heldOpen).toBe(false);
    await job.end();
    expect(job.leftovers).toEqual([]);
  });

  it.runIf(linux)(
    'kills a detached child with no pipes at end(), like the runner orphan cleanup',
    async () => {
      const job = newJob();
      const r = await job.uses(fx('orphan'));
      const pid = Number(r.outputs['child-pid']);
      strays.push(pid);
      expect(r.heldOpen).toBe(false);
      expect(processAlive(pid)).toBe(true);
      await job.end();
      expect(job.leftovers).toEqual([
        { pid, command: expect.stringContaining('orphan-fixture-child'), signal: 'SIGTERM' },
      ]);
      expect(processAlive(pid)).toBe(false);
      expect(job.logLines).toContain('[harness] Cleaning up orphan processes');
    },
  );

  it.runIf(linux)('escalates to SIGKILL when the leftover ignores SIGTERM', async () => {
    const job = newJob({ killGraceMs: 300 });
    const r = await job.uses(fx('orphan'), { 'ignore-sigterm': 'true' });
    const pid = Number(r.outputs['child-pid']);
    strays.push(pid);
    await job.end();
    expect(job.leftovers).toEqual([expect.objectContaining({ pid, signal: 'SIGKILL' })]);
    expect(processAlive(pid)).toBe(false);
  });

  it.runIf(linux)(
    'finds leftovers by RUNNER_TRACKING_ID only: a process that dropped it survives',
    async () => {
      const job = newJob();
      // Until `env` has exec'd sleep, the child still carries the ID (a race under load): wait for it.
      const r = await job.run(
        [
          'env -u RUNNER_TRACKING_ID sleep 60 > /dev/null 2>&1 &',
          'pid=$!',
          "while tr '\\0' '\\n' < /proc/$pid/environ | grep -q '^RUNNER_TRACKING_ID='; do sleep 0.01; done",
          'echo "pid=$pid" >> "$GITHUB_OUTPUT"',
        ].join('\n'),
      );
      const pid = Number(r.outputs['pid']);
      strays.push(pid);
      expect(r.heldOpen).toBe(false);
      await job.end();
      expect(job.leftovers).toEqual([]);
      expect(processAlive(pid)).toBe(true);
    },
  );
});

describe('post steps and post-if', () => {
  const all = ['always', 'failure', 'success', 'env', 'default'];
  const ran = (posts: StepResult[]): string[] => posts.filter((p) => !p.skipped).map((p) => p.name);

  it('runs posts in reverse order of registration; on success failure() posts are skipped', async () => {
    const job = newJob({ env: { RUN_POST: 'yes' } });
    for (const c of all) await job.uses(fx('post-if', c));
    const posts = await job.end();
    expect(posts.map((p) => p.name)).toEqual(all.map((c) => `Post post-if ${c}`).reverse());
    expect(ran(posts)).toEqual([
      'Post post-if default',
      'Post post-if env',
      'Post post-if success',
      'Post post-if always',
    ]);
    const skipped = posts.find((p) => p.name === 'Post post-if failure')!;
    expect(skipped).toMatchObject({ skipped: true, outcome: 'skipped', exitCode: 0, output: '' });
    expect(posts.find((p) => p.name === 'Post post-if always')!.outputs).toEqual({
      'post-ran': 'true',
    });
    // The post runs under the same GITHUB_ACTION as its main.
    expect(posts.find((p) => p.name === 'Post post-if always')!.output).toBe('post of __always\n');
  });

  it('after a failed step, success() posts are skipped and failure()/always() ones run', async () => {
    const job = newJob({ env: { RUN_POST: 'yes' } });
    for (const c of all) await job.uses(fx('post-if', c));
    await job.run('exit 3');
    const posts = await job.end();
    // post-if without a status function gets no implicit success(): the env one still runs.
    expect(ran(posts)).toEqual([
      'Post post-if default',
      'Post post-if env',
      'Post post-if failure',
      'Post post-if always',
    ]);
  });

  it('evaluates env in post-if against the job env, GITHUB_ENV included', async () => {
    const off = newJob();
    await off.uses(fx('post-if', 'env'));
    expect(ran(await off.end())).toEqual([]);

    const on = newJob();
    await on.uses(fx('post-if', 'env'));
    await on.run('echo "RUN_POST=yes" >> "$GITHUB_ENV"');
    expect(ran(await on.end())).toEqual(['Post post-if env']);
  });

  it('passes the step env given to uses() to its post too', async () => {
    const job = newJob();
    await job.uses(fx('post-if', 'env'), {}, { env: { RUN_POST: 'YES' } }); // == ignores case
    expect(ran(await job.end())).toEqual(['Post post-if env']);
  });
});

describe('misuse', () => {
  it('rejects unsupported action types and use after end()', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'harness-composite-'));
    try {
      fs.writeFileSync(
        path.join(dir, 'action.yml'),
        'name: c\nruns:\n  using: composite\n  steps: []\n',
      );
      const job = newJob();
      await expect(job.uses(dir)).rejects.toThrow("'runs.using: composite' is not supported");
      await job.end();
      await expect(job.run('true')).rejects.toThrow('the job has ended');
      expect(await job.end()).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails the step when the action main file is missing', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'harness-missing-'));
    try {
      fs.writeFileSync(
        path.join(dir, 'action.yml'),
        'name: m\nruns:\n  using: node24\n  main: nope.js\n',
      );
      const job = newJob();
      const r = await job.uses(dir);
      expect(r.outcome).toBe('failure');
      expect(r.exitCode).not.toBe(0);
      expect(job.status()).toBe('failure');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
