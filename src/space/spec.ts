/**
 * Declarative search spaces (`SpaceSpec`, see types.ts): validation, sampling through a
 * `Suggester`, grid enumeration and the nested-config view.
 *
 * Naming of conditional parameters. A categorical whose `choices` is an object of sub-spaces is
 * suggested over its keys; the sub-space of the chosen key is then suggested with names prefixed by
 * `<categorical>.<key>.`. With
 *
 *     optimizer: {type: categorical, choices: {sgd: {momentum: {type: float, low: 0, high: 0.99}}, adam: {}}}
 *
 * the parameters are `optimizer` ("sgd" | "adam") and, only when "sgd" is chosen,
 * `optimizer.sgd.momentum`. The flat record `{optimizer: 'sgd', 'optimizer.sgd.momentum': 0.9}` is
 * what `suggestFromSpec` and `enumerateGrid` return (names are unique and match the trial's params);
 * `toNestedConfig` turns it into `{optimizer: {sgd: {momentum: 0.9}}}` (the chosen branch is the one
 * key of the categorical's object). Because '.' separates levels, parameter names in a spec may not
 * contain '.'; nor may a name or a choice key be "__proto__" (it would set a record's prototype).
 */
import { SearchSpaceError } from '../errors.js';
import { categoricalDistribution, floatDistribution, intDistribution, isCategoricalChoice } from './distributions.js';
import { floatGridValue } from './encode.js';
import type { Suggester } from './suggester.js';
import type {
  CategoricalChoice,
  Distribution,
  FloatDistribution,
  FloatParamSpec,
  IntParamSpec,
  NumericSuggestOptions,
  ParamSpec,
  ParamValue,
  SpaceSpec,
} from './types.js';

/** Most points `enumerateGrid` will produce. */
export const MAX_GRID_POINTS = 1_000_000;

/** A nested configuration, as produced by `toNestedConfig`. */
export interface NestedConfig {
  readonly [name: string]: ParamValue | NestedConfig;
}

const validated = new WeakSet<object>();

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const NUMERIC_KEYS = ['type', 'low', 'high', 'log', 'step', 'n'];

function checkKeys(path: string, spec: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(spec)) {
    if (!allowed.includes(key)) {
      throw new SearchSpaceError(path, `unknown field "${key}" (allowed: ${allowed.join(', ')})`);
    }
  }
}

