import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SearchSpaceError } from '../../src/errors.js';
import { contains, floatDistribution } from '../../src/space/distributions.js';
import {
  MAX_GRID_POINTS,
  enumerateGrid,
  enumerateValueGrid,
  suggestFromSpec,
  toNestedConfig,
  validateSpaceSpec,
} from '../../src/space/spec.js';
import type { Suggester } from '../../src/space/suggester.js';
import type { CategoricalChoice, NumericSuggestOptions, ParamValue, SpaceSpec } from '../../src/space/types.js';

/** Records calls; answers low / the first choice unless told otherwise. */
class RecordingSuggester implements Suggester {
  calls: [string, string, unknown[]][] = [];
  constructor(private readonly picks: Record<string, ParamValue> = {}) {}
  suggestFloat(name: string, low: number, high: number, options?: NumericSuggestOptions): number {
    this.calls.push(['float', name, [low, high, options]]);
    return (this.picks[name] as number | undefined) ?? low;
  }
  suggestInt(name: string, low: number, high: number, options?: NumericSuggestOptions): number {
    this.calls.push(['int', name, [low, high, options]]);
    return (this.picks[name] as number | undefined) ?? high;
  }
  suggestCategorical<T extends CategoricalChoice>(name: string, choices: readonly T[]): T {
    this.calls.push(['categorical', name, [...choices]]);
    return (this.picks[name] as T | undefined) ?? choices[0];
  }
}

const SPEC: SpaceSpec = {
  lr: { type: 'float', low: 1e-4, high: 1e-1, log: true },
  layers: { type: 'int', low: 1, high: 4 },
  optimizer: {
    type: 'categorical',
    choices: {
      sgd: { momentum: { type: 'float', low: 0, high: 0.9, step: 0.3 }, nesterov: { type: 'categorical', choices: [true, false] } },
      adam: { beta1: { type: 'const', value: 0.9 } },
    },
  },
  seed: { type: 'const', value: 7 },
};

