import { describe, expect, it } from 'vitest';

import { ExprError, evaluateCondition, evaluateExpression, interpolate } from './expr.js';
import type { ExprContext, JobStatus } from './expr.js';

function ctx(jobStatus: JobStatus = 'success'): ExprContext {
  return {
    jobStatus,
    contexts: {
      env: { RUN_POST: 'yes', EMPTY: '', Mixed: 'm', N: '10' },
      inputs: { 'key-prefix': 'gc', flag: 'true' },
      runner: { os: 'Linux' },
    },
    caseSensitive: new Set(['env']),
  };
}

describe('status functions', () => {
  it.each([
    ['success()', true, false, false],
    ['failure()', false, true, false],
    ['cancelled()', false, false, true],
    ['always()', true, true, true],
    ['!failure()', true, false, true],
    ['success() || failure()', true, true, false],
  ])('%s', (expr, onSuccess, onFailure, onCancelled) => {
    expect(evaluateCondition(expr, ctx('success'))).toBe(onSuccess);
    expect(evaluateCondition(expr, ctx('failure'))).toBe(onFailure);
    expect(evaluateCondition(expr, ctx('cancelled'))).toBe(onCancelled);
  });

  it('rejects arguments to status functions and unknown functions', () => {
    expect(() => evaluateCondition('success(1)', ctx())).toThrow(ExprError);
    expect(() => evaluateCondition('hashFiles()', ctx())).toThrow(
      "Unrecognized function: 'hashfiles'",
    );
  });

  it('adds no implicit success() (post-if is evaluated as written)', () => {
    expect(evaluateCondition("env.RUN_POST == 'yes'", ctx('failure'))).toBe(true);
  });
});

describe('operators', () => {
  it('gives && and || the right precedence and returns operands', () => {
    expect(evaluateCondition('always() || failure() && false', ctx())).toBe(true);
    expect(evaluateCondition('(always() || failure()) && false', ctx())).toBe(false);
    expect(evaluateExpression("inputs.flag && 'x'", ctx())).toBe('x');
    expect(evaluateExpression("env.EMPTY || 'fallback'", ctx())).toBe('fallback');
    expect(evaluateExpression('!env.EMPTY', ctx())).toBe(true);
  });

  it('compares strings ignoring case, and coerces mixed types to numbers', () => {
    expect(evaluateCondition("runner.os == 'LINUX'", ctx())).toBe(true);
    expect(evaluateCondition("runner.os != 'linux'", ctx())).toBe(false);
    expect(evaluateCondition('env.N == 10', ctx())).toBe(true);
    expect(evaluateCondition('env.N > 9.5', ctx())).toBe(true);
    expect(evaluateCondition("'' == 0", ctx())).toBe(true);
    expect(evaluateCondition('null == 0', ctx())).toBe(true);
    expect(evaluateCondition('true == 1', ctx())).toBe(true);
    expect(evaluateCondition("'abc' == 0", ctx())).toBe(false); // NaN
    expect(evaluateCondition("'abc' != 0", ctx())).toBe(true);
    expect(evaluateCondition('0x10 == 16', ctx())).toBe(true);
  });

  it('reads contexts: env case-sensitively, others not; a missing property is null', () => {
    expect(evaluateExpression('env.Mixed', ctx())).toBe('m');
    expect(evaluateExpression('env.MIXED', ctx())).toBeNull();
    expect(evaluateExpression('RUNNER.OS', ctx())).toBe('Linux');
    expect(evaluateExpression('inputs.key-prefix', ctx())).toBe('gc');
    expect(evaluateExpression("inputs['key-prefix']", ctx())).toBe('gc');
    expect(evaluateExpression('env.NOPE.deeper', ctx())).toBeNull();
    expect(() => evaluateExpression('secrets.X', ctx())).toThrow(
      "Unrecognized named-value: 'secrets'",
    );
  });

  it("handles '' escapes and the string functions", () => {
    expect(evaluateExpression("'it''s'", ctx())).toBe("it's");
    expect(evaluateCondition("contains(runner.os, 'inu')", ctx())).toBe(true);
    expect(evaluateCondition("startsWith(inputs.key-prefix, 'G')", ctx())).toBe(true);
    expect(evaluateCondition("endsWith('abc', 'x')", ctx())).toBe(false);
    expect(evaluateExpression("format('{0}-{1} {{x}}', runner.os, 1)", ctx())).toBe('Linux-1 {x}');
  });

  it('reports syntax errors', () => {
    expect(() => evaluateExpression('success() &&', ctx())).toThrow(ExprError);
    expect(() => evaluateExpression("'open", ctx())).toThrow('unterminated string');
    expect(() => evaluateExpression('a = b', ctx())).toThrow(ExprError);
    expect(() => evaluateExpression('', ctx())).toThrow('Empty expression');
  });
});

describe('${{ }}', () => {
  it('accepts a condition wrapped in ${{ }}', () => {
    expect(evaluateCondition('${{ failure() }}', ctx('failure'))).toBe(true);
    expect(evaluateCondition('${{ failure() }}', ctx('success'))).toBe(false);
  });

  it('interpolates templates, including }} inside string literals', () => {
    expect(interpolate('${{ runner.os }}-${{ inputs.key-prefix }}-x', ctx())).toBe('Linux-gc-x');
    expect(interpolate("${{ format('{0}}}', 'a') }}", ctx())).toBe('a}');
    expect(interpolate('${{ env.NOPE }}|${{ true }}', ctx())).toBe('|true');
    expect(interpolate('no expressions', ctx())).toBe('no expressions');
    expect(() => interpolate('${{ runner.os', ctx())).toThrow('Unterminated expression');
  });
});
