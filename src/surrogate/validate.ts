/**
 * Boundary checks shared by the surrogate backends: typed-array lengths, finiteness and option
 * ranges. Every failure is an `InvalidOptionError` naming the argument, what was expected and
 * what was received, so a wrong length never reaches the math.
 */
import { InvalidOptionError } from '../errors.js';
import { encodeLogInt } from '../util/log-int.js';
import { SOBOL_MAX_DIMENSION } from '../util/sobol.js';
import type {
  AcquisitionOptions,
  AppendOptions,
  FitOptions,
  GpTrainingData,
  KernelKind,
  OptimizeAcquisitionOptions,
} from './backend.js';
import { currentModel } from './backend.js';

const KERNELS = ['matern52', 'rbf'];
const ACQUISITIONS = ['logei', 'ucb', 'pi', 'logehvi'];
/** Most objectives of a 'logehvi' acquisition (native/include/kestrel/acquisition.h kMaxHypervolumeObjectives). */
export const MAX_HYPERVOLUME_OBJECTIVES = 16;

/**
 * The most candidate coordinates (nCandidates * d) one acquisition maximization may score: 2^25
 * doubles, 256 MiB per copy. The candidates exist about three times at once (the Sobol points,
 * the set with local candidates interleaved, and the native addon's copy), so this keeps a call
 * under ~1 GiB; the default 2048 candidates fit up to SOBOL_MAX_DIMENSION dims many times over.
 */
export const MAX_CANDIDATE_COORDINATES = 2 ** 25;

/**
 * The smallest ordinal grid spacing (the smallest normal double, 2^-1022): its cell count
 * round(1 / g) must be finite. A subnormal spacing made 1 / g infinite, and the cell centres
 * (i + 1/2) / cells NaN (TypeScript) or 0 (native), so the search returned an infeasible point.
 * src/space/encode.ts `gridSpacing` never comes near it (1 / (number of values)).
 */
export const MIN_GRID_SPACING = 2 ** -1022;

export function checkCount(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(name, `an integer in [${min}, ${max}]`, value);
  }
  return value;
}

export function checkFloat64(name: string, value: unknown, length: number, finite = true): Float64Array {
  if (!(value instanceof Float64Array)) {
    throw new InvalidOptionError(name, `a Float64Array of length ${length}`, describeArray(value));
  }
  if (value.length !== length) {
    throw new InvalidOptionError(name, `a Float64Array of length ${length}`, `length ${value.length}`);
  }
  if (finite) {
    for (let i = 0; i < length; i++) {
      if (!Number.isFinite(value[i])) {
        throw new InvalidOptionError(`${name}[${i}]`, 'a finite number', value[i]);
      }
    }
  }
  return value;
}

function describeArray(value: unknown): unknown {
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  return value;
}

/**
 * Checks shapes, that each isCategorical flag is 0 or 1, and that categorical entries hold
 * integral, non-negative choice indices.
 */
export function checkTrainingData(data: GpTrainingData, allowEmpty = false): void {
  if (typeof data !== 'object' || data === null) throw new InvalidOptionError('data', 'an object', data);
  const n = checkCount('data.n', data.n, allowEmpty ? 0 : 1);
  const d = checkCount('data.d', data.d, 1, 10_000);
  checkFloat64('data.x', data.x, n * d);
  checkFloat64('data.y', data.y, n);
  if (!(data.isCategorical instanceof Uint8Array) || data.isCategorical.length !== d) {
    throw new InvalidOptionError('data.isCategorical', `a Uint8Array of length ${d}`, describeArray(data.isCategorical));
  }
  for (let j = 0; j < d; j++) {
    if (data.isCategorical[j] > 1) {
      throw new InvalidOptionError(`data.isCategorical[${j}]`, '0 (continuous) or 1 (categorical)', data.isCategorical[j]);
    }
  }
  checkInputs('data.x', data.x, n, d, data.isCategorical);
}

