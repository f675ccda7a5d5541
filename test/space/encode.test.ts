import { describe, expect, it } from 'vitest';
import { InvalidParamValueError, NumericalError } from '../../src/errors.js';
import {
  categoricalDistribution,
  contains,
  floatDistribution,
  intDistribution,
} from '../../src/space/distributions.js';
import { decode, discreteValues, encode, floatGridValue, fromUnit, gridSpacing, logIntBounds, toUnit } from '../../src/space/encode.js';
import type { Distribution, FloatDistribution } from '../../src/space/types.js';
import { decodeLogInt, encodeLogInt, snapLogInt } from '../../src/util/log-int.js';
import { Rng } from '../../src/util/prng.js';

function gridOf(d: Distribution): number[] {
  if (d.kind === 'int') {
    return Array.from({ length: (d.high - d.low) / d.step + 1 }, (_, k) => d.low + k * d.step);
  }
  if (d.kind === 'float' && d.step !== null) {
    const n = Math.round((d.high - d.low) / d.step);
    return Array.from({ length: n + 1 }, (_, k) => floatGridValue(d as FloatDistribution & { step: number }, k));
  }
  throw new Error('not a grid');
}

describe('encode / decode', () => {
  it('continuous and log floats map linearly / log-linearly onto [0, 1]', () => {
    const f = floatDistribution('f', -2, 6);
    expect(encode(f, -2)).toBe(0);
    expect(encode(f, 6)).toBe(1);
    expect(encode(f, 2)).toBe(0.5);
    expect(decode(f, 0.25)).toBe(0);
    const l = floatDistribution('l', 1e-4, 1, { log: true });
    expect(encode(l, 1e-2)).toBeCloseTo(0.5, 14);
    expect(decode(l, 0.75)).toBeCloseTo(1e-1, 15);
    expect(decode(l, 0)).toBe(1e-4);
    expect(decode(l, 1)).toBe(1);
  });

  it('encode refuses a non-finite number with InvalidParamValueError naming the parameter', () => {
    for (const d of [floatDistribution('f', 0, 1), floatDistribution('s', 0, 1, { step: 0.1 }), intDistribution('i', 1, 9, { log: true })]) {
      for (const v of [NaN, Infinity, -Infinity]) {
        expect(() => encode(d, v, 'p')).toThrow(InvalidParamValueError);
        expect(() => encode(d, v, 'p')).toThrow(`parameter "p": expected a finite number, received ${v}`);
      }
    }
    // A bigint made the message itself throw TypeError (JSON.stringify cannot write one).
    for (const d of [floatDistribution('f', 0, 1), categoricalDistribution('c', [1, 'a'])]) {
      expect(() => encode(d, 1n as unknown as number, 'p')).toThrow(InvalidParamValueError);
    }
  });

  it('clamps out-of-range coordinates and rejects NaN', () => {
    const f = floatDistribution('f', 0, 10);
    expect(decode(f, -3)).toBe(0);
    expect(decode(f, 7)).toBe(10);
    expect(decode(intDistribution('i', 1, 5), 2)).toBe(5);
    expect(() => decode(f, NaN)).toThrow(NumericalError);
    const c = categoricalDistribution('c', ['a', 'b', 'c']);
    expect(decode(c, -1)).toBe('a');
    expect(decode(c, 1.4)).toBe('b');
    expect(decode(c, 9)).toBe('c');
  });

  it('ints and stepped floats: each grid point owns a cell of width 1/(n+1) and encodes to its center', () => {
    const i = intDistribution('i', 0, 4);
    expect([0, 1, 2, 3, 4].map((v) => encode(i, v))).toEqual([0.1, 0.3, 0.5, 0.7, 0.9]);
    expect(decode(i, 0)).toBe(0);
    expect(decode(i, 0.199)).toBe(0);
    expect(decode(i, 0.201)).toBe(1);
    expect(decode(i, 1)).toBe(4);
    expect(gridSpacing(i)).toBeCloseTo(0.2, 15);
  });

  it('a stepped float near Number.MAX_VALUE wide encodes its grid points to their cell centers', () => {
    // high - low + step overflowed to Infinity: every point encoded to 0 and high to NaN (Infinity
    // / Infinity), which decode refuses; TpeSampler failed such trials with NumericalError.
    const f = floatDistribution('f', 0, 1.6e308, { step: 0.4e308 });
    const points = [0, 1, 2, 3, 4].map((k) => decode(f, (k + 0.5) / 5));
    expect(points).toEqual([0, 0.4e308, 0.8e308, 1.2e308, 1.6e308]);
    points.forEach((v, k) => {
      expect(Math.abs(encode(f, v) - (k + 0.5) / 5)).toBeLessThan(1e-12);
      expect(decode(f, encode(f, v))).toBe(v);
    });
  });

  it('categoricals encode to the choice index; gridSpacing is the number of choices', () => {
    const c = categoricalDistribution('c', ['x', 5, null]);
    expect(encode(c, 'x')).toBe(0);
    expect(encode(c, null)).toBe(2);
    expect(decode(c, 1)).toBe(5);
    expect(gridSpacing(c)).toBe(3);
    expect(() => encode(c, 'nope', 'c')).toThrow(InvalidParamValueError);
    expect(() => encode(floatDistribution('f', 0, 1), 'x', 'f')).toThrow(/parameter "f"/);
  });

  it('gridSpacing is 0 for continuous floats and log ints', () => {
    expect(gridSpacing(floatDistribution('f', 0, 1))).toBe(0);
    expect(gridSpacing(floatDistribution('f', 1, 2, { log: true }))).toBe(0);
    expect(gridSpacing(intDistribution('i', 1, 100, { log: true }))).toBe(0);
    expect(gridSpacing(floatDistribution('f', 0, 1, { step: 0.25 }))).toBeCloseTo(0.2, 15);
  });

  it('step 0.1 on [0, 1] decodes to clean decimals and round-trips them', () => {
    const s = floatDistribution('s', 0, 1, { step: 0.1 });
    const grid = gridOf(s);
    expect(grid).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
    for (const v of grid) expect(decode(s, encode(s, v))).toBe(v);
    expect(decode(s, encode(s, 0.1 + 0.2))).toBe(0.3);
    const t = floatDistribution('t', 0.1, 0.7, { step: 0.2 });
    expect(gridOf(t)).toEqual([0.1, 0.3, 0.5, 0.7]);
  });

  it('log ints round-trip every value and give each integer its log-width share', () => {
    const l = intDistribution('l', 1, 1000, { log: true });
    for (let v = 1; v <= 1000; v++) expect(decode(l, encode(l, v))).toBe(v);
    expect(decode(l, 0)).toBe(1);
    expect(decode(l, 1)).toBe(1000);
  });

  it('the log-int helpers are encode / decode of a log int; snapLogInt puts any u on a level', () => {
    const l = intDistribution('l', 1, 1000, { log: true });
    expect(logIntBounds(l)).toEqual([1, 1000]);
    for (const d of [intDistribution('i', 1, 1000), floatDistribution('f', 1, 1000, { log: true }), categoricalDistribution('c', ['a', 'b'])]) {
      expect(logIntBounds(d)).toBeNull();
    }
    const rng = new Rng(4);
    for (let i = 0; i < 2000; i++) {
      const u = i < 3 ? [0, 1, 0.5][i] : rng.nextFloat() * 1.2 - 0.1;
      const k = decodeLogInt(u, 1, 1000);
      expect(k).toBe(decode(l, Math.min(1, Math.max(0, u))));
      expect(snapLogInt(u, 1, 1000)).toBe(encode(l, k));
      expect(encodeLogInt(k, 1, 1000)).toBe(encode(l, k));
    }
    // u = 0 decodes to 1, but 1 lies at ln 2 / ln 2001 (the gap GpSampler's search must not see).
    expect(snapLogInt(0, 1, 1000)).toBeCloseTo(Math.log(2) / Math.log(2001), 15);
    expect(snapLogInt(Number.NaN, 3, 40)).toBe(encodeLogInt(3, 3, 40));
  });

  it('log ranges too narrow for ln to resolve are encoded linearly: finite coordinates that round-trip', () => {
    // ln(1e15 + 0.5) == ln(1e15) and ln(2^52 + 1/2) == ln(2^52 - 7/2) in doubles: the log maps gave 0 / 0 = NaN.
    const f = floatDistribution('f', 1e15, 1e15 + 0.5, { log: true });
    expect(encode(f, 1e15 + 0.25)).toBe(0.5);
    expect(decode(f, 0.5)).toBe(1e15 + 0.25);
    expect(gridSpacing(f)).toBe(0);
    for (const [low, high] of [
      [2 ** 52 - 3, 2 ** 52],
      [1e15, 1e15 + 3],
      [2 ** 52 - 1000, 2 ** 52],
    ]) {
      const d = intDistribution('k', low, high, { log: true });
      expect(logIntBounds(d)).toBeNull();
      expect(gridSpacing(d)).toBe(1 / (high - low + 1));
      for (let k = low; k <= high; k++) {
        const u = encode(d, k);
        expect(Number.isFinite(u)).toBe(true);
        expect(decode(d, u)).toBe(k);
      }
    }
    // Wide or resolvable log ranges keep their log coordinates.
    expect(logIntBounds(intDistribution('k', 1, 2 ** 52, { log: true }))).toEqual([1, 2 ** 52]);
    expect(logIntBounds(intDistribution('k', 1e9, 1e9 + 1000, { log: true }))).toEqual([1e9, 1e9 + 1000]);
    expect(Math.abs(encode(floatDistribution('f', 1e9, 1e9 + 1, { log: true }), 1e9 + 0.5) - 0.5)).toBeLessThan(1e-5);
  });

  it('single-valued distributions decode to their value everywhere', () => {
    for (const d of [
      floatDistribution('a', 3, 3),
      intDistribution('b', 7, 7),
      floatDistribution('c', 2, 2, { step: 0.5 }),
      floatDistribution('d', 3, 3, { log: true }),
      // Log ints went through the log-int map, whose domain is low < high: 0.525 at [5, 5], and
      // 0 / 0 = NaN from about 1e15 on (ln(low + 1/2) == ln(low - 1/2)).
      intDistribution('e', 5, 5, { log: true }),
      intDistribution('f', 2 ** 51 + 1, 2 ** 51 + 1, { log: true }),
    ]) {
      for (const u of [0, 0.3, 1]) expect(decode(d, u)).toBe(d.low);
      expect(encode(d, d.low)).toBe(0.5);
      expect(toUnit(d, d.low)).toBe(0.5);
      expect(gridSpacing(d)).toBe(d.kind === 'int' || d.step !== null ? 1 : 0);
      expect(logIntBounds(d)).toBeNull();
    }
  });

  it('fromUnit / toUnit treat categoricals as floor(u * n) cells', () => {
    const c = categoricalDistribution('c', ['a', 'b', 'c', 'd']);
    expect([0, 0.24, 0.25, 0.99, 1].map((u) => fromUnit(c, u))).toEqual(['a', 'a', 'b', 'd', 'd']);
    expect(toUnit(c, 'c')).toBe(0.625);
    expect(fromUnit(c, toUnit(c, 'c'))).toBe('c');
    const f = floatDistribution('f', 0, 2);
    expect(fromUnit(f, 0.5)).toBe(1);
    expect(toUnit(f, 1)).toBe(0.5);
  });
});

