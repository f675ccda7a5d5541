/**
 * GpSampler's options: `GpSamplerOptions` (what a user passes, with each default and why it is the
 * default), the refit policy (`RefitPolicy`, `DEFAULT_REFIT_POLICY`: when hyperparameters are refit
 * and the model rebuilt as a study grows; the file header of gp-sampler.ts describes the policy),
 * and `resolveOptions`, which checks them and fills in the defaults (InvalidOptionError naming the
 * option on bad input).
 */
import { availableParallelism } from 'node:os';
import { InvalidOptionError } from '../../errors.js';
import type { AcquisitionKind, KernelKind, SurrogateBackend } from '../../surrogate/backend.js';
import type { OutcomeTransformKind, PriorMeanKind } from '../../surrogate/outcome-transform.js';
import type { BackendRequest } from '../../surrogate/select-backend.js';
import { optionKeys } from '../../util/options.js';
import { resolveSeed } from '../../util/prng.js';
import { resolveConstraintsFunc, type ConstraintsFunc } from '../constraints.js';
import { checkSamplerOptions } from '../random-sampler.js';

/** Refit hyperparameters on every suggestion below this many observations. */
export const REFIT_EVERY_TRIAL_BELOW = 100;
/** Above it, refit once the data grew by n_fit / this since the last fit. */
export const REFIT_GROWTH_DIVISOR = 50;
/** Above this many observations, theta is fitted on a subset of this size. */
export const FIT_SUBSET_MAX = 1024;
/** The best observations always in the fit subset (the rest of it is a seeded uniform sample). */
export const FIT_SUBSET_BEST = 256;
/** Largest change of a log hyperparameter that keeps the full model's theta (subset refits). */
export const THETA_REBUILD_TOLERANCE = 0.25;
/** First fits on more observations than this start from a fit on a subset of this size. */
export const COLD_FIT_SCREEN_SIZE = 128;
/** Rebuilds of models with more observations than this run in the background. */
export const BACKGROUND_REBUILD_ABOVE = 4096;
/** Suggestions after the deciding one at which a background rebuild is swapped in. */
export const BACKGROUND_REBUILD_LAG = 3;
/**
 * Behind a subset-served model the swap waits this many suggestions per fitSubsetMax rows (the
 * subset model's suggestions take ~0.2 s at n = 10,000, the build ~3.3 s alone and more beside
 * them: with 1 per 1,024 rows the tenth suggestion still waited 2.3-2.9 s back-to-back).
 */
export const SUBSET_SERVED_SUGGESTIONS_PER_SUBSET = 2;

/** When the GpSampler refits its hyperparameters and rebuilds its model (see the file header). */
export interface RefitPolicy {
  readonly refitEveryTrialBelow: number;
  readonly refitGrowthDivisor: number;
  readonly fitSubsetMax: number;
  /**
   * The best observations always in a fit subset (<= fitSubsetMax). Left out of a `refitPolicy`
   * option, min(FIT_SUBSET_BEST, floor(fitSubsetMax / 4)), the default's share.
   */
  readonly fitSubsetBest: number;
  readonly thetaRebuildTolerance: number;
  /** A first fit on more observations than this starts from a fit on a subset of this size. */
  readonly coldFitScreenSize: number;
  /** Rebuild in the background above this many observations (Infinity: never). */
  readonly backgroundRebuildAbove: number;
  /**
   * Suggestions after the deciding one at which the background rebuild is swapped in (>= 1);
   * behind a subset-served model at least
   * ceil(SUBSET_SERVED_SUGGESTIONS_PER_SUBSET n / fitSubsetMax).
   */
  readonly backgroundRebuildLag: number;
}

export const DEFAULT_REFIT_POLICY: RefitPolicy = Object.freeze({
  refitEveryTrialBelow: REFIT_EVERY_TRIAL_BELOW,
  refitGrowthDivisor: REFIT_GROWTH_DIVISOR,
  fitSubsetMax: FIT_SUBSET_MAX,
  fitSubsetBest: FIT_SUBSET_BEST,
  thetaRebuildTolerance: THETA_REBUILD_TOLERANCE,
  coldFitScreenSize: COLD_FIT_SCREEN_SIZE,
  backgroundRebuildAbove: BACKGROUND_REBUILD_ABOVE,
  backgroundRebuildLag: BACKGROUND_REBUILD_LAG,
});

/** `GpSamplerOptions.hyperparameterDraw` when left out. */
export const DEFAULT_HYPERPARAMETER_DRAW: HyperparameterDraw = 'laplace';

