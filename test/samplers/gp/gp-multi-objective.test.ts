/**
 * GpSampler on studies with several directions: logEHVI over one model per objective (the default;
 * src/samplers/gp/column-models.ts, hypervolume-boxes.ts) and the ParEGO scalarization
 * (multiObjectiveAcquisition 'parego'; src/samplers/gp/scalarization.ts): the scalarization's
 * invariants, searches that beat random search in hypervolume, each option's model updates,
 * pending and failed trials, reproducibility, and constraints together with several objectives.
 */
import { describe, expect, it } from 'vitest';
import { GpSampler, type GpSamplerOptions } from '../../../src/samplers/gp/gp-sampler.js';
import { CHEBYSHEV_RHO, NADIR_MARGIN, scalarizationWeights, scalarize } from '../../../src/samplers/gp/scalarization.js';
import { RandomSampler } from '../../../src/samplers/random-sampler.js';
import type { Sampler } from '../../../src/samplers/sampler.js';
import { InMemoryStorage } from '../../../src/storage/memory-storage.js';
import { createStudy } from '../../../src/study/create-study.js';
import type { Study } from '../../../src/study/study.js';
import { SystemAttr } from '../../../src/trial/system-attrs.js';
import { hypervolume2d } from '../genetic/helpers.js';
import { FrozenTrial } from '../../../src/trial/frozen-trial.js';
import type { ParamValue } from '../../../src/space/types.js';
import { CountingBackend } from './counting-backend.js';
import { FakeStudy } from './fake-study.js';
import { SPACE } from './seeded-study.js';

describe('ParEGO scalarization', () => {
  it('draws weights on the simplex, reproducibly per seed', () => {
    for (const m of [2, 3, 5]) {
      const w = scalarizationWeights(m, 42);
      expect(w.length).toBe(m);
      expect(w.every((v) => v > 0)).toBe(true);
      expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      expect(scalarizationWeights(m, 42)).toEqual(w);
      expect(scalarizationWeights(m, 43)).not.toEqual(w);
    }
    // Uniform on the simplex: the first of two weights has mean 1/2.
    let mean = 0;
    for (let s = 0; s < 2000; s++) mean += scalarizationWeights(2, s)[0] / 2000;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.03);
  });

  it('ranks a dominating point above the points it dominates, for any weights and directions', () => {
    const points = [
      [1, 5],
      [2, 4],
      [1, 4], // dominates the two above (both minimized)
      [3, 3],
      [4, 1],
    ];
    for (let seed = 0; seed < 50; seed++) {
      const w = scalarizationWeights(2, seed);
      const s = scalarize(points, ['minimize', 'minimize'], w);
      expect(s[2]).toBeGreaterThan(s[0]);
      expect(s[2]).toBeGreaterThan(s[1]);
      // Maximizing the second objective instead: negate it, and the ranking is the same.
      const flipped = scalarize(points.map(([a, b]) => [a, -b]), ['minimize', 'maximize'], w);
      for (let i = 0; i < points.length; i++) expect(flipped[i]).toBeCloseTo(s[i], 12);
    }
  });

  it('is the augmented Chebyshev function of the normalized costs', () => {
    const w = Float64Array.from([0.25, 0.75]);
    const s = scalarize([[0, 10], [10, 0], [5, 5]], ['minimize', 'minimize'], w);
    // costs: (0, 1), (1, 0), (0.5, 0.5)
    expect(s[0]).toBeCloseTo(-(0.75 + CHEBYSHEV_RHO * 0.75), 12);
    expect(s[1]).toBeCloseTo(-(0.25 + CHEBYSHEV_RHO * 0.25), 12);
    expect(s[2]).toBeCloseTo(-(0.375 + CHEBYSHEV_RHO * 0.5), 12);
  });

  it('normalizes by the Pareto front: a far-dominated trial does not rescale the front', () => {
    const front = [
      [0, 1],
      [0.5, 0.4],
      [1, 0],
    ];
    const w = scalarizationWeights(2, 7);
    const alone = scalarize(front, ['minimize', 'minimize'], w);
    const withOutlier = scalarize([...front, [300, 100]], ['minimize', 'minimize'], w);
    for (let i = 0; i < front.length; i++) expect(withOutlier[i]).toBeCloseTo(alone[i], 12);
    // The outlier's costs are capped at 1 + NADIR_MARGIN.
    expect(withOutlier[3]).toBeCloseTo(-((1 + NADIR_MARGIN) * Math.max(w[0], w[1]) + CHEBYSHEV_RHO * (1 + NADIR_MARGIN)), 12);
  });

  it('stays finite for constant, huge and infinite values', () => {
    const w = Float64Array.from([0.5, 0.5]);
    const s = scalarize(
      [
        [1, 1.7e308],
        [1, -1.7e308],
        [1, Number.POSITIVE_INFINITY],
      ],
      ['minimize', 'minimize'],
      w,
    );
    expect(s.every(Number.isFinite)).toBe(true);
    expect(s[1]).toBeGreaterThan(s[0]);
    expect(s[2]).toBeLessThan(s[0]); // +Infinity: the largest cost, 1 + NADIR_MARGIN
    expect(s[2]).toBeCloseTo(-((1 + NADIR_MARGIN) * 0.5 * (1 + CHEBYSHEV_RHO) + CHEBYSHEV_RHO * 0.25), 12);
  });
});

