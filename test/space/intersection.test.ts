import { describe, expect, it } from 'vitest';
import { categoricalDistribution, floatDistribution, intDistribution } from '../../src/space/distributions.js';
import { intersectionSearchSpace } from '../../src/space/intersection.js';
import type { Distribution } from '../../src/space/types.js';

const x = floatDistribution('x', 0, 1);
const y = intDistribution('y', 0, 9);
const c = categoricalDistribution('c', ['a', 'b']);

function trial(state: string, distributions: Record<string, Distribution>) {
  return { state, distributions };
}

describe('intersectionSearchSpace', () => {
  it('is empty without COMPLETE trials', () => {
    expect(intersectionSearchSpace([])).toEqual({});
    expect(intersectionSearchSpace([trial('RUNNING', { x }), trial('FAIL', { x })])).toEqual({});
  });

  it('keeps parameters named like Object.prototype members (__proto__, constructor)', () => {
    const proto = floatDistribution('__proto__', 0, 1);
    const ctor = floatDistribution('constructor', 0, 1);
    const withBoth = JSON.parse('{"__proto__": null}') as Record<string, Distribution>;
    Object.defineProperty(withBoth, '__proto__', { value: proto, enumerable: true, writable: true, configurable: true });
    Object.defineProperty(withBoth, 'constructor', { value: ctor, enumerable: true, writable: true, configurable: true });
    withBoth.x = x;
    const space = intersectionSearchSpace([trial('COMPLETE', withBoth), trial('COMPLETE', withBoth)]);
    expect(Object.keys(space)).toEqual(['__proto__', 'constructor', 'x']);
    expect(Object.getOwnPropertyDescriptor(space, '__proto__')?.value).toBe(proto);
    // A trial without them does not match Object.prototype's members by name.
    expect(Object.keys(intersectionSearchSpace([trial('COMPLETE', withBoth), trial('COMPLETE', { x })]))).toEqual(['x']);
  });

  it('keeps parameters present with equal distributions in every COMPLETE trial, in sorted order', () => {
    const space = intersectionSearchSpace([
      trial('COMPLETE', { y, x, c }),
      trial('RUNNING', {}),
      trial('FAIL', { x }),
      trial('COMPLETE', { x, c, y: intDistribution('y', 0, 19) }),
    ]);
    expect(space).toEqual({ c, x });
    expect(Object.keys(space)).toEqual(['c', 'x']);
  });

  it('ignores PRUNED trials unless includePruned', () => {
    const trials = [trial('COMPLETE', { x, y }), trial('PRUNED', { x })];
    expect(Object.keys(intersectionSearchSpace(trials))).toEqual(['x', 'y']);
    expect(Object.keys(intersectionSearchSpace(trials, { includePruned: true }))).toEqual(['x']);
  });
});
