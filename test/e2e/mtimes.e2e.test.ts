// Content-derived mtimes through the real action: cached test results across fresh clones, and never
// a stale result or a stale import after a same-size edit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCacheService, type CacheService } from '../cache-service/server.js';
import { commit, makeWorld, newJob, REPO_ROOT, type World } from './world.js';

describe('test-mtimes', () => {
  let service: CacheService;
  let world: World;
  const run = async (script: string, inputs: Record<string, string> = {}) => {
    const job = newJob(world, { env: service.env });
    const main = await job.uses(REPO_ROOT, inputs);
    const step = await job.run(script);
    const [post] = await job.end();
    expect([main.outcome, post!.outcome]).toEqual(['success', 'success']);
    return { main, step };
  };
  const testLine = (out: string, pkg: string) =>
    out.split('\n').find((l) => l.includes(`example.com/hello/${pkg}`)) ?? '';

  beforeAll(async () => {
    service = await startCacheService();
    world = makeWorld();
    await run('go test ./...');
  });
  afterAll(async () => {
    await service.stop();
  });

  it('a fresh clone of the same commit gets every test result from the cache', async () => {
    const { main, step } = await run('go test ./...');
    expect(main.output).toMatch(/test-mtimes: \d+ files and \d+ directories/);
    expect(testLine(step.stdout, 'greet')).toMatch(/^ok\s.*\(cached\)/);
  });

  it('without it, the test that reads testdata runs again', async () => {
    const { step } = await run('go test ./...', { 'test-mtimes': 'false' });
    expect(testLine(step.stdout, 'greet')).not.toMatch(/\(cached\)/);
  });

  it('a same-size edit to a testdata file runs the test again', async () => {
    commit(world, { 'greet/testdata/names.txt': 'gopher\nFerris\n' }); // same size, new content
    const { step } = await run('go test ./...');
    expect(testLine(step.stdout, 'greet')).toMatch(/^ok\s/);
    expect(testLine(step.stdout, 'greet')).not.toMatch(/\(cached\)/);
    const again = await run('go test ./...');
    expect(testLine(again.step.stdout, 'greet')).toMatch(/\(cached\)/);
  });

  it('a same-size edit that changes imports is seen by the build', async () => {
    const before =
      'package greet\n\nimport "strings"\n\n// Up shouts.\nfunc Up(s string) string { return strings.ToUpper(s) }\n';
    const after =
      'package greet\n\nimport "unicode"\n\n// Up shouts.\nfunc Up(s string) string { return string(unicode.ToUpper(rune(s[0]))) }\n';
    // Same length on purpose: only a content-derived mtime tells Go's module index they differ.
    const width = Math.max(before.length, after.length);
    const pad = (src: string) =>
      src.replace('// Up shouts.', `// Up shouts.${' '.repeat(width - src.length)}`);
    const [oldSrc, newSrc] = [pad(before), pad(after)];
    expect(newSrc.length).toBe(oldSrc.length);
    commit(world, { 'greet/up.go': oldSrc });
    await run('go build ./... && go list -f "{{.Imports}}" ./greet');
    commit(world, { 'greet/up.go': newSrc });
    const { step } = await run('go build ./... && go list -f "{{.Imports}}" ./greet');
    expect(step.outcome, step.output).toBe('success');
    expect(step.stdout).toMatch(/unicode/);
  });
});
