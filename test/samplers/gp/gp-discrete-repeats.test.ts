/**
 * GpSampler on fully discrete spaces: a suggestion is never a configuration already evaluated,
 * running or failed while the space still holds one that is not (as Ax's discrete acquisition
 * search drops its observed points, BoTorch's `optimize_acqf_discrete(X_avoid=...)`); spaces too
 * large to enumerate score the repeated point's neighbours and the search's candidates instead.
 */
import { describe, expect, it } from 'vitest';
import { GpSampler, type GpSamplerOptions } from '../../../src/samplers/gp/gp-sampler.js';
import type { ParamValue } from '../../../src/space/types.js';
import { createStudy } from '../../../src/study/create-study.js';
import type { StudyDirection } from '../../../src/trial/types.js';
import type { Trial } from '../../../src/trial/trial.js';

/** The first index at which `values` repeats an earlier entry, or -1. */
function firstRepeat(values: readonly (ParamValue | ParamValue[])[]): number {
  const keys = values.map((v) => JSON.stringify(v));
  return keys.findIndex((key, i) => keys.indexOf(key) < i);
}

const BACKENDS = ['cpu', 'js'] as const;

describe('GpSampler on a discrete space with configurations left', () => {
  for (const backend of BACKENDS) {
    it(`${backend}: a 1-D int space of 3, 5 or 8 points is covered before any point repeats (seeds 0-3, both directions)`, async () => {
      const repeats: string[] = [];
      for (const size of [3, 5, 8]) {
        for (const seed of [0, 1, 2, 3]) {
          for (const direction of ['minimize', 'maximize'] as const) {
            const study = await createStudy({ direction, sampler: new GpSampler({ seed, nStartupTrials: 1, numThreads: 1, backend }) });
            const seen: number[] = [];
            await study.optimize(
              (trial) => {
                const a = trial.suggestInt('a', 0, size - 1);
                seen.push(a);
                return (a - 1.3) ** 2;
              },
              { nTrials: size, catch: 'none' },
            );
            if (firstRepeat(seen) >= 0) repeats.push(`${size} points, seed ${seed}, ${direction}: ${seen.join(',')}`);
          }
        }
      }
      expect(repeats).toEqual([]);
    });

    it(`${backend}: askBatch(8) on a 5-point space after two told trials covers the points left before repeating one (seeds 0-3)`, async () => {
      const spaces: [string, (t: Trial) => ParamValue][] = [
        ['int', (t) => t.suggestInt('a', 0, 4)],
        ['stepped float', (t) => t.suggestFloat('a', 0, 1, { step: 0.25 })],
        ['categorical', (t) => t.suggestCategorical('a', [0, 1, 2, 3, 4])],
      ];
      const early: string[] = [];
      for (const [kind, suggest] of spaces) {
        for (const seed of [0, 1, 2, 3]) {
          const study = await createStudy({ sampler: new GpSampler({ seed, nStartupTrials: 2, numThreads: 1, backend }) });
          const told: ParamValue[] = [];
          for (let i = 0; i < 2; i++) {
            const trial = await study.ask();
            const a = suggest(trial);
            told.push(a);
            await study.tell(trial, (Number(a) * (kind === 'stepped float' ? 4 : 1) - 1.3) ** 2);
          }
          const batch = (await study.askBatch(8)).map(suggest);
          // The batch's first 5 - |told| trials are the points not told, each once.
          const left = 5 - new Set(told.map(String)).size;
          const head = batch.slice(0, left).map(String);
          if (new Set([...told.map(String), ...head]).size !== 5) early.push(`${kind}, seed ${seed}: told ${told.join(',')}, batch ${batch.join(',')}`);
        }
      }
      expect(early).toEqual([]);
    });
  }

  it('a 3 x 2 categorical space, a log-int dim and a stepped float: every configuration before any repeat', async () => {
    const cases: [string, (t: Trial) => ParamValue[], number, GpSamplerOptions][] = [
      ['categorical 3 x 2', (t) => [t.suggestCategorical('a', ['x', 'y', 'z']), t.suggestCategorical('b', [1, 2])], 6, {}],
      ['log int 1..6 x bool', (t) => [t.suggestInt('n', 1, 6, { log: true }), t.suggestCategorical('flag', [true, false])], 12, {}],
      ['stepped float x int, ucb', (t) => [t.suggestFloat('s', 0, 1, { step: 0.25 }), t.suggestInt('k', -1, 1)], 15, { acquisition: 'ucb' }],
    ];
    for (const [name, suggest, size, options] of cases) {
      const study = await createStudy({ sampler: new GpSampler({ seed: 2, nStartupTrials: 2, numThreads: 1, ...options }) });
      const seen: ParamValue[][] = [];
      await study.optimize(
        (trial) => {
          const p = suggest(trial);
          seen.push(p);
          return p.reduce<number>((s, v, i) => s + (i + 1) * String(v).length + (typeof v === 'number' ? v : 0), 0);
        },
        { nTrials: size, catch: 'none' },
      );
      // The two Sobol startup trials may coincide; from the first GP trial on, nothing repeats.
      const gp = seen.slice(1);
      expect(firstRepeat(gp), `${name}: ${JSON.stringify(seen)}`).toBe(-1);
    }
  });

  it('spaces too large to enumerate (four ints of 1..32; log ints, a categorical and a fine step): no repeat in 40 trials', async () => {
    // Without the guard 31-38 of 60 trials repeated a configuration once the model was sure of its optimum.
    const cases: [string, (t: Trial) => number][] = [
      ['interior optimum', (t) => [0, 1, 2, 3].reduce((s, i) => s + (t.suggestInt(`p${i}`, 1, 32) - 7 - 5 * i) ** 2, 0)],
      ['optimum on a bound', (t) => [0, 1, 2, 3].reduce((s, i) => s + (i + 1) * t.suggestInt(`p${i}`, 1, 32), 0)],
      [
        'log ints, a categorical, a stepped float',
        (t) =>
          Math.log(t.suggestInt('a', 1, 64, { log: true })) -
          Math.log(t.suggestInt('b', 1, 64, { log: true })) +
          (t.suggestCategorical('c', ['w', 'x', 'y', 'z']) === 'x' ? 0 : 1) +
          t.suggestFloat('s', 0, 1, { step: 0.01 }),
      ],
    ];
    for (const [name, objective] of cases) {
      for (const seed of [0, 1]) {
        const study = await createStudy({ sampler: new GpSampler({ seed, numThreads: 1 }) });
        await study.optimize(objective, { nTrials: 40, catch: 'none' });
        const keys = (await study.getTrials()).map((t) => JSON.stringify(t.params));
        // The ten Sobol startup trials are independent of the guard; from the first GP trial on, no repeat.
        const repeats = keys.filter((key, i) => i >= 10 && keys.indexOf(key) < i);
        expect(repeats, `${name}, seed ${seed}`).toEqual([]);
      }
    }
  });

  it('several objectives (logEHVI and ParEGO) and constraints with nothing feasible: no repeat while points are left', async () => {
    const runs: [string, StudyDirection[], GpSamplerOptions][] = [
      ['logehvi', ['minimize', 'maximize'], {}],
      ['parego', ['minimize', 'maximize'], { multiObjectiveAcquisition: 'parego' }],
      ['constrained, all infeasible', ['minimize'], { constraintsFunc: (t) => [1 + (t.params.a as number)] }],
    ];
    for (const [name, directions, options] of runs) {
      const study = await createStudy({ directions, sampler: new GpSampler({ seed: 0, nStartupTrials: 1, numThreads: 1, ...options }) });
      const seen: number[] = [];
      await study.optimize(
        (trial) => {
          const a = trial.suggestInt('a', 0, 5);
          seen.push(a);
          return directions.length === 1 ? a : [a, a * a];
        },
        { nTrials: 6, catch: 'none' },
      );
      expect(firstRepeat(seen), `${name}: ${seen.join(',')}`).toBe(-1);
    }
  });

  it('a sampler moved to another study covers that study\'s points before repeating one, as a new sampler does', async () => {
    // The guard keeps the keys of the configurations it has seen across suggestions: those of the
    // first study, all 16 points, must not count as taken in the second (the trial ids of two
    // in-memory storages coincide, so keys kept by id would look valid there); the second would
    // then run unguarded and repeat points.
    const objective = (target: number) => (trial: Trial): number =>
      (trial.suggestInt('a', 0, 7) - target) ** 2 + (trial.suggestCategorical('b', ['x', 'y']) === 'x' ? 0 : 1);
    const sampler = new GpSampler({ seed: 0, nStartupTrials: 2, numThreads: 1 });
    const repeats: string[] = [];
    for (const target of [0, 6]) {
      const study = await createStudy({ sampler });
      await study.optimize(objective(target), { nTrials: 16, catch: 'none' });
      const keys = (await study.getTrials()).map((t) => JSON.stringify(t.params));
      // The two Sobol startup trials may coincide; from the first GP trial on, nothing repeats.
      if (firstRepeat(keys.slice(1)) >= 0) repeats.push(`target ${target}: ${keys.join(' ')}`);
    }
    expect(repeats).toEqual([]);
  });

  it('a partially enqueued trial is not given the free values of an evaluated configuration at its held value', async () => {
    const study = await createStudy({ sampler: new GpSampler({ seed: 0, nStartupTrials: 1, numThreads: 1 }) });
    const objective = (trial: Trial): number => trial.suggestInt('a', 0, 1) + trial.suggestInt('b', 0, 2);
    await study.enqueueTrial({ a: 0, b: 0 });
    await study.enqueueTrial({ a: 0, b: 1 });
    await study.optimize(objective, { nTrials: 2, catch: 'none' });
    // a = 0 leaves b = 2 only: b = 0 (the best so far) would repeat trial 0.
    await study.enqueueTrial({ a: 0 });
    await study.optimize(objective, { nTrials: 1, catch: 'none' });
    const trials = await study.getTrials();
    expect(trials[2].params).toEqual({ a: 0, b: 2 });
  });
});