/** How GpSampler sets the incumbent of logEI and PI (see `GpSamplerOptions.incumbent`). */
export type IncumbentKind = 'best-observed' | 'posterior-mean';

/**
 * Options of `new GpSampler(...)`, each default stated with it; an unknown name throws
 * `InvalidOptionError` (README, Bayesian optimization, lists them).
 */
export interface GpSamplerOptions {
  /** Seed of every random stream (default: a random seed). */
  readonly seed?: number;
  /**
   * Sobol trials before the GP takes over (default 10): the GP starts once this many trials are
   * COMPLETE (with `usePrunedTrials`, COMPLETE or PRUNED with a last intermediate value).
   */
  readonly nStartupTrials?: number;
  /** 'logei' (default), 'ucb' or 'pi'. */
  readonly acquisition?: AcquisitionKind;
  /** UCB exploration weight beta (mean + sqrt(beta) sd; default 2). */
  readonly beta?: number;
  /**
   * Sobol candidates scored per suggestion (default 2048, up to 10^6), plus one local candidate
   * around the best observation per ten of them (src/surrogate/candidates.ts). Capped at
   * floor(2^25 / d) for a space of d modelled dims (MAX_CANDIDATE_COORDINATES, about 1 GiB of
   * candidates per call): 10^6 up to 33 dims, 2048 up to the 1111 the GP models.
   */
  readonly candidates?: number;
  /** Best candidates refined by L-BFGS-B (default 10). */
  readonly restarts?: number;
  /**
   * 'auto' (default: the native addon, with large fits on CUDA where it is built and a device is
   * present; TypeScript with a NATIVE_UNAVAILABLE warning where the addon cannot load), 'cpu',
   * 'cuda', 'js', or a SurrogateBackend instance. A backend
   * named explicitly that this machine cannot provide fails the first ask, before the startup
   * trials, with BackendUnavailableError (the trial is recorded FAIL) rather than degrading the
   * study to random search. Under 'auto', a GPU that fails (a NativeError: out of device memory,
   * no kernel image for the card) in a fit or in a later step on the model it fitted (predict,
   * append, acquisition maximization) has that step redone on the CPU at the same
   * hyperparameters, with a one-time CUDA_FALLBACK warning, and the sampler goes on with the CPU
   * model (select-backend.ts). Under an explicit 'cuda' nothing moves to the CPU: such a failure
   * rejects with NativeError, that trial is sampled independently at random (one-time
   * GP_NUMERICAL_FALLBACK warning), and the next ask uses the device again.
   */
  readonly backend?: BackendRequest | SurrogateBackend;
  /**
   * Native threads, 1-4096 (default: available cores); more than the machine's hardware threads
   * are capped there. Results do not depend on it.
   */
  readonly numThreads?: number;
  /**
   * Noise-free objective: pin the GP noise at its floor, 1e-8 of the targets' variance (default
   * false: learned, and on a smooth noise-free objective it falls to the floor anyway; pinning
   * measured better on three of the five benchmark functions at 100 evaluations and worse on
   * Rosenbrock-8 and the rugged Levy-10: bench/quality.md, section "The worst observation as the
   * GP's prior mean").
   */
  readonly deterministic?: boolean;
  /**
   * Incumbent of logEI and PI: 'best-observed' (default, as Optuna's GPSampler) or
   * 'posterior-mean' (the posterior mean at the best observation, whose observed value a noisy
   * objective biases upward). The default measured better on noisy test functions too, except at
   * high noise on Branin and Rosenbrock-8 (bench/quality.md, section "The worst observation as the
   * GP's prior mean").
   */
  readonly incumbent?: IncumbentKind;
  /** 'matern52' (default) or 'rbf'. */
  readonly kernel?: KernelKind;
  /**
   * How objective values become GP targets (src/surrogate/outcome-transform.ts): 'power'
   * (default: standardized, Yeo-Johnson transformed with a maximum-likelihood exponent,
   * standardized again, so that a heavy tail of bad values does not flatten the good region) or
   * 'standardize' (standardized only, as Optuna's GPSampler).
   */
  readonly outcomeTransform?: OutcomeTransformKind;
  /**
   * The GP's prior mean, where it predicts far from every observation: 'worst-observed'
   * (default: the worst value seen so far, De Ath, Fieldsend & Everson 2020) or 'mean' (the
   * mean of the targets, as Optuna's GPSampler). With 'mean' an unexplored region, above all a
   * corner of the cube, looks better than the mostly poor values seen, and logEI spends
   * evaluations there; 'worst-observed' measured lower regret at 60 and 100 evaluations on
   * Hartmann-6, Ackley-10 and Rosenbrock-8 by large factors and on Levy-10 at 60, slightly higher
   * on 2-D Branin, and lower on the noisy versions except Rosenbrock-8 and Levy-10 at 30% noise
   * and 100 evaluations (bench/quality.md, section "The worst observation as the GP's prior mean").
   */
  readonly priorMean?: PriorMeanKind;
  /**
   * Use PRUNED trials at their last intermediate value (default false; an infinite one is clipped
   * to the best or worst finite value), and count them toward `nStartupTrials`. A PRUNED trial
   * without one (not NaN) is ignored, in the search space and the count too. One objective only:
   * with several directions PRUNED trials are treated as failures, as without the option.
   */
  readonly usePrunedTrials?: boolean;
  /** Overrides of DEFAULT_REFIT_POLICY (large-n behaviour; see the file header). */
  readonly refitPolicy?: Partial<RefitPolicy>;
  /**
   * Constraints, as Optuna's GPSampler takes them: a function of a finished trial returning one
   * value per constraint (an array, or a typed array of numbers, stored as plain numbers), the
   * trial feasible when every value is <= 0 (it reads what the
   * objective recorded, e.g. `trial.userAttrs`). Called at `tell` for COMPLETE and PRUNED trials;
   * the values are stored on the trial (`systemAttrs.constraints`, so a resumed study and
   * `study.bestTrial()` see them; an invalid result is stored as null, the trial kept, and `tell`
   * rejects with ConstraintsFuncError, CONSTRAINTS_FUNC_ERROR). Each suggestion then maximizes the
   * constrained logEI: logEI over the best feasible observation plus, per constraint, log
   * P(c(x) <= 0) from a GP of that constraint; until a trial is feasible, the probability of
   * feasibility alone (src/samplers/gp/constraint-models.ts). With several objectives the same
   * terms add to logEHVI over the feasible front. Needs `acquisition` 'logei' (default) or 'pi'.
   */
  readonly constraintsFunc?: ConstraintsFunc;
  /**
   * The acquisition on a study with several directions: 'logehvi' (default: one GP per objective
   * and the log expected hypervolume improvement over the observed Pareto front, as Optuna 4.4+
   * GPSampler and BoTorch's EHVI) or 'parego' (one GP of a random ParEGO scalarization per
   * suggestion, scalarization.ts). See the file header and bench/quality.md. logEHVI computes at
   * most 16 objectives: on a study with more, the first ask rejects (InvalidOptionError naming
   * this option) unless it is 'parego'.
   */
  readonly multiObjectiveAcquisition?: MultiObjectiveAcquisition;
  /**
   * The hyperparameters of the model whose acquisition a suggestion maximizes: 'laplace'
   * (default: one draw per suggestion from the Laplace approximation of their posterior around
   * the MAP point: the lengthscales and output scale from N(theta_MAP, 0.5 H_AA^-1), H_AA their
   * block of the Hessian of the negative log posterior (the approximation's conditional given the
   * noise, which keeps its MAP value), with eigenvalues below 1 counted as 1 and the draw clamped
   * into the hyperparameter bounds; src/samplers/gp/hyperparameter-draw.ts) or 'map' (the fitted
   * MAP point, as Optuna's GPSampler). Seeded by `seed` and the trial number, so a sequential run
   * stays reproducible; in a batch each ask draws its own, and pending trials are appended to the
   * drawn model. The recorded fit (`gp_fit`), the incumbent and the refit policy stay the MAP
   * ones. The draw applies to one objective without `constraintsFunc`, up to LAPLACE_MAX_DIMS (32)
   * modelled dims and LAPLACE_MAX_ROWS (100) observations, on a backend with
   * `negLogPosteriorHessian`; elsewhere (several objectives, constraints, larger studies, a draw
   * that fails numerically or in the native core, the last with one GP_HYPERPARAMETER_DRAW_FALLBACK
   * warning per sampler naming the first failure) the MAP model serves. Measured on 200 seeds not used to choose it (bench/quality.md,
   * section "The Laplace draw becomes the default"), regret against 'map' at 30 / 60 / 100
   * evaluations: Levy-10 x0.65 / x0.63 / x0.58, Branin x1.03 / x0.80 / x0.56, Hartmann-6 x1.16 /
   * x0.75 / x0.67, Ackley-10 and Rosenbrock-8 level (x0.98-1.03). Costs one Hessian (2(d + 2)
   * gradient evaluations, 2(d + 1) with `deterministic`) and one factorization per suggestion: for
   * d = 8 about 1 ms at 50 observations and 2 ms at 100 on the native backend, 9-13 ms and
   * 23-28 ms on the TypeScript fallback (`bench/surrogate.ts --only=hessian`).
   */
  readonly hyperparameterDraw?: HyperparameterDraw;
}

