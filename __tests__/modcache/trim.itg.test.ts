// Trimming a real module cache filled by the real go command from the module proxy, then building
// offline (GOPROXY=off) from what is left, with -mod=mod and -mod=readonly.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findDependencyFiles } from '../../src/modcache/gosum.js';
import { moduleSetHash } from '../../src/modcache/restore.js';
import { moduleSetHashOf, trimModCache } from '../../src/modcache/save.js';
import { makeWritable, scanModCache, type TrimResult } from '../../src/modcache/trim.js';

const GO =
  process.env.GO_CACHE_TEST_GO ??
  (existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go');

interface Run {
  code: number;
  out: string;
}

function run(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      GO,
      args,
      { cwd, env, maxBuffer: 64 << 20, timeout: 170_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, out: `${stdout}${stderr}` });
      },
    );
  });
}

// Project A: a current module (go 1.26, pruned module graph) with a few small dependencies.
const A_GOMOD = `module example.com/a

go 1.22

require (
	github.com/google/uuid v1.6.0
	github.com/spf13/cobra v1.10.2
	golang.org/x/sync v0.24.0
)

require (
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
)
`;
const A_GOSUM = `github.com/cpuguy83/go-md2man/v2 v2.0.6/go.mod h1:oOW0eioCTA6cOiMLiUPZOpcVxMig6NIQQ7OS05n1F4g=
github.com/google/uuid v1.6.0 h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0=
github.com/google/uuid v1.6.0/go.mod h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo=
github.com/inconshreveable/mousetrap v1.1.0 h1:wN+x4NVGpMsO7ErUn/mUI3vEoE6Jt13X2s0bqwp9tc8=
github.com/inconshreveable/mousetrap v1.1.0/go.mod h1:vpF70FUmC8bwa3OWnCshd2FqLfsEA9PFc4w1p2J65bw=
github.com/russross/blackfriday/v2 v2.1.0/go.mod h1:+Rmxgy9KzJVeS9/2gXHxylqXiyQDYRxCVz55jmeOWTM=
github.com/spf13/cobra v1.10.2 h1:DMTTonx5m65Ic0GOoRY2c16WCbHxOOw6xxezuLaBpcU=
github.com/spf13/cobra v1.10.2/go.mod h1:7C1pvHqHw5A4vrJfjNwvOdzYu0Gml16OCs2GRiTUUS4=
github.com/spf13/pflag v1.0.9 h1:9exaQaMOCwffKiiiYk6/BndUBv+iRViNW+4lEMi0PvY=
github.com/spf13/pflag v1.0.9/go.mod h1:McXfInJRrz4CZXVZOBLb0bTZqETkiAhM9Iw0y3An2Bg=
go.yaml.in/yaml/v3 v3.0.4/go.mod h1:DhzuOOF2ATzADvBadXxruRBLzYTpT36CKvDb3+aBEFg=
golang.org/x/sync v0.24.0 h1:iqiDrGoDgyuvAKrhLQthUEzU/R378N78gXbBjxed7oA=
golang.org/x/sync v0.24.0/go.mod h1:sUUOizhqBxiL6pEWpqNLUiaJn1ShEbZ6BBqskPbjZm0=
gopkg.in/check.v1 v0.0.0-20161208181325-20d25e280405/go.mod h1:Co6ibVJAznAaIkqp8huTwlJQCZ016jof/cbN4VW5Yz0=
`;
const A_MAIN = `package main

import (
	"fmt"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
)

func id() string { return uuid.NewString() }

func main() {
	var g errgroup.Group
	g.Go(func() error { return nil })
	_ = g.Wait()
	c := &cobra.Command{Use: "a", Run: func(*cobra.Command, []string) { fmt.Println(id()) }}
	_ = c.Execute()
}
`;
const A_TEST = `package main

import "testing"

func TestID(t *testing.T) {
	if len(id()) != 36 {
		t.Fatal(id())
	}
}
`;

