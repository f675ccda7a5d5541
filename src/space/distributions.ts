/**
 * Distribution constructors (validated, frozen plain data), equality, membership and JSON.
 * Together with `encode.ts` this is the only code that switches on a distribution's `kind`.
 */
import { InvalidOptionError, InvalidParamValueError, SearchSpaceError } from '../errors.js';
import type {
  CategoricalChoice,
  CategoricalDistribution,
  Distribution,
  FloatDistribution,
  IntDistribution,
  NumericSuggestOptions,
  ParamValue,
} from './types.js';

/** Tolerance, in steps, for "step divides high - low" and "value is on the step grid" with floats (Optuna's). */
export const STEP_TOLERANCE = 1e-8;

const EPS = 2.220446049250313e-16;

/**
 * How far from an integer the float number of steps `k` ((value - low) / step) may be and still
 * count as a grid point: STEP_TOLERANCE, or where larger the rounding noise of computing k: of k
 * itself (16 eps * k), plus that of a value computed as low + k * step, at most half an ulp of
 * `magnitude` = max(|low|, |value|) (0.51 eps * magnitude / step: 8.1 + 87263035 * 1e-9 is 5.7e-7
 * steps of 1e-9 off its k; 200,000 random k on that grid reach 0.4994 eps * magnitude). Not
 * 1e-8 * k: that exceeded half a step from k = 5e7 on, and every value in range passed.
 */
function stepTolerance(k: number, magnitude: number, step: number): number {
  return Math.max(STEP_TOLERANCE, 16 * EPS * Math.abs(k) + (0.51 * EPS * magnitude) / step);
}

function describeValue(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) {
    return String(value);
  }
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

function checkOptions(name: string, options: unknown): NumericSuggestOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new SearchSpaceError(name, `options must be an object {log?, step?}, received ${describeValue(options)}`);
  }
  // A misspelt option ({ lg: true }, { Step: 0.1 }) silently gave a linear, continuous
  // distribution; Optuna's suggest_float refuses an unknown keyword too.
  for (const key of Object.keys(options)) {
    if (key !== 'log' && key !== 'step') {
      throw new SearchSpaceError(name, `unknown option "${key}" (the options are log and step)`);
    }
  }
  return options as NumericSuggestOptions;
}

function checkBounds(name: string, low: unknown, high: unknown): asserts low is number {
  if (typeof low !== 'number' || !Number.isFinite(low)) {
    throw new SearchSpaceError(name, `low must be a finite number, received ${describeValue(low)}`);
  }
  if (typeof high !== 'number' || !Number.isFinite(high)) {
    throw new SearchSpaceError(name, `high must be a finite number, received ${describeValue(high)}`);
  }
  if (low > high) throw new SearchSpaceError(name, `low (${low}) must be <= high (${high})`);
  // Every sampler maps through high - low (encode.ts, fromUnit): it must not overflow.
  if (!Number.isFinite(high - low)) {
    throw new SearchSpaceError(name, `high - low must be a finite number, but ${high} - ${low} overflows`);
  }
}

function checkLog(name: string, log: unknown): boolean {
  if (log === undefined) return false;
  if (typeof log !== 'boolean') throw new SearchSpaceError(name, `log must be a boolean, received ${describeValue(log)}`);
  return log;
}

/**
 * A float distribution on [low, high]. `log` samples uniformly in log space (low > 0); `step` puts
 * values on low, low + step, ..., high and must divide high - low: the doubles' ratio within 1e-8
 * (or the rounding noise of computing it, where larger: `stepTolerance`) of an integer, or exactly in the decimals the numbers are written as (as Optuna).
 * @throws SearchSpaceError naming the parameter.
 */
