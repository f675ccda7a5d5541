/**
 * Bayesian optimization of the Branin function with the GP sampler, four trials at a time.
 * Run: npx tsx examples/bayesian.ts
 */
import { createStudy, GpSampler, nativeStatus } from '../src/index.js';

/** Branin-Hoo on [-5, 10] x [0, 15]; global minimum 0.397887. */
function branin(x: number, y: number): number {
  const b = 5.1 / (4 * Math.PI ** 2);
  const c = 5 / Math.PI;
  return (y - b * x * x + c * x - 6) ** 2 + 10 * (1 - 1 / (8 * Math.PI)) * Math.cos(x) + 10;
}

const study = await createStudy({
  direction: 'minimize',
  sampler: new GpSampler({ seed: 1, nStartupTrials: 10 }),
});
await study.optimize(
  (trial) => {
    const x = trial.suggestFloat('x', -5, 10);
    const y = trial.suggestFloat('y', 0, 15);
    const offset = trial.suggestCategorical('offset', ['none', 'one']);
    return branin(x, y) + (offset === 'none' ? 0 : 1);
  },
  { nTrials: 60, concurrency: 4 },
);

const best = await study.bestTrial();
const native = nativeStatus();
console.log(`surrogate backend: ${native.available ? `native (${native.buildInfo?.isa})` : 'TypeScript fallback'}`);
console.log(`best value ${best.value?.toFixed(6)} (optimum 0.397887) at`, best.params);
