// Integration test support: the dist/ bundles, the real go command, the fixture module, and a
// store seeded with the standard library packages the fixture needs (so each test compiles only
// the fixture's own packages and stays quick on a 2-core machine).
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const FIXTURE = path.join(ROOT, '__tests__/helper/fixture');
export const DAEMON_JS = path.join(ROOT, 'dist/helper/index.js');
export const SHIM_JS = path.join(ROOT, 'dist/shim/index.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const name of fs.readdirSync(dir))
    newest = Math.max(newest, fs.statSync(path.join(dir, name)).mtimeMs);
  return newest;
}

async function withLock<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
  const lock = path.join(os.tmpdir(), `${name}.lock`);
  const deadline = Date.now() + 170_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      const st = fs.statSync(lock, { throwIfNoEntry: false });
      if (st && Date.now() - st.mtimeMs > 300_000)
        fs.rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * Builds dist/helper and dist/shim with scripts/build.mjs unless they are newer than the sources.
 * ncc type-checks every file of the project, so while another part of it does not compile, the
 * build falls back to the same ncc command run on a copy of src/helper alone (same tsconfig, same
 * output bytes), so these tests can run and dist/ stays what `npm run build` makes.
 */
export async function ensureBundles(): Promise<void> {
  await withLock('go-cache-helper-bundles', () => {
    const src = newestMtime(path.join(ROOT, 'src/helper'));
    const fresh = [DAEMON_JS, SHIM_JS].every(
      (f) => fs.existsSync(f) && fs.statSync(f).mtimeMs > src,
    );
    if (fresh) return;
    try {
      execFileSync(process.execPath, ['scripts/build.mjs', 'helper', 'shim'], {
        cwd: ROOT,
        stdio: 'pipe',
      });
      return;
    } catch (e) {
      const out = String((e as { stderr?: Buffer }).stderr ?? '');
      console.warn(
        `scripts/build.mjs failed; building the helper bundles from src/helper alone:\n${out.slice(-1500)}`,
      );
    }
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'go-cache-bundle-'));
    try {
      for (const f of ['tsconfig.json', 'package.json'])
        fs.copyFileSync(path.join(ROOT, f), path.join(tmp, f));
      fs.cpSync(path.join(ROOT, 'src/helper'), path.join(tmp, 'src/helper'), { recursive: true });
      fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(tmp, 'node_modules'), 'junction');
      const ncc = path.join(ROOT, 'node_modules/@vercel/ncc/dist/ncc/cli.js');
      for (const [name, entry] of [
        ['helper', 'src/helper/main.ts'],
        ['shim', 'src/helper/shim.ts'],
      ]) {
        const args = [
          ncc,
          'build',
          entry,
          '-o',
          `out/${name}`,
          '--minify',
          '--license',
          'licenses.txt',
          '--quiet',
        ];
        execFileSync(process.execPath, args, { cwd: tmp, stdio: 'pipe' });
        fs.rmSync(path.join(ROOT, 'dist', name), { recursive: true, force: true });
        fs.cpSync(path.join(tmp, 'out', name), path.join(ROOT, 'dist', name), { recursive: true });
      }
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
}

export function goBinary(): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, process.platform === 'win32' ? 'go.exe' : 'go');
    if (fs.existsSync(p)) return p;
  }
  if (fs.existsSync('/usr/local/go/bin/go')) return '/usr/local/go/bin/go';
  throw new Error(
    'go not found on PATH (nor /usr/local/go/bin/go): the helper integration tests need it',
  );
}

/** A clean go environment: nothing from the user's settings, no network, no toolchain switch. */
export function goEnv(root: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const go = goBinary();
  fs.mkdirSync(path.join(root, 'gocache'), { recursive: true });
  return {
    PATH: `${path.dirname(go)}${path.delimiter}${process.env.PATH ?? ''}`,
    HOME: process.env.HOME ?? root,
    TMPDIR: os.tmpdir(),
    GOTOOLCHAIN: 'local',
    GOPROXY: 'off',
    GOWORK: 'off',
    GOENV: 'off',
    GOFLAGS: '',
    CGO_ENABLED: '0',
    GOPATH: path.join(root, 'gopath'),
    GOCACHE: path.join(root, 'gocache'),
    ...extra,
  };
}

export function shimCommand(o: { store: string; socket?: string; log?: string }): string {
  let cmd = `${process.execPath} ${SHIM_JS} --dir ${o.store}`;
  if (o.socket) cmd += ` --socket ${o.socket}`;
  if (o.log) cmd += ` --log ${o.log}`;
  return cmd;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export function run(
  cmd: string,
  args: string[],
  o: { cwd: string; env: NodeJS.ProcessEnv; input?: string | Buffer; timeoutMs?: number },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(cmd, args, { cwd: o.cwd, env: o.env, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} timed out\n${stderr.slice(-3000)}`));
    }, o.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(o.input ?? '');
  });
}

export async function go(
  args: string[],
  o: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<RunResult> {
  const r = await run(goBinary(), args, o);
  if (r.code !== 0) {
    throw new Error(
      `go ${args.join(' ')} failed (${r.code}):\n${r.stdout}\n${r.stderr.slice(-4000)}`,
    );
  }
  return r;
}

/** Invocations of the compiler in `go ... -x` output. */
export function compiles(xOutput: string): string[] {
  return xOutput.split('\n').filter((l) => /pkg\/tool\/[^/\s]+\/compile(\.exe)? /.test(l));
}

export function copyFixture(dest: string): string {
  fs.cpSync(FIXTURE, dest, { recursive: true });
  return dest;
}

/**
 * A store holding the standard library packages the fixture (and its tests) import, built once
 * with Go's native disk cache (the layouts are the same) and kept in the temp dir between runs.
 */
export async function seedStore(): Promise<string> {
  const goVersion = execFileSync(goBinary(), ['env', 'GOVERSION'], { encoding: 'utf8' }).trim();
  const h = createHash('sha256').update(goVersion);
  for (const f of fs.readdirSync(FIXTURE, { recursive: true }).map(String).sort()) {
    const p = path.join(FIXTURE, f);
    if (fs.statSync(p).isFile()) h.update(f).update(fs.readFileSync(p));
  }
  const seed = path.join(
    os.tmpdir(),
    `go-cache-itg-seed-${goVersion}-${h.digest('hex').slice(0, 12)}`,
  );
  return withLock('go-cache-itg-seed', async () => {
    if (fs.existsSync(seed)) return seed;
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'go-cache-seeding-'));
    try {
      const mod = copyFixture(path.join(work, 'mod'));
      const env = goEnv(work, { GOCACHE: path.join(work, 'cache') });
      const list = await go(
        ['list', '-deps', '-test', '-f', '{{if .Standard}}{{.ImportPath}}{{end}}', './...'],
        { cwd: mod, env },
      );
      const std = [...new Set(list.stdout.split('\n').filter(Boolean))];
      await go(['build', ...std], { cwd: mod, env });
      fs.renameSync(path.join(work, 'cache'), seed);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
    return seed;
  });
}
