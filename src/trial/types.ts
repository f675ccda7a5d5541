/**
 * Trial data types shared by storage, samplers, pruners and the study.
 */
import type { Distribution, ParamValue } from '../space/types.js';

/** Lifecycle of a trial. WAITING (enqueued) -> RUNNING -> one of the finished states. */
export const TrialState = {
  WAITING: 'WAITING',
  RUNNING: 'RUNNING',
  COMPLETE: 'COMPLETE',
  PRUNED: 'PRUNED',
  FAIL: 'FAIL',
} as const;
export type TrialState = (typeof TrialState)[keyof typeof TrialState];

/** A finished trial can never change again. */
export function isFinishedState(state: TrialState): boolean {
  return state === 'COMPLETE' || state === 'PRUNED' || state === 'FAIL';
}

/** Whether an objective is minimized or maximized (one per objective: `direction` / `directions`). */
export type StudyDirection = 'minimize' | 'maximize';

/** Any JSON value; user and system attributes are JSON so that every storage can hold them. */
export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/**
 * Plain data of one trial, as stored. Immutable: storage returns fresh or frozen objects and never
 * mutates one it handed out.
 */
export interface FrozenTrialData {
  /** Unique in its storage. */
  readonly trialId: number;
  /** 0-based position in its study, assigned atomically at creation. */
  readonly number: number;
  readonly state: TrialState;
  /** One value per study direction once COMPLETE; PRUNED keeps its last intermediate value (if any). */
  readonly values: readonly number[] | null;
  readonly params: Readonly<Record<string, ParamValue>>;
  readonly distributions: Readonly<Record<string, Distribution>>;
  readonly userAttrs: Readonly<Record<string, JsonValue>>;
  readonly systemAttrs: Readonly<Record<string, JsonValue>>;
  /** step -> value, as reported with `trial.report`. */
  readonly intermediateValues: Readonly<Record<number, number>>;
  /** Epoch milliseconds; null for a WAITING trial. */
  readonly datetimeStart: number | null;
  /** Epoch milliseconds; null until finished. */
  readonly datetimeComplete: number | null;
}
