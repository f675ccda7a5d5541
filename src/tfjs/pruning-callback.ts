/**
 * A `model.fit` callback that reports a monitored metric to the trial every epoch and stops the fit
 * when the study's pruner says so (Optuna's `TFKerasPruningCallback`, for TensorFlow.js).
 *
 * Steps are epochs completed: the value after the first epoch is reported at step 1 (tfjs's epoch
 * index + 1), so a pruner's resource (ASHA's `minResource`, `nWarmupSteps`) counts epochs trained.
 *
 * tfjs cannot fail a fit from a callback without losing the fit's cleanup, so pruning is two-step:
 * the callback sets `model.stopTraining = true`, and after `fit` returns, `throwIfPruned()` throws
 * `TrialPrunedError`. `fitWithPruning` does both; `tfObjective` also checks every pruning callback of
 * its trial after the objective returns, so a pruned fit can never be recorded as COMPLETE.
 *
 * An interruption (the trial's `signal` aborted: Ctrl-C, `optimize`'s or `runTrialsInProcesses`'
 * `signal`) stops the fit the same way, at the next batch, and `throwIfPruned()` then throws
 * `InterruptedError`: the fit was cut short, and an objective that returned its loss would have a
 * trial process record that truncated fit as COMPLETE. Nothing is reported after an interruption.
 */
import type * as tfjs from '@tensorflow/tfjs';
import { InterruptedError, InvalidOptionError, TrialPrunedError } from '../errors.js';
import { checkOptionsObject, optionKeys } from '../util/options.js';
import type { Trial } from '../trial/trial.js';
import { recordTfBackend, tfOption, type Tf } from './backend.js';

/** Options of `pruningCallback`. */
export interface PruningCallbackOptions {
  /**
   * The `fit` log to report (default 'val_loss'; 'val_accuracy' and 'val_acc' are aliases). A
   * `val_*` name on a fit without validation data throws `InvalidOptionError` as the fit starts;
   * another name the logs lack, at the first report.
   */
  readonly monitor?: string;
  /** Report (and ask the pruner) every `interval` epochs (default 1). */
  readonly interval?: number;
  /** The tfjs module the model was built with (default: the selected backend's). */
  readonly tf?: Tf;
}

/** What the callback exposes besides the tfjs callback methods. */
export interface PruningState {
  /** The trial it reports to. */
  readonly trial: Trial;
  readonly monitor: string;
  /** True once the pruner asked to stop. */
  readonly pruned: boolean;
  /** The step (epochs completed) at which the pruner asked to stop, or null. */
  readonly prunedAtStep: number | null;
  /**
   * Throws `TrialPrunedError` when the pruner asked to stop, `InterruptedError` when the trial's
   * signal stopped the fit.
   */
  throwIfPruned(): void;
}

/**
 * What `pruningCallback(trial)` returns: a tfjs callback for `model.fit` that reports the monitored
 * metric each epoch and stops the fit when the trial is pruned; call `throwIfPruned()` after `fit`.
 */
export type PruningCallback = tfjs.Callback & PruningState;

/** A tfjs callback object (tfjs's `BaseCallback`, which its index does not export as a type). */
export type CallbackObject = tfjs.Callback | tfjs.CustomCallback;

/** Options of `fitWithPruning`: `model.fit` with a pruning callback, throwing `TrialPrunedError` when pruned. */
export interface FitWithPruningOptions {
  readonly model: tfjs.LayersModel;
  /** As `model.fit` takes it: a tensor, an array in input order, or an object by input name. */
  readonly x: tfjs.Tensor | tfjs.Tensor[] | { [inputName: string]: tfjs.Tensor };
  readonly y: tfjs.Tensor | tfjs.Tensor[] | { [outputName: string]: tfjs.Tensor };
  readonly trial: Trial;
  /** Passed to `model.fit`; the pruning callback is appended to `fitArgs.callbacks`. */
  readonly fitArgs?: tfjs.ModelFitArgs;
  readonly monitor?: string;
  readonly interval?: number;
  readonly tf?: Tf;
}

