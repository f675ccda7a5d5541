/**
 * The one place that maps parameter values to and from numeric coordinates.
 *
 * Notation: for a numeric distribution with bounds [a, b], u in [0, 1] is the unit coordinate.
 *
 * `encode` / `decode` (the representation the GP and other model-based samplers use):
 * - continuous float:      u = (v - a) / (b - a)                       (0.5 when a = b)
 * - log float:             u = (ln v - ln a) / (ln b - ln a)           (0.5 when a = b)
 * - int, stepped float:    u = (v - a + s/2) / (b - a + s), s = step: the interval is widened by half
 *                          a step on each side, so each of the n + 1 grid points owns a cell of width
 *                          1/(n + 1) and u is that cell's center (as Optuna's _SearchSpaceTransform).
 *                          A uniform u is then uniform over the grid points; the brief's
 *                          (v - a)/(b - a) would give the two end points half the mass of the others.
 * - log int:               u = (ln v - ln(a - 1/2)) / (ln(b + 1/2) - ln(a - 1/2)) (same half-cell idea
 *                          in log space; src/util/log-int.ts, whose C++ twin
 *                          native/include/kestrel/log_int.h the acquisition search uses). Only
 *                          these b - a + 1 coordinates are feasible: a model-based sampler must
 *                          search the dim there (`logIntBounds`), as GpSampler does.
 * - degenerate log ranges: a log float whose ln b - ln a rounds to 0 (b within a few ulp of a in
 *                          log terms, e.g. [1e15, 1e15 + 0.5]) is encoded as a continuous float,
 *                          and a log int whose log coordinates cannot tell its end integers apart
 *                          (a range narrow against its magnitude, low above ~1e14, e.g.
 *                          [2^52 - 3, 2^52]), and a single-point log int, as an int (0.5, as
 *                          every single-point distribution): over such a range the log map is the
 *                          linear one to within rounding, and evaluated in logs it gives NaN
 *                          (0 / 0) or collapses the integers onto two coordinates.
 * - categorical:           the choice index 0..n-1 (NOT in [0, 1]; models use a Hamming distance on
 *                          such coordinates).
 * `decode` clamps numeric u to [0, 1], maps back, snaps to the step grid, and always returns a value
 * for which `contains(dist, value)` holds; categorical indices are rounded and clamped.
 *
 * `fromUnit` / `toUnit` are the same maps except that a categorical takes u in [0, 1) too (choice
 * floor(u * n)); random and quasi-random samplers draw u uniformly and call `fromUnit`.
 */
import { InvalidParamValueError, NumericalError, describeValue } from '../errors.js';
import { decodeLogInt, encodeLogInt } from '../util/log-int.js';
import { checkDistribution, choiceIndex, floatGridValue, floatStepCount } from './distributions.js';
import type { Distribution, FloatDistribution, IntDistribution, ParamValue } from './types.js';

/** Re-exported from distributions.ts, where `contains` needs it. */
export { floatGridValue };

function clamp01(u: number): number {
  if (Number.isNaN(u)) throw new NumericalError('cannot decode NaN to a parameter value');
  return u < 0 ? 0 : u > 1 ? 1 : u;
}

/** Log float whose ln high - ln low is not > 0 in doubles: encoded linearly (see the file comment). */
function logFloatDegenerate(dist: FloatDistribution): boolean {
  return dist.log && dist.low < dist.high && !(Math.log(dist.high) - Math.log(dist.low) > 0);
}

/**
 * Log int that is a single point (the log-int map needs low < high: at [5, 5] it gave 0.525, and
 * from about 1e15 on 0 / 0 = NaN), or narrow (high + 1/2 < 2 (low - 1/2)) with log coordinates
 * that do not separate low from low + 1 or high - 1 from high: encoded as a linear int (see the
 * file comment).
 */
function logIntDegenerate(dist: IntDistribution): boolean {
  const { low: a, high: b } = dist;
  if (!dist.log) return false;
  if (a === b) return true;
  if (b + 0.5 >= 2 * (a - 0.5)) return false;
  return !(encodeLogInt(a + 1, a, b) > encodeLogInt(a, a, b)) || !(encodeLogInt(b, a, b) > encodeLogInt(b - 1, a, b));
}

/** The int's coordinates are log ones (`encodeLogInt`): log: true and not degenerate. */
function isLogInt(dist: Distribution): boolean {
  return dist.kind === 'int' && dist.log && !logIntDegenerate(dist);
}

function stepCount(dist: Distribution): number {
  if (dist.kind === 'int') return (dist.high - dist.low) / dist.step;
  return floatStepCount(dist as FloatDistribution & { step: number });
}

/**
 * The numeric coordinate of `value` (see the file comment). `name` is used in errors only. Throws
 * `InvalidParamValueError` for a categorical value that is not one of the choices and for a numeric
 * one that is not a finite number (NaN, +-Infinity, a string); it does not check the bounds.
 */
