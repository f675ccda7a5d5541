/**
 * Export of trials for analysis: `trialsToJson` (plain objects, JSON-ready) and `trialsToCsv`
 * (RFC 4180: fields with a comma, a double quote, CR or LF are quoted, quotes doubled, records end
 * with CRLF).
 *
 * Both write the non-finite numbers JSON cannot hold (the value of a PRUNED or FAIL trial,
 * intermediate values) as the strings "NaN", "Infinity" and "-Infinity", as the journal does, so
 * that no value becomes `null` on the way. Datetimes outside the range a JavaScript Date can hold
 * (±8.64e15 ms; storage refuses them, but an older journal may hold one) have no ISO form: the ISO
 * field or cell is then empty and the epoch-ms field keeps the number.
 *
 * CSV columns: `number, state`, then `value` for one objective, else `values_0, values_1, ...`
 * (the number of objectives is `nObjectives` when given, as `study.directions.length`; otherwise
 * the largest arity among the trials, so a multi-objective study's FAIL or RUNNING trials alone
 * would get a single `value` column), `datetime_start, datetime_complete`
 * (ISO 8601), `duration_ms`, `params_<name>...` and `user_attrs_<key>...` (union over the trials,
 * names sorted, so the order does not depend on the order of the trials), in a constrained study
 * (a trial holds `systemAttrs.constraints`) `system_attrs_constraints` (the JSON array, `null`
 * where the constraints function failed), and `intermediate_values` (a JSON object step -> value;
 * NaN and infinities written as strings).
 * Missing values are empty cells; attribute values that are not strings are written as JSON.
 */
import { InvalidOptionError } from '../errors.js';
import type { ParamValue } from '../space/types.js';
import type { FrozenTrial } from '../trial/frozen-trial.js';
import { SystemAttr } from '../trial/system-attrs.js';
import { checkOptionsObject, optionKeys } from '../util/options.js';
import { hasOwn } from '../util/own-keys.js';
import type { JsonValue, TrialState } from '../trial/types.js';

/** A number as JSON can hold it: finite, or one of the strings naming a non-finite value. */
export type JsonNumber = number | 'NaN' | 'Infinity' | '-Infinity';

/**
 * One trial as `trialsToJson` writes it (and `kestrel trials --format json`): plain JSON, with
 * non-finite numbers as the strings "NaN", "Infinity", "-Infinity".
 */
export interface TrialJson {
  readonly number: number;
  readonly trialId: number;
  readonly state: TrialState;
  /** The single objective value, or null (multi-objective trials: see `values`). */
  readonly value: JsonNumber | null;
  readonly values: readonly JsonNumber[] | null;
  readonly params: Readonly<Record<string, ParamValue>>;
  readonly userAttrs: Readonly<Record<string, JsonValue>>;
  readonly systemAttrs: Readonly<Record<string, JsonValue>>;
  readonly intermediateValues: Readonly<Record<string, JsonNumber>>;
  /** ISO 8601, or null. */
  readonly datetimeStart: string | null;
  readonly datetimeStartMs: number | null;
  readonly datetimeComplete: string | null;
  readonly datetimeCompleteMs: number | null;
  readonly durationMs: number | null;
}

function checkTrials(trials: unknown): readonly FrozenTrial[] {
  if (!Array.isArray(trials)) throw new InvalidOptionError('trials', 'an array of FrozenTrial', trials);
  for (let i = 0; i < trials.length; i++) {
    const t: unknown = trials[i];
    if (typeof t !== 'object' || t === null || typeof (t as FrozenTrial).number !== 'number' || typeof (t as FrozenTrial).state !== 'string') {
      throw new InvalidOptionError(`trials[${i}]`, 'a FrozenTrial', t);
    }
    // What the export reads: a look-alike missing one of these would fail with a TypeError.
    const f = t as Record<string, unknown>;
    if (f.values !== null && !Array.isArray(f.values)) throw new InvalidOptionError(`trials[${i}].values`, 'an array of numbers or null', f.values);
    for (const key of ['params', 'userAttrs', 'systemAttrs', 'intermediateValues']) {
      if (typeof f[key] !== 'object' || f[key] === null) throw new InvalidOptionError(`trials[${i}].${key}`, 'an object', f[key]);
    }
    for (const key of ['datetimeStart', 'datetimeComplete']) {
      if (f[key] !== null && typeof f[key] !== 'number') throw new InvalidOptionError(`trials[${i}].${key}`, 'epoch milliseconds or null', f[key]);
    }
  }
  return trials as readonly FrozenTrial[];
}

/** The largest |epoch ms| a Date holds (ECMA-262, 21.4.1.1). */
const MAX_DATE_MS = 8.64e15;

function iso(ms: number | null): string | null {
  return ms === null || !(Math.abs(ms) <= MAX_DATE_MS) ? null : new Date(ms).toISOString();
}

function jsonNumber(v: number): JsonNumber {
  return Number.isFinite(v) ? v : (String(v) as JsonNumber);
}

