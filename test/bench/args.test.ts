import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { benchCommand, choice, choiceList, flag, helpText, int, intList, num, parseFlags, str, type BenchCommand } from '../../bench/lib/args.js';

const command = {
  script: 'bench/example.ts',
  summary: 'an example benchmark',
  flags: {
    quick: flag('fewer sizes'),
    sizes: intList({ description: 'study sizes', default: [1000, 5000], min: 1 }),
    repeats: int({ description: 'timed repeats', min: 1, defaultText: '3 (--quick: 2)' }),
    'trial-ms': num({ description: 'idle after each trial', default: 0, min: 0 }),
    out: str({ description: 'output file', default: 'bench/x.md', valueName: 'FILE' }),
    backend: choice({ description: 'surrogate backend', choices: ['auto', 'cpu', 'js'] as const, default: 'cpu' }),
    samplers: choiceList({ description: 'samplers to run', choices: ['gp', 'tpe', 'random'] as const, default: ['gp', 'random'] }),
    front: intList({ description: 'K,P', length: 2 }),
  },
} satisfies BenchCommand;

/** The ConfigError `parseFlags` throws for `argv`. */
function failure<F extends BenchCommand['flags']>(argv: readonly string[], cmd: BenchCommand<F> = command as unknown as BenchCommand<F>): ConfigError {
  try {
    parseFlags(cmd, argv);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`parseFlags accepted ${argv.join(' ')}`);
}

describe('bench flag parser', () => {
  it('gives the defaults, camelCased, when no flag is given', () => {
    const args = parseFlags(command, []);
    expect(args).toEqual({
      help: false,
      positionals: [],
      quick: false,
      sizes: [1000, 5000],
      repeats: undefined,
      trialMs: 0,
      out: 'bench/x.md',
      backend: 'cpu',
      samplers: ['gp', 'random'],
      front: undefined,
    });
  });

  it('reads --name value and --name=value alike', () => {
    const spaced = parseFlags(command, ['--sizes', '10,20', '--repeats', '1', '--trial-ms', '2.5', '--out', '-', '--backend', 'js', '--quick']);
    const inline = parseFlags(command, ['--sizes=10,20', '--repeats=1', '--trial-ms=2.5', '--out=-', '--backend=js', '--quick']);
    expect(spaced).toEqual(inline);
    expect(spaced).toMatchObject({ sizes: [10, 20], repeats: 1, trialMs: 2.5, out: '-', backend: 'js', quick: true });
  });

  it('refuses an unknown flag, naming it and the accepted ones', () => {
    const err = failure(['--size', '10']);
    expect(err.path).toBe('--size');
    expect(err.message).toContain('--size: unknown flag');
    expect(err.message).toContain('did you mean --sizes?');
    for (const name of ['--quick', '--sizes', '--repeats', '--trial-ms', '--out', '--backend', '--samplers', '--front', '--help']) expect(err.message).toContain(name);
    expect(failure(['-x']).message).toContain('-x: unknown flag');
  });

  it('refuses malformed numbers and lists, naming the flag and what it takes', () => {
    expect(failure(['--repeats', 'three']).message).toBe('--repeats: expected an integer >= 1, got "three"');
    expect(failure(['--repeats', '0']).message).toBe('--repeats: expected an integer >= 1, got "0"');
    expect(failure(['--repeats', '1.5']).message).toBe('--repeats: expected an integer >= 1, got "1.5"');
    expect(failure(['--repeats=']).message).toBe('--repeats: expected an integer >= 1, got ""');
    expect(failure(['--trial-ms', 'NaN']).path).toBe('--trial-ms');
    expect(failure(['--trial-ms', 'Infinity']).path).toBe('--trial-ms');
    expect(failure(['--trial-ms=-1']).message).toBe('--trial-ms: expected a number >= 0, got "-1"');
    expect(failure(['--sizes', '1000,x']).message).toBe('--sizes: expected a comma-separated list of integers >= 1, got "1000,x"');
    expect(failure(['--sizes', '1000,,2000']).path).toBe('--sizes');
    expect(failure(['--sizes', '']).path).toBe('--sizes');
    expect(failure(['--front', '5']).message).toBe('--front: expected a comma-separated list of 2 integers, got "5"');
    expect(parseFlags(command, ['--front', '5,160']).front).toEqual([5, 160]);
  });

  it('refuses a name outside the choices, listing them', () => {
    expect(failure(['--backend', 'gpu']).message).toBe('--backend: expected one of auto, cpu, js, got "gpu"');
    expect(failure(['--samplers', 'gp,tpe-mv']).message).toBe('--samplers: expected a comma-separated list of gp, tpe, random, got "gp,tpe-mv" ("tpe-mv" is not one)');
    expect(failure(['--samplers', 'gp,gp']).message).toContain('"gp" is listed twice');
    expect(parseFlags(command, ['--samplers', 'tpe,gp']).samplers).toEqual(['tpe', 'gp']);
  });

  it('refuses a missing value, a value on a switch, a repeated flag and a stray argument', () => {
    expect(failure(['--sizes']).message).toContain('--sizes: missing value');
    // The next flag is not taken as the value.
    expect(failure(['--sizes', '--quick']).message).toContain('--sizes: missing value');
    // A value starting with '-' must be written inline.
    expect(failure(['--trial-ms', '-1']).message).toContain('--trial-ms=-1');
    expect(failure(['--quick=yes']).message).toBe('--quick: takes no value, got "yes"');
    expect(failure(['--repeats', '1', '--repeats=2']).message).toBe('--repeats: given more than once');
    expect(failure(['--quick', 'extra']).message).toContain('unexpected argument "extra"');
    // `--sizes 1000 5000` (a space instead of a comma) is caught, not half-read.
    expect(failure(['--sizes', '1000', '5000']).message).toContain('unexpected argument "5000"');
  });

  it('collects positionals only where the command takes them', () => {
    const withFiles = { ...command, positionals: { valueName: 'FILE', description: 'more files' } } satisfies BenchCommand;
    expect(parseFlags(withFiles, ['--out', 'a', 'b', 'c']).positionals).toEqual(['b', 'c']);
  });

  it('runs the command check after parsing', () => {
    const checked = benchCommand({
      ...command,
      check: (args) => (args.quick && args.repeats !== undefined ? '--repeats and --quick cannot be combined' : undefined),
    });
    expect(failure(['--quick', '--repeats', '2'], checked).message).toBe('--repeats and --quick cannot be combined');
    expect(parseFlags(checked, ['--quick']).quick).toBe(true);
  });

  it('reports --help (or -h) without validating the rest', () => {
    expect(parseFlags(command, ['--sizes', 'oops', '--help']).help).toBe(true);
    expect(parseFlags(command, ['-h']).help).toBe(true);
  });

  it('prints every flag with its value, description and default in the help', () => {
    const text = helpText(command);
    expect(text).toContain('npx tsx bench/example.ts');
    expect(text).toContain('an example benchmark');
    expect(text).toMatch(/--sizes LIST\s+study sizes \(default: 1000,5000\)/);
    expect(text).toMatch(/--repeats N\s+timed repeats \(default: 3 \(--quick: 2\)\)/);
    expect(text).toMatch(/--out FILE\s+output file \(default: bench\/x\.md\)/);
    expect(text).toMatch(/--backend auto\|cpu\|js\s+surrogate backend \(default: cpu\)/);
    expect(text).toMatch(/--quick\s+fewer sizes\n/);
    expect(text).toMatch(/--samplers LIST\s+samplers to run, from gp, tpe, random \(default: gp,random\)/);
    expect(text).toMatch(/--help, -h\s+print this help/);
  });
});