/** How GpSampler picks the hyperparameters of each suggestion's model (`GpSamplerOptions.hyperparameterDraw`). */
export type HyperparameterDraw = 'map' | 'laplace';

/** GpSampler's acquisition with several objectives (`GpSamplerOptions.multiObjectiveAcquisition`). */
export type MultiObjectiveAcquisition = 'logehvi' | 'parego';

/** GpSamplerOptions with every default filled in and every value checked (`resolveOptions`). */
export interface ResolvedOptions {
  readonly seed: number;
  readonly nStartupTrials: number;
  readonly acquisition: AcquisitionKind;
  readonly beta: number;
  readonly candidates: number;
  readonly restarts: number;
  readonly backend: BackendRequest | SurrogateBackend;
  readonly numThreads: number;
  readonly deterministic: boolean;
  readonly incumbent: IncumbentKind;
  readonly kernel: KernelKind;
  readonly outcomeTransform: OutcomeTransformKind;
  readonly priorMean: PriorMeanKind;
  readonly usePrunedTrials: boolean;
  readonly refitPolicy: RefitPolicy;
  readonly constraintsFunc: ConstraintsFunc | null;
  readonly multiObjectiveAcquisition: MultiObjectiveAcquisition;
  readonly hyperparameterDraw: HyperparameterDraw;
}

