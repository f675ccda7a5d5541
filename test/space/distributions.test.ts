import { describe, expect, it } from 'vitest';
import { InvalidParamValueError, SearchSpaceError } from '../../src/errors.js';
import {
  categoricalDistribution,
  contains,
  distributionFromJson,
  distributionToJson,
  distributionsEqual,
  floatDistribution,
  intDistribution,
  isSingle,
  validateParamValue,
} from '../../src/space/distributions.js';
import type { CategoricalChoice, Distribution } from '../../src/space/types.js';

describe('distribution constructors', () => {
  it('return frozen plain data with defaults', () => {
    const f = floatDistribution('x', 0, 1);
    expect(f).toEqual({ kind: 'float', low: 0, high: 1, log: false, step: null });
    expect(Object.isFrozen(f)).toBe(true);
    expect(intDistribution('k', 1, 10)).toEqual({ kind: 'int', low: 1, high: 10, log: false, step: 1 });
    expect(intDistribution('k', 1, 100, { log: true })).toEqual({ kind: 'int', low: 1, high: 100, log: true, step: 1 });
    const c = categoricalDistribution('c', ['a', 1, true, null]);
    expect(c.choices).toEqual(['a', 1, true, null]);
    expect(Object.isFrozen(c.choices)).toBe(true);
    expect(floatDistribution('s', 0, 1, { step: 0.1 }).step).toBe(0.1);
  });

  const bad: [string, () => unknown, RegExp][] = [
    ['low > high', () => floatDistribution('p', 2, 1), /low \(2\) must be <= high \(1\)/],
    ['non-finite low', () => floatDistribution('p', -Infinity, 1), /low must be a finite number/],
    ['range wider than the largest double', () => floatDistribution('p', -1e308, 1e308), /high - low must be a finite number/],
    ['NaN high', () => floatDistribution('p', 0, NaN), /high must be a finite number/],
    ['log with low <= 0', () => floatDistribution('p', 0, 1, { log: true }), /log: true needs low > 0/],
    ['log with step', () => floatDistribution('p', 1, 2, { log: true, step: 0.5 }), /step cannot be combined with log/],
    ['step <= 0', () => floatDistribution('p', 0, 1, { step: 0 }), /step must be a finite number > 0/],
    ['float step not dividing', () => floatDistribution('p', 0, 1, { step: 0.3 }), /does not divide/],
    // Accepted before, with Infinity steps: RandomSampler suggested 1e300 every time.
    ['a float step whose count overflows', () => floatDistribution('p', 0, 1e300, { step: 1e-300 }), /the number of steps overflows/],
    ['int step not dividing', () => intDistribution('p', 0, 10, { step: 3 }), /does not divide/],
    ['non-integer int bound', () => intDistribution('p', 0.5, 10), /low must be an integer/],
    ['non-integer int step', () => intDistribution('p', 0, 10, { step: 2.5 }), /step must be an integer/],
    ['int log with low < 1', () => intDistribution('p', 0, 10, { log: true }), /log: true needs low >= 1/],
    ['int log with step', () => intDistribution('p', 1, 9, { log: true, step: 2 }), /cannot be combined with log/],
    ['empty choices', () => categoricalDistribution('p', []), /choices must not be empty/],
    ['duplicate choices', () => categoricalDistribution('p', ['a', 'b', 'a']), /duplicate choice "a"/],
    // Duplicates are ===, so 0 and -0 are one choice; null, booleans and numbers repeat too.
    ['duplicate 0 and -0', () => categoricalDistribution('p', [0, 1, -0]), /duplicate choice/],
    ['duplicate null', () => categoricalDistribution('p', [null, 'null', null]), /duplicate choice null/],
    ['duplicate true', () => categoricalDistribution('p', [true, 'true', 1, true]), /duplicate choice true/],
    ['a duplicate at the end of many choices', () => categoricalDistribution('p', [...Array.from({ length: 5000 }, (_, i) => i), 4999]), /duplicate choice 4999/],
    ['object choice', () => categoricalDistribution('p', [{}] as unknown as CategoricalChoice[]), /unsupported type/],
    ['NaN choice', () => categoricalDistribution('p', [1, NaN]), /unsupported type/],
    ['Infinity choice', () => categoricalDistribution('p', [Infinity]), /unsupported type/],
    ['non-boolean log', () => floatDistribution('p', 1, 2, { log: 'yes' as unknown as boolean }), /log must be a boolean/],
    // Ignored before: { lg: true } gave a linear distribution without a word.
    ['a misspelt float option', () => floatDistribution('p', 1, 2, { lg: true } as unknown as { log: boolean }), /unknown option "lg"/],
    ['a misspelt int option', () => intDistribution('p', 1, 9, { Step: 2 } as unknown as { step: number }), /unknown option "Step"/],
  ];
  for (const [label, make, message] of bad) {
    it(`rejects ${label} with a SearchSpaceError naming the parameter`, () => {
      expect(make).toThrow(SearchSpaceError);
      expect(make).toThrow(message);
      try {
        make();
      } catch (error) {
        expect((error as SearchSpaceError).param).toBe('p');
        expect((error as SearchSpaceError).code).toBe('INVALID_SEARCH_SPACE');
        expect((error as Error).message.startsWith('parameter "p": ')).toBe(true);
      }
    });
  }

  it('keeps choices that differ under === apart (1 and "1", true and "true", null and "null")', () => {
    expect(categoricalDistribution('p', [1, '1', true, 'true', null, 'null', false, 0, '']).choices).toHaveLength(9);
  });

  it('accepts float steps that divide within floating tolerance', () => {
    expect(() => floatDistribution('p', 0, 1, { step: 0.1 })).not.toThrow();
    expect(() => floatDistribution('p', 0.1, 0.7, { step: 0.2 })).not.toThrow();
    expect(() => floatDistribution('p', -1.5, 1.5, { step: 0.3 })).not.toThrow();
  });

  it('checks int steps in integers: a range wider than 2^53 whose double difference is rounded', () => {
    const M = Number.MAX_SAFE_INTEGER;
    // The true difference 2^54 - 3 is not a multiple of 3; its double, 2^54 - 4, was.
    expect(() => intDistribution('p', -M, M - 1, { step: 3 })).toThrow(/step 3 does not divide/);
    // 2^54 - 3 with step 1: no double holds the difference.
    expect(() => intDistribution('p', -M, M - 1)).toThrow(/must be exact in double precision/);
    expect(intDistribution('p', -M, M, { step: 2 }).step).toBe(2);
    // contains decides grid membership in integers when value - low exceeds 2^53.
    const d = intDistribution('p', -3235343297937407, 6868020999749631, { step: 7 });
    expect(contains(d, 6868020999749631 - 7)).toBe(true);
    expect(contains(d, 6868020999749631 - 8)).toBe(false);
    expect(contains(d, 5779588874780189)).toBe(false); // (5779588874780189 + 3235343297937407) % 7 = 6
  });

  it('accepts a step that divides high - low exactly in decimals, however far the doubles are off', () => {
    // (8.100000001 - 8.1) / 1e-9 is 1.0000000827 in doubles, 8e-8 off: Optuna's Decimal check accepts it.
    expect(floatDistribution('p', 8.1, 8.100000001, { step: 1e-9 }).step).toBe(1e-9);
    expect(() => floatDistribution('p', 1e15, 1e15 + 10.125, { step: 1 })).toThrow(/does not divide/);
    expect(() => floatDistribution('p', 8.1, 8.1000000015, { step: 1e-9 })).toThrow(/does not divide/);
  });
});

