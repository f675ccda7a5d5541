import { describe, expect, it, vi } from 'vitest';
import { InvalidOptionError, KestrelError } from '../../../src/errors.js';
import { RandomSampler } from '../../../src/samplers/random-sampler.js';
import type { Sampler } from '../../../src/samplers/sampler.js';
import { defaultGamma, defaultWeights, hyperoptDefaultGamma } from '../../../src/samplers/tpe/defaults.js';
import { ParzenEstimator } from '../../../src/samplers/tpe/parzen-estimator.js';
import { splitTrials } from '../../../src/samplers/tpe/split.js';
import { TpeSampler, groupDecomposition, type TpeSamplerOptions } from '../../../src/samplers/tpe/tpe-sampler.js';
import {
  categoricalDistribution,
  contains,
  floatDistribution,
  intDistribution,
} from '../../../src/space/distributions.js';
import { encode } from '../../../src/space/encode.js';
import type { Distribution, ParamValue } from '../../../src/space/types.js';
import { FrozenTrial } from '../../../src/trial/frozen-trial.js';
import type { StudyDirection, TrialState } from '../../../src/trial/types.js';
import { normalCdf } from '../../../src/util/math.js';
import { FakeStudy, ask, runTrial, suggestAll, tell } from '../fake-study.js';

class MaximizeStudy extends FakeStudy {
  override readonly directions: readonly StudyDirection[] = ['maximize'];
}

type Space = Readonly<Record<string, Distribution>>;
type Objective = (p: Readonly<Record<string, ParamValue>>) => number;

/** Runs `nTrials` sequential trials; returns the values in trial order. */
async function optimize(sampler: Sampler, space: Space, objective: Objective, nTrials: number, study = new FakeStudy()): Promise<number[]> {
  const values: number[] = [];
  for (let i = 0; i < nTrials; i++) values.push((await runTrial(sampler, study, space, objective)).values?.[0] as number);
  return values;
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Appends a finished trial with the given data to a FakeStudy. */
function addTrial(
  study: FakeStudy,
  state: TrialState,
  params: Record<string, ParamValue>,
  space: Space,
  value: number | null,
  intermediateValues: Record<number, number> = {},
): FrozenTrial {
  const number = study.trials.length;
  const trial = new FrozenTrial({
    trialId: 5000 + number,
    number,
    state,
    values: value === null ? null : [value],
    params,
    distributions: Object.fromEntries(Object.keys(params).map((k) => [k, space[k]])),
    userAttrs: {},
    systemAttrs: {},
    intermediateValues,
    datetimeStart: 0,
    datetimeComplete: state === 'RUNNING' ? null : 1,
  });
  study.trials.push(trial);
  return trial;
}

const BRANIN_MIN = 0.397887357729738;
const braninSpace: Space = { x1: floatDistribution('x1', -5, 10), x2: floatDistribution('x2', 0, 15) };
const branin: Objective = (p) => {
  const x1 = p.x1 as number;
  const x2 = p.x2 as number;
  const b = 5.1 / (4 * Math.PI ** 2);
  const c = 5 / Math.PI;
  return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * Math.PI)) * Math.cos(x1) + 10;
};
const quadSpace: Space = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`x${i}`, floatDistribution(`x${i}`, -5, 5)]));
const quadratic: Objective = (p) => Object.values(p).reduce<number>((acc, v) => acc + ((v as number) - 1) ** 2, 0);

