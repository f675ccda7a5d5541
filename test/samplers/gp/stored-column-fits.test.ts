/**
 * The per-column models' fits recorded in the study (stored-fit.ts roles): logEHVI's model of each
 * objective, the constraint models and ParEGO's model. A new sampler on the study (loadStudy on the
 * same storage: a resumed run, another worker) starts each column from its own record, through the
 * refit policy, and never from another column's or role's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GpSampler, type GpSamplerOptions, type RefitPolicy } from '../../../src/samplers/gp/gp-sampler.js';
import { findStoredFit, STORED_FIT_VERSION, storedFitKey, type StoredFitRole } from '../../../src/samplers/gp/stored-fit.js';
import { floatDistribution } from '../../../src/space/distributions.js';
import { InMemoryStorage } from '../../../src/storage/memory-storage.js';
import type { Storage } from '../../../src/storage/storage.js';
import { createStudy, loadStudy } from '../../../src/study/create-study.js';
import type { Study } from '../../../src/study/study.js';
import { thetaBounds } from '../../../src/surrogate/hyperparameters.js';
import { FrozenTrial } from '../../../src/trial/frozen-trial.js';
import { SystemAttr } from '../../../src/trial/system-attrs.js';
import type { JsonValue } from '../../../src/trial/types.js';
import { CountingBackend } from './counting-backend.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The dims signature GpSampler keys records with: x, y on [0, 1]. */
const SIGNATURE = JSON.stringify(['x', 'y'].map((name) => [name, floatDistribution(name, 0, 1)]));
/** The record key of a per-column model (standardized targets) in `role`. */
const columnKey = (role: StoredFitRole, priorMean: 'mean' | 'worst-observed'): number =>
  storedFitKey(SIGNATURE, 'matern52', false, 'standardize', priorMean, role);
const objectiveKey = (j: number): number => columnKey({ objective: j }, 'worst-observed');
const constraintKey = (k: number, of = 2): number => columnKey({ constraint: k, of }, 'mean');
const modelKey = storedFitKey(SIGNATURE, 'matern52', false, 'power', 'worst-observed');

// Refit when the data grew by a quarter since the last fit, from the first GP suggestion on: the
// first sampler fits at 5 and 7 observations (recorded on trials 5 and 7) and appends at 6 and 8.
const POLICY = { refitEveryTrialBelow: 0, refitGrowthDivisor: 4 };
/** A new sampler's policy with a refit due at 9 observations (fitted at 7): a warm-started fit. */
const REFIT_DUE = { refitEveryTrialBelow: 0, refitGrowthDivisor: 100 };
/** ... and with none due (growth 2 < 7): the models are built at the recorded thetas. */
const NO_REFIT_DUE = { refitEveryTrialBelow: 0, refitGrowthDivisor: 1 };

function sampler(backend: CountingBackend, policy: Partial<RefitPolicy>, options: GpSamplerOptions = {}): GpSampler {
  return new GpSampler({ seed: 3, nStartupTrials: 5, candidates: 64, restarts: 2, backend, refitPolicy: policy, ...options });
}

const constraintsFunc = (t: FrozenTrial): number[] => t.userAttrs.c as number[];

/** `n` ask/tell rounds: two objectives (x, 1 - sqrt(x) + y), or one with two constraints. */
async function run(study: Study, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const t = await study.ask();
    const x = t.suggestFloat('x', 0, 1);
    const y = t.suggestFloat('y', 0, 1);
    if (study.directions.length > 1) {
      await study.tell(t, [x + 0.1 * y, 1 - Math.sqrt(x) + y]);
    } else {
      t.setUserAttr('c', [x + y - 1.2, 0.3 - x]);
      await study.tell(t, (x - 0.8) ** 2 + (y - 0.7) ** 2);
    }
  }
}

/** The thetas recorded on trial `number` by key. */
async function recordsOn(study: Study, number: number): Promise<Map<number, { nAtFit: number; theta: number[] }>> {
  const value = (await study.getTrials())[number].systemAttrs[SystemAttr.gpFit];
  const out = new Map<number, { nAtFit: number; theta: number[] }>();
  const list = Array.isArray(value) ? (value as JsonValue[]) : [value];
  for (const r of list as { version: number; key: number; nAtFit: number; theta: number[] }[]) {
    expect(r.version).toBe(STORED_FIT_VERSION);
    out.set(r.key, { nAtFit: r.nAtFit, theta: r.theta });
  }
  return out;
}

