// A subset of the GitHub Actions expression language: enough for `post-if` conditions and for
// `${{ }}` in action.yml input defaults.
//
// Supported: literals ('string' with '' escapes, numbers, true, false, null), named contexts with
// `.name` and `['name']` property access (names may contain '-'), the operators ( ) ! < <= > >= == !=
// && || with GitHub's precedence, and the functions success(), failure(), always(), cancelled(),
// contains(), startsWith(), endsWith(), format().
//
// Semantics follow the documented rules: && and || return an operand (not a boolean); falsy values
// are false, 0, -0, '', null and NaN; when the operand types of a comparison differ both are
// converted to numbers (null→0, true→1, ''→0, other strings by JSON number syntax, else NaN); string
// comparison ignores case; a missing property is null.

export type ExprValue = null | boolean | number | string | ExprObject | ExprValue[];
export interface ExprObject {
  [key: string]: ExprValue | undefined;
}

export type JobStatus = 'success' | 'failure' | 'cancelled';

export interface ExprContext {
  /** Job status seen by success()/failure()/cancelled(). Default 'success'. */
  jobStatus?: JobStatus;
  /** Named contexts: env, inputs, github, runner, job, ... */
  contexts: Record<string, ExprValue | undefined>;
  /** Contexts whose keys compare case-sensitively (the runner's env context off Windows). */
  caseSensitive?: ReadonlySet<string>;
}

export class ExprError extends Error {}

type Tok =
  | { t: 'num'; v: number }
  | { t: 'str'; v: string }
  | { t: 'id'; v: string }
  | { t: 'op'; v: string }
  | { t: 'eof' };

const OPS = ['&&', '||', '==', '!=', '<=', '>=', '<', '>', '!', '(', ')', '[', ']', '.', ','];

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "'") {
      let s = '';
      i++;
      for (;;) {
        if (i >= src.length)
          throw new ExprError(`Unexpected end of expression: unterminated string in: ${src}`);
        if (src[i] === "'") {
          if (src[i + 1] === "'") {
            s += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        s += src[i];
        i++;
      }
      out.push({ t: 'str', v: s });
      continue;
    }
    const prev = out[out.length - 1];
    const numberAllowed = !prev || (prev.t === 'op' && prev.v !== ')' && prev.v !== ']');
    const num = /^(?:-?0x[0-9a-fA-F]+|-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)/.exec(src.slice(i));
    if (num && (c !== '-' || numberAllowed) && (c !== '.' || numberAllowed)) {
      const text = num[0];
      const v = /0x/i.test(text)
        ? (text.startsWith('-') ? -1 : 1) * parseInt(text.replace(/^-?0x/i, ''), 16)
        : Number(text);
      out.push({ t: 'num', v });
      i += text.length;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(src.slice(i))!;
      out.push({ t: 'id', v: m[0] });
      i += m[0].length;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (!op)
      throw new ExprError(
        `Unexpected symbol: '${c}'. Located at position ${i + 1} within expression: ${src}`,
      );
    out.push({ t: 'op', v: op });
    i += op.length;
  }
  out.push({ t: 'eof' });
  return out;
}

type Node =
  | { k: 'lit'; v: ExprValue }
  | { k: 'ctx'; name: string }
  | { k: 'prop'; obj: Node; key: Node }
  | { k: 'not'; e: Node }
  | { k: 'bin'; op: string; l: Node; r: Node }
  | { k: 'call'; name: string; args: Node[] };

class Parser {
  private i = 0;
  constructor(
    private readonly toks: Tok[],
    private readonly src: string,
  ) {}

  private peek(): Tok {
    return this.toks[this.i]!;
  }
  private isOp(v: string): boolean {
    const t = this.peek();
    return t.t === 'op' && t.v === v;
  }
  private expectOp(v: string): void {
    if (!this.isOp(v)) throw new ExprError(`Expected '${v}' in expression: ${this.src}`);
    this.i++;
  }

  parse(): Node {
    if (this.peek().t === 'eof') throw new ExprError('Empty expression');
    const n = this.or();
    if (this.peek().t !== 'eof') throw new ExprError(`Unexpected token in expression: ${this.src}`);
    return n;
  }
  private or(): Node {
    let l = this.and();
    while (this.isOp('||')) {
      this.i++;
      l = { k: 'bin', op: '||', l, r: this.and() };
    }
    return l;
  }
  private and(): Node {
    let l = this.eq();
    while (this.isOp('&&')) {
      this.i++;
      l = { k: 'bin', op: '&&', l, r: this.eq() };
    }
    return l;
  }
  private eq(): Node {
    let l = this.cmp();
    while (this.isOp('==') || this.isOp('!=')) {
      const op = (this.toks[this.i++] as { v: string }).v;
      l = { k: 'bin', op, l, r: this.cmp() };
    }
    return l;
  }
  private cmp(): Node {
    let l = this.unary();
    while (['<', '<=', '>', '>='].some((o) => this.isOp(o))) {
      const op = (this.toks[this.i++] as { v: string }).v;
      l = { k: 'bin', op, l, r: this.unary() };
    }
    return l;
  }
  private unary(): Node {
    if (this.isOp('!')) {
      this.i++;
      return { k: 'not', e: this.unary() };
    }
    return this.postfix();
  }
  private postfix(): Node {
    let n = this.primary();
    for (;;) {
      if (this.isOp('.')) {
        this.i++;
        const t = this.peek();
        if (t.t !== 'id')
          throw new ExprError(`Expected a property name after '.' in expression: ${this.src}`);
        this.i++;
        n = { k: 'prop', obj: n, key: { k: 'lit', v: t.v } };
      } else if (this.isOp('[')) {
        this.i++;
        const key = this.or();
        this.expectOp(']');
        n = { k: 'prop', obj: n, key };
      } else return n;
    }
  }
  private primary(): Node {
    const t = this.peek();
    this.i++;
    if (t.t === 'num' || t.t === 'str') return { k: 'lit', v: t.v };
    if (t.t === 'op' && t.v === '(') {
      const n = this.or();
      this.expectOp(')');
      return n;
    }
    if (t.t === 'id') {
      if (this.isOp('(')) {
        this.i++;
        const args: Node[] = [];
        if (!this.isOp(')')) {
          args.push(this.or());
          while (this.isOp(',')) {
            this.i++;
            args.push(this.or());
          }
        }
        this.expectOp(')');
        return { k: 'call', name: t.v.toLowerCase(), args };
      }
      const lower = t.v.toLowerCase();
      if (lower === 'true') return { k: 'lit', v: true };
      if (lower === 'false') return { k: 'lit', v: false };
      if (lower === 'null') return { k: 'lit', v: null };
      return { k: 'ctx', name: t.v };
    }
    throw new ExprError(`Unexpected token in expression: ${this.src}`);
  }
}

export function parseExpression(src: string): Node {
  return new Parser(tokenize(src), src).parse();
}

export function truthy(v: ExprValue): boolean {
  if (v === null || v === false || v === '') return false;
  if (typeof v === 'number') return v !== 0 && !Number.isNaN(v);
  return true;
}

function toNumber(v: ExprValue): number {
  if (v === null) return 0;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const s = v.trim();
    if (s === '') return 0;
    if (/^-?0x[0-9a-f]+$/i.test(s))
      return (s.startsWith('-') ? -1 : 1) * parseInt(s.replace(/^-?0x/i, ''), 16);
    if (/^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i.test(s)) return Number(s);
    return NaN;
  }
  return NaN;
}

