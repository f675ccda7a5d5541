/**
 * Every pruner driven by the real Study (issue 4, pruner part): `trial.report` + `trial.pruneIfNeeded`
 * inside `study.optimize`, with the random, Sobol, grid and GP samplers, sequentially and with
 * concurrency 4, maximizing and minimizing.
 *
 * Objective: a noise-free synthetic learning curve over (x, y) in [0, 1]^2,
 *
 *   final(x, y) = 0.1 + 0.85 * exp(-((x - 0.7)^2 + (y - 0.35)^2) / 0.18)      in (0.1, 0.95]
 *   acc(t)      = final * (1 - 0.9 * exp(-(t + 1) / 3)) - 0.02 * (0.95 - final) * max(0, t - 4)
 *
 * for steps t = 0..11 (accuracy; the minimize runs report the loss 1 - acc). For final1 > final2,
 * acc1(t) > acc2(t) at every step, so curves never cross: the trial with the best final value is
 * the best at every step, which no rank-based pruner may stop. Curves with final < 0.95 decline
 * after step 4 (over-fitting), which is what PatientPruner detects.
 *
 * Each run: 16 trials from the sampler, then two enqueued trials, #16 at the worst corner
 * (x, y) = (0, 1) (final ~0.105) and #17 at the optimum (0.7, 0.35) (final 0.95), then 10 more
 * sampled trials. Checks: every trial finished (COMPLETE or PRUNED, never FAIL); a PRUNED trial's
 * value is its last intermediate value, its last stored step is the step at which the objective
 * was told to stop, and its stored curve is exactly the objective's, contiguous from step 0; a
 * COMPLETE trial has the full curve and its final value; the same intermediate values come back
 * from `trialsToJson` and `trialsToCsv`; at least one trial was pruned, #16 was pruned and #17
 * completed. With the samplers that ignore values (random, Sobol, grid), the maximize and minimize
 * runs must stop the same trials at the same steps.
 */
import { describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TrialPrunedError } from '../../src/errors.js';
import { adaptivePruner } from '../../src/pruners/adaptive.js';
import { HyperbandPruner } from '../../src/pruners/hyperband.js';
import { MedianPruner } from '../../src/pruners/median.js';
import { PatientPruner } from '../../src/pruners/patient.js';
import { PercentilePruner } from '../../src/pruners/percentile.js';
import type { Pruner } from '../../src/pruners/pruner.js';
import { SuccessiveHalvingPruner } from '../../src/pruners/successive-halving.js';
import { ThresholdPruner } from '../../src/pruners/threshold.js';
import { GpSampler } from '../../src/samplers/gp/gp-sampler.js';
import { GridSampler } from '../../src/samplers/grid-sampler.js';
import { RandomSampler } from '../../src/samplers/random-sampler.js';
import type { Sampler } from '../../src/samplers/sampler.js';
import { SobolSampler } from '../../src/samplers/sobol-sampler.js';
import { trialsToCsv, trialsToJson } from '../../src/storage/export.js';
import { InMemoryStorage } from '../../src/storage/memory-storage.js';
import { JournalStorage } from '../../src/storage/journal-storage.js';
import type { Storage } from '../../src/storage/storage.js';
import { createStudy } from '../../src/study/create-study.js';
import type { Study } from '../../src/study/study.js';
import { FrozenTrial } from '../../src/trial/frozen-trial.js';
import type { Trial } from '../../src/trial/trial.js';
import type { StudyDirection } from '../../src/trial/types.js';

const N_STEPS = 12;
const BEST = { x: 0.7, y: 0.35 } as const;
const WORST = { x: 0, y: 1 } as const;
const N_FIRST = 16;
const N_AFTER = 10;
const BAD_NUMBER = N_FIRST;
const BEST_NUMBER = N_FIRST + 1;

function finalAccuracy(x: number, y: number): number {
  return 0.1 + 0.85 * Math.exp(-((x - BEST.x) ** 2 + (y - BEST.y) ** 2) / 0.18);
}

function accuracy(x: number, y: number, step: number): number {
  const final = finalAccuracy(x, y);
  return final * (1 - 0.9 * Math.exp(-(step + 1) / 3)) - 0.02 * (0.95 - final) * Math.max(0, step - 4);
}