describe('equality, isSingle, contains', () => {
  it('distributionsEqual compares structure (categorical in order)', () => {
    expect(distributionsEqual(floatDistribution('a', 0, 1), floatDistribution('b', 0, 1))).toBe(true);
    expect(distributionsEqual(floatDistribution('a', 0, 1), floatDistribution('a', 0, 2))).toBe(false);
    expect(distributionsEqual(floatDistribution('a', 1, 2, { log: true }), floatDistribution('a', 1, 2))).toBe(false);
    expect(distributionsEqual(intDistribution('a', 0, 4), floatDistribution('a', 0, 4))).toBe(false);
    expect(distributionsEqual(intDistribution('a', 0, 4, { step: 2 }), intDistribution('a', 0, 4))).toBe(false);
    expect(distributionsEqual(categoricalDistribution('c', ['a', 'b']), categoricalDistribution('c', ['a', 'b']))).toBe(true);
    expect(distributionsEqual(categoricalDistribution('c', ['a', 'b']), categoricalDistribution('c', ['b', 'a']))).toBe(false);
    expect(distributionsEqual(categoricalDistribution('c', [1]), categoricalDistribution('c', ['1']))).toBe(false);
  });

  it('isSingle', () => {
    expect(isSingle(floatDistribution('a', 1, 1))).toBe(true);
    expect(isSingle(intDistribution('a', 3, 3))).toBe(true);
    expect(isSingle(categoricalDistribution('a', ['x']))).toBe(true);
    expect(isSingle(floatDistribution('a', 1, 2))).toBe(false);
    expect(isSingle(intDistribution('a', 0, 2, { step: 2 }))).toBe(false);
    expect(isSingle(categoricalDistribution('a', ['x', 'y']))).toBe(false);
  });

  it('contains', () => {
    const f = floatDistribution('f', 0, 1);
    expect([0, 0.5, 1].every((v) => contains(f, v))).toBe(true);
    expect([-0.1, 1.1, NaN, '0.5', null].some((v) => contains(f, v))).toBe(false);
    const s = floatDistribution('s', 0, 1, { step: 0.1 });
    expect(contains(s, 0.3)).toBe(true);
    expect(contains(s, 0.1 + 0.2)).toBe(true);
    expect(contains(s, 0.35)).toBe(false);
    const i = intDistribution('i', 0, 10, { step: 2 });
    expect(contains(i, 4)).toBe(true);
    expect(contains(i, 5)).toBe(false);
    expect(contains(i, 4.0000001)).toBe(false);
    expect(contains(i, 12)).toBe(false);
    const c = categoricalDistribution('c', ['a', 1, null]);
    expect(contains(c, 'a') && contains(c, 1) && contains(c, null)).toBe(true);
    expect(contains(c, '1') || contains(c, true) || contains(c, undefined)).toBe(false);
  });

  it('contains rejects a value half a step off the grid of a stepped float with many steps', () => {
    // The tolerance was 1e-8 * k steps: from k = 5e7 on, every value in range was "on the grid".
    const d = floatDistribution('x', 0, 1e8, { step: 1 });
    expect(contains(d, 99999999.5)).toBe(false);
    expect(contains(d, 99999999)).toBe(true);
    const lr = floatDistribution('lr', 0, 1000, { step: 1e-5 });
    expect(contains(lr, 999.999995)).toBe(false);
    expect(contains(lr, 123456 * 1e-5)).toBe(true); // k * step, off the grid by rounding only
    expect(contains(lr, 999.99999)).toBe(true);
  });

  it('contains accepts low + k * step where the grid is fine against |low| (the subtraction rounds by many steps\' 1e-8)', () => {
    // 8.1 + 87263035 * 1e-9 = 8.187263034999999: (value - low) / step is 1.8e-6 steps off k, from
    // the rounding of a difference of two numbers near 8 at a step of 1e-9. Such values (Optuna's
    // own formula, enqueued or stored by an earlier version) were refused, and a journal holding
    // one no longer opened.
    const d = floatDistribution('x', 8.1, 9.1, { step: 1e-9 });
    expect(contains(d, 8.1 + 87263035 * 1e-9)).toBe(true);
    let refused = 0;
    for (let i = 0; i < 2000; i++) {
      const k = Math.floor(((i * 7919) % 1000) * 1e6 + i);
      if (!contains(d, 8.1 + k * 1e-9)) refused++;
    }
    expect(refused).toBe(0);
    expect(contains(d, 8.1 + 87263035.5 * 1e-9)).toBe(false); // half a step off is still off
  });

  it('rejects a step that misses high by a fraction of a step on a range of many steps', () => {
    expect(() => floatDistribution('p', 0, 1e9 + 0.5, { step: 1 })).toThrow(/does not divide/);
    expect(() => floatDistribution('p', 0, 1.5e8 + 1, { step: 3 })).toThrow(/does not divide/);
    expect(floatDistribution('p', 0, 1e9, { step: 1 }).step).toBe(1);
    expect(floatDistribution('p', 0, 1000, { step: 1e-5 }).step).toBe(1e-5);
  });

  it('validateParamValue throws InvalidParamValueError naming the parameter', () => {
    const d = intDistribution('depth', 1, 5);
    expect(validateParamValue('depth', d, 3)).toBe(3);
    expect(() => validateParamValue('depth', d, 7)).toThrow(InvalidParamValueError);
    expect(() => validateParamValue('depth', d, 7)).toThrow(/parameter "depth": value 7 is not in the distribution/);
  });
});

