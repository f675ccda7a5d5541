/**
 * A model builder for the architectures and training settings users most often tune: dense and
 * convolutional stacks (layers, units or filters per layer, activation, dropout, batch norm), the
 * optimizer (SGD with momentum, Adam, RMSProp), learning rate and its schedule, batch size, epochs
 * and weight decay (an L2 kernel regularizer).
 *
 * `suggestModelParams(trial)` draws these from a trial with default ranges that any `ranges` entry
 * overrides (a range, a list of choices, or a fixed value that is then not suggested);
 * `buildModel(paramsOrTrial, {inputShape, nClasses})` returns a compiled classifier and the fit
 * arguments (batch size, epochs and the learning-rate schedule callback). Users with their own
 * architecture write their own `buildModel(trial)` and keep the rest (pruning, leak guard).
 *
 * Learning-rate schedules, per epoch e = 0, 1, ... (Keras's `StepDecay` / `ExponentialDecay` with
 * staircase on epochs):
 *   constant:     lr_e = lr_0
 *   step:         lr_e = lr_0 * gamma^floor(e / lrDecayEpochs)
 *   exponential:  lr_e = lr_0 * gamma^e
 * with gamma = `lrDecayRate`; applied at the start of each epoch by setting the optimizer's
 * learning rate.
 */
import type * as tfjs from '@tensorflow/tfjs';
import { InvalidOptionError } from '../errors.js';
import { floatDistribution, intDistribution } from '../space/distributions.js';
import { checkOptionsObject, optionKeys } from '../util/options.js';
import type { Trial } from '../trial/trial.js';
import { tfOption, type Tf } from './backend.js';

/** A stack of dense layers, or of convolutional blocks. */
export type ModelKind = 'dense' | 'conv';
/** A hidden layer's activation. */
export type Activation = 'relu' | 'elu' | 'selu' | 'tanh' | 'sigmoid' | 'swish';
/** The training optimizer. */
export type OptimizerName = 'sgd' | 'adam' | 'rmsprop';
/** How the learning rate changes over epochs. */
export type LrSchedule = 'constant' | 'step' | 'exponential';

/** Every `Activation`: the values `ranges.activation` may offer and `buildModel` accepts. */
export const ACTIVATIONS: readonly Activation[] = ['relu', 'elu', 'selu', 'tanh', 'sigmoid', 'swish'];
/** Every `OptimizerName`: the values `ranges.optimizer` may offer and `buildModel` accepts. */
export const OPTIMIZERS: readonly OptimizerName[] = ['sgd', 'adam', 'rmsprop'];
/** Every `LrSchedule`: the values `ranges.lrSchedule` may offer and `buildModel` accepts. */
export const LR_SCHEDULES: readonly LrSchedule[] = ['constant', 'step', 'exponential'];

/** Hyperparameters of a model and its training. */
export interface ModelParams {
  /** Hidden layers (dense) or convolutional blocks (conv). */
  readonly nLayers: number;
  /** Units (dense) or filters (conv) of each layer; length `nLayers`. */
  readonly units: readonly number[];
  readonly activation: Activation;
  /** Dropout rate after each layer, in [0, 1). 0 = none. */
  readonly dropout: number;
  readonly batchNorm: boolean;
  readonly optimizer: OptimizerName;
  readonly learningRate: number;
  /** SGD momentum in [0, 1) (ignored by Adam and RMSProp). */
  readonly momentum: number;
  readonly lrSchedule: LrSchedule;
  /** gamma of the step and exponential schedules, in (0, 1]. */
  readonly lrDecayRate: number;
  /** Epochs between two decays of the step schedule. */
  readonly lrDecayEpochs: number;
  readonly batchSize: number;
  readonly epochs: number;
  /** L2 coefficient on kernels; 0 = none. */
  readonly weightDecay: number;
}

/** The range of a real hyperparameter in `ModelParamRanges` (as `suggestFloat` takes it). */
export interface FloatRange {
  readonly low: number;
  readonly high: number;
  readonly log?: boolean;
}