function reported(direction: StudyDirection, x: number, y: number, step: number): number {
  const acc = accuracy(x, y, step);
  return direction === 'maximize' ? acc : 1 - acc;
}

interface PrunerCase {
  readonly name: string;
  readonly make: (direction: StudyDirection) => Pruner;
  /** Hyperband-style pruners: the bad trial must land in bracket 0 (the one that stops earliest). */
  readonly bracketed?: boolean;
}

const PRUNERS: readonly PrunerCase[] = [
  { name: 'median', make: () => new MedianPruner({ nStartupTrials: 5, nWarmupSteps: 1 }) },
  { name: 'percentile', make: () => new PercentilePruner({ percentile: 25, nStartupTrials: 3, nWarmupSteps: 1 }) },
  {
    name: 'patient',
    make: () => new PatientPruner({ wrapped: new MedianPruner({ nStartupTrials: 3 }), patience: 1, minDelta: 0.001 }),
  },
  {
    name: 'threshold',
    make: (direction) =>
      direction === 'maximize'
        ? new ThresholdPruner({ lower: 0.3, nWarmupSteps: 2 })
        : new ThresholdPruner({ upper: 0.7, nWarmupSteps: 2 }),
  },
  { name: 'asha', make: () => new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 3 }) },
  {
    name: 'hyperband',
    make: () => new HyperbandPruner({ minResource: 1, maxResource: N_STEPS, reductionFactor: 3 }),
    bracketed: true,
  },
  {
    name: 'adaptive',
    make: () => adaptivePruner({ mode: 'standard', maxLength: N_STEPS, reductionFactor: 3 }),
    bracketed: true,
  },
];

interface SamplerCase {
  readonly name: string;
  readonly make: () => Sampler;
}

const GRID_X = [0.05, 0.15, 0.3, 0.45, 0.6, 0.8];
const GRID_Y = [0.1, 0.25, 0.5, 0.65, 0.8, 0.95];

const SAMPLERS: readonly SamplerCase[] = [
  { name: 'random', make: () => new RandomSampler({ seed: 11 }) },
  { name: 'sobol', make: () => new SobolSampler({ seed: 12 }) },
  { name: 'grid', make: () => new GridSampler({ space: { x: GRID_X, y: GRID_Y }, shuffle: true, seed: 13 }) },
  {
    name: 'gp',
    make: () => new GpSampler({ seed: 14, nStartupTrials: 6, candidates: 64, restarts: 1, backend: 'js', usePrunedTrials: true }),
  },
];

/** A study name for which `make()`'s bracket of the bad trial is 0 (found by trying suffixes). */
function studyNameFor(prunerCase: PrunerCase, direction: StudyDirection, base: string): string {
  if (prunerCase.bracketed !== true) return base;
  const probe = prunerCase.make(direction) as HyperbandPruner;
  for (let i = 0; i < 1000; i++) {
    const name = `${base}-${i}`;
    if (probe.bracketId(name, BAD_NUMBER) === 0) return name;
  }
  throw new Error('no study name puts the bad trial in bracket 0');
}

interface RunResult {
  readonly study: Study;
  readonly trials: readonly FrozenTrial[];
  /** trial number -> step at which the objective was told to stop. */
  readonly prunedAt: ReadonlyMap<number, number>;
}

async function runStudy(options: {
  readonly pruner: PrunerCase;
  readonly sampler: SamplerCase;
  readonly direction: StudyDirection;
  readonly concurrency: number;
  readonly storage?: Storage;
}): Promise<RunResult> {
  const { direction } = options;
  // The same name in both directions, so that Hyperband brackets (keyed by name and number) agree.
  const base = `with-study-${options.pruner.name}-${options.sampler.name}-${options.concurrency}`;
  const study = await createStudy({
    studyName: studyNameFor(options.pruner, direction, base),
    direction,
    sampler: options.sampler.make(),
    pruner: options.pruner.make(direction),
    storage: options.storage ?? new InMemoryStorage(),
  });
  const prunedAt = new Map<number, number>();
  const objective = async (trial: Trial): Promise<number> => {
    const x = trial.suggestFloat('x', 0, 1);
    const y = trial.suggestFloat('y', 0, 1);
    let value = NaN;
    for (let step = 0; step < N_STEPS; step++) {
      value = reported(direction, x, y, step);
      await trial.report(step, value);
      if (await trial.shouldPrune()) {
        prunedAt.set(trial.number, step);
        throw new TrialPrunedError(`pruned at step ${step}`);
      }
    }
    return value;
  };
  const run = { concurrency: options.concurrency, handleSigint: false, catch: 'none' as const };
  await study.optimize(objective, { ...run, nTrials: N_FIRST });
  await study.enqueueTrial(WORST);
  await study.enqueueTrial(BEST);
  await study.optimize(objective, { ...run, nTrials: 2 + N_AFTER });
  return { study, trials: await study.getTrials(), prunedAt };
}

