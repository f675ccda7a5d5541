import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.js';
import { SOBOL_MAX_DIMENSION, SobolSequence } from '../../src/util/sobol.js';

/** Points [start, start + n) of `seq`, row-major. */
function take(seq: SobolSequence, n: number): Float64Array {
  return seq.fill(new Float64Array(n * seq.dimension), n);
}

/** True when the 2^m values of dimension k hit each of the 2^m bins exactly once. */
function stratified(points: Float64Array, d: number, k: number, m: number): boolean {
  const n = 2 ** m;
  const hit = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const bin = Math.floor(points[i * d + k] * n);
    if (hit[bin] === 1) return false;
    hit[bin] = 1;
  }
  return true;
}

/** (0, m, 2)-net check of dims (a, b): every elementary box of area 2^-m holds exactly one point. */
function isZeroNet2d(points: Float64Array, d: number, a: number, b: number, m: number): boolean {
  const n = 2 ** m;
  for (let ja = 0; ja <= m; ja++) {
    const na = 2 ** ja;
    const nb = 2 ** (m - ja);
    const seen = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const cell = Math.floor(points[i * d + a] * na) * nb + Math.floor(points[i * d + b] * nb);
      if (seen[cell] === 1) return false;
      seen[cell] = 1;
    }
  }
  return true;
}

describe('SobolSequence (unscrambled)', () => {
  it('starts 0, 0.5, 0.75, 0.25, 0.375, 0.875 in dimension 0 and matches SciPy rows', () => {
    const seq = new SobolSequence({ dimension: 5, scramble: false });
    const rows = Array.from({ length: 6 }, () => Array.from(seq.next()));
    // scipy.stats.qmc.Sobol(5, scramble=False).random(6)
    expect(rows).toEqual([
      [0, 0, 0, 0, 0],
      [0.5, 0.5, 0.5, 0.5, 0.5],
      [0.75, 0.25, 0.25, 0.25, 0.75],
      [0.25, 0.75, 0.75, 0.75, 0.25],
      [0.375, 0.375, 0.625, 0.875, 0.375],
      [0.875, 0.875, 0.125, 0.375, 0.875],
    ]);
  });

  it('matches SciPy (Joe-Kuo new-joe-kuo-6.21201) on all 1111 dimensions', () => {
    const seq = new SobolSequence({ dimension: SOBOL_MAX_DIMENSION, scramble: false });
    const pts = take(seq, 1024);
    const d = SOBOL_MAX_DIMENSION;
    // Individual values, as x * 2^30 from scipy.stats.qmc.Sobol(1111, scramble=False, bits=30).
    const known: [number, number, number][] = [
      [5, 1, 939524096],
      [100, 2, 830472192],
      [511, 9, 216006656],
      [777, 63, 458227712],
      [1000, 64, 139460608],
      [1023, 255, 904921088],
      [700, 777, 305135616],
      [1023, 1110, 632291328],
    ];
    for (const [i, k, scaled] of known) expect(pts[i * d + k] * 2 ** 30).toBe(scaled);
    // A checksum over every coordinate of the first 1024 points, computed the same way from SciPy:
    // c_k = sum_i (i + 1) * round(x_ik * 2^30); h = fold(h * 31 + c_k mod P) mod P.
    const P = 1_000_000_007;
    let h = 0;
    for (let k = 0; k < d; k++) {
      let c = 0;
      for (let i = 0; i < 1024; i++) c += (i + 1) * Math.round(pts[i * d + k] * 2 ** 30);
      h = (h * 31 + (c % P)) % P;
    }
    expect(h).toBe(837159876);
  });

  it('stratifies the first 2^k points of every dimension into 2^k bins', () => {
    const d = 64;
    const pts = take(new SobolSequence({ dimension: d, scramble: false }), 1024);
    for (let k = 0; k < d; k++) for (let m = 1; m <= 10; m++) expect(stratified(pts, d, k, m)).toBe(true);
  });

  it('seek/skip agree with sequential generation', () => {
    const d = 7;
    const all = take(new SobolSequence({ dimension: d, scramble: false }), 300);
    const seq = new SobolSequence({ dimension: d, scramble: false });
    seq.skip(123);
    expect(seq.index).toBe(123);
    expect(Array.from(seq.next())).toEqual(Array.from(all.subarray(123 * d, 124 * d)));
    seq.seek(17);
    const out = new Float64Array(d);
    expect(seq.next(out)).toBe(out);
    expect(Array.from(out)).toEqual(Array.from(all.subarray(17 * d, 18 * d)));
    seq.reset();
    expect(Array.from(take(seq, 300))).toEqual(Array.from(all));
  });
});