export function floatDistribution(name: string, low: number, high: number, options?: NumericSuggestOptions): FloatDistribution {
  const opts = checkOptions(name, options);
  checkBounds(name, low, high);
  const log = checkLog(name, opts.log);
  let step: number | null = null;
  if (opts.step !== undefined && opts.step !== null) {
    if (log) throw new SearchSpaceError(name, 'step cannot be combined with log: true');
    if (typeof opts.step !== 'number' || !Number.isFinite(opts.step) || opts.step <= 0) {
      throw new SearchSpaceError(name, `step must be a finite number > 0, received ${describeValue(opts.step)}`);
    }
    step = opts.step;
    const ratio = (high - low) / step;
    // 1e300 / 1e-300 steps: every coordinate decoded to high (and 0 to NaN, 0 * Infinity).
    if (!Number.isFinite(ratio)) {
      throw new SearchSpaceError(name, `step ${step} is too small for high - low (${high} - ${low}): the number of steps overflows`);
    }
    if (Math.abs(ratio - Math.round(ratio)) > stepTolerance(ratio, Math.max(Math.abs(low), Math.abs(high)), step) && !decimalDivides(high, low, step)) {
      throw new SearchSpaceError(name, `step ${step} does not divide high - low (${high} - ${low})`);
    }
  }
  if (log && low <= 0) throw new SearchSpaceError(name, `log: true needs low > 0, received low = ${low}`);
  return Object.freeze({ kind: 'float', low, high, log, step });
}

/**
 * An integer distribution on [low, high] with spacing `step` (default 1) from low. `log` needs
 * low >= 1 and step 1. Bounds and step must be safe integers, step must divide high - low exactly,
 * and high - low must be a double exactly (always up to 2^53; above, only an even difference).
 * @throws SearchSpaceError naming the parameter.
 */
export function intDistribution(name: string, low: number, high: number, options?: NumericSuggestOptions): IntDistribution {
  const opts = checkOptions(name, options);
  checkBounds(name, low, high);
  if (!Number.isSafeInteger(low)) throw new SearchSpaceError(name, `low must be an integer, received ${low}`);
  if (!Number.isSafeInteger(high)) throw new SearchSpaceError(name, `high must be an integer, received ${high}`);
  const log = checkLog(name, opts.log);
  const stepGiven = opts.step !== undefined && opts.step !== null;
  const step = stepGiven ? opts.step : 1;
  if (typeof step !== 'number' || !Number.isSafeInteger(step) || step <= 0) {
    throw new SearchSpaceError(name, `step must be an integer >= 1, received ${describeValue(step)}`);
  }
  if (log && step !== 1) throw new SearchSpaceError(name, `step (${step}) cannot be combined with log: true`);
  if (log && low < 1) throw new SearchSpaceError(name, `log: true needs low >= 1, received low = ${low}`);
  // In integers, not doubles: above 2^53 the double high - low can be rounded (2^54 - 3 is
  // 2^54 - 4), and a step that divides the rounded difference puts decoded values off the grid.
  const exact = BigInt(high) - BigInt(low);
  if (exact % BigInt(step) !== 0n) {
    throw new SearchSpaceError(name, `step ${step} does not divide high - low (${high} - ${low})`);
  }
  if (BigInt(high - low) !== exact) {
    throw new SearchSpaceError(name, `high - low (${exact}) must be exact in double precision (above 2^53, an even number)`);
  }
  return Object.freeze({ kind: 'int', low, high, log, step });
}

/** True for the value types a categorical choice may have (finite numbers only). */
export function isCategoricalChoice(value: unknown): value is CategoricalChoice {
  return (
    value === null ||
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value))
  );
}

/**
 * A categorical distribution over `choices` (strings, finite numbers, booleans, null), in order.
 * @throws SearchSpaceError for an empty list, duplicates or unsupported values.
 */
export function categoricalDistribution(name: string, choices: readonly CategoricalChoice[]): CategoricalDistribution {
  if (!Array.isArray(choices)) {
    throw new SearchSpaceError(name, `choices must be an array, received ${describeValue(choices)}`);
  }
  if (choices.length === 0) throw new SearchSpaceError(name, 'choices must not be empty');
  // A Set, not a scan of the earlier choices: that was O(n^2) on every suggestCategorical and
  // every distribution read back from storage (70,000 choices: about a minute per trial). For
  // these choices (finite numbers, strings, booleans, null) its SameValueZero is ===.
  const seen = new Set<unknown>();
  for (let i = 0; i < choices.length; i++) {
    const c: unknown = choices[i];
    if (!isCategoricalChoice(c)) {
      throw new SearchSpaceError(
        name,
        `choice ${i} has an unsupported type (${describeValue(c)}); choices are strings, finite numbers, booleans or null`,
      );
    }
    if (seen.has(c)) throw new SearchSpaceError(name, `duplicate choice ${describeValue(c)}`);
    seen.add(c);
  }
  return Object.freeze({ kind: 'categorical', choices: Object.freeze([...choices]) });
}

