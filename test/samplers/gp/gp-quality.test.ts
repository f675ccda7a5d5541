import { describe, expect, it } from 'vitest';
import { GpSampler } from '../../../src/samplers/gp/gp-sampler.js';
import { RandomSampler } from '../../../src/samplers/random-sampler.js';
import type { Sampler } from '../../../src/samplers/sampler.js';
import { floatDistribution } from '../../../src/space/distributions.js';
import type { Distribution, ParamValue, SearchSpace } from '../../../src/space/types.js';
import { runSequential } from './fake-study.js';

// End-to-end search quality (issue 3): GP beats random search at 60 evaluations over 5 seeds on
// Hartmann-6 and Levy-10, by a generous margin. Reduced candidates/restarts keep it fast on the
// JS backend; bench/quality.ts runs the full comparison with the defaults.

function cube(dim: number, low: number, high: number): SearchSpace {
  const space: Record<string, Distribution> = {};
  for (let i = 0; i < dim; i++) space[`x${i}`] = floatDistribution(`x${i}`, low, high);
  return space;
}

function vector(p: Record<string, ParamValue>, dim: number): number[] {
  return Array.from({ length: dim }, (_, i) => p[`x${i}`] as number);
}

const BRANIN_MIN = 0.397887357729738;
function branin([x1, x2]: readonly number[]): number {
  const b = 5.1 / (4 * Math.PI ** 2);
  const c = 5 / Math.PI;
  return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * Math.PI)) * Math.cos(x1) + 10;
}

const HARTMANN6_MIN = -3.32236801141551;
function hartmann6(x: readonly number[]): number {
  const alpha = [1.0, 1.2, 3.0, 3.2];
  const a = [
    [10, 3, 17, 3.5, 1.7, 8],
    [0.05, 10, 17, 0.1, 8, 14],
    [3, 3.5, 1.7, 10, 17, 8],
    [17, 8, 0.05, 10, 0.1, 14],
  ];
  const p = [
    [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
    [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
    [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.665],
    [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
  ];
  let s = 0;
  for (let i = 0; i < 4; i++) {
    let inner = 0;
    for (let j = 0; j < 6; j++) inner += a[i][j] * (x[j] - p[i][j]) ** 2;
    s += alpha[i] * Math.exp(-inner);
  }
  return -s;
}

function rosenbrock(x: readonly number[]): number {
  let s = 0;
  for (let i = 0; i + 1 < x.length; i++) s += 100 * (x[i + 1] - x[i] * x[i]) ** 2 + (1 - x[i]) ** 2;
  return s;
}

function levy(x: readonly number[]): number {
  const w = x.map((v) => 1 + (v - 1) / 4);
  const d = w.length;
  let s = Math.sin(Math.PI * w[0]) ** 2;
  for (let i = 0; i + 1 < d; i++) s += (w[i] - 1) ** 2 * (1 + 10 * Math.sin(Math.PI * w[i] + 1) ** 2);
  return s + (w[d - 1] - 1) ** 2 * (1 + Math.sin(2 * Math.PI * w[d - 1]) ** 2);
}

async function medianRegret(
  make: (seed: number) => Sampler,
  space: SearchSpace,
  f: (x: readonly number[]) => number,
  dim: number,
  fMin: number,
  nTrials: number,
  seeds = 5,
): Promise<number> {
  const regrets: number[] = [];
  for (let seed = 0; seed < seeds; seed++) {
    const study = await runSequential(make(seed), space, (p) => f(vector(p, dim)), nTrials);
    regrets.push(Math.min(...study.trials.map((t) => t.values?.[0] ?? Number.POSITIVE_INFINITY)) - fMin);
  }
  return regrets.sort((a, b) => a - b)[Math.floor(seeds / 2)];
}

const gp = (seed: number) => new GpSampler({ seed, backend: 'js', candidates: 512, restarts: 4 });
const random = (seed: number) => new RandomSampler({ seed });

describe('GpSampler end to end at 60 evaluations (median regret, 5 seeds)', () => {
  it('Hartmann-6: at least 3x lower regret than random search', async () => {
    const space = cube(6, 0, 1);
    const g = await medianRegret(gp, space, hartmann6, 6, HARTMANN6_MIN, 60);
    const r = await medianRegret(random, space, hartmann6, 6, HARTMANN6_MIN, 60);
    expect(g * 3).toBeLessThan(r);
  }, 60_000);

  it('Levy-10 on [-10, 10]: lower regret than random search by a clear margin (1.5x)', async () => {
    const space = cube(10, -10, 10);
    const g = await medianRegret(gp, space, levy, 10, 0, 60);
    const r = await medianRegret(random, space, levy, 10, 0, 60);
    expect(g * 1.5).toBeLessThan(r);
  }, 60_000);
});

describe('GpSampler with its defaults on a smooth noise-free objective', () => {
  // The learned noise may fall to 1e-8 of the targets' variance under Optuna's noise prior
  // (src/surrogate/hyperparameters.ts; the fitted noise itself is checked in
  // test/native/native-backend.test.ts): the median regret over seeds 0-4 at 100 evaluations is
  // ~3e-7 on every instruction set, against Optuna 4.7's 1.5e-5 (issue 3, five seeds).
  it('Branin: median regret over 5 seeds below 3e-6 at 100 evaluations', async () => {
    const space: SearchSpace = { x0: floatDistribution('x0', -5, 10), x1: floatDistribution('x1', 0, 15) };
    const g = await medianRegret((seed) => new GpSampler({ seed }), space, branin, 2, BRANIN_MIN, 100, 5);
    expect(g).toBeLessThan(3e-6);
  }, 120_000);
});

describe('GpSampler prior mean', () => {
  // With the mean of the (mostly poor) observations as its prior mean, the GP predicts every
  // unexplored region, above all the corners of the cube, better than what it has seen, and
  // logEI spends evaluations there; the worst observation as prior mean (the default) does not
  // (src/surrogate/outcome-transform.ts). Over 80 seeds the paired geometric-mean regret ratio at
  // 60 evaluations is x0.23-0.26 (bench/quality.md, first section).
  it("Rosenbrock-8 on [-5, 10]: 'worst-observed' (default) beats 'mean' at 60 evaluations, seed by seed (8 seeds)", async () => {
    const space = cube(8, -5, 10);
    const regret = async (sampler: Sampler): Promise<number> => {
      const study = await runSequential(sampler, space, (p) => rosenbrock(vector(p, 8)), 60);
      return Math.min(...study.trials.map((t) => t.values?.[0] ?? Number.POSITIVE_INFINITY));
    };
    let logRatio = 0;
    for (let seed = 0; seed < 8; seed++) {
      logRatio += Math.log((await regret(new GpSampler({ seed }))) / (await regret(new GpSampler({ seed, priorMean: 'mean' }))));
    }
    // Generous margin: a geometric-mean ratio below 0.6.
    expect(Math.exp(logRatio / 8)).toBeLessThan(0.6);
  }, 120_000);
});