/** The range of an integer hyperparameter in `ModelParamRanges` (as `suggestInt` takes it). */
export interface IntRange {
  readonly low: number;
  readonly high: number;
  readonly log?: boolean;
  readonly step?: number;
}

/** Per hyperparameter: a range or choices to suggest from, or a fixed value (not suggested). */
export interface ModelParamRanges {
  readonly nLayers?: IntRange | number;
  /** Units of each dense layer (one range for all; each layer is suggested separately). */
  readonly units?: IntRange | number;
  /** Filters of each conv block. */
  readonly filters?: IntRange | number;
  readonly activation?: readonly Activation[] | Activation;
  readonly dropout?: FloatRange | number;
  readonly batchNorm?: readonly boolean[] | boolean;
  readonly optimizer?: readonly OptimizerName[] | OptimizerName;
  readonly learningRate?: FloatRange | number;
  readonly momentum?: FloatRange | number;
  readonly lrSchedule?: readonly LrSchedule[] | LrSchedule;
  readonly lrDecayRate?: FloatRange | number;
  readonly lrDecayEpochs?: IntRange | number;
  readonly batchSize?: readonly number[] | number;
  readonly epochs?: IntRange | number;
  readonly weightDecay?: FloatRange | number;
}

/** The ranges `suggestModelParams` uses for whatever `ranges` does not set. */
export const DEFAULT_MODEL_PARAM_RANGES: Required<ModelParamRanges> = {
  nLayers: { low: 1, high: 3 },
  units: { low: 16, high: 256, log: true },
  filters: { low: 8, high: 64, log: true },
  activation: ['relu', 'elu', 'tanh'],
  dropout: { low: 0, high: 0.5 },
  batchNorm: [false, true],
  optimizer: ['adam', 'sgd', 'rmsprop'],
  learningRate: { low: 1e-4, high: 1e-1, log: true },
  momentum: { low: 0, high: 0.99 },
  lrSchedule: ['constant', 'step', 'exponential'],
  lrDecayRate: { low: 0.5, high: 0.99 },
  lrDecayEpochs: { low: 1, high: 10 },
  batchSize: [32, 64, 128],
  epochs: 10,
  weightDecay: { low: 1e-6, high: 1e-2, log: true },
};

/** Options of `suggestModelParams`. */
export interface SuggestModelParamsOptions {
  /** 'dense' (default) suggests `units<i>`, 'conv' suggests `filters<i>`. */
  readonly kind?: ModelKind;
  readonly ranges?: ModelParamRanges;
}

/** Options of `buildModel`. */
export interface BuildModelOptions {
  /** Shape of one example, e.g. [784] or [28, 28, 1]. */
  readonly inputShape: readonly number[];
  /** Number of classes (>= 2): softmax output, categorical cross-entropy on one-hot labels. */
  readonly nClasses: number;
  /** Default 'dense'. A conv model on a flat input of n = s*s values reshapes it to [s, s, 1]. */
  readonly kind?: ModelKind;
  /** When building from a trial: ranges for `suggestModelParams`. */
  readonly ranges?: ModelParamRanges;
  /** Conv kernel size (default 3). */
  readonly kernelSize?: number;
  /**
   * Seed of the weight initializers (default: unseeded). Dropout masks stay unseeded: tfjs re-seeds
   * a seeded dropout on every call, which would drop the same units at every step of the training.
   */
  readonly seed?: number;
  readonly tf?: Tf;
}

/** What `buildModel` returns: the compiled model, its parameters, the `fit` arguments they imply, and `dispose`. */
export interface BuiltModel {
  /** The compiled model (metrics: accuracy, logged as `acc` / `val_acc`). */
  readonly model: tfjs.Sequential;
  readonly params: ModelParams;
  /** batchSize, epochs, and the learning-rate schedule callback (when not constant). */
  readonly fitArgs: {
    readonly batchSize: number;
    readonly epochs: number;
    readonly callbacks: tfjs.Callback[];
  };
  /** Disposes the model and its optimizer (which `model.dispose()` alone keeps). */
  dispose(): void;
}

