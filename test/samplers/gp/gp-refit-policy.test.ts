import { describe, expect, it } from 'vitest';
import { InvalidOptionError, NumericalError } from '../../../src/errors.js';
import {
  DEFAULT_REFIT_POLICY,
  GpSampler,
  selectFitSubset,
  type ModelUpdateKind,
  type RefitPolicy,
} from '../../../src/samplers/gp/gp-sampler.js';
import type { ParamValue } from '../../../src/space/types.js';
import { fitOutcomeTransform, moments } from '../../../src/surrogate/outcome-transform.js';
import { resetWarnOnce } from '../../../src/util/warn.js';
import { CountingBackend } from './counting-backend.js';
import type { FakeStudy } from './fake-study.js';
import { SPACE, objective, seededStudy } from './seeded-study.js';

// The MAP model throughout (hyperparameterDraw: 'map'): these tests count the refit policy's fits
// and builds, and the default Laplace draw adds a build of its own per suggestion
// (hyperparameter-draw.test.ts).
async function runSteps(
  policy: Partial<RefitPolicy>,
  nInitial: number,
  steps: number,
  backend = new CountingBackend(),
): Promise<{ kinds: ModelUpdateKind[]; sizes: number[]; thetas: Float64Array[]; backend: CountingBackend; sampler: GpSampler; study: FakeStudy }> {
  const sampler = new GpSampler({ seed: 5, nStartupTrials: 4, candidates: 64, restarts: 2, backend, refitPolicy: policy, hyperparameterDraw: 'map' });
  const study = seededStudy(nInitial);
  const kinds: ModelUpdateKind[] = [];
  const sizes: number[] = [];
  const thetas: Float64Array[] = [];
  for (let s = 0; s < steps; s++) {
    const trial = await study.ask(sampler, SPACE);
    const update = sampler.lastModelUpdate;
    if (update === null) throw new Error('no model update recorded');
    kinds.push(update.kind);
    sizes.push(update.n);
    thetas.push(update.theta);
    await study.tell(sampler, trial, 'COMPLETE', objective(trial.params as Record<string, ParamValue>));
  }
  return { kinds, sizes, thetas, backend, sampler, study };
}

