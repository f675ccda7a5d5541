/**
 * GpSampler's logEHVI on a front whose box decomposition is over MAX_HYPERVOLUME_BOXES (five
 * objectives, a large front): the front is thinned until it fits (each objective's best point
 * kept, the rest drawn at random), and later
 * suggestions thin straight to the size that fit instead of paying again for the failing
 * decompositions (each costs tens of milliseconds at this size).
 */
import { describe, expect, it, vi } from 'vitest';

const calls: { p: number; fits: boolean; best: number[] }[] = [];
vi.mock('../../../src/samplers/gp/hypervolume-boxes.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../src/samplers/gp/hypervolume-boxes.js')>();
  return {
    ...real,
    nonDominatedBoxes: (...args: Parameters<typeof real.nonDominatedBoxes>) => {
      const boxes = real.nonDominatedBoxes(...args);
      const [points, p, k] = args;
      // Each objective's best value among the rows decomposed (targets: larger is better).
      const best = Array.from({ length: k }, (_, j) => Math.max(...Array.from({ length: p }, (_, i) => points[i * k + j])));
      calls.push({ p, fits: boxes !== null, best });
      return boxes;
    },
  };
});

const { GpSampler } = await import('../../../src/samplers/gp/gp-sampler.js');
const { createStudy } = await import('../../../src/study/create-study.js');
const { floatDistribution } = await import('../../../src/space/distributions.js');
const { Rng } = await import('../../../src/util/prng.js');

const K = 5;
/** A point of the positive unit sphere: no point dominates another (all objectives minimized, negated). */
function spherePoint(rng: InstanceType<typeof Rng>): number[] {
  const v = Array.from({ length: K }, () => rng.nextFloat() + 1e-3);
  const norm = Math.hypot(...v);
  return v.map((x) => -x / norm);
}

/** A GP study of K objectives holding 160 trials on the sphere: a front of 160 points, over the box limit. */
async function sphereStudy() {
  const rng = new Rng(3);
  const distributions = { x: floatDistribution('x', 0, 1), y: floatDistribution('y', 0, 1) };
  const study = await createStudy({ directions: Array(K).fill('minimize'), sampler: new GpSampler({ seed: 1, candidates: 64, restarts: 1 }) });
  await study.addTrials(
    Array.from({ length: 160 }, () => ({ params: { x: rng.nextFloat(), y: rng.nextFloat() }, distributions, values: spherePoint(rng) })),
  );
  return { rng, distributions, study };
}

describe('logEHVI on a front too large to decompose', () => {
  it('thins it until it fits, then starts later suggestions at the size that fit', async () => {
    const { rng, study } = await sphereStudy();
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const first = await study.ask();
      first.suggestFloat('x', 0, 1);
      first.suggestFloat('y', 0, 1);
      // The whole front fails, then half of its non-dominated rows (each observed point is raised to
      // the models' posterior mean where that is higher, so a few can dominate others), then each
      // half of the previous one, until one fits.
      expect(calls[0]).toMatchObject({ p: 160, fits: false });
      expect(calls.at(-1)?.fits).toBe(true);
      expect(calls[1].p).toBeLessThanOrEqual(80);
      for (let i = 2; i < calls.length; i++) expect(calls[i].p).toBe(Math.floor(calls[i - 1].p / 2));
      // Every thinned front keeps each objective's best point of the whole front.
      for (const call of calls) expect(call.best).toEqual(calls[0].best);
      const fitted = calls.at(-1)?.p as number;
      expect(warnings.mock.calls.some((c) => String(c[0]).includes("each objective's best point and a random subset"))).toBe(true);
      await study.tell(first, spherePoint(rng));

      calls.length = 0;
      const second = await study.ask();
      second.suggestFloat('x', 0, 1);
      second.suggestFloat('y', 0, 1);
      expect(calls).toMatchObject([{ p: fitted, fits: true }]);
      const suggested = [second.params.x, second.params.y] as number[];
      expect(suggested.every((v) => v >= 0 && v <= 1)).toBe(true);
    } finally {
      warnings.mockRestore();
    }
  }, 60_000);

  it('does not thin a later front that fits whole (a point that dominates the rest is never dropped)', async () => {
    const { rng, distributions, study } = await sphereStudy();
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      calls.length = 0;
      const first = await study.ask();
      first.suggestFloat('x', 0, 1);
      first.suggestFloat('y', 0, 1);
      expect(calls[0]).toMatchObject({ p: 160, fits: false });
      await study.tell(first, spherePoint(rng));
      // Dominates every other point: the front is this one point, K boxes, nothing to thin.
      await study.addTrials([{ params: { x: 0.5, y: 0.5 }, distributions, values: Array(K).fill(-1) }]);

      calls.length = 0;
      const second = await study.ask();
      second.suggestFloat('x', 0, 1);
      second.suggestFloat('y', 0, 1);
      // Decomposed on its non-dominated rows: the one point.
      expect(calls).toMatchObject([{ p: 1, fits: true }]);
    } finally {
      warnings.mockRestore();
    }
  }, 60_000);
});
