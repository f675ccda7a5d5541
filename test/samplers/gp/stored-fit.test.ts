import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GpSampler, type ModelUpdateKind, type RefitPolicy } from '../../../src/samplers/gp/gp-sampler.js';
import { STORED_FIT_VERSION, findStoredFit, storedFitKey } from '../../../src/samplers/gp/stored-fit.js';
import { floatDistribution } from '../../../src/space/distributions.js';
import type { ParamValue } from '../../../src/space/types.js';
import { createStudy } from '../../../src/study/create-study.js';
import { thetaBounds } from '../../../src/surrogate/hyperparameters.js';
import { FrozenTrial } from '../../../src/trial/frozen-trial.js';
import { SystemAttr } from '../../../src/trial/system-attrs.js';
import type { JsonValue } from '../../../src/trial/types.js';
import { CountingBackend } from './counting-backend.js';
import type { FakeStudy } from './fake-study.js';
import { SPACE, objective, seededStudy } from './seeded-study.js';

// The MAP model (hyperparameterDraw: 'map'): these tests count fits and builds, and the default
// Laplace draw adds a build per suggestion (hyperparameter-draw.test.ts); the recorded fit is the
// MAP one either way.
function newSampler(policy: Partial<RefitPolicy>, backend: CountingBackend, kernel: 'matern52' | 'rbf' = 'matern52'): GpSampler {
  return new GpSampler({ seed: 5, nStartupTrials: 4, candidates: 64, restarts: 2, backend, kernel, refitPolicy: policy, hyperparameterDraw: 'map' });
}

/** `steps` ask/tell rounds of `sampler` on `study`; the model update kind of each. */
async function run(sampler: GpSampler, study: FakeStudy, steps: number): Promise<ModelUpdateKind[]> {
  const kinds: ModelUpdateKind[] = [];
  for (let s = 0; s < steps; s++) {
    const trial = await study.ask(sampler, SPACE);
    kinds.push(sampler.lastModelUpdate?.kind ?? ('none' as ModelUpdateKind));
    await study.tell(sampler, trial, 'COMPLETE', objective(trial.params as Record<string, ParamValue>));
  }
  return kinds;
}

/** The record key of a GpSampler modelling SPACE's dims a, b. */
const SIGNATURE = JSON.stringify(['a', 'b'].map((name) => [name, SPACE[name]]));
const keyOf = (kernel: 'matern52' | 'rbf', deterministic: boolean): number => storedFitKey(SIGNATURE, kernel, deterministic, 'power', 'worst-observed');

const recordOf = (t: FrozenTrial): JsonValue | undefined => t.systemAttrs[SystemAttr.gpFit];

/** The trial with the record replaced by `value` (for corrupting stored records). */
function withRecord(t: FrozenTrial, value: JsonValue): FrozenTrial {
  const data = t.toJSON();
  return new FrozenTrial({ ...data, systemAttrs: { ...data.systemAttrs, [SystemAttr.gpFit]: value } });
}

// Refit when the data grew by a quarter since the last fit, from the first GP suggestion on.
const POLICY = { refitEveryTrialBelow: 0, refitGrowthDivisor: 4 };

