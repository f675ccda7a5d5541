import { describe, expect, it } from 'vitest';
import { GpSampler } from '../../../src/samplers/gp/gp-sampler.js';
import { createStudy } from '../../../src/study/create-study.js';
import type { Trial } from '../../../src/trial/trial.js';

const branin = (x: number, y: number): number =>
  (y - (5.1 / (4 * Math.PI ** 2)) * x * x + (5 / Math.PI) * x - 6) ** 2 + 10 * (1 - 1 / (8 * Math.PI)) * Math.cos(x) + 10;

describe('GpSampler through the real Study', () => {
  it('spreads the suggestions of trials asked while others are still running', async () => {
    const study = await createStudy({
      sampler: new GpSampler({ seed: 3, nStartupTrials: 6, candidates: 256, restarts: 3, backend: 'js', deterministic: true }),
    });
    const objective = (trial: Trial): number => branin(trial.suggestFloat('x', -5, 10), trial.suggestFloat('y', 0, 15));
    await study.optimize(objective, { nTrials: 10 });

    // Four trials asked at once (none told yet): each sees the others' recorded proposals.
    const running: Trial[] = [];
    for (let i = 0; i < 4; i++) running.push(await study.ask());
    const points = running.map((t) => [(t.suggestFloat('x', -5, 10) + 5) / 15, t.suggestFloat('y', 0, 15) / 15]);
    let minDistance = Infinity;
    for (let i = 0; i < points.length; i++) {
      for (let j = i + 1; j < points.length; j++) {
        minDistance = Math.min(minDistance, Math.hypot(points[i][0] - points[j][0], points[i][1] - points[j][1]));
      }
    }
    // Without the pending points they would all sit on the same acquisition maximum.
    expect(minDistance).toBeGreaterThan(0.02);
    for (const t of running) await study.tell(t, objective(t));
    expect(await study.getTrials({ states: ['COMPLETE'] })).toHaveLength(14);
  });
});