/** Every GpSamplerOptions key, checked against the interface at compile time. */
const OPTION_KEYS = optionKeys<GpSamplerOptions>()(['seed', 'nStartupTrials', 'acquisition', 'beta', 'candidates', 'restarts', 'backend', 'numThreads', 'deterministic', 'incumbent', 'kernel', 'outcomeTransform', 'priorMean', 'usePrunedTrials', 'refitPolicy', 'constraintsFunc', 'multiObjectiveAcquisition', 'hyperparameterDraw']);

/**
 * Checks `options` and fills in the defaults.
 *
 * @throws InvalidOptionError naming the option (`refitPolicy.<field>` for the policy's fields).
 */
export function resolveOptions(options: GpSamplerOptions): ResolvedOptions {
  if (options === undefined || options === null) throw new InvalidOptionError('GpSampler options', 'an object', options);
  checkSamplerOptions('GpSampler', options, OPTION_KEYS);
  const count = (name: string, value: unknown, fallback: number, min: number, max: number): number => {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new InvalidOptionError(name, `an integer in [${min}, ${max}]`, value);
    }
    return value;
  };
  const oneOf = <T extends string>(name: string, value: unknown, allowed: readonly T[], fallback: T): T => {
    if (value === undefined) return fallback;
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      throw new InvalidOptionError(name, `one of ${allowed.map((a) => `"${a}"`).join(', ')}`, value);
    }
    return value as T;
  };
  const flag = (name: string, value: unknown, fallback: boolean): boolean => {
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') throw new InvalidOptionError(name, 'a boolean', value);
    return value;
  };
  let backend: BackendRequest | SurrogateBackend;
  if (typeof options.backend === 'object' && options.backend !== null) {
    const custom = options.backend as Partial<SurrogateBackend>;
    if (typeof custom.fit !== 'function' || typeof custom.build !== 'function') {
      throw new InvalidOptionError('backend', '"auto", "cpu", "cuda", "js" or a SurrogateBackend (with fit and build)', options.backend);
    }
    backend = options.backend;
  } else {
    backend = oneOf<BackendRequest>('backend', options.backend, ['auto', 'cpu', 'cuda', 'js'], 'auto');
  }
  const constraintsFunc = resolveConstraintsFunc(options.constraintsFunc);
  if (constraintsFunc !== null && options.acquisition === 'ucb') {
    // log P(feasible) adds to a log acquisition (logEI, log PI), not to UCB's objective units.
    throw new InvalidOptionError('acquisition', '"logei" or "pi" with constraintsFunc', options.acquisition);
  }
  const beta = options.beta === undefined ? 2 : options.beta;
  if (typeof beta !== 'number' || !Number.isFinite(beta) || beta < 0) {
    throw new InvalidOptionError('beta', 'a finite number >= 0', beta);
  }
  return {
    seed: resolveSeed('seed', options.seed),
    nStartupTrials: count('nStartupTrials', options.nStartupTrials, 10, 0, Number.MAX_SAFE_INTEGER),
    acquisition: oneOf<AcquisitionKind>('acquisition', options.acquisition, ['logei', 'ucb', 'pi'], 'logei'),
    beta,
    candidates: count('candidates', options.candidates, 2048, 1, 1_000_000),
    restarts: count('restarts', options.restarts, 10, 0, 10_000),
    backend,
    numThreads: count('numThreads', options.numThreads, availableParallelism(), 1, 4096),
    deterministic: flag('deterministic', options.deterministic, false),
    incumbent: oneOf<IncumbentKind>('incumbent', options.incumbent, ['best-observed', 'posterior-mean'], 'best-observed'),
    outcomeTransform: oneOf<OutcomeTransformKind>('outcomeTransform', options.outcomeTransform, ['power', 'standardize'], 'power'),
    priorMean: oneOf<PriorMeanKind>('priorMean', options.priorMean, ['worst-observed', 'mean'], 'worst-observed'),
    kernel: oneOf<KernelKind>('kernel', options.kernel, ['matern52', 'rbf'], 'matern52'),
    usePrunedTrials: flag('usePrunedTrials', options.usePrunedTrials, false),
    refitPolicy: resolveRefitPolicy(options.refitPolicy),
    constraintsFunc,
    multiObjectiveAcquisition: oneOf<MultiObjectiveAcquisition>('multiObjectiveAcquisition', options.multiObjectiveAcquisition, ['logehvi', 'parego'], 'logehvi'),
    hyperparameterDraw: oneOf<HyperparameterDraw>('hyperparameterDraw', options.hyperparameterDraw, ['map', 'laplace'], DEFAULT_HYPERPARAMETER_DRAW),
  };
}

