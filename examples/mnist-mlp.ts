/**
 * The objective of examples/mnist-mlp.yaml: an MLP on 2,000 MNIST digits shipped by the `mnist`
 * package (1,600 to train, 400 to validate, a fixed stratified split), trained with TensorFlow.js on
 * the fastest backend available (tfjs-node-gpu, tfjs-node, WASM, then pure JS).
 *
 * The architecture and training settings come from `suggestModelParams` with the ranges below; the
 * pruning callback reports the validation accuracy after every epoch, so ASHA stops poor
 * configurations after 1 or 3 of the 9 epochs (its third rung is the last epoch: a trial judged
 * poor there has trained fully but is recorded PRUNED, with its final accuracy as last value).
 * `tfObjective` releases every tensor after each trial, pruned or not. Returns the final
 * validation accuracy (the study maximizes it).
 */
import type { Objective } from '../src/study/optimize.js';
import {
  buildModel,
  fitWithPruning,
  loadDigits,
  tfObjective,
  toTensors,
  trainTestSplit,
  type ModelParamRanges,
} from '../src/tfjs/index.js';

/** Digits used in all (train + validation). */
export const N_DIGITS = 2000;
/** Epochs of a full training: ASHA's maximum resource. */
export const MAX_EPOCHS = 9;

export const ranges: ModelParamRanges = {
  nLayers: { low: 1, high: 2 },
  units: { low: 16, high: 128, log: true },
  activation: ['relu', 'elu', 'tanh'],
  dropout: { low: 0, high: 0.4 },
  batchNorm: false,
  optimizer: ['adam', 'sgd', 'rmsprop'],
  learningRate: { low: 1e-4, high: 0.3, log: true },
  momentum: { low: 0, high: 0.95 },
  lrSchedule: ['constant', 'exponential'],
  lrDecayRate: { low: 0.7, high: 0.99 },
  batchSize: [32, 64, 128],
  epochs: MAX_EPOCHS,
  weightDecay: { low: 1e-6, high: 1e-3, log: true },
};

type Split = ReturnType<typeof trainTestSplit<number[], number>>;
let split: Split | null = null;

/** The fixed train/validation split (loaded once per process). */
export function digitsSplit(): Split {
  if (split === null) {
    const digits = loadDigits({ n: N_DIGITS, seed: 0 });
    split = trainTestSplit({ x: digits.x, y: digits.y, testFraction: 0.2, seed: 0 });
  }
  return split;
}

export const objective: Objective = tfObjective(async ({ trial, tf }) => {
  const data = digitsSplit();
  const built = buildModel(trial, { inputShape: [784], nClasses: 10, ranges });
  const train = toTensors({ x: data.xTrain, y: data.yTrain, nClasses: 10, tf });
  const valid = toTensors({ x: data.xTest, y: data.yTest, nClasses: 10, tf });
  try {
    const history = await fitWithPruning({
      model: built.model,
      x: train.xs,
      y: train.ys,
      trial,
      monitor: 'val_acc',
      fitArgs: { ...built.fitArgs, validationData: [valid.xs, valid.ys], verbose: 0 },
    });
    const accuracy = history.history.val_acc as number[];
    return accuracy[accuracy.length - 1];
  } finally {
    tf.dispose([train.xs, train.ys, valid.xs, valid.ys]);
    built.dispose();
  }
});
