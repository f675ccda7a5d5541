/**
 * Kestrel's public surface. Explicit named exports only; no logic lives here.
 * TensorFlow.js helpers are a separate entry point: `kestrel/tfjs`.
 */

// Errors
export {
  BackendUnavailableError,
  ConfigError,
  ConstraintsFuncError,
  DistributionConflictError,
  DuplicatedStudyError,
  GridExhaustedError,
  InterruptedError,
  InvalidOptionError,
  InvalidParamValueError,
  InvalidTrialValueError,
  KestrelError,
  NativeError,
  NestedOptimizationError,
  NoCompletedTrialsError,
  NoFeasibleTrialsError,
  NumericalError,
  SearchSpaceError,
  StorageError,
  StudyNotFoundError,
  TrialFinishedError,
  TrialNotFoundError,
  TrialPrunedError,
} from './errors.js';
export type { KestrelErrorCode, KestrelErrorOptions } from './errors.js';

// Search spaces
export type {
  CategoricalChoice,
  CategoricalDistribution,
  CategoricalParamSpec,
  ConstParamSpec,
  Distribution,
  FloatDistribution,
  FloatParamSpec,
  IntDistribution,
  IntParamSpec,
  NumericSuggestOptions,
  ParamSpec,
  ParamValue,
  Params,
  SearchSpace,
  SpaceSpec,
} from './space/types.js';
export {
  categoricalDistribution,
  contains,
  distributionFromJson,
  distributionToJson,
  distributionsEqual,
  floatDistribution,
  intDistribution,
} from './space/distributions.js';
export type { DistributionJson } from './space/distributions.js';
export { decode, encode } from './space/encode.js';
export { enumerateGrid, suggestFromSpec, toNestedConfig, validateSpaceSpec } from './space/spec.js';
export type { NestedConfig } from './space/spec.js';
export type { Suggester } from './space/suggester.js';

// Trials
export { FrozenTrial } from './trial/frozen-trial.js';
export { Trial } from './trial/trial.js';
export { TrialState, isFinishedState } from './trial/types.js';
export type { FrozenTrialData, JsonValue, StudyDirection } from './trial/types.js';
export type { StudyView } from './trial/study-view.js';
export { SystemAttr } from './trial/system-attrs.js';

// Storage
export type {
  GetTrialsOptions,
  Storage,
  StudySummary,
  TrialFinish,
  TrialTemplate,
  TrialUpdate,
} from './storage/storage.js';
export { InMemoryStorage } from './storage/memory-storage.js';
export { JournalStorage } from './storage/journal-storage.js';
export type { JournalStorageOptions } from './storage/journal-storage.js';
export { openStorage } from './storage/open-storage.js';
export { trialsToCsv, trialsToJson } from './storage/export.js';
export type { JsonNumber, TrialJson, TrialsToCsvOptions } from './storage/export.js';

// Samplers
export type { Sampler } from './samplers/sampler.js';
export { RandomSampler } from './samplers/random-sampler.js';
export type { RandomSamplerOptions } from './samplers/random-sampler.js';
export { GridSampler } from './samplers/grid-sampler.js';
export type { GridSamplerOptions } from './samplers/grid-sampler.js';
export { SobolSampler } from './samplers/sobol-sampler.js';
export type { SobolSamplerOptions } from './samplers/sobol-sampler.js';
export { GpSampler } from './samplers/gp/gp-sampler.js';
export type { GpSamplerOptions, HyperparameterDraw, IncumbentKind, ModelUpdate, ModelUpdateKind, MultiObjectiveAcquisition, RefitPolicy } from './samplers/gp/gp-sampler.js';
export type { OutcomeTransformKind, PriorMeanKind } from './surrogate/outcome-transform.js';
export { TpeSampler } from './samplers/tpe/tpe-sampler.js';
export type { TpeSamplerOptions } from './samplers/tpe/tpe-sampler.js';
export { defaultGamma, defaultWeights, hyperoptDefaultGamma } from './samplers/tpe/defaults.js';
export { NsgaIiSampler } from './samplers/genetic/nsga-ii-sampler.js';
export type { NsgaIiSamplerOptions } from './samplers/genetic/nsga-ii-sampler.js';
export type { CrossoverKind } from './samplers/genetic/crossover.js';
export type { ConstraintsFunc, NumberTypedArray } from './samplers/constraints.js';

// Gaussian-process surrogate (the GpSampler's model; usable on its own)
export type {
  AcquisitionKind,
  AcquisitionOptions,
  AcquisitionOptimum,
  AcquisitionResult,
  AcquisitionTerm,
  AppendOptions,
  BackendName,
  BuildOptions,
  FitOptions,
  FittedGp,
  GpTrainingData,
  KernelKind,
  OptimizeAcquisitionOptions,
  Prediction,
  SurrogateAcquisitionKind,
  SurrogateBackend,
} from './surrogate/backend.js';
export { getSurrogateBackend } from './surrogate/select-backend.js';
export type { BackendRequest, GetSurrogateBackendOptions } from './surrogate/select-backend.js';
export { nativeStatus } from './binding/load.js';
export type { NativeStatus } from './binding/load.js';
export type { AddonBuildInfo } from './binding/addon.js';

// Pruners
export type { Pruner } from './pruners/pruner.js';
export { NopPruner } from './pruners/pruner.js';
export { MedianPruner } from './pruners/median.js';
export type { MedianPrunerOptions } from './pruners/median.js';
export { PercentilePruner } from './pruners/percentile.js';
export type { PercentilePrunerOptions } from './pruners/percentile.js';
export { PatientPruner } from './pruners/patient.js';
export type { PatientPrunerOptions } from './pruners/patient.js';
export { ThresholdPruner } from './pruners/threshold.js';
export type { ThresholdPrunerOptions } from './pruners/threshold.js';
export { SuccessiveHalvingPruner } from './pruners/successive-halving.js';
export type { SuccessiveHalvingPrunerOptions } from './pruners/successive-halving.js';
export { HyperbandPruner } from './pruners/hyperband.js';
export type { HyperbandPrunerOptions } from './pruners/hyperband.js';
export { adaptivePruner } from './pruners/adaptive.js';
export type { AdaptiveMode, AdaptivePrunerOptions } from './pruners/adaptive.js';

// Studies
export { createStudy, deleteStudy, getAllStudySummaries, loadStudy } from './study/create-study.js';
export type { CreateStudyOptions, LoadStudyOptions, StorageOption } from './study/create-study.js';
export { MAX_BATCH_SIZE, Study } from './study/study.js';
export type { AddTrialOptions, AskOptions, EnqueueTrialOptions, TellOptions, TellResult, TryAskOptions } from './study/study.js';
export type { ErrorClass, Objective, ObjectiveValues, OptimizeCallback, OptimizeOptions } from './study/optimize.js';