/** A first study run by a GpSampler (5 Sobol trials, GP trials 5-8), on `storage`. */
async function firstRun(storage: Storage | string, studyName: string, options: GpSamplerOptions, directions: ('minimize' | 'maximize')[]): Promise<Study> {
  const study = await createStudy({ storage, studyName, sampler: sampler(new CountingBackend(), POLICY, options), directions });
  await run(study, 9);
  return study;
}

describe('GpSampler records the per-objective models of logEHVI and restores them in a new sampler', () => {
  it('records both objectives at each fit, and a new sampler warm-starts each from its own record', async () => {
    const storage = new InMemoryStorage();
    const first = await firstRun(storage, 'mo', {}, ['minimize', 'minimize']);
    const trials = await first.getTrials();
    expect(trials.filter((t) => t.systemAttrs[SystemAttr.gpFit] !== undefined).map((t) => t.number)).toEqual([5, 7]);
    const latest = await recordsOn(first, 7);
    expect([...latest.keys()].sort()).toEqual([objectiveKey(0), objectiveKey(1)].sort());
    expect(latest.get(objectiveKey(0))?.nAtFit).toBe(7);
    expect(latest.get(objectiveKey(0))?.theta).not.toEqual(latest.get(objectiveKey(1))?.theta);

    const backend = new CountingBackend();
    const resumed = sampler(backend, REFIT_DUE);
    const again = await loadStudy({ storage, studyName: 'mo', sampler: resumed });
    await run(again, 1);
    expect(resumed.lastModelUpdate?.kind).toBe('fit');
    expect(backend.fitSizes).toEqual([9, 9]);
    for (const j of [0, 1]) {
      expect(Array.from(backend.fitOptions[j].warmStart ?? [])).toEqual(latest.get(objectiveKey(j))?.theta);
      expect(backend.fitOptions[j].nRestarts).toBe(1);
    }
    // Its own fits are recorded in turn.
    expect([...(await recordsOn(again, 9)).keys()].sort()).toEqual([objectiveKey(0), objectiveKey(1)].sort());
  });

  it('builds the models at the recorded thetas while no refit is due (kind restored), without fitting or recording', async () => {
    const storage = new InMemoryStorage();
    const first = await firstRun(storage, 'mo', {}, ['minimize', 'minimize']);
    const latest = await recordsOn(first, 7);
    const backend = new CountingBackend();
    const resumed = sampler(backend, NO_REFIT_DUE);
    const again = await loadStudy({ storage, studyName: 'mo', sampler: resumed });
    await run(again, 2);
    expect(backend.fitSizes).toEqual([]);
    expect(backend.builds.map((b) => b.n)).toEqual([9, 9]);
    backend.builds.forEach((b, j) => expect(Array.from(b.theta)).toEqual(latest.get(objectiveKey(j))?.theta));
    expect(resumed.lastModelUpdate?.kind).toBe('append');
    expect((await again.getTrials()).filter((t) => t.systemAttrs[SystemAttr.gpFit] !== undefined).map((t) => t.number)).toEqual([5, 7]);
  });

  it('never uses a record of another column or role; corrupt records are skipped', async () => {
    const storage = new InMemoryStorage();
    const first = await firstRun(storage, 'mo', {}, ['minimize', 'minimize']);
    const trials = await first.getTrials();
    const at7 = await recordsOn(first, 7);
    const at5 = await recordsOn(first, 5);
    const find = (list: readonly FrozenTrial[], key: number): number[] | undefined => {
      const fit = findStoredFit(list, key, 2, false);
      return fit === null ? undefined : Array.from(fit.theta);
    };
    expect(find(trials, objectiveKey(0))).toEqual(at7.get(objectiveKey(0))?.theta);
    expect(find(trials, objectiveKey(1))).toEqual(at7.get(objectiveKey(1))?.theta);
    // The same column index in another role, the single-objective model, other settings: none.
    expect(find(trials, constraintKey(0))).toBeUndefined();
    expect(find(trials, columnKey({ objective: 0 }, 'mean'))).toBeUndefined();
    expect(find(trials, columnKey({ objective: 2 }, 'worst-observed'))).toBeUndefined();
    expect(find(trials, columnKey('parego', 'worst-observed'))).toBeUndefined();
    expect(find(trials, modelKey)).toBeUndefined();

    // Trial 7's array with objective 0's record corrupted in each way: objective 0 falls back to
    // trial 5's record, objective 1 still takes trial 7's.
    const raw = trials[7].systemAttrs[SystemAttr.gpFit] as { key: number; theta: number[] }[];
    const i0 = raw.findIndex((r) => r.key === objectiveKey(0));
    const { upper } = thetaBounds(2, false);
    const corrupt: JsonValue[] = [null, 'theta', [1, 2], { ...raw[i0], version: 2 }, { ...raw[i0], theta: raw[i0].theta.slice(1) }, { ...raw[i0], theta: [upper[0] + 1, 0, 0, -3] }, { ...raw[i0], nAtFit: -1 }];
    for (const bad of corrupt) {
      const list = [...trials];
      const value = raw.map((r, i): JsonValue => (i === i0 ? bad : r));
      list[7] = new FrozenTrial({ ...trials[7].toJSON(), systemAttrs: { ...trials[7].systemAttrs, [SystemAttr.gpFit]: value } });
      expect(find(list, objectiveKey(0)), JSON.stringify(bad)).toEqual(at5.get(objectiveKey(0))?.theta);
      expect(find(list, objectiveKey(1))).toEqual(at7.get(objectiveKey(1))?.theta);
    }
  });

  /** A copy of `source`'s trials in a new study, each record array passed through `edit`. */
  async function copied(source: Study, edit: (records: { key: number; theta: number[] }[]) => JsonValue): Promise<InMemoryStorage> {
    const storage = new InMemoryStorage();
    const study = await createStudy({ storage, studyName: 'copy', directions: ['minimize', 'minimize'] });
    for (const t of await source.getTrials()) {
      const value = t.systemAttrs[SystemAttr.gpFit] as { key: number; theta: number[] }[] | undefined;
      await study.addTrial({
        params: t.params,
        distributions: t.distributions,
        values: t.values as number[],
        ...(value === undefined ? {} : { systemAttrs: { [SystemAttr.gpFit]: edit(value) } }),
      });
    }
    return storage;
  }

  it('fits every column cold when every record is invalid, and the study goes on', async () => {
    const source = await firstRun(new InMemoryStorage(), 'mo', {}, ['minimize', 'minimize']);
    const storage = await copied(source, (records) => records.map((r) => ({ ...r, theta: r.theta.map(() => 1e9) })));
    const backend = new CountingBackend();
    const resumed = sampler(backend, NO_REFIT_DUE);
    await run(await loadStudy({ storage, studyName: 'copy', sampler: resumed }), 1);
    expect(resumed.lastModelUpdate?.kind).toBe('fit');
    expect(backend.fitOptions.map((o) => [o.warmStart, o.nRestarts])).toEqual([
      [null, 3],
      [null, 3],
    ]);
  });

  it('fits from the recorded thetas when building at them fails', async () => {
    const source = await firstRun(new InMemoryStorage(), 'mo', {}, ['minimize', 'minimize']);
    const at7 = await recordsOn(source, 7);
    const storage = await copied(source, (records) => records as unknown as JsonValue);
    const backend = new CountingBackend();
    backend.failBuilds.add(2); // objective 1's build
    const resumed = sampler(backend, NO_REFIT_DUE);
    await run(await loadStudy({ storage, studyName: 'copy', sampler: resumed }), 1);
    expect(resumed.lastModelUpdate?.kind).toBe('fit');
    expect(backend.fitOptions.map((o) => Array.from(o.warmStart ?? []))).toEqual([0, 1].map((j) => at7.get(objectiveKey(j))?.theta));
  });

  it('starts a column without a record of its own cold (and fits rather than restores), the others from theirs', async () => {
    // A study holding objective 1's records only (each array without objective 0's).
    const source = await firstRun(new InMemoryStorage(), 'mo', {}, ['minimize', 'minimize']);
    const at7 = await recordsOn(source, 7);
    const storage = await copied(source, (records) => records.filter((r) => r.key === objectiveKey(1)) as unknown as JsonValue);
    const backend = new CountingBackend();
    const resumed = sampler(backend, NO_REFIT_DUE);
    const again = await loadStudy({ storage, studyName: 'copy', sampler: resumed });
    await run(again, 1);
    expect(resumed.lastModelUpdate?.kind).toBe('fit');
    expect(backend.fitOptions[0].warmStart).toBeNull();
    expect(backend.fitOptions[0].nRestarts).toBe(3);
    expect(Array.from(backend.fitOptions[1].warmStart ?? [])).toEqual(at7.get(objectiveKey(1))?.theta);
    expect(backend.fitOptions[1].nRestarts).toBe(1);
  });

  it('ParEGO records its model (role parego) and a new sampler warm-starts its first fit from it', async () => {
    const storage = new InMemoryStorage();
    const first = await firstRun(storage, 'parego', { multiObjectiveAcquisition: 'parego' }, ['minimize', 'minimize']);
    const paregoKey = storedFitKey(SIGNATURE, 'matern52', false, 'power', 'worst-observed', 'parego');
    const recorded = await recordsOn(first, 8);
    expect([...recorded.keys()]).toEqual([paregoKey]);
    const backend = new CountingBackend();
    // Refit at every ask (each scalarization is new): never restored, warm-started from the record.
    const resumed = sampler(backend, NO_REFIT_DUE, { multiObjectiveAcquisition: 'parego' });
    await run(await loadStudy({ storage, studyName: 'parego', sampler: resumed }), 1);
    expect(resumed.lastModelUpdate?.kind).toBe('fit');
    expect(Array.from(backend.fitOptions[0].warmStart ?? [])).toEqual(recorded.get(paregoKey)?.theta);
    expect(backend.fitOptions[0].nRestarts).toBe(1);
  });
});

