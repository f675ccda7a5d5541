/**
 * The discrete-space repeat guard (src/samplers/gp/unevaluated.ts): the configurations observed so
 * far are keyed once per study and space (`ObservedConfigurations`), and a guard built on those
 * kept keys chooses exactly as one built from scratch on every suggestion.
 */
import { describe, expect, it } from 'vitest';
import { ObservedConfigurations, UnevaluatedGuard } from '../../../src/samplers/gp/unevaluated.js';
import { encode } from '../../../src/space/encode.js';
import { categoricalDistribution, floatDistribution, intDistribution } from '../../../src/space/distributions.js';
import type { ParamValue, SearchSpace } from '../../../src/space/types.js';
import type { FittedGp } from '../../../src/surrogate/backend.js';
import { Rng } from '../../../src/util/prng.js';

type Params = Readonly<Record<string, ParamValue>>;

/** A model whose acquisition is -|x - centre|^2 (only `acquisition` is called by the guard). */
function bowl(centre: readonly number[]): FittedGp {
  const acquisition = async (x: Float64Array, m: number): Promise<{ value: Float64Array }> => {
    const d = centre.length;
    const value = new Float64Array(m);
    for (let i = 0; i < m; i++) for (let j = 0; j < d; j++) value[i] -= (x[i * d + j] - centre[j]) ** 2;
    return { value };
  };
  return { acquisition } as unknown as FittedGp;
}

function randomParams(space: SearchSpace, rng: Rng): Params {
  const out: Record<string, ParamValue> = {};
  for (const [name, dist] of Object.entries(space)) {
    if (dist.kind === 'categorical') out[name] = dist.choices[rng.nextInt(0, dist.choices.length - 1)];
    else if (dist.kind === 'int') out[name] = rng.nextInt(dist.low, dist.high);
    else out[name] = dist.low + (dist.step as number) * rng.nextInt(0, Math.round((dist.high - dist.low) / (dist.step as number)));
  }
  return out;
}

const candidates = (d: number) => ({ nSobol: 64, seed: 3, isCategorical: new Uint8Array(d) });

describe('ObservedConfigurations', () => {
  it('keys each observation once across suggestions, and starts over for another space or after reset()', () => {
    const space: SearchSpace = { a: intDistribution('a', 0, 9), b: categoricalDistribution('b', ['x', 'y']) };
    const dims = ['a', 'b'];
    const rng = new Rng(1);
    const observations = Array.from({ length: 100 }, (_, i) => ({ trialId: i, params: randomParams(space, rng) }));
    const observed = new ObservedConfigurations();
    expect(observed.update(space, dims, observations)).toBe(100);
    expect(observed.update(space, dims, observations)).toBe(0);
    // Later suggestions: one more observation, possibly finished out of number order.
    const more = [...observations.slice(0, 50), { trialId: 500, params: { a: 3, b: 'y' } }, ...observations.slice(50)];
    expect(observed.update(space, dims, more)).toBe(1);
    expect(observed.has(JSON.stringify([3, 'y']))).toBe(true);
    // Another space (a dim's range changed): its keys would be spelled alike, so it starts over.
    const wider: SearchSpace = { ...space, a: intDistribution('a', 0, 19) };
    expect(observed.update(wider, dims, more.slice(0, 10))).toBe(10);
    expect(observed.has(JSON.stringify([3, 'y']))).toBe(more.slice(0, 10).some((o) => o.params.a === 3 && o.params.b === 'y'));
    observed.reset();
    expect(observed.size).toBe(0);
    expect(observed.update(wider, dims, more)).toBe(101);
  });
});

describe('UnevaluatedGuard on kept keys', () => {
  const spaces: [string, SearchSpace, number][] = [
    // 4 x 4 x 3 = 48 configurations: every untaken one is scored.
    ['enumerated', { a: intDistribution('a', 0, 3), s: floatDistribution('s', 0, 1, { step: 1 / 3 }), c: categoricalDistribution('c', ['p', 'q', null]) }, 65536],
    // Too many to enumerate (maxConfigurations 10): neighbours and search candidates.
    ['neighbours', { a: intDistribution('a', 1, 32), b: intDistribution('b', 1, 64, { log: true }), c: categoricalDistribution('c', [true, false]) }, 10],
  ];
  for (const [name, space, maxConfigurations] of spaces) {
    it(`${name}: chooses what a guard keyed from scratch chooses, at every step of a study whose trials run, fail and finish`, async () => {
      const dims = Object.keys(space);
      const d = dims.length;
      const rng = new Rng(7);
      const observed = new ObservedConfigurations();
      // The study: trials are asked (RUNNING: pending), then some fail (failed) and the rest finish
      // (observations), not in number order; the last steps change the space, then go back.
      const running: { trialId: number; params: Params }[] = [];
      const observations: { trialId: number; params: Params }[] = [];
      const failed: Params[] = [];
      let nextId = 0;
      const mismatches: string[] = [];
      for (let step = 0; step < 40; step++) {
        const stepSpace = step >= 30 && step < 35 ? { ...space, a: intDistribution('a', 0, 40) } : space;
        running.push({ trialId: nextId++, params: randomParams(space, rng) });
        if (step % 2 === 1) {
          const done = running.splice(rng.nextInt(0, running.length - 1), 1)[0];
          if (step % 6 === 1) failed.push(done.params); // RUNNING -> FAIL: still taken, as a failed one
          else observations.push(done);
        }
        // In another space the observations lack its distribution: GpSampler passes none of them.
        const stepObservations = stepSpace === space ? observations : [];
        const others = [...running.map((r) => r.params), ...failed];
        const kept = new UnevaluatedGuard(stepSpace, dims, undefined, observed, stepObservations, others, maxConfigurations, candidates(d));
        // From scratch, as before the keys were kept: every taken configuration keyed on this step.
        const all = [...stepObservations.map((o) => o.params), ...others];
        const fresh = new UnevaluatedGuard(stepSpace, dims, undefined, new ObservedConfigurations(), [], all, maxConfigurations, candidates(d));
        // Optima at every taken configuration (each must be replaced) and at a few others.
        const points = [...observations.map((o) => o.params), ...others, randomParams(space, rng), randomParams(space, rng)];
        for (const params of points) {
          const x = Float64Array.from(dims, (n) => encode(stepSpace[n], params[n], n));
          const model = bowl(Array.from(x, (v) => v + 0.1));
          const a = await kept.choose(model, x, { kind: 'logei', best: 0 } as never);
          const b = await fresh.choose(model, x, { kind: 'logei', best: 0 } as never);
          if (JSON.stringify(Array.from(a)) !== JSON.stringify(Array.from(b))) mismatches.push(`step ${step}, ${JSON.stringify(params)}`);
        }
      }
      expect(mismatches).toEqual([]);
    });
  }
});
