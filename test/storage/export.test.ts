import { describe, expect, it } from 'vitest';
import { csvField, trialsToCsv, trialsToJson } from '../../src/storage/export.js';
import { FrozenTrial } from '../../src/trial/frozen-trial.js';
import type { FrozenTrialData } from '../../src/trial/types.js';
import { X } from './contract.js';

const T0 = Date.UTC(2024, 0, 2, 3, 4, 5, 6);

function trial(over: Partial<FrozenTrialData>): FrozenTrial {
  return new FrozenTrial({
    trialId: 10,
    number: 0,
    state: 'COMPLETE',
    values: [1.5],
    params: {},
    distributions: {},
    userAttrs: {},
    systemAttrs: {},
    intermediateValues: {},
    datetimeStart: T0,
    datetimeComplete: T0 + 2500,
    ...over,
  });
}

/** A minimal RFC 4180 parser (quoted fields, doubled quotes, CRLF records) to check the output. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (ch === '"') quoted = false;
      else field += ch;
      i++;
      continue;
    }
    if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += ch;
    i++;
  }
  expect(field).toBe('');
  expect(row).toEqual([]);
  return rows;
}

describe('trialsToJson', () => {
  it('gives plain objects with ISO and epoch-ms dates and durations', () => {
    const [json] = trialsToJson([
      trial({ params: { x: 0.5 }, distributions: { x: X }, userAttrs: { note: 'a' }, intermediateValues: { 0: 3, 1: 2 } }),
    ]);
    expect(json).toEqual({
      number: 0,
      trialId: 10,
      state: 'COMPLETE',
      value: 1.5,
      values: [1.5],
      params: { x: 0.5 },
      userAttrs: { note: 'a' },
      systemAttrs: {},
      intermediateValues: { 0: 3, 1: 2 },
      datetimeStart: '2024-01-02T03:04:05.006Z',
      datetimeStartMs: T0,
      datetimeComplete: '2024-01-02T03:04:07.506Z',
      datetimeCompleteMs: T0 + 2500,
      durationMs: 2500,
    });
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
    const [running] = trialsToJson([trial({ state: 'RUNNING', values: null, datetimeComplete: null })]);
    expect(running.value).toBeNull();
    expect(running.datetimeComplete).toBeNull();
    expect(running.durationMs).toBeNull();
    const [multi] = trialsToJson([trial({ values: [1, 2] })]);
    expect(multi.value).toBeNull();
    expect(multi.values).toEqual([1, 2]);
  });

  it('writes NaN and infinities as the strings CSV and the journal use, never as null', () => {
    const json = trialsToJson([
      trial({ state: 'PRUNED', values: [Number.NaN], intermediateValues: { 0: Infinity, 1: -Infinity, 2: 0.5 } }),
      trial({ number: 1, state: 'FAIL', values: [-Infinity, Infinity] }),
    ]);
    const text = JSON.stringify(json);
    expect(JSON.parse(text)).toEqual(json);
    expect(json[0].value).toBe('NaN');
    expect(json[0].values).toEqual(['NaN']);
    expect(json[0].intermediateValues).toEqual({ 0: 'Infinity', 1: '-Infinity', 2: 0.5 });
    expect(json[1].values).toEqual(['-Infinity', 'Infinity']);
    const rows = parseCsv(trialsToCsv([trial({ state: 'PRUNED', values: [Number.NaN], intermediateValues: { 0: Infinity } })]));
    expect(rows[1][2]).toBe('NaN');
    expect(JSON.parse(rows[1].at(-1)!)).toEqual({ 0: 'Infinity' });
  });

  it('leaves the ISO form empty for a datetime a Date cannot hold, keeping the epoch ms', () => {
    const far = 1.7e18; // nanoseconds given as milliseconds, in an older journal
    const [json] = trialsToJson([trial({ datetimeStart: far, datetimeComplete: far + 1 })]);
    expect(json.datetimeStart).toBeNull();
    expect(json.datetimeStartMs).toBe(far);
    expect(json.datetimeComplete).toBeNull();
    const rows = parseCsv(trialsToCsv([trial({ datetimeStart: far })]));
    expect(rows[1][rows[0].indexOf('datetime_start')]).toBe('');
    expect(rows[1][rows[0].indexOf('datetime_complete')]).toBe('2024-01-02T03:04:07.506Z');
  });

  it('rejects input that is not an array of trials', () => {
    expect(() => trialsToJson({} as never)).toThrow(expect.objectContaining({ code: 'INVALID_OPTION', option: 'trials' }));
    expect(() => trialsToCsv([1] as never)).toThrow(expect.objectContaining({ option: 'trials[0]' }));
  });

  it('names the missing field of a trial look-alike instead of throwing a TypeError', () => {
    const partial = { number: 0, state: 'COMPLETE' } as never;
    expect(() => trialsToCsv([partial])).toThrow(expect.objectContaining({ code: 'INVALID_OPTION', option: 'trials[0].values' }));
    const noParams = { number: 0, state: 'COMPLETE', values: [1] } as never;
    expect(() => trialsToJson([noParams])).toThrow(expect.objectContaining({ option: 'trials[0].params' }));
    const badDate = { ...JSON.parse(JSON.stringify(trial({}).toJSON())), datetimeStart: '2024' } as never;
    expect(() => trialsToCsv([badDate])).toThrow(expect.objectContaining({ option: 'trials[0].datetimeStart' }));
  });
});

describe('trialsToCsv', () => {
  it('writes the union of columns in a stable order with RFC 4180 quoting', () => {
    const trials = [
      trial({ number: 0, params: { lr: 0.1, opt: 'adam, "fast"' }, userAttrs: { note: 'line1\nline2' }, intermediateValues: { 0: 1, 1: Number.NaN } }),
      trial({ number: 1, state: 'FAIL', values: null, params: { depth: 3 }, userAttrs: { tags: ['a', 'b'] }, datetimeComplete: null }),
    ];
    const csv = trialsToCsv(trials);
    expect(csv.endsWith('\r\n')).toBe(true);
    const rows = parseCsv(csv);
    expect(rows[0]).toEqual([
      'number',
      'state',
      'value',
      'datetime_start',
      'datetime_complete',
      'duration_ms',
      'params_depth',
      'params_lr',
      'params_opt',
      'user_attrs_note',
      'user_attrs_tags',
      'intermediate_values',
    ]);
    expect(rows[1]).toEqual([
      '0',
      'COMPLETE',
      '1.5',
      '2024-01-02T03:04:05.006Z',
      '2024-01-02T03:04:07.506Z',
      '2500',
      '',
      '0.1',
      'adam, "fast"',
      'line1\nline2',
      '',
      '{"0":1,"1":"NaN"}',
    ]);
    expect(rows[2]).toEqual(['1', 'FAIL', '', '2024-01-02T03:04:05.006Z', '', '', '3', '', '', '', '["a","b"]', '{}']);
    // The same trials in another order give the same columns.
    expect(parseCsv(trialsToCsv([...trials].reverse()))[0]).toEqual(rows[0]);
    // Raw quoting checks.
    expect(csv).toContain('"adam, ""fast"""');
    expect(csv).toContain('"line1\nline2"');
  });

  it('adds a system_attrs_constraints column in a constrained study (JSON, "null" when the function failed)', () => {
    const rows = parseCsv(
      trialsToCsv([
        trial({ number: 0, systemAttrs: { constraints: [-0.5, 2] } }),
        trial({ number: 1, systemAttrs: { constraints: null } }),
        trial({ number: 2 }),
      ]),
    );
    const col = rows[0].indexOf('system_attrs_constraints');
    expect(col).toBeGreaterThan(0);
    expect(rows.slice(1, 4).map((r) => r[col])).toEqual(['[-0.5,2]', 'null', '']);
    // An unconstrained export keeps its columns.
    expect(parseCsv(trialsToCsv([trial({})]))[0]).not.toContain('system_attrs_constraints');
  });

  it('uses values_<i> columns for multi-objective trials and handles no trials', () => {
    const rows = parseCsv(trialsToCsv([trial({ values: [1, -2] }), trial({ number: 1, state: 'PRUNED', values: null })]));
    expect(rows[0].slice(0, 4)).toEqual(['number', 'state', 'values_0', 'values_1']);
    expect(rows[1].slice(2, 4)).toEqual(['1', '-2']);
    expect(rows[2].slice(2, 4)).toEqual(['', '']);
    expect(parseCsv(trialsToCsv([]))).toEqual([
      ['number', 'state', 'value', 'datetime_start', 'datetime_complete', 'duration_ms', 'intermediate_values'],
    ]);
  });

  it('takes the value columns from nObjectives, so a multi-objective study without values keeps values_<i>', () => {
    const failed = [trial({ state: 'FAIL', values: null }), trial({ number: 1, state: 'RUNNING', values: null })];
    // Without nObjectives the header falls back to the largest arity seen: one `value` column.
    expect(parseCsv(trialsToCsv(failed))[0][2]).toBe('value');
    const rows = parseCsv(trialsToCsv(failed, { nObjectives: 3 }));
    expect(rows[0].slice(0, 6)).toEqual(['number', 'state', 'values_0', 'values_1', 'values_2', 'datetime_start']);
    expect(rows[1].slice(2, 5)).toEqual(['', '', '']);
    expect(parseCsv(trialsToCsv([], { nObjectives: 2 }))[0].slice(2, 4)).toEqual(['values_0', 'values_1']);
    expect(parseCsv(trialsToCsv([trial({ values: [4] })], { nObjectives: 1 }))[0][2]).toBe('value');
    for (const bad of [0, 1.5, Number.NaN, '2']) {
      expect(() => trialsToCsv([], { nObjectives: bad as number }), String(bad)).toThrow(/nObjectives.*integer >= 1/);
    }
    // A misspelt key (nObjective) was ignored, and an array taken for an empty options object.
    expect(() => trialsToCsv([], { nObjective: 2 } as never)).toThrow(expect.objectContaining({ code: 'INVALID_OPTION', option: 'nObjective' }));
    expect(() => trialsToCsv([], [2] as never)).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
  });

  it('quotes exactly the fields that need it', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('cr\rlf')).toBe('"cr\rlf"');
    expect(csvField('')).toBe('');
  });
});