const callbacksByTrial = new WeakMap<Trial, PruningState[]>();
const CALLBACK_KEYS = optionKeys<PruningCallbackOptions>()(['monitor', 'interval', 'tf']);
const FIT_KEYS = optionKeys<FitWithPruningOptions>()(['model', 'x', 'y', 'trial', 'fitArgs', 'monitor', 'interval', 'tf']);

const classByTf = new WeakMap<Tf, new (trial: Trial, monitor: string, interval: number) => PruningCallback>();

/**
 * A pruning callback for `model.fit(x, y, {callbacks: [pruningCallback(trial)]})`. When the pruner
 * says so it only stops the fit, which then returns normally: call `callback.throwIfPruned()` after
 * `fit` (or use `fitWithPruning`, which does), or an objective that returns the truncated fit's loss
 * is recorded COMPLETE, not PRUNED. Only inside `tfObjective` is this checked for you (after the
 * objective returns). An option name it does not know throws `InvalidOptionError`.
 */
export function pruningCallback(trial: Trial, options: PruningCallbackOptions = {}): PruningCallback {
  if (trial === null || typeof trial !== 'object' || typeof trial.report !== 'function') {
    throw new InvalidOptionError('trial', 'a live Trial', trial);
  }
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object', options);
  checkOptionsObject(options, CALLBACK_KEYS, 'pruningCallback');
  const monitor = options.monitor ?? 'val_loss';
  if (typeof monitor !== 'string' || monitor.length === 0) throw new InvalidOptionError('monitor', 'a non-empty string', monitor);
  const interval = options.interval ?? 1;
  if (!Number.isInteger(interval) || interval < 1) throw new InvalidOptionError('interval', 'an integer >= 1', interval);
  const tf = tfOption(options.tf);
  const Ctor = callbackClass(tf);
  const callback = new Ctor(trial, monitor, interval);
  const list = callbacksByTrial.get(trial) ?? [];
  list.push(callback);
  callbacksByTrial.set(trial, list);
  recordTfBackend(trial, tf);
  return callback;
}

/**
 * `model.fit` with a pruning callback; rejects with `TrialPrunedError` when the trial was pruned.
 * `model.fit`'s own arguments go in `fitArgs`: an option name it does not know (`epochs` given
 * beside `fitArgs`, which tfjs would never see, training one epoch) throws `InvalidOptionError`, as
 * do `x` and `y` that are not tensors with one number of examples, and an `x` whose examples do
 * not have the model's input shape (see `checkFitData`).
 */
export async function fitWithPruning(options: FitWithPruningOptions): Promise<tfjs.History> {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object', options);
  // `epochs`, `batchSize`, `validationData`... beside fitArgs would be dropped, and tfjs train 1 epoch.
  checkOptionsObject(options, FIT_KEYS, 'fitWithPruning');
  const { model, x, y, trial } = options;
  if (model === null || typeof model !== 'object' || typeof model.fit !== 'function') {
    throw new InvalidOptionError('model', 'a compiled tf.LayersModel', model);
  }
  const tf = tfOption(options.tf);
  checkFitData(model, x, y);
  const callback = pruningCallback(trial, { monitor: options.monitor, interval: options.interval, tf: options.tf });
  const fitArgs = options.fitArgs ?? {};
  // Callback objects first: tfjs treats the whole list as plain configs when the first one is one.
  const callbacks = [callback, ...normalizeCallbacks(tf, fitArgs.callbacks)];
  const history = await model.fit(x, y, { ...fitArgs, callbacks });
  callback.throwIfPruned();
  return history;
}

/** One tensor of `x` or `y`, with the option name an error about it gives. */
interface NamedShape {
  readonly at: string;
  readonly shape: readonly number[];
}

/**
 * The tensors of `x` or `y` as `model.fit` takes them: one tensor, a non-empty array, or an object
 * of tensors by input/output name. Anything else is an `InvalidOptionError` naming the entry.
 */
