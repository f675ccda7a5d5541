import { describe, expect, it } from 'vitest';
import { firstFitData, SCREEN_BEST, SCREEN_SIZE } from '../../bench/lib/first-fit-data.js';
import { fitOutcomeTransform } from '../../src/surrogate/outcome-transform.js';

describe('bench/first-fit inputs', () => {
  // A minimized 2-D history on [-5, 10]^2 with a heavy tail, values a permutation-like spread.
  const n = 200;
  const params = Array.from({ length: n }, (_, i) => [-5 + ((i * 37) % 151) / 10, -5 + ((i * 53) % 149) / 10]);
  const values = params.map(([a, b]) => (a - 1) ** 4 + 100 * (b - a * a) ** 2);
  const history = { bounds: [[-5, 10], [-5, 10]] as const, params, values };

  it('screens on the best (lowest) observations of a minimized history, as GpSampler does', () => {
    const { screen } = firstFitData(history, n, 7);
    expect(screen.n).toBe(SCREEN_SIZE);
    const { all } = firstFitData(history, n, 7);
    const bestTargets = [...all.y].sort((a, b) => b - a).slice(0, SCREEN_BEST);
    // The screen's first rows are the SCREEN_BEST largest targets, i.e. the lowest values.
    expect([...screen.y.subarray(0, SCREEN_BEST)].sort((a, b) => b - a)).toEqual(bestTargets);
    const lowest = [...values].sort((a, b) => a - b)[0];
    expect(Math.max(...screen.y)).toBe(Math.max(...all.y));
    expect(values.indexOf(lowest)).toBe([...all.y].indexOf(Math.max(...all.y)));
  });

  it("encodes targets with GpSampler's default outcome transform and inputs on the unit cube", () => {
    const { all } = firstFitData(history, n, 7);
    const outcome = fitOutcomeTransform(Float64Array.from(values, (v) => -v), 'power', 'worst-observed');
    expect(all.y).toEqual(Float64Array.from(values, (v) => outcome.apply(-v)));
    expect(Math.min(...all.y)).toBe(0); // worst-observed prior mean: the worst target is 0
    expect(all.x[0]).toBeCloseTo((params[0][0] + 5) / 15, 15);
    expect(all.x.every((u) => u >= 0 && u <= 1)).toBe(true);
  });
});