describe('encode / decode properties on random distributions', () => {
  function randomDistribution(rng: Rng): Distribution {
    const kind = rng.nextInt(0, 5);
    const a = (rng.nextFloat() - 0.5) * 10 ** rng.nextInt(-3, 4);
    switch (kind) {
      case 0:
        return floatDistribution('p', a, a + rng.nextFloat() * 10 ** rng.nextInt(-3, 4));
      case 1: {
        const low = 10 ** (rng.nextFloat() * 8 - 6);
        return floatDistribution('p', low, low * (1 + rng.nextFloat() * 10 ** rng.nextInt(0, 6)), { log: true });
      }
      case 2: {
        const step = [0.1, 0.25, 0.05, 0.3, 1e-3, 7][rng.nextInt(0, 5)];
        const low = Math.round(a * 100) / 100;
        return floatDistribution('p', low, low + step * rng.nextInt(0, 40), { step });
      }
      case 3: {
        const step = rng.nextInt(1, 5);
        const low = rng.nextInt(-50, 50);
        return intDistribution('p', low, low + step * rng.nextInt(0, 30), { step });
      }
      case 4: {
        const low = rng.nextInt(1, 100);
        return intDistribution('p', low, low + rng.nextInt(0, 10 ** rng.nextInt(1, 6)), { log: true });
      }
      default:
        return categoricalDistribution('p', Array.from({ length: rng.nextInt(1, 6) }, (_, i) => `c${i}`));
    }
  }

  it('decode(u) is always contained and decode(encode(decode(u))) == decode(u)', () => {
    const rng = new Rng(2024);
    for (let t = 0; t < 400; t++) {
      const d = randomDistribution(rng);
      for (let s = 0; s < 25; s++) {
        const u = s === 0 ? 0 : s === 1 ? 1 : rng.nextFloat();
        const x = d.kind === 'categorical' ? u * (d.choices.length - 1) : u;
        const v = decode(d, x);
        expect(contains(d, v), `${JSON.stringify(d)} u=${u} -> ${v}`).toBe(true);
        const continuous = d.kind === 'float' && d.step === null;
        const w = fromUnit(d, u);
        expect(contains(d, w)).toBe(true);
        if (continuous) {
          // Continuous values round-trip to within a few ulp (1e-12 relative to the bounds).
          const scale = Math.max(Math.abs(d.low), Math.abs(d.high));
          expect(Math.abs((decode(d, encode(d, v)) as number) - (v as number))).toBeLessThanOrEqual(1e-12 * scale);
        } else {
          expect(decode(d, encode(d, v))).toBe(v);
          expect(fromUnit(d, toUnit(d, w))).toBe(w);
        }
        if (d.kind !== 'categorical' && d.low < d.high) {
          const e = encode(d, v);
          expect(e >= 0 && e <= 1).toBe(true);
        }
      }
    }
  });

  it('ints wider than 2^53: every decoded value is on the step grid', () => {
    // low + k * step exceeded 2^53 and rounded off the grid: RandomSampler lost 19 of 300 finished
    // trials on this distribution (storage refused the params).
    const rng = new Rng(3);
    for (const [low, high, step] of [
      [-3235343297937407, 6868020999749631, 7],
      [-2388919060529151, 7260325460049919, 5],
      [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 2],
    ]) {
      const d = intDistribution('k', low, high, { step });
      for (let i = 0; i < 2000; i++) expect(contains(d, decode(d, rng.nextFloat()))).toBe(true);
      expect(decode(d, 1)).toBe(high);
      expect(decode(d, 0)).toBe(low);
    }
  });

  it('every grid value of a step tiny against |low| is contained and round-trips', () => {
    // low + k * step is off the grid by ~1e-6 steps there (ulp(8.1) / 1e-9), beyond the 1e-8 tolerance.
    for (const [low, high, step] of [
      [8.1, 8.100000047, 1e-9],
      [-3.7, -3.6999999, 1e-11],
      [123.456, 123.45600003, 1e-10],
    ]) {
      const d = floatDistribution('x', low, high, { step });
      const grid = gridOf(d);
      expect(new Set(grid).size).toBe(grid.length);
      for (const v of grid) {
        expect(contains(d, v)).toBe(true);
        expect(decode(d, encode(d, v))).toBe(v);
      }
      for (let i = 0; i <= 100; i++) expect(contains(d, decode(d, i / 100))).toBe(true);
    }
  });

  it('decode(encode(v)) == v for every grid value of random int and stepped-float distributions', () => {
    const rng = new Rng(7);
    for (let t = 0; t < 200; t++) {
      const d = randomDistribution(rng);
      if (d.kind === 'int' && !d.log) for (const v of gridOf(d)) expect(decode(d, encode(d, v))).toBe(v);
      if (d.kind === 'float' && d.step !== null) {
        for (const v of gridOf(d)) {
          expect(contains(d, v)).toBe(true);
          expect(decode(d, encode(d, v))).toBe(v);
        }
      }
      if (d.kind === 'float' && d.step === null && d.low < d.high) {
        const v = d.low + (d.high - d.low) * rng.nextFloat();
        const back = decode(d, encode(d, v)) as number;
        expect(Math.abs(back - v)).toBeLessThanOrEqual(1e-12 * Math.max(Math.abs(v), Math.abs(d.high), Math.abs(d.low)));
      }
    }
  });
});

