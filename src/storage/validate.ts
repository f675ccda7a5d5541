/**
 * Validation and normalization of what storage writes receive. Every backend runs its inputs
 * through these functions once, at the boundary, and stores the normalized copies they return:
 * attributes are deep-cloned and deep-frozen (so a caller mutating its object later cannot change a
 * stored trial or a snapshot), distributions are re-built through `distributionFromJson`, values
 * are checked against the study's directions.
 *
 * The normalized forms are also what the journal writes, so that a replay re-creates exactly the
 * state the writer validated.
 */
import { InvalidOptionError, InvalidParamValueError, InvalidTrialValueError } from '../errors.js';
import { distributionFromJson } from '../space/distributions.js';
import type { Distribution, ParamValue } from '../space/types.js';
import { cloneJsonValue } from '../trial/json-value.js';
import { setOwn } from '../util/own-keys.js';
import { TrialState, type JsonValue, type StudyDirection } from '../trial/types.js';
import type { GetTrialsOptions, TrialFinish, TrialTemplate, TrialUpdate } from './storage.js';

export { cloneJsonValue };

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export type AttrMap = Readonly<Record<string, JsonValue>>;

/** A template after validation: every field present, attributes frozen, distributions rebuilt. */
export interface NormalizedTemplate {
  readonly state: TrialState;
  readonly values: readonly number[] | null;
  readonly params: Readonly<Record<string, ParamValue>>;
  readonly distributions: Readonly<Record<string, Distribution>>;
  readonly userAttrs: AttrMap;
  readonly systemAttrs: AttrMap;
  readonly intermediateValues: Readonly<Record<number, number>>;
  readonly datetimeStart: number | null;
  readonly datetimeComplete: number | null;
}

/** An update after validation; absent fields are empty objects. */
export interface NormalizedUpdate {
  readonly params: Readonly<Record<string, ParamValue>>;
  readonly distributions: Readonly<Record<string, Distribution>>;
  readonly userAttrs: AttrMap;
  readonly systemAttrs: AttrMap;
  readonly intermediateValues: Readonly<Record<number, number>>;
}

export interface NormalizedFinish extends NormalizedUpdate {
  readonly state: 'COMPLETE' | 'PRUNED' | 'FAIL';
  readonly values: readonly number[] | null;
  readonly datetimeComplete: number | null;
}

const EMPTY: Readonly<Record<string, never>> = Object.freeze({});

const STATES: ReadonlySet<string> = new Set(Object.values(TrialState));
const FINISHED_STATES: ReadonlySet<string> = new Set(['COMPLETE', 'PRUNED', 'FAIL']);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function hasKeys(value: object): boolean {
  for (const key in value) if (Object.prototype.hasOwnProperty.call(value, key)) return true;
  return false;
}

/**
 * `v`, with -0 made 0. JSON has no -0 (`JSON.stringify(-0)` is "0"), so a journal reads a stored
 * -0 back as 0; storing 0 from the start keeps every backend, and a journal's writer and readers,
 * holding the same number.
 */
function plusZero(v: number): number {
  return v === 0 ? 0 : v;
}

export function checkStudyName(studyName: unknown): string {
  if (typeof studyName !== 'string' || studyName.length === 0) {
    throw new InvalidOptionError('studyName', 'a non-empty string', studyName);
  }
  return studyName;
}

export function checkDirections(directions: unknown): readonly StudyDirection[] {
  if (!Array.isArray(directions) || directions.length === 0) {
    throw new InvalidOptionError('directions', 'a non-empty array of "minimize" | "maximize"', directions);
  }
  for (const d of directions) {
    if (d !== 'minimize' && d !== 'maximize') {
      throw new InvalidOptionError('directions', '"minimize" or "maximize" for every objective', d);
    }
  }
  return Object.freeze([...(directions as StudyDirection[])]);
}

export function checkId(option: string, id: unknown): number {
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) {
    throw new InvalidOptionError(option, 'a non-negative integer id', id);
  }
  return id;
}

/** A trial budget: a non-negative integer. */
export function checkCount(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidOptionError(option, 'a non-negative integer', value);
  }
  return value;
}

/** An array of claim keys (`Storage.areClaimed`), each checked as `checkKey` does. */
export function checkKeys(keys: unknown): readonly string[] {
  if (!Array.isArray(keys)) throw new InvalidOptionError('keys', 'an array of keys', keys);
  return Array.from(keys as unknown[], (key, i) => checkKey(`keys[${i}]`, key));
}