function jsonNumbers(record: Readonly<Record<number, number>>): Record<string, JsonNumber> {
  const out: Record<string, JsonNumber> = {};
  for (const key of Object.keys(record)) out[key] = jsonNumber(record[Number(key)]);
  return out;
}

function durationOf(t: FrozenTrial): number | null {
  return t.datetimeStart === null || t.datetimeComplete === null ? null : t.datetimeComplete - t.datetimeStart;
}

/**
 * Plain, JSON-ready objects, one per trial, in the given order: non-finite values and
 * intermediate values are the strings "NaN", "Infinity", "-Infinity" (see the file comment).
 */
export function trialsToJson(trials: readonly FrozenTrial[]): TrialJson[] {
  return checkTrials(trials).map((t) => ({
    number: t.number,
    trialId: t.trialId,
    state: t.state,
    value: t.values !== null && t.values.length === 1 ? jsonNumber(t.values[0]) : null,
    values: t.values === null ? null : t.values.map(jsonNumber),
    params: { ...t.params },
    userAttrs: { ...t.userAttrs },
    systemAttrs: { ...t.systemAttrs },
    intermediateValues: jsonNumbers(t.intermediateValues),
    datetimeStart: iso(t.datetimeStart),
    datetimeStartMs: t.datetimeStart,
    datetimeComplete: iso(t.datetimeComplete),
    datetimeCompleteMs: t.datetimeComplete,
    durationMs: durationOf(t),
  }));
}

/** One CSV field, quoted when RFC 4180 requires it. */
export function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return csvField(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value); // NaN, Infinity as words
  return csvField(JSON.stringify(value));
}

function jsonWithSpecialNumbers(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));
}

/** Options of `trialsToCsv`. */
export interface TrialsToCsvOptions {
  /**
   * The study's number of objectives (`study.directions.length`): fixes the value columns (at
   * least this many), so the header of a study does not depend on which trials are exported.
   */
  readonly nObjectives?: number;
}

/** Every TrialsToCsvOptions key, checked against the interface at compile time. */
const CSV_OPTION_KEYS = optionKeys<TrialsToCsvOptions>()(['nObjectives']);

/** The trials as CSV text (header + one record per trial, in the given order). */
export function trialsToCsv(trials: readonly FrozenTrial[], options: TrialsToCsvOptions = {}): string {
  const list = checkTrials(trials);
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'an object {nObjectives?}', options);
  checkOptionsObject(options, CSV_OPTION_KEYS, 'trialsToCsv');
  const nObjectives = options.nObjectives;
  if (nObjectives !== undefined && !(Number.isSafeInteger(nObjectives) && nObjectives >= 1)) {
    throw new InvalidOptionError('nObjectives', 'an integer >= 1', nObjectives);
  }
  let nValues = nObjectives ?? 1;
  const paramNames = new Set<string>();
  const attrKeys = new Set<string>();
  for (const t of list) {
    if (t.values !== null) nValues = Math.max(nValues, t.values.length);
    for (const name of Object.keys(t.params)) paramNames.add(name);
    for (const key of Object.keys(t.userAttrs)) attrKeys.add(key);
  }
  const params = [...paramNames].sort();
  const attrs = [...attrKeys].sort();
  // Constraint values (a constrained study; Optuna's dataframe column name): a JSON array, "null"
  // where the constraints function failed, empty for a trial without them.
  const constrained = list.some((t) => hasOwn(t.systemAttrs, SystemAttr.constraints));
  const valueColumns = nValues === 1 ? ['value'] : Array.from({ length: nValues }, (_, i) => `values_${i}`);
  const header = [
    'number',
    'state',
    ...valueColumns,
    'datetime_start',
    'datetime_complete',
    'duration_ms',
    ...params.map((p) => `params_${p}`),
    ...attrs.map((k) => `user_attrs_${k}`),
    ...(constrained ? ['system_attrs_constraints'] : []),
    'intermediate_values',
  ];
  const lines = [header.map(csvField).join(',')];
  for (const t of list) {
    const row: string[] = [String(t.number), t.state];
    for (let i = 0; i < nValues; i++) row.push(cell(t.values === null ? null : (t.values[i] ?? null)));
    row.push(cell(iso(t.datetimeStart)), cell(iso(t.datetimeComplete)), cell(durationOf(t)));
    for (const p of params) row.push(cell(Object.prototype.hasOwnProperty.call(t.params, p) ? t.params[p] : null));
    for (const k of attrs) row.push(cell(Object.prototype.hasOwnProperty.call(t.userAttrs, k) ? t.userAttrs[k] : null));
    if (constrained) row.push(hasOwn(t.systemAttrs, SystemAttr.constraints) ? csvField(JSON.stringify(t.systemAttrs[SystemAttr.constraints])) : '');
    row.push(csvField(jsonWithSpecialNumbers(t.intermediateValues)));
    lines.push(row.join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}
