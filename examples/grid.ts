/**
 * The objective of examples/grid.yaml: softmax regression on iris with a conditional optimizer
 * choice. `optimizer.momentum.beta` exists only when `optimizer` is "momentum" (flat names, see
 * src/space/spec.ts).
 */
import type { Trial } from '../src/trial/trial.js';
import { trainSoftmax } from './iris-softmax.js';

export async function objective(params: Readonly<Record<string, unknown>>, _trial: Trial): Promise<number> {
  const momentum = params.optimizer === 'momentum' ? (params['optimizer.momentum.beta'] as number) : 0;
  const result = await trainSoftmax({
    learningRate: params.learningRate as number,
    l2: 1e-4,
    epochs: params.epochs as number,
    scaling: 'standard',
    momentum,
  });
  return result.validationLoss;
}
