import { describe, expect, it } from 'vitest';
import { describeValue } from '../src/errors.js';

describe('describeValue (the offending value in an error message)', () => {
  it('names primitives, arrays and functions plainly', () => {
    expect(describeValue('a')).toBe('"a"');
    expect(describeValue(1.5)).toBe('1.5');
    expect(describeValue(Number.NaN)).toBe('NaN');
    expect(describeValue(null)).toBe('null');
    expect(describeValue(undefined)).toBe('undefined');
    expect(describeValue([1, 2, 3])).toBe('an array of length 3');
    expect(describeValue(() => 1)).toBe('a function');
    expect(describeValue({ a: 1 })).toBe('{"a":1}');
  });

  it('names typed arrays and DataViews by class and length, not as JSON of their indices', () => {
    expect(describeValue(new Float64Array([1, 2]))).toBe('a Float64Array of length 2');
    expect(describeValue(new BigInt64Array(3))).toBe('a BigInt64Array of length 3');
    expect(describeValue(new DataView(new ArrayBuffer(8)))).toBe('a DataView of 8 bytes');
  });

  it('writes bigints and symbols as themselves', () => {
    expect(describeValue(12n)).toBe('12n');
    expect(describeValue(Symbol('s'))).toBe('Symbol(s)');
  });
});