describe('GpSampler records the constraint models and restores them in a new sampler', () => {
  it('round-trips the records through a journal file; a new sampler warm-starts the model and each constraint', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kestrel-gp-columns-'));
    dirs.push(dir);
    const path = join(dir, 'study.journal');
    const first = await firstRun(path, 'constrained', { constraintsFunc }, ['minimize']);
    const before = (await first.getTrials()).map((t) => t.systemAttrs[SystemAttr.gpFit]);
    const latest = await recordsOn(first, 7);
    expect([...latest.keys()].sort()).toEqual([modelKey, constraintKey(0), constraintKey(1)].sort());
    // A constraint's record is for its index among as many constraints: not for another count.
    const trials = await first.getTrials();
    expect(findStoredFit(trials, constraintKey(0), 2, false)).not.toBeNull();
    expect(findStoredFit(trials, constraintKey(0, 3), 2, false)).toBeNull();
    expect(findStoredFit(trials, objectiveKey(0), 2, false)).toBeNull();
    await first.close();

    const backend = new CountingBackend();
    const resumed = sampler(backend, REFIT_DUE, { constraintsFunc });
    const again = await loadStudy({ storage: path, studyName: 'constrained', sampler: resumed });
    // Bit-exact through the journal's JSON.
    expect((await again.getTrials()).map((t) => t.systemAttrs[SystemAttr.gpFit])).toEqual(before);
    await run(again, 1);
    // The objective's model, then constraint 0's and 1's: each from its own record, one start.
    expect(backend.fitSizes).toEqual([9, 9, 9]);
    const keys = [modelKey, constraintKey(0), constraintKey(1)];
    keys.forEach((key, i) => {
      expect(Array.from(backend.fitOptions[i].warmStart ?? [])).toEqual(latest.get(key)?.theta);
      expect(backend.fitOptions[i].nRestarts).toBe(1);
    });
    expect([...(await recordsOn(again, 9)).keys()].sort()).toEqual([...keys].sort());
    await again.close();
  });

  it('builds the constraint models at their recorded thetas while no refit is due', async () => {
    const storage = new InMemoryStorage();
    const first = await firstRun(storage, 'constrained', { constraintsFunc }, ['minimize']);
    const latest = await recordsOn(first, 7);
    const backend = new CountingBackend();
    const resumed = sampler(backend, NO_REFIT_DUE, { constraintsFunc });
    await run(await loadStudy({ storage, studyName: 'constrained', sampler: resumed }), 1);
    expect(resumed.lastModelUpdate?.kind).toBe('restored');
    expect(backend.fitSizes).toEqual([]);
    expect(backend.builds.map((b) => Array.from(b.theta))).toEqual([modelKey, constraintKey(0), constraintKey(1)].map((key) => latest.get(key)?.theta));
  });
});