function tensorShapes(value: unknown, name: 'x' | 'y'): NamedShape[] {
  const isTensor = (t: unknown): t is { shape: number[] } =>
    t !== null && typeof t === 'object' && Array.isArray((t as { shape?: unknown }).shape) && typeof (t as { dispose?: unknown }).dispose === 'function';
  let entries: [string, unknown][];
  if (isTensor(value)) entries = [[name, value]];
  else if (Array.isArray(value)) entries = value.map((t, i) => [`${name}[${i}]`, t]);
  else if (value !== null && typeof value === 'object') entries = Object.entries(value).map(([key, t]) => [`${name}.${key}`, t]);
  else entries = [];
  if (entries.length === 0) throw new InvalidOptionError(name, 'a tensor, a non-empty array of tensors or an object of tensors by name', value);
  return entries.map(([at, t]) => {
    if (!isTensor(t)) throw new InvalidOptionError(at, 'a tensor (see toTensors)', t);
    if (t.shape.length === 0) throw new InvalidOptionError(at, 'a tensor of rank >= 1 (examples first)', 'a scalar');
    return { at, shape: t.shape };
  });
}

/**
 * What `model.fit` would refuse with its own `ValueError` from inside the fit, as an
 * `InvalidOptionError` naming the option, before training: `x` and `y` tensors of different
 * numbers of examples, and (`x` given as a tensor or an array, in input order) an `x` that does
 * not match the model's inputs in count or example shape. `y` is not matched against the
 * outputs: a sparse loss takes labels of another shape than the output.
 */
function checkFitData(model: tfjs.LayersModel, x: unknown, y: unknown): void {
  const xs = tensorShapes(x, 'x');
  const ys = tensorShapes(y, 'y');
  const n = xs[0].shape[0];
  for (const { at, shape } of [...xs, ...ys]) {
    if (shape[0] !== n) throw new InvalidOptionError(at, `a tensor of ${n} examples, as ${xs[0].at}`, `${shape[0]} examples`);
  }
  const inputs = (model as { inputs?: readonly { shape: readonly (number | null)[] }[] }).inputs;
  if (!Array.isArray(inputs) || xs[0].at.startsWith('x.')) return;
  if (xs.length !== inputs.length) {
    throw new InvalidOptionError('x', `${inputs.length} tensor(s), one per model input`, `${xs.length} tensors`);
  }
  xs.forEach(({ at, shape }, i) => {
    const expected: readonly (number | null)[] = inputs[i].shape.slice(1);
    const actual: readonly number[] = shape.slice(1);
    if (expected.length !== actual.length || expected.some((d, j) => d !== null && d !== actual[j])) {
      const show = (dims: readonly (number | null)[]): string => `[${dims.map((d) => d ?? 'any').join(',')}]`;
      throw new InvalidOptionError(at, `examples of shape ${show(expected)} (the model's input)`, `examples of shape ${show(actual)}`);
    }
  });
}

/** Throws `TrialPrunedError` when any pruning callback of `trial` stopped its fit. Internal. */
export function throwIfAnyPruned(trial: Trial): void {
  for (const callback of callbacksByTrial.get(trial) ?? []) callback.throwIfPruned();
}

/**
 * `fitArgs.callbacks` (one, a list, callback objects or plain `{onEpochEnd...}` configs) as a list of
 * callback objects, so that more can be added: tfjs reads a list as configs unless its first element
 * is a callback object.
 */
export function normalizeCallbacks(tf: Tf, callbacks: tfjs.ModelFitArgs['callbacks']): CallbackObject[] {
  if (callbacks === undefined || callbacks === null) return [];
  const list: readonly unknown[] = Array.isArray(callbacks) ? callbacks : [callbacks];
  return list.map((entry) =>
    isCallbackObject(entry) ? entry : new tf.CustomCallback(entry as tfjs.CustomCallbackArgs),
  );
}

function isCallbackObject(value: unknown): value is CallbackObject {
  return value !== null && typeof value === 'object' && typeof (value as { setParams?: unknown }).setParams === 'function';
}

