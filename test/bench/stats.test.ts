import { describe, expect, it } from 'vitest';
import { median, medianAndMin, quantile } from '../../bench/lib/stats.js';

describe('bench median', () => {
  it('takes the middle value of an odd count, whatever the order', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([7])).toBe(7);
  });

  it('averages the two middle values of an even count (not the lower or upper one)', () => {
    // gp-large --quick times 2 repeats: its "median" must not be the min.
    expect(median([2005.1, 3000])).toBe(2502.55);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('does not reorder its input, and is NaN for no values', () => {
    const values = [3, 1, 2, 0];
    median(values);
    expect(values).toEqual([3, 1, 2, 0]);
    expect(median([])).toBeNaN();
  });

  it('pairs the median with the min', () => {
    expect(medianAndMin([10, 30])).toEqual({ median: 20, min: 10 });
    expect(medianAndMin([])).toEqual({ median: Number.NaN, min: Number.NaN });
  });
});

describe('bench quantile', () => {
  it('interpolates linearly between sorted values, as numpy', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([1, 2, 3, 4], 0.25)).toBe(1.75);
    expect(quantile([1, 2, 3, 4, 5], 0.5)).toBe(3);
  });

  it('keeps infinite values ("no feasible point" runs) instead of NaN', () => {
    const inf = Number.POSITIVE_INFINITY;
    expect(quantile([1, inf, inf, inf], 0.5)).toBe(inf);
    expect(quantile([1, 2, inf, inf], 0.75)).toBe(inf);
    expect(quantile([inf, inf], 0.5)).toBe(inf);
  });
});