describe('GpSampler records its fitted hyperparameters in the study', () => {
  it('records each newly fitted theta on the sampled trial, and only those', async () => {
    const study = seededStudy(14);
    const sampler = newSampler(POLICY, new CountingBackend());
    // 14: fit; 15-17: append (growth < ceil(14 / 4) = 4); 18: refit; 19: append.
    expect(await run(sampler, study, 6)).toEqual(['fit', 'append', 'append', 'append', 'fit', 'append']);
    const recorded = study.trials.filter((t) => recordOf(t) !== undefined).map((t) => t.number);
    expect(recorded).toEqual([14, 18]);
    const record = recordOf(study.trials[18]) as { version: number; key: number; nAtFit: number; theta: number[] };
    expect(record.version).toBe(STORED_FIT_VERSION);
    expect(record.nAtFit).toBe(18);
    expect(record.key).toBe(keyOf('matern52', false));
    // Bit-exact through JSON: the theta of the model that served trials 18 and 19.
    expect(record.theta).toEqual(Array.from(sampler.lastModelUpdate?.theta ?? []));
  });

  it('does not record a provisional first fit; the refit that finishes it is recorded', async () => {
    const study = seededStudy(14);
    const sampler = newSampler({ ...POLICY, refitGrowthDivisor: 2, coldFitScreenSize: 8 }, new CountingBackend());
    expect(await run(sampler, study, 3)).toEqual(['fit-screened', 'fit', 'append']);
    expect(study.trials.filter((t) => recordOf(t) !== undefined).map((t) => t.number)).toEqual([15]);
  });

  it('lets a new sampler build at the recorded theta while no refit is due, without fitting', async () => {
    const study = seededStudy(14);
    const first = newSampler(POLICY, new CountingBackend());
    await run(first, study, 2); // fit at 14 (recorded), append at 15
    const theta = Array.from(first.lastModelUpdate?.theta ?? []);

    const backend = new CountingBackend();
    const resumed = newSampler(POLICY, backend);
    // 16 observations, fitted at 14: growth 2 < 4, so no refit is due.
    expect(await run(resumed, study, 2)).toEqual(['restored', 'append']);
    expect(backend.fitSizes).toEqual([]);
    expect(backend.builds.map((b) => b.n)).toEqual([16]);
    expect(Array.from(backend.builds[0].theta)).toEqual(theta);
    // Nothing new fitted, nothing recorded; the refit at 18 is, as the first sampler would have.
    expect(study.trials.filter((t) => recordOf(t) !== undefined).map((t) => t.number)).toEqual([14]);
    expect(await run(resumed, study, 1)).toEqual(['fit']);
    expect(backend.fitOptions[0].warmStart).not.toBeNull();
    expect(study.trials.filter((t) => recordOf(t) !== undefined).map((t) => t.number)).toEqual([14, 18]);
  });

  it('warm-starts a new sampler from the recorded theta when a refit is due: one start, no screen', async () => {
    const study = seededStudy(14);
    await run(newSampler(POLICY, new CountingBackend()), study, 5); // fits at 14 and 18
    const stored = recordOf(study.trials[18]) as { theta: number[] };

    const backend = new CountingBackend();
    // coldFitScreenSize 8 < 19: a cold first fit would screen on 8 observations first.
    const resumed = newSampler({ ...POLICY, refitGrowthDivisor: 100, coldFitScreenSize: 8 }, backend);
    expect(await run(resumed, study, 1)).toEqual(['fit']);
    expect(backend.fitSizes).toEqual([19]);
    expect(Array.from(backend.fitOptions[0].warmStart ?? [])).toEqual(stored.theta);
    expect(backend.fitOptions[0].nRestarts).toBe(1);
    expect(backend.fitOptions[0].maxIterations).toBeUndefined();
  });

  it('ignores a record of another configuration (kernel, space, noise, outcome transform)', async () => {
    const study = seededStudy(14);
    await run(newSampler(POLICY, new CountingBackend()), study, 2);

    const backend = new CountingBackend();
    expect(await run(newSampler(POLICY, backend, 'rbf'), study, 1)).toEqual(['fit']);
    expect(backend.fitOptions[0].warmStart).toBeNull();
    expect(backend.fitOptions[0].nRestarts).toBeGreaterThan(1);

    const key = keyOf('matern52', false);
    expect(findStoredFit(study.trials, key, 2, false)).not.toBeNull();
    const otherSpace = JSON.stringify([['a', floatDistribution('a', 0, 2)], ['b', SPACE.b]]);
    expect(findStoredFit(study.trials, storedFitKey(otherSpace, 'matern52', false, 'power', 'worst-observed'), 2, false)).toBeNull();
    expect(findStoredFit(study.trials, storedFitKey(SIGNATURE, 'matern52', false, 'standardize', 'worst-observed'), 2, false)).toBeNull();
    expect(findStoredFit(study.trials, storedFitKey(SIGNATURE, 'matern52', false, 'power', 'mean'), 2, false)).toBeNull();
    expect(findStoredFit(study.trials, keyOf('matern52', true), 2, true)).toBeNull();
  });

  it('round-trips a deterministic model (noise pinned at its bound) through JSON text', async () => {
    const study = seededStudy(14);
    const sampler = new GpSampler({ seed: 5, nStartupTrials: 4, candidates: 64, restarts: 2, backend: new CountingBackend(), deterministic: true, refitPolicy: POLICY });
    await run(sampler, study, 1);
    const key = keyOf('matern52', true);
    const reread = study.trials.map((t) => new FrozenTrial(JSON.parse(JSON.stringify(t.toJSON())) as ReturnType<FrozenTrial['toJSON']>));
    const found = findStoredFit(reread, key, 2, true);
    expect(found?.theta[3]).toBe(thetaBounds(2, true).lower[3]);
    expect(Array.from(found?.theta ?? [])).toEqual(Array.from(sampler.lastModelUpdate?.theta ?? []));
    // The learned-noise configuration does not take it.
    expect(findStoredFit(reread, keyOf('matern52', false), 2, false)).toBeNull();
  });

  it('skips invalid records (never an error) and takes the latest valid one', async () => {
    const study = seededStudy(14);
    await run(newSampler(POLICY, new CountingBackend()), study, 5); // records on 14 and 18
    const key = keyOf('matern52', false);
    const valid = recordOf(study.trials[14]) as { version: number; key: number; nAtFit: number; theta: number[] };
    const { lower, upper } = thetaBounds(2, false);
    const corrupt: JsonValue[] = [
      null,
      'theta',
      [1, 2, 3, 4],
      { ...valid, version: STORED_FIT_VERSION + 1 },
      { ...valid, key: key + 1 },
      { ...valid, nAtFit: 0 },
      { ...valid, nAtFit: 2.5 },
      { ...valid, theta: valid.theta.slice(0, 3) },
      { ...valid, theta: [...valid.theta, 0] },
      { ...valid, theta: ['0', 0, 0, -3] },
      { ...valid, theta: [upper[0] + 1e-9, 0, 0, -3] },
      { ...valid, theta: [0, 0, 0, lower[3] - 1e-9] },
      { ...valid, theta: null },
    ];
    for (const value of corrupt) {
      const trials = [...study.trials];
      trials[18] = withRecord(trials[18], value);
      const found = findStoredFit(trials, key, 2, false);
      expect(found?.nAtFit, JSON.stringify(value)).toBe(14);
      expect(Array.from(found?.theta ?? [])).toEqual(valid.theta);
    }
    // A sampler on a study whose only records are invalid fits cold, and the study goes on.
    const broken = seededStudy(0);
    for (const t of study.trials) broken.trials.push(recordOf(t) === undefined ? t : withRecord(t, { ...valid, theta: [1e9, 0, 0, 0] }));
    const backend = new CountingBackend();
    expect(await run(newSampler(POLICY, backend), broken, 1)).toEqual(['fit']);
    expect(backend.fitOptions[0].warmStart).toBeNull();
  });
});

