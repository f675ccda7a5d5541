/**
 * `tfObjective(buildAndTrain)`: turns a TensorFlow.js training function into a study objective.
 * Per trial it
 *   1. selects the backend once per process (`selectTfBackend`) and records it on the trial
 *      (`tfjs_backend` user attribute);
 *   2. runs `buildAndTrain({trial, tf, backend})` under the tensor-leak guard, so models, optimizer
 *      state and leftover tensors are released whatever the outcome (COMPLETE, PRUNED or FAIL), and
 *      records the number of leftover tensors it had to dispose (`tfjs_leaked_tensors`) when > 0;
 *   3. throws `TrialPrunedError` when a pruning callback of the trial stopped a fit, even if
 *      `buildAndTrain` returned normally after it;
 *   4. throws `InvalidTrialValueError` when `buildAndTrain` returned a tensor (or an array holding
 *      one) instead of numbers: the guard disposes it, so the study could not read it.
 */
import { InvalidOptionError, InvalidTrialValueError } from '../errors.js';
import { checkOptionsObject, optionKeys } from '../util/options.js';
import type { Objective } from '../study/optimize.js';
import type { Trial } from '../trial/trial.js';
import {
  checkSelectTfBackendOptions,
  isTfModule,
  recordTfBackend,
  selectTfBackend,
  type SelectTfBackendOptions,
  type Tf,
  type TfBackendSelection,
} from './backend.js';
import { throwIfAnyPruned } from './pruning-callback.js';
import { withTensorGuard, type TensorGuardReport } from './tensor-guard.js';

/** What `buildAndTrain` receives. */
export interface TfTrialContext {
  readonly trial: Trial;
  /** The tfjs module of the selected backend: build models with it. */
  readonly tf: Tf;
  /** Kestrel's name of the backend (also the trial's `tfjs_backend` attribute). */
  readonly backend: string;
}

/**
 * The function `tfObjective` wraps: builds and trains a model for the trial and returns its value(s)
 * as numbers (a tensor is an `InvalidTrialValueError`: it is disposed with the trial's others).
 */
export type BuildAndTrain = (context: TfTrialContext) => Promise<number | readonly number[]> | number | readonly number[];

/** Options of `tfObjective`. */
export interface TfObjectiveOptions {
  /** Backend selection (default: the fastest available; see `selectTfBackend`). */
  readonly backend?: SelectTfBackendOptions;
  /** Use this tfjs module as is, without selecting a backend. */
  readonly tf?: Tf;
  /** Warn when a trial leaves tensors behind (default true). */
  readonly warnOnLeak?: boolean;
  /** Called after each trial's cleanup with the guard's report (tests, diagnostics). */
  readonly onTensorReport?: (trial: Trial, report: TensorGuardReport) => void;
}

/** The user attribute holding how many leftover tensors the guard disposed after a trial. */
export const TFJS_LEAKED_TENSORS_ATTR = 'tfjs_leaked_tensors';

const TF_OBJECTIVE_KEYS = optionKeys<TfObjectiveOptions>()(['backend', 'tf', 'warnOnLeak', 'onTensorReport']);

/** Wraps a TensorFlow.js training function as a study objective (see the file comment). */
export function tfObjective(buildAndTrain: BuildAndTrain, options: TfObjectiveOptions = {}): Objective {
  if (typeof buildAndTrain !== 'function') throw new InvalidOptionError('buildAndTrain', 'a function ({trial, tf}) => value', buildAndTrain);
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object', options);
  checkOptionsObject(options, TF_OBJECTIVE_KEYS, 'tfObjective');
  // Checked here, once: a bad option found at the first trial would fail every trial instead.
  if (options.backend !== undefined) checkSelectTfBackendOptions(options.backend, 'backend');
  if (options.tf !== undefined && !isTfModule(options.tf)) {
    throw new InvalidOptionError('tf', 'a TensorFlow.js module (import * as tf from "@tensorflow/tfjs")', options.tf);
  }
  if (options.warnOnLeak !== undefined && typeof options.warnOnLeak !== 'boolean') {
    throw new InvalidOptionError('warnOnLeak', 'a boolean', options.warnOnLeak);
  }
  if (options.onTensorReport !== undefined && typeof options.onTensorReport !== 'function') {
    throw new InvalidOptionError('onTensorReport', 'a function (trial, report) => void', options.onTensorReport);
  }
  let selection: Promise<TfBackendSelection> | null = null;

  return async (trial: Trial) => {
    let tf: Tf;
    let backend: string;
    if (options.tf !== undefined) {
      tf = options.tf;
      // Until a first op or tf.ready(), tfjs has no active backend (getBackend() is null): the
      // trial would record 'unknown' and then run on whatever tfjs initializes.
      await tf.ready();
      recordTfBackend(trial, tf);
      backend = String(trial.userAttrs.tfjs_backend);
    } else {
      selection ??= selectTfBackend(options.backend ?? {});
      let selected: TfBackendSelection;
      try {
        selected = await selection;
      } catch (error) {
        selection = null;
        throw error;
      }
      tf = selected.tf;
      backend = selected.name;
      recordTfBackend(trial, tf);
    }
    return withTensorGuard(
      async () => {
        const value = await buildAndTrain({ trial, tf, backend });
        throwIfAnyPruned(trial);
        checkNoTensor(value);
        return value;
      },
      {
        tf,
        warnOnLeak: options.warnOnLeak,
        onReport: (report) => {
          if (report.nLeftoverTensors > 0) trial.setUserAttr(TFJS_LEAKED_TENSORS_ATTR, report.nLeftoverTensors);
          options.onTensorReport?.(trial, report);
        },
      },
    );
  };
}

/**
 * Throws `InvalidTrialValueError` for a tensor, or an array holding one, returned as the trial's
 * value: the guard disposes every tensor of the trial, and reading a disposed tensor's value throws
 * tfjs's own error from inside the study.
 */
function checkNoTensor(value: unknown): void {
  const list: readonly unknown[] = Array.isArray(value) ? value : [value];
  list.forEach((entry, i) => {
    if (entry === null || typeof entry !== 'object' || typeof (entry as { dataSync?: unknown }).dataSync !== 'function') return;
    const where = Array.isArray(value) ? `value ${i}` : 'the value';
    throw new InvalidTrialValueError(
      `buildAndTrain returned a tensor as ${where}; return numbers (t.dataSync()[0], or (await t.data())[0]): the trial's tensors are disposed when it ends`,
    );
  });
}