const SUGGEST_MODEL_PARAMS_KEYS = optionKeys<SuggestModelParamsOptions>()(['kind', 'ranges']);
const RANGE_KEYS = optionKeys<ModelParamRanges>()([
  'nLayers', 'units', 'filters', 'activation', 'dropout', 'batchNorm', 'optimizer', 'learningRate', 'momentum', 'lrSchedule',
  'lrDecayRate', 'lrDecayEpochs', 'batchSize', 'epochs', 'weightDecay',
]);
const INT_RANGE_KEYS = optionKeys<IntRange>()(['low', 'high', 'log', 'step']);
const FLOAT_RANGE_KEYS = optionKeys<FloatRange>()(['low', 'high', 'log']);

/**
 * Suggests model hyperparameters from `trial` (names: nLayers, units0..., learningRate, ...). A
 * `ranges` key it does not know throws `InvalidOptionError`.
 */
export function suggestModelParams(trial: Trial, options: SuggestModelParamsOptions = {}): ModelParams {
  if (trial === null || typeof trial !== 'object' || typeof trial.suggestFloat !== 'function') {
    throw new InvalidOptionError('trial', 'a live Trial', trial);
  }
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object', options);
  checkOptionsObject(options, SUGGEST_MODEL_PARAMS_KEYS, 'suggestModelParams');
  const kind = checkKind(options.kind ?? 'dense');
  // A misspelt name (`lr`, Optuna's `learning_rate`) would otherwise tune the default range instead.
  checkOptionsObject(options.ranges, RANGE_KEYS, 'ranges');
  const ranges: Required<ModelParamRanges> = { ...DEFAULT_MODEL_PARAM_RANGES, ...(options.ranges ?? {}) };
  // Every choice and both bounds of every range, now: a bad one would fail only the trials drawing it.
  for (const key of RANGE_KEYS) checkRangeDomain(key, ranges[key]);

  const nLayers = suggestInt(trial, 'nLayers', ranges.nLayers);
  const units: number[] = [];
  const width = kind === 'conv' ? ranges.filters : ranges.units;
  const prefix = kind === 'conv' ? 'filters' : 'units';
  for (let i = 0; i < nLayers; i++) units.push(suggestInt(trial, `${prefix}${i}`, width));
  const activation = suggestChoice(trial, 'activation', ranges.activation);
  const dropout = suggestFloat(trial, 'dropout', ranges.dropout);
  const batchNorm = suggestChoice(trial, 'batchNorm', ranges.batchNorm);
  const optimizer = suggestChoice(trial, 'optimizer', ranges.optimizer);
  const learningRate = suggestFloat(trial, 'learningRate', ranges.learningRate);
  const momentum = optimizer === 'sgd' ? suggestFloat(trial, 'momentum', ranges.momentum) : 0;
  const lrSchedule = suggestChoice(trial, 'lrSchedule', ranges.lrSchedule);
  const lrDecayRate = lrSchedule === 'constant' ? 1 : suggestFloat(trial, 'lrDecayRate', ranges.lrDecayRate);
  const lrDecayEpochs = lrSchedule === 'step' ? suggestInt(trial, 'lrDecayEpochs', ranges.lrDecayEpochs) : 1;
  const batchSize = suggestChoice(trial, 'batchSize', ranges.batchSize);
  const epochs = suggestInt(trial, 'epochs', ranges.epochs);
  const weightDecay = suggestFloat(trial, 'weightDecay', ranges.weightDecay);
  return validateModelParams({
    nLayers, units, activation, dropout, batchNorm, optimizer, learningRate, momentum,
    lrSchedule, lrDecayRate, lrDecayEpochs, batchSize, epochs, weightDecay,
  }, 'params');
}

const BUILD_MODEL_KEYS = optionKeys<BuildModelOptions>()(['inputShape', 'nClasses', 'kind', 'ranges', 'kernelSize', 'seed', 'tf']);

