// A minimal action.yml reader and the small YAML subset it needs (no YAML dependency on purpose).
//
// YAML supported: block mappings and block sequences (indentation with spaces), plain scalars
// (continuation lines folded), 'single' and "double" quoted scalars (escapes, multi-line), literal `|`
// and folded `>` block scalars with chomping (`-`, `+`) and indentation indicators, comments, `---`
// and `...`, and one-line flow collections of scalars (`[a, 'b']`, `{}`). Anchors, aliases, tags and
// complex keys are rejected with a clear error. All scalars are strings except an empty value or
// `~`/`null`, which are null: action.yml metadata is string-typed.

import fs from 'node:fs';
import path from 'node:path';

export type YamlValue = string | null | YamlValue[] | { [key: string]: YamlValue };

export class YamlError extends Error {
  constructor(message: string, line?: number) {
    super(line === undefined ? message : `line ${line + 1}: ${message}`);
  }
}

interface Line {
  no: number; // 0-based line number in the source
  indent: number; // leading spaces
  text: string; // the line without its indentation (may still carry a trailing comment)
  raw: string;
}

function isBlank(l: Line): boolean {
  return l.text === '' || l.text.startsWith('#');
}

/** Strips a trailing ` # comment` from plain text (a `#` preceded by whitespace). */
function stripComment(s: string): string {
  const m = /(^|[ \t])#/.exec(s);
  return (m ? s.slice(0, m.index) : s).trimEnd();
}

class YamlParser {
  private lines: Line[];
  private i = 0;

  constructor(src: string) {
    const raw = src.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
    this.lines = [];
    for (let no = 0; no < raw.length; no++) {
      const r = raw[no]!;
      if (no === 0 && /^%/.test(r)) throw new YamlError('YAML directives are not supported', no);
      if (/^---(\s|$)/.test(r)) {
        if (this.lines.some((l) => !isBlank(l)))
          throw new YamlError('multiple documents are not supported', no);
        continue;
      }
      if (/^\.\.\.(\s|$)/.test(r)) break;
      const ws = /^[ \t]*/.exec(r)![0];
      if (ws.includes('\t') && r.trim() !== '') {
        throw new YamlError('tabs are not allowed in indentation', no);
      }
      this.lines.push({ no, indent: ws.length, text: r.slice(ws.length).trimEnd(), raw: r });
    }
  }

  parseDocument(): YamlValue {
    this.skipBlank();
    if (this.i >= this.lines.length) return null;
    const first = this.lines[this.i]!;
    const v = this.parseNode(first.indent);
    this.skipBlank();
    if (this.i < this.lines.length) {
      const l = this.lines[this.i]!;
      throw new YamlError(`unexpected content '${l.text}' (bad indentation?)`, l.no);
    }
    return v;
  }

  private skipBlank(): void {
    while (this.i < this.lines.length && isBlank(this.lines[this.i]!)) this.i++;
  }

  /** A block node whose first line is the current line, at exactly `indent`. */
  private parseNode(indent: number): YamlValue {
    const l = this.lines[this.i]!;
    if (l.text === '-' || l.text.startsWith('- ')) return this.parseSequence(indent);
    if (this.splitKey(l) !== null) return this.parseMapping(indent);
    // A bare scalar on its own lines.
    return this.parseInlineValue(l.text, l, indent - 1);
  }

