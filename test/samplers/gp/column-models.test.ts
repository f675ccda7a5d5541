import { describe, expect, it } from 'vitest';
import { ColumnModels, type ColumnModelsInput, type ColumnRow } from '../../../src/samplers/gp/column-models.js';
import { createJsBackend } from '../../../src/surrogate/js-backend.js';

/** Rows on a 2-D grid-like design with one column of smooth values. */
function rows(n: number): ColumnRow[] {
  return Array.from({ length: n }, (_, i) => {
    const x = Float64Array.from([((i * 0.618034) % 1 + 0.01) % 1, ((i * 0.414214) % 1 + 0.02) % 1]);
    return { id: i, x, values: [(x[0] - 0.3) ** 2 + (x[1] - 0.6) ** 2] };
  });
}

function input(data: readonly ColumnRow[]): ColumnModelsInput {
  return {
    backend: createJsBackend(),
    rows: data,
    count: 1,
    d: 2,
    isCategorical: new Uint8Array(2),
    signature: 'a,b',
    fit: { kernel: 'matern52', deterministic: false, seed: 1, numThreads: 1 },
    restarts: { cold: 1, warm: 1 },
    refitDue: (n, nAtFit) => n - nAtFit >= nAtFit, // refit once the rows doubled
    seedLabel: 'objective',
    priorMean: 'mean',
  };
}

describe('ColumnModels', () => {
  it('refits instead of appending a value whose target the model cannot hold', async () => {
    // 1e306 beside values below 1 has a finite target under the kept scaling (~1e307), but
    // appended, the model's solves overflowed and it predicted NaN: a failed trial's fantasy (the
    // lower of that prediction and the worst target) was then appended as NaN, and the ask threw
    // InvalidOptionError ("y[0]"), failing the study's optimize (logEHVI objectives and
    // constraints alike).
    const models = new ColumnModels();
    const data = rows(12);
    expect((await models.update(input(data))).kind).toBe('fit');
    const extreme: ColumnRow = { id: 12, x: Float64Array.from([0.9, 0.1]), values: [1e306] };
    const { kind, models: fitted } = await models.update(input([...data, extreme]));
    expect(kind).toBe('fit');
    const mean = (await fitted[0].model.predict(Float64Array.from([0.85, 0.15, 0.5, 0.5]), 2)).mean;
    expect(Array.from(mean).every(Number.isFinite)).toBe(true);
    // An ordinary new value is still appended.
    const next: ColumnRow = { id: 13, x: Float64Array.from([0.2, 0.7]), values: [0.5] };
    expect((await models.update(input([...data, extreme, next]))).kind).toBe('append');
    models.reset();
  });
});
