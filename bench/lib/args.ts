/**
 * The command-line parser of the benchmark scripts (bench/*.ts), on Node's `util.parseArgs`: each
 * script declares its flags once, with typed helpers (`flag`, `int`, `num`, `str`, `choice`,
 * `intList`, `choiceList`), and gets back their values, camelCased (`--trial-ms` -> `trialMs`).
 *
 * - `--name value` and `--name=value` are the same; a value that starts with '-' must be written
 *   `--name=-1` (else it reads as a missing value).
 * - An unknown flag, a missing or malformed value, a value on a switch, a flag given twice or a
 *   stray argument is a `ConfigError` (code INVALID_CONFIG, `path` the flag) naming the flag and
 *   what it accepts; `parseBenchArgs` prints it on stderr and exits with status 2, so a re-run of
 *   a documented figure gets exactly what it asked for or stops before measuring anything.
 * - `--help` (or `-h`) prints every flag with its value, description and default, and exits 0.
 * - `KESTREL_BENCH_DRY_RUN=1` prints the values a command line parses to and exits 0.
 */
import { parseArgs } from 'node:util';
import { ConfigError } from '../../src/errors.js';

/** One flag: how it reads, what `--help` says, and its value when absent. */
export interface Flag<T> {
  /** A switch takes no value (`--quick`); every other flag takes exactly one. */
  readonly kind: 'switch' | 'value';
  readonly description: string;
  /** The placeholder `--help` shows after the flag (`N`, `LIST`, `PATH`, `a|b|c`). */
  readonly valueName: string;
  /** The value when the flag is absent (`undefined`: no default, the script decides). */
  readonly default: T;
  /** What `--help` shows as the default (when it is not just the default value written out). */
  readonly defaultText: string | undefined;
  /** The value of `raw` (the text after the flag); throws `ConfigError` naming `name`. */
  parse(raw: string, name: string): Exclude<T, undefined>;
}

/** `trial-ms` -> `trialMs`. */
export type CamelCase<S extends string> = S extends `${infer Head}-${infer Tail}` ? `${Head}${Capitalize<CamelCase<Tail>>}` : S;

/** The flags' values, keyed by their camelCased names. */
export type FlagValues<F> = { -readonly [K in keyof F as CamelCase<K & string>]: F[K] extends Flag<infer T> ? T : never };

/** A script's command line. */
export interface BenchCommand<F extends Readonly<Record<string, Flag<unknown>>> = Readonly<Record<string, Flag<unknown>>>> {
  /** The script's path from the repository root, e.g. `bench/gp-large.ts`. */
  readonly script: string;
  /** What the script measures, one or two lines for `--help`. */
  readonly summary: string;
  /** The flags, keyed by their names without the leading `--`. */
  readonly flags: F;
  /** Arguments other than flags; absent: the script takes none, and one is an error. */
  readonly positionals?: { readonly valueName: string; readonly description: string };
  /** A check across flags after parsing: the problem, or undefined when there is none. */
  check?(args: FlagValues<F> & ParsedExtras): string | undefined;
}

/** `command` as given, with its flags' types inferred for `check` (`satisfies BenchCommand` does not infer them). */
export function benchCommand<F extends Readonly<Record<string, Flag<unknown>>>>(command: BenchCommand<F>): BenchCommand<F> {
  return command;
}

/** What `parseFlags` returns besides the flags' values. */
export interface ParsedExtras {
  /** `--help` or `-h` was given (the other flags are then not read). */
  help: boolean;
  /** The non-flag arguments (always empty for a command without `positionals`). */
  positionals: string[];
}

export type ParsedArgs<F> = FlagValues<F> & ParsedExtras;

interface BaseOptions<T> {
  readonly description: string;
  readonly default?: T;
  /** What `--help` shows as the default, when there is no static one (e.g. "all cores"). */
  readonly defaultText?: string;
  readonly valueName?: string;
}