/** BoTorch's Branin-Currin, both minimized, inputs in [0, 1]^2; reference point (18, 6). */
function braninCurrin(x0: number, x1: number): [number, number] {
  const a = 15 * x0 - 5;
  const b = 15 * x1;
  const branin = (b - (5.1 / (4 * Math.PI ** 2)) * a * a + (5 / Math.PI) * a - 6) ** 2 + 10 * (1 - 1 / (8 * Math.PI)) * Math.cos(a) + 10;
  const factor = 1 - Math.exp(-1 / (2 * Math.max(x1, 1e-12)));
  return [branin, (factor * (2300 * x0 ** 3 + 1900 * x0 ** 2 + 2092 * x0 + 60)) / (100 * x0 ** 3 + 500 * x0 ** 2 + 4 * x0 + 20)];
}

async function runBraninCurrin(sampler: Sampler, nTrials: number): Promise<{ study: Study; hv: number }> {
  const study = await createStudy({ storage: new InMemoryStorage(), sampler, directions: ['minimize', 'minimize'] });
  const points: number[][] = [];
  for (let i = 0; i < nTrials; i++) {
    const t = await study.ask();
    const v = braninCurrin(t.suggestFloat('x0', 0, 1), t.suggestFloat('x1', 0, 1));
    points.push(v);
    await study.tell(t, v);
  }
  return { study, hv: hypervolume2d(points, [18, 6]) };
}

/** A GpSampler with small acquisition searches on `backend` (fast tests of its bookkeeping). */
function quickSampler(backend: CountingBackend, options: GpSamplerOptions = {}): GpSampler {
  return new GpSampler({ seed: 5, nStartupTrials: 4, candidates: 64, restarts: 2, backend, ...options });
}

/** n COMPLETE trials spread over SPACE (a golden-ratio sequence), with values(a, b). */
function addHistory(study: FakeStudy, n: number, values: (a: number, b: number) => number[]): void {
  for (let i = 0; i < n; i++) {
    const params = { a: ((i * 0.618034) % 1 + 0.01) % 1, b: ((i * 0.414214) % 1 + 0.02) % 1 };
    const t = study.add(params, { ...SPACE }, 'COMPLETE', null);
    study.trials[t.number] = new FrozenTrial({ ...t.toJSON(), values: values(params.a, params.b) });
  }
}

