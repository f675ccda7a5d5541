import { describe, expect, it } from 'vitest';
import { median, medianAndMin } from '../../bench/lib/stats.js';

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