describe('GpSampler large-n refit policy (small thresholds injected)', () => {
  it('fits on all observations up to fitSubsetMax, then on a subset of that size', async () => {
    const policy = { refitEveryTrialBelow: 0, refitGrowthDivisor: 4, fitSubsetMax: 16, fitSubsetBest: 4 };
    const { kinds, sizes, backend } = await runSteps(policy, 14, 4);
    // n = 14: first fit (all 14); 15, 16: growth 1, 2 < ceil(14/4) = 4 -> append; 17: growth 3 -> append.
    expect(kinds).toEqual(['fit', 'append', 'append', 'append']);
    expect(backend.fitSizes).toEqual([14]);
    expect(sizes).toEqual([14, 15, 16, 17]);
  });

  it('fits the outcome transform at each fit and keeps it for the rows appended until the next one', async () => {
    const { kinds, backend, study } = await runSteps({ refitEveryTrialBelow: 0, refitGrowthDivisor: 4 }, 14, 6);
    expect(kinds).toEqual(['fit', 'append', 'append', 'append', 'fit', 'append']);
    // Targets of a minimized objective: its negated values, in trial order.
    const values = study.trials.map((t) => -(t.values as number[])[0]);
    const atFirstFit = fitOutcomeTransform(values.slice(0, 14), 'power', 'worst-observed');
    expect(atFirstFit.lambda).not.toBe(1);
    expect(Array.from(backend.fitTargets[0])).toEqual(values.slice(0, 14).map((v) => atFirstFit.apply(v)));
    // Trials 14-16 are appended with the transform fitted on the first 14 values, not refitted.
    expect(backend.appendTargets.slice(0, 3).map((y) => y[0])).toEqual([14, 15, 16].map((i) => atFirstFit.apply(values[i])));
    // The refit at 18 fits it again on all 18 values.
    const atRefit = fitOutcomeTransform(values.slice(0, 18), 'power', 'worst-observed');
    expect(Array.from(backend.fitTargets[1])).toEqual(values.slice(0, 18).map((v) => atRefit.apply(v)));
    expect(backend.appendTargets[3][0]).toBe(atRefit.apply(values[18]));
  });

  it("with outcomeTransform: 'standardize' and priorMean: 'mean' the targets are only standardized", async () => {
    const backend = new CountingBackend();
    const sampler = new GpSampler({
      seed: 5,
      nStartupTrials: 4,
      candidates: 64,
      restarts: 2,
      backend,
      outcomeTransform: 'standardize',
      priorMean: 'mean',
    });
    const study = seededStudy(14);
    await study.ask(sampler, SPACE);
    const values = study.trials.slice(0, 14).map((t) => -(t.values as number[])[0]);
    const { mean, std } = moments(values);
    expect(Array.from(backend.fitTargets[0])).toEqual(values.map((v) => (v - mean) / std));
    expect(() => new GpSampler({ outcomeTransform: 'log' as 'power' })).toThrow(/outcomeTransform/);
  });

  it('keeps the full model (append) when the subset theta barely moves, and counts it as a refit', async () => {
    const policy = { refitEveryTrialBelow: 0, refitGrowthDivisor: 4, fitSubsetMax: 16, fitSubsetBest: 4, thetaRebuildTolerance: Infinity };
    const { kinds, sizes, backend, sampler } = await runSteps(policy, 20, 11);
    // 20: no model yet -> subset fit + rebuild; growth since the fit at 20 must reach ceil(20/4) = 5.
    // 25: subset refit (kept: tolerance infinite); next due at 25 + ceil(25/4) = 32.
    expect(kinds).toEqual([
      'subset-rebuild', 'append', 'append', 'append', 'append',
      'subset-kept', 'append', 'append', 'append', 'append', 'append',
    ]);
    // Every hyperparameter fit used exactly fitSubsetMax observations...
    expect(backend.fitSizes).toEqual([16, 16]);
    // ...and the refits were warm-started from the model's theta.
    expect(backend.fitOptions[1].warmStart).not.toBeNull();
    // The model always holds all n observations.
    expect(sizes).toEqual([20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30]);
    expect(sampler.lastModelUpdate?.n).toBe(30);
  });

  it('rebuilds the full model at the subset theta when theta moved beyond the tolerance', async () => {
    const policy = { refitEveryTrialBelow: 0, refitGrowthDivisor: 4, fitSubsetMax: 16, fitSubsetBest: 4, thetaRebuildTolerance: 0 };
    const { kinds, sizes, backend, sampler } = await runSteps(policy, 20, 6);
    expect(kinds).toEqual(['subset-rebuild', 'append', 'append', 'append', 'append', 'subset-rebuild']);
    expect(backend.fitSizes).toEqual([16, 16]);
    expect(sizes[5]).toBe(25);
    const last = sampler.lastModelUpdate;
    expect(last?.fitTrialIds).toHaveLength(16);
    expect(last?.thetaChange).toBeGreaterThan(0);
    // Each rebuild factors all n observations once, at the theta the subset fit found.
    expect(backend.builds.map((b) => b.n)).toEqual([20, 25]);
    expect(Array.from(backend.builds[1].theta)).toEqual(Array.from(last!.theta));
  });

  it('rebuilds once the data doubled since the last build, even with an infinite tolerance', async () => {
    const policy = { refitEveryTrialBelow: 0, refitGrowthDivisor: 1, fitSubsetMax: 8, fitSubsetBest: 2, thetaRebuildTolerance: Infinity };
    // 10: build; refits due at 20 (growth 10 >= 10): 20 = 2 x 10 -> rebuild.
    const { kinds } = await runSteps(policy, 10, 11);
    expect(kinds[0]).toBe('subset-rebuild');
    expect(kinds.slice(1, 10).every((k) => k === 'append')).toBe(true);
    expect(kinds[10]).toBe('subset-rebuild');
  });

  it('is reproducible for a seed: same suggestions and same fit subsets', async () => {
    const policy = { refitEveryTrialBelow: 0, refitGrowthDivisor: 4, fitSubsetMax: 16, fitSubsetBest: 4, thetaRebuildTolerance: 0 };
    const one = await runSteps(policy, 20, 6);
    const two = await runSteps(policy, 20, 6);
    expect(two.study.trials.map((t) => t.params)).toEqual(one.study.trials.map((t) => t.params));
    expect(two.sampler.lastModelUpdate?.fitTrialIds).toEqual(one.sampler.lastModelUpdate?.fitTrialIds);
  });

  it('starts a first fit on a subset, refines briefly on all observations, and finishes at the next suggestion', async () => {
    // refitGrowthDivisor 2: after the refit at 15 the next one is due at 15 + 8, so only the
    // provisional first fit makes the second suggestion refit.
    const policy = { refitEveryTrialBelow: 0, refitGrowthDivisor: 2, coldFitScreenSize: 8 };
    const { kinds, sizes, thetas, backend } = await runSteps(policy, 14, 3);
    expect(kinds).toEqual(['fit-screened', 'fit', 'append']);
    // 14 > 8: a cold fit on 8 observations (the default start and one random restart, at most
    // 15 iterations each: it only places the next start), then 12
    // iterations from its optimum on all 14; the next suggestion refits on all 15 to
    // convergence, warm-started from that theta.
    expect(backend.fitSizes).toEqual([8, 14, 15]);
    expect(backend.builds).toEqual([]);
    expect(sizes).toEqual([14, 15, 16]);
    expect(backend.fitOptions[0].warmStart).toBeNull();
    expect(backend.fitOptions[0].nRestarts).toBe(1);
    expect(backend.fitOptions[0].maxIterations).toBe(15);
    expect(backend.fitOptions[1].warmStart).not.toBeNull();
    expect(backend.fitOptions[1].nRestarts).toBe(1);
    expect(backend.fitOptions[1].maxIterations).toBe(12);
    expect(Array.from(backend.fitOptions[2].warmStart ?? [])).toEqual(Array.from(thetas[0]));
    expect(backend.fitOptions[2].maxIterations).toBeUndefined();
    // Up to the screen size a first fit runs its restarts on all observations.
    const small = await runSteps({ refitEveryTrialBelow: 100, coldFitScreenSize: 16 }, 14, 1);
    expect(small.kinds).toEqual(['fit']);
    expect(small.backend.fitSizes).toEqual([14]);
    expect(small.backend.fitOptions[0].warmStart).toBeNull();
    expect(small.backend.fitOptions[0].nRestarts).toBe(3);
  });

  it('refits instead of appending a value the kept outcome transform cannot map, as the column models do', async () => {
    // 1.7e308 beside values near 1 has no finite target under the transform fitted without it
    // (it overflows). It used to be appended anyway: every suggestion threw NumericalError and was
    // sampled at random until the growth rule refit (here at 28 observations). A refit fits the
    // transform on every value, which maps it (gp-sampler.test.ts models such values at a fit).
    await withWarningCodes(async (warnings) => {
      for (const [policy, nInitial, expected] of [
        [{ refitEveryTrialBelow: 0, refitGrowthDivisor: 1 }, 14, ['fit', 'fit', 'append']],
        // Behind a pending background rebuild (its standardization is the served model's): the
        // rebuild is dropped and the refit decides anew.
        [{ refitEveryTrialBelow: 0, refitGrowthDivisor: 1, fitSubsetMax: 16, fitSubsetBest: 4, backgroundRebuildAbove: 0 }, 20, ['subset-deferred', 'subset-deferred', 'append']],
      ] as const) {
        for (const outcomeTransform of ['power', 'standardize'] as const) {
          resetWarnOnce();
          warnings.length = 0;
          const sampler = new GpSampler({ seed: 5, nStartupTrials: 4, candidates: 64, restarts: 2, backend: new CountingBackend(), outcomeTransform, refitPolicy: policy, hyperparameterDraw: 'map' });
          const study = seededStudy(nInitial);
          const kinds: ModelUpdateKind[] = [];
          const sizes: number[] = [];
          for (let s = 0; s < 3; s++) {
            const trial = await study.ask(sampler, SPACE);
            kinds.push(sampler.lastModelUpdate?.kind as ModelUpdateKind);
            sizes.push(sampler.lastModelUpdate?.n as number);
            await study.tell(sampler, trial, 'COMPLETE', s === 0 ? 1.7e308 : objective(trial.params as Record<string, ParamValue>));
          }
          await new Promise((resolve) => setImmediate(resolve));
          expect(warnings, outcomeTransform).not.toContain('GP_NUMERICAL_FALLBACK');
          expect(kinds, outcomeTransform).toEqual(expected);
          if (nInitial === 14) expect(sizes).toEqual([14, 15, 16]);
        }
      }
    });
  });

  it('refits instead of appending a value with a finite target too large for the model, which failed the ask', async () => {
    // With 'standardize', 1e307 beside values near 1 has a finite target under the kept
    // standardization (about -1e307), but appended, the model's solves overflowed: the failed
    // trial's fantasy was predicted NaN, and its append threw InvalidOptionError ("y[0]") out of
    // the next ask, which failed the study's optimize (a finite value of 1e300 did the same there).
    const sampler = new GpSampler({
      seed: 5,
      nStartupTrials: 4,
      candidates: 64,
      restarts: 2,
      backend: new CountingBackend(),
      outcomeTransform: 'standardize',
      refitPolicy: { refitEveryTrialBelow: 0, refitGrowthDivisor: 1 },
    });
    const study = seededStudy(14);
    const kinds: ModelUpdateKind[] = [];
    for (let s = 0; s < 4; s++) {
      const trial = await study.ask(sampler, SPACE);
      kinds.push(sampler.lastModelUpdate?.kind as ModelUpdateKind);
      if (s === 0) await study.tell(sampler, trial, 'COMPLETE', 1e307);
      else if (s === 1) await study.tell(sampler, trial, 'FAIL', null);
      else await study.tell(sampler, trial, 'COMPLETE', objective(trial.params as Record<string, ParamValue>));
    }
    expect(kinds).toEqual(['fit', 'fit', 'reuse', 'append']);
    expect(study.trials.slice(14).every((t) => Object.keys(t.params).length === 2)).toBe(true);
  });

  describe('background rebuilds (backgroundRebuildAbove)', () => {
    const policy = {
      refitEveryTrialBelow: 0,
      refitGrowthDivisor: 4,
      fitSubsetMax: 16,
      fitSubsetBest: 4,
      thetaRebuildTolerance: 0,
      backgroundRebuildAbove: 0,
      backgroundRebuildLag: 2,
    };

    it('serves from the subset model, then from the previous model, and swaps the rebuild in after the lag', async () => {
      const { kinds, sizes, thetas, backend } = await runSteps(policy, 20, 9);
      // 20: no model -> subset fit; served by the subset model (16 rows + the trials that
      //     arrive), rebuilt behind it, swapped in ceil(2 * 20 / 16) = 3 suggestions later with
      //     the new rows appended.
      // 25: refit due (growth ceil(20/4) = 5) -> theta moved (tolerance 0) -> the previous full
      //     model serves (appended to) while the rebuild at 25 runs; swapped in at 27 (the lag).
      expect(kinds).toEqual([
        'subset-deferred', 'append', 'append', 'rebuilt', 'append',
        'subset-deferred', 'append', 'rebuilt', 'append',
      ]);
      expect(sizes).toEqual([16, 17, 18, 23, 24, 25, 26, 27, 28]);
      expect(backend.builds.map((b) => b.n)).toEqual([20, 25]);
      // The served model keeps its theta until the swap; the rebuilt one has the subset fit's.
      expect(Array.from(thetas[6])).toEqual(Array.from(thetas[4]));
      expect(Array.from(thetas[7])).toEqual(Array.from(backend.builds[1].theta));
      expect(Array.from(thetas[3])).toEqual(Array.from(backend.builds[0].theta));
    });

    it('lets a subset-served rebuild run two suggestions per fitSubsetMax rows (at least the lag)', async () => {
      // 40 rows, fitSubsetMax 16: swapped in ceil(2 * 40 / 16) = 5 suggestions later (the lag is 2).
      const { kinds, sizes, backend } = await runSteps(policy, 40, 7);
      expect(kinds).toEqual(['subset-deferred', 'append', 'append', 'append', 'append', 'rebuilt', 'append']);
      expect(sizes).toEqual([16, 17, 18, 19, 20, 45, 46]);
      expect(backend.builds.map((b) => b.n)).toEqual([40]);
    });

    it('starts the background build only after the deciding suggestion maximized its acquisition', async () => {
      const { backend } = await runSteps(policy, 20, 6);
      // 20: subset fit, acquisition on the subset model, then the build; 21, 22 (swap), 23, 24:
      // acquisition only; 25: subset refit, acquisition on the previous model, then the build.
      expect(backend.events).toEqual([
        'fit', 'acquisition', 'build',
        'acquisition', 'acquisition', 'acquisition', 'acquisition',
        'fit', 'acquisition', 'build',
      ]);
    });

    it('is reproducible for a seed (the swap point counts suggestions, not time)', async () => {
      const one = await runSteps(policy, 20, 8);
      const two = await runSteps(policy, 20, 8);
      expect(two.study.trials.map((t) => t.params)).toEqual(one.study.trials.map((t) => t.params));
      expect(two.kinds).toEqual(one.kinds);
    });

    it('keeps serving the previous model when a background rebuild fails, with a coded warning', async () => {
      await withWarningCodes(async (warnings) => {
        const backend = new CountingBackend();
        backend.failBuilds.add(2);
        const { kinds, sizes } = await runSteps(policy, 20, 9, backend);
        await new Promise((resolve) => setImmediate(resolve));
        expect(kinds.slice(5)).toEqual(['subset-deferred', 'append', 'append', 'append']);
        expect(sizes.slice(5)).toEqual([25, 26, 27, 28]);
        expect(warnings).toContain('GP_REBUILD_FAILED');
      });
    });

    it('starts over when the failed rebuild was behind a subset-served model', async () => {
      const backend = new CountingBackend();
      backend.failBuilds.add(1);
      const { kinds, sizes } = await runSteps(policy, 20, 5, backend);
      // The subset model never stands in for the full one beyond the lag: the suggestion of the
      // failed swap fits again.
      expect(kinds).toEqual(['subset-deferred', 'append', 'append', 'subset-deferred', 'append']);
      expect(sizes).toEqual([16, 17, 18, 16, 17]);
      expect(backend.builds.map((b) => b.n)).toEqual([20, 23]);
    });

    it('a background build that throws synchronously fails the rebuild, not the deciding suggestion', async () => {
      // A SurrogateBackend whose build throws instead of returning a rejected promise (input
      // checks done before any async work): the fit path awaits it, so the background path must
      // take it the same way. It used to escape from the deciding suggestion's `finally`, which
      // then fell back to random sampling, and the build was silently retried by the next one.
      const backend = new CountingBackend();
      const build = backend.build.bind(backend);
      let calls = 0;
      backend.build = (...args) => {
        calls += 1;
        if (calls === 1) throw new NumericalError('injected synchronous build failure');
        return build(...args);
      };
      await withWarningCodes(async (warnings) => {
        const reference = await runSteps(policy, 20, 4);
        const { kinds, study } = await runSteps(policy, 20, 4, backend);
        await new Promise((resolve) => setImmediate(resolve));
        // The deciding suggestion keeps its acquisition optimum (as without the failure) ...
        expect(study.trials[20].params).toEqual(reference.study.trials[20].params);
        expect(warnings).not.toContain('GP_NUMERICAL_FALLBACK');
        // ... and the failed rebuild is dropped at its swap (the subset-served model starts over).
        expect(warnings).toContain('GP_REBUILD_FAILED');
        expect(kinds).toEqual(['subset-deferred', 'append', 'append', 'subset-deferred']);
        expect(calls).toBe(2);
      });
    });

    it('serializes the model updates of concurrent suggestions', async () => {
      const backend = new CountingBackend();
      const sampler = new GpSampler({ seed: 5, nStartupTrials: 4, candidates: 64, restarts: 2, backend, refitPolicy: policy, hyperparameterDraw: 'map' });
      const study = seededStudy(20);
      const trials = await Promise.all([study.ask(sampler, SPACE), study.ask(sampler, SPACE), study.ask(sampler, SPACE)]);
      expect(trials.every((t) => Object.keys(t.params).length === 2)).toBe(true);
      // One subset fit and one background build, not one per concurrent suggestion.
      expect(backend.fitSizes).toEqual([16]);
      expect(backend.builds.map((b) => b.n)).toEqual([20]);
    });
  });

  it('validates refitPolicy at the boundary', () => {
    expect(() => new GpSampler({ refitPolicy: { fitSubsetMax: 1 } })).toThrow(InvalidOptionError);
    expect(() => new GpSampler({ refitPolicy: { fitSubsetMax: 8, fitSubsetBest: 9 } })).toThrow(/fitSubsetBest/);
    expect(() => new GpSampler({ refitPolicy: { thetaRebuildTolerance: -1 } })).toThrow(/thetaRebuildTolerance/);
    expect(() => new GpSampler({ refitPolicy: { backgroundRebuildLag: 0 } })).toThrow(/backgroundRebuildLag/);
    expect(() => new GpSampler({ refitPolicy: { coldFitScreenSize: 1 } })).toThrow(/coldFitScreenSize/);
    expect(() => new GpSampler({ refitPolicy: { backgroundRebuildAbove: 1.5 } })).toThrow(/backgroundRebuildAbove/);
    expect(new GpSampler({ refitPolicy: { backgroundRebuildAbove: Infinity } })).toBeInstanceOf(GpSampler);
    // null is not "left out": it is refused like any other non-number, as are arrays.
    expect(() => new GpSampler({ refitPolicy: { refitEveryTrialBelow: null as never } })).toThrow(/refitPolicy\.refitEveryTrialBelow/);
    expect(() => new GpSampler({ refitPolicy: { thetaRebuildTolerance: null as never } })).toThrow(/refitPolicy\.thetaRebuildTolerance/);
    expect(() => new GpSampler({ refitPolicy: [] as never })).toThrow(InvalidOptionError);
    // A smaller fitSubsetMax alone is valid: the left-out fitSubsetBest keeps its share (a quarter).
    expect(() => new GpSampler({ refitPolicy: { fitSubsetMax: 200 } })).not.toThrow();
    expect(() => new GpSampler({ refitPolicy: { refitEvery: 3 } as unknown as Partial<RefitPolicy> })).toThrow(/refitPolicy\.refitEvery/);
    expect(DEFAULT_REFIT_POLICY.fitSubsetMax).toBeGreaterThanOrEqual(DEFAULT_REFIT_POLICY.fitSubsetBest);
  });
});