function validateParam(path: string, raw: unknown): ParamSpec {
  if (!isPlainObject(raw)) {
    throw new SearchSpaceError(path, `expected an object with a "type" (float, int, categorical, const), received ${describe(raw)}`);
  }
  switch (raw.type) {
    case 'float':
    case 'int': {
      checkKeys(path, raw, NUMERIC_KEYS);
      // step: null (YAML `~`, DistributionJson's continuous float) means no step, as it does for
      // floatDistribution; kept as null, the grid counted 1 / null steps ("Infinity points").
      const hasStep = raw.step !== undefined && raw.step !== null;
      const options: { log?: boolean; step?: number } = {};
      if (raw.log !== undefined) options.log = raw.log as boolean;
      if (hasStep) options.step = raw.step as number;
      const dist =
        raw.type === 'float'
          ? floatDistribution(path, raw.low as number, raw.high as number, options)
          : intDistribution(path, raw.low as number, raw.high as number, options);
      const out: { -readonly [K in keyof FloatParamSpec]: FloatParamSpec[K] } = { type: 'float', low: dist.low, high: dist.high };
      if (raw.type === 'int') (out as unknown as { type: string }).type = 'int';
      if (raw.log !== undefined) out.log = dist.log;
      if (hasStep) out.step = dist.step as number;
      if (raw.n !== undefined) {
        if (typeof raw.n !== 'number' || !Number.isSafeInteger(raw.n) || raw.n < 1) {
          throw new SearchSpaceError(path, `n (grid points) must be an integer >= 1, received ${describe(raw.n)}`);
        }
        if (hasStep) throw new SearchSpaceError(path, 'give either step or n (grid points), not both');
        out.n = raw.n;
      }
      return Object.freeze(out) as ParamSpec;
    }
    case 'categorical': {
      checkKeys(path, raw, ['type', 'choices']);
      const choices = raw.choices;
      if (Array.isArray(choices)) {
        const dist = categoricalDistribution(path, choices as CategoricalChoice[]);
        return Object.freeze({ type: 'categorical', choices: dist.choices });
      }
      if (!isPlainObject(choices)) {
        throw new SearchSpaceError(path, `choices must be an array or an object of sub-spaces, received ${describe(choices)}`);
      }
      const keys = Object.keys(choices);
      if (keys.length === 0) throw new SearchSpaceError(path, 'choices must not be empty');
      const branches: Record<string, SpaceSpec> = {};
      for (const key of keys) {
        if (key === '' || key.includes('.') || key === '__proto__') {
          throw new SearchSpaceError(path, `choice key ${JSON.stringify(key)} must be non-empty, contain no '.' and not be "__proto__"`);
        }
        const sub = choices[key];
        const subSpec = sub === null ? {} : sub;
        if (!isPlainObject(subSpec)) {
          throw new SearchSpaceError(`${path}.${key}`, `a sub-space must be an object (use {} for none), received ${describe(sub)}`);
        }
        branches[key] = validateSpec(subSpec, `${path}.${key}.`);
      }
      return Object.freeze({ type: 'categorical', choices: Object.freeze(branches) });
    }
    case 'const': {
      checkKeys(path, raw, ['type', 'value']);
      if (!isCategoricalChoice(raw.value)) {
        throw new SearchSpaceError(path, `const value must be a string, finite number, boolean or null, received ${describe(raw.value)}`);
      }
      return Object.freeze({ type: 'const', value: raw.value });
    }
    default:
      throw new SearchSpaceError(path, `type must be "float", "int", "categorical" or "const", received ${describe(raw.type)}`);
  }
}

function validateSpec(raw: Record<string, unknown>, prefix: string): SpaceSpec {
  const out: Record<string, ParamSpec> = {};
  for (const [name, param] of Object.entries(raw)) {
    if (name === '' || name.includes('.') || name === '__proto__') {
      // "__proto__" (an own key of JSON.parse output) would set the prototype of the records
      // built here instead of adding a parameter: it would vanish without a word.
      throw new SearchSpaceError(
        `${prefix}${name}`,
        "parameter names in a space spec must be non-empty, contain no '.' (it separates conditional levels) and not be \"__proto__\"",
      );
    }
    out[name] = validateParam(`${prefix}${name}`, param);
  }
  return Object.freeze(out);
}

/**
 * Validates a declarative space (e.g. parsed from YAML or JSON) and returns a frozen, normalized
 * copy. Unknown fields are errors (they are usually typos).
 * @throws SearchSpaceError whose `param` is the dotted path to the bad parameter (`optimizer.sgd.momentum`).
 */
export function validateSpaceSpec(spec: unknown): SpaceSpec {
  if (isPlainObject(spec) && validated.has(spec)) return spec as SpaceSpec;
  if (!isPlainObject(spec)) {
    throw new SearchSpaceError(null, `a space spec must be an object of parameter name -> spec, received ${describe(spec)}`);
  }
  const result = validateSpec(spec, '');
  validated.add(result);
  return result;
}

interface BranchingSpec {
  readonly type: 'categorical';
  readonly choices: Readonly<Record<string, SpaceSpec>>;
}

function isBranching(param: ParamSpec): param is ParamSpec & BranchingSpec {
  return param.type === 'categorical' && !Array.isArray(param.choices);
}

function numericOptions(param: FloatParamSpec | IntParamSpec): NumericSuggestOptions | undefined {
  if (param.log === undefined && param.step === undefined) return undefined;
  const options: { log?: boolean; step?: number } = {};
  if (param.log !== undefined) options.log = param.log;
  if (param.step !== undefined) options.step = param.step;
  return options;
}