// Project B: an old module (go 1.16: unpruned module graph) on testify v1.7.0, whose go.sum has
// /go.mod-only lines (stretchr/objx) that the go command reads to build the graph.
const B_GOMOD = `module example.com/b

go 1.16

require github.com/stretchr/testify v1.7.0
`;
const B_GOSUM = `github.com/davecgh/go-spew v1.1.0 h1:ZDRjVQ15GmhC3fiQ8ni8+OwkZQO4DARzQgrnXU1Liz8=
github.com/davecgh/go-spew v1.1.0/go.mod h1:J7Y8YcW2NihsgmVo/mv3lAwl/skON4iLHjSsI+c5H38=
github.com/pmezard/go-difflib v1.0.0 h1:4DBwDE0NGyQoBHbLQYPwSUPoCMWR5BEzIk/f1lZbAQM=
github.com/pmezard/go-difflib v1.0.0/go.mod h1:iKH77koFhYxTK1pcRnkKkqfTogsbg7gZNVY4sRDYZ/4=
github.com/stretchr/objx v0.1.0/go.mod h1:HFkY916IF+rwdDfMAkV7OtwuqBVzrE8GR6GFx+wExME=
github.com/stretchr/testify v1.7.0 h1:nwc3DEeHmmLAfoZucVR881uASk0Mfjw8xYJ99tb5CcY=
github.com/stretchr/testify v1.7.0/go.mod h1:6Fq8oRcR53rry900zMqJjRRixrwX3KX962/h/Wwjteg=
gopkg.in/check.v1 v0.0.0-20161208181325-20d25e280405 h1:yhCVgyC4o1eVCa2tZl7eS0r+SDo693bJlVdllGtEeKM=
gopkg.in/check.v1 v0.0.0-20161208181325-20d25e280405/go.mod h1:Co6ibVJAznAaIkqp8huTwlJQCZ016jof/cbN4VW5Yz0=
gopkg.in/yaml.v3 v3.0.0-20200313102051-9f266ea9e77c h1:dUUwHk2QECo/6vqA44rthZ8ie2QXMNeKRTHCNY2nXvo=
gopkg.in/yaml.v3 v3.0.0-20200313102051-9f266ea9e77c/go.mod h1:K4uyk7z7BCEPqu6E+C64Yfv1cQ7kz7rIZviUmN+EgEM=
`;
const B_SRC = `package b

func Two() int { return 2 }
`;
const B_TEST = `package b

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestTwo(t *testing.T) { assert.Equal(t, 2, Two()) }
`;

const OBJX_MOD = 'cache/download/github.com/stretchr/objx/@v/v0.1.0.mod';
const OBJX_ZIP = 'cache/download/github.com/stretchr/objx/@v/v0.1.0.zip';

