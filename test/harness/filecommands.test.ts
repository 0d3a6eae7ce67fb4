import { describe, expect, it } from 'vitest';

import {
  CommandProcessor,
  FileCommandError,
  addToPrependPath,
  composePath,
  escapeData,
  escapeProperty,
  iterKeyValueFile,
  maskSecrets,
  parseAddPath,
  parseKeyValueFile,
  parseWorkflowCommand,
} from './filecommands.js';
import type { Annotation } from './filecommands.js';

const lf = { crlf: false };

describe('parseKeyValueFile: NAME=value', () => {
  it('splits at the first =, so values may contain =', () => {
    expect(parseKeyValueFile('A=1\nB=x=y==z\nC=\n', lf)).toEqual([
      ['A', '1'],
      ['B', 'x=y==z'],
      ['C', ''],
    ]);
  });

  it('skips empty lines and keeps a last line without newline', () => {
    expect(parseKeyValueFile('\n\nA=1\n\nB=2', lf)).toEqual([
      ['A', '1'],
      ['B', '2'],
    ]);
  });

  it('treats = before << as the plain form, and keeps later duplicates in order', () => {
    expect(parseKeyValueFile('A=b<<c\nA=2\n', lf)).toEqual([
      ['A', 'b<<c'],
      ['A', '2'],
    ]);
  });

  it('rejects a line with neither = nor <<', () => {
    expect(() => parseKeyValueFile('A=1\ngarbage\n', lf)).toThrow("Invalid format 'garbage'");
  });
});

describe('parseKeyValueFile: heredoc', () => {
  it('reads a multi-line value up to the delimiter alone on its line', () => {
    const text = 'MSG<<EOF\nline 1\nEOF is not alone here\n EOF\nEOF \nline 5\nEOF\nNEXT=1\n';
    expect(parseKeyValueFile(text, lf)).toEqual([
      ['MSG', 'line 1\nEOF is not alone here\n EOF\nEOF \nline 5'],
      ['NEXT', '1'],
    ]);
  });

  it('allows = inside the value and in the delimiter', () => {
    expect(parseKeyValueFile('A<<D=1\nx=1\ny=2\nD=1\n', lf)).toEqual([['A', 'x=1\ny=2']]);
  });

  it('gives an empty value when the delimiter follows at once, and preserves empty lines', () => {
    expect(parseKeyValueFile('A<<E\nE\nB<<E\n\nx\n\nE\n', lf)).toEqual([
      ['A', ''],
      ['B', '\nx\n'],
    ]);
  });

  it('accepts a closing delimiter without a trailing newline', () => {
    expect(parseKeyValueFile('A<<E\nv\nE', lf)).toEqual([['A', 'v']]);
  });

  it('fails when the delimiter is missing', () => {
    expect(() => parseKeyValueFile('A<<EOF\nv\n', lf)).toThrow(FileCommandError);
    expect(() => parseKeyValueFile('A<<EOF\nv\n', lf)).toThrow(
      "Invalid value. Matching delimiter not found 'EOF'",
    );
  });

  it('fails when the value glues onto the delimiter (content without a final newline)', () => {
    // printf '%s' "$body"; echo EOF  →  "...lastEOF"
    expect(() => parseKeyValueFile('A<<EOF\nfirst\nlastEOF\n', lf)).toThrow(
      "Matching delimiter not found 'EOF'",
    );
  });

  it('fails when the last value line has no newline', () => {
    expect(() => parseKeyValueFile('A<<EOF\nv', lf)).toThrow(
      'Invalid value. EOF marker missing new line.',
    );
  });

  it('fails on an empty name or delimiter', () => {
    expect(() => parseKeyValueFile('<<EOF\nx\nEOF\n', lf)).toThrow(
      'Name must not be empty and delimiter must not be empty',
    );
    expect(() => parseKeyValueFile('A<<\nx\n\n', lf)).toThrow('delimiter must not be empty');
  });

  it('yields the pairs before a bad one, as the runner applies them', () => {
    const seen: string[] = [];
    expect(() => {
      for (const [k] of iterKeyValueFile('A=1\nB<<E\nno end\n', lf)) seen.push(k);
    }).toThrow('Matching delimiter not found');
    expect(seen).toEqual(['A']);
  });
});