function suggestInto(suggester: Suggester, spec: SpaceSpec, prefix: string, out: Record<string, ParamValue>): void {
  for (const [name, param] of Object.entries(spec)) {
    const full = prefix + name;
    switch (param.type) {
      case 'float':
        out[full] = suggester.suggestFloat(full, param.low, param.high, numericOptions(param));
        break;
      case 'int':
        out[full] = suggester.suggestInt(full, param.low, param.high, numericOptions(param));
        break;
      case 'categorical':
        if (isBranching(param)) {
          const key = suggester.suggestCategorical(full, Object.keys(param.choices));
          out[full] = key;
          suggestInto(suggester, param.choices[key], `${full}.${key}.`, out);
        } else {
          out[full] = suggester.suggestCategorical(full, param.choices as readonly CategoricalChoice[]);
        }
        break;
      case 'const':
        out[full] = param.value;
        break;
    }
  }
}

/**
 * Samples a declarative space through `suggester` (a live trial), in key order, recursing into the
 * chosen branch of conditional categoricals. Returns the flat record keyed by namespaced names
 * (see the file comment); constants are included but not suggested.
 * @throws SearchSpaceError when `spec` is invalid.
 */
export function suggestFromSpec(suggester: Suggester, spec: SpaceSpec): Record<string, ParamValue> {
  const checked = validateSpaceSpec(spec);
  const out: Record<string, ParamValue> = {};
  suggestInto(suggester, checked, '', out);
  return out;
}

/**
 * The distribution of every parameter a declarative space can suggest, keyed by namespaced name,
 * those of every branch of a conditional categorical included; constants are left out (they are
 * not suggested).
 * @throws SearchSpaceError when `spec` is invalid.
 */
export function specDistributions(spec: SpaceSpec): Record<string, Distribution> {
  const out: Record<string, Distribution> = {};
  const visit = (sub: SpaceSpec, prefix: string): void => {
    for (const [name, param] of Object.entries(sub)) {
      const full = prefix + name;
      if (param.type === 'float') out[full] = floatDistribution(full, param.low, param.high, numericOptions(param));
      else if (param.type === 'int') out[full] = intDistribution(full, param.low, param.high, numericOptions(param));
      else if (isBranching(param)) {
        out[full] = categoricalDistribution(full, Object.keys(param.choices));
        for (const [key, branch] of Object.entries((param as BranchingSpec).choices)) visit(branch, `${full}.${key}.`);
      } else if (param.type === 'categorical') {
        out[full] = categoricalDistribution(full, param.choices as readonly CategoricalChoice[]);
      }
    }
  };
  visit(validateSpaceSpec(spec), '');
  return out;
}

function nestInto(spec: SpaceSpec, prefix: string, flat: Readonly<Record<string, ParamValue>>): NestedConfig {
  const out: Record<string, ParamValue | NestedConfig> = {};
  for (const [name, param] of Object.entries(spec)) {
    const full = prefix + name;
    if (param.type === 'const' && !Object.prototype.hasOwnProperty.call(flat, full)) {
      out[name] = param.value;
      continue;
    }
    if (!Object.prototype.hasOwnProperty.call(flat, full)) {
      throw new SearchSpaceError(full, 'has no value in the given parameters');
    }
    const value = flat[full];
    if (isBranching(param)) {
      // A parameter value only: String() of a null-prototype object throws, and JSON.stringify of a bigint.
      const key = isCategoricalChoice(value) ? String(value) : null;
      // Own keys only: "toString" or "constructor" must not find Object.prototype's members.
      const sub = key !== null && Object.prototype.hasOwnProperty.call(param.choices, key) ? param.choices[key] : undefined;
      if (sub === undefined || key === null) {
        throw new SearchSpaceError(full, `value ${describe(value)} is not one of the choices`);
      }
      out[name] = { [key]: nestInto(sub, `${full}.${key}.`, flat) };
    } else {
      out[name] = value;
    }
  }
  return out;
}

