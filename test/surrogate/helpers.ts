import type { GpTrainingData } from '../../src/surrogate/backend.js';
import { getSurrogateBackend } from '../../src/surrogate/select-backend.js';

/** Deterministic uniform stream for test inputs (Mulberry32). */
export function uniformStream(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random training data: continuous dims in [0,1], categorical dims (flags) with `choices` choices. */
export function randomData(
  seed: number,
  n: number,
  d: number,
  categorical: readonly number[] = [],
  choices = 3,
): GpTrainingData {
  const rnd = uniformStream(seed);
  const isCategorical = new Uint8Array(d);
  for (const j of categorical) isCategorical[j] = 1;
  const x = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) x[i * d + j] = isCategorical[j] === 1 ? Math.floor(rnd() * choices) : rnd();
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += Math.sin(3 * x[i * d + j] + j);
    y[i] = s + 0.05 * (rnd() - 0.5);
  }
  let mean = 0;
  for (const v of y) mean += v / n;
  let sd = 0;
  for (const v of y) sd += ((v - mean) * (v - mean)) / n;
  sd = Math.sqrt(sd) || 1;
  for (let i = 0; i < n; i++) y[i] = (y[i] - mean) / sd;
  return { x, y, n, d, isCategorical };
}

/** The same inputs as `data` with another target: f of each input row, standardized. */
export function withTarget(data: GpTrainingData, f: (x: Float64Array) => number): GpTrainingData {
  const y = new Float64Array(data.n);
  for (let i = 0; i < data.n; i++) y[i] = f(data.x.subarray(i * data.d, (i + 1) * data.d));
  let mean = 0;
  for (const v of y) mean += v / data.n;
  let sd = 0;
  for (const v of y) sd += ((v - mean) * (v - mean)) / data.n;
  sd = Math.sqrt(sd) || 1;
  for (let i = 0; i < data.n; i++) y[i] = (y[i] - mean) / sd;
  return { ...data, y };
}

/** Max |a_i - b_i|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/**
 * Invalid `logIntBounds` for a 3-dim space (dim 0 continuous, dim 1 an ordinal grid, dim 2
 * categorical), each with the option name the error must carry. Shared by the JS backend's and
 * the native addon's boundary tests.
 */
export const BAD_LOG_INT_BOUNDS: readonly { readonly why: string; readonly value: unknown; readonly option: string }[] = [
  { why: 'not a Float64Array', value: [1, 100, 0, 0, 0, 0], option: 'logIntBounds' },
  { why: 'wrong length', value: Float64Array.from([1, 100, 0, 0]), option: 'logIntBounds' },
  { why: 'non-finite', value: Float64Array.from([Number.NaN, 100, 0, 0, 0, 0]), option: 'logIntBounds[0]' },
  { why: 'non-integer low', value: Float64Array.from([1.5, 100, 0, 0, 0, 0]), option: 'logIntBounds[0]' },
  { why: 'non-integer high', value: Float64Array.from([1, 99.5, 0, 0, 0, 0]), option: 'logIntBounds[0]' },
  { why: 'low < 1', value: Float64Array.from([0, 100, 0, 0, 0, 0]), option: 'logIntBounds[0]' },
  { why: 'low = high', value: Float64Array.from([5, 5, 0, 0, 0, 0]), option: 'logIntBounds[0]' },
  { why: 'low > high', value: Float64Array.from([7, 3, 0, 0, 0, 0]), option: 'logIntBounds[0]' },
  // Past Number.MAX_SAFE_INTEGER a level loop k++ never ends (k + 1 === k from 2^53 on).
  { why: 'high above Number.MAX_SAFE_INTEGER', value: Float64Array.from([1, 2 ** 53, 0, 0, 0, 0]), option: 'logIntBounds[0]' },
  // ln(high + 1/2) === ln(low - 1/2) in double precision: every coordinate was 0 / 0, the optimum NaN.
  { why: 'a span lost to rounding', value: Float64Array.from([2 ** 53 - 4, 2 ** 53 - 2, 0, 0, 0, 0]), option: 'logIntBounds[0]' },
  { why: 'on an ordinal dim', value: Float64Array.from([0, 0, 1, 100, 0, 0]), option: 'logIntBounds[2]' },
  { why: 'on a categorical dim', value: Float64Array.from([0, 0, 0, 0, 1, 100]), option: 'logIntBounds[4]' },
];

/**
 * Whether backend 'cuda' is unavailable on this machine (the tests of what an unmet explicit
 * request does need that); when it is available, says so and returns false, so the caller skips.
 */
export async function cudaBackendUnavailable(): Promise<boolean> {
  try {
    await getSurrogateBackend({ backend: 'cuda' });
  } catch {
    return true;
  }
  console.warn('skipped: this machine has a usable CUDA backend, so backend "cuda" cannot be unavailable');
  return false;
}
