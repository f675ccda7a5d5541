/**
 * FittedGp.append with `noiseless` (AppendOptions; native/core/gp.h GpModel::append): a
 * kriging-believer fantasy at the posterior mean leaves next to no variance at its point and does
 * not move the posterior mean; a noisy one keeps about the noise. Both backends, the same models
 * on both, and the option's type check. Native cases are skipped when the addon is not built.
 */
import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.js';
import { loadAddon } from '../../src/binding/load.js';
import type { SurrogateBackend } from '../../src/surrogate/backend.js';
import { NOISELESS_VARIANCE } from '../../src/surrogate/backend.js';
import { createJsBackend } from '../../src/surrogate/js-backend.js';
import { createNativeBackend } from '../../src/surrogate/native-backend.js';
import { randomData } from './helpers.js';

const available = loadAddon().addon !== null;
const FIT = { kernel: 'matern52', deterministic: false, nRestarts: 1, seed: 5, warmStart: null, numThreads: 2 } as const;

const backends: [string, () => SurrogateBackend, boolean][] = [
  ['js', () => createJsBackend(), true],
  ['cpu', () => createNativeBackend({ device: 'cpu' }), available],
];

describe.each(backends)('noiseless append on the %s backend', (_name, make, enabled) => {
  it.skipIf(!enabled)('believes the latent value: variance ~0 at the point, the mean unchanged everywhere', async () => {
    const backend = make();
    // Noisy targets, so that the fitted noise is well above the noiseless floor.
    const base = randomData(8, 25, 2);
    const data = { ...base, y: Float64Array.from(base.y, (v, i) => v + 0.3 * Math.sin(37 * i)) };
    const model = await backend.fit(data, FIT);
    const sn2 = Math.exp(model.theta[3]);
    const s2 = Math.exp(model.theta[2]);
    expect(sn2).toBeGreaterThan(1e-4 * s2);
    const xp = Float64Array.from([0.41, 0.77]);
    const at = await model.predict(xp, 1);
    const quiet = await model.append(xp, at.mean, 1, { noiseless: true });
    const noisy = await model.append(xp, at.mean, 1);
    const q = await quiet.predict(xp, 1);
    const v = await noisy.predict(xp, 1);
    expect(q.variance[0]).toBeLessThan(1e-6 * s2 + 10 * NOISELESS_VARIANCE * s2);
    expect(v.variance[0]).toBeGreaterThan(0.3 * Math.min(sn2, at.variance[0]));
    expect(q.mean[0]).toBeCloseTo(at.mean[0], 6);
    const elsewhere = Float64Array.from([0.1, 0.2, 0.9, 0.5]);
    const before = await model.predict(elsewhere, 2);
    const after = await quiet.predict(elsewhere, 2);
    for (let c = 0; c < 2; c++) expect(after.mean[c]).toBeCloseTo(before.mean[c], 6);
    // Two noiseless rows at one point are singular: the model is rebuilt with its noise instead of failing.
    const twice = await model.append(Float64Array.from([0.41, 0.77, 0.41, 0.77]), Float64Array.from([at.mean[0], at.mean[0]]), 2, { noiseless: true });
    expect(twice.n).toBe(27);
    await expect(model.append(xp, at.mean, 1, { noiseless: 'yes' as never })).rejects.toBeInstanceOf(InvalidOptionError);
    for (const m of [model, quiet, noisy, twice]) m.dispose();
  });
});

describe.skipIf(!available)('noiseless append: native against TypeScript', () => {
  it('gives the same posterior at the same theta', async () => {
    const native = createNativeBackend({ device: 'cpu' });
    const js = createJsBackend();
    const data = randomData(9, 20, 3, [2]);
    const n = await native.fit(data, FIT);
    const j = await js.build(data, Float64Array.from(n.theta), { kernel: 'matern52', deterministic: false, numThreads: 1 });
    const xp = Float64Array.from([0.3, 0.6, 1, 0.7, 0.2, 0]);
    const y = Float64Array.from([0.4, -0.1]);
    const na = await n.append(xp, y, 2, { noiseless: true });
    const ja = await j.append(xp, y, 2, { noiseless: true });
    const q = Float64Array.from([0.31, 0.59, 1, 0.5, 0.5, 2]);
    const np = await na.predict(q, 2);
    const jp = await ja.predict(q, 2);
    for (let c = 0; c < 2; c++) {
      expect(np.mean[c]).toBeCloseTo(jp.mean[c], 7);
      expect(Math.abs(np.variance[c] - jp.variance[c])).toBeLessThan(1e-8);
    }
    for (const m of [n, j, na, ja]) m.dispose();
  });
});