describe('GpSampler with several objectives', () => {
  it('covers far more of the Branin-Currin front than random search (5 seeds, 40 trials)', async () => {
    const gp: number[] = [];
    const random: number[] = [];
    for (let seed = 0; seed < 5; seed++) {
      gp.push((await runBraninCurrin(new GpSampler({ seed }), 40)).hv);
      random.push((await runBraninCurrin(new RandomSampler({ seed }), 40)).hv);
    }
    // Observed: GP 48.5-55.6 (the largest possible is about 59.4), random 7-24.
    expect(Math.min(...gp)).toBeGreaterThan(40);
    expect(Math.min(...gp)).toBeGreaterThan(Math.max(...random));
  });

  it('ParEGO refits the model for each scalarization (never extends one fitted to other targets), and records each fit', async () => {
    const sampler = new GpSampler({
      seed: 3,
      nStartupTrials: 5,
      multiObjectiveAcquisition: 'parego',
      refitPolicy: { refitEveryTrialBelow: 0, refitGrowthDivisor: 1 },
    });
    const { study } = await runBraninCurrin(sampler, 9);
    expect(sampler.lastModelUpdate?.kind).toBe('fit');
    const trials = await study.getTrials();
    // Each GP trial's fit is recorded (a new sampler's first fit starts there: stored-column-fits.test.ts).
    expect(trials.filter((t) => SystemAttr.gpFit in t.systemAttrs).map((t) => t.number)).toEqual([5, 6, 7, 8]);
    // One objective with the same policy extends its model between refits.
    const single = new GpSampler({ seed: 3, nStartupTrials: 5, refitPolicy: { refitEveryTrialBelow: 0, refitGrowthDivisor: 1 } });
    const s = await createStudy({ storage: new InMemoryStorage(), sampler: single });
    for (let i = 0; i < 9; i++) {
      const t = await s.ask();
      await s.tell(t, braninCurrin(t.suggestFloat('x0', 0, 1), t.suggestFloat('x1', 0, 1))[0]);
    }
    expect(single.lastModelUpdate?.kind).toBe('append');
  });

  it('logEHVI keeps one model per objective, extended between refits (their refit policy), and records their fits', async () => {
    const backend = new CountingBackend();
    const sampler = new GpSampler({ seed: 3, nStartupTrials: 5, backend, candidates: 128, refitPolicy: { refitEveryTrialBelow: 0, refitGrowthDivisor: 1 } });
    const { study } = await runBraninCurrin(sampler, 9);
    // First GP suggestion at n = 5: one fit per objective; then appends until the data doubles.
    expect(backend.fitSizes).toEqual([5, 5]);
    expect(sampler.lastModelUpdate?.kind).toBe('append');
    expect(sampler.lastModelUpdate?.n).toBe(8);
    // Each objective's targets are its own (minimized: negated), standardized, with the prior mean
    // at the worst observed (the smallest target is 0).
    const trials = (await study.getTrials()).slice(0, 5);
    const first = backend.fitTargets[0];
    const second = backend.fitTargets[1];
    expect(Math.min(...first)).toBe(0);
    expect(Math.min(...second)).toBe(0);
    const order = (v: readonly number[]): number[] => v.map((_, i) => i).sort((a, b) => v[a] - v[b]);
    expect(order(Array.from(first))).toEqual(order(trials.map((t) => -(t.values as number[])[0])));
    expect(order(Array.from(second))).toEqual(order(trials.map((t) => -(t.values as number[])[1])));
    // The fit at n = 5 is recorded on the trial it served, one record per objective.
    const recorded = (await study.getTrials()).filter((t) => SystemAttr.gpFit in t.systemAttrs);
    expect(recorded.map((t) => t.number)).toEqual([5]);
    expect(recorded[0].systemAttrs[SystemAttr.gpFit]).toHaveLength(2);
    // logEHVI over boxes of two objectives, the second model a 'logehvi' term, and local
    // candidates around every point of the front the last suggestion saw (its first 8 trials).
    const last = backend.acquisitionOptions[backend.acquisitionOptions.length - 1];
    expect(last.kind).toBe('logehvi');
    expect(last.terms?.map((t) => t.kind)).toEqual(['logehvi']);
    expect((last.boxes as Float64Array).length % 4).toBe(0);
    const seen = (await study.getTrials()).slice(0, 8);
    const dominated = (a: FrozenTrial): boolean =>
      seen.some((b) => (b.values as number[]).every((v, j) => v <= (a.values as number[])[j]) && (b.values as number[]).some((v, j) => v < (a.values as number[])[j]));
    const front = seen.filter((t) => !dominated(t)).map((t) => [t.params.x0, t.params.x1].join(','));
    const centers = last.centers as Float64Array;
    const rows = Array.from({ length: centers.length / 2 }, (_, i) => [centers[2 * i], centers[2 * i + 1]].join(','));
    expect(rows.sort()).toEqual(front.sort());
  });

  it('logEHVI spreads concurrent asks (pending points believed at the posterior mean) and avoids failed points', async () => {
    const sampler = new GpSampler({ seed: 6, nStartupTrials: 8, candidates: 256 });
    const study = await createStudy({ storage: new InMemoryStorage(), sampler, directions: ['minimize', 'minimize'] });
    for (let i = 0; i < 8; i++) {
      const t = await study.ask();
      await study.tell(t, braninCurrin(t.suggestFloat('x0', 0, 1), t.suggestFloat('x1', 0, 1)));
    }
    const batch = [];
    for (let i = 0; i < 4; i++) {
      const t = await study.ask();
      batch.push([t.suggestFloat('x0', 0, 1), t.suggestFloat('x1', 0, 1)]);
    }
    let closest = Number.POSITIVE_INFINITY;
    for (let a = 0; a < batch.length; a++) {
      for (let b = a + 1; b < batch.length; b++) closest = Math.min(closest, Math.hypot(batch[a][0] - batch[b][0], batch[a][1] - batch[b][1]));
    }
    expect(closest).toBeGreaterThan(0.01);
    // A point the objective fails at is not asked again and again.
    const failing = new GpSampler({ seed: 1, nStartupTrials: 6, candidates: 256 });
    const s2 = await createStudy({ storage: new InMemoryStorage(), sampler: failing, directions: ['minimize', 'minimize'] });
    const failedPoints: number[][] = [];
    for (let i = 0; i < 20; i++) {
      const t = await s2.ask();
      const x = [t.suggestFloat('x0', 0, 1), t.suggestFloat('x1', 0, 1)];
      if (i >= 6 && x[0] < 0.5) {
        failedPoints.push(x);
        await s2.tell(t, { state: 'FAIL' });
      } else {
        await s2.tell(t, braninCurrin(x[0], x[1]));
      }
    }
    for (let a = 0; a < failedPoints.length; a++) {
      for (let b = a + 1; b < failedPoints.length; b++) {
        expect(Math.hypot(failedPoints[a][0] - failedPoints[b][0], failedPoints[a][1] - failedPoints[b][1])).toBeGreaterThan(1e-6);
      }
    }
  });

  it('logEHVI works with three objectives and beats random search there', async () => {
    // DTLZ2 with three objectives over 4 inputs, all minimized; hypervolume by Monte Carlo in [0, 1.5]^3.
    const dtlz2 = (x: readonly number[]): number[] => {
      let g = 0;
      for (let i = 2; i < x.length; i++) g += (x[i] - 0.5) ** 2;
      const c = (v: number): number => Math.cos((v * Math.PI) / 2);
      const s = (v: number): number => Math.sin((v * Math.PI) / 2);
      return [(1 + g) * c(x[0]) * c(x[1]), (1 + g) * c(x[0]) * s(x[1]), (1 + g) * s(x[0])];
    };
    const run = async (sampler: Sampler): Promise<number[][]> => {
      const study = await createStudy({ storage: new InMemoryStorage(), sampler, directions: ['minimize', 'minimize', 'minimize'] });
      const out: number[][] = [];
      for (let i = 0; i < 30; i++) {
        const t = await study.ask();
        const v = dtlz2([0, 1, 2, 3].map((j) => t.suggestFloat(`x${j}`, 0, 1)));
        out.push(v);
        await study.tell(t, v);
      }
      return out;
    };
    const volume = (points: number[][]): number => {
      let hits = 0;
      let state = 12345;
      const rnd = (): number => {
        state = (Math.imul(state, 1103515245) + 12345) >>> 0;
        return state / 4294967296;
      };
      for (let s = 0; s < 20000; s++) {
        const z = [1.5 * rnd(), 1.5 * rnd(), 1.5 * rnd()];
        if (points.some((p) => p[0] <= z[0] && p[1] <= z[1] && p[2] <= z[2])) hits++;
      }
      return (hits / 20000) * 1.5 ** 3;
    };
    const gp = volume(await run(new GpSampler({ seed: 2, candidates: 512 })));
    const random = volume(await run(new RandomSampler({ seed: 2 })));
    expect(gp).toBeGreaterThan(random);
  });

  it('refuses an unknown multiObjectiveAcquisition', () => {
    expect(() => new GpSampler({ multiObjectiveAcquisition: 'ehvi' as never })).toThrow(/multiObjectiveAcquisition/);
  });

  it('logEHVI on more objectives than it computes (16): the first ask refuses, naming multiObjectiveAcquisition; ParEGO runs', async () => {
    // The acquisition's limit used to surface only once the startup trials had run, as an
    // INVALID_OPTION about "terms", an internal argument the user never passed.
    const directions = Array.from({ length: 17 }, () => 'minimize' as const);
    const logehvi = await createStudy({ storage: new InMemoryStorage(), sampler: new GpSampler({ seed: 1, nStartupTrials: 2 }), directions });
    await expect(logehvi.ask()).rejects.toThrow(/multiObjectiveAcquisition.*'parego'.*17/);
    const sampler = new GpSampler({ seed: 1, nStartupTrials: 2, multiObjectiveAcquisition: 'parego' });
    const parego = await createStudy({ storage: new InMemoryStorage(), sampler, directions });
    for (let i = 0; i < 3; i++) {
      const t = await parego.ask();
      const x = t.suggestFloat('x', 0, 1);
      await parego.tell(t, directions.map((_, j) => Math.abs(Math.sin(x * (j + 1)))));
    }
    expect(sampler.lastModelUpdate?.n).toBe(2);
  });

  it('logEHVI does not repeat an evaluated point: ZDT1 (4-D), seeds 0 and 3, 52 trials', async () => {
    // ZDT1's front lies on the face x1 = x2 = x3 = 0 and ends at the corner x = 0, where f2 =
    // g (1 - sqrt(f1 / g)) has an infinite slope: f2's model (learned noise) does not interpolate
    // the corner's observation, and EHVI measured against the observed targets credited a repeat
    // of the corner with improving on itself (before the front became the models' posterior means
    // at the observations, seed 0 repeated trial 10 at trial 51 and seed 3 trial 14 at trial 47).
    const zdt1 = (x: readonly number[]): [number, number] => {
      const g = 1 + 3 * (x[1] + x[2] + x[3]);
      return [x[0], g * (1 - Math.sqrt(x[0] / g))];
    };
    for (const seed of [0, 3]) {
      const study = await createStudy({ storage: new InMemoryStorage(), sampler: new GpSampler({ seed, numThreads: 1 }), directions: ['minimize', 'minimize'] });
      const seen: number[][] = [];
      const repeats: string[] = [];
      for (let i = 0; i < 52; i++) {
        const t = await study.ask();
        const x = [0, 1, 2, 3].map((j) => t.suggestFloat(`x${j}`, 0, 1));
        const earlier = seen.findIndex((s) => s.every((v, j) => v === x[j]));
        if (earlier >= 0) repeats.push(`seed ${seed}: trial ${i} repeats trial ${earlier} at ${JSON.stringify(x)}`);
        seen.push(x);
        await study.tell(t, zdt1(x));
      }
      expect(repeats).toEqual([]);
    }
  });

  it('is reproducible for a fixed seed', async () => {
    for (const multiObjectiveAcquisition of ['logehvi', 'parego'] as const) {
      const params = async () =>
        (await (await runBraninCurrin(new GpSampler({ seed: 8, multiObjectiveAcquisition }), 16)).study.getTrials()).map((t) => t.params);
      expect(await params()).toEqual(await params());
    }
  });

  it('takes constraints too: the Pareto front it reports is feasible', async () => {
    const sampler = new GpSampler({ seed: 2, constraintsFunc: (t) => [(t.params.x0 as number) - 0.5] });
    const { study } = await runBraninCurrin(sampler, 30);
    const front = await study.bestTrials();
    expect(front.length).toBeGreaterThan(0);
    expect(front.every((t) => (t.params.x0 as number) <= 0.5)).toBe(true);
    const trials = await study.getTrials();
    const gpTrials = trials.slice(10);
    // Most GP suggestions keep to the feasible half (random: half of them).
    expect(gpTrials.filter((t) => (t.params.x0 as number) <= 0.5).length).toBeGreaterThan(0.75 * gpTrials.length);
  });
});

