import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { parseActionManifest, parseYaml, readActionManifest } from './actionyml.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

describe('parseYaml', () => {
  it('reads nested block mappings with comments and a document marker', () => {
    const y = `---
# leading comment
name: go-cache   # trailing comment
runs:
  using: node24
  # indented comment

  main: dist/restore/index.js
empty:
url: http://example.com:8080/a#frag
`;
    expect(parseYaml(y)).toEqual({
      name: 'go-cache',
      runs: { using: 'node24', main: 'dist/restore/index.js' },
      empty: null,
      url: 'http://example.com:8080/a#frag',
    });
  });

  it('reads quoted scalars with escapes, and keeps them as strings', () => {
    const y = `a: 'it''s # not a comment'
b: "tab\\tnl\\n\\u00e9 \\"q\\""
c: true
d: 10
e: ''
f: ~
"quoted key": v
`;
    expect(parseYaml(y)).toEqual({
      a: "it's # not a comment",
      b: 'tab\tnl\né "q"',
      c: 'true',
      d: '10',
      e: '',
      f: null,
      'quoted key': 'v',
    });
  });

  it('folds multi-line plain and quoted scalars', () => {
    const y = `a: first
  second

  third
b: "one
  two"
c: next
`;
    expect(parseYaml(y)).toEqual({ a: 'first second\nthird', b: 'one two', c: 'next' });
  });

  it('reads literal block scalars with each chomping mode', () => {
    const y = `clip: |
  line 1
    indented

  line 3


strip: |-
  x
keep: |+
  y

explicit: |2
   leading space
last: end
`;
    expect(parseYaml(y)).toEqual({
      clip: 'line 1\n  indented\n\nline 3\n',
      strip: 'x',
      keep: 'y\n\n',
      explicit: ' leading space\n',
      last: 'end',
    });
  });

  it('reads folded block scalars', () => {
    const y = `f: >
  one
  two

  three
    more indented
  four
g: >-
  a
  b
`;
    expect(parseYaml(y)).toEqual({
      f: 'one two\nthree\n  more indented\nfour\n',
      g: 'a b',
    });
  });

  it('reads block sequences, nested and of mappings, and one-line flow collections', () => {
    const y = `list:
  - a
  - 'b'
  - name: x
    value: y
  - - nested
same-indent:
- 1
- 2
flow: [a, 'b c', {k: v}]
none: []
`;
    expect(parseYaml(y)).toEqual({
      list: ['a', 'b', { name: 'x', value: 'y' }, ['nested']],
      'same-indent': ['1', '2'],
      flow: ['a', 'b c', { k: 'v' }],
      none: [],
    });
  });

  it('rejects what it does not support, with the line number', () => {
    expect(() => parseYaml('a: &x 1\n')).toThrow('anchors and aliases are not supported');
    expect(() => parseYaml('a: !!str 1\n')).toThrow('tags are not supported');
    expect(() => parseYaml('a:\n\tb: 1\n')).toThrow('line 2: tabs are not allowed');
    expect(() => parseYaml('a: 1\na: 2\n')).toThrow("duplicate key 'a'");
    expect(() => parseYaml('a: 1\n   b: 2\n')).toThrow(/line 2/);
    expect(() => parseYaml('a: "open\n')).toThrow('unterminated quoted scalar');
  });
});

describe('parseActionManifest', () => {
  it('reads name, inputs with defaults, outputs and runs; post-if defaults to always()', () => {
    const m = parseActionManifest(
      `name: x
inputs:
  key-prefix:
    default: gc
    Required: true
  plain:
    description: no default
  old:
    deprecationMessage: gone
outputs:
  hit:
    description: d
runs:
  using: node24
  main: dist/main.js
  post: dist/post.js
`,
      '/a/action.yml',
    );
    expect(m.name).toBe('x');
    expect(m.inputs).toEqual({
      'key-prefix': { default: 'gc', required: true },
      plain: { description: 'no default' },
      old: { deprecationMessage: 'gone' },
    });
    expect(m.outputs).toEqual({ hit: { description: 'd' } });
    expect(m.runs).toMatchObject({
      using: 'node24',
      main: 'dist/main.js',
      post: 'dist/post.js',
      postIf: 'always()',
    });
  });

  it('requires name and runs.using', () => {
    expect(() => parseActionManifest('runs:\n  using: node24\n')).toThrow("'name' is required");
    expect(() => parseActionManifest('name: x\nruns:\n  main: a.js\n')).toThrow(
      "'runs.using' is required",
    );
  });

  it('reads the fixture actions', () => {
    const inputs = readActionManifest(path.join(fixtures, 'inputs'));
    expect(inputs.inputs['my input']?.default).toBe('spaced "value"');
    expect(inputs.inputs['from-expr']?.default).toBe('${{ runner.os }}-${{ github.ref_name }}');
    expect(inputs.inputs['text']?.default).toBe('line 1\nline 2\n');
    expect(readActionManifest(path.join(fixtures, 'post-if', 'env')).runs.postIf).toBe(
      "env.RUN_POST == 'yes' && !cancelled()",
    );
    expect(() => readActionManifest(fixtures)).toThrow("Can't find 'action.yml'");
  });
});