describe('TpeSampler options', () => {
  it('rejects invalid options, naming the option', () => {
    const bad: [TpeSamplerOptions, string][] = [
      [{ nStartupTrials: -1 }, 'nStartupTrials'],
      [{ nEiCandidates: 0 }, 'nEiCandidates'],
      [{ nEiCandidates: 2.5 }, 'nEiCandidates'],
      [{ priorWeight: 0 }, 'priorWeight'],
      [{ priorWeight: Number.NaN }, 'priorWeight'],
      [{ gamma: 3 as unknown as (n: number) => number }, 'gamma'],
      [{ weights: 'flat' as unknown as (n: number) => number[] }, 'weights'],
      [{ multivariate: 'yes' as unknown as boolean }, 'multivariate'],
      [{ group: true }, 'group'],
      [{ constantLiar: 1 as unknown as boolean }, 'constantLiar'],
      [{ seed: 1.5 }, 'seed'],
    ];
    for (const [options, name] of bad) {
      let caught: unknown = null;
      try {
        new TpeSampler(options);
      } catch (err) {
        caught = err;
      }
      expect(caught, name).toBeInstanceOf(InvalidOptionError);
      expect((caught as InvalidOptionError).option).toBe(name);
    }
    expect(() => new TpeSampler(null as unknown as TpeSamplerOptions)).toThrow(InvalidOptionError);
    expect(new TpeSampler({ seed: 1 }).name).toBe('tpe');
  });

  it("reports a bad gamma or weights function when it is used", async () => {
    const space: Space = { x: floatDistribution('x', 0, 1) };
    const badGamma = new TpeSampler({ seed: 1, nStartupTrials: 2, gamma: () => -1 });
    await expect(optimize(badGamma, space, (p) => p.x as number, 4)).rejects.toThrow(/option "gamma"/);
    const badWeights = new TpeSampler({ seed: 1, nStartupTrials: 2, weights: (n) => new Array<number>(n + 1).fill(1) });
    await expect(optimize(badWeights, space, (p) => p.x as number, 4)).rejects.toThrow(/option "weights"/);
  });

  it('splits the trials once per ask, not once per parameter (gamma and weights called once per ask)', async () => {
    // Eight parameters, 40 finished trials: the split (gamma) and each estimator's weights are
    // per-ask work; before, every parameter re-ran them, O(n log n) each.
    const space: Space = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`x${i}`, floatDistribution(`x${i}`, 0, 1)]));
    for (const options of [{}, { constantLiar: true }, { multivariate: true, group: true }] as const) {
      const gammaCalls: number[] = [];
      const weightCalls: number[] = [];
      const sampler = new TpeSampler({
        seed: 2,
        ...options,
        gamma: (n) => {
          gammaCalls.push(n);
          return defaultGamma(n);
        },
        weights: (n) => {
          weightCalls.push(n);
          return defaultWeights(n);
        },
      });
      const study = new FakeStudy();
      await optimize(sampler, space, quadratic, 40, study);
      gammaCalls.length = 0;
      weightCalls.length = 0;
      const asked = await ask(sampler, study);
      suggestAll(sampler, study, asked, space);
      expect(gammaCalls, JSON.stringify(options)).toEqual([40]);
      // One l(x) (the 4 best) and one g(x) (the other 36): the same n for every parameter.
      expect(weightCalls, JSON.stringify(options)).toEqual([4, 36]);
    }
  });

  it('does not call gamma during the random startup trials', async () => {
    const calls: number[] = [];
    const sampler = new TpeSampler({
      seed: 1,
      nStartupTrials: 5,
      gamma: (n) => {
        calls.push(n);
        return defaultGamma(n);
      },
    });
    const space: Space = { x: floatDistribution('x', 0, 1), y: floatDistribution('y', 0, 1) };
    const study = new FakeStudy();
    await optimize(sampler, space, (p) => p.x as number, 5, study);
    expect(calls).toEqual([]);
    await optimize(sampler, space, (p) => p.x as number, 1, study);
    expect(calls).toEqual([5]);
  });

  it('suggests the same for 40 concurrent trials whether their parameters come trial by trial or interleaved', async () => {
    // Without the liar a running trial's suggestions do not depend on the others, so the order of
    // the sampleIndependent calls must not matter; interleaving 40 trials also overflows the
    // sampler's per-ask splits (32 kept) on every call, so each is rebuilt.
    const space: Space = { a: floatDistribution('a', 0, 1), b: intDistribution('b', 0, 20), c: categoricalDistribution('c', ['x', 'y', 'z']) };
    const run = async (interleave: boolean): Promise<ParamValue[][]> => {
      const sampler = new TpeSampler({ seed: 4 });
      const study = new FakeStudy();
      await optimize(sampler, space, (p) => ((p.a as number) - 0.3) ** 2 + (p.b as number) / 20 + (p.c === 'y' ? 0 : 1), 20, study);
      const asked = [];
      for (let i = 0; i < 40; i++) asked.push(await ask(sampler, study));
      const out: ParamValue[][] = asked.map(() => []);
      const names = Object.keys(space);
      if (interleave) {
        for (const name of names) asked.forEach((t, i) => out[i].push(sampler.sampleIndependent(study, t.trial, name, space[name])));
      } else {
        asked.forEach((t, i) => {
          for (const name of names) out[i].push(sampler.sampleIndependent(study, t.trial, name, space[name]));
        });
      }
      return out;
    };
    expect(await run(true)).toEqual(await run(false));
  });

  it('rejects multi-objective studies', async () => {
    class TwoObjectives extends FakeStudy {
      override readonly directions: readonly StudyDirection[] = ['minimize', 'maximize'];
    }
    const study = new TwoObjectives();
    const sampler = new TpeSampler({ seed: 1 });
    const err = await sampler.beforeTrial(study, study.createTrial()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect(err).toMatchObject({ code: 'INVALID_OPTION', option: 'sampler', message: expect.stringMatching(/NsgaIiSampler/) });
  });
});