describe.skipIf(!existsSync(GO) && GO !== 'go')('trimming a real module cache', () => {
  let root: string;
  let mc: string;
  let a: string;
  let b: string;
  let env: NodeJS.ProcessEnv;
  let offline: (mode: string) => NodeJS.ProcessEnv;
  let before: { bytes: number; files: number };
  let trim: TrimResult;

  const size = async () => {
    const items = await scanModCache(mc);
    return {
      bytes: items.reduce((n, i) => n + i.bytes, 0),
      files: items.reduce((n, i) => n + i.files, 0),
    };
  };

  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'modcache-itg-'));
    mc = path.join(root, 'gopath', 'pkg', 'mod');
    a = path.join(root, 'ws', 'a');
    b = path.join(root, 'ws', 'b');
    for (const [dir, files] of [
      [a, { 'go.mod': A_GOMOD, 'go.sum': A_GOSUM, 'main.go': A_MAIN, 'main_test.go': A_TEST }],
      [b, { 'go.mod': B_GOMOD, 'go.sum': B_GOSUM, 'b.go': B_SRC, 'b_test.go': B_TEST }],
    ] as const) {
      await fs.mkdir(dir, { recursive: true });
      for (const [name, text] of Object.entries(files))
        await fs.writeFile(path.join(dir, name), text);
    }
    env = {
      ...process.env,
      GOPATH: path.join(root, 'gopath'),
      GOMODCACHE: mc,
      GOFLAGS: '', // Go's read-only module trees, as most users have them
      GOTOOLCHAIN: 'local',
      GOWORK: 'off',
      GOENV: 'off',
    };
    offline = (mode) => ({ ...env, GOPROXY: 'off', GOFLAGS: mode });

    // Fill the cache from the proxy as a job would: download, build, test.
    for (const dir of [a, b]) {
      for (const args of [
        ['mod', 'download'],
        ['build', './...'],
        ['test', './...'],
      ]) {
        const r = await run(args, dir, env);
        expect(r.code, `go ${args.join(' ')} in ${dir}: ${r.out}`).toBe(0);
      }
    }
    // Something to trim: an unrelated module, another version of a kept one, a VCS clone directory,
    // and an extracted tree of a /go.mod-only version.
    for (const m of ['github.com/pkg/errors@v0.9.1', 'github.com/google/uuid@v1.5.0']) {
      const r = await run(['mod', 'download', m], root, env);
      expect(r.code, r.out).toBe(0);
    }
    const objxTree = path.join(mc, 'github.com', 'stretchr', 'objx@v0.1.0');
    await fs.mkdir(objxTree, { recursive: true });
    await fs.writeFile(path.join(objxTree, 'go.mod'), 'module github.com/stretchr/objx\n');
    await fs.mkdir(path.join(mc, 'cache', 'vcs', 'deadbeef', 'objects'), { recursive: true });
    await fs.writeFile(
      path.join(mc, 'cache', 'vcs', 'deadbeef', 'objects', 'pack'),
      Buffer.alloc(64 * 1024),
    );
    before = await size();

    const files = await findDependencyFiles(path.join(root, 'ws'));
    expect(files.map((f) => path.relative(root, f))).toEqual([
      path.join('ws', 'a', 'go.sum'),
      path.join('ws', 'b', 'go.sum'),
    ]);
    trim = await trimModCache(mc, files);
    const after = await size();
    console.log(
      `module cache: before ${before.bytes} B in ${before.files} files; after ${after.bytes} B in ${after.files} files; ` +
        `trim ${JSON.stringify({ ...trim, keptSetHash: undefined })}`,
    );
  });

  afterAll(async () => {
    if (!root) return;
    await makeWritable(root);
    await fs.rm(root, { recursive: true, force: true });
  });

  it('removed the unrelated module, the other version, the VCS clone, a /go.mod-only tree', async () => {
    expect(trim.errors).toEqual([]);
    expect(trim.removedModules).toBe(2); // pkg/errors@v0.9.1, uuid@v1.5.0 (objx keeps its downloads)
    expect(trim.removedBytes).toBeGreaterThan(64 * 1024);
    const rels = new Set((await scanModCache(mc)).map((i) => i.rel));
    // (Checksum database lookups are kept within their budget whatever module they are about.)
    const modules = [...rels].filter((r) => !r.startsWith('cache/download/sumdb/'));
    expect(modules.some((r) => r.includes('github.com/pkg/errors'))).toBe(false);
    expect(modules.some((r) => r.includes('uuid@v1.5.0') || r.includes('uuid/@v/v1.5.0'))).toBe(
      false,
    );
    expect(rels.has('github.com/stretchr/objx@v0.1.0')).toBe(false);
    expect(rels.has('cache/vcs')).toBe(false);
    // Kept: what the builds used, and the .mod/.info of /go.mod-only versions.
    expect(rels.has('github.com/spf13/cobra@v1.10.2')).toBe(true);
    expect(rels.has('cache/download/github.com/spf13/cobra/@v/v1.10.2.zip')).toBe(true);
    expect(rels.has(OBJX_MOD)).toBe(true);
    // `go mod download` in the go 1.16 module fetched the whole graph, objx's zip included: kept.
    expect(rels.has(OBJX_ZIP)).toBe(true);
    expect(rels.has('cache/download/github.com/russross/blackfriday/v2/@v/v2.1.0.mod')).toBe(true);
    const after = await size();
    expect(after.bytes).toBeLessThan(before.bytes);
    expect(after.bytes).toBe(trim.keptBytes);
  });

  it('hashes the kept set as a restore of it would', async () => {
    expect(moduleSetHashOf(trim)).toBe(await moduleSetHash(mc));
  });

  for (const mode of ['-mod=mod', '-mod=readonly']) {
    for (const [name, dir] of [
      ['pruned (go 1.22)', () => a],
      ['unpruned (go 1.16)', () => b],
    ] as const) {
      it(`builds and tests ${name} offline with GOFLAGS=${mode}`, async () => {
        for (const args of [
          ['build', './...'],
          ['test', '-count=1', './...'],
          ['vet', './...'],
        ]) {
          const r = await run(args, dir(), offline(mode));
          expect(r.code, `go ${args.join(' ')}: ${r.out}`).toBe(0);
        }
      });
    }
  }

  it('go mod download and go mod verify work offline', async () => {
    for (const dir of [a, b]) {
      for (const args of [
        ['mod', 'download'],
        ['mod', 'verify'],
      ]) {
        const r = await run(args, dir, offline('-mod=mod'));
        expect(r.code, `go ${args.join(' ')} in ${dir}: ${r.out}`).toBe(0);
      }
    }
  });

  it('did not touch go.mod or go.sum (-mod=mod had nothing to add)', async () => {
    expect(await fs.readFile(path.join(a, 'go.sum'), 'utf8')).toBe(A_GOSUM);
    expect(await fs.readFile(path.join(b, 'go.sum'), 'utf8')).toBe(B_GOSUM);
    expect(await fs.readFile(path.join(b, 'go.mod'), 'utf8')).toBe(B_GOMOD);
  });

  // Last: these break the cache on purpose.
  it('go mod download in a go 1.16 module needs the zips of /go.mod-only versions', async () => {
    await fs.rm(path.join(mc, ...OBJX_ZIP.split('/')), { force: true });
    const rb = await run(['mod', 'download'], b, offline('-mod=mod'));
    expect(rb.code).not.toBe(0);
    const build = await run(['build', './...'], b, offline('-mod=mod'));
    expect(build.code, build.out).toBe(0);
    const ra = await run(['mod', 'download'], a, offline('-mod=mod'));
    expect(ra.code, ra.out).toBe(0);
  });

  it('needs the .mod of a /go.mod-only version: without it the unpruned build fails offline', async () => {
    await fs.rm(path.join(mc, ...OBJX_MOD.split('/')), { force: true });
    const rb = await run(['build', './...'], b, offline('-mod=mod'));
    expect(rb.code).not.toBe(0);
    expect(rb.out).toMatch(/stretchr\/objx@v0\.1\.0/);
    // The pruned module graph of a go ≥ 1.17 module does not read it for a build.
    const ra = await run(['build', './...'], a, offline('-mod=mod'));
    expect(ra.code, ra.out).toBe(0);
  });
});
