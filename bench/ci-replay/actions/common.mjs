// Shared by the two stand-in actions: `go env`, and hashFiles() computed as the runner does it
// (sha256 over the sha256 digests of the matched files, in path order).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** `go env NAME…`, one value per name. */
export function goEnv(...names) {
  const out = execFileSync('go', ['env', ...names], { encoding: 'utf8' });
  return out.replace(/\n$/, '').split('\n');
}

/** Files named `name` under `root` (skipping .git), or only `root/name` when `recursive` is false. */
export function findFiles(root, name, recursive) {
  if (!recursive) return fs.existsSync(path.join(root, name)) ? [path.join(root, name)] : [];
  const found = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory() && e.name !== '.git') walk(path.join(dir, e.name));
      else if (e.isFile() && e.name === name) found.push(path.join(dir, e.name));
    }
  };
  walk(root);
  return found.sort();
}

/** The runner's hashFiles(): '' when nothing matched. */
export function hashFiles(files) {
  if (files.length === 0) return '';
  const outer = createHash('sha256');
  for (const f of files) outer.update(createHash('sha256').update(fs.readFileSync(f)).digest());
  return outer.digest('hex');
}
