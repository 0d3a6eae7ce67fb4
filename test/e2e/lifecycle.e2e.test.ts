// The action as users run it: dist/ through the runner harness against an Actions cache service,
// with real `go` commands between the main and post steps.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CacheService } from '../cache-service/server.js';
import { cacheServiceFactories } from '../cache-service/services.js';
import type { Job, StepResult } from '../harness/runner.js';
import {
  commit,
  compileLines,
  makeWorld,
  newJob,
  REPO_ROOT,
  summaryText,
  type World,
} from './world.js';

const BUILD_AND_TEST =
  'go build -x ./... 2>"$RUNNER_TEMP/build.log"\ncat "$RUNNER_TEMP/build.log" >&2\ngo test ./...';

interface JobRun {
  job: Job;
  main: StepResult;
  build: StepResult;
  post: StepResult;
}

async function ciRun(
  world: World,
  service: CacheService,
  inputs: Record<string, string> = {},
  script = BUILD_AND_TEST,
): Promise<JobRun> {
  const job = newJob(world, { env: service.env });
  const main = await job.uses(REPO_ROOT, inputs);
  const build = await job.run(script, { name: 'go build and test' });
  const [post] = await job.end();
  expect(main.outcome, main.output).toBe('success');
  expect(main.heldOpen, 'the helper daemon must not hold the step’s pipes').toBe(false);
  expect(build.outcome, build.output).toBe('success');
  expect(post!.outcome, post!.output).toBe('success');
  expect(job.leftovers, 'the post step stops the daemon').toEqual([]);
  return { job, main, build, post: post! };
}

const keysOf = async (s: CacheService, part: string) =>
  (await s.entries()).filter((e) => e.key.includes(part)).map((e) => e.key);

