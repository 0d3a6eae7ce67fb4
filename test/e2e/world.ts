// One simulated repository and runner for the demo and the end-to-end tests: every job starts on a
// freshly wiped runner root (as an ephemeral hosted runner does, with the same paths each time, which
// the Actions cache's path-derived versions rely on) and a fresh clone of the fixture module.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Job, type JobOptions } from '../harness/runner.js';

export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');
export const FIXTURE = path.join(REPO_ROOT, 'test', 'fixtures', 'hello');

export interface World {
  /** A git repository holding the fixture; commit to it to simulate a push. */
  origin: string;
  runnerRoot: string;
  runCount: number;
}

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', ['-c', 'user.email=ci@example.com', '-c', 'user.name=ci', ...args], {
    cwd,
    encoding: 'utf8',
  });

export function makeWorld(fixture = FIXTURE): World {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'go-cache-world-'));
  const origin = path.join(base, 'origin');
  fs.cpSync(fixture, origin, { recursive: true });
  git(origin, 'init', '-q', '-b', 'main');
  git(origin, 'add', '.');
  git(origin, 'commit', '-qm', 'fixture');
  return { origin, runnerRoot: path.join(base, 'runner'), runCount: 0 };
}

export function commit(world: World, files: Record<string, string>, message = 'change'): void {
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(world.origin, rel)), { recursive: true });
    fs.writeFileSync(path.join(world.origin, rel), content);
  }
  git(world.origin, 'add', '.');
  git(world.origin, 'commit', '-qm', message);
}

/** Go settings passed into jobs: the harness inherits nothing Go-specific on its own. */
export function goEnv(goBin = '/usr/local/go/bin'): Record<string, string> {
  return {
    PATH: `${goBin}:${process.env.PATH ?? ''}`,
    GOPROXY: process.env.GOPROXY || 'https://proxy.golang.org,direct',
    GOTOOLCHAIN: 'local',
    GOFLAGS: '',
  };
}

/** A new job on a wiped runner with a fresh clone of origin in its workspace. */
export function newJob(world: World, opts: JobOptions = {}): Job {
  fs.rmSync(world.runnerRoot, { recursive: true, force: true });
  world.runCount++;
  const job = new Job({
    root: world.runnerRoot,
    jobId: 'test',
    runId: String(1000 + world.runCount),
    runAttempt: '1',
    ref: 'refs/heads/main',
    eventName: 'push',
    ...opts,
    env: { ...goEnv(), ...opts.env },
  });
  fs.rmSync(job.workspace, { recursive: true, force: true });
  git(path.dirname(job.workspace), 'clone', '-q', world.origin, job.workspace);
  return job;
}

/** Lines of `go build -x` output that ran the compiler. */
export function compileLines(output: string): string[] {
  return output.split('\n').filter((l) => /[/\\]compile(\.exe)?"?\s/.test(l));
}

/** The job summary as plain text, for a terminal. */
export function summaryText(html: string): string {
  return html
    .replace(/<\/(th|td)>/g, ' | ')
    .replace(/<\/tr>/g, '\n')
    .replace(/<li>/g, '- ')
    .replace(/<h3>(.*?)<\/h3>/g, '== $1 ==\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/\n{3,}/g, '\n\n');
}