describe('GpSampler with several objectives above backgroundRebuildAbove', () => {
  it('ParEGO models every observation (a full build per scalarization), with no background rebuild left to waste', async () => {
    // A background rebuild is swapped in only for the scalarization it was built for, and every
    // suggestion draws another: it was started and thrown away at every ask, and each suggestion
    // was served by the fitSubsetMax-row subset model alone.
    const backend = new CountingBackend();
    const sampler = quickSampler(backend, {
      multiObjectiveAcquisition: 'parego',
      refitPolicy: { refitEveryTrialBelow: 0, fitSubsetMax: 16, fitSubsetBest: 4, backgroundRebuildAbove: 20, backgroundRebuildLag: 2 },
    });
    const study = new FakeStudy(['minimize', 'maximize']);
    const values = (p: Readonly<Record<string, ParamValue>>): number[] => {
      const [a, b] = braninCurrin(p.a as number, p.b as number);
      return [a, -b];
    };
    const finish = (number: number, state: 'COMPLETE'): FrozenTrial => {
      const t = study.trials[number];
      const done = new FrozenTrial({ ...t.toJSON(), state, values: values(t.params), datetimeComplete: number + 0.5 });
      study.trials[number] = done;
      return done;
    };
    for (let i = 0; i < 30; i++) {
      study.add({ a: ((i * 0.618034) % 1 + 0.01) % 1, b: ((i * 0.414214) % 1 + 0.02) % 1 }, { ...SPACE }, 'RUNNING', null);
      finish(i, 'COMPLETE');
    }
    for (let s = 0; s < 4; s++) {
      const trial = await study.ask(sampler, SPACE);
      const update = sampler.lastModelUpdate;
      expect(update?.kind).toBe('subset-rebuild');
      expect(update?.n).toBe(30 + s);
      const done = finish(trial.number, 'COMPLETE');
      await sampler.afterTrial(study, done, 'COMPLETE', done.values);
    }
    // One full build per suggestion, each served (none started behind it and dropped).
    expect(backend.builds.map((b) => b.n)).toEqual([30, 31, 32, 33]);
  });
});