describe('parseKeyValueFile: CRLF', () => {
  const crlfText = 'A=1\r\nM<<EOF\r\nx\r\ny\r\nEOF\r\n';

  it('off Windows, \\r stays in the value (the delimiter line then carries \\r too)', () => {
    expect(parseKeyValueFile(crlfText, { crlf: false })).toEqual([
      ['A', '1\r'],
      ['M', 'x\r\ny\r'],
    ]);
  });

  it('on Windows, CRLF is one line break and inner CRLFs are kept', () => {
    expect(parseKeyValueFile(crlfText, { crlf: true })).toEqual([
      ['A', '1'],
      ['M', 'x\r\ny'],
    ]);
  });

  it('off Windows, an LF header with a CRLF delimiter line never closes', () => {
    expect(() => parseKeyValueFile('M<<EOF\nx\r\nEOF\r\n', { crlf: false })).toThrow(
      "Matching delimiter not found 'EOF'",
    );
    expect(parseKeyValueFile('M<<EOF\nx\r\nEOF\r\n', { crlf: true })).toEqual([['M', 'x']]);
  });
});

describe('GITHUB_PATH', () => {
  it('reads one directory per line, any line ending, empty lines skipped', () => {
    expect(parseAddPath('/a\n\n/b\r\n/c\r/d')).toEqual(['/a', '/b', '/c', '/d']);
  });

  it('puts the last added directory first and moves a re-added one to the front', () => {
    let list = addToPrependPath([], ['/a', '/b']);
    list = addToPrependPath(list, ['/c', '/a']);
    expect(composePath(list, '/usr/bin', ':')).toBe('/a:/c:/b:/usr/bin');
    expect(composePath([], '/usr/bin', ':')).toBe('/usr/bin');
    expect(composePath(['/x'], '', ':')).toBe('/x');
  });
});

describe('parseWorkflowCommand', () => {
  it('parses name, properties and data with the runner escapes', () => {
    const c = parseWorkflowCommand(
      `::warning file=${escapeProperty('a:b,c.go')},line=3,title=T::${escapeData('50% done\nnext')}`,
    );
    expect(c).toEqual({
      command: 'warning',
      properties: { file: 'a:b,c.go', line: '3', title: 'T' },
      data: '50% done\nnext',
    });
  });

  it('allows leading whitespace, ignores case, and drops properties without a value', () => {
    expect(parseWorkflowCommand('   ::ERROR a=,=b,c=d::x')).toEqual({
      command: 'error',
      properties: { c: 'd' },
      data: 'x',
    });
  });

  it('ignores unknown commands and lines without the closing ::', () => {
    expect(parseWorkflowCommand('::frobnicate::x')).toBeNull();
    expect(parseWorkflowCommand('::warning file=x')).toBeNull();
    expect(parseWorkflowCommand('text ::warning::x')).toBeNull();
    expect(parseWorkflowCommand('')).toBeNull();
  });

  it('understands the legacy ##[cmd k=v;]data form anywhere in a line', () => {
    expect(parseWorkflowCommand('prefix ##[set-output name=a;]v%3Bw%5D')).toEqual({
      command: 'set-output',
      properties: { name: 'a' },
      data: 'v;w]',
    });
  });
});

function processor(opts: { allowUnsecureCommands?: boolean; debug?: boolean } = {}) {
  const log: string[] = [];
  const annotations: Annotation[] = [];
  const outputs: Record<string, string> = {};
  const state: Record<string, string> = {};
  const masks: string[] = [];
  const env: Record<string, string> = {};
  let failed = false;
  const p = new CommandProcessor(
    {
      log: (l) => log.push(l),
      annotate: (a) => annotations.push(a),
      setOutput: (k, v) => (outputs[k] = v),
      saveState: (k, v) => (state[k] = v),
      addMask: (s) => masks.push(s),
      setEnv: (k, v) => (env[k] = v),
      addPath: () => {},
      fail: () => (failed = true),
    },
    opts,
  );
  return { p, log, annotations, outputs, state, masks, env, failed: () => failed };
}

