import { FrozenTrial } from '../../src/trial/frozen-trial.js';
import type { StudyView } from '../../src/trial/study-view.js';
import type { StudyDirection, TrialState } from '../../src/trial/types.js';

export interface TrialSpec {
  readonly number: number;
  readonly state?: TrialState;
  /** step -> value */
  readonly values: Readonly<Record<number, number>>;
  /** Epoch ms; defaults to the trial number for finished trials. */
  readonly datetimeComplete?: number | null;
}

/** A FrozenTrial from a spec; trialId = number + 100 so that ids and numbers differ. */
export function makeTrial(spec: TrialSpec): FrozenTrial {
  const state = spec.state ?? 'COMPLETE';
  const steps = Object.keys(spec.values).map(Number);
  const last = steps.length === 0 ? null : Math.max(...steps);
  const finished = state === 'COMPLETE' || state === 'PRUNED' || state === 'FAIL';
  return new FrozenTrial({
    trialId: spec.number + 100,
    number: spec.number,
    state,
    values: finished && state !== 'FAIL' && last !== null ? [spec.values[last]] : null,
    params: {},
    distributions: {},
    userAttrs: {},
    systemAttrs: {},
    intermediateValues: spec.values,
    datetimeStart: spec.number,
    datetimeComplete: finished ? (spec.datetimeComplete === undefined ? 1000 + spec.number : spec.datetimeComplete) : null,
  });
}

/** Values y(step) for steps 0..n-1. */
export function curve(n: number, y: (step: number) => number): Record<number, number> {
  const out: Record<number, number> = {};
  for (let s = 0; s < n; s++) out[s] = y(s);
  return out;
}

/** A read-only in-memory StudyView over a fixed array of trials. Counts getTrials calls. */
export class FakeStudy implements StudyView {
  readonly studyId = 1;
  getTrialsCalls = 0;
  readonly claimed = new Set<string>();
  stopReason: string | null = null;

  constructor(
    public trials: FrozenTrial[],
    readonly directions: readonly StudyDirection[] = ['minimize'],
    readonly studyName: string = 'study',
  ) {}

  async getTrials(options?: { readonly states?: readonly TrialState[] }): Promise<readonly FrozenTrial[]> {
    this.getTrialsCalls += 1;
    const states = options?.states;
    const sorted = [...this.trials].sort((a, b) => a.number - b.number);
    return states === undefined ? sorted : sorted.filter((t) => states.includes(t.state));
  }

  async claim(key: string): Promise<boolean> {
    if (this.claimed.has(key)) return false;
    this.claimed.add(key);
    return true;
  }

  stop(reason: string): void {
    this.stopReason = reason;
  }
}
