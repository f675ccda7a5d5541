/**
 * Two objectives and a constraint with the GP sampler: softmax regression on iris
 * (examples/iris-softmax.ts), minimizing the validation loss and the training epochs (a stand-in
 * for training cost), subject to a validation accuracy of at least 90%. The accuracy is recorded
 * as a user attribute and `constraintsFunc` reads it back (feasible when every value is <= 0).
 * Run: npx tsx examples/gp-tradeoff.ts
 *
 * In an application, import from the package instead: `import { createStudy, GpSampler } from 'kestrel';`
 */
import { createStudy, GpSampler } from '../src/index.js';
import { trainSoftmax } from './iris-softmax.js';

const study = await createStudy({
  directions: ['minimize', 'minimize'],
  sampler: new GpSampler({
    seed: 3,
    constraintsFunc: (trial) => [0.9 - (trial.userAttrs.accuracy as number)],
  }),
});

await study.optimize(
  async (trial) => {
    const learningRate = trial.suggestFloat('learningRate', 1e-3, 3, { log: true });
    const l2 = trial.suggestFloat('l2', 1e-6, 1e-1, { log: true });
    const epochs = trial.suggestInt('epochs', 5, 200, { log: true });
    const { validationLoss, validationAccuracy } = await trainSoftmax({ learningRate, l2, epochs, scaling: 'standard' });
    trial.setUserAttr('accuracy', validationAccuracy);
    return [validationLoss, epochs];
  },
  { nTrials: 40 },
);

// The Pareto front of the feasible trials (accuracy >= 0.9): each is best in loss for its epochs.
const front = [...(await study.bestTrials())].sort((a, b) => (a.values?.[1] ?? 0) - (b.values?.[1] ?? 0));
console.log(`${front.length} trials on the feasible Pareto front (loss vs epochs):`);
for (const t of front) {
  const [loss, epochs] = t.values ?? [];
  console.log(`  #${t.number}: ${epochs} epochs, validation loss ${loss.toFixed(4)}, accuracy ${(t.userAttrs.accuracy as number).toFixed(3)}`);
}
await study.close();