/** Continuous dims must lie in [0, 1] (with a little slack); categorical dims must be indices. */
export function checkInputs(name: string, x: Float64Array, m: number, d: number, isCategorical: Uint8Array): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < d; j++) {
      const v = x[i * d + j];
      if (isCategorical[j] === 1) {
        if (!Number.isInteger(v) || v < 0) {
          throw new InvalidOptionError(`${name}[${i * d + j}]`, 'a non-negative integer choice index (categorical dim)', v);
        }
      } else if (v < -1e-9 || v > 1 + 1e-9) {
        throw new InvalidOptionError(`${name}[${i * d + j}]`, 'a value in [0, 1]', v);
      }
    }
  }
}

export function checkFitOptions(options: FitOptions, d: number): void {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'an object', options);
  if (!KERNELS.includes(options.kernel)) throw new InvalidOptionError('kernel', `one of ${KERNELS.join(', ')}`, options.kernel);
  if (typeof options.deterministic !== 'boolean') {
    throw new InvalidOptionError('deterministic', 'a boolean', options.deterministic);
  }
  checkCount('nRestarts', options.nRestarts, 0, 1000);
  checkSeed(options.seed);
  checkCount('numThreads', options.numThreads, 1, 4096);
  if (options.warmStart !== null) checkFloat64('warmStart', options.warmStart, d + 2);
  if (options.maxIterations !== undefined) checkCount('maxIterations', options.maxIterations, 1, 100_000);
}

/** The arguments of `negLogPosterior` and `negLogPosteriorHessian` (every backend checks them alike). */
export function checkPosteriorArgs(data: GpTrainingData, theta: Float64Array, kernel: KernelKind, deterministic: boolean): void {
  checkTrainingData(data);
  checkFloat64('theta', theta, data.d + 2);
  checkFitOptions({ kernel, deterministic, nRestarts: 0, seed: 0, warmStart: null, numThreads: 1 }, data.d);
}

export function checkSeed(seed: unknown): number {
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) {
    throw new InvalidOptionError('seed', 'a non-negative safe integer', seed);
  }
  return seed;
}

/** FittedGp.append's options: an object whose `noiseless`, when given, is a boolean. */
export function checkAppendOptions(options: unknown): AppendOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'an object {noiseless?}', options);
  const noiseless = (options as AppendOptions).noiseless;
  if (noiseless !== undefined && typeof noiseless !== 'boolean') throw new InvalidOptionError('noiseless', 'a boolean', noiseless);
  return options as AppendOptions;
}

export function checkAcquisitionOptions(options: AcquisitionOptions): void {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'an object', options);
  checkAcquisitionKind(options, '');
  const terms: unknown = options.terms;
  let objectives = 1;
  if (terms !== undefined) {
    if (!Array.isArray(terms)) throw new InvalidOptionError('terms', 'an array of {model, kind, incumbent, beta}', terms);
    // Indexed, not forEach: forEach skips the holes of a sparse array, which then reached the
    // backends as undefined terms.
    for (let i = 0; i < terms.length; i++) {
      const term: unknown = terms[i];
      if (typeof term !== 'object' || term === null) {
        throw new InvalidOptionError(`terms[${i}]`, 'an object {model, kind, incumbent, beta}', term);
      }
      const t = term as Record<string, unknown>;
      if ('terms' in t && t.terms !== undefined) {
        throw new InvalidOptionError(`terms[${i}].terms`, 'absent (terms carry no terms of their own)', t.terms);
      }
      checkAcquisitionKind(t as unknown as AcquisitionOptions, `terms[${i}].`);
      if (t.kind === 'logehvi') {
        if (options.kind !== 'logehvi') throw new InvalidOptionError(`terms[${i}].kind`, "'logehvi' only under a 'logehvi' acquisition", t.kind);
        objectives++;
      }
    }
  }
  if (options.kind === 'logehvi') checkHypervolumeBoxes(options.boxes, objectives);
}