export function toExprString(v: ExprValue): string {
  if (v === null) return '';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return v;
  return JSON.stringify(v, null, 2);
}

function kind(v: ExprValue): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'object';
  return typeof v;
}

function compare(op: string, l: ExprValue, r: ExprValue): boolean {
  const lk = kind(l);
  const rk = kind(r);
  if (lk === 'object' || rk === 'object') {
    if (op === '==') return l === r;
    if (op === '!=') return l !== r;
    return false;
  }
  if (lk === 'string' && rk === 'string') {
    const a = (l as string).toUpperCase();
    const b = (r as string).toUpperCase();
    switch (op) {
      case '==':
        return a === b;
      case '!=':
        return a !== b;
      case '<':
        return a < b;
      case '<=':
        return a <= b;
      case '>':
        return a > b;
      default:
        return a >= b;
    }
  }
  const a = toNumber(l);
  const b = toNumber(r);
  if (Number.isNaN(a) || Number.isNaN(b)) return op === '!=';
  switch (op) {
    case '==':
      return a === b;
    case '!=':
      return a !== b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    default:
      return a >= b;
  }
}

function lookup(obj: ExprValue | undefined, key: ExprValue, caseSensitive: boolean): ExprValue {
  if (obj === null || obj === undefined || typeof obj !== 'object') return null;
  if (Array.isArray(obj)) {
    const n = toNumber(key);
    if (!Number.isInteger(n) || n < 0 || n >= obj.length) return null;
    return obj[n] ?? null;
  }
  const k = toExprString(key);
  if (Object.prototype.hasOwnProperty.call(obj, k)) return obj[k] ?? null;
  if (caseSensitive) return null;
  const lower = k.toLowerCase();
  for (const [name, v] of Object.entries(obj)) if (name.toLowerCase() === lower) return v ?? null;
  return null;
}