/** Structural equality (categorical choices compared in order). */
export function distributionsEqual(a: Distribution, b: Distribution): boolean {
  if (a === b) return true;
  switch (a.kind) {
    case 'float':
      return b.kind === 'float' && a.low === b.low && a.high === b.high && a.log === b.log && a.step === b.step;
    case 'int':
      return b.kind === 'int' && a.low === b.low && a.high === b.high && a.log === b.log && a.step === b.step;
    case 'categorical': {
      if (b.kind !== 'categorical' || a.choices.length !== b.choices.length) return false;
      for (let i = 0; i < a.choices.length; i++) if (a.choices[i] !== b.choices[i]) return false;
      return true;
    }
  }
}

/** True when the distribution has exactly one possible value. */
export function isSingle(dist: Distribution): boolean {
  switch (dist.kind) {
    case 'float':
    case 'int':
      return dist.low === dist.high;
    case 'categorical':
      return dist.choices.length === 1;
  }
}

/** Number of grid points k with low + k * step <= high, for stepped floats (ratio rounded). */
export function floatStepCount(dist: FloatDistribution & { step: number }): number {
  return Math.round((dist.high - dist.low) / dist.step);
}

/**
 * Grid point k of a stepped float: low + k * step, with k = 0 and k = n exactly low and high, and
 * binary noise removed when a 15-significant-digit decimal lies within 4 ulp of max(|low|, |high|)
 * (so step 0.1 on [0, 1] gives 0.3, not 0.30000000000000004). `contains` holds for every one.
 */
export function floatGridValue(dist: FloatDistribution & { step: number }, k: number): number {
  const n = floatStepCount(dist);
  if (k <= 0) return dist.low;
  if (k >= n) return dist.high;
  const raw = dist.low + k * dist.step;
  const snapped = Number(raw.toPrecision(15));
  const tolerance = 4 * EPS * Math.max(Math.abs(dist.low), Math.abs(dist.high));
  const value = Math.abs(snapped - raw) <= tolerance ? snapped : raw;
  return value < dist.low ? dist.low : value > dist.high ? dist.high : value;
}

/** The shortest decimal of a finite double (as `String` writes it) as mantissa * 10^exponent. */
function decimalOf(x: number): { mantissa: bigint; exponent: number } {
  const [digits, exp = '0'] = String(x).split('e');
  const point = digits.indexOf('.');
  const fraction = point < 0 ? 0 : digits.length - point - 1;
  return { mantissa: BigInt(digits.replace('.', '')), exponent: Number(exp) - fraction };
}

/**
 * Whether step divides high - low exactly in the decimals the three numbers are written as
 * (Optuna's Decimal(str(x)) check): 1e-9 divides 8.100000001 - 8.1 although the doubles' ratio is
 * 1.00000008, off by more than STEP_TOLERANCE.
 */
function decimalDivides(high: number, low: number, step: number): boolean {
  const parts = [decimalOf(high), decimalOf(low), decimalOf(step)];
  const exponent = Math.min(...parts.map((p) => p.exponent));
  const [h, l, s] = parts.map((p) => p.mantissa * 10n ** BigInt(p.exponent - exponent));
  return (h - l) % s === 0n;
}

/**
 * True when `value` is a possible value of `dist`: for stepped floats, within 1e-8 steps of a grid
 * point (or the rounding noise of computing its number of steps, where larger: `stepTolerance`),
 * or exactly one of the grid values `floatGridValue` gives.
 */
export function contains(dist: Distribution, value: unknown): boolean {
  checkDistribution(dist);
  switch (dist.kind) {
    case 'float': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return false;
      if (value < dist.low || value > dist.high) return false;
      if (dist.step === null) return true;
      const k = (value - dist.low) / dist.step;
      if (Math.abs(k - Math.round(k)) <= stepTolerance(k, Math.max(Math.abs(dist.low), Math.abs(value)), dist.step)) return true;
      // The grid values decode / samplers produce: next to a step tiny against |low| their
      // rounding exceeds the tolerance above (8.1 + 1e-9 is 1.0000000827 steps from 8.1).
      const stepped = dist as FloatDistribution & { step: number };
      return value === floatGridValue(stepped, Math.floor(k)) || value === floatGridValue(stepped, Math.ceil(k));
    }
    case 'int': {
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < dist.low || value > dist.high) return false;
      const offset = value - dist.low;
      // Above 2^53 the double offset may be rounded: check in integers there.
      return Number.isSafeInteger(offset)
        ? offset % dist.step === 0
        : (BigInt(value) - BigInt(dist.low)) % BigInt(dist.step) === 0n;
    }
    case 'categorical':
      for (let i = 0; i < dist.choices.length; i++) if (dist.choices[i] === value) return true;
      return false;
  }
}

