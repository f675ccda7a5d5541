import { InvalidOptionError } from '../errors.js';
import type { Distribution, ParamValue } from '../space/types.js';
import type { FrozenTrialData, JsonValue, TrialState } from './types.js';

/**
 * An immutable snapshot of a trial, as returned by `study.getTrials()`, `study.bestTrial()` and storage.
 * Construct it from plain data (`FrozenTrialData`); it freezes what it is given.
 */
export class FrozenTrial implements FrozenTrialData {
  readonly trialId: number;
  readonly number: number;
  readonly state: TrialState;
  readonly values: readonly number[] | null;
  readonly params: Readonly<Record<string, ParamValue>>;
  readonly distributions: Readonly<Record<string, Distribution>>;
  readonly userAttrs: Readonly<Record<string, JsonValue>>;
  readonly systemAttrs: Readonly<Record<string, JsonValue>>;
  readonly intermediateValues: Readonly<Record<number, number>>;
  readonly datetimeStart: number | null;
  readonly datetimeComplete: number | null;

  constructor(data: FrozenTrialData) {
    this.trialId = data.trialId;
    this.number = data.number;
    this.state = data.state;
    this.values = data.values === null ? null : Object.freeze([...data.values]);
    this.params = Object.freeze({ ...data.params });
    this.distributions = Object.freeze({ ...data.distributions });
    this.userAttrs = Object.freeze({ ...data.userAttrs });
    this.systemAttrs = Object.freeze({ ...data.systemAttrs });
    this.intermediateValues = Object.freeze({ ...data.intermediateValues });
    this.datetimeStart = data.datetimeStart;
    this.datetimeComplete = data.datetimeComplete;
    Object.freeze(this);
  }

  /**
   * The single objective value; null when not finished with a value. Throws `InvalidOptionError`
   * (option `value`) for a trial with several objective values (Optuna raises RuntimeError).
   */
  get value(): number | null {
    if (this.values === null) return null;
    if (this.values.length !== 1) {
      throw new InvalidOptionError('value', `a single-objective trial (trial ${this.number}: use .values)`, `${this.values.length} objective values`);
    }
    return this.values[0];
  }

  /** Wall-clock duration in milliseconds, or null while not finished. */
  get durationMs(): number | null {
    if (this.datetimeStart === null || this.datetimeComplete === null) return null;
    return this.datetimeComplete - this.datetimeStart;
  }

  /** The largest reported step, or null when nothing was reported. */
  get lastStep(): number | null {
    let last: number | null = null;
    for (const key of Object.keys(this.intermediateValues)) {
      const step = Number(key);
      if (last === null || step > last) last = step;
    }
    return last;
  }

  /** Plain JSON-able data (what storage persists). */
  toJSON(): FrozenTrialData {
    return {
      trialId: this.trialId,
      number: this.number,
      state: this.state,
      values: this.values,
      params: this.params,
      distributions: this.distributions,
      userAttrs: this.userAttrs,
      systemAttrs: this.systemAttrs,
      intermediateValues: this.intermediateValues,
      datetimeStart: this.datetimeStart,
      datetimeComplete: this.datetimeComplete,
    };
  }
}