function camelCase(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function quoted(raw: string): string {
  return JSON.stringify(raw);
}

/** A number written out (not '', not whitespace; `Number`'s syntax: 12, 1.5, 1e4). */
function toNumber(raw: string): number {
  return raw.trim() === '' ? Number.NaN : Number(raw);
}

function bounds(min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return ` in [${min}, ${max}]`;
  if (min !== undefined) return ` >= ${min}`;
  if (max !== undefined) return ` <= ${max}`;
  return '';
}

function valueFlag<T>(options: BaseOptions<T>, valueName: string, parse: (raw: string, name: string) => Exclude<T, undefined>, show: (value: T) => string): Flag<T> {
  const value = options.default as T;
  return {
    kind: 'value',
    description: options.description,
    valueName: options.valueName ?? valueName,
    default: value,
    defaultText: options.defaultText ?? (value === undefined ? undefined : show(value)),
    parse,
  };
}

/** A switch: false unless given. */
export function flag(description: string): Flag<boolean> {
  return {
    kind: 'switch',
    description,
    valueName: '',
    default: false,
    defaultText: undefined,
    parse: () => true,
  };
}

/** Options of `int` and `num`. */
export interface NumberOptions extends BaseOptions<number> {
  readonly min?: number;
  readonly max?: number;
}

/** An integer (within `min` / `max` when given). */
export function int(options: NumberOptions & { readonly default: number }): Flag<number>;
export function int(options: NumberOptions): Flag<number | undefined>;
export function int(options: NumberOptions): Flag<number | undefined> {
  return boundedNumber(options, 'an integer', 'N', Number.isInteger);
}

/** A finite number (within `min` / `max` when given). */
export function num(options: NumberOptions & { readonly default: number }): Flag<number>;
export function num(options: NumberOptions): Flag<number | undefined>;
export function num(options: NumberOptions): Flag<number | undefined> {
  return boundedNumber(options, 'a number', 'X', Number.isFinite);
}

/** A number of one kind (`isKind`), within `min` / `max` when given. */
function boundedNumber(options: NumberOptions, noun: string, valueName: string, isKind: (value: number) => boolean): Flag<number | undefined> {
  const expected = `${noun}${bounds(options.min, options.max)}`;
  return valueFlag<number | undefined>(
    options,
    valueName,
    (raw, name) => {
      const value = toNumber(raw);
      if (!isKind(value) || (options.min !== undefined && value < options.min) || (options.max !== undefined && value > options.max)) {
        throw new ConfigError(`--${name}`, `expected ${expected}, got ${quoted(raw)}`);
      }
      return value;
    },
    String,
  );
}

/** A non-empty string (a path, a Python executable, a version spec). */
export function str(options: BaseOptions<string> & { readonly default: string }): Flag<string>;
export function str(options: BaseOptions<string>): Flag<string | undefined>;
export function str(options: BaseOptions<string>): Flag<string | undefined> {
  return valueFlag<string | undefined>(
    options,
    'VALUE',
    (raw, name) => {
      if (raw === '') throw new ConfigError(`--${name}`, `expected a non-empty ${options.valueName ?? 'value'}, got ""`);
      return raw;
    },
    String,
  );
}

export interface ChoiceOptions<C extends string> extends Omit<BaseOptions<C>, 'default'> {
  readonly choices: readonly C[];
  readonly default?: NoInfer<C>;
}

/** One of `choices`. */
export function choice<const C extends string>(options: ChoiceOptions<C> & { readonly default: NoInfer<C> }): Flag<C>;
export function choice<const C extends string>(options: ChoiceOptions<C>): Flag<C | undefined>;
export function choice<C extends string>(options: ChoiceOptions<C>): Flag<C | undefined> {
  return valueFlag<C | undefined>(
    options,
    options.choices.join('|'),
    (raw, name) => {
      if (!(options.choices as readonly string[]).includes(raw)) throw new ConfigError(`--${name}`, `expected one of ${options.choices.join(', ')}, got ${quoted(raw)}`);
      return raw as C;
    },
    String,
  );
}

/** The comma-separated items of `raw`, or null when one is empty (`1,,2`, `1,`, ''). */
function items(raw: string): string[] | null {
  const parts = raw.split(',');
  return parts.some((p) => p.trim() === '') ? null : parts;
}

export interface IntListOptions extends BaseOptions<readonly number[]> {
  readonly min?: number;
  readonly max?: number;
  /** The exact number of items (e.g. 2 for `K,P`). */
  readonly length?: number;
}

/** A comma-separated list of integers (`1000,5000`), at least one. */
export function intList(options: IntListOptions & { readonly default: readonly number[] }): Flag<number[]>;
export function intList(options: IntListOptions): Flag<number[] | undefined>;
export function intList(options: IntListOptions): Flag<number[] | undefined> {
  const expected = `a comma-separated list of ${options.length === undefined ? '' : `${options.length} `}integers${bounds(options.min, options.max)}`;
  return valueFlag<number[] | undefined>(
    { ...options, default: options.default === undefined ? undefined : [...options.default] },
    'LIST',
    (raw, name) => {
      const values = items(raw)?.map(toNumber) ?? [];
      const ok =
        values.length > 0 &&
        (options.length === undefined || values.length === options.length) &&
        values.every((v) => Number.isInteger(v) && (options.min === undefined || v >= options.min) && (options.max === undefined || v <= options.max));
      if (!ok) throw new ConfigError(`--${name}`, `expected ${expected}, got ${quoted(raw)}`);
      return values;
    },
    (value) => (value === undefined ? '' : value.join(',')),
  );
}

export interface ChoiceListOptions<C extends string> extends Omit<BaseOptions<readonly C[]>, 'default'> {
  readonly choices: readonly C[];
  readonly default?: readonly NoInfer<C>[];
}

/** A comma-separated list of names from `choices`, each at most once, at least one. */
export function choiceList<const C extends string>(options: ChoiceListOptions<C> & { readonly default: readonly NoInfer<C>[] }): Flag<C[]>;
export function choiceList<const C extends string>(options: ChoiceListOptions<C>): Flag<C[] | undefined>;
export function choiceList<C extends string>(options: ChoiceListOptions<C>): Flag<C[] | undefined> {
  const expected = `a comma-separated list of ${options.choices.join(', ')}`;
  return valueFlag<C[] | undefined>(
    { ...options, description: `${options.description}, from ${options.choices.join(', ')}`, default: options.default === undefined ? undefined : [...options.default] },
    'LIST',
    (raw, name) => {
      const names = items(raw);
      if (names === null) throw new ConfigError(`--${name}`, `expected ${expected}, got ${quoted(raw)}`);
      const unknown = names.find((n) => !(options.choices as readonly string[]).includes(n));
      if (unknown !== undefined) throw new ConfigError(`--${name}`, `expected ${expected}, got ${quoted(raw)} (${quoted(unknown)} is not one)`);
      const twice = names.find((n, i) => names.indexOf(n) !== i);
      if (twice !== undefined) throw new ConfigError(`--${name}`, `expected ${expected}, got ${quoted(raw)} (${quoted(twice)} is listed twice)`);
      return names as C[];
    },
    (value) => (value === undefined ? '' : value.join(',')),
  );
}

/** The edit distance of two short strings (for "did you mean"). */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)));
    previous = row;
  }
  return previous[b.length];
}