describe("Optuna's defaults", () => {
  it('gamma: min(ceil(0.1 n), 25); hyperopt: min(ceil(0.25 sqrt(n)), 25)', () => {
    expect([0, 1, 10, 11, 99, 250, 251, 1000].map(defaultGamma)).toEqual([0, 1, 1, 2, 10, 25, 25, 25]);
    expect([0, 1, 16, 17, 10000, 20000].map(hyperoptDefaultGamma)).toEqual([0, 1, 1, 2, 25, 25]);
  });

  it('weights: flat below 25, then a linear ramp from 1/n over the oldest n - 25', () => {
    expect(Array.from(defaultWeights(0))).toEqual([]);
    expect(Array.from(defaultWeights(24))).toEqual(new Array(24).fill(1));
    expect(Array.from(defaultWeights(25))).toEqual(new Array(25).fill(1));
    const w = defaultWeights(30); // numpy.linspace(1/30, 1, 5) then 25 ones
    const ramp = [1 / 30, 1 / 30 + (29 / 30) / 4, 1 / 30 + (2 * 29) / 30 / 4, 1 / 30 + (3 * 29) / 30 / 4, 1];
    ramp.forEach((v, i) => expect(w[i]).toBeCloseTo(v, 14));
    expect(Array.from(w.subarray(5))).toEqual(new Array(25).fill(1));
    expect(Array.from(defaultWeights(26))).toEqual([1 / 26, ...new Array(25).fill(1)]);
  });
});