  /** `key: rest` → [key, rest], or null when the line is not a mapping entry. */
  private splitKey(l: Line): [string, string] | null {
    const t = l.text;
    if (t.startsWith('"') || t.startsWith("'")) {
      const q = this.scanQuoted(t, 0, l);
      if (q === null) return null;
      const after = t.slice(q.end);
      const m = /^[ \t]*:(?:[ \t]+|$)/.exec(after);
      if (!m) return null;
      return [q.value, after.slice(m[0].length)];
    }
    if (/^[?&*!|>%@`]/.test(t)) {
      if (t.startsWith('? ')) throw new YamlError('complex mapping keys are not supported', l.no);
      return null;
    }
    const m = /^([^#]*?)[ \t]*:(?:[ \t]+|$)/.exec(t);
    if (!m || m[1] === '') return null;
    if (/^[[{]/.test(m[1]!)) return null;
    return [m[1]!, t.slice(m[0].length)];
  }

  private parseMapping(indent: number): { [key: string]: YamlValue } {
    const out: { [key: string]: YamlValue } = {};
    for (;;) {
      this.skipBlank();
      if (this.i >= this.lines.length) break;
      const l = this.lines[this.i]!;
      if (l.indent < indent) break;
      if (l.indent > indent)
        throw new YamlError(`bad indentation of a mapping entry '${l.text}'`, l.no);
      const kv = this.splitKey(l);
      if (kv === null) {
        if (l.text === '-' || l.text.startsWith('- ')) break; // a sequence at the parent's level
        throw new YamlError(`expected 'key: value', got '${l.text}'`, l.no);
      }
      const [key, rest] = kv;
      if (Object.prototype.hasOwnProperty.call(out, key)) {
        throw new YamlError(`duplicate key '${key}'`, l.no);
      }
      this.i++;
      out[key] = this.parseValueAfterIndicator(rest, l, indent, true);
    }
    return out;
  }

  private parseSequence(indent: number): YamlValue[] {
    const out: YamlValue[] = [];
    for (;;) {
      this.skipBlank();
      if (this.i >= this.lines.length) break;
      const l = this.lines[this.i]!;
      if (l.indent < indent) break;
      if (l.indent > indent)
        throw new YamlError(`bad indentation of a sequence entry '${l.text}'`, l.no);
      if (!(l.text === '-' || l.text.startsWith('- '))) break;
      const rest = l.text === '-' ? '' : l.text.slice(2);
      const restTrim = rest.replace(/^ +/, '');
      const col = indent + 2 + (rest.length - restTrim.length);
      if (restTrim !== '' && !restTrim.startsWith('#')) {
        const virtual: Line = { no: l.no, indent: col, text: restTrim, raw: l.raw };
        if (
          virtual.text === '-' ||
          virtual.text.startsWith('- ') ||
          this.splitKey(virtual) !== null
        ) {
          // `- key: v` / `- - x`: re-read the rest of the line as the first line of a nested block.
          this.lines[this.i] = virtual;
          out.push(this.parseNode(col));
          continue;
        }
      }
      this.i++;
      out.push(this.parseValueAfterIndicator(restTrim, l, indent, false));
    }
    return out;
  }

  /**
   * The value after `key:` or `- `: inline scalar, block scalar, or a nested block on the following
   * lines. `parentIndent` is the indentation of the line holding the indicator.
   */
  private parseValueAfterIndicator(
    rest: string,
    l: Line,
    parentIndent: number,
    inMapping: boolean,
  ): YamlValue {
    const r = rest.trim();
    if (r === '' || r.startsWith('#')) {
      this.skipBlank();
      if (this.i >= this.lines.length) return null;
      const n = this.lines[this.i]!;
      // A block sequence may sit at the same indentation as its mapping key.
      if (
        n.indent > parentIndent ||
        (inMapping && n.indent === parentIndent && (n.text === '-' || n.text.startsWith('- ')))
      ) {
        return this.parseNode(n.indent);
      }
      return null;
    }
    return this.parseInlineValue(r, l, parentIndent);
  }

  private parseInlineValue(r: string, l: Line, parentIndent: number): YamlValue {
    if (r.startsWith('&') || r.startsWith('*'))
      throw new YamlError('anchors and aliases are not supported', l.no);
    if (r.startsWith('!')) throw new YamlError('tags are not supported', l.no);
    if (r.startsWith('|') || r.startsWith('>')) return this.parseBlockScalar(r, l, parentIndent);
    if (r.startsWith('"') || r.startsWith("'"))
      return this.parseQuotedMultiline(r, l, parentIndent);
    if (r.startsWith('[') || r.startsWith('{')) return parseFlow(stripComment(r), l.no);
    // Plain scalar, possibly continued on more-indented lines.
    const parts = [stripComment(r)];
    let pendingEmpty = 0;
    while (this.i < this.lines.length) {
      const n = this.lines[this.i]!;
      if (n.text === '') {
        pendingEmpty++;
        this.i++;
        continue;
      }
      if (n.indent <= parentIndent || n.text.startsWith('#')) break;
      if (this.splitKey(n) !== null || n.text.startsWith('- ')) {
        throw new YamlError(
          `unexpected mapping or sequence inside a plain scalar: '${n.text}'`,
          n.no,
        );
      }
      parts.push(pendingEmpty > 0 ? '\n'.repeat(pendingEmpty) : ' ');
      parts.push(stripComment(n.text));
      pendingEmpty = 0;
      this.i++;
    }
    // Give back trailing blank lines we looked past.
    while (pendingEmpty > 0 && this.i > 0 && this.lines[this.i - 1]!.text === '') {
      this.i--;
      pendingEmpty--;
    }
    const s = parts.join('');
    if (s === '~' || s === 'null' || s === 'Null' || s === 'NULL') return null;
    return s;
  }

  private scanQuoted(t: string, start: number, l: Line): { value: string; end: number } | null {
    const q = t[start];
    let i = start + 1;
    let out = '';
    while (i < t.length) {
      const c = t[i]!;
      if (q === "'") {
        if (c === "'") {
          if (t[i + 1] === "'") {
            out += "'";
            i += 2;
            continue;
          }
          return { value: out, end: i + 1 };
        }
        out += c;
        i++;
      } else {
        if (c === '"') return { value: out, end: i + 1 };
        if (c === '\\') {
          const { text, len } = decodeEscape(t, i, l.no);
          out += text;
          i += len;
          continue;
        }
        out += c;
        i++;
      }
    }
    return null;
  }

  /** A quoted scalar that may continue over several lines (line breaks fold to spaces). */
  private parseQuotedMultiline(r: string, l: Line, parentIndent: number): string {
    const one = this.scanQuoted(r, 0, l);
    if (one !== null) {
      const after = r.slice(one.end).trim();
      if (after !== '' && !after.startsWith('#'))
        throw new YamlError(`unexpected text after quoted scalar: '${after}'`, l.no);
      return one.value;
    }
    // Join continuation lines, folding as YAML does, then scan once.
    const q = r[0]!;
    let joined = r;
    for (;;) {
      if (this.i >= this.lines.length) throw new YamlError('unterminated quoted scalar', l.no);
      const n = this.lines[this.i]!;
      this.i++;
      if (n.text === '') {
        joined += '\n';
        continue;
      }
      if (n.indent <= parentIndent) throw new YamlError('unterminated quoted scalar', l.no);
      let sep: string;
      if (joined.endsWith('\n')) sep = '';
      else if (q === '"' && /(^|[^\\])(\\\\)*\\$/.test(joined)) {
        joined = joined.slice(0, -1); // escaped line break: no space
        sep = '';
      } else sep = ' ';
      joined = joined.replace(/[ \t]+$/, '') + sep + n.text.trimStart();
      const done = this.scanQuoted(joined, 0, l);
      if (done !== null) {
        const after = joined.slice(done.end).trim();
        if (after !== '' && !after.startsWith('#'))
          throw new YamlError(`unexpected text after quoted scalar: '${after}'`, n.no);
        return done.value;
      }
    }
  }

  private parseBlockScalar(header: string, l: Line, parentIndent: number): string {
    const m = /^([|>])([1-9]?)([+-]?)([1-9]?)[ \t]*(#.*)?$/.exec(header);
    if (!m) throw new YamlError(`bad block scalar header '${header}'`, l.no);
    const folded = m[1] === '>';
    const indicator = Number(m[2] || m[4] || 0);
    const chomp = m[3] || '';
    const base = Math.max(parentIndent, 0);
    let contentIndent = indicator ? base + indicator : -1;
    const body: string[] = [];
    while (this.i < this.lines.length) {
      const n = this.lines[this.i]!;
      const rawTrimmed = n.raw.trim();
      if (rawTrimmed === '') {
        body.push(
          n.raw.length > contentIndent && contentIndent >= 0 ? n.raw.slice(contentIndent) : '',
        );
        this.i++;
        continue;
      }
      if (contentIndent < 0) {
        if (n.indent <= parentIndent) break;
        contentIndent = n.indent;
      }
      if (n.indent < contentIndent) break;
      body.push(n.raw.slice(contentIndent));
      this.i++;
    }
    // Trailing empty lines belong to chomping, not to the content.
    let trailing = 0;
    while (body.length > 0 && body[body.length - 1]!.trim() === '') {
      body.pop();
      trailing++;
    }
    let text: string;
    if (!folded) {
      text = body.join('\n');
    } else {
      text = '';
      let prev: 'none' | 'normal' | 'more' = 'none';
      let empties = 0;
      for (const line of body) {
        if (line === '') {
          empties++;
          continue;
        }
        const more = /^[ \t]/.test(line);
        if (prev === 'none') text += '\n'.repeat(empties) + line;
        else if (prev === 'normal' && !more)
          text += (empties > 0 ? '\n'.repeat(empties) : ' ') + line;
        else text += '\n' + '\n'.repeat(empties) + line;
        prev = more ? 'more' : 'normal';
        empties = 0;
      }
    }
    if (body.length === 0) return chomp === '+' ? '\n'.repeat(trailing) : '';
    if (chomp === '-') return text;
    if (chomp === '+') return text + '\n' + '\n'.repeat(trailing);
    return text + '\n';
  }
}

function decodeEscape(t: string, i: number, lineNo: number): { text: string; len: number } {
  const c = t[i + 1];
  const simple: Record<string, string> = {
    '0': '\0',
    a: '\x07',
    b: '\b',
    t: '\t',
    '\t': '\t',
    n: '\n',
    v: '\v',
    f: '\f',
    r: '\r',
    e: '\x1b',
    ' ': ' ',
    '"': '"',
    '/': '/',
    '\\': '\\',
    N: '\u0085',
    _: '\u00a0',
    L: '\u2028',
    P: '\u2029',
  };
  if (c !== undefined && c in simple) return { text: simple[c]!, len: 2 };
  const hex = c === 'x' ? 2 : c === 'u' ? 4 : c === 'U' ? 8 : 0;
  if (hex) {
    const h = t.slice(i + 2, i + 2 + hex);
    if (!new RegExp(`^[0-9a-fA-F]{${hex}}$`).test(h))
      throw new YamlError(`bad escape '\\${c}${h}'`, lineNo);
    return { text: String.fromCodePoint(parseInt(h, 16)), len: 2 + hex };
  }
  throw new YamlError(`unknown escape '\\${c ?? ''}'`, lineNo);
}

/** One-line flow collections of scalars: `[]`, `{}`, `[a, "b"]`, `{a: 1, b: 'x'}`. */
function parseFlow(s: string, lineNo: number): YamlValue {
  let i = 0;
  const ws = (): void => {
    while (s[i] === ' ' || s[i] === '\t') i++;
  };
  const scalar = (stops: string): string | null => {
    ws();
    const c = s[i];
    if (c === '"' || c === "'") {
      let out = '';
      i++;
      while (i < s.length) {
        if (s[i] === c) {
          if (c === "'" && s[i + 1] === "'") {
            out += "'";
            i += 2;
            continue;
          }
          i++;
          return out;
        }
        if (c === '"' && s[i] === '\\') {
          const e = decodeEscape(s, i, lineNo);
          out += e.text;
          i += e.len;
          continue;
        }
        out += s[i];
        i++;
      }
      throw new YamlError('unterminated quoted scalar in flow collection', lineNo);
    }
    let out = '';
    while (i < s.length && !stops.includes(s[i]!)) out += s[i++];
    const v = out.trim();
    return v === '~' || v === 'null' ? null : v;
  };
  const value = (stops: string): YamlValue => {
    ws();
    if (s[i] === '[' || s[i] === '{') return coll();
    return scalar(stops);
  };
  const coll = (): YamlValue => {
    const open = s[i];
    const close = open === '[' ? ']' : '}';
    i++;
    const arr: YamlValue[] = [];
    const obj: { [k: string]: YamlValue } = {};
    ws();
    if (s[i] === close) {
      i++;
      return open === '[' ? arr : obj;
    }
    for (;;) {
      if (open === '[') arr.push(value(',]'));
      else {
        const k = scalar(':,}');
        ws();
        if (s[i] !== ':') throw new YamlError('expected ":" in flow mapping', lineNo);
        i++;
        obj[k ?? ''] = value(',}');
      }
      ws();
      if (s[i] === ',') {
        i++;
        ws();
        if (s[i] === close) {
          i++;
          break;
        }
        continue;
      }
      if (s[i] === close) {
        i++;
        break;
      }
      throw new YamlError(`bad flow collection '${s}'`, lineNo);
    }
    return open === '[' ? arr : obj;
  };
  const v = coll();
  ws();
  if (i !== s.length)
    throw new YamlError(`unexpected text after flow collection: '${s.slice(i)}'`, lineNo);
  return v;
}

export function parseYaml(src: string): YamlValue {
  return new YamlParser(src).parseDocument();
}

// ---------------------------------------------------------------------------------------------------
// action.yml

export interface ActionInput {
  description?: string;
  required?: boolean;
  /** The raw default (may contain `${{ }}`); undefined when none, which the runner treats as ''. */
  default?: string;
  deprecationMessage?: string;
}

export interface ActionManifest {
  /** Absolute path of the file that was read. */
  file: string;
  dir: string;
  name: string;
  description?: string;
  inputs: Record<string, ActionInput>;
  outputs: Record<string, { description?: string }>;
  runs: {
    using: string;
    main: string;
    pre?: string;
    preIf?: string;
    post?: string;
    /** Defaults to 'always()' as in the runner. */
    postIf: string;
  };
}

function asMap(v: YamlValue | undefined, what: string): { [k: string]: YamlValue } {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v))
    throw new Error(`action.yml: '${what}' must be a mapping`);
  return v;
}

function asStr(v: YamlValue | undefined, what: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new Error(`action.yml: '${what}' must be a string`);
  return v;
}

/** Parses action.yml text (validation of what the harness needs; other keys are ignored). */
export function parseActionManifest(text: string, file = 'action.yml'): ActionManifest {
  let doc: YamlValue;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`, { cause: e });
  }
  const root = asMap(doc, '(root)');
  const name = asStr(root['name'], 'name');
  if (!name) throw new Error(`${file}: 'name' is required`);
  const inputs: Record<string, ActionInput> = {};
  for (const [k, v] of Object.entries(asMap(root['inputs'], 'inputs'))) {
    const m = asMap(v, `inputs.${k}`);
    const input: ActionInput = {};
    // The runner reads input metadata keys case-insensitively.
    for (const [mk, mv] of Object.entries(m)) {
      const key = mk.toLowerCase();
      if (key === 'description') input.description = asStr(mv, `inputs.${k}.description`);
      else if (key === 'default') input.default = asStr(mv, `inputs.${k}.default`) ?? '';
      else if (key === 'required')
        input.required = /^true$/i.test(asStr(mv, `inputs.${k}.required`) ?? '');
      else if (key === 'deprecationmessage')
        input.deprecationMessage = asStr(mv, `inputs.${k}.deprecationMessage`);
    }
    inputs[k] = input;
  }
  const outputs: Record<string, { description?: string }> = {};
  for (const [k, v] of Object.entries(asMap(root['outputs'], 'outputs'))) {
    const m = asMap(v, `outputs.${k}`);
    outputs[k] = { description: asStr(m['description'], `outputs.${k}.description`) };
  }
  const runs = asMap(root['runs'], 'runs');
  const using = asStr(runs['using'], 'runs.using');
  if (!using) throw new Error(`${file}: 'runs.using' is required`);
  const main = asStr(runs['main'], 'runs.main') ?? '';
  return {
    file,
    dir: path.dirname(file),
    name,
    description: asStr(root['description'], 'description'),
    inputs,
    outputs,
    runs: {
      using,
      main,
      pre: asStr(runs['pre'], 'runs.pre'),
      preIf: asStr(runs['pre-if'], 'runs.pre-if'),
      post: asStr(runs['post'], 'runs.post'),
      postIf: asStr(runs['post-if'], 'runs.post-if') ?? 'always()',
    },
  };
}

/** Reads `action.yml` (or `action.yaml`, as the runner also accepts) from an action directory. */
export function readActionManifest(actionDir: string): ActionManifest {
  const dir = path.resolve(actionDir);
  for (const f of ['action.yml', 'action.yaml']) {
    const file = path.join(dir, f);
    if (fs.existsSync(file)) return parseActionManifest(fs.readFileSync(file, 'utf8'), file);
  }
  throw new Error(`Can't find 'action.yml' or 'action.yaml' under '${dir}'`);
}