describe('GpSampler resumed from a journal file', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('continues from the hyperparameters the previous run recorded', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kestrel-gp-resume-'));
    dirs.push(dir);
    const path = join(dir, 'study.journal');
    // Refit when the data doubled: the run's last fit is at 10 observations, the resume at 15.
    const policy = { refitEveryTrialBelow: 0, refitGrowthDivisor: 1 };
    const options = { seed: 2, nStartupTrials: 5, candidates: 64, restarts: 2, backend: 'js' as const, refitPolicy: policy };
    const f = (t: { suggestFloat(name: string, low: number, high: number): number }): number =>
      (t.suggestFloat('x', -2, 2) - 0.5) ** 2 + (t.suggestFloat('y', -2, 2) + 0.25) ** 2;

    const first = new GpSampler(options);
    const study = await createStudy({ studyName: 'gp-resume', storage: path, sampler: first });
    await study.optimize(f, { nTrials: 15 });
    const theta = Array.from(first.lastModelUpdate?.theta ?? []);
    await study.close();

    const resumed = new GpSampler(options);
    const again = await createStudy({ studyName: 'gp-resume', storage: path, sampler: resumed, loadIfExists: true });
    const recorded = (await again.getTrials()).filter((t) => t.systemAttrs[SystemAttr.gpFit] !== undefined).map((t) => t.number);
    expect(recorded).toEqual([5, 10]);
    await again.optimize(f, { nTrials: 1 });
    expect(resumed.lastModelUpdate?.kind).toBe('restored');
    expect(Array.from(resumed.lastModelUpdate?.theta ?? [])).toEqual(theta);
    expect(await again.getTrials({ states: ['COMPLETE'] })).toHaveLength(16);
    await again.close();
  });
});
