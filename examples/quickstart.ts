/**
 * The objective of examples/quickstart.yaml: softmax regression on iris (see iris-softmax.ts).
 * The config declares the space, so Kestrel calls `objective(params, trial)` with the sampled
 * parameters; the trial is used to report the validation loss every 10 epochs, which lets the
 * median pruner stop runs that are clearly worse than earlier ones at the same epoch.
 */
import type { Trial } from '../src/trial/trial.js';
import { trainSoftmax, type Scaling } from './iris-softmax.js';

export async function objective(params: Readonly<Record<string, unknown>>, trial: Trial): Promise<number> {
  const result = await trainSoftmax({
    learningRate: params.learningRate as number,
    l2: params.l2 as number,
    epochs: params.epochs as number,
    scaling: params.scaling as Scaling,
    onEpoch: async (epoch, loss) => {
      await trial.report(epoch, loss);
      await trial.pruneIfNeeded();
    },
  });
  trial.setUserAttr('validationAccuracy', result.validationAccuracy);
  return result.validationLoss;
}