function acceptedFlags(command: { readonly flags: object }): string[] {
  return [...Object.keys(command.flags), 'help'].map((n) => `--${n}`);
}

/**
 * The values of `argv` (without the node and script paths) under `command`'s flags. Throws
 * `ConfigError` (its `path` the flag, or '' for a stray argument or a cross-flag check) on any
 * argument the command does not take as written. With `--help` / `-h` anywhere, returns
 * `help: true` and the defaults, without reading the rest.
 */
export function parseFlags<F extends Readonly<Record<string, Flag<unknown>>>>(command: BenchCommand<F>, argv: readonly string[]): ParsedArgs<F> {
  const defaults: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(command.flags)) defaults[camelCase(name)] = Array.isArray(spec.default) ? [...spec.default] : spec.default;
  const options = Object.fromEntries([
    ...Object.entries(command.flags).map(([name, spec]) => [name, { type: spec.kind === 'switch' ? ('boolean' as const) : ('string' as const) }]),
    ['help', { type: 'boolean' as const, short: 'h' }],
  ]);
  // Not strict: every token comes back, so that each problem gets its own message below.
  const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });
  if (tokens.some((t) => t.kind === 'option' && t.name === 'help')) return { ...defaults, help: true, positionals: [] } as ParsedArgs<F>;

  const values: Record<string, unknown> = { ...defaults };
  const seen = new Set<string>();
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      if (command.positionals === undefined) {
        throw new ConfigError('', `unexpected argument ${quoted(token.value)} (${command.script} takes only flags; a list is one argument, comma-separated: --sizes 200,500)`);
      }
      positionals.push(token.value);
      continue;
    }
    const spec = Object.hasOwn(command.flags, token.name) ? command.flags[token.name] : undefined;
    if (spec === undefined) {
      const accepted = acceptedFlags(command);
      const near = accepted.filter((a) => distance(a, token.rawName) <= 2 || (token.rawName.length > 3 && a.startsWith(token.rawName)));
      const hint = near.length === 1 ? `; did you mean ${near[0]}?` : '';
      throw new ConfigError(token.rawName, `unknown flag${hint}; accepted: ${accepted.join(', ')}`);
    }
    const name = `--${token.name}`;
    if (seen.has(token.name)) throw new ConfigError(name, 'given more than once');
    seen.add(token.name);
    if (spec.kind === 'switch') {
      if (token.inlineValue === true) throw new ConfigError(name, `takes no value, got ${quoted(token.value ?? '')}`);
      values[camelCase(token.name)] = true;
      continue;
    }
    if (token.value === undefined) throw new ConfigError(name, `missing value (${spec.valueName})`);
    if (token.inlineValue === false && token.value.length > 1 && token.value.startsWith('-')) {
      throw new ConfigError(name, `missing value (${spec.valueName}) before ${token.value}; a value that starts with '-' is written ${name}=${token.value}`);
    }
    values[camelCase(token.name)] = spec.parse(token.value, token.name);
  }
  const parsed = { ...values, help: false, positionals } as ParsedArgs<F>;
  const problem = command.check?.(parsed);
  if (problem !== undefined) throw new ConfigError('', problem);
  return parsed;
}

