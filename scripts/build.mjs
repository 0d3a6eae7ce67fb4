// Builds one ncc bundle per entry point. ncc is run once per entry so each bundle carries only what its
// entry imports: the shim, which every `go` command starts, must stay small and quick to load.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';

const entries = {
  restore: 'src/restore.ts',
  save: 'src/save.ts',
  helper: 'src/helper/main.ts',
  shim: 'src/helper/shim.ts',
};
const only = process.argv.slice(2);
for (const [name, src] of Object.entries(entries)) {
  if (only.length && !only.includes(name)) continue;
  rmSync(`dist/${name}`, { recursive: true, force: true });
  execFileSync(
    'npx',
    ['ncc', 'build', src, '-o', `dist/${name}`, '--minify', '--license', 'licenses.txt', '--quiet'],
    { stdio: 'inherit' },
  );
}