describe('encode / decode / contains on something that is not a distribution', () => {
  // null and undefined threw a TypeError (reading 'kind'); a string or {} gave undefined or NaN.
  it.each([null, undefined, '3', {}, { kind: 'floaty' }])('rejects %s with an InvalidOptionError naming dist', (dist) => {
    for (const call of [() => encode(dist as never, 0.5), () => decode(dist as never, 0.5), () => contains(dist as never, 0.5)]) {
      expect(call).toThrow(expect.objectContaining({ code: 'INVALID_OPTION', option: 'dist' }));
    }
  });
});

describe('discreteValues', () => {
  it('lists every value of a discrete distribution in coordinate order, each round-tripping encode / decode', () => {
    const cases: [Distribution, unknown[]][] = [
      [intDistribution('i', -2, 2), [-2, -1, 0, 1, 2]],
      [intDistribution('s', 0, 9, { step: 3 }), [0, 3, 6, 9]],
      [intDistribution('l', 1, 6, { log: true }), [1, 2, 3, 4, 5, 6]],
      [floatDistribution('f', 0, 1, { step: 0.1 }), [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]],
      [categoricalDistribution('c', ['a', null, 3, true]), ['a', null, 3, true]],
      [floatDistribution('one', 2, 2), [2]],
    ];
    for (const [dist, expected] of cases) {
      const values = discreteValues(dist, 100);
      expect(values).toEqual(expected);
      for (const v of values ?? []) {
        expect(contains(dist, v)).toBe(true);
        expect(decode(dist, encode(dist, v))).toEqual(v);
      }
      const coordinates = (values ?? []).map((v) => encode(dist, v));
      expect(coordinates).toEqual([...coordinates].sort((a, b) => a - b));
    }
  });

  it('is null for a continuous float and above the limit', () => {
    expect(discreteValues(floatDistribution('f', 0, 1), 100)).toBeNull();
    expect(discreteValues(floatDistribution('f', 1e-3, 1, { log: true }), 100)).toBeNull();
    expect(discreteValues(intDistribution('i', 0, 2 ** 40), 65536)).toBeNull();
    expect(discreteValues(intDistribution('l', 1, 1000, { log: true }), 999)).toBeNull();
    expect(discreteValues(intDistribution('l', 1, 1000, { log: true }), 1000)).toHaveLength(1000);
    expect(discreteValues(categoricalDistribution('c', ['a', 'b', 'c']), 2)).toBeNull();
  });
});