describe('CommandProcessor', () => {
  it('honours legacy set-output and save-state, with the deprecation warning', () => {
    const t = processor();
    t.p.processLine('::set-output name=x::1');
    t.p.processLine('::save-state name=s::2');
    expect(t.outputs).toEqual({ x: '1' });
    expect(t.state).toEqual({ s: '2' });
    expect(t.annotations.map((a) => a.message)).toEqual([
      expect.stringContaining('The `set-output` command is deprecated'),
      expect.stringContaining('The `save-state` command is deprecated'),
    ]);
    expect(t.log).toEqual([]); // not echoed (echo is off by default)
    expect(t.failed()).toBe(false);
  });

  it('fails the step when set-output has no name', () => {
    const t = processor();
    t.p.processLine('::set-output::v');
    expect(t.failed()).toBe(true);
    expect(t.annotations.filter((a) => a.level === 'error').map((a) => a.message)).toEqual([
      "Unable to process command '::set-output::v' successfully.",
      "Required field 'name' is missing in ##[set-output] command.",
    ]);
  });

  it('refuses set-env and add-path unless ACTIONS_ALLOW_UNSECURE_COMMANDS', () => {
    const t = processor();
    t.p.processLine('::set-env name=A::1');
    expect(t.failed()).toBe(true);
    expect(t.env).toEqual({});
    expect(t.annotations.map((a) => a.message).join('\n')).toContain(
      'The set-env command is disabled',
    );
    const u = processor({ allowUnsecureCommands: true });
    u.p.processLine('::set-env name=A::1');
    expect(u.env).toEqual({ A: '1' });
    expect(u.failed()).toBe(false);
  });

  it('renders groups and annotations the way the runner logs them', () => {
    const t = processor();
    for (const l of [
      '::group::G',
      'x',
      '::endgroup::',
      '::error file=f.go::bad',
      '::debug::d',
      '::notice::n',
    ]) {
      t.p.processLine(l);
    }
    expect(t.log).toEqual(['##[group]G', 'x', '##[endgroup]', '##[error]bad', '##[notice]n']);
    expect(t.annotations).toEqual([
      { level: 'error', message: 'bad', properties: { file: 'f.go' } },
      { level: 'debug', message: 'd' },
      { level: 'notice', message: 'n' },
    ]);
    const d = processor({ debug: true });
    d.p.processLine('::debug::d');
    expect(d.log).toEqual(['##[debug]d']);
  });

  it('stops processing commands until the stop token comes back', () => {
    const t = processor();
    t.p.processLine('::stop-commands::pause-token');
    t.p.processLine('::error::not an error');
    t.p.processLine('::set-output name=a::1');
    t.p.processLine('::pause-token::');
    t.p.processLine('::error::an error');
    expect(t.annotations).toEqual([{ level: 'error', message: 'an error' }]);
    expect(t.outputs).toEqual({});
    expect(t.log).toEqual([
      '::stop-commands::pause-token',
      '::error::not an error',
      '::set-output name=a::1',
      '::pause-token::',
      '##[error]an error',
    ]);
  });

  it('echoes commands after ::echo::on, and rejects a bad echo value', () => {
    const t = processor();
    t.p.processLine('::echo::on');
    t.p.processLine('::set-output name=a::1');
    t.p.processLine('::add-mask::pw');
    expect(t.log).toEqual(['::set-output name=a::1', '::add-mask::***']);
    t.p.processLine('::echo::loud');
    expect(t.failed()).toBe(true);
  });

  it('registers masks, and warns on an empty one', () => {
    const t = processor();
    t.p.processLine('::add-mask::s3cret');
    t.p.processLine('::add-mask::  ');
    expect(t.masks).toEqual(['s3cret']);
    expect(t.annotations).toEqual([
      {
        level: 'warning',
        message: "Can't add secret mask for empty string in ##[add-mask] command.",
      },
    ]);
    expect(maskSecrets('a s3cret and s3cret2', ['s3cret', 's3cret2'])).toBe('a *** and ***');
  });
});
