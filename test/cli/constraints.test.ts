/**
 * `constraintsExport`: a config names the objective module's constraints function, which the CLI
 * hands to the sampler as `constraintsFunc`, in `kestrel run`, in `kestrel worker` processes and
 * with trials in worker processes. Bad combinations are config errors before any trial runs.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/cli/config.js';
import { CONSTRAINED_SAMPLER_NAMES, createSampler } from '../../src/cli/registry.js';
import { ConfigError } from '../../src/errors.js';
import { loadStudy } from '../../src/study/create-study.js';
import type { FrozenTrial } from '../../src/trial/frozen-trial.js';
import { makeTempDir, runInProcess, runSpawned, writeFiles } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;

// Minimize -x subject to x <= 0.5: the unconstrained best (x near 1) is infeasible.
const objectiveJs = `
export function objective(trial) {
  const x = trial.suggestFloat('x', 0, 1);
  return -x;
}
export function limits(trial) {
  return [trial.params.x - 0.5];
}
export const notAFunction = 3;
// Two objectives (directions: [minimize, minimize]) over x and y.
export function pair(trial) {
  const x = trial.suggestFloat('x', 0, 1);
  const y = trial.suggestFloat('y', 0, 1);
  return [x + y, (1 - x) ** 2 + y];
}
`;

// TypeScript, outside a "type": "module" package: Node loads it as CommonJS.
const objectiveTs = `
interface TrialLike { suggestFloat(name: string, low: number, high: number): number }
export function objective(trial: TrialLike): number {
  return -trial.suggestFloat('x', 0, 1);
}
export function limits(trial: { params: Record<string, unknown> }): number[] {
  return [(trial.params.x as number) - 0.5];
}
`;

// Constraints that fail at run time (trial 1 throws, or NaN), or that no trial can meet.
const failingJs = `
export function objective(trial) {
  return -trial.suggestFloat('x', 0, 1);
}
export function pair(trial) {
  const x = trial.suggestFloat('x', 0, 1);
  return [x, 1 - x];
}
export function throwsAtOne(trial) {
  if (trial.number === 1) throw new Error('sensor offline');
  return [trial.params.x - 0.5];
}
export function nanAtOne(trial) {
  return [trial.number === 1 ? NaN : trial.params.x - 0.5];
}
export function never() {
  return [1];
}
export function typedLimits(trial) {
  return new Float64Array([trial.params.x - 0.5]);
}
`;

const base = 'objective: ./objective.mjs\nconstraintsExport: limits\nseed: 3\n';

beforeAll(async () => {
  ({ dir, cleanup } = await makeTempDir('constraints'));
  await writeFiles(dir, {
    'objective.mjs': objectiveJs,
    'objective.ts': objectiveTs,
    'gp.yaml': `study: gp\n${base}sampler: {name: gp, nStartupTrials: 3}\nnTrials: 7\nstorage: ./gp.journal\n`,
    'ts-worker.yaml': 'study: tsw\nobjective: ./objective.ts\nconstraintsExport: limits\nsampler: nsga2\nseed: 5\nnTrials: 6\nstorage: ./tsw.journal\n',
    'procs.yaml': 'study: procs\nobjective: ./objective.mjs\nconstraintsExport: limits\nseed: 1\nsampler: genetic\nnTrials: 3\nprocesses: true\nstorage: ./procs.journal\n',
    'random.yaml': `${base}sampler: random\nnTrials: 3\nstorage: ./random.journal\n`,
    'typed.yaml': 'study: typed\nobjective: ./failing.mjs\nconstraintsExport: typedLimits\nsampler: nsga2\nseed: 2\nnTrials: 4\nstorage: ./typed.journal\n',
    'missing.yaml': 'objective: ./objective.mjs\nconstraintsExport: nope\nsampler: gp\nnTrials: 3\nstorage: ./missing.journal\n',
    'not-fn.yaml': 'objective: ./objective.mjs\nconstraintsExport: notAFunction\nsampler: gp\nnTrials: 3\nstorage: ./not-fn.journal\n',
    'failing.mjs': failingJs,
    'throws.yaml': 'study: throws\nobjective: ./failing.mjs\nconstraintsExport: throwsAtOne\nsampler: nsga2\nnTrials: 4\nstorage: ./throws.journal\n',
    'nan.yaml': 'study: nan\nobjective: ./failing.mjs\nconstraintsExport: nanAtOne\nsampler: {name: gp, nStartupTrials: 2}\nnTrials: 4\nstorage: ./nan.journal\n',
    'throws-procs.yaml':
      'study: tp\nobjective: ./failing.mjs\nconstraintsExport: throwsAtOne\nsampler: genetic\nnTrials: 4\nprocesses: true\nstorage: ./tp.journal\n',
    'never.yaml': 'study: never\nobjective: ./failing.mjs\nconstraintsExport: never\nsampler: nsga2\nnTrials: 3\nstorage: ./never.journal\n',
    'never-memory.yaml': 'study: never in memory\nobjective: ./failing.mjs\nconstraintsExport: never\nsampler: nsga2\nnTrials: 3\nstorage: memory\n',
    'never-mo.yaml':
      'study: nevermo\nobjective: ./failing.mjs\nobjectiveExport: pair\ndirections: [minimize, minimize]\nconstraintsExport: never\nsampler: nsga2\nnTrials: 3\nstorage: ./nevermo.journal\n',
    'gp-mo.yaml': `study: gpmo\n${base}objectiveExport: pair\ndirections: [minimize, minimize]\nsampler: {name: gp, nStartupTrials: 3}\nnTrials: 7\nstorage: ./gpmo.journal\n`,
    'gp-mo-parego.yaml': `study: gpmop\n${base}objectiveExport: pair\ndirections: [minimize, minimize]\nsampler: {name: gp, nStartupTrials: 3, multiObjectiveAcquisition: parego}\nnTrials: 5\nstorage: ./gpmop.journal\n`,
    'gp-mo-bad.yaml': `study: gpmob\n${base}objectiveExport: pair\ndirections: [minimize, minimize]\nsampler: {name: gp, multiObjectiveAcquisition: ehvi}\nnTrials: 5\nstorage: ./gpmob.journal\n`,
    'missing-procs.yaml':
      'objective: ./objective.mjs\nconstraintsExport: nope\nsampler: nsga2\nprocesses: true\nnTrials: 3\nstorage: ./missing-procs.journal\n',
  });
});
afterAll(async () => {
  await cleanup();
});

async function completeTrials(study: string, journal: string): Promise<readonly FrozenTrial[]> {
  const loaded = await loadStudy({ studyName: study, storage: path.join(dir, journal) });
  try {
    return await loaded.getTrials({ states: ['COMPLETE'] });
  } finally {
    await loaded.close();
  }
}

function expectConstraintsStored(trials: readonly FrozenTrial[], n: number): void {
  expect(trials.length).toBe(n);
  for (const t of trials) expect(t.systemAttrs.constraints).toEqual([(t.params.x as number) - 0.5]);
}

async function expectFeasibleBest(study: string, journal: string): Promise<void> {
  const best = await runInProcess(['best', study, '--storage', journal, '--format', 'json'], dir);
  expect(best.code, best.stderr).toBe(0);
  const parsed = JSON.parse(best.stdout) as { params: { x: number }; constraints: number[] };
  expect(parsed.params.x).toBeLessThanOrEqual(0.5);
  expect(parsed.constraints).toEqual([parsed.params.x - 0.5]);
}

describe('constraintsExport', () => {
  it('kestrel run with sampler gp on two objectives (logEHVI, or ParEGO by option): constraints stored, the front feasible', async () => {
    const run = await runInProcess(['run', 'gp-mo.yaml'], dir);
    expect(run.code, run.stderr).toBe(0);
    const trials = await completeTrials('gpmo', 'gpmo.journal');
    expectConstraintsStored(trials, 7);
    const best = await runInProcess(['best', 'gpmo', '--storage', 'gpmo.journal', '--format', 'json'], dir);
    expect(best.code, best.stderr).toBe(0);
    const front = JSON.parse(best.stdout) as { params: { x: number } }[];
    expect(front.length).toBeGreaterThan(0);
    expect(front.every((t) => t.params.x <= 0.5)).toBe(true);
    const parego = await runInProcess(['run', 'gp-mo-parego.yaml'], dir);
    expect(parego.code, parego.stderr).toBe(0);
    expect(await completeTrials('gpmop', 'gpmop.journal')).toHaveLength(5);
    // An unknown value is a configuration error, before any trial runs.
    const bad = await runInProcess(['run', 'gp-mo-bad.yaml'], dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/multiObjectiveAcquisition/);
  });

  it('kestrel run with sampler gp stores the constraint values of every COMPLETE trial; best is feasible', async () => {
    const run = await runInProcess(['run', 'gp.yaml'], dir);
    expect(run.code, run.stderr).toBe(0);
    expectConstraintsStored(await completeTrials('gp', 'gp.journal'), 7);
    await expectFeasibleBest('gp', 'gp.journal');
  });

  it('a kestrel worker process loads it too (a TypeScript objective loaded as CommonJS, nsga2)', async () => {
    const worker = await runSpawned(['worker', 'ts-worker.yaml'], dir);
    expect(worker.code, worker.stderr).toBe(0);
    expectConstraintsStored(await completeTrials('tsw', 'tsw.journal'), 6);
    await expectFeasibleBest('tsw', 'tsw.journal');
  });

  it('takes a Float64Array from the constraints function, stored as plain numbers', async () => {
    // It was refused as not an array: exit 1 with CONSTRAINTS_FUNC_ERROR at the first tell.
    const run = await runInProcess(['run', 'typed.yaml'], dir);
    expect(run.code, run.stderr).toBe(0);
    expectConstraintsStored(await completeTrials('typed', 'typed.journal'), 4);
  });

  it('works with trials in worker processes: the parent, which tells, evaluates the constraints', async () => {
    const run = await runInProcess(['run', 'procs.yaml'], dir);
    expect(run.code, run.stderr).toBe(0);
    expectConstraintsStored(await completeTrials('procs', 'procs.journal'), 3);
    await expectFeasibleBest('procs', 'procs.journal');
  });

  it('is a config error with a sampler that takes no constraints, listing those that do', async () => {
    let error: unknown;
    try {
      validateConfig({ objective: 'o.mjs', constraintsExport: 'limits', sampler: 'tpe', nTrials: 1 }, '/p/c.yaml');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).path).toBe('constraintsExport');
    expect((error as ConfigError).message).toMatch(/tpe sampler .*constraints.*gp, nsga2, genetic/);
    const config = validateConfig({ objective: 'o.mjs', constraintsExport: 'limits', sampler: 'gp', nTrials: 1 }, '/p/c.yaml');
    expect(config.constraintsExport).toBe('limits');
    expect(validateConfig({ objective: 'o.mjs', nTrials: 1 }, '/p/c.yaml').constraintsExport).toBeNull();

    // A sampler option cannot hold the function itself: the error says which key can.
    expect(() =>
      validateConfig({ objective: 'o.mjs', sampler: { name: 'gp', constraintsFunc: 'limits' }, nTrials: 1 }, '/p/c.yaml'),
    ).toThrow(/^sampler\.constraintsFunc: a config cannot hold a function; .* constraintsExport$/);
    // The registry refuses it too (the flag the config check reads).
    expect(CONSTRAINED_SAMPLER_NAMES).toEqual(['gp', 'nsga2', 'genetic']);
    await expect(createSampler({ name: 'sobol', constraintsFunc: () => [0] })).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      path: 'constraintsExport',
    });

    const run = await runInProcess(['run', 'random.yaml'], dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^kestrel: INVALID_CONFIG: constraintsExport: the random sampler /m);
    expect(existsSync(path.join(dir, 'random.journal'))).toBe(false);
  });

  it('is a config error, before any trial, for a missing export or one that is not a function', async () => {
    for (const [file, journal, pattern] of [
      ['missing.yaml', 'missing.journal', /^kestrel: INVALID_CONFIG: constraintsExport: objective\.mjs has no exported function "nope" \(function exports: objective, limits, pair\)$/m],
      ['not-fn.yaml', 'not-fn.journal', /^kestrel: INVALID_CONFIG: constraintsExport: objective\.mjs has no exported function "notAFunction" \(function exports: objective, limits, pair\)$/m],
      ['missing-procs.yaml', 'missing-procs.journal', /^kestrel: INVALID_CONFIG: constraintsExport: objective\.mjs has no exported function "nope"/m],
    ] as const) {
      for (const command of ['run', 'worker']) {
        const result = await runInProcess([command, file], dir);
        expect(result.code, `${command} ${file}`).toBe(2);
        expect(result.stderr, `${command} ${file}`).toMatch(pattern);
        expect(existsSync(path.join(dir, journal)), `${command} ${file}`).toBe(false);
      }
    }
  });
});

describe('constraintsExport failing at run time, and studies with no feasible trial', () => {
  async function allTrials(study: string, journal: string): Promise<readonly FrozenTrial[]> {
    const loaded = await loadStudy({ studyName: study, storage: path.join(dir, journal) });
    try {
      return await loaded.getTrials();
    } finally {
      await loaded.close();
    }
  }

  it('a constraints function that throws at a tell: exit 1 (not 2), the export and trial named, the trial kept', async () => {
    for (const [command, file, journal, study] of [
      ['run', 'throws.yaml', 'throws.journal', 'throws'],
      ['worker', 'throws.yaml', 'throws.journal', 'throws'],
      ['run', 'throws-procs.yaml', 'tp.journal', 'tp'],
    ] as const) {
      const result = await runInProcess([command, file], dir);
      const label = `${command} ${file}`;
      expect(result.code, `${label}: ${result.stderr}`).toBe(1);
      expect(result.stderr, label).toMatch(
        /^kestrel: CONSTRAINTS_FUNC_ERROR: constraintsExport "throwsAtOne" of failing\.mjs failed for trial 1: it threw: sensor offline \(trial 1 is recorded, with constraint values null: infeasible; /m,
      );
      expect(result.stderr, label).not.toMatch(/INVALID_(OPTION|CONFIG)/);
      // Trial 1 is stored as it finished (COMPLETE, its value kept), infeasible; the run stopped there.
      const trials = await allTrials(study, journal);
      const one = trials.find((t) => t.number === 1)!;
      expect(one.state, label).toBe('COMPLETE');
      expect(one.values, label).toEqual([-(one.params.x as number)]);
      expect(one.systemAttrs.constraints, label).toBeNull();
      expect(trials.find((t) => t.number === 0)!.systemAttrs.constraints, label).not.toBeNull();
      await rm(path.join(dir, journal));
    }
  });

  it('a constraints function that returns NaN at a tell: exit 1 with CONSTRAINTS_FUNC_ERROR', async () => {
    const result = await runInProcess(['run', 'nan.yaml'], dir);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(
      /^kestrel: CONSTRAINTS_FUNC_ERROR: constraintsExport "nanAtOne" of failing\.mjs failed for trial 1: expected an array of finite numbers, its value \[0\] was NaN /m,
    );
    const one = (await allTrials('nan', 'nan.journal')).find((t) => t.number === 1)!;
    expect(one.state).toBe('COMPLETE');
    expect(one.systemAttrs.constraints).toBeNull();
  });

  it('a run whose trials all complete but none is feasible exits 0 with a summary; kestrel best exits 1', async () => {
    const run = await runInProcess(['run', 'never.yaml'], dir);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^study "never": 3 trials \(3 complete, /m);
    // The hint names the run's journal (never.journal, not the default kestrel.journal): the
    // command it prints works as printed.
    const hint = /^no feasible trial among 3 complete \(each violates a constraint or has no constraint values\); kestrel trials never --storage (\S+) --format json shows their constraints$/m.exec(run.stdout);
    expect(hint, run.stdout).not.toBeNull();
    expect(path.resolve(dir, hint![1])).toBe(path.join(dir, 'never.journal'));
    const shown = await runInProcess(['trials', 'never', '--storage', hint![1], '--format', 'json'], dir);
    expect(shown.code, shown.stderr).toBe(0);
    expect(run.stderr).not.toMatch(/NO_FEASIBLE_TRIALS/);

    // `best` is asked for a trial that does not exist: an error, as for a study with none complete.
    for (const format of ['text', 'json']) {
      const best = await runInProcess(['best', 'never', '--storage', 'never.journal', '--format', format], dir);
      expect(best.code).toBe(1);
      expect(best.stdout).toBe('');
      expect(best.stderr).toMatch(/^kestrel: NO_FEASIBLE_TRIALS: study "never" has no feasible completed trials yet, none among 3 complete /m);
    }
  });

  it('none feasible in memory storage: the line points at no command (nothing is kept)', async () => {
    const run = await runInProcess(['run', 'never-memory.yaml'], dir);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^no feasible trial among 3 complete \(each violates a constraint or has no constraint values\); storage memory keeps no trials to inspect$/m);
  });

  it('the same with several objectives: an empty feasible Pareto front is a summary, exit 0', async () => {
    const run = await runInProcess(['run', 'never-mo.yaml'], dir);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/^trial 2 COMPLETE values?=\S+ front=0$/m);
    expect(run.stdout).toMatch(/^no feasible trial among 3 complete /m);
    const best = await runInProcess(['best', 'nevermo', '--storage', 'nevermo.journal'], dir);
    expect(best.code).toBe(1);
    expect(best.stderr).toMatch(/^kestrel: NO_FEASIBLE_TRIALS: study "nevermo" has no feasible completed trials yet, none among 3 complete /m);
  });
});