export function checkKey(option: string, key: unknown): string {
  if (typeof key !== 'string') throw new InvalidOptionError(option, 'a string', key);
  return key;
}

export function checkAttrs(option: string, attrs: unknown): AttrMap {
  if (attrs === undefined || attrs === null) return EMPTY;
  if (!isPlainObject(attrs)) throw new InvalidOptionError(option, 'an object of JSON values', attrs);
  if (!hasKeys(attrs)) return EMPTY;
  const out: Record<string, JsonValue> = {};
  for (const key of Object.keys(attrs)) setOwn(out, key, cloneJsonValue(`${option}.${key}`, attrs[key]));
  return Object.freeze(out);
}

/** Intermediate values: non-negative integer steps -> numbers (NaN and infinities are allowed). */
export function checkIntermediateValues(option: string, values: unknown): Readonly<Record<number, number>> {
  if (values === undefined || values === null) return EMPTY;
  if (!isPlainObject(values)) throw new InvalidOptionError(option, 'an object of step -> number', values);
  if (!hasKeys(values)) return EMPTY;
  const out: Record<number, number> = {};
  for (const key of Object.keys(values)) {
    const step = Number(key);
    if (!Number.isSafeInteger(step) || step < 0 || String(step) !== key) {
      throw new InvalidOptionError(`${option} step`, 'a non-negative integer', key);
    }
    const v = values[key];
    if (typeof v !== 'number') throw new InvalidOptionError(`${option}[${key}]`, 'a number', v);
    out[step] = plusZero(v);
  }
  return Object.freeze(out);
}

function checkParams(option: string, params: unknown): Readonly<Record<string, ParamValue>> {
  if (params === undefined || params === null) return EMPTY;
  if (!isPlainObject(params)) throw new InvalidOptionError(option, 'an object of parameter values', params);
  if (!hasKeys(params)) return EMPTY;
  const out: Record<string, ParamValue> = {};
  for (const key of Object.keys(params)) {
    const v = params[key];
    const ok = v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
    if (!ok) throw new InvalidParamValueError(key, `expected a finite number, string, boolean or null, received ${String(v)}`);
    setOwn(out, key, typeof v === 'number' ? plusZero(v) : (v as ParamValue));
  }
  return Object.freeze(out);
}

function checkDistributions(option: string, distributions: unknown): Readonly<Record<string, Distribution>> {
  if (distributions === undefined || distributions === null) return EMPTY;
  if (!isPlainObject(distributions)) throw new InvalidOptionError(option, 'an object of distributions', distributions);
  if (!hasKeys(distributions)) return EMPTY;
  const out: Record<string, Distribution> = {};
  for (const key of Object.keys(distributions)) setOwn(out, key, distributionFromJson(distributions[key], key));
  return Object.freeze(out);
}

/** The largest |epoch ms| a JavaScript Date can hold (ECMA-262, 21.4.1.1): ±100,000,000 days. */
export const MAX_DATETIME_MS = 8.64e15;

/** How a write is checked: new writes fully; `replay` (a journal's existing records) leniently. */
export interface NormalizeOptions {
  /**
   * Accept any finite datetime, as Kestrel before the range check did, so that a journal holding
   * one still opens.
   */
  readonly replay?: boolean;
}

function checkDatetime(option: string, value: unknown, options: NormalizeOptions): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new InvalidOptionError(option, 'epoch milliseconds (a finite number) or null', value);
  }
  if (options.replay !== true && !(Math.abs(value) <= MAX_DATETIME_MS)) {
    throw new InvalidOptionError(option, `epoch milliseconds a Date can hold (at most ${MAX_DATETIME_MS} in magnitude)`, value);
  }
  return value;
}

/**
 * Objective values for `state`. COMPLETE: exactly one finite number per direction. PRUNED and FAIL:
 * null, or one number per direction. WAITING and RUNNING: null.
 */