describe('GpSampler with several objectives, constraints and pending trials', () => {
  it('adds a pending point to the front only where the constraint models believe it feasible', async () => {
    // Both objectives best at a = 1, feasible only for a <= 0.5: a pending point at a = 0.95 is
    // believed better than every feasible observation, and infeasible.
    const values = (a: number, b: number): number[] => [(1 - a) ** 2 + 0.3 * b, (1 - a) ** 2 + 0.3 * (1 - b)];
    const boxesAsked = async (pending: { a: number; b: number } | null): Promise<Float64Array> => {
      const backend = new CountingBackend();
      const sampler = quickSampler(backend, { seed: 3, constraintsFunc: (t) => [(t.params.a as number) - 0.5] });
      const study = new FakeStudy(['minimize', 'minimize']);
      addHistory(study, 16, values);
      if (pending !== null) study.add(pending, { ...SPACE }, 'RUNNING', null);
      await study.ask(sampler, SPACE);
      return backend.acquisitionOptions[backend.acquisitionOptions.length - 1].boxes as Float64Array;
    };
    // The front is the models' posterior means at the observations, and the fits are seeded by
    // the asking trial's number (17 with a pending trial, 16 without), so the boxes agree to about
    // 1e-10, not bit for bit: compared within 1e-6.
    const largestGap = (a: Float64Array, b: Float64Array): number =>
      a.length !== b.length ? Number.POSITIVE_INFINITY : Math.max(...Array.from(a, (v, i) => (v === b[i] ? 0 : Math.abs(v - b[i]))));
    const none = await boxesAsked(null);
    expect(largestGap(await boxesAsked({ a: 0.95, b: 0.5 }), none)).toBeLessThan(1e-6);
    // A feasible pending point believed on the front does change the boxes.
    expect(largestGap(await boxesAsked({ a: 0.45, b: 0.5 }), none)).toBeGreaterThan(1e-3);
  });
});