/** Builds and compiles a classifier from parameters, or from a trial via `suggestModelParams`. */
export function buildModel(source: ModelParams | Trial, options: BuildModelOptions): BuiltModel {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object', options);
  checkOptionsObject(options, BUILD_MODEL_KEYS, 'buildModel');
  const kind = checkKind(options.kind ?? 'dense');
  const inputShape = checkShape(options.inputShape);
  const nClasses = options.nClasses;
  if (!Number.isInteger(nClasses) || nClasses < 2) throw new InvalidOptionError('nClasses', 'an integer >= 2', nClasses);
  const kernelSize = options.kernelSize ?? 3;
  if (!Number.isInteger(kernelSize) || kernelSize < 1) throw new InvalidOptionError('kernelSize', 'an integer >= 1', kernelSize);
  const seed = options.seed;
  if (seed !== undefined && !Number.isSafeInteger(seed)) throw new InvalidOptionError('seed', 'a safe integer', seed);
  const tf = tfOption(options.tf);

  const params = isTrial(source)
    ? suggestModelParams(source, { kind, ranges: options.ranges })
    : validateModelParams(source, 'params');

  let layerSeed = seed ?? 0;
  const nextSeed = (): number | undefined => (seed === undefined ? undefined : layerSeed++);
  const regularizer = params.weightDecay > 0 ? (): ReturnType<Tf['regularizers']['l2']> => tf.regularizers.l2({ l2: params.weightDecay }) : () => undefined;
  const initializer = (): ReturnType<Tf['initializers']['glorotUniform']> => tf.initializers.glorotUniform({ seed: nextSeed() });

  const model = tf.sequential();
  if (kind === 'dense') {
    // tfjs's Flatten needs rank >= 2 examples; flat ones go straight into the first Dense.
    const flat = inputShape.length === 1;
    if (!flat) model.add(tf.layers.flatten({ inputShape: [...inputShape] }));
    for (let i = 0; i < params.nLayers; i++) {
      model.add(tf.layers.dense({
        ...(flat && i === 0 ? { inputShape: [...inputShape] } : {}),
        units: params.units[i],
        activation: params.activation,
        kernelInitializer: initializer(),
        kernelRegularizer: regularizer(),
      }));
      if (params.batchNorm) model.add(tf.layers.batchNormalization());
      if (params.dropout > 0) model.add(tf.layers.dropout({ rate: params.dropout }));
    }
  } else {
    let shape = imageShape(inputShape);
    model.add(tf.layers.reshape({ inputShape: [...inputShape], targetShape: shape }));
    for (let i = 0; i < params.nLayers; i++) {
      model.add(tf.layers.conv2d({
        filters: params.units[i],
        kernelSize,
        padding: 'same',
        activation: params.activation,
        kernelInitializer: initializer(),
        kernelRegularizer: regularizer(),
      }));
      if (params.batchNorm) model.add(tf.layers.batchNormalization());
      // Halve the resolution while it stays >= 2 x 2.
      if (shape[0] >= 4 && shape[1] >= 4) {
        model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
        shape = [Math.floor(shape[0] / 2), Math.floor(shape[1] / 2), shape[2]];
      }
      if (params.dropout > 0) model.add(tf.layers.dropout({ rate: params.dropout }));
    }
    model.add(tf.layers.flatten());
  }
  model.add(tf.layers.dense({
    units: nClasses,
    activation: 'softmax',
    kernelInitializer: initializer(),
    kernelRegularizer: regularizer(),
  }));
  const optimizer = makeOptimizer(tf, params);
  model.compile({
    optimizer,
    loss: 'categoricalCrossentropy',
    metrics: ['accuracy'],
  });

  const callbacks: tfjs.Callback[] = [];
  if (params.lrSchedule !== 'constant') callbacks.push(learningRateScheduler(tf, params));
  let disposed = false;
  const dispose = (): void => {
    if (disposed) return;
    disposed = true;
    model.dispose();
    optimizer.dispose();
    // tfjs 4.x MomentumOptimizer.dispose() does not release the kept -lr scalar its SGD base holds.
    const c = (optimizer as unknown as { c?: { isDisposed: boolean; dispose(): void } }).c;
    if (c !== undefined && !c.isDisposed) c.dispose();
  };
  return { model, params, fitArgs: { batchSize: params.batchSize, epochs: params.epochs, callbacks }, dispose };
}

