import { FrozenTrial } from '../../src/trial/frozen-trial.js';
import type { StudyView } from '../../src/trial/study-view.js';
import type { JsonValue, StudyDirection, TrialState } from '../../src/trial/types.js';

export interface TrialSpec {
  readonly number: number;
  readonly state?: TrialState;
  /** step -> value */
  readonly values: Readonly<Record<number, number>>;
  /** Epoch ms; defaults to the trial number for finished trials. */
  readonly datetimeComplete?: number | null;
  /** Default: none. */
  readonly systemAttrs?: Readonly<Record<string, JsonValue>>;
}

/** System attributes recording rung values `values[k]` at rungs k = 0, 1, ... (`completed_rung_k`). */
export function rungs(...values: number[]): Record<string, number> {
  const attrs: Record<string, number> = {};
  values.forEach((v, k) => {
    attrs[`completed_rung_${k}`] = v;
  });
  return attrs;
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
    systemAttrs: spec.systemAttrs ?? {},
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

/**
 * An in-memory StudyView over an array of trials. Counts getTrials calls. Like `Study`, it has
 * `setTrialSystemAttrs` (replacing the trial in `trials` by a copy with the attributes merged),
 * unless constructed with `{ writable: false }`. `trials` is never changed in place, so a saved
 * array is a snapshot.
 */
export class FakeStudy implements StudyView {
  readonly studyId = 1;
  getTrialsCalls = 0;
  /** The attributes of each `setTrialSystemAttrs` call, in order. */
  readonly writes: { trialId: number; attrs: Readonly<Record<string, JsonValue>> }[] = [];
  readonly claimed = new Set<string>();
  stopReason: string | null = null;
  readonly setTrialSystemAttrs?: (trialId: number, attrs: Readonly<Record<string, JsonValue>>) => Promise<void>;

  constructor(
    public trials: FrozenTrial[],
    readonly directions: readonly StudyDirection[] = ['minimize'],
    readonly studyName: string = 'study',
    options: { readonly writable?: boolean } = {},
  ) {
    if (options.writable !== false) {
      this.setTrialSystemAttrs = async (trialId, attrs) => {
        this.writes.push({ trialId, attrs });
        this.trials = this.trials.map((t) =>
          t.trialId === trialId ? new FrozenTrial({ ...t.toJSON(), systemAttrs: { ...t.systemAttrs, ...attrs } }) : t,
        );
      };
    }
  }

  /**
   * Stores `trial`, replacing the trial with its number and keeping that one's system attributes
   * under its own (as storage keeps them across reports). Returns the stored trial.
   */
  put(trial: FrozenTrial): FrozenTrial {
    const old = this.trials.find((t) => t.number === trial.number);
    const stored =
      old === undefined ? trial : new FrozenTrial({ ...trial.toJSON(), systemAttrs: { ...old.systemAttrs, ...trial.systemAttrs } });
    this.trials = [...this.trials.filter((t) => t.number !== trial.number), stored];
    return stored;
  }

  /** The stored trial with this number. */
  trial(number: number): FrozenTrial {
    const found = this.trials.find((t) => t.number === number);
    if (found === undefined) throw new Error(`no trial ${number}`);
    return found;
  }

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
