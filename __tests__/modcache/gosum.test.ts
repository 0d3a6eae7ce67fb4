import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  addGoSumToKeepSet,
  findDependencyFiles,
  globToRegExp,
  hashFiles,
  matchGlob,
  parseGoSum,
  readKeepSet,
} from '../../src/modcache/gosum.js';
import { writeTree } from './tree.js';

const GOSUM = `github.com/BurntSushi/toml v1.3.2 h1:o7IhLm0Msx3BaB+n3Ag7L8EVlByGnpq14C4YWiu/gL8=
github.com/BurntSushi/toml v1.3.2/go.mod h1:CxXYINrC8qIiEnFrOxCa7Jy5BFHlXnUU2pbicEuybxQ=
github.com/cpuguy83/go-md2man/v2 v2.0.6/go.mod h1:oOW0eioCTA6cOiMLiUPZOpcVxMig6NIQQ7OS05n1F4g=

golang.org/x/sync v0.24.0 h1:iqiDrGoDgyuvAKrhLQthUEzU/R378N78gXbBjxed7oA=
golang.org/x/sync v0.24.0/go.mod h1:sUUOizhqBxiL6pEWpqNLUiaJn1ShEbZ6BBqskPbjZm0=
gopkg.in/check.v1 v0.0.0-20161208181325-20d25e280405/go.mod h1:Co6ibVJAznAaIkqp8huTwlJQCZ016jof/cbN4VW5Yz0=
github.com/pkg/errors v0.9.1+incompatible h1:abc=
`;

describe('parseGoSum', () => {
  it('names every module version, /go.mod lines included', () => {
    expect([...parseGoSum(GOSUM)].sort()).toEqual([
      'github.com/BurntSushi/toml@v1.3.2',
      'github.com/cpuguy83/go-md2man/v2@v2.0.6',
      'github.com/pkg/errors@v0.9.1+incompatible',
      'golang.org/x/sync@v0.24.0',
      'gopkg.in/check.v1@v0.0.0-20161208181325-20d25e280405',
    ]);
  });
  it('reads CRLF, blank and junk lines', () => {
    const crlf = GOSUM.replace(/\n/g, '\r\n') + '\r\n\r\n  \r\ngarbage\r\na b\r\nx y z\r\n';
    expect(parseGoSum(crlf)).toEqual(parseGoSum(GOSUM));
    expect(parseGoSum('')).toEqual(new Set());
  });
  it('tells full versions from /go.mod-only ones', () => {
    const keep = addGoSumToKeepSet(GOSUM);
    expect(keep.get('github.com/BurntSushi/toml@v1.3.2')).toBe('full');
    expect(keep.get('github.com/cpuguy83/go-md2man/v2@v2.0.6')).toBe('mod');
    expect(keep.get('gopkg.in/check.v1@v0.0.0-20161208181325-20d25e280405')).toBe('mod');
    expect(keep.get('github.com/pkg/errors@v0.9.1+incompatible')).toBe('full');
  });
  it('a full line in another file wins over a /go.mod line', () => {
    const keep = addGoSumToKeepSet('a.com/m v1.0.0/go.mod h1:x=\n');
    addGoSumToKeepSet('a.com/m v1.0.0 h1:y=\n', keep);
    addGoSumToKeepSet('a.com/m v1.0.0/go.mod h1:x=\n', keep);
    expect(keep.get('a.com/m@v1.0.0')).toBe('full');
  });
});

describe('globs', () => {
  const cases: Array<[string, string, boolean]> = [
    ['**/go.sum', 'go.sum', true],
    ['**/go.sum', 'a/b/go.sum', true],
    ['**/go.sum', 'a/b/xgo.sum', false],
    ['**/go.work.sum', 'go.work.sum', true],
    ['go.sum', 'go.sum', true],
    ['go.sum', 'a/go.sum', false],
    ['tools/*/go.sum', 'tools/lint/go.sum', true],
    ['tools/*/go.sum', 'tools/a/b/go.sum', false],
    ['tools/**', 'tools/a/b/go.sum', true],
    ['a/**/b/go.sum', 'a/b/go.sum', true],
    ['a/**/b/go.sum', 'a/x/y/b/go.sum', true],
    ['go.su?', 'go.sum', true],
    ['go.su?', 'go.su/m', false],
    ['./sub/go.sum', 'sub/go.sum', true],
    ['sub\\go.sum', 'sub/go.sum', true],
    ['a+b/(x)/go.sum', 'a+b/(x)/go.sum', true],
    ['**/.hidden/go.sum', 'x/.hidden/go.sum', true],
  ];
  for (const [pattern, p, want] of cases) {
    it(`${pattern} ${want ? 'matches' : 'does not match'} ${p}`, () => {
      expect(matchGlob(pattern, p)).toBe(want);
    });
  }
  it('builds anchored expressions', () => {
    expect(globToRegExp('go.sum').source).toBe('^go\\.sum$');
  });
});