describe('validateSpaceSpec', () => {
  it('accepts a valid spec and returns a frozen normalized copy', () => {
    const spec = validateSpaceSpec(SPEC);
    expect(spec).toEqual(SPEC);
    expect(Object.isFrozen(spec)).toBe(true);
    expect(validateSpaceSpec(spec)).toBe(spec);
  });

  it('accepts a YAML-parsed spec', () => {
    const yaml = `
lr: {type: float, low: 0.0001, high: 0.1, log: true}
layers: {type: int, low: 1, high: 4}
optimizer:
  type: categorical
  choices:
    sgd:
      momentum: {type: float, low: 0, high: 0.9, step: 0.3}
      nesterov: {type: categorical, choices: [true, false]}
    adam:
      beta1: {type: const, value: 0.9}
seed: {type: const, value: 7}
`;
    expect(validateSpaceSpec(parse(yaml))).toEqual(SPEC);
  });

  const bad: [string, unknown, string | null, RegExp][] = [
    ['not an object', [1], null, /must be an object/],
    ['a parameter that is not an object', { a: 3 }, 'a', /expected an object with a "type"/],
    ['an unknown type', { a: { type: 'uniform' } }, 'a', /type must be/],
    ['an unknown field', { a: { type: 'float', low: 0, hgh: 1 } }, 'a', /unknown field "hgh"/],
    ['low > high', { a: { type: 'float', low: 2, high: 1 } }, 'a', /low \(2\) must be <= high/],
    ['a bad n', { a: { type: 'int', low: 0, high: 3, n: 0 } }, 'a', /n \(grid points\) must be an integer >= 1/],
    ['step and n', { a: { type: 'int', low: 0, high: 4, step: 2, n: 2 } }, 'a', /either step or n/],
    ['empty choices', { a: { type: 'categorical', choices: [] } }, 'a', /choices must not be empty/],
    ['empty sub-space choices', { a: { type: 'categorical', choices: {} } }, 'a', /choices must not be empty/],
    ['a bad const', { a: { type: 'const', value: { x: 1 } } }, 'a', /const value must be/],
    ['a dotted name', { 'a.b': { type: 'const', value: 1 } }, 'a.b', /contain no '\.'/],
    // JSON.parse makes "__proto__" an own key; copied into a record it set the prototype and the parameter vanished.
    ['a parameter named __proto__', JSON.parse('{"__proto__": {"type": "float", "low": 0, "high": 1}}'), '__proto__', /not be "__proto__"/],
    [
      'a choice key __proto__',
      JSON.parse('{"opt": {"type": "categorical", "choices": {"__proto__": {}, "adam": {}}}}'),
      'opt',
      /not be "__proto__"/,
    ],
    [
      'a bad nested parameter',
      { optimizer: { type: 'categorical', choices: { sgd: { momentum: { type: 'float', low: 1, high: 0 } } } } },
      'optimizer.sgd.momentum',
      /low \(1\) must be <= high/,
    ],
    [
      'a sub-space that is not an object',
      { optimizer: { type: 'categorical', choices: { sgd: 5 } } },
      'optimizer.sgd',
      /a sub-space must be an object/,
    ],
  ];
  for (const [label, spec, path, message] of bad) {
    it(`rejects ${label}, naming the dotted path`, () => {
      let caught: unknown = null;
      try {
        validateSpaceSpec(spec);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(SearchSpaceError);
      expect((caught as SearchSpaceError).param).toBe(path);
      expect((caught as Error).message).toMatch(message);
    });
  }
});

describe('suggestFromSpec', () => {
  it('suggests in key order, recursing into the chosen branch with namespaced names; constants are not suggested', () => {
    const suggester = new RecordingSuggester({ optimizer: 'sgd', 'optimizer.sgd.momentum': 0.6 });
    const params = suggestFromSpec(suggester, SPEC);
    expect(params).toEqual({
      lr: 1e-4,
      layers: 4,
      optimizer: 'sgd',
      'optimizer.sgd.momentum': 0.6,
      'optimizer.sgd.nesterov': true,
      seed: 7,
    });
    expect(suggester.calls).toEqual([
      ['float', 'lr', [1e-4, 1e-1, { log: true }]],
      ['int', 'layers', [1, 4, undefined]],
      ['categorical', 'optimizer', ['sgd', 'adam']],
      ['float', 'optimizer.sgd.momentum', [0, 0.9, { step: 0.3 }]],
      ['categorical', 'optimizer.sgd.nesterov', [true, false]],
    ]);
  });

  it('takes the other branch when chosen', () => {
    const params = suggestFromSpec(new RecordingSuggester({ optimizer: 'adam' }), SPEC);
    expect(params).toEqual({ lr: 1e-4, layers: 4, optimizer: 'adam', 'optimizer.adam.beta1': 0.9, seed: 7 });
  });

  it('validates the spec', () => {
    expect(() => suggestFromSpec(new RecordingSuggester(), { a: { type: 'nope' } } as unknown as SpaceSpec)).toThrow(
      SearchSpaceError,
    );
  });
});

describe('toNestedConfig', () => {
  it('nests conditional parameters under their chosen branch', () => {
    const flat = suggestFromSpec(new RecordingSuggester({ optimizer: 'sgd', 'optimizer.sgd.momentum': 0.3 }), SPEC);
    expect(toNestedConfig(SPEC, flat)).toEqual({
      lr: 1e-4,
      layers: 4,
      optimizer: { sgd: { momentum: 0.3, nesterov: true } },
      seed: 7,
    });
    expect(toNestedConfig(SPEC, { lr: 0.01, layers: 2, optimizer: 'adam' })).toEqual({
      lr: 0.01,
      layers: 2,
      optimizer: { adam: { beta1: 0.9 } },
      seed: 7,
    });
  });

  it('refuses a branch value that is only an Object.prototype member, not a choice', () => {
    for (const value of ['toString', 'constructor', 'hasOwnProperty']) {
      expect(() => toNestedConfig(SPEC, { lr: 0.01, layers: 2, optimizer: value })).toThrow(
        `parameter "optimizer": value "${value}" is not one of the choices`,
      );
    }
  });

  it('reports a missing parameter', () => {
    expect(() => toNestedConfig(SPEC, { lr: 0.01, optimizer: 'adam' })).toThrow(/parameter "layers": has no value/);
  });

  it('refuses parameters that are not a record, and branch values that are not parameter values, with SearchSpaceError', () => {
    // hasOwnProperty.call(null) and String() of a null-prototype object threw TypeError; a bigint
    // made the error message itself throw (JSON.stringify).
    for (const flat of [null, undefined, 'lr', [0.01]]) {
      expect(() => toNestedConfig(SPEC, flat as unknown as Record<string, ParamValue>)).toThrow(SearchSpaceError);
    }
    for (const value of [Object.create(null), 1n, {}]) {
      const flat = { lr: 0.01, layers: 2, optimizer: value } as unknown as Record<string, ParamValue>;
      expect(() => toNestedConfig(SPEC, flat)).toThrow(SearchSpaceError);
    }
  });
});

describe('enumerateGrid', () => {
  it('expands conditionals per branch (first parameter slowest)', () => {
    const grid = enumerateGrid({
      a: { type: 'categorical', choices: ['x', 'y'] },
      opt: {
        type: 'categorical',
        choices: { sgd: { m: { type: 'float', low: 0, high: 1, step: 0.5 } }, adam: {} },
      },
    });
    expect(grid).toEqual([
      { a: 'x', opt: 'sgd', 'opt.sgd.m': 0 },
      { a: 'x', opt: 'sgd', 'opt.sgd.m': 0.5 },
      { a: 'x', opt: 'sgd', 'opt.sgd.m': 1 },
      { a: 'x', opt: 'adam' },
      { a: 'y', opt: 'sgd', 'opt.sgd.m': 0 },
      { a: 'y', opt: 'sgd', 'opt.sgd.m': 0.5 },
      { a: 'y', opt: 'sgd', 'opt.sgd.m': 1 },
      { a: 'y', opt: 'adam' },
    ]);
  });

  it('numeric dims: step points, n evenly spaced points (log-spaced for log), ints rounded and deduplicated', () => {
    const values = (spec: SpaceSpec) => enumerateGrid(spec).map((p) => p.v);
    expect(values({ v: { type: 'float', low: 0, high: 1, step: 0.1 } })).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
    expect(values({ v: { type: 'float', low: 0, high: 1, n: 5 } })).toEqual([0, 0.25, 0.5, 0.75, 1]);
    const logs = values({ v: { type: 'float', low: 1e-4, high: 1, log: true, n: 5 } }) as number[];
    expect(logs[0]).toBe(1e-4);
    expect(logs[4]).toBe(1);
    logs.forEach((v, i) => expect(Math.abs(Math.log10(v) - (i - 4))).toBeLessThan(1e-12));
    expect(values({ v: { type: 'int', low: 1, high: 5 } })).toEqual([1, 2, 3, 4, 5]);
    expect(values({ v: { type: 'int', low: 0, high: 10, step: 5 } })).toEqual([0, 5, 10]);
    expect(values({ v: { type: 'int', low: 1, high: 4, n: 10 } })).toEqual([1, 2, 3, 4]);
    expect(values({ v: { type: 'int', low: 1, high: 1000, log: true, n: 4 } })).toEqual([1, 10, 100, 1000]);
    expect(values({ v: { type: 'int', low: 0, high: 10, step: 2, n: undefined } })).toEqual([0, 2, 4, 6, 8, 10]);
    expect(values({ v: { type: 'float', low: 2, high: 2 } })).toEqual([2]);
    expect(values({ v: { type: 'const', value: 'c' } })).toEqual(['c']);
  });

  it('n points of a float range near Number.MAX_VALUE wide are all there, evenly spaced', () => {
    // (high - low) * i overflowed to Infinity from i = 2 on: those points were clamped to high and
    // deduplicated away, leaving 3 of the 5 points asked for.
    const grid = enumerateGrid({ v: { type: 'float', low: 0, high: 1.5e308, n: 5 } }).map((p) => p.v);
    expect(grid).toEqual([0, 3.75e307, 7.5e307, 1.125e308, 1.5e308]);
  });

  it('n points of a narrow log float stay in [low, high] and are distinct', () => {
    // exp(ln low + ...) rounds by more than such a range: 999999.9999999995 < low and duplicates
    // came out, and GridSampler failed those trials (the value is not in the suggested distribution).
    for (const [low, high, n] of [
      [1e6, 1e6 + 1e-9, 7],
      [1e15, 1e15 + 0.5, 5],
      [3.3, 3.3000000000000007, 4],
    ]) {
      const grid = enumerateGrid({ v: { type: 'float', low, high, log: true, n } }).map((p) => p.v as number);
      const d = floatDistribution('v', low, high, { log: true });
      for (const v of grid) expect(contains(d, v)).toBe(true);
      expect(new Set(grid).size).toBe(grid.length);
      expect(grid[0]).toBe(low);
      expect(grid[grid.length - 1]).toBe(high);
    }
  });

  it('refuses floats without step or n, and grids above 1e6 points', () => {
    expect(() => enumerateGrid({ v: { type: 'float', low: 0, high: 1 } })).toThrow(/parameter "v": grid search needs step or n/);
    expect(() => enumerateGrid({ v: { type: 'int', low: 0, high: 2_000_000 } })).toThrow(/at most 1000000/);
    expect(() =>
      enumerateGrid({ a: { type: 'int', low: 1, high: 1001 }, b: { type: 'int', low: 1, high: 1001 } }),
    ).toThrow(SearchSpaceError);
    expect(MAX_GRID_POINTS).toBe(1_000_000);
  });

  it('treats step: null (YAML ~, a distribution JSON) as no step, as floatDistribution does', () => {
    // It passed validation as step: null, then the grid counted 1 / null steps: "Infinity points".
    const spec = { v: { type: 'float', low: 0, high: 1, step: null } } as unknown as SpaceSpec;
    expect(validateSpaceSpec(spec)).toEqual({ v: { type: 'float', low: 0, high: 1 } });
    expect(() => enumerateGrid(spec)).toThrow(/parameter "v": grid search needs step or n/);
    const withN = { v: { type: 'float', low: 0, high: 1, step: null, n: 3 } } as unknown as SpaceSpec;
    expect(enumerateGrid(withN)).toEqual([{ v: 0 }, { v: 0.5 }, { v: 1 }]);
  });

  it('enumerateValueGrid: Cartesian product of value lists, validated', () => {
    expect(enumerateValueGrid({ a: [1, 2], b: ['x'] })).toEqual([
      { a: 1, b: 'x' },
      { a: 2, b: 'x' },
    ]);
    expect(() => enumerateValueGrid({ a: [] })).toThrow(/parameter "a"/);
    expect(() => enumerateValueGrid({ a: [NaN] })).toThrow(SearchSpaceError);
  });
});
