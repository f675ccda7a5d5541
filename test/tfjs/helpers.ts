/** Shared helpers of the tfjs tests: a tiny deterministic data set and simple pruners. */
import * as tf from '@tensorflow/tfjs';
import type { Pruner } from '../../src/pruners/pruner.js';
import { Rng } from '../../src/util/prng.js';

/** Two Gaussian blobs in 4-D (n examples, labels 0/1), seeded. */
export function blobs(n: number, seed: number): { x: number[][]; y: number[] } {
  const rng = new Rng(seed);
  const x: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const label = i % 2;
    x.push([0, 1, 2, 3].map(() => rng.normal() + (label === 1 ? 1.5 : -1.5)));
    y.push(label);
  }
  return { x, y };
}

/** Prunes every trial once it has reported step `atStep`. */
export function pruneAtStep(atStep: number): Pruner {
  return {
    name: `prune-at-${atStep}`,
    prune: (_study, trial) => Object.keys(trial.intermediateValues).map(Number).some((s) => s >= atStep),
  };
}

/** A tiny compiled classifier (4 -> 3 -> 2), seeded weights. */
export function tinyModel(seed = 1): tf.Sequential {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ units: 3, inputShape: [4], activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed }) }),
      tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
  model.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}
