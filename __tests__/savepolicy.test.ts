import { describe, expect, it } from 'vitest';
import { maySave, pullRequestNumber } from '../src/savepolicy.js';

describe('maySave', () => {
  it.each([
    ['push', 'refs/heads/main', true],
    ['pull_request', 'refs/pull/7/merge', true],
    ['schedule', 'refs/heads/main', true],
    ['pull_request_target', 'refs/heads/main', false],
    ['workflow_run', 'refs/heads/main', false],
    ['release', 'refs/tags/v1.0.0', false],
    ['push', 'refs/tags/v1.0.0', false],
  ])('auto on %s %s → %s', (eventName, ref, save) => {
    expect(maySave({ setting: 'auto', eventName, ref }).save).toBe(save);
  });

  it('lets the user override both ways', () => {
    expect(
      maySave({ setting: 'true', eventName: 'pull_request_target', ref: 'refs/heads/main' }).save,
    ).toBe(true);
    expect(maySave({ setting: 'false', eventName: 'push', ref: 'refs/heads/main' })).toEqual({
      save: false,
      reason: "input 'save' is false",
    });
  });
});

describe('pullRequestNumber', () => {
  it('reads the number from a pull_request ref only', () => {
    expect(pullRequestNumber('pull_request', 'refs/pull/123/merge')).toBe(123);
    expect(pullRequestNumber('push', 'refs/pull/123/merge')).toBeUndefined();
  });
});