describe('SobolSequence (Owen-scrambled)', () => {
  it('keeps every dimension stratified and dims (0,1) a (0,m,2)-net', () => {
    const d = 32;
    const pts = take(new SobolSequence({ dimension: d, seed: 11 }), 1024);
    for (let k = 0; k < d; k++) for (let m = 1; m <= 10; m++) expect(stratified(pts, d, k, m)).toBe(true);
    for (let m = 1; m <= 10; m++) expect(isZeroNet2d(pts, d, 0, 1, m)).toBe(true);
    expect(pts.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it('is reproducible per seed and differs across seeds and from the unscrambled sequence', () => {
    const a = take(new SobolSequence({ dimension: 4, seed: 5 }), 64);
    const b = take(new SobolSequence({ dimension: 4, seed: 5 }), 64);
    const c = take(new SobolSequence({ dimension: 4, seed: 6 }), 64);
    const plain = take(new SobolSequence({ dimension: 4, scramble: false }), 64);
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(Array.from(c)).not.toEqual(Array.from(a));
    expect(Array.from(plain)).not.toEqual(Array.from(a));
    expect(a[0]).not.toBe(0);
  });

  it('scrambles dimensions independently (different first coordinates)', () => {
    const first = new SobolSequence({ dimension: 16, seed: 3 }).next();
    expect(new Set(first).size).toBe(16);
  });

  it('fills 2048 x 100 candidates quickly (no per-point allocation)', () => {
    const seq = new SobolSequence({ dimension: 100, seed: 1 });
    const buffer = new Float64Array(2048 * 100);
    const start = performance.now();
    for (let r = 0; r < 5; r++) seq.fill(buffer, 2048);
    // ~1e6 coordinates; generous bound for a slow CI core.
    expect(performance.now() - start).toBeLessThan(2000);
  });
});

describe('SobolSequence options', () => {
  it('rejects bad dimensions, seeds and buffers naming the option', () => {
    expect(() => new SobolSequence({ dimension: 0 })).toThrow(InvalidOptionError);
    expect(() => new SobolSequence({ dimension: SOBOL_MAX_DIMENSION + 1 })).toThrow(/option "dimension".*1111/);
    expect(() => new SobolSequence({ dimension: 2.5 })).toThrow(/option "dimension"/);
    expect(() => new SobolSequence({ dimension: 2, seed: 0.5 })).toThrow(/option "seed"/);
    const seq = new SobolSequence({ dimension: 3, seed: 1 });
    expect(() => seq.fill(new Float64Array(5), 2)).toThrow(/option "out"/);
    expect(() => seq.next(new Float64Array(2))).toThrow(/option "out"/);
    expect(() => seq.skip(-1)).toThrow(/option "n"/);
    expect(() => seq.seek(2 ** 32)).toThrow(/option "index"/);
    // Past the last point: the argument the caller passed is named (it was "index", position + n).
    seq.seek(10);
    expect(() => seq.skip(2 ** 32 - 10)).toThrow(/option "n".*received 4294967286/);
    expect(seq.skip(2 ** 32 - 11).index).toBe(2 ** 32 - 1);
  });

  it('uses a random scramble seed when none is given', () => {
    const a = new SobolSequence({ dimension: 2 });
    const b = new SobolSequence({ dimension: 2 });
    expect(a.seed).not.toBe(b.seed);
    expect(new SobolSequence({ dimension: 2, scramble: false }).seed).toBeNull();
  });
});
