import { describe, expect, it } from 'vitest';
import { loadAddon, packageRoot } from '../../src/binding/load.js';
import { existsSync } from 'node:fs';
import path from 'node:path';

describe('loadAddon', () => {
  it('never throws and caches its result', () => {
    const first = loadAddon();
    expect(loadAddon()).toBe(first);
    expect(first.addon === null).toBe(first.error !== null);
  });

  const built = existsSync(path.join(packageRoot(), 'build', 'Release', 'kestrel.node'));
  it.skipIf(!built)('loads the built addon with a sane buildInfo', () => {
    const { addon, error } = loadAddon();
    expect(error).toBeNull();
    expect(addon).not.toBeNull();
    const info = addon!.buildInfo();
    expect(info.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(['base', 'avx2', 'avx512']).toContain(info.isa);
    expect(typeof info.cuda).toBe('boolean');
    expect(info.compiler.length).toBeGreaterThan(0);
    expect(info.flags).not.toContain('march=native');
    expect(info.hardwareThreads).toBeGreaterThanOrEqual(1);
    // No GPU or driver is not an error: cudaAvailable() is simply false then.
    expect(typeof addon!.cudaAvailable()).toBe('boolean');
    if (!info.cuda) expect(addon!.cudaAvailable()).toBe(false);
  });

  it.skipIf(!built)('runs a small Cholesky through the addon (L L^T = A)', async () => {
    const { addon } = loadAddon();
    const a = Float64Array.from([4, 2, 0.4, 2, 5, 1, 0.4, 1, 3]); // symmetric, column-major
    const res = await addon!.cholesky(a, 3, 1);
    expect(res.factor).not.toBeNull();
    const l = res.factor!;
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let k = 0; k <= j; k++) s += l[i + 3 * k] * l[j + 3 * k];
        expect(Math.abs(s - a[i + 3 * j])).toBeLessThan(1e-14);
      }
    }
    // The strict upper triangle of the returned factor is zero; the factor owns its memory (the
    // input can change afterwards), and the factorization's own time is reported.
    expect([l[3], l[6], l[7]]).toEqual([0, 0, 0]);
    a.fill(Number.NaN);
    expect(Number.isFinite(l[0]) && l.length === 9).toBe(true);
    expect(res.factorMs).toBeGreaterThanOrEqual(0);
    const bad = await addon!.cholesky(Float64Array.from([1, 2, 2, 1]), 2, 1);
    expect(bad.factor).toBeNull();
    expect(bad.index).toBe(1);
    expect(bad.hadNan).toBe(false);
  });
});

describe('nativeStatus', () => {
  it('reports the loaded addon and its build, consistently with loadAddon', async () => {
    const { nativeStatus, loadAddon } = await import('../../src/binding/load.js');
    const status = nativeStatus();
    const { addon } = loadAddon();
    expect(status.available).toBe(addon !== null);
    if (addon !== null) {
      expect(status.buildInfo).toEqual(addon.buildInfo());
      expect(status.error).toBeNull();
      expect(typeof status.cudaDevice).toBe('boolean');
    } else {
      expect(status.error).toMatch(/native addon not available/);
    }
  });
});