describe('GpSampler with several objectives above fitSubsetMax', () => {
  it('logEHVI fits each objective (and constraint) on a subset and builds its model on every row', async () => {
    // A fit's likelihood costs O(n^3): the per-objective and per-constraint models used to fit on
    // every row at any n (tens of seconds per refit at a few thousand trials).
    const backend = new CountingBackend();
    const sampler = quickSampler(backend, { constraintsFunc: (t) => [(t.params.a as number) - 0.8], refitPolicy: { fitSubsetMax: 16, fitSubsetBest: 4 } });
    const study = new FakeStudy(['minimize', 'maximize']);
    addHistory(study, 30, (a, b) => {
      const [f, g] = braninCurrin(a, b);
      return [f, -g];
    });
    await study.ask(sampler, SPACE);
    // Two objectives and one constraint: three subset fits of 16 rows, three builds of all 30.
    expect(backend.fitSizes).toEqual([16, 16, 16]);
    expect(backend.builds.map((b) => b.n)).toEqual([30, 30, 30]);
    expect(sampler.lastModelUpdate?.n).toBe(30);
    // The first objective's theta came from its 16-row subset (its 4 best rows among them).
    expect(sampler.lastModelUpdate?.kind).toBe('fit');
    expect(sampler.lastModelUpdate?.fitTrialIds).toHaveLength(16);
  });
});