/** RFC 4180 records (quoted fields with doubled quotes, CRLF line ends). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else {
      field += c;
    }
  }
  if (field !== '' || row.length > 0) rows.push([...row, field]);
  return rows;
}

function stepsOf(trial: FrozenTrial): number[] {
  return Object.keys(trial.intermediateValues)
    .map(Number)
    .sort((a, b) => a - b);
}

function checkRun(result: RunResult, direction: StudyDirection, label: string): void {
  const { trials, prunedAt } = result;
  expect(trials.map((t) => t.number), label).toEqual([...Array(N_FIRST + 2 + N_AFTER).keys()]);

  for (const t of trials) {
    const where = `${label} trial ${t.number} (${t.state})`;
    expect(['COMPLETE', 'PRUNED'], where).toContain(t.state);
    const x = t.params.x as number;
    const y = t.params.y as number;
    const steps = stepsOf(t);
    // The stored curve is exactly the objective's, contiguous from step 0.
    expect(steps, where).toEqual([...Array(steps.length).keys()]);
    for (const s of steps) expect(t.intermediateValues[s], `${where} step ${s}`).toBe(reported(direction, x, y, s));

    if (t.state === 'PRUNED') {
      expect(prunedAt.get(t.number), where).toBe(t.lastStep);
      expect(t.values, where).toEqual([t.intermediateValues[t.lastStep as number]]);
    } else {
      expect(prunedAt.has(t.number), where).toBe(false);
      expect(steps.length, where).toBe(N_STEPS);
      expect(t.values, where).toEqual([reported(direction, x, y, N_STEPS - 1)]);
    }
  }

  // Enqueued trials kept their parameters; the worst was stopped, the best ran to the end.
  const bad = trials[BAD_NUMBER];
  const best = trials[BEST_NUMBER];
  expect(bad.params, label).toEqual(WORST);
  expect(best.params, label).toEqual(BEST);
  expect(bad.state, `${label}: the worst curve`).toBe('PRUNED');
  expect(best.state, `${label}: the best curve`).toBe('COMPLETE');
  expect(trials.filter((t) => t.state === 'PRUNED').length, label).toBeGreaterThanOrEqual(1);

  // Export: JSON and CSV carry the same intermediate values and final values.
  const json = trialsToJson(trials);
  const rows = parseCsv(trialsToCsv(trials));
  const header = rows[0];
  const col = (name: string): number => header.indexOf(name);
  expect(col('intermediate_values'), label).toBeGreaterThan(0);
  expect(rows).toHaveLength(trials.length + 1);
  for (let i = 0; i < trials.length; i++) {
    const t = trials[i];
    const where = `${label} export of trial ${t.number}`;
    expect(json[i].state, where).toBe(t.state);
    expect(json[i].value, where).toBe(t.values![0]);
    expect(Object.keys(json[i].intermediateValues).length, where).toBe(stepsOf(t).length);
    for (const s of stepsOf(t)) expect(json[i].intermediateValues[String(s)], where).toBe(t.intermediateValues[s]);
    const row = rows[i + 1];
    expect(row[col('number')], where).toBe(String(t.number));
    expect(row[col('state')], where).toBe(t.state);
    expect(Number(row[col('value')]), where).toBe(t.values![0]);
    const fromCsv = JSON.parse(row[col('intermediate_values')]) as Record<string, number>;
    expect(fromCsv, where).toEqual(json[i].intermediateValues);
  }
}

const DIRECTIONS: readonly StudyDirection[] = ['maximize', 'minimize'];

describe.each(PRUNERS)('$name pruner through the real Study', (prunerCase) => {
  for (const samplerCase of SAMPLERS) {
    for (const concurrency of [1, 4]) {
      it(`${samplerCase.name} sampler, concurrency ${concurrency}, maximize and minimize`, async () => {
        const outcomes: string[][] = [];
        for (const direction of DIRECTIONS) {
          const result = await runStudy({ pruner: prunerCase, sampler: samplerCase, direction, concurrency });
          checkRun(result, direction, `${prunerCase.name}/${samplerCase.name}/c${concurrency}/${direction}`);
          outcomes.push(result.trials.map((t) => `${t.number} ${t.state}@${t.lastStep} x=${t.params.x} y=${t.params.y}`));
        }
        // Minimizing 1 - acc is maximizing acc: the samplers that ignore values propose the same
        // points, and every pruner must then stop the same trials at the same steps.
        if (samplerCase.name !== 'gp') expect(outcomes[1]).toEqual(outcomes[0]);
      });
    }
  }
});

describe('persistence of pruned trials', () => {
  it('a journal reopened by a new storage holds the same curves, states and values', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kestrel-with-study-'));
    const file = path.join(dir, 'study.journal');
    try {
      const storage = new JournalStorage({ path: file });
      const result = await runStudy({
        pruner: PRUNERS.find((p) => p.name === 'asha')!,
        sampler: SAMPLERS[0],
        direction: 'minimize',
        concurrency: 4,
        storage,
      });
      checkRun(result, 'minimize', 'asha/journal');
      await storage.close();

      const reopened = new JournalStorage({ path: file });
      try {
        const studyId = await reopened.getStudyIdFromName(result.study.studyName);
        const again = await reopened.getAllTrials(studyId);
        expect(again.map((t) => t.toJSON())).toEqual(result.trials.map((t) => t.toJSON()));
      } finally {
        await reopened.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('successive halving rung records in storage', () => {
  const asha = () => new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 2 });

  /** Asks a trial of `study` that reports `reports` in order; returns 'C' or 'P@<step>'. */
  async function run(study: Study, reports: readonly (readonly [number, number])[]): Promise<string> {
    const trial = await study.ask();
    for (const [step, value] of reports) {
      await trial.report(step, value);
      if (await trial.shouldPrune()) {
        await study.tell(trial, { state: 'PRUNED' });
        return `P@${step}`;
      }
    }
    await study.tell(trial, reports[reports.length - 1][1]);
    return 'C';
  }

  it('a second shouldPrune, a repeated step or a smaller step does not judge a rung again (Optuna 5.0.0)', async () => {
    const study = await createStudy({ storage: new InMemoryStorage(), pruner: asha() });
    const a = await study.ask();
    await a.report(1, 5);
    expect(await a.shouldPrune()).toBe(false);
    expect(await run(study, [[1, 1]])).toBe('C');
    expect(await run(study, [[1, 2]])).toBe('P@1');
    await a.report(1, 5); // a repeated step
    expect(await a.shouldPrune()).toBe(false);
    expect(await a.shouldPrune()).toBe(false);
    expect((await study.getTrials()).find((t) => t.trialId === a.trialId)?.systemAttrs).toMatchObject({ completed_rung_0: 5 });

    const study2 = await createStudy({ storage: new InMemoryStorage(), pruner: asha() });
    const b = await study2.ask();
    await b.report(4, 5);
    expect(await b.shouldPrune()).toBe(false); // rungs 0, 1, 2 alone
    expect(await run(study2, [[4, 1]])).toBe('C');
    expect(await run(study2, [[4, 2]])).toBe('P@4');
    await b.report(2, 5); // out of order: the largest step is still 4
    expect(await b.shouldPrune()).toBe(false);
  });

  it('a journal reopened with a new pruner keeps the records: a multi-rung prune still counts at its last rung', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kestrel-with-study-'));
    const file = path.join(dir, 'study.journal');
    try {
      const storage = new JournalStorage({ path: file });
      const study = await createStudy({ studyName: 'rungs', storage, pruner: asha() });
      expect(await run(study, [[2, 0.5]])).toBe('C');
      expect(await run(study, [[2, 0.4]])).toBe('C');
      for (const v of [0.9, 0.95, 0.97]) expect(await run(study, [[1, v]])).toBe('P@1');
      expect(await run(study, [[2, 0.6]])).toBe('P@2'); // passes rung 0, fails rung 1, in one report
      await storage.close();

      const reopened = new JournalStorage({ path: file });
      try {
        const again = await createStudy({ studyName: 'rungs', storage: reopened, pruner: asha(), loadIfExists: true });
        const pruned = (await again.getTrials()).find((t) => t.number === 5);
        expect(pruned?.systemAttrs).toMatchObject({ completed_rung_0: 0.6, completed_rung_1: 0.6 });
        // rung 1: 0.5, 0.4, 0.6 and 0.45 (n = 4, the top 2 pass); without trial 5's record, n = 3
        expect(await run(again, [[2, 0.45]])).toBe('C');
      } finally {
        await reopened.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('HyperbandPruner records through the study as well', async () => {
    const pruner = new HyperbandPruner({ minResource: 1, maxResource: 9, reductionFactor: 3 });
    const study = await createStudy({ storage: new InMemoryStorage(), pruner });
    expect(await run(study, [[9, 1]])).toBe('C');
    const [t] = await study.getTrials();
    const bracket = pruner.bracketId(study.studyName, 0) as number;
    // bracket b has rungs at 3^b, ..., 9: 3 - b of them, all passed by one report at step 9
    const expected: Record<string, number> = {};
    for (let k = 0; k < 3 - bracket; k++) expected[`completed_rung_${k}`] = 1;
    expect(t.systemAttrs).toMatchObject(expected);
    expect(Object.keys(t.systemAttrs).filter((k) => k.startsWith('completed_rung_'))).toHaveLength(3 - bracket);
  });
});

describe('pruning decisions depend only on storage', () => {
  it('replaying each pruner on the final storage gives the live decision at every step of a sequential run', async () => {
    // In a sequential run, the storage the pruner saw at trial n step s is: trials < n as finished,
    // trial n with steps 0..s and the rung records (successive halving) of its earlier reports.
    // Rebuild that view from the final storage and ask a fresh pruner. The view has no
    // setTrialSystemAttrs, so the pruner keeps trial n's new rung records in memory.
    for (const prunerCase of PRUNERS) {
      const direction: StudyDirection = 'maximize';
      const result = await runStudy({ pruner: prunerCase, sampler: SAMPLERS[0], direction, concurrency: 1 });
      const { trials } = result;
      const pruner = prunerCase.make(direction);
      const view = {
        studyId: result.study.studyId,
        studyName: result.study.studyName,
        directions: result.study.directions,
        visible: [] as FrozenTrial[],
        async getTrials(options?: { readonly states?: readonly string[] }): Promise<readonly FrozenTrial[]> {
          const states = options?.states;
          return states === undefined ? this.visible : this.visible.filter((t) => states.includes(t.state));
        },
        async claim(): Promise<boolean> {
          return false;
        },
        stop(): void {},
      };
      for (const t of trials) {
        const steps = stepsOf(t);
        for (const s of steps) {
          const partial = withSteps(t, s);
          view.visible = [...trials.filter((o) => o.number < t.number), partial];
          const decision = await pruner.prune(view, partial);
          const live = t.state === 'PRUNED' && s === t.lastStep;
          expect(decision, `${prunerCase.name}: trial ${t.number} step ${s}`).toBe(live);
        }
      }
    }
  });
});

/** The trial as RUNNING with its intermediate values up to `step`, without its rung records. */
function withSteps(trial: FrozenTrial, step: number): FrozenTrial {
  const data = trial.toJSON();
  const iv: Record<number, number> = {};
  for (const s of stepsOf(trial)) if (s <= step) iv[s] = trial.intermediateValues[s];
  const systemAttrs = Object.fromEntries(Object.entries(data.systemAttrs).filter(([k]) => !k.startsWith('completed_rung_')));
  return new FrozenTrial({
    ...data,
    state: 'RUNNING',
    values: null,
    intermediateValues: iv,
    systemAttrs,
    datetimeComplete: null,
  });
}