describe('splitTrials', () => {
  const space: Space = { x: floatDistribution('x', 0, 1) };

  it('ranks COMPLETE trials by value in the study direction and ignores FAIL / RUNNING', () => {
    const study = new FakeStudy();
    const values = [5, 1, 4, 2, 3];
    values.forEach((v, i) => addTrial(study, 'COMPLETE', { x: i / 10 }, space, v));
    addTrial(study, 'FAIL', { x: 0.9 }, space, null);
    addTrial(study, 'RUNNING', { x: 0.8 }, space, null);
    const min = splitTrials(study.trials, 'minimize', 2);
    expect(min.below.map((t) => t.number)).toEqual([1, 3]);
    expect(min.above.map((t) => t.number)).toEqual([0, 2, 4]);
    const max = splitTrials(study.trials, 'maximize', 2);
    expect(max.below.map((t) => t.number)).toEqual([0, 2]);
    expect(max.above.map((t) => t.number)).toEqual([1, 3, 4]);
  });

  it('fills "below" with PRUNED trials by last step, then value, when COMPLETE ones run out', () => {
    const study = new FakeStudy();
    addTrial(study, 'COMPLETE', { x: 0.1 }, space, 10); // 0
    addTrial(study, 'PRUNED', { x: 0.2 }, space, null, { 0: 0.1, 1: 0.05 }); // 1: step 1, 0.05
    addTrial(study, 'PRUNED', { x: 0.3 }, space, null, { 0: 9, 3: 8 }); // 2: step 3, 8
    addTrial(study, 'PRUNED', { x: 0.4 }, space, null, { 3: 7 }); // 3: step 3, 7
    addTrial(study, 'PRUNED', { x: 0.5 }, space, null, {}); // 4: no reports
    addTrial(study, 'PRUNED', { x: 0.6 }, space, null, { 3: Number.NaN }); // 5: step 3, NaN
    const split = splitTrials(study.trials, 'minimize', 3);
    // COMPLETE first, then step 3 (7 < 8 < NaN), then step 1, then no reports.
    expect(split.below.map((t) => t.number)).toEqual([0, 2, 3]);
    expect(splitTrials(study.trials, 'minimize', 5).below.map((t) => t.number)).toEqual([0, 1, 2, 3, 5]);
    expect(splitTrials(study.trials, 'maximize', 2).below.map((t) => t.number)).toEqual([0, 2]);
    expect(splitTrials(study.trials, 'minimize', 0).below).toEqual([]);
  });
});

