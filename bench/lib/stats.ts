/**
 * Summary statistics of repeated timings, shared by the benchmarks (bench/README.md: "median and
 * min" over repeats).
 */

/**
 * The median of `values`: the middle one of an odd count, the mean of the two middle ones of an
 * even count (numpy's `median`, Python's `statistics.median`). NaN for no values. Does not modify
 * `values`.
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Median and min of repeated timings (NaN for both when there are none). */
export function medianAndMin(values: readonly number[]): { median: number; min: number } {
  return { median: median(values), min: values.length === 0 ? Number.NaN : Math.min(...values) };
}

/**
 * The q-quantile of ascending `sorted` values, linearly interpolated as numpy's default
 * (`np.quantile`); infinite values are fine (equal neighbours give that value, not NaN).
 */
export function quantile(sorted: readonly number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  if (lo === hi || sorted[hi] === sorted[lo]) return sorted[lo];
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}
