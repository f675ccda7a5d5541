/**
 * The README's library example: tune softmax regression on iris (examples/iris-softmax.ts) with
 * define-by-run parameters. Run with `npx tsx examples/library.ts`.
 *
 * In an application, import from the package instead: `import { createStudy, RandomSampler } from 'kestrel';`
 */
import { createStudy, RandomSampler } from '../src/index.js';
import { trainSoftmax } from './iris-softmax.js';

const study = await createStudy({
  studyName: 'iris-softmax',
  direction: 'minimize',
  sampler: new RandomSampler({ seed: 7 }),
  // storage: 'iris.journal', loadIfExists: true,  // keep trials in a journal file and resume
  //   them on the next run (default: in memory; without loadIfExists a rerun is DuplicatedStudyError)
});

await study.optimize(
  async (trial) => {
    const learningRate = trial.suggestFloat('learningRate', 1e-3, 3, { log: true });
    const l2 = trial.suggestFloat('l2', 1e-6, 1e-1, { log: true });
    const scaling = trial.suggestCategorical('scaling', ['standard', 'minmax', 'none']);
    const { validationLoss } = await trainSoftmax({ learningRate, l2, epochs: 100, scaling });
    return validationLoss;
  },
  { nTrials: 30 },
);

const best = await study.bestTrial();
console.log(`best trial #${best.number}: validation loss ${best.value?.toFixed(4)}`, best.params);
await study.close();