describe('GpSampler with several objectives: pruned trials', () => {
  it('ignores usePrunedTrials (one intermediate value is not a value per objective): PRUNED trials do not count as startup observations', async () => {
    const sampler = new GpSampler({ seed: 4, nStartupTrials: 4, usePrunedTrials: true });
    const study = await createStudy({ storage: new InMemoryStorage(), sampler, directions: ['minimize', 'minimize'] });
    for (let i = 0; i < 6; i++) {
      const t = await study.ask();
      const v = braninCurrin(t.suggestFloat('x0', 0, 1), t.suggestFloat('x1', 0, 1));
      if (i % 2 === 0) {
        await study.tell(t, v);
      } else {
        await t.report(0, v[0]);
        await study.tell(t, { state: 'PRUNED' });
      }
    }
    // 3 COMPLETE + 3 PRUNED: still below nStartupTrials = 4 observations, so the next ask is Sobol
    // (it used to count the PRUNED ones and fit the GP on the 3 COMPLETE trials, leaving the
    // pruned points neither modelled nor avoided).
    const t = await study.ask();
    t.suggestFloat('x0', 0, 1);
    t.suggestFloat('x1', 0, 1);
    expect(sampler.lastModelUpdate).toBeNull();
    await study.tell(t, braninCurrin(t.params.x0 as number, t.params.x1 as number));
    const next = await study.ask();
    next.suggestFloat('x0', 0, 1);
    next.suggestFloat('x1', 0, 1);
    expect(sampler.lastModelUpdate?.n).toBe(4); // the 4 COMPLETE trials
  });
});

describe('GpSampler with several objectives: extreme values', () => {
  it('refits (not fails) when a value appended under the kept scaling has no finite target', async () => {
    // The first fit standardizes objective 0 over values in [0, 1e-6] (sd ~ 3e-7); 1.7e308 under
    // that scaling overflowed to an infinite target, and appending it threw INVALID_OPTION, failing
    // every later ask of the study (each objective's model is refit on all rows instead).
    for (const backend of ['js', 'cpu'] as const) {
      const sampler = new GpSampler({ seed: 1, nStartupTrials: 4, backend, refitPolicy: { refitEveryTrialBelow: 0, refitGrowthDivisor: 1 } });
      const study = await createStudy({ storage: new InMemoryStorage(), sampler, directions: ['minimize', 'minimize'] });
      const kinds: (string | undefined)[] = [];
      for (let i = 0; i < 8; i++) {
        const t = await study.ask();
        const x = t.suggestFloat('x', 0, 1);
        const y = t.suggestFloat('y', 0, 1);
        kinds.push(sampler.lastModelUpdate?.kind);
        await study.tell(t, i === 5 ? [1.7e308, y] : [x * 1e-6, y]);
      }
      expect((await study.getTrials()).every((t) => t.state === 'COMPLETE')).toBe(true);
      expect(kinds[6]).toBe('fit'); // the row with the extreme value: a refit with its scaling
      expect(kinds[7]).toBe('append');
    }
  });
});
