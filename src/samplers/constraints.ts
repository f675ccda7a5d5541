/**
 * Constraints of a study, as Optuna's samplers take them (`constraints_func`): a function of a
 * finished trial returning one value per constraint, the trial feasible when every value is <= 0.
 * A sampler with one (NsgaIiSampler, GpSampler) evaluates it at `tell` and stores the values on the
 * trial (`SystemAttr.constraints`, see src/trial/system-attrs.ts) with its result; this module is
 * the one place that calls the function and judges what it returned.
 */
import { ConstraintsFuncError, InvalidOptionError, describeValue } from '../errors.js';
import type { FrozenTrial } from '../trial/frozen-trial.js';
import type { StudyView } from '../trial/study-view.js';
import { SystemAttr } from '../trial/system-attrs.js';
import type { JsonValue } from '../trial/types.js';

/**
 * Numbers from a typed array (Float64Array, Float32Array, Int32Array...), as Optuna takes any
 * sequence; not a DataView, nor a BigInt64Array / BigUint64Array, whose elements are not numbers.
 */
export type NumberTypedArray =
  | Float64Array
  | Float32Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray;

/**
 * One value per constraint for a finished trial (an array, or a typed array of numbers: stored as
 * plain numbers); feasible when every value is <= 0.
 */
export type ConstraintsFunc = (trial: FrozenTrial) => readonly number[] | NumberTypedArray;

/** The `constraintsFunc` option: a function, or null when absent. */
export function resolveConstraintsFunc(value: unknown): ConstraintsFunc | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'function') throw new InvalidOptionError('constraintsFunc', 'a function (trial) => number[]', value);
  return value as ConstraintsFunc;
}

/**
 * Calls `func` for `trial`: its values (a copy, a plain array) when it returned an array or a typed
 * array (`NumberTypedArray`) of finite numbers, else null with the `ConstraintsFuncError` to give the caller of `tell` (it threw, or returned something
 * else: NaN and infinities included, which JSON cannot store).
 */
export function evaluateConstraints(
  func: ConstraintsFunc,
  trial: FrozenTrial,
): { readonly constraints: number[] | null; readonly error: ConstraintsFuncError | null } {
  let constraints: unknown;
  try {
    const returned: unknown = func(trial);
    // Read once, here: a result whose reading throws (a lazy getter, a Proxy, a revoked one) must
    // fail like the function itself, not escape `finishSystemAttrs` and leave the told trial
    // RUNNING with its result lost. The checks below then see a plain array; a typed array of
    // numbers is copied into one too (it was refused as "not an array", and JSON would have
    // stored it as an object keyed "0", "1"...).
    constraints = Array.isArray(returned) || isNumberTypedArray(returned) ? Array.from(returned as ArrayLike<unknown>) : returned;
  } catch (cause) {
    return { constraints: null, error: new ConstraintsFuncError(trial.number, `it threw: ${thrownMessage(cause)}`, { cause }) };
  }
  if (!Array.isArray(constraints)) {
    const problem = `expected an array of finite numbers, received ${describeResult(constraints)}`;
    return { constraints: null, error: new ConstraintsFuncError(trial.number, problem) };
  }
  const bad = constraints.findIndex((c) => typeof c !== 'number' || !Number.isFinite(c));
  if (bad >= 0) {
    // The offending value itself (NaN, a string...), not "an array of length k".
    const problem = `expected an array of finite numbers, its value [${bad}] was ${describeValue(constraints[bad])}`;
    return { constraints: null, error: new ConstraintsFuncError(trial.number, problem) };
  }
  return { constraints: [...(constraints as number[])], error: null };
}

/** A typed array whose elements are numbers: not a DataView, nor a BigInt64Array / BigUint64Array. */
function isNumberTypedArray(value: unknown): value is NumberTypedArray {
  return ArrayBuffer.isView(value) && !(value instanceof DataView) && !(value instanceof BigInt64Array) && !(value instanceof BigUint64Array);
}

/** A refused result: a DataView or BigInt64Array by its class (its JSON says nothing useful), else as `describeValue`. */
function describeResult(value: unknown): string {
  if (ArrayBuffer.isView(value)) return value instanceof DataView ? 'a DataView' : value instanceof BigInt64Array ? 'a BigInt64Array' : 'a BigUint64Array';
  return describeValue(value);
}

/**
 * The message of what `constraintsFunc` threw. Never throws itself: `String()` of a thrown object
 * with a null prototype (or a throwing `toString`) raises TypeError, which would escape
 * `finishSystemAttrs` and leave the told trial RUNNING with its result lost.
 */
function thrownMessage(cause: unknown): string {
  try {
    return cause instanceof Error ? cause.message : String(cause);
  } catch {
    return 'a thrown value that cannot be converted to a string';
  }
}

/**
 * The `finishSystemAttrs` / `afterTrial` pair of a sampler with constraints: at `tell`, the values
 * of a COMPLETE or PRUNED trial (Optuna's `_process_constraints_after_trial`; FAIL trials get none)
 * are returned for storage with the result, null when the function failed; that failure is thrown
 * once by `takeError` from `afterTrial`, after the trial is safely recorded.
 */
export class ConstraintsRecorder {
  /** Errors found at `finish`, by study and trial id, until `afterTrial` throws them. */
  private readonly pending = new WeakMap<StudyView, Map<number, ConstraintsFuncError>>();

  constructor(readonly func: ConstraintsFunc) {}

  /** The system attributes to store with the trial's result (the constraint values, or none for FAIL). */
  finish(study: StudyView, trial: FrozenTrial, state: 'COMPLETE' | 'PRUNED' | 'FAIL'): { attrs: Record<string, JsonValue>; constraints: number[] | null } {
    if (state === 'FAIL') return { attrs: {}, constraints: null };
    const { constraints, error } = evaluateConstraints(this.func, trial);
    if (error !== null) {
      let errors = this.pending.get(study);
      if (errors === undefined) this.pending.set(study, (errors = new Map()));
      errors.set(trial.trialId, error);
    }
    return { attrs: { [SystemAttr.constraints]: constraints }, constraints };
  }

  /** The error `finish` found for this trial, once (then forgotten); undefined when none. */
  takeError(study: StudyView, trial: FrozenTrial): ConstraintsFuncError | undefined {
    const errors = this.pending.get(study);
    const error = errors?.get(trial.trialId);
    if (error !== undefined) errors?.delete(trial.trialId);
    return error;
  }
}