/** The learning rate of epoch `epoch` (0-based) under the schedule of `params` (see the file comment). */
export function scheduledLearningRate(params: Pick<ModelParams, 'learningRate' | 'lrSchedule' | 'lrDecayRate' | 'lrDecayEpochs'>, epoch: number): number {
  checkSchedule(params);
  if (!Number.isInteger(epoch) || epoch < 0) throw new InvalidOptionError('epoch', 'an integer >= 0', epoch);
  switch (params.lrSchedule) {
    case 'constant':
      return params.learningRate;
    case 'step':
      return params.learningRate * params.lrDecayRate ** Math.floor(epoch / params.lrDecayEpochs);
    case 'exponential':
      return params.learningRate * params.lrDecayRate ** epoch;
  }
}

/** A callback that sets the optimizer's learning rate at the start of each epoch. */
export function learningRateScheduler(tf: Tf, params: Pick<ModelParams, 'learningRate' | 'lrSchedule' | 'lrDecayRate' | 'lrDecayEpochs'>): tfjs.Callback {
  // Here, not at the first epoch: a bad schedule fails before the fit starts.
  checkSchedule(params);
  class LearningRateScheduler extends tf.Callback {
    override async onEpochBegin(epoch: number): Promise<void> {
      setLearningRate(this.model.optimizer, scheduledLearningRate(params, epoch));
    }
  }
  return new LearningRateScheduler();
}

/**
 * Checks the schedule fields as `validateModelParams` does (errors name `params.<field>`): outside
 * their domains the formulas give NaN (lrDecayEpochs 0) or undefined (an unknown schedule), and the
 * optimizer would train with that rate.
 */
function checkSchedule(params: Pick<ModelParams, 'learningRate' | 'lrSchedule' | 'lrDecayRate' | 'lrDecayEpochs'>): void {
  if (params === null || typeof params !== 'object') throw new InvalidOptionError('params', 'an object with learningRate, lrSchedule, lrDecayRate, lrDecayEpochs', params);
  for (const key of ['learningRate', 'lrSchedule', 'lrDecayRate', 'lrDecayEpochs'] as const) {
    if (!DOMAINS[key].ok(params[key])) throw new InvalidOptionError(`params.${key}`, DOMAINS[key].expected, params[key]);
  }
}

/** The current learning rate of a tfjs optimizer (tfjs keeps it in a protected field). */
export function getLearningRate(optimizer: tfjs.Optimizer): number {
  return (optimizer as unknown as { learningRate: number }).learningRate;
}

function setLearningRate(optimizer: tfjs.Optimizer, value: number): void {
  const target = optimizer as unknown as { learningRate: number; setLearningRate?: (lr: number) => void };
  // SGD and momentum cache -lr in a kept scalar that setLearningRate replaces; the others read the field.
  if (typeof target.setLearningRate === 'function') target.setLearningRate(value);
  else target.learningRate = value;
}

function makeOptimizer(tf: Tf, params: ModelParams): tfjs.Optimizer {
  switch (params.optimizer) {
    case 'sgd':
      return params.momentum > 0 ? tf.train.momentum(params.learningRate, params.momentum) : tf.train.sgd(params.learningRate);
    case 'adam':
      return tf.train.adam(params.learningRate);
    case 'rmsprop':
      return tf.train.rmsprop(params.learningRate);
  }
}

