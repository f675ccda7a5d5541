/**
 * `kestrel/tfjs`: TensorFlow.js trials. Explicit named exports only; no logic lives here.
 */
export {
  TFJS_BACKEND_ATTR,
  activeTf,
  backendNameOf,
  currentTfBackend,
  recordTfBackend,
  resetTfBackendSelection,
  selectTfBackend,
} from './backend.js';
export type { SelectTfBackendOptions, Tf, TfBackendName, TfBackendPreference, TfBackendSelection } from './backend.js';

export { fitWithPruning, normalizeCallbacks, pruningCallback } from './pruning-callback.js';
export type { CallbackObject, FitWithPruningOptions, PruningCallback, PruningCallbackOptions, PruningState } from './pruning-callback.js';

export { withTensorGuard } from './tensor-guard.js';
export type { TensorGuardOptions, TensorGuardReport } from './tensor-guard.js';

export { TFJS_LEAKED_TENSORS_ATTR, tfObjective } from './tf-objective.js';
export type { BuildAndTrain, TfObjectiveOptions, TfTrialContext } from './tf-objective.js';

export {
  ACTIVATIONS,
  DEFAULT_MODEL_PARAM_RANGES,
  LR_SCHEDULES,
  OPTIMIZERS,
  buildModel,
  getLearningRate,
  learningRateScheduler,
  scheduledLearningRate,
  suggestModelParams,
  validateModelParams,
} from './model-builder.js';
export type {
  Activation,
  BuildModelOptions,
  BuiltModel,
  FloatRange,
  IntRange,
  LrSchedule,
  ModelKind,
  ModelParamRanges,
  ModelParams,
  OptimizerName,
  SuggestModelParamsOptions,
} from './model-builder.js';

export { crossValidate, kFoldSplit, trainTestSplit } from './cross-validate.js';
export type {
  CrossValidateOptions,
  CrossValidateResult,
  Fold,
  FoldData,
  KFoldOptions,
  TrainTestSplitOptions,
} from './cross-validate.js';

export { loadDigits, loadIris, toTensors } from './datasets.js';
export type { ClassificationData, LoadDigitsOptions, ToTensorsOptions } from './datasets.js';

export { MAX_PROCESSES, WORKER_GPU_ATTR, WORKER_PID_ATTR, runTrialsInProcesses } from './process-runner.js';
export type { RunTrialsInProcessesOptions, RunTrialsInProcessesResult } from './process-runner.js';

export { cudaDevicesHidden, detectGpus, detectWorkerGpus, isGpuId, parseCudaVisibleDevices, parseNvidiaSmiList } from './gpus.js';
export type { DetectGpusOptions, DetectWorkerGpusOptions, GpuId } from './gpus.js';