for (const factory of cacheServiceFactories()) {
  describe(`lifecycle against ${factory.name}`, () => {
    let service: CacheService | null = null;
    beforeAll(async () => {
      service = await factory.start();
    });
    afterAll(async () => {
      await service?.stop();
    });

    it('saves on a cold run and restores exactly on the next: nothing compiles, tests come from the cache', async (ctx) => {
      if (!service) return ctx.skip();
      const world = makeWorld();
      const cold = await ciRun(world, service);
      expect(cold.main.outputs).toMatchObject({
        'build-cache-hit': 'miss',
        'module-cache-hit': 'false',
        mode: 'helper',
      });
      expect(compileLines(cold.build.stderr).length).toBeGreaterThan(10);
      expect(cold.post.output).toMatch(/decision: base \(no base in this scope yet\)/);

      const warm = await ciRun(world, service);
      expect(warm.main.outputs).toMatchObject({
        'build-cache-hit': 'exact',
        'module-cache-hit': 'true',
        mode: 'helper',
      });
      expect(compileLines(warm.build.stderr)).toEqual([]);
      const testLines = warm.build.stdout.split('\n').filter((l) => l.startsWith('ok'));
      expect(testLines.length).toBeGreaterThan(0);
      for (const l of testLines) expect(l).toMatch(/\(cached\)/);
      // Every get is a hit but one: Go never stores a linked executable through GOCACHEPROG
      // (cmd/go/internal/work/buildid.go stores it only in its own disk cache; golang/go#69290), so
      // `go build ./...` asks for cmd/hello's link output, misses, and relinks every run.
      const stats = /gets \| hits \| misses[^\n]*\n(\d+) \| (\d+) \| (\d+)/.exec(
        summaryText(warm.job.summary()),
      );
      expect(stats, warm.job.summary()).not.toBeNull();
      const [gets, hits, misses] = stats!.slice(1).map(Number);
      expect(misses).toBe(1);
      expect(hits).toBe(gets! - 1);
      expect(Number(warm.post.outputs['hit-rate'])).toBeGreaterThan(0.99);
      expect(warm.post.output).toMatch(/cache up to date/);
      expect(warm.post.annotations.filter((a) => a.level === 'warning')).toEqual([]);
    });

    it('uploads a small delta after a one-package change, and a new base after many', async (ctx) => {
      if (!service) return ctx.skip();
      const world = makeWorld();
      const prefix = `delta${Date.now()}`;
      await ciRun(world, service, { 'key-prefix': prefix });
      const [base] = (await service.entries()).filter((e) => e.key.startsWith(`${prefix}-build`));
      commit(world, {
        'greet/extra.go':
          'package greet\n\n// Extra is new.\nfunc Extra() string { return "extra" }\n',
      });
      const changed = await ciRun(world, service, { 'key-prefix': prefix });
      expect(changed.main.outputs['build-cache-hit']).toBe('exact');
      expect(compileLines(changed.build.stderr).length).toBeGreaterThan(0);
      expect(changed.post.output).toMatch(/decision: delta/);
      const deltas = (await service.entries()).filter(
        (e) => e.key.startsWith(`${prefix}-build`) && e.key.includes('-delta-'),
      );
      expect(deltas).toHaveLength(1);
      if (service.name === 'local') expect(deltas[0]!.size).toBeLessThan(0.2 * base!.size);

      // The next run restores base + delta and needs nothing new.
      const again = await ciRun(world, service, { 'key-prefix': prefix });
      expect(compileLines(again.build.stderr)).toEqual([]);
      expect(again.main.output).toMatch(/restored delta /);

      // A change touching the standard library's build flags rebuilds most of the graph: a new base.
      const rebuilt = await ciRun(
        world,
        service,
        { 'key-prefix': prefix },
        `export GOFLAGS=-gcflags=all=-N\n${BUILD_AND_TEST}`,
      );
      expect(rebuilt.post.output).toMatch(/decision: base/);
      const bases = await keysOf(service, `${prefix}-build-`);
      expect(bases.filter((k) => k.includes('-base-'))).toHaveLength(2);
      const after = await ciRun(
        world,
        service,
        { 'key-prefix': prefix },
        `export GOFLAGS=-gcflags=all=-N\n${BUILD_AND_TEST}`,
      );
      expect(after.main.output).not.toMatch(/restored delta /);
      expect(after.main.output).toMatch(/no delta on this base/);
    });

    it('falls back by prefix after a go.sum change, downloads only what is new, trims and saves', async (ctx) => {
      if (!service) return ctx.skip();
      const world = makeWorld();
      const prefix = `mod${Date.now()}`;
      await ciRun(world, service, { 'key-prefix': prefix });
      // Add a dependency: a new go.sum, so a new module key.
      commit(world, {
        'errs/errs.go':
          'package errs\n\nimport "github.com/pkg/errors"\n\n// Wrap adds context to err.\nfunc Wrap(err error) error { return errors.Wrap(err, "hello") }\n',
      });
      const job0 = newJob(world, { env: service.env });
      await job0.run(
        'go get github.com/pkg/errors@v0.9.1 && go mod tidy && git -c user.email=a@b -c user.name=a commit -qam deps && git push -q origin HEAD:refs/heads/next',
        { name: 'bump' },
      );
      await job0.dispose();
      // origin now has the bump on branch next; fast-forward main to it
      (await import('node:child_process')).execFileSync('git', [
        '-C',
        world.origin,
        'reset',
        '-q',
        '--hard',
        'next',
      ]);
      const run = await ciRun(
        world,
        service,
        { 'key-prefix': prefix },
        'go env GOMODCACHE\ngo build -x ./... 2>"$RUNNER_TEMP/build.log"\ngrep -c "^# get" "$RUNNER_TEMP/build.log" || true\ngo test ./...',
      );
      expect(run.main.outputs['module-cache-hit']).toBe('false');
      expect(run.main.output).toMatch(new RegExp(`restored base ${prefix}-mod-`));
      // Only what the bump added goes up, as a delta on the base: pkg/errors' files, not the whole
      // cache (a small module on purpose: a delta past 40% of the base becomes a new base).
      expect(run.post.output).toMatch(/module cache: saved .*-mod-linux-x64-delta-/);
      const modKeys = await keysOf(service, `${prefix}-mod-`);
      expect(modKeys).toHaveLength(2);
      const delta = /delta: (.*)/.exec(run.post.output)?.[1] ?? '';
      expect(delta).toContain('github.com/pkg/errors@v0.9.1');
      expect(delta).not.toMatch(/uuid|x\/sync/);
      // And the saved module cache lets the next job build offline.
      const offline = await ciRun(
        world,
        service,
        { 'key-prefix': prefix },
        'GOPROXY=off GOFLAGS=-mod=mod go build ./... && GOPROXY=off go test ./...',
      );
      expect(offline.main.outputs['module-cache-hit']).toBe('true');
      expect(offline.main.output).toMatch(/restored delta .*-mod-linux-x64-delta-/);
    });

    it('keeps two scopes apart', async (ctx) => {
      if (!service) return ctx.skip();
      const world = makeWorld();
      const prefix = `scope${Date.now()}`;
      await ciRun(world, service, { 'key-prefix': prefix, scope: 'one' });
      await ciRun(
        world,
        service,
        { 'key-prefix': prefix, scope: 'two' },
        `export GOFLAGS=-tags=two\n${BUILD_AND_TEST}`,
      );
      const bases = (await keysOf(service, `${prefix}-build-`)).filter((k) => k.includes('-base-'));
      expect(bases.some((k) => k.includes('-one-base-'))).toBe(true);
      expect(bases.some((k) => k.includes('-two-base-'))).toBe(true);
      const one = await ciRun(world, service, { 'key-prefix': prefix, scope: 'one' });
      expect(one.main.outputs['build-cache-hit']).toBe('exact');
      expect(compileLines(one.build.stderr)).toEqual([]);
    });
  });
}