/**
 * The nested view of a flat parameter record: `{optimizer: 'sgd', 'optimizer.sgd.momentum': 0.9}`
 * becomes `{optimizer: {sgd: {momentum: 0.9}}}`; plain parameters stay `name: value`.
 * A `const` parameter missing from `flat` takes its value from the spec.
 * @throws SearchSpaceError when `flat` is not an object, when a parameter of the taken branches is
 * missing, when the value of a conditional categorical is not one of its choices, or when `spec` is invalid.
 */
export function toNestedConfig(spec: SpaceSpec, flat: Readonly<Record<string, ParamValue>>): NestedConfig {
  const checked = validateSpaceSpec(spec);
  if (!isPlainObject(flat)) {
    throw new SearchSpaceError(null, `parameters must be an object of name -> value, received ${describe(flat)}`);
  }
  return nestInto(checked, '', flat);
}

// ---------------------------------------------------------------------------------------------
// Grids
// ---------------------------------------------------------------------------------------------

function gridSizeError(count: number): SearchSpaceError {
  return new SearchSpaceError(null, `the grid has ${count} points; at most ${MAX_GRID_POINTS} are supported`);
}

function numericCount(path: string, param: FloatParamSpec | IntParamSpec): number {
  if (param.n !== undefined) return param.n;
  if (param.type === 'float') {
    if (param.step === undefined) {
      if (param.low === param.high) return 1;
      throw new SearchSpaceError(path, 'grid search needs step or n for a float parameter');
    }
    return Math.round((param.high - param.low) / param.step) + 1;
  }
  return (param.high - param.low) / (param.step ?? 1) + 1;
}

/** Upper bound (exact unless `n` values collapse, rounded onto an int grid or in doubles) of the number of grid points. */
function countSpec(spec: SpaceSpec, prefix: string): number {
  let total = 1;
  for (const [name, param] of Object.entries(spec)) {
    const full = prefix + name;
    let count: number;
    if (param.type === 'float' || param.type === 'int') count = numericCount(full, param);
    else if (param.type === 'const') count = 1;
    else if (isBranching(param)) {
      count = 0;
      for (const [key, sub] of Object.entries((param as BranchingSpec).choices)) count += countSpec(sub, `${full}.${key}.`);
    } else count = (param.choices as readonly CategoricalChoice[]).length;
    total *= count;
    if (total > MAX_GRID_POINTS) throw gridSizeError(total);
  }
  return total;
}

function numericValues(param: FloatParamSpec | IntParamSpec): number[] {
  const { low, high } = param;
  if (param.type === 'float') {
    if (param.n === undefined) {
      if (param.step === undefined) return [low];
      const dist: FloatDistribution & { step: number } = { kind: 'float', low, high, log: false, step: param.step };
      const n = Math.round((high - low) / param.step);
      return Array.from({ length: n + 1 }, (_, k) => floatGridValue(dist, k));
    }
    // Over a range narrow against |low|, exp (log) or rounding puts interior points on an end or
    // on each other: the grid would run a point twice.
    return spaced(low, high, param.n, param.log === true).filter((v, i, all) => i === 0 || v !== all[i - 1]);
  }
  const step = param.step ?? 1;
  if (param.n === undefined) {
    const n = (high - low) / step;
    return Array.from({ length: n + 1 }, (_, k) => low + k * step);
  }
  const values: number[] = [];
  for (const v of spaced(low, high, param.n, param.log === true)) {
    const snapped = Math.min(high, Math.max(low, low + Math.round((v - low) / step) * step));
    if (values.length === 0 || values[values.length - 1] !== snapped) values.push(snapped);
  }
  return values;
}

/**
 * n points from low to high inclusive, evenly spaced (geometrically when log), clamped to
 * [low, high]. n = 1 gives [low].
 */
