import { describe, expect, it } from 'vitest';
import { DEFAULT_DEPENDENCY_PATTERNS, InputError, parseInputs } from '../src/inputs.js';

const reader = (values: Record<string, string>) => (name: string) => values[name] ?? '';

describe('parseInputs', () => {
  it('applies the documented defaults', () => {
    const inputs = parseInputs(reader({}));
    expect(inputs).toEqual({
      keyPrefix: 'go-cache',
      scope: '',
      dependencyPatterns: DEFAULT_DEPENDENCY_PATTERNS,
      cacheModules: true,
      cacheBuild: true,
      mode: 'auto',
      maxSizeBytes: 1024 ** 3,
      retentionMs: 2 * 86400e3,
      save: 'auto',
      saveOnFailure: false,
      testMtimes: true,
    });
  });

  it('reads every input', () => {
    const inputs = parseInputs(
      reader({
        'key-prefix': 'ci',
        scope: 'linux-race',
        'cache-dependency-path': 'a/go.sum\n# comment\nb/go.sum, c/go.work.sum',
        'cache-modules': 'false',
        'cache-build': 'TRUE',
        mode: 'Native',
        'max-size': '500MB',
        retention: '36h',
        save: 'false',
        'save-on-failure': 'true',
        'test-mtimes': 'false',
      }),
    );
    expect(inputs.dependencyPatterns).toEqual(['a/go.sum', 'b/go.sum', 'c/go.work.sum']);
    expect(inputs.maxSizeBytes).toBe(500e6);
    expect(inputs.retentionMs).toBe(36 * 3600e3);
    expect(inputs).toMatchObject({
      keyPrefix: 'ci',
      scope: 'linux-race',
      cacheModules: false,
      mode: 'native',
      save: 'false',
      saveOnFailure: true,
      testMtimes: false,
    });
  });

  it.each([
    [
      'mode',
      'fast',
      /Invalid input 'mode': 'fast' is not allowed. Must be 'auto', 'helper' or 'native'./,
    ],
    [
      'cache-build',
      'yes',
      /Invalid input 'cache-build': 'yes' is not a boolean. Must be 'true' or 'false'./,
    ],
    ['max-size', 'big', /Invalid input 'max-size': 'big' is not a size/],
    ['max-size', '10KB', /below the minimum of 1MiB/],
    ['max-size', '20GiB', /above 10GiB/],
    ['retention', '3 months', /Invalid input 'retention': '3 months' is not a duration/],
    ['retention', '20w', /longer than 90 days/],
    ['save', 'sometimes', /Invalid input 'save'.*Must be 'auto', 'true' or 'false'/],
    ['key-prefix', 'has space', /Invalid input 'key-prefix'.*no spaces or commas/],
    ['scope', 'a,b', /Invalid input 'scope'/],
  ])('rejects %s=%j with a message naming the input', (name, value, message) => {
    const run = () => parseInputs(reader({ [name]: value }));
    expect(run).toThrow(InputError);
    expect(run).toThrow(message);
  });
});