describe('faults degrade to a warning and a miss; the build stays right', () => {
  let service: CacheService;
  beforeAll(async () => {
    const local = cacheServiceFactories().find((f) => f.name === 'local')!;
    service = (await local.start())!;
  });
  afterAll(async () => {
    await service?.stop();
  });

  const faultRun = async (world: World, prefix: string, script = BUILD_AND_TEST) => {
    const job = newJob(world, { env: service.env });
    const main = await job.uses(REPO_ROOT, { 'key-prefix': prefix });
    const build = await job.run(script);
    const posts = await job.end();
    return { job, main, build, post: posts[0]! };
  };

  it.each([
    ['409 on save', { kind: 'conflict', on: ['create'] }],
    ['429 on save', { kind: 'rate-limit', on: ['create'], retryAfterSeconds: 1 }],
    ['500 on upload', { kind: 'server-error', on: ['upload'] }],
  ] as const)('%s: the job succeeds and says it did not save', async (_name, fault) => {
    const world = makeWorld();
    const prefix = `fault${Date.now()}`;
    service.setFault({ ...fault, on: [...fault.on] });
    try {
      const r = await faultRun(world, prefix);
      expect(r.main.outcome).toBe('success');
      expect(r.build.outcome).toBe('success');
      expect(r.post.outcome).toBe('success');
      expect(r.post.output).toMatch(/could not save|already saved/);
      expect(await keysOf(service, `${prefix}-build-`)).toEqual([]);
    } finally {
      service.setFault(null);
    }
  });

  describe('on restore', () => {
    // One saved cache serves every restore fault: each job below meets its fault, misses, builds
    // cold and saves again, so the next one still finds something to fail on.
    let world: World;
    const prefix = `rfault${Date.now()}`;
    beforeAll(async () => {
      world = makeWorld();
      const cold = await faultRun(world, prefix);
      expect(cold.post.output).toMatch(/build cache: saved/);
    });

    it.each([
      ['a corrupt archive', { kind: 'corrupt-download' }],
      ['a truncated archive', { kind: 'truncate-download' }],
      ['500 on download', { kind: 'server-error', on: ['download'] }],
      ['429 on lookup', { kind: 'rate-limit', on: ['lookup'] }],
    ] as const)('%s: a miss, a warning, a correct build', async (_name, fault) => {
      service.setFault({ ...fault } as never);
      try {
        const r = await faultRun(world, prefix);
        expect(r.main.outcome).toBe('success');
        expect(r.main.outputs['build-cache-hit']).toBe('miss');
        expect(r.main.annotations.some((a) => a.level === 'warning')).toBe(true);
        expect(r.build.outcome, r.build.output).toBe('success');
        expect(r.build.stdout).toMatch(/^ok\s+example.com\/hello\/greet/m);
        expect(compileLines(r.build.stderr).length).toBeGreaterThan(0);
      } finally {
        service.setFault(null);
      }
    });
  });

  it('a slow service: the restore waits for it and still hits', async () => {
    const world = makeWorld();
    const prefix = `slow${Date.now()}`;
    await faultRun(world, prefix);
    service.setFault({ kind: 'slow', delayMs: 2500, on: ['lookup', 'download'] });
    try {
      const r = await faultRun(world, prefix);
      expect(r.main.outputs['build-cache-hit']).toBe('exact');
      expect(r.main.durationMs).toBeGreaterThan(2500);
      expect(compileLines(r.build.stderr)).toEqual([]);
    } finally {
      service.setFault(null);
    }
  });

  it('no cache service at all: the job runs and builds', async () => {
    const { unreachableServiceEnv } = await import('../cache-service/server.js');
    const world = makeWorld();
    const job = newJob(world, { env: await unreachableServiceEnv() });
    const main = await job.uses(REPO_ROOT);
    const build = await job.run(BUILD_AND_TEST);
    const [post] = await job.end();
    expect([main.outcome, build.outcome, post!.outcome]).toEqual(['success', 'success', 'success']);
    expect(main.outputs['build-cache-hit']).toBe('miss');
  });

  it('the daemon killed mid-job: the build succeeds and the post step still saves', async () => {
    const world = makeWorld();
    const prefix = `kill${Date.now()}`;
    const r = await faultRun(
      world,
      prefix,
      `go build ./greet\npkill -KILL -f 'dist/helper/index.js' || true\nsleep 0.2\n${BUILD_AND_TEST}`,
    );
    expect(r.build.outcome).toBe('success');
    expect(r.post.outcome).toBe('success');
    expect(r.post.output).toMatch(/helper daemon did not answer/);
    expect(await keysOf(service, `${prefix}-build-`)).toHaveLength(1);
    const next = await faultRun(world, prefix);
    expect(compileLines(next.build.stderr)).toEqual([]);
  });

  it('a helper that cannot start (its bundle is missing): native mode, a warning, a warm build', async () => {
    const world = makeWorld();
    const prefix = `nohelper${Date.now()}`;
    await faultRun(world, prefix);
    // A damaged copy of the action: everything but dist/helper, so the daemon's node exits at once.
    const action = fs.mkdtempSync(path.join(os.tmpdir(), 'go-cache-action-'));
    try {
      fs.copyFileSync(path.join(REPO_ROOT, 'action.yml'), path.join(action, 'action.yml'));
      for (const d of ['restore', 'save', 'shim'])
        fs.cpSync(path.join(REPO_ROOT, 'dist', d), path.join(action, 'dist', d), {
          recursive: true,
        });
      const job = newJob(world, { env: service.env });
      const main = await job.uses(action, { 'key-prefix': prefix });
      const build = await job.run(BUILD_AND_TEST);
      const [post] = await job.end();
      expect(main.outcome, main.output).toBe('success');
      expect(main.output).toMatch(/the GOCACHEPROG helper did not start/);
      expect(main.outputs['mode']).toBe('native');
      expect(build.outcome, build.output).toBe('success');
      // GOCACHE points at the restored store: the job keeps its cache.
      expect(compileLines(build.stderr)).toEqual([]);
      expect(post!.outcome, post!.output).toBe('success');
      expect(job.leftovers).toEqual([]);
    } finally {
      fs.rmSync(action, { recursive: true, force: true });
    }
  });

  it('an output whose content no longer matches its OutputID is dropped and rebuilt', async () => {
    const world = makeWorld();
    const prefix = `tamper${Date.now()}`;
    // Save a tier whose archive carries a tampered output: tamper in the store before the post step stages it.
    const tamper = [
      BUILD_AND_TEST,
      'f=$(find "$RUNNER_TEMP/go-cache/build" -name "*-d" -size +20k -print -quit)',
      'printf "\\x00" | dd of="$f" bs=1 seek=100 conv=notrunc 2>/dev/null',
    ].join('\n');
    await faultRun(world, prefix, tamper);
    const r = await faultRun(world, prefix);
    expect(r.main.output).toMatch(/content does not match its OutputID/);
    expect(r.main.outputs['build-cache-hit']).toBe('partial');
    expect(r.build.outcome).toBe('success');
    expect(r.build.stdout).toMatch(/^ok\s+example.com\/hello\/greet/m);
  });
});

