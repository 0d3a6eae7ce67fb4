// How long the main step's content-derived mtimes take on a large checkout: a git repository of
// N files (default 20,000) in nested directories, fresh clone, then applyContentMtimes timed.
// Usage: npx tsx bench/mtimes/run.ts [--files N] [--reps R]
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { applyContentMtimes } from '../../src/mtimes.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const files = arg('files', 20_000);
const reps = arg('reps', 5);

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mtimes-bench-'));
const origin = path.join(root, 'origin');
for (let i = 0; i < files; i++) {
  const dir = path.join(origin, `d${i % 50}`, `e${i % 7}`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `f${i}.go`), `package p\n\n// file ${i}\nvar X${i} = ${i}\n`);
}
const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', ['-c', 'user.email=b@b', '-c', 'user.name=b', ...args], { cwd });
git(origin, 'init', '-q');
git(origin, 'add', '.');
git(origin, 'commit', '-qm', 'files');

const times: number[] = [];
for (let r = 0; r < reps; r++) {
  const clone = path.join(root, `clone${r}`);
  git(root, 'clone', '-q', origin, clone);
  const t0 = performance.now();
  const result = await applyContentMtimes(clone);
  times.push(performance.now() - t0);
  if (result.files !== files) throw new Error(`expected ${files} files, got ${result.files}`);
}
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)]!;
console.log(
  `files ${files}, reps ${reps}: median ${median.toFixed(0)} ms (min ${times[0]!.toFixed(0)}, max ${times.at(-1)!.toFixed(0)})`,
);
fs.rmSync(root, { recursive: true, force: true });
