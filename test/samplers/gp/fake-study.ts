import { FrozenTrial } from '../../../src/trial/frozen-trial.js';
import type { StudyView } from '../../../src/trial/study-view.js';
import type { JsonValue, StudyDirection, TrialState } from '../../../src/trial/types.js';
import type { Distribution, ParamValue, SearchSpace } from '../../../src/space/types.js';
import type { Sampler } from '../../../src/samplers/sampler.js';

/** An in-memory StudyView: an array of FrozenTrial, a claim Set and the directions. */
export class FakeStudy implements StudyView {
  readonly studyId = 1;
  readonly studyName = 'fake';
  readonly trials: FrozenTrial[] = [];
  readonly claims = new Set<string>();
  stopped: string | null = null;

  constructor(readonly directions: readonly StudyDirection[] = ['minimize']) {}

  async getTrials(options?: { readonly states?: readonly TrialState[] }): Promise<readonly FrozenTrial[]> {
    const states = options?.states;
    return states === undefined ? [...this.trials] : this.trials.filter((t) => states.includes(t.state));
  }

  async claim(key: string): Promise<boolean> {
    if (this.claims.has(key)) return false;
    this.claims.add(key);
    return true;
  }

  stop(reason: string): void {
    this.stopped = reason;
  }

  /** Merges system attributes into a trial (as storage does); the trial is replaced by a new FrozenTrial. */
  async setTrialSystemAttrs(trialId: number, attrs: Readonly<Record<string, JsonValue>>): Promise<void> {
    const i = this.trials.findIndex((t) => t.trialId === trialId);
    if (i < 0) throw new Error(`no trial with id ${trialId}`);
    const data = this.trials[i].toJSON();
    this.trials[i] = new FrozenTrial({ ...data, systemAttrs: { ...data.systemAttrs, ...attrs } });
  }

  /** Adds a finished or running trial directly (for setting up histories). */
  add(
    params: Record<string, ParamValue>,
    distributions: Record<string, Distribution>,
    state: TrialState,
    value: number | null,
    intermediateValues: Record<number, number> = {},
  ): FrozenTrial {
    const number = this.trials.length;
    const trial = new FrozenTrial({
      trialId: number + 1000,
      number,
      state,
      values: value === null ? null : [value],
      params,
      distributions,
      userAttrs: {},
      systemAttrs: {},
      intermediateValues,
      datetimeStart: number,
      datetimeComplete: state === 'RUNNING' ? null : number,
    });
    this.trials.push(trial);
    return trial;
  }

  /** Study.ask's sampler protocol: relative sample, then independent for the rest. The trial stays RUNNING. */
  async ask(sampler: Sampler, space: SearchSpace): Promise<FrozenTrial> {
    const blank = this.add({}, {}, 'RUNNING', null);
    await sampler.beforeTrial?.(this, blank);
    const relSpace = sampler.inferRelativeSearchSpace === undefined ? {} : await sampler.inferRelativeSearchSpace(this, blank);
    const rel = sampler.sampleRelative === undefined ? {} : await sampler.sampleRelative(this, blank, relSpace);
    const params: Record<string, ParamValue> = {};
    for (const [name, dist] of Object.entries(space)) {
      params[name] = name in rel ? rel[name] : sampler.sampleIndependent(this, blank, name, dist);
    }
    const running = new FrozenTrial({ ...this.trials[blank.number].toJSON(), params, distributions: { ...space } });
    this.trials[blank.number] = running;
    return running;
  }

  /** Finishes a trial (COMPLETE with a value, or FAIL / PRUNED). */
  async tell(sampler: Sampler, trial: FrozenTrial, state: TrialState, value: number | null): Promise<FrozenTrial> {
    const done = new FrozenTrial({
      ...this.trials[trial.number].toJSON(),
      state,
      values: value === null ? null : [value],
      datetimeComplete: trial.number + 0.5,
    });
    this.trials[trial.number] = done;
    await sampler.afterTrial?.(this, done, state, done.values);
    return done;
  }
}

/** Runs `nTrials` sequential ask/tell rounds of `objective` (minimized or maximized per the study). */
export async function runSequential(
  sampler: Sampler,
  space: SearchSpace,
  objective: (params: Record<string, ParamValue>) => number,
  nTrials: number,
  directions: readonly StudyDirection[] = ['minimize'],
): Promise<FakeStudy> {
  const study = new FakeStudy(directions);
  for (let i = 0; i < nTrials; i++) {
    const trial = await study.ask(sampler, space);
    await study.tell(sampler, trial, 'COMPLETE', objective(trial.params as Record<string, ParamValue>));
  }
  return study;
}
