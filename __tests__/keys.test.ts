import { describe, expect, it } from 'vitest';
import {
  baseId,
  buildKeys,
  deltaPrefix,
  moduleDeltaKey,
  moduleDeltaPrefix,
  moduleKeys,
  newDeltaKey,
  tierKind,
  type KeyContext,
} from '../src/keys.js';

const ctx: KeyContext = {
  prefix: 'go-cache',
  scope: 'test',
  os: 'linux',
  arch: 'x64',
  goVersion: '1.26.8',
  runTag: '100-1',
};

describe('build keys', () => {
  it('names a base by prefix, os, arch, go version and scope', () => {
    const k = buildKeys(ctx);
    expect(k.newBase).toBe('go-cache-build-linux-x64-go1.26.8-test-base-100-1');
    expect(k.newBase.startsWith(k.basePrefix)).toBe(true);
    expect(k.fallbackPrefixes).toEqual(['go-cache-build-linux-x64-go1.26.8-']);
  });

  it('ties deltas to their base so a new base retires the old deltas', () => {
    const base = buildKeys(ctx).newBase;
    const delta = newDeltaKey({ ...ctx, runTag: '101-1' }, base);
    expect(delta).toBe('go-cache-build-linux-x64-go1.26.8-test-delta-100-1-101-1');
    expect(delta.startsWith(deltaPrefix(ctx, base))).toBe(true);
    const newerBase = buildKeys({ ...ctx, runTag: '150-2' }).newBase;
    expect(delta.startsWith(deltaPrefix(ctx, newerBase))).toBe(false);
    expect(baseId(base)).toBe('100-1');
    expect(tierKind(base)).toBe('base');
    expect(tierKind(delta)).toBe('delta');
  });

  it('names pull-request deltas for their PR', () => {
    const base = buildKeys(ctx).newBase;
    expect(newDeltaKey({ ...ctx, pullRequest: 42 }, base)).toBe(
      'go-cache-build-linux-x64-go1.26.8-test-delta-100-1-pr42-100-1',
    );
  });

  it('keeps scopes apart and sanitizes what the cache would refuse', () => {
    expect(buildKeys({ ...ctx, scope: 'linux/race' }).basePrefix).not.toBe(
      buildKeys(ctx).basePrefix,
    );
    expect(buildKeys({ ...ctx, scope: 'a b,c' }).basePrefix).toContain('-a_b_c-base-');
  });
});

describe('module keys', () => {
  const h = 'ab'.repeat(16);
  it('looks for a base of this go.sum first, then the newest of the os/arch', () => {
    const k = moduleKeys(ctx, 'ab'.repeat(32));
    expect(k.depsHash).toBe(h);
    expect(k.basePrefixes).toEqual([
      `go-cache-mod-linux-x64-base-${h}-`,
      'go-cache-mod-linux-x64-base-',
    ]);
    expect(k.newBase).toBe(`go-cache-mod-linux-x64-base-${h}-${ctx.runTag}`);
    expect(k.newBase.startsWith(k.exactBasePrefix)).toBe(true);
  });
  it('names a delta for its base and the go.sum it completes', () => {
    const base = `go-cache-mod-linux-x64-base-${'cd'.repeat(16)}-7-1`;
    const prefix = moduleDeltaPrefix(ctx, base);
    expect(prefix).toBe(`go-cache-mod-linux-x64-delta-${'cd'.repeat(16)}-7-1-`);
    expect(moduleDeltaKey(ctx, base, 'ab'.repeat(32))).toBe(`${prefix}${h}`);
    // Another base's deltas never share the prefix.
    const other = `go-cache-mod-linux-x64-base-${'cd'.repeat(16)}-8-1`;
    expect(moduleDeltaKey(ctx, other, h).startsWith(prefix)).toBe(false);
  });
});