/** A 'logehvi' acquisition's boxes for k objectives (AcquisitionOptions.boxes). */
function checkHypervolumeBoxes(boxes: unknown, k: number): void {
  if (k > MAX_HYPERVOLUME_OBJECTIVES) {
    throw new InvalidOptionError('terms', `at most ${MAX_HYPERVOLUME_OBJECTIVES - 1} 'logehvi' terms`, `${k - 1} of them`);
  }
  const width = 2 * k;
  if (!(boxes instanceof Float64Array) || boxes.length === 0 || boxes.length % width !== 0) {
    throw new InvalidOptionError('boxes', `a Float64Array of rows of ${width} bounds (lower x ${k}, upper x ${k}), at least one row`, boxes);
  }
  for (let r = 0; r < boxes.length; r += width) {
    for (let j = 0; j < k; j++) {
      const lower = boxes[r + j];
      const upper = boxes[r + k + j];
      if (!Number.isFinite(lower)) throw new InvalidOptionError(`boxes[${r + j}]`, 'a finite lower bound', lower);
      if (!(upper > lower)) throw new InvalidOptionError(`boxes[${r + k + j}]`, `an upper bound above its lower bound ${lower} (+Infinity allowed)`, upper);
    }
  }
}

/** kind, incumbent and beta of an acquisition (or of its term, whose options `prefix` names). */
function checkAcquisitionKind(options: AcquisitionOptions, prefix: string): void {
  if (!ACQUISITIONS.includes(options.kind)) {
    throw new InvalidOptionError(`${prefix}kind`, `one of ${ACQUISITIONS.join(', ')}`, options.kind);
  }
  if (typeof options.incumbent !== 'number' || !Number.isFinite(options.incumbent)) {
    throw new InvalidOptionError(`${prefix}incumbent`, 'a finite number', options.incumbent);
  }
  if (typeof options.beta !== 'number' || !Number.isFinite(options.beta) || options.beta < 0) {
    throw new InvalidOptionError(`${prefix}beta`, 'a finite number >= 0', options.beta);
  }
}

/**
 * The term models of `options` as instances of `modelClass` over the same inputs as `self` (d and
 * categorical dims), for a backend's acquisition calls; a model of another backend or other
 * inputs is an InvalidOptionError naming `terms[i].model`.
 */
export function termModels<T extends { readonly d: number }>(
  options: AcquisitionOptions,
  modelClass: abstract new (...args: never[]) => T,
  self: { readonly d: number },
  isCategorical: (model: T) => Uint8Array,
  selfCategorical: Uint8Array,
): T[] {
  return (options.terms ?? []).map((term, i) => {
    const model: unknown = typeof term.model === 'object' && term.model !== null ? currentModel(term.model) : term.model;
    if (!(model instanceof modelClass)) {
      throw new InvalidOptionError(`terms[${i}].model`, 'a model fitted by the same backend', model);
    }
    const cat = isCategorical(model);
    if (model.d !== self.d || cat.length !== selfCategorical.length || cat.some((c, j) => c !== selfCategorical[j])) {
      throw new InvalidOptionError(`terms[${i}].model`, `a model over the same inputs (d = ${self.d}, the same categorical dims)`, `a model with d = ${model.d}`);
    }
    return model;
  });
}

/**
 * Checks optimizeAcquisition's options for a model of d dims. The candidates are scrambled Sobol
 * points, so d may not exceed SOBOL_MAX_DIMENSION (the model itself may have up to 10,000 dims:
 * fit, predict and acquisition work there), and nCandidates * d is bounded by
 * MAX_CANDIDATE_COORDINATES.
 */
