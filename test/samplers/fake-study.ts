/**
 * A tiny in-memory StudyView plus an ask/tell driver that follows Study.ask's protocol
 * (beforeTrial -> inferRelativeSearchSpace -> sampleRelative -> sampleIndependent -> afterTrial),
 * so sampler tests do not depend on src/study.
 */
import { distributionsEqual, contains } from '../../src/space/distributions.js';
import type { Distribution, ParamValue, Params, SearchSpace } from '../../src/space/types.js';
import type { Sampler } from '../../src/samplers/sampler.js';
import { FrozenTrial } from '../../src/trial/frozen-trial.js';
import type { StudyView } from '../../src/trial/study-view.js';
import type { StudyDirection, TrialState } from '../../src/trial/types.js';

export class FakeStudy implements StudyView {
  readonly studyName = 'fake';
  readonly directions: readonly StudyDirection[] = ['minimize'];
  trials: FrozenTrial[] = [];
  stopReason: string | null = null;
  private nextTrialId = 100;

  /** Several FakeStudy objects may share `claims` to simulate workers on one storage. */
  constructor(
    readonly studyId = 1,
    readonly claims: Set<string> = new Set(),
  ) {}

  async getTrials(options: { readonly states?: readonly TrialState[] } = {}): Promise<readonly FrozenTrial[]> {
    const states = options.states;
    return this.trials.filter((t) => states === undefined || states.includes(t.state));
  }

  async claim(key: string): Promise<boolean> {
    if (this.claims.has(key)) return false;
    this.claims.add(key);
    return true;
  }

  stop(reason: string): void {
    this.stopReason = reason;
  }

  createTrial(): FrozenTrial {
    const trial = new FrozenTrial({
      trialId: this.nextTrialId++,
      number: this.trials.length,
      state: 'RUNNING',
      values: null,
      params: {},
      distributions: {},
      userAttrs: {},
      systemAttrs: {},
      intermediateValues: {},
      datetimeStart: 0,
      datetimeComplete: null,
    });
    this.trials.push(trial);
    return trial;
  }
}

export interface AskedTrial {
  readonly trial: FrozenTrial;
  readonly relative: Params;
  readonly relativeSpace: SearchSpace;
}

/** study.ask(): create a trial, run beforeTrial and the relative-sampling hooks. */
export async function ask(sampler: Sampler, study: FakeStudy): Promise<AskedTrial> {
  const trial = study.createTrial();
  if (sampler.beforeTrial !== undefined) await sampler.beforeTrial(study, trial);
  let relative: Params = {};
  let relativeSpace: SearchSpace = {};
  if (sampler.inferRelativeSearchSpace !== undefined && sampler.sampleRelative !== undefined) {
    const space = await sampler.inferRelativeSearchSpace(study, trial);
    if (Object.keys(space).length > 0) {
      relative = await sampler.sampleRelative(study, trial, space);
      relativeSpace = space;
    }
  }
  return { trial, relative, relativeSpace };
}

/** trial.suggest* for every parameter of `space`, in order (relative value when it applies). */
export function suggestAll(
  sampler: Sampler,
  study: FakeStudy,
  asked: AskedTrial,
  space: Readonly<Record<string, Distribution>>,
): Record<string, ParamValue> {
  const params: Record<string, ParamValue> = {};
  for (const [name, dist] of Object.entries(space)) {
    const rel = asked.relativeSpace[name];
    if (Object.prototype.hasOwnProperty.call(asked.relative, name) && rel !== undefined && distributionsEqual(rel, dist)) {
      params[name] = asked.relative[name];
    } else {
      params[name] = sampler.sampleIndependent(study, asked.trial, name, dist);
    }
    if (!contains(dist, params[name])) {
      throw new Error(`sampled ${JSON.stringify(params[name])} for "${name}" outside ${JSON.stringify(dist)}`);
    }
  }
  return params;
}

/** study.tell(): store the finished trial and run afterTrial. */
export async function tell(
  sampler: Sampler,
  study: FakeStudy,
  asked: AskedTrial,
  params: Readonly<Record<string, ParamValue>>,
  space: Readonly<Record<string, Distribution>>,
  value: number,
  state: TrialState = 'COMPLETE',
): Promise<FrozenTrial> {
  const values = state === 'COMPLETE' ? [value] : null;
  const finished = new FrozenTrial({
    ...asked.trial.toJSON(),
    state,
    values,
    params,
    distributions: space,
    datetimeComplete: 1,
  });
  study.trials[asked.trial.number] = finished;
  if (sampler.afterTrial !== undefined) await sampler.afterTrial(study, finished, state, values);
  return finished;
}

/** ask + suggestAll + tell with objective(params). */
export async function runTrial(
  sampler: Sampler,
  study: FakeStudy,
  space: Readonly<Record<string, Distribution>>,
  objective: (params: Readonly<Record<string, ParamValue>>) => number = () => 0,
): Promise<FrozenTrial> {
  const asked = await ask(sampler, study);
  const params = suggestAll(sampler, study, asked, space);
  return tell(sampler, study, asked, params, space, objective(params));
}