describe('JSON', () => {
  const all: Distribution[] = [
    floatDistribution('a', -1, 1),
    floatDistribution('a', 1e-4, 1, { log: true }),
    floatDistribution('a', 0, 1, { step: 0.25 }),
    intDistribution('a', 0, 10, { step: 5 }),
    intDistribution('a', 1, 64, { log: true }),
    categoricalDistribution('a', ['x', 2, false, null]),
  ];

  it('round-trips through JSON text', () => {
    for (const d of all) {
      const back = distributionFromJson(JSON.parse(JSON.stringify(distributionToJson(d))), 'a');
      expect(distributionsEqual(back, d)).toBe(true);
      expect(back).toEqual(d);
    }
  });

  it('validates parsed data with SearchSpaceError', () => {
    expect(() => distributionFromJson(null)).toThrow(SearchSpaceError);
    expect(() => distributionFromJson({ kind: 'uniform', low: 0, high: 1 })).toThrow(/kind must be/);
    expect(() => distributionFromJson({ kind: 'float', low: 0, high: 1, extra: 1 }, 'x')).toThrow(/parameter "x": unknown field "extra"/);
    expect(() => distributionFromJson({ kind: 'float', low: 2, high: 1 }, 'x')).toThrow(/parameter "x": low \(2\) must be <= high/);
    expect(() => distributionFromJson({ kind: 'float', low: 2, high: 1 })).toThrow(/^invalid float distribution: low \(2\)/);
    expect(() => distributionFromJson({ kind: 'categorical', choices: [] })).toThrow(/choices must not be empty/);
    expect(() => distributionFromJson({ kind: 'int', low: '0', high: 1 })).toThrow(/low must be a finite number/);
    expect(distributionFromJson({ kind: 'int', low: 0, high: 3 })).toEqual(intDistribution('x', 0, 3));
  });
});
