// Whether this run may save at all. Pure: the event and ref in, a yes/no with its reason out.
import type { SaveSetting } from './inputs.js';

export interface SaveContext {
  setting: SaveSetting;
  eventName: string;
  ref: string;
}

// Events that run with a base repository's cache but can be triggered by code or data from outside it:
// a cache they save can poison later trusted runs (the "cacheract" class of attacks).
const RISKY_EVENTS = new Set(['pull_request_target', 'workflow_run', 'release', 'issue_comment']);

export function maySave(c: SaveContext): { save: boolean; reason: string } {
  if (c.setting === 'false') return { save: false, reason: "input 'save' is false" };
  if (c.setting === 'true') return { save: true, reason: "input 'save' is true" };
  if (RISKY_EVENTS.has(c.eventName)) {
    return {
      save: false,
      reason: `no saves on '${c.eventName}' events, which can poison caches (set 'save: true' to override)`,
    };
  }
  if (c.ref.startsWith('refs/tags/')) {
    return {
      save: false,
      reason: 'no saves on tag pushes: a release build would fill the cache with one-off entries',
    };
  }
  return { save: true, reason: `saving on '${c.eventName || 'unknown'}' events` };
}

/** The pull request number of a pull_request run (refs/pull/<n>/merge), for naming its deltas. */
export function pullRequestNumber(eventName: string, ref: string): number | undefined {
  if (eventName !== 'pull_request') return undefined;
  const m = /^refs\/pull\/(\d+)\//.exec(ref);
  return m ? Number(m[1]) : undefined;
}