function spaced(low: number, high: number, n: number, log: boolean): number[] {
  if (n === 1 || low === high) return [low];
  const out: number[] = [];
  const a = log ? Math.log(low) : low;
  const b = log ? Math.log(high) : high;
  for (let i = 0; i < n; i++) {
    if (i === 0) out.push(low);
    else if (i === n - 1) out.push(high);
    else {
      // (b - a) * i overflows on a range near Number.MAX_VALUE wide (every later point became
      // high); there, divide first. Elsewhere multiply first, as before, so existing grids keep
      // their values (a resumed study re-enumerates its grid).
      const span = (b - a) * i;
      const t = a + (Number.isFinite(span) ? span / (n - 1) : (b - a) * (i / (n - 1)));
      const v = log ? Math.exp(t) : t;
      // exp(ln low + ...) can round past an end of a range narrow against |low|.
      out.push(v < low ? low : v > high ? high : v);
    }
  }
  return out;
}

type Point = Record<string, ParamValue>;

function product(left: readonly Point[], right: readonly Point[]): Point[] {
  const out: Point[] = [];
  for (const a of left) for (const b of right) out.push({ ...a, ...b });
  return out;
}

function enumerateSpec(spec: SpaceSpec, prefix: string): Point[] {
  let points: Point[] = [{}];
  for (const [name, param] of Object.entries(spec)) {
    const full = prefix + name;
    let options: Point[];
    switch (param.type) {
      case 'float':
      case 'int':
        options = numericValues(param).map((v) => ({ [full]: v }));
        break;
      case 'const':
        options = [{ [full]: param.value }];
        break;
      case 'categorical':
        if (isBranching(param)) {
          options = [];
          for (const [key, sub] of Object.entries((param as BranchingSpec).choices)) {
            for (const subPoint of enumerateSpec(sub, `${full}.${key}.`)) options.push({ [full]: key, ...subPoint });
          }
        } else {
          options = (param.choices as readonly CategoricalChoice[]).map((c) => ({ [full]: c }));
        }
        break;
    }
    points = product(points, options);
  }
  return points;
}

/**
 * Every point of the grid of a declarative space, as flat records (namespaced names), in
 * lexicographic order with the first parameter varying slowest. Each branch of a conditional
 * categorical contributes the grid of its own sub-space. Numeric parameters use every `step`
 * point, or `n` evenly spaced points (geometric for `log`; ints rounded onto their step grid, and
 * points that coincide in doubles, deduplicated); ints without `n` use every integer (every `step`).
 * @throws SearchSpaceError for a float without step or n, or more than 1e6 points.
 */
export function enumerateGrid(spec: SpaceSpec): Record<string, ParamValue>[] {
  const checked = validateSpaceSpec(spec);
  countSpec(checked, '');
  return enumerateSpec(checked, '');
}

/**
 * The Cartesian product of per-parameter value lists (Optuna's `GridSampler` search space), in the
 * same order as `enumerateGrid`.
 * @throws SearchSpaceError for an empty or invalid list, duplicates, or more than 1e6 points.
 */
export function enumerateValueGrid(values: Readonly<Record<string, readonly ParamValue[]>>): Record<string, ParamValue>[] {
  if (!isPlainObject(values)) {
    throw new SearchSpaceError(null, `a value grid must be an object of name -> values, received ${describe(values)}`);
  }
  let total = 1;
  for (const [name, list] of Object.entries(values)) {
    if (!Array.isArray(list) || list.length === 0) {
      throw new SearchSpaceError(name, `grid values must be a non-empty array, received ${describe(list)}`);
    }
    categoricalDistribution(name, list as CategoricalChoice[]);
    total *= list.length;
    if (total > MAX_GRID_POINTS) throw gridSizeError(total);
  }
  let points: Point[] = [{}];
  for (const [name, list] of Object.entries(values)) points = product(points, list.map((v) => ({ [name]: v })));
  return points;
}