export function encode(dist: Distribution, value: ParamValue, name = '(unnamed)'): number {
  checkDistribution(dist);
  switch (dist.kind) {
    case 'categorical': {
      const index = choiceIndex(dist, value);
      if (index < 0) throw new InvalidParamValueError(name, `${describeValue(value)} is not one of the choices`);
      return index;
    }
    case 'float':
    case 'int': {
      // NaN and +-Infinity gave a NaN or infinite coordinate without a word (typeof is 'number').
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new InvalidParamValueError(name, `expected a finite number, received ${describeValue(value)}`);
      }
      if (dist.kind === 'float' && dist.step === null) {
        if (dist.high === dist.low) return 0.5;
        if (dist.log && !logFloatDegenerate(dist)) {
          return (Math.log(value) - Math.log(dist.low)) / (Math.log(dist.high) - Math.log(dist.low));
        }
        return (value - dist.low) / (dist.high - dist.low);
      }
      if (isLogInt(dist)) return encodeLogInt(value, dist.low, dist.high);
      const step = dist.step as number;
      const width = dist.high - dist.low + step;
      // Near Number.MAX_VALUE wide, high - low + step overflows (0 for every value, NaN for
      // high): count in steps there. Elsewhere keep this form (TPE's pinned suggestions use it).
      if (!Number.isFinite(width)) return ((value - dist.low) / step + 0.5) / (stepCount(dist) + 1);
      return (value - dist.low + step / 2) / width;
    }
  }
}

/** The value at coordinate `x` (see the file comment); always contained in `dist`. Throws `NumericalError` for NaN. */
export function decode(dist: Distribution, x: number): ParamValue {
  checkDistribution(dist);
  switch (dist.kind) {
    case 'categorical': {
      if (Number.isNaN(x)) throw new NumericalError('cannot decode NaN to a categorical choice');
      const n = dist.choices.length;
      const index = Math.round(x);
      return dist.choices[index < 0 ? 0 : index >= n ? n - 1 : index];
    }
    case 'float': {
      const u = clamp01(x);
      if (dist.step !== null) {
        const n = stepCount(dist);
        return floatGridValue(dist as FloatDistribution & { step: number }, Math.min(Math.floor(u * (n + 1)), n));
      }
      if (u === 0) return dist.low;
      if (u === 1) return dist.high;
      let v: number;
      if (dist.log && !logFloatDegenerate(dist)) {
        const lo = Math.log(dist.low);
        v = Math.exp(lo + u * (Math.log(dist.high) - lo));
      } else {
        v = dist.low + u * (dist.high - dist.low);
      }
      return v < dist.low ? dist.low : v > dist.high ? dist.high : v;
    }
    case 'int': {
      const u = clamp01(x);
      if (isLogInt(dist)) return decodeLogInt(u, dist.low, dist.high);
      const n = stepCount(dist);
      const k = Math.min(Math.floor(u * (n + 1)), n);
      // From the nearer end, so that the offset k * step stays below 2^53 and exact: from low
      // alone it can exceed 2^53 on a range wider than that and round off the grid.
      return 2 * k <= n ? dist.low + k * dist.step : dist.high - (n - k) * dist.step;
    }
  }
}

/**
 * Spacing of the encoded grid: 0 for continuous floats and for log ints (decode rounds; a degenerate
 * log int is a linear one), 1/(n + 1)
 * for ints and stepped floats with n + 1 grid points, and the number of choices for categoricals.
 */
export function gridSpacing(dist: Distribution): number {
  switch (dist.kind) {
    case 'categorical':
      return dist.choices.length;
    case 'float':
      return dist.step === null ? 0 : 1 / (stepCount(dist) + 1);
    case 'int':
      return isLogInt(dist) ? 0 : 1 / (stepCount(dist) + 1);
  }
}

/**
 * The integer bounds [low, high] of a log-scaled int distribution (not a degenerate one, which
 * is encoded as a linear int: see the file comment), else null. Its feasible
 * coordinates are `encodeLogInt(k, low, high)` for the integers k in [low, high]
 * (OptimizeAcquisitionOptions.logIntBounds in src/surrogate/backend.ts).
 */
export function logIntBounds(dist: Distribution): readonly [number, number] | null {
  return dist.kind === 'int' && isLogInt(dist) ? [dist.low, dist.high] : null;
}

/**
 * Every value of a discrete distribution (a categorical's choices, an int's or a stepped float's
 * grid points), in coordinate order, when it has at most `limit` of them; null for a continuous
 * float or a larger set. Each is `decode` of its own coordinate, so `encode` / `decode` round-trip
 * it (a model-based sampler enumerating a small discrete space, as GpSampler does to avoid
 * repeats).
 */
export function discreteValues(dist: Distribution, limit: number): ParamValue[] | null {
  checkDistribution(dist);
  if (dist.kind === 'categorical') return dist.choices.length <= limit ? [...dist.choices] : null;
  if (dist.kind === 'float' && dist.step === null) return dist.low === dist.high ? [dist.low] : null;
  if (isLogInt(dist)) {
    if (dist.high - dist.low + 1 > limit) return null;
    return Array.from({ length: dist.high - dist.low + 1 }, (_, k) => dist.low + k);
  }
  const n = stepCount(dist);
  if (!(n + 1 <= limit)) return null;
  // Cell k's centre decodes to grid point k (the stepped and int maps of the file comment).
  return Array.from({ length: n + 1 }, (_, k) => decode(dist, (k + 0.5) / (n + 1)));
}

/** Like `decode`, but a categorical also takes u in [0, 1]: choice min(floor(u * n), n - 1). */
export function fromUnit(dist: Distribution, u: number): ParamValue {
  if (dist.kind === 'categorical') {
    const n = dist.choices.length;
    const index = Math.floor(clamp01(u) * n);
    return dist.choices[index >= n ? n - 1 : index];
  }
  return decode(dist, u);
}

/** Inverse of `fromUnit`: a categorical choice i maps to the center (i + 1/2) / n of its cell. */
export function toUnit(dist: Distribution, value: ParamValue, name = '(unnamed)'): number {
  if (dist.kind === 'categorical') return (encode(dist, value, name) + 0.5) / dist.choices.length;
  return encode(dist, value, name);
}