describe('selectFitSubset', () => {
  const n = 200;
  const ids = Array.from({ length: n }, (_, i) => 1000 + i);
  const values = ids.map((id) => Math.sin(id * 12.9898) * 43758.5453 % 1);

  it('keeps the nBest best and fills the rest with a seeded sample, deterministically', () => {
    const a = selectFitSubset({ trialIds: ids, values, size: 40, nBest: 10, seed: 7 });
    const b = selectFitSubset({ trialIds: ids, values, size: 40, nBest: 10, seed: 7 });
    const c = selectFitSubset({ trialIds: ids, values, size: 40, nBest: 10, seed: 8 });
    expect(a).toEqual(b);
    expect(new Set(a).size).toBe(40);
    const best = [...ids].sort((x, y) => values[y - 1000] - values[x - 1000]).slice(0, 10);
    expect(a.slice(0, 10)).toEqual(best);
    // A different seed samples a different rest (the best part is the same).
    expect(c.slice(0, 10)).toEqual(best);
    expect(c.slice(10)).not.toEqual(a.slice(10));
  });

  it('is stable as observations arrive: one new observation changes at most one sampled member', () => {
    const before = selectFitSubset({ trialIds: ids.slice(0, n - 1), values: values.slice(0, n - 1), size: 40, nBest: 0, seed: 7 });
    const after = selectFitSubset({ trialIds: ids, values, size: 40, nBest: 0, seed: 7 });
    const dropped = before.filter((id) => !after.includes(id));
    expect(dropped.length).toBeLessThanOrEqual(1);
  });

  it('returns every id (sorted) when there are at most `size`, and validates its options', () => {
    expect(selectFitSubset({ trialIds: [5, 3, 4], values: [1, 2, 3], size: 4, nBest: 1, seed: 1 })).toEqual([3, 4, 5]);
    expect(() => selectFitSubset({ trialIds: [1, 2], values: [1], size: 4, nBest: 1, seed: 1 })).toThrow(/values/);
    expect(() => selectFitSubset({ trialIds: [1], values: [1], size: 2, nBest: 3, seed: 1 })).toThrow(/nBest/);
  });
});

/**
 * Runs `body` with the codes of the process warnings emitted meanwhile collected in `warnings`
 * (the listener is removed afterwards, however `body` ends).
 */
async function withWarningCodes(body: (warnings: string[]) => Promise<void>): Promise<void> {
  const warnings: string[] = [];
  const onWarning = (w: Error & { code?: string }): void => {
    if (w.code !== undefined) warnings.push(w.code);
  };
  process.on('warning', onWarning);
  try {
    await body(warnings);
  } finally {
    process.off('warning', onWarning);
  }
}