describe('TpeSampler search', () => {
  it('beats random search on Branin and a 5-D quadratic (median best of 5 seeds at 60 trials)', async () => {
    for (const [space, objective, min] of [
      [braninSpace, branin, BRANIN_MIN],
      [quadSpace, quadratic, 0],
    ] as const) {
      const tpe: number[] = [];
      const random: number[] = [];
      for (let seed = 0; seed < 5; seed++) {
        tpe.push(Math.min(...(await optimize(new TpeSampler({ seed }), space, objective, 60))) - min);
        random.push(Math.min(...(await optimize(new RandomSampler({ seed }), space, objective, 60))) - min);
      }
      // Generous margin: TPE's median regret is at most half of random search's.
      expect(median(tpe), `tpe ${tpe} vs random ${random}`).toBeLessThan(0.5 * median(random));
    }
  });

  it('multivariate TPE also beats random search on the 5-D quadratic', async () => {
    const tpe: number[] = [];
    const random: number[] = [];
    for (let seed = 0; seed < 5; seed++) {
      tpe.push(Math.min(...(await optimize(new TpeSampler({ seed, multivariate: true }), quadSpace, quadratic, 60))));
      random.push(Math.min(...(await optimize(new RandomSampler({ seed }), quadSpace, quadratic, 60))));
    }
    expect(median(tpe), `tpe ${tpe} vs random ${random}`).toBeLessThan(0.5 * median(random));
  });

  it('maximizes when the study does (same suggestions as minimizing the negation)', async () => {
    const space: Space = { x: floatDistribution('x', -3, 3) };
    const f: Objective = (p) => ((p.x as number) - 1.5) ** 2;
    const maxStudy = new MaximizeStudy();
    const values = await optimize(new TpeSampler({ seed: 2 }), space, (p) => -f(p), 40, maxStudy);
    const minStudy = new FakeStudy();
    await optimize(new TpeSampler({ seed: 2 }), space, f, 40, minStudy);
    expect(maxStudy.trials.map((t) => t.params.x)).toEqual(minStudy.trials.map((t) => t.params.x));
    expect(Math.max(...values)).toBeGreaterThan(-0.01);
    // After startup most suggestions sit near the maximum (|x - 1.5| < 1; random: 1/3 of them).
    expect(values.slice(20).filter((v) => v > -1).length).toBeGreaterThanOrEqual(11);
  });

  it('picks the best choice of a categorical-only problem more often after startup', async () => {
    const space: Space = { opt: categoricalDistribution('opt', ['a', 'b', 'c', 'd']) };
    const cost: Record<string, number> = { a: 3, b: 2, c: 0, d: 1 };
    for (let seed = 0; seed < 3; seed++) {
      const study = new FakeStudy();
      await optimize(new TpeSampler({ seed }), space, (p) => cost[p.opt as string] + 0.01 * seed, 50, study);
      const after = study.trials.slice(10).map((t) => t.params.opt);
      const best = after.filter((v) => v === 'c').length / after.length;
      // Uniform would give 0.25.
      expect(best, `seed ${seed}: ${after.join('')}`).toBeGreaterThan(0.5);
    }
  });

  it('samples feasible log / int / stepped values and finds a log-scale optimum', async () => {
    const space: Space = {
      lr: floatDistribution('lr', 1e-6, 1, { log: true }),
      units: intDistribution('units', 1, 1024, { log: true }),
      depth: intDistribution('depth', 2, 20, { step: 3 }),
      drop: floatDistribution('drop', 0, 0.5, { step: 0.05 }),
    };
    const objective: Objective = (p) =>
      (Math.log10(p.lr as number) + 3) ** 2 +
      (Math.log2(p.units as number) - 6) ** 2 / 4 +
      Math.abs((p.depth as number) - 11) / 3 +
      Math.abs((p.drop as number) - 0.2) * 10;
    const study = new FakeStudy();
    const values = await optimize(new TpeSampler({ seed: 7 }), space, objective, 80, study);
    for (const t of study.trials) {
      for (const [name, dist] of Object.entries(space)) expect(contains(dist, t.params[name]), `${name}=${t.params[name]}`).toBe(true);
    }
    expect(Math.min(...values)).toBeLessThan(1);
    const best = study.trials[values.indexOf(Math.min(...values))].params;
    expect(Math.abs(Math.log10(best.lr as number) + 3)).toBeLessThan(0.75);
    // Late suggestions concentrate around lr = 1e-3 in log space (random: ~25% within a decade).
    const near = study.trials.slice(40).filter((t) => Math.abs(Math.log10(t.params.lr as number) + 3) < 1).length;
    expect(near).toBeGreaterThanOrEqual(20);
  });

  it("models a log int by the masses of its integers' log cells (Optuna's discrete truncated log-normal)", async () => {
    // A log int on [1, 16] lives on u(v) = (ln v - ln 0.5) / ln 33; integer k owns the cell
    // [u(k - 1/2), u(k + 1/2)]. l(x) and g(x) must be probability masses over the 16 integers
    // (Optuna: _BatchedDiscreteTruncLogNormDistributions), not densities at u(k).
    const dist = intDistribution('n', 1, 16, { log: true });
    const space: Space = { n: dist };
    const study = new FakeStudy();
    [1, 2, 3, 4, 6, 8, 11, 16, 1, 2, 5, 9].forEach((n, i) => addTrial(study, 'COMPLETE', { n }, space, i));
    const built: ParzenEstimator[] = [];
    const original = ParzenEstimator.prototype.logPdf;
    const spy = vi.spyOn(ParzenEstimator.prototype, 'logPdf').mockImplementation(function (this: ParzenEstimator, x, count) {
      built.push(this);
      return original.call(this, x, count);
    });
    try {
      const sampler = new TpeSampler({ seed: 1 });
      suggestAll(sampler, study, await ask(sampler, study), space);
    } finally {
      spy.mockRestore();
    }
    const [below, above] = built.slice(-2);
    const u = (v: number): number => encode(dist, v);
    const at = Float64Array.from({ length: 16 }, (_, i) => u(i + 1));
    for (const pe of [below, above]) {
      const total = Array.from(pe.logPdf(at, 16)).reduce((acc, lp) => acc + Math.exp(lp), 0);
      expect(Math.abs(total - 1), `sum of the masses ${total}`).toBeLessThan(1e-9);
    }
    // Below: gamma(12) = 2 trials, n = 1 and n = 2 (mus u(1), u(2)); with the prior mu 1/2 their
    // bandwidths are u(2) - u(1) = 0.198, clipped up to 1 / min(100, 1 + 3) = 0.25. Prior N(1/2, 1).
    const mass = (k: number, mu: number, s: number): number =>
      (normalCdf((u(k + 0.5) - mu) / s) - normalCdf((u(k - 0.5) - mu) / s)) / (normalCdf((1 - mu) / s) - normalCdf(-mu / s));
    for (const k of [1, 5, 16]) {
      const want = (mass(k, u(1), 0.25) + mass(k, u(2), 0.25) + mass(k, 0.5, 1)) / 3;
      const got = Math.exp(below.logPdf(Float64Array.of(u(k)), 1)[0]);
      expect(Math.abs(got / want - 1), `l(${k}) = ${got}, want ${want}`).toBeLessThan(1e-9);
    }
  });

  it('ignores FAIL trials entirely', async () => {
    const space: Space = { x: floatDistribution('x', 0, 1) };
    const suggestionsWith = async (failedX: number): Promise<number[]> => {
      const study = new FakeStudy();
      for (let i = 0; i < 20; i++) addTrial(study, 'COMPLETE', { x: (i + 0.5) / 20 }, space, Math.abs((i + 0.5) / 20 - 0.7));
      for (let i = 0; i < 10; i++) addTrial(study, 'FAIL', { x: failedX }, space, null);
      const sampler = new TpeSampler({ seed: 3 });
      const out: number[] = [];
      for (let i = 0; i < 5; i++) out.push(suggestAll(sampler, study, await ask(sampler, study), space).x as number);
      return out;
    };
    const a = await suggestionsWith(0.1);
    expect(await suggestionsWith(0.95)).toEqual(a);
    // And the suggestions follow the completed trials' optimum at 0.7.
    expect(median(a)).toBeGreaterThan(0.5);
    expect(median(a)).toBeLessThan(0.9);
  });

  it('uses PRUNED trials ranked by their last step and value (Optuna), counting them for startup', async () => {
    const space: Space = { x: floatDistribution('x', 0, 1) };
    const study = new FakeStudy();
    // Pruned early (step 0) near 0.2 with the lowest values; reached step 5 near 0.8 with higher ones.
    for (let i = 0; i < 10; i++) addTrial(study, 'PRUNED', { x: 0.15 + 0.01 * i }, space, null, { 0: 0.01 * i });
    for (let i = 0; i < 10; i++) addTrial(study, 'PRUNED', { x: 0.75 + 0.01 * i }, space, null, { 0: 1, 5: 0.5 + 0.01 * i });
    const sampler = new TpeSampler({ seed: 5 });
    const xs: number[] = [];
    for (let i = 0; i < 9; i++) xs.push(suggestAll(sampler, study, await ask(sampler, study), space).x as number);
    // nBelow = ceil(0.1 * 20) = 2: the two step-5 trials with the lowest values, at 0.75 and 0.76.
    expect(median(xs), xs.join(', ')).toBeGreaterThan(0.6);
    expect(median(xs)).toBeLessThan(0.95);
  });

  it('constantLiar spreads concurrent suggestions (mean std of 8 parallel asks, 5 seeds)', async () => {
    const space: Space = { x: floatDistribution('x', 0, 1) };
    const spread = async (constantLiar: boolean): Promise<number> => {
      let total = 0;
      for (let seed = 0; seed < 5; seed++) {
        const sampler = new TpeSampler({ seed, constantLiar });
        const study = new FakeStudy();
        await optimize(sampler, space, (p) => ((p.x as number) - 0.3) ** 2, 30, study);
        const asked = [];
        for (let i = 0; i < 8; i++) asked.push(await ask(sampler, study));
        const xs = asked.map((a) => suggestAll(sampler, study, a, space).x as number);
        const m = xs.reduce((a, b) => a + b, 0) / xs.length;
        total += Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length) / 5;
        for (let i = 0; i < asked.length; i++) await tell(sampler, study, asked[i], { x: xs[i] }, space, (xs[i] - 0.3) ** 2);
      }
      return total;
    };
    const lying = await spread(true);
    const honest = await spread(false);
    expect(lying, `liar ${lying} vs ${honest}`).toBeGreaterThan(1.3 * honest);
  });

  it('constantLiar reads running trials from storage params and relative proposals too', async () => {
    const space: Space = { x: floatDistribution('x', 0, 1) };
    const base = new FakeStudy();
    for (let i = 0; i < 20; i++) addTrial(base, 'COMPLETE', { x: (i + 0.5) / 20 }, space, Math.abs((i + 0.5) / 20 - 0.3));
    const suggest = async (study: FakeStudy, constantLiar: boolean): Promise<number[]> => {
      const sampler = new TpeSampler({ seed: 9, constantLiar });
      const out: number[] = [];
      for (let i = 0; i < 6; i++) out.push(suggestAll(sampler, study, await ask(sampler, study), space).x as number);
      return out;
    };
    const clone = (): FakeStudy => {
      const s = new FakeStudy();
      s.trials = [...base.trials];
      return s;
    };
    const running = clone();
    // Workers elsewhere are evaluating x = 0.3 (persisted) and x = 0.31 (only a relative proposal).
    for (let i = 0; i < 6; i++) addTrial(running, 'RUNNING', { x: 0.3 }, space, null);
    running.trials.push(
      new FrozenTrial({
        ...running.trials[running.trials.length - 1].toJSON(),
        trialId: 9999,
        number: running.trials.length,
        params: {},
        distributions: {},
        systemAttrs: { relative_params: { x: 0.31 } },
      }),
    );
    const idle = clone();
    for (let i = 0; i < 7; i++) addTrial(idle, 'FAIL', { x: 0.3 }, space, null);
    const honest = await suggest(idle, true);
    const lying = await suggest(running, true);
    // Same trial numbers and history, so only the external lies differ: fewer suggestions land next to 0.3.
    const nearLie = (xs: number[]): number => xs.filter((x) => Math.abs(x - 0.3) < 0.05).length;
    expect(nearLie(lying), `${lying} vs ${honest}`).toBeLessThan(nearLie(honest));
    // Without the liar, RUNNING trials are ignored like FAIL ones.
    expect(await suggest(running, false)).toEqual(await suggest(idle, false));
  });

  it('keeps the studies it serves apart when their trial ids coincide (two in-memory storages)', async () => {
    // Two studies on separate storages number their trials alike (FakeStudy ids start at 100, as
    // every MemoryStorage's start at 0). Asked in turn, study A's trial was sampled from the history
    // that study B's ask had just loaded under the same trial id.
    const space: Space = { x: floatDistribution('x', 0, 1) };
    const history = (best: number): FakeStudy => {
      const s = new FakeStudy();
      for (let i = 0; i < 20; i++) addTrial(s, 'COMPLETE', { x: (i + 0.5) / 20 }, space, Math.abs((i + 0.5) / 20 - best));
      return s;
    };
    for (const constantLiar of [false, true]) {
      const shared = new TpeSampler({ seed: 2, constantLiar });
      const solo = new TpeSampler({ seed: 2, constantLiar });
      const a = history(0.1);
      const b = history(0.9);
      const aSolo = history(0.1);
      for (let round = 0; round < 4; round++) {
        const askedA = await ask(shared, a);
        const askedB = await ask(shared, b);
        const xa = suggestAll(shared, a, askedA, space).x as number;
        const xb = suggestAll(shared, b, askedB, space).x as number;
        const askedSolo = await ask(solo, aSolo);
        const xSolo = suggestAll(solo, aSolo, askedSolo, space).x as number;
        expect(xa, `round ${round}, constantLiar ${constantLiar}`).toBe(xSolo);
        await tell(shared, a, askedA, { x: xa }, space, Math.abs(xa - 0.1));
        await tell(shared, b, askedB, { x: xb }, space, Math.abs(xb - 0.9));
        await tell(solo, aSolo, askedSolo, { x: xSolo }, space, Math.abs(xSolo - 0.1));
      }
    }
  });

  it('falls back to the latest snapshot (or random sampling) when beforeTrial was not called', async () => {
    const space: Space = { x: floatDistribution('x', 0, 1) };
    const sampler = new TpeSampler({ seed: 4, nStartupTrials: 0 });
    const study = new FakeStudy();
    const fresh = study.createTrial();
    expect(contains(space.x, sampler.sampleIndependent(study, fresh, 'x', space.x))).toBe(true);
    await optimize(sampler, space, (p) => p.x as number, 5, study);
    expect(contains(space.x, sampler.sampleIndependent(study, study.createTrial(), 'x', space.x))).toBe(true);
  });
});

