// The real go command when things go wrong: the daemon killed mid-build, a full disk, a store that
// cannot be written. The build must succeed every time.
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ping,
  readStandaloneUsage,
  report,
  socketPathFor,
  startDaemon,
  stopDaemon,
} from '../../src/helper/control.js';
import {
  compiles,
  copyFixture,
  DAEMON_JS,
  ensureBundles,
  go,
  goBinary,
  goEnv,
  run,
  seedStore,
  shimCommand,
} from './itg.js';
import { Store } from '../../src/helper/store.js';
import { processAlive } from '../../test/harness/runner.js';
import { tempDir, waitUntil } from './util.js';

let seed: string;
let work: string;
let mod: string;
const mounts: string[] = [];
const daemons: number[] = [];

beforeAll(async () => {
  await ensureBundles();
  seed = await seedStore();
  work = tempDir('faults');
  mod = copyFixture(path.join(work, 'mod'));
});

afterAll(async () => {
  for (const pid of daemons) if (processAlive(pid)) process.kill(pid, 'SIGKILL');
  for (const m of mounts) {
    try {
      execFileSync('umount', [m], { stdio: 'ignore' });
    } catch {
      execFileSync('umount', ['-l', m], { stdio: 'ignore' });
    }
  }
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** A daemon on its own store (a copy of the seed unless `store` is given) and the env to use it. */
async function setup(name: string, store?: string) {
  const root = path.join(work, name);
  fs.mkdirSync(root, { recursive: true });
  store ??= path.join(root, 'store');
  if (!fs.existsSync(path.join(store, '00'))) fs.cpSync(seed, store, { recursive: true });
  const socket = socketPathFor(path.join(root, 'private'));
  const daemonLog = path.join(root, 'daemon.log');
  const shimLog = path.join(root, 'shim.log');
  const { pid } = await startDaemon({ script: DAEMON_JS, dir: store, socket, log: daemonLog });
  daemons.push(pid);
  const env = goEnv(root, { GOCACHEPROG: shimCommand({ store, socket, log: shimLog }) });
  const read = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '');
  return {
    root,
    store,
    socket,
    pid,
    env,
    daemonLog: () => read(daemonLog),
    shimLog: () => read(shimLog),
  };
}

async function expectConsistent(dir: string): Promise<void> {
  const st = new Store(dir);
  let files = 0;
  for (const sub of fs.readdirSync(dir).filter((n) => /^[0-9a-f]{2}$/.test(n))) {
    files += fs.readdirSync(path.join(dir, sub)).filter((n) => n.endsWith('-a')).length;
  }
  let entries = 0;
  for await (const e of st.scan()) {
    entries++;
    expect(await st.findOutput(e.outputID, e.size), e.actionID).not.toBeNull();
  }
  expect(entries).toBe(files);
}

describe('the daemon dies', () => {
  it('SIGKILL in the middle of a build: the build still succeeds, the shims carry on', async () => {
    const h = await setup('sigkill');
    const t0 = Date.now();
    const child = spawn(goBinary(), ['test', '-x', './...'], { cwd: mod, env: h.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    let running = true;
    void exited.then(() => (running = false));
    // Kill it as soon as the build has stored something: the rest of the build runs without it.
    await waitUntil(
      async () => !running || (await report(h.socket, 2000)).stats.puts >= 2,
      60_000,
      'puts',
    );
    expect(running).toBe(true);
    process.kill(h.pid, 'SIGKILL');
    const code = await exited;
    expect(code, stderr.slice(-3000)).toBe(0);
    expect(stdout.split('\n').filter((l) => l.startsWith('ok'))).toHaveLength(3);
    expect(h.shimLog()).toMatch(/serving the store here/);
    expect(processAlive(h.pid)).toBe(false);
    // What the shims stored on their own is there, and recorded for the post step.
    const again = await go(['test', '-x', './...'], { cwd: mod, env: h.env });
    expect(compiles(again.stderr)).toEqual([]);
    expect(again.stdout).toMatch(/\(cached\)/);
    expect(readStandaloneUsage(h.store).length).toBeGreaterThan(0);
    await expectConsistent(h.store);
    expect(Date.now() - t0).toBeLessThan(60_000);
  });

  it('SIGTERM: exits, and its record of use is on disk', async () => {
    const h = await setup('sigterm');
    await go(['build', '-tags', 'v2', '-o', path.join(h.root, 'app'), './cmd/app'], {
      cwd: mod,
      env: h.env,
    });
    const used = (await report(h.socket)).usage;
    expect(used.length).toBeGreaterThan(0);
    process.kill(h.pid, 'SIGTERM');
    await waitUntil(() => !processAlive(h.pid), 10_000, 'the daemon to exit');
    expect(await ping(h.socket, 300)).toBe(false);
    const onDisk = readStandaloneUsage(h.store);
    expect(onDisk.map((u) => u.actionID).sort()).toEqual(used.map((u) => u.actionID).sort());
    expect(h.daemonLog()).toMatch(/stopping: SIGTERM/);
  });

  it('startDaemon reports a daemon that cannot start, with its log', async () => {
    const root = path.join(work, 'nostart');
    fs.mkdirSync(root);
    const socket = socketPathFor(path.join(root, 'private'));
    const other = await setup('occupant');
    await expect(
      startDaemon({
        script: DAEMON_JS,
        dir: path.join(root, 'store'),
        socket: other.socket,
        log: path.join(root, 'd.log'),
        timeoutMs: 5000,
      }),
    ).rejects.toThrow(
      /exited \(code 1\); its log .* ends with:\n[^]*cannot start: another helper is listening/,
    );
    await stopDaemon(other.socket);
    expect(socket).toBeTruthy();
  });
});

describe('the store cannot be written', () => {
  it('a full disk (the store on a tiny tmpfs): builds and tests succeed', async (ctx) => {
    if (process.platform !== 'linux') return ctx.skip();
    const mnt = path.join(work, 'tiny');
    fs.mkdirSync(mnt);
    const seedBytes = Number(
      execFileSync('du', ['-sb', '--apparent-size', seed]).toString().split('\t')[0],
    );
    try {
      execFileSync(
        'mount',
        ['-t', 'tmpfs', '-o', `size=${seedBytes * 2 + (8 << 20)}`, 'tmpfs', mnt],
        { stdio: 'pipe' },
      );
    } catch (e) {
      console.warn(
        `cannot mount a tmpfs here (${(e as Error).message.split('\n')[0]}); full-disk case skipped`,
      );
      return ctx.skip();
    }
    mounts.push(mnt);
    const store = path.join(mnt, 'store');
    fs.cpSync(seed, store, { recursive: true });
    // Fill the disk, leaving 48 KiB: a few small puts fit, the rest fail halfway through.
    const free = (): number => {
      const st = fs.statfsSync(mnt);
      return st.bavail * st.bsize;
    };
    fs.writeFileSync(path.join(mnt, 'filler'), Buffer.alloc(Math.max(0, free() - (48 << 10))));
    expect(free()).toBeLessThan(64 << 10);

    const h = await setup('fulldisk', store);
    await go(['build', '-o', path.join(h.root, 'app'), './cmd/app'], { cwd: mod, env: h.env });
    const t = await go(['test', '-count=1', './...'], { cwd: mod, env: h.env });
    expect(t.stdout.split('\n').filter((l) => l.startsWith('ok'))).toHaveLength(3);
    await go(['list', '-export', '-test', '-f', '{{.Export}}', './...'], { cwd: mod, env: h.env });
    const out = await run(path.join(h.root, 'app'), ['40', '2'], { cwd: h.root, env: h.env });
    expect(out.stdout).toMatch(/sum=42/);
    const r = await stopDaemon(h.socket);
    expect(r.stats.errors).toBeGreaterThan(0);
    expect(h.daemonLog()).toMatch(/not stored/);
    expect(h.shimLog()).toMatch(/body spilled/); // a body that no longer fit moved out mid-write
    // Nothing half-written in the store: every index entry parses and its output is whole.
    await expectConsistent(store);
  });

  it('nowhere to write in the store at all: build, test, list -export, list -test all succeed', async () => {
    const root = path.join(work, 'unwritable');
    const store = path.join(root, 'store');
    fs.cpSync(seed, store, { recursive: true });
    // As root, permissions do not stop writes, so make the store's work dir a file instead.
    fs.writeFileSync(path.join(store, '.go-cache'), 'not a directory');
    const h = await setup('unwritable', store);
    await go(['build', '-o', path.join(h.root, 'app'), './cmd/app'], { cwd: mod, env: h.env });
    await go(['test', '-count=1', './...'], { cwd: mod, env: h.env });
    const exp = await go(['list', '-export', '-f', '{{.Export}}', './internal/calc'], {
      cwd: mod,
      env: h.env,
    });
    expect(exp.stdout.trim()).not.toBe('');
    await go(['list', '-test', '-f', '{{.ImportPath}}', './...'], { cwd: mod, env: h.env });
    const r = await stopDaemon(h.socket);
    expect(r.stats.puts).toBeGreaterThan(0);
    expect(r.stats.errors).toBe(r.stats.puts); // none stored, all answered with a usable DiskPath
    expect(r.stats.hits).toBeGreaterThan(0); // the seeded std lib is still served
  });
});