export function checkValues(state: TrialState, values: unknown, nDirections: number): readonly number[] | null {
  if (state === 'WAITING' || state === 'RUNNING') {
    if (values === undefined || values === null) return null;
    throw new InvalidTrialValueError(`a ${state} trial has no values, received ${describeArray(values)}`);
  }
  if (values === undefined || values === null) {
    if (state === 'COMPLETE') {
      throw new InvalidTrialValueError(`a COMPLETE trial needs ${nDirections} value(s), received ${String(values)}`);
    }
    return null;
  }
  if (!Array.isArray(values)) {
    throw new InvalidTrialValueError(`values must be an array of ${nDirections} number(s), received ${typeof values}`);
  }
  if (values.length !== nDirections) {
    throw new InvalidTrialValueError(
      `the study has ${nDirections} direction(s) so a trial takes ${nDirections} value(s), received ${values.length}`,
    );
  }
  for (let i = 0; i < values.length; i++) {
    const v: unknown = values[i];
    if (typeof v !== 'number') throw new InvalidTrialValueError(`values[${i}] must be a number, received ${typeof v}`);
    if (state === 'COMPLETE' && !Number.isFinite(v)) {
      throw new InvalidTrialValueError(`values[${i}] of a COMPLETE trial must be finite, received ${v}`);
    }
  }
  return Object.freeze((values as number[]).map(plusZero));
}

function describeArray(value: unknown): string {
  return Array.isArray(value) ? `an array of length ${value.length}` : String(value);
}

function checkObject(option: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidOptionError(option, 'an object', value);
  }
  return value as Record<string, unknown>;
}

export function normalizeTemplate(
  template: TrialTemplate | undefined,
  nDirections: number,
  options: NormalizeOptions = {},
): NormalizedTemplate {
  const t = checkObject('template', template);
  const state = t.state === undefined ? 'RUNNING' : t.state;
  if (typeof state !== 'string' || !STATES.has(state)) {
    throw new InvalidOptionError('template.state', 'one of WAITING, RUNNING, COMPLETE, PRUNED, FAIL', t.state);
  }
  const trialState = state as TrialState;
  return {
    state: trialState,
    values: checkValues(trialState, t.values, nDirections),
    params: checkParams('template.params', t.params),
    distributions: checkDistributions('template.distributions', t.distributions),
    userAttrs: checkAttrs('template.userAttrs', t.userAttrs),
    systemAttrs: checkAttrs('template.systemAttrs', t.systemAttrs),
    intermediateValues: checkIntermediateValues('template.intermediateValues', t.intermediateValues),
    datetimeStart: checkDatetime('template.datetimeStart', t.datetimeStart, options),
    datetimeComplete: checkDatetime('template.datetimeComplete', t.datetimeComplete, options),
  };
}

export function normalizeUpdate(update: TrialUpdate | undefined, option = 'update'): NormalizedUpdate {
  const u = checkObject(option, update);
  return {
    params: checkParams(`${option}.params`, u.params),
    distributions: checkDistributions(`${option}.distributions`, u.distributions),
    userAttrs: checkAttrs(`${option}.userAttrs`, u.userAttrs),
    systemAttrs: checkAttrs(`${option}.systemAttrs`, u.systemAttrs),
    intermediateValues: checkIntermediateValues(`${option}.intermediateValues`, u.intermediateValues),
  };
}

export function normalizeFinish(finish: TrialFinish, nDirections: number, options: NormalizeOptions = {}): NormalizedFinish {
  const f = checkObject('finish', finish);
  if (typeof f.state !== 'string' || !FINISHED_STATES.has(f.state)) {
    throw new InvalidOptionError('finish.state', 'one of COMPLETE, PRUNED, FAIL', f.state);
  }
  const state = f.state as NormalizedFinish['state'];
  const update: Mutable<NormalizedFinish> = {
    ...normalizeUpdate(finish, 'finish'),
    state,
    values: checkValues(state, f.values, nDirections),
    datetimeComplete: checkDatetime('finish.datetimeComplete', f.datetimeComplete, options),
  };
  return update;
}

/** The `states` filter of `getAllTrials` / `getNTrials`; undefined means every state. */
export function checkGetTrialsOptions(options: GetTrialsOptions | undefined): readonly TrialState[] | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'an object {states?}', options);
  const states: unknown = options.states;
  if (states === undefined) return undefined;
  if (!Array.isArray(states)) throw new InvalidOptionError('states', 'an array of trial states', states);
  for (const s of states) {
    if (typeof s !== 'string' || !STATES.has(s)) {
      throw new InvalidOptionError('states', 'WAITING, RUNNING, COMPLETE, PRUNED or FAIL', s);
    }
  }
  return states as TrialState[];
}