function resolveRefitPolicy(policy: unknown): RefitPolicy {
  if (policy === undefined) return DEFAULT_REFIT_POLICY;
  if (typeof policy !== 'object' || policy === null || Array.isArray(policy)) {
    throw new InvalidOptionError('refitPolicy', 'an object with RefitPolicy fields', policy);
  }
  const p = policy as Record<string, unknown>;
  const known = Object.keys(DEFAULT_REFIT_POLICY);
  for (const key of Object.keys(p)) {
    if (!known.includes(key)) throw new InvalidOptionError(`refitPolicy.${key}`, `one of ${known.join(', ')}`, key);
  }
  // Only an absent (undefined) field takes its default; null is rejected like any other non-number.
  const field = (key: keyof RefitPolicy): unknown => (p[key] === undefined ? DEFAULT_REFIT_POLICY[key] : p[key]);
  const int = (key: keyof RefitPolicy, min: number): number => {
    const value = field(key);
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      throw new InvalidOptionError(`refitPolicy.${key}`, `an integer >= ${min}`, value);
    }
    return value;
  };
  const fitSubsetMax = int('fitSubsetMax', 2);
  // Left out, fitSubsetBest keeps its default share of the subset (a quarter), capped by a smaller fitSubsetMax.
  const fitSubsetBest =
    p.fitSubsetBest === undefined ? Math.min(DEFAULT_REFIT_POLICY.fitSubsetBest, Math.floor(fitSubsetMax / 4)) : int('fitSubsetBest', 0);
  if (fitSubsetBest > fitSubsetMax) {
    throw new InvalidOptionError('refitPolicy.fitSubsetBest', `an integer <= fitSubsetMax (${fitSubsetMax})`, fitSubsetBest);
  }
  const tolerance = field('thetaRebuildTolerance');
  if (typeof tolerance !== 'number' || Number.isNaN(tolerance) || tolerance < 0) {
    throw new InvalidOptionError('refitPolicy.thetaRebuildTolerance', 'a number >= 0 (Infinity allowed)', tolerance);
  }
  const above = field('backgroundRebuildAbove');
  if (typeof above !== 'number' || Number.isNaN(above) || above < 0 || (Number.isFinite(above) && !Number.isInteger(above))) {
    throw new InvalidOptionError('refitPolicy.backgroundRebuildAbove', 'an integer >= 0 or Infinity', above);
  }
  return Object.freeze({
    refitEveryTrialBelow: int('refitEveryTrialBelow', 0),
    refitGrowthDivisor: int('refitGrowthDivisor', 1),
    fitSubsetMax,
    fitSubsetBest,
    thetaRebuildTolerance: tolerance,
    coldFitScreenSize: int('coldFitScreenSize', 2),
    backgroundRebuildAbove: above,
    backgroundRebuildLag: int('backgroundRebuildLag', 1),
  });
}
