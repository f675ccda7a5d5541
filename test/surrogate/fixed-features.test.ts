/**
 * optimizeAcquisition's `fixedFeatures` (BoTorch's optimize_acqf fixed_features): on the same model
 * over all d dims, the held dims keep their (snapped) value and the acquisition is maximized over
 * the free ones, on the TypeScript backend and, when the addon is built, the native one.
 */
import { describe, expect, it } from 'vitest';
import { loadAddon } from '../../src/binding/load.js';
import type { AcquisitionKind, FittedGp, OptimizeAcquisitionOptions, SurrogateBackend } from '../../src/surrogate/backend.js';
import { createJsBackend, gridCenter } from '../../src/surrogate/js-backend.js';
import { createNativeBackend } from '../../src/surrogate/native-backend.js';
import { randomData } from './helpers.js';

const available = loadAddon().addon !== null;

/** Dims: 0 continuous, 1 ordinal with 5 cells, 2 continuous, 3 categorical with 3 choices. */
const GRID = Float64Array.from([0, 1 / 5, 0, 3]);

function mixedData() {
  const data = randomData(31, 30, 4, [3]);
  const x = Float64Array.from(data.x);
  for (let i = 0; i < data.n; i++) x[i * 4 + 1] = gridCenter(Math.floor(x[i * 4 + 1] * 5), 0.2);
  return { ...data, x };
}

const FIT = { kernel: 'matern52', deterministic: false, nRestarts: 1, seed: 5, warmStart: null, numThreads: 1 } as const;
const NAN = Number.NaN;

function options(kind: AcquisitionKind, fixedFeatures?: Float64Array): OptimizeAcquisitionOptions {
  return {
    kind,
    incumbent: 1,
    beta: 2,
    nCandidates: 256,
    nRestarts: 4,
    seed: 9,
    grid: GRID,
    ...(fixedFeatures === undefined ? {} : { fixedFeatures }),
    numThreads: 1,
  };
}

/** The best acquisition value over the free dims 1 (its 5 cells) and 2 (401 points), dims 0 and 3 at x0, x3. */
async function scanFree(model: FittedGp, o: OptimizeAcquisitionOptions, x0: number, x3: number): Promise<number> {
  const rows: number[] = [];
  for (let c = 0; c < 5; c++) for (let i = 0; i <= 400; i++) rows.push(x0, gridCenter(c, 0.2), i / 400, x3);
  const { value } = await model.acquisition(Float64Array.from(rows), rows.length / 4, o, false);
  return Math.max(...value);
}

const backends: [string, () => SurrogateBackend][] = [['js', () => createJsBackend()]];
if (available) backends.push(['native cpu', () => createNativeBackend({ device: 'cpu', numThreads: 1 })]);

describe.each(backends)('optimizeAcquisition fixedFeatures (%s)', (_name, make) => {
  for (const kind of ['logei', 'ucb', 'pi'] as AcquisitionKind[]) {
    it(`${kind}: holds dims 0 and 3 and maximizes over the free dims (at least a dense scan of them)`, async () => {
      const model = await make().fit(mixedData(), FIT);
      const o = options(kind, Float64Array.from([0.37, NAN, NAN, 2]));
      const optimum = await model.optimizeAcquisition(o);
      expect(optimum.x[0]).toBe(0.37);
      expect(optimum.x[3]).toBe(2);
      expect(optimum.x[1]).toBe(gridCenter(Math.floor(optimum.x[1] * 5), 0.2));
      const at = (await model.acquisition(optimum.x, 1, o, false)).value[0];
      expect(Math.abs(at - optimum.value)).toBeLessThanOrEqual(1e-12 * (1 + Math.abs(at)));
      const scanned = await scanFree(model, o, 0.37, 2);
      expect(optimum.value).toBeGreaterThanOrEqual(scanned - 1e-9 * (1 + Math.abs(scanned)));
      // Held elsewhere than the unconstrained optimum, which is better or as good.
      const free = await model.optimizeAcquisition(options(kind));
      expect(free.value).toBeGreaterThanOrEqual(optimum.value - 1e-9 * (1 + Math.abs(optimum.value)));
      model.dispose();
    });
  }

  it('snaps a held ordinal value onto its cell centre, and all-NaN holds nothing (the same optimum as without)', async () => {
    const model = await make().fit(mixedData(), FIT);
    const held = await model.optimizeAcquisition(options('logei', Float64Array.from([NAN, 0.45, NAN, NAN])));
    expect(held.x[1]).toBe(0.5); // cell 2 of 5: centre 0.5
    const none = await model.optimizeAcquisition(options('logei', Float64Array.from([NAN, NAN, NAN, NAN])));
    const without = await model.optimizeAcquisition(options('logei'));
    expect(Array.from(none.x)).toEqual(Array.from(without.x));
    expect(none.value).toBe(without.value);
    model.dispose();
  });

  it('holds every dim when all are fixed, and holds them without restarts too', async () => {
    const model = await make().fit(mixedData(), FIT);
    const all = Float64Array.from([0.2, 0.9, 0.6, 1]);
    for (const nRestarts of [0, 4]) {
      const optimum = await model.optimizeAcquisition({ ...options('ucb', all), nRestarts });
      expect(Array.from(optimum.x)).toEqual(Array.from(all));
    }
    const onlyDim0 = await model.optimizeAcquisition({ ...options('ucb', Float64Array.from([0.8, NAN, NAN, NAN])), nRestarts: 0 });
    expect(onlyDim0.x[0]).toBe(0.8);
    model.dispose();
  });

  it.each([
    ['a wrong length', 'fixedFeatures', new Float64Array(3)],
    ['a plain array', 'fixedFeatures', [NAN, NAN, NAN, NAN]],
    ['a value above 1', 'fixedFeatures[0]', Float64Array.from([1.5, NAN, NAN, NAN])],
    ['Infinity', 'fixedFeatures[2]', Float64Array.from([NAN, NAN, Infinity, NAN])],
    ['a fractional choice index', 'fixedFeatures[3]', Float64Array.from([NAN, NAN, NAN, 1.5])],
    ['a choice index beyond the choices', 'fixedFeatures[3]', Float64Array.from([NAN, NAN, NAN, 3])],
  ])('rejects %s with an InvalidOptionError naming %s', async (_why, option, value) => {
    const model = await make().fit(mixedData(), FIT);
    const o = { ...options('ucb'), fixedFeatures: value as Float64Array };
    await expect(model.optimizeAcquisition(o)).rejects.toMatchObject({ code: 'INVALID_OPTION', option });
    model.dispose();
  });
});

describe.skipIf(!available)('fixedFeatures: native vs JS on the same model', () => {
  it('agree on the optimum value within 1e-6 (1 + |v|) with the same dims held', async () => {
    const data = mixedData();
    const native = await createNativeBackend({ device: 'cpu', numThreads: 1 }).fit(data, FIT);
    const js = await createJsBackend().build(data, native.theta, { kernel: 'matern52', deterministic: false, numThreads: 1 });
    for (const kind of ['logei', 'ucb', 'pi'] as AcquisitionKind[]) {
      const o = options(kind, Float64Array.from([NAN, 0.1, 0.25, NAN]));
      const a = await native.optimizeAcquisition(o);
      const b = await js.optimizeAcquisition(o);
      expect([a.x[1], a.x[2]]).toEqual([0.1, 0.25]);
      expect([b.x[1], b.x[2]]).toEqual([0.1, 0.25]);
      expect(Math.abs(a.value - b.value)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(b.value)));
    }
    native.dispose();
  });
});