/** `--help`'s text: the command, its summary, and one line per flag. */
export function helpText<F extends Readonly<Record<string, Flag<unknown>>>>(command: BenchCommand<F>): string {
  const rows: [string, string][] = Object.entries(command.flags).map(([name, spec]) => [
    spec.kind === 'switch' ? `--${name}` : `--${name} ${spec.valueName}`,
    spec.defaultText === undefined ? spec.description : `${spec.description} (default: ${spec.defaultText})`,
  ]);
  if (command.positionals !== undefined) rows.push([`${command.positionals.valueName} ...`, command.positionals.description]);
  rows.push(['--help, -h', 'print this help and exit']);
  const width = Math.max(...rows.map(([left]) => left.length));
  const usage = `npx tsx ${command.script} [flags]${command.positionals === undefined ? '' : ` [${command.positionals.valueName} ...]`}`;
  return [
    `usage: ${usage}`,
    '',
    command.summary,
    '',
    'flags (--name value and --name=value are the same; a value starting with - needs --name=-1):',
    ...rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`),
    '',
  ].join('\n');
}

/**
 * `parseFlags` on the process's arguments, for a script's top level: on `--help` prints
 * `helpText` to stdout and exits 0; on a `ConfigError` prints `<script>: <message>` and a pointer
 * to `--help` on stderr and exits 2, before the script measures anything. With the environment
 * variable `KESTREL_BENCH_DRY_RUN=1` it prints the parsed values as one JSON line and exits 0: a
 * command line checked without running the benchmark.
 */
export function parseBenchArgs<F extends Readonly<Record<string, Flag<unknown>>>>(command: BenchCommand<F>, argv: readonly string[] = process.argv.slice(2)): ParsedArgs<F> {
  let parsed: ParsedArgs<F>;
  try {
    parsed = parseFlags(command, argv);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${command.script}: ${err.message}\n(npx tsx ${command.script} --help lists its flags)\n`);
    process.exit(2);
  }
  if (parsed.help) {
    process.stdout.write(helpText(command));
    process.exit(0);
  }
  if (process.env.KESTREL_BENCH_DRY_RUN === '1') {
    const { help: _help, ...values } = parsed;
    process.stdout.write(`${JSON.stringify(values)}\n`);
    process.exit(0);
  }
  return parsed;
}