function callbackClass(tf: Tf): new (trial: Trial, monitor: string, interval: number) => PruningCallback {
  const cached = classByTf.get(tf);
  if (cached !== undefined) return cached;

  // A subclass of this tfjs's own `Callback`, so that `fit` sees a callback object and sets `model`.
  class KestrelPruningCallback extends tf.Callback implements PruningState {
    readonly trial: Trial;
    readonly monitor: string;
    private readonly interval: number;
    private prunedStep: number | null = null;
    /** Whether the trial's signal stopped the fit. */
    private interrupted = false;

    constructor(trial: Trial, monitor: string, interval: number) {
      super();
      this.trial = trial;
      this.monitor = monitor;
      this.interval = interval;
    }

    get pruned(): boolean {
      return this.prunedStep !== null;
    }

    get prunedAtStep(): number | null {
      return this.prunedStep;
    }

    throwIfPruned(): void {
      if (this.prunedStep !== null) throw new TrialPrunedError(`trial was pruned at step ${this.prunedStep}`);
      if (this.interrupted) throw new InterruptedError('trial was interrupted during its fit');
    }

    /**
     * A `val_*` monitor (the default) on a fit without validation data fails now, before the first
     * batch, rather than after a whole epoch trained for nothing. Other names are checked at the
     * first report: another callback may add its own keys to the logs.
     */
    override async onTrainBegin(): Promise<void> {
      const params = this.params as { doValidation?: unknown; metrics?: unknown } | undefined;
      if (!this.monitor.startsWith('val_') || params?.doValidation !== false) return;
      const logged = Array.isArray(params.metrics) ? params.metrics.filter((name): name is string => typeof name === 'string') : [];
      throw missingMonitor(this.monitor, logged);
    }

    override async onBatchEnd(): Promise<void> {
      this.stopIfAborted();
    }

    override async onEpochEnd(epoch: number, logs?: tfjs.Logs): Promise<void> {
      // Stopped mid-epoch, the epoch has no validation logs; and the trial takes no more reports.
      if (this.stopIfAborted()) return;
      const step = epoch + 1;
      if (step % this.interval !== 0 || this.prunedStep !== null) return;
      const value = await readMetric(logs ?? {}, this.monitor);
      await this.trial.report(step, value);
      if (await this.trial.shouldPrune()) {
        this.prunedStep = step;
        this.model.stopTraining = true;
      }
    }

    private stopIfAborted(): boolean {
      if (!this.trial.signal.aborted) return false;
      this.interrupted = true;
      this.model.stopTraining = true;
      return true;
    }
  }

  const ctor = KestrelPruningCallback as unknown as new (trial: Trial, monitor: string, interval: number) => PruningCallback;
  classByTf.set(tf, ctor);
  return ctor;
}

const ALIASES: Readonly<Record<string, string>> = {
  val_accuracy: 'val_acc',
  val_acc: 'val_accuracy',
  accuracy: 'acc',
  acc: 'accuracy',
};

/** The error for a monitor that is not among the names the fit logs. */
function missingMonitor(monitor: string, keys: readonly string[]): InvalidOptionError {
  return new InvalidOptionError(
    'monitor',
    `a key of the fit logs (${keys.length === 0 ? 'none logged' : keys.join(', ')}; val_* needs validationData or validationSplit)`,
    monitor,
  );
}

/** The monitored value; a `Callback` (unlike a `CustomCallback`) may receive it as a scalar tensor. */
async function readMetric(logs: tfjs.Logs, monitor: string): Promise<number> {
  const alias = ALIASES[monitor];
  let raw: unknown = logs[monitor] ?? (alias === undefined ? undefined : logs[alias]);
  if (raw === undefined) throw missingMonitor(monitor, Object.keys(logs));
  if (raw !== null && typeof raw === 'object' && typeof (raw as { data?: unknown }).data === 'function') {
    const data = await (raw as { data(): Promise<ArrayLike<number>> }).data();
    raw = data.length === 1 ? data[0] : undefined;
  }
  if (typeof raw !== 'number') {
    throw new InvalidOptionError('monitor', 'a scalar metric', `a non-scalar value under "${monitor}"`);
  }
  return raw;
}