export function checkOptimizeOptions(options: OptimizeAcquisitionOptions, d: number, isCategorical: Uint8Array): void {
  checkAcquisitionOptions(options);
  checkCount('nCandidates', options.nCandidates, 1, 1_000_000);
  if (d > SOBOL_MAX_DIMENSION) {
    throw new InvalidOptionError(
      'data.d',
      `at most ${SOBOL_MAX_DIMENSION} dims to optimize the acquisition (its Sobol candidates' limit; fit, predict and acquisition accept up to 10000)`,
      d,
    );
  }
  if (options.nCandidates * d > MAX_CANDIDATE_COORDINATES) {
    throw new InvalidOptionError(
      'nCandidates',
      `nCandidates * d <= ${MAX_CANDIDATE_COORDINATES} (at most ${Math.floor(MAX_CANDIDATE_COORDINATES / d)} candidates at d = ${d})`,
      options.nCandidates,
    );
  }
  checkCount('nRestarts', options.nRestarts, 0, 10_000);
  checkSeed(options.seed);
  checkCount('numThreads', options.numThreads, 1, 4096);
  const grid = checkFloat64('grid', options.grid, d);
  for (let j = 0; j < d; j++) {
    const g = grid[j];
    if (isCategorical[j] === 1) {
      if (!Number.isInteger(g) || g < 1) {
        throw new InvalidOptionError(`grid[${j}]`, 'the number of choices (an integer >= 1) for a categorical dim', g);
      }
    } else if (!(g === 0 || (g >= MIN_GRID_SPACING && g <= 1))) {
      throw new InvalidOptionError(`grid[${j}]`, `0 (continuous) or a spacing in [${MIN_GRID_SPACING}, 1]`, g);
    }
  }
  if (options.centers !== undefined) {
    const centers: unknown = options.centers;
    const rows = centers instanceof Float64Array && centers.length > 0 && centers.length % d === 0 ? centers.length / d : 0;
    if (rows === 0) throw new InvalidOptionError('centers', `a Float64Array of rows of ${d} encoded inputs, at least one row`, centers);
    checkFloat64('centers', centers, rows * d);
    checkInputs('centers', centers as Float64Array, rows, d, isCategorical);
    for (let i = 0; i < rows * d; i++) {
      const j = i % d;
      if (isCategorical[j] === 1 && (centers as Float64Array)[i] >= grid[j]) {
        throw new InvalidOptionError(`centers[${i}]`, `a choice index below ${grid[j]} (categorical dim)`, (centers as Float64Array)[i]);
      }
    }
  }
  if (options.fixedFeatures !== undefined) checkFixedFeatures(options.fixedFeatures, d, grid, isCategorical);
  if (options.logIntBounds === undefined) return;
  const bounds = checkFloat64('logIntBounds', options.logIntBounds, 2 * d);
  for (let j = 0; j < d; j++) {
    const low = bounds[2 * j];
    const high = bounds[2 * j + 1];
    if (low === 0 && high === 0) continue;
    if (!Number.isSafeInteger(low) || !Number.isSafeInteger(high) || low < 1 || !(low < high)) {
      throw new InvalidOptionError(
        `logIntBounds[${2 * j}]`,
        '[0, 0] or safe-integer bounds 1 <= low < high <= Number.MAX_SAFE_INTEGER',
        `[${low}, ${high}]`,
      );
    }
    if (!(encodeLogInt(high, low, high) > encodeLogInt(low, low, high))) {
      throw new InvalidOptionError(
        `logIntBounds[${2 * j}]`,
        'bounds whose log-int coordinates are distinct in double precision (ln(high + 1/2) > ln(low - 1/2))',
        `[${low}, ${high}]`,
      );
    }
    if (isCategorical[j] === 1 || grid[j] !== 0) {
      throw new InvalidOptionError(
        `logIntBounds[${2 * j}]`,
        `[0, 0] on a categorical or ordinal dim (grid[${j}] = 0 for a log-int dim)`,
        `[${low}, ${high}] with grid[${j}] = ${grid[j]}`,
      );
    }
  }
}

/**
 * Checks optimizeAcquisition's `fixedFeatures`: d values, each NaN (a free dim) or a coordinate
 * the dim can hold: a choice index below grid[j] on a categorical dim, a value in [0, 1] elsewhere.
 */
function checkFixedFeatures(value: unknown, d: number, grid: Float64Array, isCategorical: Uint8Array): void {
  const fixed = checkFloat64('fixedFeatures', value, d, false);
  for (let j = 0; j < d; j++) {
    const v = fixed[j];
    if (Number.isNaN(v)) continue;
    if (isCategorical[j] === 1) {
      if (!Number.isInteger(v) || v < 0 || v >= grid[j]) {
        throw new InvalidOptionError(`fixedFeatures[${j}]`, `NaN (free) or a choice index in [0, ${grid[j] - 1}] (categorical dim)`, v);
      }
    } else if (!(v >= 0 && v <= 1)) {
      throw new InvalidOptionError(`fixedFeatures[${j}]`, 'NaN (free) or an encoded coordinate in [0, 1]', v);
    }
  }
}