function evalNode(n: Node, ctx: ExprContext): ExprValue {
  switch (n.k) {
    case 'lit':
      return n.v;
    case 'ctx': {
      const want = n.name.toLowerCase();
      const key = Object.keys(ctx.contexts).find((c) => c.toLowerCase() === want);
      if (key === undefined) throw new ExprError(`Unrecognized named-value: '${n.name}'`);
      return ctx.contexts[key] ?? null;
    }
    case 'prop': {
      const cs = n.obj.k === 'ctx' && !!ctx.caseSensitive?.has(n.obj.name.toLowerCase());
      return lookup(evalNode(n.obj, ctx), evalNode(n.key, ctx), cs);
    }
    case 'not':
      return !truthy(evalNode(n.e, ctx));
    case 'bin': {
      if (n.op === '&&') {
        const l = evalNode(n.l, ctx);
        return truthy(l) ? evalNode(n.r, ctx) : l;
      }
      if (n.op === '||') {
        const l = evalNode(n.l, ctx);
        return truthy(l) ? l : evalNode(n.r, ctx);
      }
      return compare(n.op, evalNode(n.l, ctx), evalNode(n.r, ctx));
    }
    case 'call':
      return call(n.name, n.args, ctx);
  }
}

function call(name: string, argNodes: Node[], ctx: ExprContext): ExprValue {
  const status = ctx.jobStatus ?? 'success';
  const arity = (min: number, max: number): void => {
    if (argNodes.length < min || argNodes.length > max) {
      throw new ExprError(`Invalid number of arguments for function '${name}'`);
    }
  };
  const args = (): ExprValue[] => argNodes.map((a) => evalNode(a, ctx));
  switch (name) {
    case 'success':
      arity(0, 0);
      return status === 'success';
    case 'failure':
      arity(0, 0);
      return status === 'failure';
    case 'cancelled':
      arity(0, 0);
      return status === 'cancelled';
    case 'always':
      arity(0, 0);
      return true;
    case 'contains': {
      arity(2, 2);
      const [hay, needle] = args() as [ExprValue, ExprValue];
      if (Array.isArray(hay)) return hay.some((x) => compare('==', x, needle));
      return toExprString(hay).toUpperCase().includes(toExprString(needle).toUpperCase());
    }
    case 'startswith':
    case 'endswith': {
      arity(2, 2);
      const [a, b] = args().map((v) => toExprString(v).toUpperCase()) as [string, string];
      return name === 'startswith' ? a.startsWith(b) : a.endsWith(b);
    }
    case 'format': {
      if (argNodes.length < 1)
        throw new ExprError("Invalid number of arguments for function 'format'");
      const [fmt, ...rest] = args();
      return toExprString(fmt ?? null).replace(
        /\{\{|\}\}|\{(\d+)\}/g,
        (m, idx: string | undefined) => {
          if (m === '{{') return '{';
          if (m === '}}') return '}';
          const i = Number(idx);
          if (i >= rest.length)
            throw new ExprError(
              `The following format string references more arguments than were supplied: ${toExprString(fmt ?? null)}`,
            );
          return toExprString(rest[i]!);
        },
      );
    }
    default:
      throw new ExprError(`Unrecognized function: '${name}'`);
  }
}

export function evaluateExpression(src: string, ctx: ExprContext): ExprValue {
  return evalNode(parseExpression(src), ctx);
}

/** Strips one `${{ … }}` around a whole condition, which `if:` conditions allow. */
function unwrap(src: string): string {
  const s = src.trim();
  const m = /^\$\{\{([\s\S]*)\}\}$/.exec(s);
  return m ? m[1]!.trim() : s;
}

/**
 * A step condition (post-if). As in the runner, a post-if is evaluated as written: unlike a
 * workflow `if:`, no implicit `success() &&` is added when it names no status function.
 */
export function evaluateCondition(src: string, ctx: ExprContext): boolean {
  return truthy(evaluateExpression(unwrap(src), ctx));
}

/** Replaces every `${{ expr }}` in a string (quotes inside the expression respected). */
export function interpolate(template: string, ctx: ExprContext): string {
  let out = '';
  let i = 0;
  for (;;) {
    const start = template.indexOf('${{', i);
    if (start < 0) return out + template.slice(i);
    out += template.slice(i, start);
    let j = start + 3;
    let inStr = false;
    let end = -1;
    while (j < template.length) {
      const c = template[j];
      if (c === "'") inStr = !inStr;
      else if (!inStr && c === '}' && template[j + 1] === '}') {
        end = j;
        break;
      }
      j++;
    }
    if (end < 0) throw new ExprError(`Unterminated expression: ${template.slice(start)}`);
    out += toExprString(evaluateExpression(template.slice(start + 3, end).trim(), ctx));
    i = end + 2;
  }
}