describe('findDependencyFiles and hashFiles', () => {
  let root: string;
  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'gosum-'));
    const files: Record<string, string> = {
      'go.sum': 'a.com/m v1.0.0 h1:x=\n',
      'go.work.sum': 'b.com/m v1.0.0 h1:y=\n',
      'sub/mod/go.sum': 'c.com/m v1.0.0 h1:z=\n',
      'node_modules/x/go.sum': 'nope',
      'vendor/x/go.sum': 'nope',
      '.git/go.sum': 'nope',
      'pkg/testdata/go.sum': 'nope',
      'tools/go.sum': 'd.com/m v1.0.0 h1:w=\n',
      'other.txt': '',
    };
    await writeTree(root, files);
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('finds go.sum and go.work.sum files, skipping vendor, node_modules, .git, testdata', async () => {
    const found = await findDependencyFiles(root);
    expect(found.map((f) => path.relative(root, f).split(path.sep).join('/'))).toEqual([
      'go.sum',
      'go.work.sum',
      'sub/mod/go.sum',
      'tools/go.sum',
    ]);
  });
  it('takes patterns, exclusions and absolute paths', async () => {
    const rel = (xs: string[]) => xs.map((f) => path.relative(root, f).split(path.sep).join('/'));
    expect(rel(await findDependencyFiles(root, ['sub/**/go.sum']))).toEqual(['sub/mod/go.sum']);
    expect(rel(await findDependencyFiles(root, ['**/go.sum', '!tools/**']))).toEqual([
      'go.sum',
      'sub/mod/go.sum',
    ]);
    expect(rel(await findDependencyFiles(root, [path.join(root, 'tools', 'go.sum')]))).toEqual([
      'tools/go.sum',
    ]);
    expect(await findDependencyFiles(root, ['nothing/**/go.sum'])).toEqual([]);
    expect(await findDependencyFiles(path.join(root, 'missing'))).toEqual([]);
  });
  it('reads a keep set from files', async () => {
    const keep = await readKeepSet(await findDependencyFiles(root), [
      'golang.org/toolchain@v0.0.1-go1.26.8.linux-amd64',
    ]);
    expect([...keep.keys()].sort()).toEqual([
      'a.com/m@v1.0.0',
      'b.com/m@v1.0.0',
      'c.com/m@v1.0.0',
      'd.com/m@v1.0.0',
      'golang.org/toolchain@v0.0.1-go1.26.8.linux-amd64',
    ]);
  });
  it('hashes stably: order of arguments, CRLF, another root with the same tree', async () => {
    const files = await findDependencyFiles(root);
    const h = await hashFiles(files, root);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(await hashFiles([...files].reverse(), root)).toBe(h);
    const copy = await fs.mkdtemp(path.join(os.tmpdir(), 'gosum-copy-'));
    try {
      for (const f of files) {
        const rel = path.relative(root, f);
        await fs.mkdir(path.dirname(path.join(copy, rel)), { recursive: true });
        const text = await fs.readFile(f, 'utf8');
        await fs.writeFile(path.join(copy, rel), text.replace(/\n/g, '\r\n'));
      }
      expect(await hashFiles(await findDependencyFiles(copy), copy)).toBe(h);
    } finally {
      await fs.rm(copy, { recursive: true, force: true });
    }
  });
  it('hashes path and content: a rename or an edit changes it', async () => {
    const files = await findDependencyFiles(root);
    const h = await hashFiles(files, root);
    await fs.appendFile(path.join(root, 'tools', 'go.sum'), 'e.com/m v1.0.0 h1:v=\n');
    expect(await hashFiles(files, root)).not.toBe(h);
    const h2 = await hashFiles(files, root);
    await fs.rename(path.join(root, 'tools'), path.join(root, 'tools2'));
    const moved = await findDependencyFiles(root);
    expect(await hashFiles(moved, root)).not.toBe(h2);
  });
  it('pins the hash format', async () => {
    const h = await hashFiles([path.join(root, 'go.sum')], root);
    // sha256("go.sum\0" + "21\0" + "a.com/m v1.0.0 h1:x=\n")
    expect(h).toBe(
      (await import('node:crypto'))
        .createHash('sha256')
        .update('go.sum\u000021\u0000a.com/m v1.0.0 h1:x=\n')
        .digest('hex'),
    );
  });
});