/**
 * Throws `InvalidOptionError` (option `dist`) unless `dist` is an object with a known `kind`: the
 * public `encode`, `decode` and `contains` threw a TypeError on null and returned undefined or NaN
 * on anything else.
 */
export function checkDistribution(dist: unknown): void {
  const kind = dist !== null && typeof dist === 'object' ? (dist as { kind?: unknown }).kind : undefined;
  if (kind !== 'float' && kind !== 'int' && kind !== 'categorical') {
    throw new InvalidOptionError('dist', "a distribution (kind 'float', 'int' or 'categorical')", dist);
  }
}

/** The index of `value` in a categorical distribution, or -1. */
export function choiceIndex(dist: CategoricalDistribution, value: unknown): number {
  for (let i = 0; i < dist.choices.length; i++) if (dist.choices[i] === value) return i;
  return -1;
}

/**
 * Checks that `value` belongs to `dist` and returns it typed.
 * @throws InvalidParamValueError naming the parameter, the value and the distribution.
 */
export function validateParamValue(name: string, dist: Distribution, value: unknown): ParamValue {
  if (!contains(dist, value)) {
    throw new InvalidParamValueError(
      name,
      `value ${describeValue(value)} is not in the distribution ${JSON.stringify(distributionToJson(dist))}`,
    );
  }
  return value as ParamValue;
}

/** Plain JSON form of a distribution (it is already plain data: this is a defensive copy). */
export type DistributionJson =
  | { kind: 'float'; low: number; high: number; log: boolean; step: number | null }
  | { kind: 'int'; low: number; high: number; log: boolean; step: number }
  | { kind: 'categorical'; choices: CategoricalChoice[] };

/** The JSON form of a distribution, a fresh object that `distributionFromJson` reads back. */
export function distributionToJson(dist: Distribution): DistributionJson {
  switch (dist.kind) {
    case 'float':
      return { kind: 'float', low: dist.low, high: dist.high, log: dist.log, step: dist.step };
    case 'int':
      return { kind: 'int', low: dist.low, high: dist.high, log: dist.log, step: dist.step };
    case 'categorical':
      return { kind: 'categorical', choices: [...dist.choices] };
  }
}

const KEYS: Record<Distribution['kind'], readonly string[]> = {
  float: ['kind', 'low', 'high', 'log', 'step'],
  int: ['kind', 'low', 'high', 'log', 'step'],
  categorical: ['kind', 'choices'],
};

/**
 * Parses and validates a distribution from JSON data (as written by `distributionToJson`).
 * `name` is used in error messages (null when unknown).
 * @throws SearchSpaceError on anything malformed.
 */
export function distributionFromJson(json: unknown, name: string | null = null): Distribution {
  const label = name ?? 'distribution';
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new SearchSpaceError(name, `a distribution must be an object, received ${describeValue(json)}`);
  }
  const record = json as Record<string, unknown>;
  const kind = record.kind;
  if (kind !== 'float' && kind !== 'int' && kind !== 'categorical') {
    throw new SearchSpaceError(name, `distribution kind must be "float", "int" or "categorical", received ${describeValue(kind)}`);
  }
  for (const key of Object.keys(record)) {
    if (!KEYS[kind].includes(key)) throw new SearchSpaceError(name, `unknown field "${key}" in a ${kind} distribution`);
  }
  try {
    if (kind === 'categorical') return categoricalDistribution(label, record.choices as CategoricalChoice[]);
    const options = { log: record.log ?? false, step: record.step ?? undefined } as NumericSuggestOptions;
    return kind === 'float'
      ? floatDistribution(label, record.low as number, record.high as number, options)
      : intDistribution(label, record.low as number, record.high as number, options);
  } catch (error) {
    if (name === null && error instanceof SearchSpaceError) {
      throw new SearchSpaceError(null, `invalid ${kind} distribution: ${error.message.slice(label.length + 14)}`);
    }
    throw error;
  }
}