describe('multivariate and group', () => {
  it('infers the intersection space (COMPLETE and PRUNED trials, single values left out)', async () => {
    const space: Space = {
      a: floatDistribution('a', 0, 1),
      b: intDistribution('b', 0, 3),
      c: categoricalDistribution('c', ['x']),
    };
    const study = new FakeStudy();
    addTrial(study, 'COMPLETE', { a: 0.1, b: 1, c: 'x' }, space, 1);
    addTrial(study, 'PRUNED', { a: 0.2, c: 'x' }, space, null);
    addTrial(study, 'FAIL', { b: 2 }, space, null);
    const mv = new TpeSampler({ seed: 1, multivariate: true });
    expect(Object.keys(await mv.inferRelativeSearchSpace(study, study.createTrial()))).toEqual(['a']);
    const independent = new TpeSampler({ seed: 1 });
    expect(await independent.inferRelativeSearchSpace(study, study.createTrial())).toEqual({});
    const grouped = new TpeSampler({ seed: 1, multivariate: true, group: true });
    expect(Object.keys(await grouped.inferRelativeSearchSpace(study, study.createTrial())).sort()).toEqual(['a', 'b']);
  });

  it('decomposes a conditional space into groups of co-occurring parameters', () => {
    const space: Space = {
      kind: categoricalDistribution('kind', ['svm', 'tree']),
      c: floatDistribution('c', 1e-3, 1e3, { log: true }),
      gamma: floatDistribution('gamma', 1e-3, 1, { log: true }),
      depth: intDistribution('depth', 1, 10),
    };
    const study = new FakeStudy();
    addTrial(study, 'COMPLETE', { kind: 'svm', c: 1, gamma: 0.1 }, space, 1);
    addTrial(study, 'COMPLETE', { kind: 'tree', depth: 3 }, space, 1);
    addTrial(study, 'COMPLETE', { kind: 'svm', c: 2, gamma: 0.2 }, space, 1);
    const groups = groupDecomposition(study.trials).map((g) => Object.keys(g).sort().join(','));
    expect(groups.sort()).toEqual(['c,gamma', 'depth', 'kind']);
  });

  it('samples a conditional space jointly per group, feasibly, and finds the better branch', async () => {
    const space: Space = {
      kind: categoricalDistribution('kind', ['svm', 'tree']),
      c: floatDistribution('c', 1e-3, 1e3, { log: true }),
      gamma: floatDistribution('gamma', 1e-3, 1, { log: true }),
      depth: intDistribution('depth', 1, 10),
    };
    const sampler = new TpeSampler({ seed: 3, multivariate: true, group: true, warnIndependentSampling: false });
    const study = new FakeStudy();
    for (let i = 0; i < 50; i++) {
      const asked = await ask(sampler, study);
      const first = suggestAll(sampler, study, asked, { kind: space.kind });
      const sub: Space = first.kind === 'svm' ? { c: space.c, gamma: space.gamma } : { depth: space.depth };
      const rest = suggestAll(sampler, study, asked, sub);
      const p = { ...first, ...rest };
      const value =
        p.kind === 'svm'
          ? (Math.log10(p.c as number) - 1) ** 2 + (Math.log10(p.gamma as number) + 2) ** 2
          : 3 + Math.abs((p.depth as number) - 4);
      await tell(sampler, study, asked, p, { kind: space.kind, ...sub }, value);
    }
    const late = study.trials.slice(25);
    expect(late.filter((t) => t.params.kind === 'svm').length).toBeGreaterThan(15);
    // The relative proposals covered the grouped parameters once the groups existed.
    const best = Math.min(...study.trials.map((t) => t.values?.[0] as number));
    expect(best).toBeLessThan(0.5);
  });
});