describe('bad inputs stop the main step with a clear error', () => {
  it.each([
    [
      'mode',
      'turbo',
      "Invalid input 'mode': 'turbo' is not allowed. Must be 'auto', 'helper' or 'native'.",
    ],
    ['max-size', 'lots', "Invalid input 'max-size': 'lots' is not a size"],
    ['retention', '10y', "Invalid input 'retention': '10y' is not a duration"],
    ['cache-build', 'maybe', "Invalid input 'cache-build': 'maybe' is not a boolean"],
  ])('%s=%s', async (input, value, message) => {
    const world = makeWorld();
    const job = newJob(world);
    const main = await job.uses(REPO_ROOT, { [input]: value });
    await job.dispose();
    expect(main.outcome).toBe('failure');
    expect(main.annotations.find((a) => a.level === 'error')?.message).toContain(message);
  });

  it('no Go on PATH: tells the user to run actions/setup-go first', async () => {
    const world = makeWorld();
    const job = newJob(world, { env: { PATH: '/usr/bin:/bin' } });
    const main = await job.uses(REPO_ROOT);
    await job.dispose();
    expect(main.outcome).toBe('failure');
    expect(main.annotations.find((a) => a.level === 'error')?.message).toMatch(/actions\/setup-go/);
  });
});

const GO119 = '/usr/lib/go-1.19/bin';
describe.skipIf(!fs.existsSync(path.join(GO119, 'go')))(
  'Go 1.19 (no GOCACHEPROG) runs in native mode end to end',
  () => {
    it('saves, restores exactly and compiles nothing the second time', async () => {
      const service = (await cacheServiceFactories()[0]!.start())!;
      try {
        const world = makeWorld();
        const env = { ...service.env, PATH: `${GO119}:${process.env.PATH}` };
        const run = async () => {
          const job = newJob(world, { env });
          const main = await job.uses(REPO_ROOT);
          const build = await job.run(BUILD_AND_TEST);
          const [post] = await job.end();
          expect([main.outcome, build.outcome, post!.outcome], build.output).toEqual([
            'success',
            'success',
            'success',
          ]);
          return { main, build, post: post! };
        };
        const cold = await run();
        expect(cold.main.outputs.mode).toBe('native');
        expect(cold.main.output).toMatch(/no GOCACHEPROG/);
        const warm = await run();
        expect(warm.main.outputs['build-cache-hit']).toBe('exact');
        expect(compileLines(warm.build.stderr)).toEqual([]);
        expect(warm.build.stdout).toMatch(/\(cached\)/);
      } finally {
        await service.stop();
      }
    });
  },
);