/** Checks a ModelParams object; errors name `where.field`. */
export function validateModelParams(params: ModelParams, where = 'params'): ModelParams {
  if (params === null || typeof params !== 'object') throw new InvalidOptionError(where, 'a ModelParams object', params);
  const int = (key: keyof ModelParams, min: number): void => {
    const v = params[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new InvalidOptionError(`${where}.${key}`, `an integer >= ${min}`, v);
  };
  const real = (key: keyof ModelParams, ok: (v: number) => boolean, expected: string): void => {
    const v = params[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new InvalidOptionError(`${where}.${key}`, expected, v);
  };
  const oneOf = <T>(key: keyof ModelParams, allowed: readonly T[]): void => {
    if (!allowed.includes(params[key] as T)) {
      throw new InvalidOptionError(`${where}.${key}`, `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`, params[key]);
    }
  };
  int('nLayers', 1);
  if (!Array.isArray(params.units) || params.units.length !== params.nLayers) {
    throw new InvalidOptionError(`${where}.units`, `an array of ${params.nLayers} layer widths`, params.units);
  }
  params.units.forEach((u, i) => {
    if (!Number.isInteger(u) || u < 1) throw new InvalidOptionError(`${where}.units[${i}]`, 'an integer >= 1', u);
  });
  oneOf('activation', ACTIVATIONS);
  real('dropout', (v) => v >= 0 && v < 1, 'a number in [0, 1)');
  oneOf('batchNorm', [true, false]);
  oneOf('optimizer', OPTIMIZERS);
  real('learningRate', (v) => v > 0, 'a number > 0');
  real('momentum', (v) => v >= 0 && v < 1, 'a number in [0, 1)');
  oneOf('lrSchedule', LR_SCHEDULES);
  real('lrDecayRate', (v) => v > 0 && v <= 1, 'a number in (0, 1]');
  int('lrDecayEpochs', 1);
  int('batchSize', 1);
  int('epochs', 1);
  real('weightDecay', (v) => v >= 0, 'a number >= 0');
  return params;
}

function suggestInt(trial: Trial, name: string, range: IntRange | number): number {
  if (typeof range === 'number') return range;
  checkRange(name, range);
  return trial.suggestInt(name, range.low, range.high, { log: range.log ?? false, ...(range.step === undefined ? {} : { step: range.step }) });
}

function suggestFloat(trial: Trial, name: string, range: FloatRange | number): number {
  if (typeof range === 'number') return range;
  checkRange(name, range);
  return trial.suggestFloat(name, range.low, range.high, { log: range.log ?? false });
}

function suggestChoice<T extends string | number | boolean>(trial: Trial, name: string, choices: readonly T[] | T): T {
  if (!Array.isArray(choices)) return choices as T;
  if (choices.length === 0) throw new InvalidOptionError(`ranges.${name}`, 'a non-empty list of choices', choices);
  if (choices.length === 1) return choices[0] as T;
  return trial.suggestCategorical(name, choices as readonly T[]);
}

/** The values each hyperparameter may take (as `validateModelParams` checks them). */
const DOMAINS: Readonly<Record<keyof ModelParamRanges, { readonly kind: 'int' | 'float' | 'choices'; readonly ok: (v: unknown) => boolean; readonly expected: string }>> = (() => {
  const int = (min: number) => ({ kind: 'int' as const, ok: (v: unknown) => Number.isInteger(v) && (v as number) >= min, expected: `an integer >= ${min}` });
  const real = (ok: (v: number) => boolean, expected: string) => ({
    kind: 'float' as const,
    ok: (v: unknown) => typeof v === 'number' && Number.isFinite(v) && ok(v),
    expected,
  });
  const oneOf = (allowed: readonly unknown[]) => ({
    kind: 'choices' as const,
    ok: (v: unknown) => allowed.includes(v),
    expected: `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`,
  });
  return {
    nLayers: int(1),
    units: int(1),
    filters: int(1),
    activation: oneOf(ACTIVATIONS),
    dropout: real((v) => v >= 0 && v < 1, 'a number in [0, 1)'),
    batchNorm: oneOf([true, false]),
    optimizer: oneOf(OPTIMIZERS),
    learningRate: real((v) => v > 0, 'a number > 0'),
    momentum: real((v) => v >= 0 && v < 1, 'a number in [0, 1)'),
    lrSchedule: oneOf(LR_SCHEDULES),
    lrDecayRate: real((v) => v > 0 && v <= 1, 'a number in (0, 1]'),
    lrDecayEpochs: int(1),
    batchSize: { kind: 'choices', ok: (v: unknown) => Number.isInteger(v) && (v as number) >= 1, expected: 'integers >= 1' },
    epochs: int(1),
    weightDecay: real((v) => v >= 0, 'a number >= 0'),
  };
})();

/**
 * Checks one `ranges` entry against its hyperparameter's domain: a fixed value, every choice of a
 * list, or both bounds of a `{low, high}` range (the domains are intervals). Errors name `ranges.<key>`.
 * A range is then checked as the trial will check it (known keys, bounds in order, log, step), so that a bad
 * range of a conditional hyperparameter (momentum, lrDecayRate, lrDecayEpochs) throws
 * `SearchSpaceError` in every trial rather than only in those that draw it.
 */
function checkRangeDomain(key: keyof ModelParamRanges, entry: unknown): void {
  const { kind, ok, expected } = DOMAINS[key];
  if (kind === 'choices') {
    const choices = Array.isArray(entry) ? entry : [entry];
    if (choices.length === 0) throw new InvalidOptionError(`ranges.${key}`, 'a non-empty list of choices', entry);
    if (!choices.every(ok)) throw new InvalidOptionError(`ranges.${key}`, `${expected}, or a list of them`, entry);
    return;
  }
  const isRange = entry !== null && typeof entry === 'object' && !Array.isArray(entry);
  const bounds = isRange ? [(entry as FloatRange).low, (entry as FloatRange).high] : [entry];
  if (!bounds.every(ok)) throw new InvalidOptionError(`ranges.${key}`, `{low, high} within, or a fixed value that is, ${expected}`, entry);
  if (!isRange) return;
  // A misspelt `logg`, or a `step` on a float range, would otherwise be ignored.
  checkOptionsObject(entry, kind === 'int' ? INT_RANGE_KEYS : FLOAT_RANGE_KEYS, `ranges.${key}`);
  const range = entry as IntRange;
  if (kind === 'int') intDistribution(key, range.low, range.high, { log: range.log ?? false, ...(range.step === undefined ? {} : { step: range.step }) });
  else floatDistribution(key, range.low, range.high, { log: range.log ?? false });
}

function checkRange(name: string, range: FloatRange | IntRange): void {
  if (range === null || typeof range !== 'object' || typeof range.low !== 'number' || typeof range.high !== 'number') {
    throw new InvalidOptionError(`ranges.${name}`, '{low, high} or a fixed number', range);
  }
}

function checkKind(kind: unknown): ModelKind {
  if (kind !== 'dense' && kind !== 'conv') throw new InvalidOptionError('kind', '"dense" or "conv"', kind);
  return kind;
}

function checkShape(shape: unknown): readonly number[] {
  if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new InvalidOptionError('inputShape', 'a non-empty array of positive integers', shape);
  }
  return shape as readonly number[];
}

/** [h, w, c] for a conv model: rank-3 shapes as given, [h, w] with one channel, [s*s] as [s, s, 1]. */
function imageShape(shape: readonly number[]): [number, number, number] {
  if (shape.length === 3) return [shape[0], shape[1], shape[2]];
  if (shape.length === 2) return [shape[0], shape[1], 1];
  if (shape.length === 1) {
    const side = Math.round(Math.sqrt(shape[0]));
    if (side * side === shape[0]) return [side, side, 1];
  }
  throw new InvalidOptionError('inputShape', 'for kind "conv": [h, w, c], [h, w] or a flat square [s*s]', shape);
}

function isTrial(source: ModelParams | Trial): source is Trial {
  return source !== null && typeof source === 'object' && typeof (source as Trial).suggestFloat === 'function';
}
