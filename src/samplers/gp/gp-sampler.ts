/**
 * GpSampler: Bayesian optimization with a Gaussian-process surrogate. A thin adapter (Optuna's
 * GPSampler shape): trials -> encoded Float64Array -> surrogate (src/surrogate) -> decoded params.
 *
 * - Relative space: the intersection of the distributions of COMPLETE trials (and, with
 *   `usePrunedTrials`, of the PRUNED ones that have a last intermediate value to model;
 *   `intersectionSearchSpace`), encoded into the unit cube by src/space/encode.ts. A dim whose
 *   `gridSpacing` is > 1 is categorical (encode.ts returns the number of choices there and a
 *   spacing <= 1 for ordinal dims), so this file never switches on a distribution kind.
 *   Single-valued distributions are fixed, not modelled.
 * - Startup: until `nStartupTrials` trials are COMPLETE (or, with `usePrunedTrials`, COMPLETE or
 *   PRUNED with a value to model), scrambled Sobol (SobolSampler).
 * - Several objectives (a study with several directions), `multiObjectiveAcquisition`:
 *   - 'logehvi' (default; Optuna 4.4+ GPSampler, BoTorch's EHVI): one GP per objective
 *     (column-models.ts: each objective's values, negated for `minimize`, standardized and shifted
 *     by the `priorMean` rule; fitted, warm-started and appended to under the refit policy, as
 *     constraint models are; recorded in the study and restored by a new sampler as the
 *     single-objective model is, each under its own role: stored-fit.ts), and the log expected hypervolume
 *     improvement over the observed Pareto front (the feasible one with constraints; each point at
 *     the higher of its observed target and the model's posterior mean there, per objective, so
 *     that a repeat of an observation the model does not interpolate gains nothing over itself), computed
 *     exactly as a sum over the boxes of the region the front leaves undominated
 *     (hypervolume-boxes.ts) of products of per-objective Gaussian integrals
 *     (src/surrogate/acquisition.ts), maximized with the other objectives' models as 'logehvi'
 *     terms. Reference point: per objective, the worst observed target beyond the worst by
 *     REFERENCE_MARGIN of its distance from the targets' mean (Optuna's rule). Pending trials are
 *     believed at each model's posterior mean, appended noiselessly (with the model's noise EHVI
 *     kept finding value in repeating a pending point at an extreme of the front) and added to
 *     the front (with constraints, those the constraint models believe feasible, P >= 1/2);
 *     failed ones as for one objective (below). A front whose decomposition needs more than
 *     MAX_HYPERVOLUME_BOXES is thinned until it fits, and the size that fit is recorded in the
 *     study (stored-front-size.ts) for the next sampler (`hypervolumeBoxes`).
 *   - 'parego': each suggestion draws weights from the simplex and models one ParEGO
 *     scalarization of the values (scalarization.ts; Knowles 2006, as BoTorch's qParEGO); the
 *     model is refit for every scalarization (warm-started from the previous theta; never
 *     extended or restored: its targets change each time; each fit is recorded in the study
 *     under the role 'parego', stored-fit.ts, and warm-starts a new sampler's first fit).
 *   bench/quality.md compares the two and Optuna 5.0 (logEHVI leads on Branin-Currin and DTLZ2).
 * - Targets: values[0] (or the scalarization), negated for `minimize` (the GP maximizes), through the outcome transform
 *   (`outcomeTransform`: 'power', the default, standardizes, applies Yeo-Johnson with a
 *   maximum-likelihood exponent and standardizes again; 'standardize' only standardizes;
 *   src/surrogate/outcome-transform.ts), then shifted so that the GP's prior mean is the worst
 *   observed value (`priorMean`: 'worst-observed', the default, after De Ath et al. 2020;
 *   'mean' keeps it at the targets' mean, as Optuna's GPSampler), fitted whenever the model is
 *   built from scratch and kept for the rows appended until the next build. FAIL trials are
 *   excluded; PRUNED ones too unless `usePrunedTrials` (then their last intermediate value, an
 *   infinite one clipped to the best or worst finite target, as Optuna's GPSampler).
 * - Partially enqueued trials (`Study.enqueueTrial` with some of the parameters; `heldParams`):
 *   the study asks only for the names not enqueued, but the model stays the one over the whole
 *   relative space (the cached model, refit or appended to under the refit policy as for any
 *   ask; the per-objective and constraint models likewise), and the acquisition (logEI, logEHVI,
 *   ParEGO's, the constrained ones) is maximized over the free dims with the enqueued ones held at
 *   their encoded values (`OptimizeAcquisitionOptions.fixedFeatures`; BoTorch's optimize_acqf
 *   fixed_features). A model of the free dims alone was a cold throw-away fit that ignored how the
 *   enqueued parameters affect the objective. The search's local candidates go around each
 *   model's best point on that slice (its posterior mean's maximizer), which is also taken when
 *   its acquisition beats the search's optimum (`sliceCenters`, `bestOf`): the best
 *   observations, the usual centres and a start, lie off the slice. An enqueued value its
 *   distribution does not contain (the trial fails at its suggest) is left out of the model, as
 *   before.
 * - Pending trials: RUNNING trials with params in the space are fantasized at the posterior mean
 *   and appended to the model noiselessly (kriging believer; Ginsbourger, Le Riche & Carraro 2010,
 *   "Kriging is well-suited to parallelize optimization") so concurrent asks spread out; the
 *   incumbent is then the best of the incumbent and the fantasized values. (With the model's
 *   noise a pending point kept about that variance: on noisy Branin askBatch(8) put two trials
 *   about 5e-4 apart. NOISELESS_VARIANCE is no lower than the noise floor, so a model
 *   at the floor that is sure of a bound optimum can still repeat it.)
 * - Failed and pruned trials: the points of the latest MAX_FAILED_FANTASIES FAIL trials (those the
 *   objective failed at: it threw, returned NaN or Infinity, timed out; not those interrupted, left
 *   by a stopped worker, or whose result storage refused) and PRUNED trials the model does not
 *   observe (all of them unless `usePrunedTrials`) are appended as fantasies at the worst observed
 *   target (a pessimistic liar), or at the posterior mean where that is lower. A failure carries no
 *   value to fit, so before this the model, and with it the next suggestion, stayed where they
 *   were: an objective failing at the acquisition's optimum (a NaN loss, an out-of-memory crash)
 *   was asked that same point on every later trial (31 of 31 GP trials in the test's example; one
 *   with the liar). As a mean-valued fantasy (Ax treats failed trials as pending) the point was not
 *   repeated, but the next thirty clustered within 0.03 of it, inside the failing region. Failing
 *   regions are usually bad ones, which is how Google Vizier (infeasible trials below the worst)
 *   and SMAC (a crash cost) treat them. A pruned trial carried no value either: with a pruner, the
 *   GP asked a pruned point again and again (38 of 60 trials one point, Branin with MedianPruner,
 *   seed 1); the pruner judged it worse than its peers, so it is treated as a failure. The
 *   fantasies stay out of the hyperparameter fit and the outcome transform, which see the observed
 *   trials only, as before.
 * - Constraints (`constraintsFunc`): the values are stored on each trial at tell
 *   (`finishSystemAttrs`, src/samplers/constraints.ts), one GP per constraint is kept beside the
 *   objective's (constraint-models.ts), and the acquisition becomes the constrained logEI: logEI
 *   over the best feasible observation plus each constraint's log P(c <= 0) as an additive
 *   acquisition term (the surrogate sums them in its maximizer); with nothing feasible yet, the
 *   probability of feasibility alone, maximized on the first constraint's model.
 * - Refit policy (`RefitPolicy`; defaults in DEFAULT_REFIT_POLICY, options.ts, overridable with the
 *   `refitPolicy` option):
 *   - a new sampler (a resumed study, another worker on the same storage) first looks for the
 *     latest fit an earlier GpSampler recorded in the study (stored-fit.ts; every newly fitted,
 *     non-provisional theta is recorded on the trial it served). Between refitEveryTrialBelow
 *     and fitSubsetMax observations, when the growth rule below would not refit yet, the model is
 *     built at the recorded theta without a fit (kind 'restored'); otherwise the fit starts from
 *     it, one start and no screening, as a refit from the sampler's previous model does. The
 *     per-column models (logEHVI's per objective, the constraints', column-models.ts) do the
 *     same, each from the record of its own role (objective j, constraint k): built at the
 *     recorded thetas when every column has one and no refit is due, else each column's fit
 *     warm-started from its record (cold without one); ParEGO's fit only warm-starts. A sampler
 *     that already has models of its own never reads the records, so a run by one sampler
 *     suggests what it did before they were written.
 *   - the first fit without a previous theta (a new sampler with no record, or a changed space)
 *     runs its random restarts to convergence; on more than coldFitScreenSize (128) observations
 *     it runs on a subset of that size instead (the 32 best plus a seeded sample, as
 *     `selectFitSubset`), where an evaluation costs (128 / n)^3 of a full one (a resumed study's
 *     first suggestion), with one random restart besides the default start
 *     (COLD_FIT_SCREEN_RESTARTS), each for at most COLD_FIT_SCREEN_ITERATIONS (15). One start from the subset's optimum then runs on all of them: up to fitSubsetMax
 *     observations for only PROVISIONAL_FIT_ITERATIONS (12) iterations, which recover all but the
 *     last nats of the log posterior (kind 'fit-screened', provisional), and the next suggestion
 *     continues it to convergence as every warm-started refit does, so that the first suggestion
 *     does not wait for the tail of a long convergence; above fitSubsetMax on the 1,024-row
 *     subset, to convergence at once (it decides the rebuilds below). A `coldFitScreenSize` of
 *     Number.MAX_SAFE_INTEGER runs every restart on all observations instead.
 *   - hyperparameters are refit (warm-started from the previous theta) on every suggestion while
 *     n < refitEveryTrialBelow (100) observations; beyond that only when the data grew by at least
 *     n_fit / refitGrowthDivisor (50) since the last fit (every ~2% of growth: every 2 trials at
 *     n = 100, every 200 at n = 10,000); in between, new observations are appended to the
 *     previous model with unchanged theta (O(n^2 k) Cholesky extension) and the standardization
 *     of the last full build is kept (a new value it maps to no finite target, or to one beyond
 *     MAX_APPENDED_TARGET, makes that suggestion refit instead, as the per-column models do).
 *   - up to n = fitSubsetMax (1024) a refit is a MAP fit on all n observations. Above it, one
 *     likelihood evaluation costs O(n^3) (10-20 s at n = 10,000 on 2 cores, and a fit takes
 *     tens of them), so theta is fitted on a deterministic subset of fitSubsetMax observations
 *     (`selectFitSubset`): the fitSubsetBest (256) best ones, which pin down the lengthscales
 *     where the acquisition concentrates its search, plus a uniform sample of the rest that keeps
 *     the global trend and the output scale honest. The sample is a bottom-k sample on a seeded
 *     hash of each trial id: deterministic for a seed, and stable from one refit to the next
 *     (a trial leaves it only when a newer trial with a smaller key arrives), so a change of
 *     theta reflects the data rather than resampling noise.
 *   - the subset's theta replaces the full model's only when it changed materially (some log
 *     hyperparameter moved by more than thetaRebuildTolerance, 0.25, i.e. about 28%) or the data
 *     doubled since the last full build; the full model is then rebuilt at the new theta with
 *     `SurrogateBackend.build` (one factorization of all n rows, no optimization: 1.1 s at
 *     n = 5,000 and 4.1 s at n = 10,000 on 2 cores with the native backend, bench/gp-large.md),
 *     so it is kept rare: the subset theta moved by 0.03-0.14 between refits at n >= 5,000
 *     there. Otherwise the subset model is dropped and the full model keeps its theta and grows by
 *     `append`.
 *   - above backgroundRebuildAbove (4,096) observations that rebuild runs in the background
 *     instead (kind 'subset-deferred'): the deciding suggestion is served by the previous full
 *     model (appended to), or, with no usable previous model (the first suggestion of a resumed
 *     study), by the subset model; the build starts once that suggestion's acquisition is done,
 *     overlapping the trial's evaluation, and the rebuilt model replaces the served one exactly
 *     backgroundRebuildLag (3) suggestions later, or, behind the subset model, whose suggestions
 *     are cheap, max(backgroundRebuildLag, ceil(2 n / fitSubsetMax)) later (20 at n = 10,000,
 *     where the build takes ~4 s: bench/gp-large.md) (kind 'rebuilt', awaited there if not
 *     finished; the rows that arrived meanwhile are appended). The swap point depends only on the count of
 *     suggestions, never on timing, so runs stay reproducible. A failed background build keeps
 *     the served model (a subset-served one is dropped, and the next suggestion starts over).
 *     With ParEGO every suggestion models another scalarization, which a rebuild for an
 *     earlier one cannot serve: every refit there builds the full model at once. (logEHVI's
 *     per-objective models above fitSubsetMax fit on a subset and build at once too,
 *     column-models.ts.)
 *   Apart from that subset-served window the model holds all n observations. Concurrent
 *   suggestions run one at a time, in the order asked, and each sees the ones before it as
 *   pending (their proposals are kept until the study has recorded them).
 *   `lastModelUpdate` reports what the latest suggestion did.
 * - Incumbent of logEI / PI (`incumbent` option): 'best-observed' (default; Optuna 4.x GPSampler's
 *   threshold) is the best standardized observation; 'posterior-mean' is the posterior mean at the
 *   best observation, meant for noisy objectives whose observed maximum is biased upward. With
 *   the lengthscale prior of src/surrogate/hyperparameters.ts, the posterior-mean incumbent
 *   leaves half the Ackley-10 runs stalled at 60 evaluations and the observed one does not; the
 *   observed one is also better on Rosenbrock-8 and Levy-10, worse on Branin (40 seeds), and it
 *   stays better on noisy versions of all five functions at 10% noise and of three at 30%
 *   (re-measured with the worst-observed prior mean; bench/quality.md, section "The worst
 *   observation as the GP's prior mean").
 * - Hyperparameters of the acquisition's model (`hyperparameterDraw`): 'laplace' (default) one
 *   draw per suggestion from the Laplace approximation around the fitted MAP point
 *   (hyperparameter-draw.ts; `drawnModel`), single objective without constraints, up to
 *   LAPLACE_MAX_ROWS observations and LAPLACE_MAX_DIMS dims, the MAP model elsewhere; 'map' the
 *   MAP point itself. Only the acquisition's model changes: the cache, the recorded fit and the
 *   incumbent stay MAP.
 * - Repeats on discrete spaces: when every modelled dim is discrete, an acquisition optimum that
 *   repeats an observed, pending or failed configuration is replaced by the best untried one
 *   under the same acquisition: every configuration of a space of at most
 *   MAX_ENUMERATED_CONFIGURATIONS (Ax's X_avoid), else the point's grid neighbours and the
 *   search's candidates (unevaluated.ts). Spaces with a continuous dim never take that path.
 *   The observations' keys are kept across suggestions on one study, so each suggestion keys
 *   only the trials finished since the last (0.1-0.3 ms instead of 20-40 ms at 10,000
 *   observations of 10 dims, bench/gp-large.md).
 * - Failures: a numerical failure of the surrogate never fails the study: the trial falls back to
 *   independent random sampling with a one-time `GP_NUMERICAL_FALLBACK` warning. Parameters
 *   outside the relative space, and any beyond its first SOBOL_MAX_DIMENSION (1111) by name (the
 *   acquisition's Sobol candidates cover that many), are sampled independently (random) with a
 *   one-time `GP_INDEPENDENT_SAMPLING` warning.
 * - One study at a time: the model, the recorded fit and the pending proposals belong to the
 *   study that asked last (`bindStudy`); a sampler handed to another study drops them.
 * - Reproducible for a fixed seed in sequential runs on one backend: every random stream is
 *   derived from (seed, trial number, purpose).
 */
import { InvalidOptionError, KestrelError, NumericalError, messageOf } from '../../errors.js';
import { contains, distributionsEqual, isSingle } from '../../space/distributions.js';
import { decode, encode, gridSpacing, logIntBounds } from '../../space/encode.js';
import { intersectionSearchSpace } from '../../space/intersection.js';
import type { Distribution, ParamValue, Params, SearchSpace } from '../../space/types.js';
import type {
  AcquisitionOptimum,
  AcquisitionOptions,
  AcquisitionTerm,
  FitOptions,
  FittedGp,
  OptimizeAcquisitionOptions,
  SurrogateBackend,
} from '../../surrogate/backend.js';
import { getSurrogateBackend } from '../../surrogate/select-backend.js';
import { MAX_CANDIDATE_COORDINATES, MAX_HYPERVOLUME_OBJECTIVES } from '../../surrogate/validate.js';
import type { FrozenTrial } from '../../trial/frozen-trial.js';
import type { StudyView } from '../../trial/study-view.js';
import { isNonObjectiveFailReason, SystemAttr } from '../../trial/system-attrs.js';
import { getOwn, hasOwn, setOwn } from '../../util/own-keys.js';
import type { StudyDirection, TrialState } from '../../trial/types.js';
import { deriveSeed, Rng } from '../../util/prng.js';
import { warn, warnOnce } from '../../util/warn.js';
import { RandomSampler } from '../random-sampler.js';
import type { Sampler } from '../sampler.js';
import { SobolSampler } from '../sobol-sampler.js';
import { SOBOL_MAX_DIMENSION } from '../../util/sobol.js';
import { fitOutcomeTransform, MAX_APPENDED_TARGET, type OutcomeTransform, type PriorMeanKind } from '../../surrogate/outcome-transform.js';
import { findStoredFit, storedFitKey, storedFitRecord, type StoredFit, type StoredFitRole } from './stored-fit.js';
import { findStoredFrontSize, storedFrontSizeRecord } from './stored-front-size.js';
import { ConstraintModels, type ConstraintState } from './constraint-models.js';
import { scalarizationWeights, scalarize } from './scalarization.js';
import { ColumnModels, columnTarget, type ColumnModelsInput, type ColumnRow } from './column-models.js';
import { selectFitSubset } from './fit-subset.js';
import { ObservedConfigurations, UnevaluatedGuard } from './unevaluated.js';
import { drawHyperparameters, LAPLACE_MAX_DIMS, LAPLACE_MAX_ROWS } from './hyperparameter-draw.js';

export { selectFitSubset, type SelectFitSubsetOptions } from './fit-subset.js';
import { resolveOptions, SUBSET_SERVED_SUGGESTIONS_PER_SUBSET, type GpSamplerOptions, type ResolvedOptions } from './options.js';

export {
  BACKGROUND_REBUILD_ABOVE,
  BACKGROUND_REBUILD_LAG,
  COLD_FIT_SCREEN_SIZE,
  DEFAULT_REFIT_POLICY,
  FIT_SUBSET_BEST,
  FIT_SUBSET_MAX,
  REFIT_EVERY_TRIAL_BELOW,
  REFIT_GROWTH_DIVISOR,
  SUBSET_SERVED_SUGGESTIONS_PER_SUBSET,
  THETA_REBUILD_TOLERANCE,
  type GpSamplerOptions,
  type HyperparameterDraw,
  type IncumbentKind,
  type MultiObjectiveAcquisition,
  type RefitPolicy,
} from './options.js';
import { nonDominatedBoxes, nonDominatedIndices } from './hypervolume-boxes.js';
import { ConstraintsRecorder } from '../constraints.js';

/**
 * What the latest GP suggestion did to the model:
 * - 'reuse': no new observation; 'append': new rows appended at unchanged theta;
 * - 'fit': MAP fit on all observations (n <= fitSubsetMax); with several objectives under
 *   logEHVI (one model per objective, column-models.ts) also above fitSubsetMax, where each
 *   model's hyperparameters are fitted on a subset (`fitTrialIds`: the first objective's) and the
 *   model is built on every observation at them;
 * - 'fit-screened': a first fit on more than coldFitScreenSize observations: a fit on that
 *   subset, then a few iterations from its optimum on all of them (provisional: the next
 *   suggestion refits on all observations, warm-started);
 * - 'subset-kept': subset refit whose theta stayed within tolerance (full model appended to);
 * - 'subset-rebuild': subset refit, full model rebuilt at the new theta;
 * - 'subset-deferred': subset refit, full model rebuilt at the new theta in the background while
 *   the previous model (or the subset model) serves;
 * - 'rebuilt': the background rebuild replaced the served model (new rows appended to it);
 * - 'restored': a new sampler's first model (with several objectives under logEHVI: every
 *   objective's model), built at the theta an earlier sampler recorded in the study
 *   (stored-fit.ts) because the refit policy would not refit yet.
 */
export type ModelUpdateKind =
  | 'reuse'
  | 'append'
  | 'fit'
  | 'fit-screened'
  | 'subset-kept'
  | 'subset-rebuild'
  | 'subset-deferred'
  | 'rebuilt'
  | 'restored';

/** What the latest suggestion did to the GP (`gpSampler.lastModelUpdate`): for benchmarks and diagnostics. */
export interface ModelUpdate {
  readonly kind: ModelUpdateKind;
  /** Observations in the model used for the suggestion (before pending trials are fantasized). */
  readonly n: number;
  /** Trial ids the hyperparameters were fitted on at this update (empty for 'reuse'/'append'). */
  readonly fitTrialIds: readonly number[];
  /** Theta of the model used (copy). */
  readonly theta: Float64Array;
  /** Largest |change| of a log hyperparameter found by a subset refit (NaN otherwise). */
  readonly thetaChange: number;
  /** Wall time of the model update (fit / append / rebuild), excluding acquisition. */
  readonly updateMs: number;
  /** Part of updateMs spent waiting for a background rebuild to finish ('rebuilt'; else 0). */
  readonly rebuildWaitMs: number;
}
/**
 * L-BFGS-B iterations of a provisional first fit's start on all observations (from the screen's
 * theta). `npx tsx bench/first-fit.ts --seed 0|1` at n = 500: 5 iterations leave 5.6 / 3.6 nats
 * of log posterior, 8 or more reach the optimum (2794.4 / 3013.0), converging takes 57-75 ms.
 * With the 1e-10 noise floor of one evening the path was longer (5 iterations left 80-127 nats,
 * 12 got within a nat), which is why it was raised from 5; 12 keeps that margin.
 */
const PROVISIONAL_FIT_ITERATIONS = 12;

/**
 * FAIL trials fantasized at the worst observed target (the latest ones, by trial number; see the
 * file header): enough to keep suggestions off every recent failure, bounded so that a study with
 * many failures does not append thousands of rows to the model on every ask (an append costs
 * O(n^2) per row).
 */
const MAX_FAILED_FANTASIES = 64;
/** Random restarts of the MAP fit: without a warm start, and with one. */
const FIT_RESTARTS_COLD = 3;
const FIT_RESTARTS_WARM = 1;
/**
 * Random restarts of a first fit's screen on coldFitScreenSize observations. One, not
 * FIT_RESTARTS_COLD: `npx tsx bench/first-fit.ts --traces DIR` on 20 runs of the five quality
 * functions (GP and random search, n = 200 and 500) found the same screen optimum with 1 and 3
 * restarts in 40 of 40 cases, and the same converged fit on all observations with 0, 1 or 3, at a
 * median screen time of 6.7 ms against 13.8 ms (bench/surrogate.md).
 */
const COLD_FIT_SCREEN_RESTARTS = 1;
/**
 * L-BFGS-B iterations of each start of that screen. The screen only places the start of the fit
 * on all observations, which moves on from it anyway: on 24 histories of the quality functions
 * (GP and random search, n = 200; `bench/first-fit.ts --traces DIR --screen-iterations
 * 200,20,15,10`), capping the screen at 15 iterations left the log posterior after the
 * 12-iteration provisional fit where a screen run to convergence left it (median 0.11 against
 * 0.17 nats below the best of three converged restarts on all observations; 10 iterations: 0.28),
 * and screen plus provisional fit took 11.0 ms instead of 13.9 (medians).
 */
const COLD_FIT_SCREEN_ITERATIONS = 15;
const UINT32 = 4294967296;

/** The model of the last fit and what it was fitted on. */
interface ModelCache {
  /** The space and, with several objectives, the scalarization the targets come from. */
  readonly signature: string;
  /** The space alone (dims and distributions): a model of it warm-starts the next fit. */
  readonly space: string;
  readonly model: FittedGp;
  /** Trial ids in model row order. */
  readonly trialIds: readonly number[];
  /** Observed values -> targets, fitted at the last full build (appended rows use it too). */
  readonly outcome: OutcomeTransform;
  /** Rows at the last hyperparameter fit. */
  readonly nAtFit: number;
  /** Rows when the model was last built (factorized) from scratch at its theta. */
  readonly nAtBuild: number;
  /** Observations left out of this (subset-served) model: the pending background rebuild has them. */
  readonly deferredIds: ReadonlySet<number>;
  /** Theta is a first fit's bounded refinement ('fit-screened'); the next suggestion refits on all rows. */
  readonly provisional: boolean;
}

const NO_IDS: ReadonlySet<number> = new Set<number>();

/**
 * A full-model rebuild running in the background (see the file header): started after the
 * deciding suggestion's acquisition, swapped in at suggestion number `swapAt`.
 */
class BackgroundRebuild {
  private promise: Promise<FittedGp | null> | null = null;

  constructor(
    private readonly run: () => Promise<FittedGp>,
    /** The cache the built model becomes (its `model` is replaced). */
    readonly cache: ModelCache,
    readonly swapAt: number,
  ) {}

  /** Starts the build (once); resolves to the model, or null when it failed. */
  start(): Promise<FittedGp | null> {
    if (this.promise === null) {
      this.promise = this.run().catch((error: unknown) => {
        warnOnce(
          'GP_REBUILD_FAILED',
          `GpSampler: a background rebuild of the Gaussian-process model failed (${error instanceof Error ? error.message : String(error)}); ` +
            'the previous model keeps serving',
        );
        return null;
      });
    }
    return this.promise;
  }

  /** Drops the rebuild: its model, when it arrives, is disposed. */
  discard(): void {
    if (this.promise !== null) void this.promise.then((model) => model?.dispose());
  }
}

/** The constraint models' state for a suggestion, with their newly fitted thetas as records (stored-fit.ts). */
type ConstraintModelsState = ConstraintState & { readonly records: readonly StoredFit[] };

/** A model ready for one suggestion, with its training inputs and best standardized target. */
interface FittedModel {
  readonly cache: ModelCache;
  readonly trainingX: Float64Array;
  readonly bestTarget: number;
  /** Row of the best observation in trainingX. */
  readonly bestRow: number;
  /** A newly fitted theta to record in the study (stored-fit.ts), or null. */
  readonly record: StoredFit | null;
}

interface Observation {
  readonly trialId: number;
  readonly params: Readonly<Record<string, ParamValue>>;
  readonly value: number;
}

/** Writes the encoded dims of `params` into out[offset .. offset + d). */
type EncodeRow = (params: Readonly<Record<string, ParamValue>>, out: Float64Array, offset: number) => void;

/** One suggestion's acquisition-search options (all but the acquisition itself). */
type AcquisitionSearch = Omit<OptimizeAcquisitionOptions, keyof AcquisitionOptions>;

/** What `suggestHypervolume` needs from `suggest`. */
interface HypervolumeInput {
  readonly study: StudyView;
  readonly backend: SurrogateBackend;
  readonly trials: readonly FrozenTrial[];
  readonly trial: FrozenTrial;
  readonly space: SearchSpace;
  readonly dims: readonly string[];
  readonly isCategorical: Uint8Array;
  readonly observations: readonly Observation[];
  readonly encodeRow: EncodeRow;
  readonly pending: readonly Readonly<Record<string, ParamValue>>[];
  readonly failed: readonly Readonly<Record<string, ParamValue>>[];
  readonly search: AcquisitionSearch;
  readonly guard: UnevaluatedGuard;
}

/**
 * `m` of the rows (k values each, larger is better) of `points`, in their order: first each
 * objective's best row (the first such in `points`' order after the swaps below, skipped where a row
 * already kept is as good in that objective), then rows drawn uniformly without replacement from
 * the rest. The front's ends bound the region EHVI credits along each objective; on six-objective
 * DTLZ2 keeping them beat a uniform subset (bench/quality.md, 2026-12-06).
 */
function thinRows(points: Float64Array, k: number, m: number, rng: Rng): Float64Array {
  const p = points.length / k;
  const order = Array.from({ length: p }, (_, i) => i);
  let first = 0; // order[0 .. first) are kept
  for (let j = 0; j < k && first < m; j++) {
    let best = first;
    for (let i = first; i < p; i++) if (points[order[i] * k + j] > points[order[best] * k + j]) best = i;
    let covered = false;
    for (let i = 0; i < first && !covered; i++) covered = points[order[i] * k + j] >= points[order[best] * k + j];
    if (covered) continue;
    [order[first], order[best]] = [order[best], order[first]];
    first++;
  }
  for (let i = first; i < m; i++) {
    const j = i + Math.floor(rng.nextFloat() * (p - i));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const kept = order.slice(0, m).sort((a, b) => a - b);
  const out = new Float64Array(m * k);
  kept.forEach((row, i) => out.set(points.subarray(row * k, (row + 1) * k), i * k));
  return out;
}

/**
 * Most boxes of a logEHVI acquisition (hypervolume-boxes.ts): every candidate and L-BFGS-B step
 * evaluates each box once per objective. Two objectives give P + 1 boxes for a front of P points,
 * three about 2P + 1, four or more far more (K = 5: about 2,000 at P = 100); a larger
 * decomposition (a front of over 2,047 points with two objectives, about 1,023 with three, a few
 * hundred with five) is computed on a thinned front (`thinRows`: each objective's best point, the
 * rest at random).
 */
const MAX_HYPERVOLUME_BOXES = 2048;

/**
 * logEHVI's reference point, per objective: the worst observed target beyond the worst by this
 * fraction of its distance from the targets' mean (Optuna's GPSampler: 1.1 x the worst
 * standardized loss).
 */
const REFERENCE_MARGIN = 0.1;

/**
 * Bayesian optimization with a Gaussian process: fits a GP (native addon, TypeScript fallback) to
 * the finished trials and suggests the maximizer of log expected improvement (logEHVI with several
 * objectives; constrained with `constraintsFunc`), after `nStartupTrials` Sobol points. Options:
 * `GpSamplerOptions`; behaviour in detail: the file header and the README's Bayesian-optimization
 * section.
 */
export class GpSampler implements Sampler {
  readonly name = 'gp';
  private readonly options: ResolvedOptions;
  private readonly sobol: SobolSampler;
  private readonly random: RandomSampler;
  private backendPromise: Promise<SurrogateBackend> | null = null;
  private cache: ModelCache | null = null;
  /** A Laplace draw has failed on this sampler and been warned about (`drawnModel`). */
  private drawFallbackWarned = false;
  /** Numbers of trials sampled by the GP (independent sampling in them is warned about). */
  private readonly gpTrials = new Set<number>();
  private lastUpdate: ModelUpdate | null = null;
  /** GP suggestions so far (model updates); background rebuilds swap in at a fixed count. */
  private suggestions = 0;
  private rebuild: BackgroundRebuild | null = null;
  /** The fit this sampler last recorded in (or restored from) the study. */
  private recorded: StoredFit | null = null;
  /** Tail of the chain that serializes concurrent suggestions (see `sampleRelative`). */
  private suggestionQueue: Promise<unknown> = Promise.resolve();
  /** The study the model, the recorded fit and the proposals belong to (`bindStudy`). */
  private study: StudyView | null = null;
  /**
   * Relative proposals this sampler returned, by trial id, while their trials may still be
   * RUNNING: the study records a proposal only after `sampleRelative` returns, so the next
   * suggestion reads it from here until then. Dropped once the trial is no longer RUNNING.
   */
  private readonly proposals = new Map<number, Readonly<Record<string, ParamValue>>>();
  /**
   * The discrete-space repeat guard's keys of the study's observations, kept across suggestions
   * so that each is keyed once (unevaluated.ts); of the study `bindStudy` bound.
   */
  private readonly observedConfigurations = new ObservedConfigurations();
  /** With `constraintsFunc`: the values written at tell, and the models of them. */
  private readonly recorder: ConstraintsRecorder | null;
  private readonly constraintModels: ConstraintModels | null;
  /** With several objectives under logEHVI: one model per objective (column-models.ts). */
  private readonly objectiveModels = new ColumnModels();
  /**
   * The size a thinned Pareto front last fitted MAX_HYPERVOLUME_BOXES at (`hypervolumeBoxes`), or
   * the one an earlier sampler recorded in the study (stored-front-size.ts).
   */
  private thinnedFrontSize: number | null = null;
  /** The front size this sampler last recorded in (or restored from) the study. */
  private recordedFrontSize: number | null = null;
  /** Suggestions whose front was thinned to fit MAX_HYPERVOLUME_BOXES (bench/multi-objective.ts reports it). */
  private thinnedAsks = 0;
  /**
   * With `constraintsFunc` only (without it the study skips the hook and its read of the trial):
   * the constraint values of a COMPLETE or PRUNED trial, stored with its result
   * (`systemAttrs.constraints`; null when the function failed, its error then thrown by
   * `afterTrial` once the trial is recorded).
   */
  // NonNullable: `Sampler['finishSystemAttrs']` includes undefined, which a consumer compiling
  // with exactOptionalPropertyTypes could not assign to `Sampler` (TS2375).
  readonly finishSystemAttrs?: NonNullable<Sampler['finishSystemAttrs']>;

  constructor(options: GpSamplerOptions = {}) {
    this.options = resolveOptions(options);
    const func = this.options.constraintsFunc;
    const recorder = func === null ? null : new ConstraintsRecorder(func);
    this.recorder = recorder;
    if (recorder !== null) {
      this.finishSystemAttrs = async (study, trial, state) => recorder.finish(study, trial, state).attrs;
    }
    this.constraintModels = func === null ? null : new ConstraintModels(func);
    this.sobol = new SobolSampler({ seed: deriveSeed(this.options.seed, 'sobol') });
    this.random = new RandomSampler({ seed: deriveSeed(this.options.seed, 'random') });
  }

  /** What the latest GP suggestion did to the model (null before the first one). */
  get lastModelUpdate(): ModelUpdate | null {
    return this.lastUpdate;
  }

  async inferRelativeSearchSpace(study: StudyView, trial: FrozenTrial): Promise<SearchSpace> {
    // A backend named explicitly that this machine lacks fails the first ask too, not the first
    // GP ask after nStartupTrials Sobol trials have run (BackendUnavailableError; memoized).
    if (this.options.backend === 'cpu' || this.options.backend === 'cuda') await this.backend();
    // So does a study with more objectives than logEHVI computes: past the startup trials every
    // ask failed on the acquisition's "terms" argument, which the user never passed.
    const k = study.directions.length;
    if (k > MAX_HYPERVOLUME_OBJECTIVES && this.options.multiObjectiveAcquisition === 'logehvi') {
      throw new InvalidOptionError(
        'multiObjectiveAcquisition',
        `'parego' on a study with more than ${MAX_HYPERVOLUME_OBJECTIVES} objectives (logEHVI computes at most ${MAX_HYPERVOLUME_OBJECTIVES})`,
        `'logehvi' on a study with ${k} directions`,
      );
    }
    const usePruned = this.usesPrunedTrials(study);
    const finished = await study.getTrials({ states: usePruned ? ['COMPLETE', 'PRUNED'] : ['COMPLETE'] });
    // Only the PRUNED trials that are observations (a last intermediate value that is not NaN)
    // shape the space: one pruned before it reported, let alone before its first suggest, has
    // no value to model, and intersected in it emptied the space for the rest of the study.
    const space = intersectionSearchSpace(finished.filter(isObservation), { includePruned: usePruned });
    // Past the startup trials with nothing shared (every parameter conditional): all of this
    // trial is sampled independently, which sampleIndependent warns about as for a partial space.
    const nFinished = this.countStartupTrials(study, finished);
    if (Object.keys(space).length === 0 && nFinished > 0 && nFinished >= this.options.nStartupTrials) this.gpTrials.add(trial.number);
    return space;
  }

  /**
   * Suggestions run one at a time, in the order they were asked, each reading the trials afresh:
   * concurrent asks (`optimize` with `concurrency`, `Promise.all` of asks) then see the earlier
   * ones as pending points with their proposals, exactly as asks in turn do, instead of all
   * reading the same history and landing on one acquisition maximum.
   */
  async sampleRelative(study: StudyView, trial: FrozenTrial, space: SearchSpace): Promise<Params> {
    const names = Object.keys(space);
    if (names.length === 0) return {};
    const run = this.suggestionQueue.then(async () => {
      const params = await this.sampleRelativeInTurn(study, trial, space);
      if (Object.keys(params).length > 0) this.proposals.set(trial.trialId, params);
      return params;
    });
    this.suggestionQueue = run.catch(() => undefined);
    return run;
  }

  private async sampleRelativeInTurn(study: StudyView, trial: FrozenTrial, space: SearchSpace): Promise<Params> {
    this.bindStudy(study);
    const trials = await study.getTrials();
    const running = new Set(trials.filter((t) => t.state === 'RUNNING').map((t) => t.trialId));
    for (const id of this.proposals.keys()) if (!running.has(id)) this.proposals.delete(id);
    if (this.countStartupTrials(study, trials) < this.options.nStartupTrials) {
      return this.sobol.sampleRelative(study, trial, space);
    }
    // A partially enqueued trial: the enqueued dims of the relative space come back as held dims
    // of the model over the whole space (`heldParams`); without any, `space` is modelled as given.
    const held = this.heldParams(study, trials, trial, space);
    const modelSpace = held?.space ?? space;
    const fixed: Record<string, ParamValue> = {};
    const dims: string[] = [];
    for (const name of Object.keys(modelSpace)) {
      const dist = modelSpace[name];
      if (isSingle(dist)) setOwn(fixed, name, decode(dist, 0));
      else dims.push(name);
    }
    if (dims.length === 0) return fixed;
    // The acquisition's Sobol candidates cover SOBOL_MAX_DIMENSION dims: beyond that the GP models
    // the first of them by name (as SobolSampler does) and the rest are sampled independently,
    // with the GP_INDEPENDENT_SAMPLING warning of a partially shared space.
    if (dims.length > SOBOL_MAX_DIMENSION) {
      dims.sort();
      dims.length = SOBOL_MAX_DIMENSION;
    }
    // Several objectives: logEHVI over one model per objective, or one random ParEGO scalarization
    // per suggestion (see the file header).
    const several = study.directions.length > 1;
    const parego = several && this.options.multiObjectiveAcquisition === 'parego';
    const weights = parego ? scalarizationWeights(study.directions.length, deriveSeed(this.options.seed, trial.number, 'parego')) : null;
    const observations = this.observations(trials, modelSpace, dims, study.directions, weights);
    if (observations.length === 0) return fixed;
    // The held dims' encoded values (NaN for the free ones), or null when none is modelled.
    let heldX: Float64Array | null = null;
    if (held !== null && dims.some((name) => hasOwn(held.values, name))) {
      heldX = Float64Array.from(dims, (name) => (hasOwn(held.values, name) ? encode(modelSpace[name], held.values[name], name) : Number.NaN));
    }
    this.gpTrials.add(trial.number);
    try {
      const point = await this.suggest(study, trials, trial, modelSpace, dims, observations, weights, heldX);
      // Ours always return d finite coordinates; a custom SurrogateBackend (public API) may not,
      // and a missing or NaN coordinate decoded to a NaN parameter, rejected only by the storage.
      if (point.length !== dims.length || !point.every(Number.isFinite)) {
        throw new InvalidOptionError('backend', `a SurrogateBackend whose acquisition optimum has ${dims.length} finite coordinates`, point);
      }
      // Nor need one honour `fixedFeatures` (an option it may predate): its free coordinates would
      // then be optimal for other values of the held dims than the trial runs with.
      dims.forEach((name, j) => {
        if (heldX !== null && !Number.isNaN(heldX[j]) && decode(modelSpace[name], point[j]) !== decode(modelSpace[name], heldX[j])) {
          throw new InvalidOptionError('backend', `a SurrogateBackend whose acquisition optimum holds fixedFeatures (dim ${j}, "${name}", at ${heldX[j]})`, point[j]);
        }
      });
      // The held dims are the trial's enqueued values: only the free ones are proposed.
      const params: Record<string, ParamValue> = {};
      for (const name of Object.keys(fixed)) if (hasOwn(space, name)) setOwn(params, name, fixed[name]);
      dims.forEach((name, j) => {
        if (hasOwn(space, name)) setOwn(params, name, decode(modelSpace[name], point[j]));
      });
      return params;
    } catch (err) {
      // The GP sampled nothing in this trial: its independent draws are not the partial-space
      // case GP_INDEPENDENT_SAMPLING describes (the study already warns about a thrown error).
      this.gpTrials.delete(trial.number);
      if (err instanceof KestrelError && (err.code === 'NUMERICAL_ERROR' || err.code === 'NATIVE_ERROR')) {
        // A constant message keeps the warning one-time (warnOnce keys on code and message).
        warnOnce(
          'GP_NUMERICAL_FALLBACK',
          'GpSampler: the Gaussian-process surrogate failed numerically; the affected trials are sampled ' +
            'independently at random',
        );
        return {};
      }
      throw err;
    }
  }

  /**
   * A partially enqueued trial (`Study.enqueueTrial` with some of the parameters): the study leaves
   * the enqueued names out of the `space` it asks for, and a model of that reduced space would be
   * a throw-away (a cold fit that drops the cached model and its warm start) blind to how the
   * enqueued parameters affect the objective. Instead the model stays the one over the whole
   * relative space (recomputed here from the same trials as `inferRelativeSearchSpace`, in its
   * order, so that it is the cached model of an ordinary ask), and the enqueued dims are held at
   * their values while the acquisition is maximized over the free ones (`fixedFeatures`, as
   * BoTorch's optimize_acqf). Returns that space and the held values, or null when nothing is
   * held: no enqueued values, `space` not the shared space less them (another caller's space, or
   * the shared space changed meanwhile), or no enqueued value in it that its distribution contains
   * (such a value fails the trial at its suggest: the dim stays out of the model, as before) and
   * that is not single-valued (a fixed dim, never modelled).
   */
  private heldParams(
    study: StudyView,
    trials: readonly FrozenTrial[],
    trial: FrozenTrial,
    space: SearchSpace,
  ): { space: SearchSpace; values: Readonly<Record<string, ParamValue>> } | null {
    const enqueued = trial.systemAttrs[SystemAttr.fixedParams];
    if (enqueued === undefined || enqueued === null || typeof enqueued !== 'object' || Array.isArray(enqueued)) return null;
    const usePruned = this.usesPrunedTrials(study);
    const finished = trials.filter((t) => (t.state === 'COMPLETE' || (usePruned && t.state === 'PRUNED')) && isObservation(t));
    const shared = intersectionSearchSpace(finished, { includePruned: usePruned });
    for (const name of Object.keys(space)) {
      if (!hasOwn(shared, name) || !distributionsEqual(shared[name], space[name])) return null;
    }
    const out: Record<string, Distribution> = {};
    const values: Record<string, ParamValue> = {};
    for (const [name, dist] of Object.entries(shared)) {
      if (hasOwn(space, name)) {
        setOwn(out, name, dist);
        continue;
      }
      if (!hasOwn(enqueued, name)) return null;
      const value = (enqueued as Readonly<Record<string, ParamValue>>)[name];
      if (isSingle(dist) || !contains(dist, value)) continue;
      setOwn(out, name, dist);
      setOwn(values, name, value);
    }
    return Object.keys(values).length === 0 ? null : { space: out, values };
  }

  /**
   * The trials that count toward `nStartupTrials`: the COMPLETE ones and, with `usePrunedTrials`,
   * the PRUNED ones the model takes as observations (as Optuna's TPE counts PRUNED trials). Counting
   * COMPLETE trials only, a study that prunes most of its trials (52 of 60 under successive
   * halving) never left the Sobol startup although it had the observations to model.
   */
  private countStartupTrials(study: StudyView, trials: readonly FrozenTrial[]): number {
    const usePruned = this.usesPrunedTrials(study);
    let n = 0;
    for (const t of trials) {
      if (t.state === 'COMPLETE' || (usePruned && t.state === 'PRUNED' && isObservation(t))) n++;
    }
    return n;
  }

  /**
   * `usePrunedTrials` applies to one objective: a pruned trial's intermediate value is one number,
   * not a value per objective, so with several directions PRUNED trials are failures (fantasies),
   * as without the option.
   */
  private usesPrunedTrials(study: StudyView): boolean {
    return this.options.usePrunedTrials && study.directions.length === 1;
  }

  sampleIndependent(study: StudyView, trial: FrozenTrial, name: string, distribution: Distribution): ParamValue {
    if (this.gpTrials.has(trial.number)) {
      warnOnce(
        'GP_INDEPENDENT_SAMPLING',
        'GpSampler: parameters outside the search space shared by all completed trials (conditional ' +
          `spaces), and any beyond the first ${SOBOL_MAX_DIMENSION} by name, are sampled independently at random, without the GP`,
      );
    }
    return this.random.sampleIndependent(study, trial, name, distribution);
  }


  async afterTrial(
    study: StudyView,
    trial: FrozenTrial,
    _state: TrialState,
    _values: readonly number[] | null,
  ): Promise<void> {
    if (study === this.study) {
      this.gpTrials.delete(trial.number);
      this.proposals.delete(trial.trialId);
    }
    const error = this.recorder?.takeError(study, trial);
    if (error !== undefined) throw error;
  }

  /**
   * Ties the sampler's state to `study`. One sampler shared by several studies (as Optuna allows)
   * must not serve one study's model to another: their trial ids can coincide (each in-memory
   * storage counts from 0), so a cache keyed by ids alone would look valid. A different study
   * drops the model (a later return to the first study fits again, warm-started from the fit it
   * recorded), any background rebuild, the recorded fit, the pending proposals and the repeat
   * guard's kept keys.
   */
  private bindStudy(study: StudyView): void {
    if (this.study === study) return;
    if (this.study !== null) {
      if (this.rebuild !== null) {
        this.rebuild.discard();
        this.rebuild = null;
      }
      if (this.cache !== null) {
        this.cache.model.dispose();
        this.cache = null;
      }
      this.recorded = null;
      this.proposals.clear();
      this.observedConfigurations.reset();
      this.gpTrials.clear();
      this.constraintModels?.reset();
      this.objectiveModels.reset();
      this.thinnedFrontSize = null;
      this.recordedFrontSize = null;
    }
    this.study = study;
  }

  /**
   * Usable observations: COMPLETE (and PRUNED with `usePrunedTrials`) trials holding every dim.
   * With several objectives, COMPLETE trials with every value, each scalarized with `weights`
   * (`scalarize`; ParEGO) or, without weights (logEHVI), at its first value (the objective models
   * read every value from the trials).
   */
  private observations(
    trials: readonly FrozenTrial[],
    space: SearchSpace,
    dims: readonly string[],
    directions: readonly StudyDirection[],
    weights: Float64Array | null,
  ): Observation[] {
    const minimize = directions[0] === 'minimize';
    const out: Observation[] = [];
    const vectors: (readonly number[])[] = [];
    for (const t of trials) {
      let raw: number | null = null;
      if (directions.length > 1) {
        // Several objectives (no pruning: a study refuses a pruner there): COMPLETE trials only.
        if (t.state !== 'COMPLETE' || t.values === null || t.values.length !== directions.length || t.values.some((v) => Number.isNaN(v))) continue;
        raw = weights === null ? t.values[0] : 0; // 0: replaced by the scalarization below
      } else if (t.state === 'COMPLETE' && t.values !== null && t.values.length > 0) raw = t.values[0];
      else if (t.state === 'PRUNED' && this.options.usePrunedTrials) {
        const step = t.lastStep;
        if (step !== null) raw = t.intermediateValues[step];
      }
      if (raw === null || Number.isNaN(raw)) continue;
      if (!dims.every((name) => hasOwn(t.params, name) && hasOwn(t.distributions, name) && distributionsEqual(t.distributions[name], space[name]))) continue;
      out.push({ trialId: t.trialId, params: t.params, value: minimize ? -raw : raw });
      if (weights !== null) vectors.push(t.values as readonly number[]);
    }
    if (weights !== null) {
      const scalar = scalarize(vectors, directions, weights);
      for (let i = 0; i < out.length; i++) out[i] = { ...out[i], value: scalar[i] };
    }
    // Infinite values (a PRUNED trial's intermediate value: the study refuses infinite objective
    // values) are clipped to the finite range, as Optuna's GPSampler does: the best finite target
    // stands in for +Infinity (after the sign flip: the best possible), the worst for -Infinity
    // (0 when none is finite). This keeps standardization finite.
    let worst = Number.POSITIVE_INFINITY;
    let best = Number.NEGATIVE_INFINITY;
    for (const o of out) {
      if (Number.isFinite(o.value)) {
        worst = Math.min(worst, o.value);
        best = Math.max(best, o.value);
      }
    }
    if (!Number.isFinite(worst)) worst = best = 0;
    return out.map((o) => (Number.isFinite(o.value) ? o : { ...o, value: o.value > 0 ? best : worst }));
  }

  private async suggest(
    study: StudyView,
    trials: readonly FrozenTrial[],
    trial: FrozenTrial,
    space: SearchSpace,
    dims: readonly string[],
    observations: readonly Observation[],
    weights: Float64Array | null,
    held: Float64Array | null,
  ): Promise<Float64Array> {
    const d = dims.length;
    const isCategorical = new Uint8Array(d);
    const grid = new Float64Array(d);
    // Log ints (grid 0) are searched only at their integers' coordinates, never between them.
    const logInt = new Float64Array(2 * d);
    dims.forEach((name, j) => {
      const g = gridSpacing(space[name]);
      grid[j] = g;
      isCategorical[j] = g > 1 ? 1 : 0;
      const bounds = logIntBounds(space[name]);
      if (bounds !== null) logInt.set(bounds, 2 * j);
    });
    const encodeRow: EncodeRow = (params, out, offset) => {
      dims.forEach((name, j) => {
        out[offset + j] = encode(space[name], params[name]);
      });
    };
    const backend = await this.backend();
    const { pending, failed } = this.fantasyPoints(study, trials, trial, dims, space);
    const search: AcquisitionSearch = {
      // At most MAX_CANDIDATE_COORDINATES coordinates per call: fewer candidates in very high d.
      nCandidates: Math.max(1, Math.min(this.options.candidates, Math.floor(MAX_CANDIDATE_COORDINATES / d))),
      nRestarts: this.options.restarts,
      seed: deriveSeed(this.options.seed, trial.number, 'acquisition') % UINT32,
      grid,
      logIntBounds: logInt,
      ...(held === null ? {} : { fixedFeatures: held }),
      numThreads: this.options.numThreads,
    };
    // On a discrete space, an optimum that repeats a configuration already evaluated, running or
    // failed is replaced by the best one not taken (unevaluated.ts); the observations' keys are
    // kept across suggestions, only the new ones keyed.
    const others = [...pending, ...failed];
    const guard = new UnevaluatedGuard(space, dims, search.fixedFeatures, this.observedConfigurations, observations, others, Math.floor(MAX_CANDIDATE_COORDINATES / d), {
      nSobol: search.nCandidates,
      seed: search.seed,
      isCategorical,
    });
    if (study.directions.length > 1 && weights === null) {
      return this.suggestHypervolume({ study, backend, trials, trial, space, dims, isCategorical, observations, encodeRow, pending, failed, search, guard });
    }
    const fitted = await this.model(backend, trials, trial, space, dims, isCategorical, observations, encodeRow, weights);
    const model = fitted.cache; // the cache; suggestions run one at a time, so nothing replaces it meanwhile
    // The newly fitted thetas of this suggestion's models, recorded in one write (stored-fit.ts).
    const records: StoredFit[] = fitted.record === null ? [] : [fitted.record];
    let recording: Promise<void> | null = null;
    const record = (): void => {
      recording ??= this.recordFits(study, trial, records);
    };
    // With hyperparameterDraw 'laplace', the acquisition's model sits at a drawn theta (null: MAP).
    let drawn: FittedGp | null = null;
    try {
      drawn = weights === null && this.constraintModels === null ? await this.drawnModel(backend, fitted, observations, isCategorical, trial) : null;
      const base = drawn ?? model.model;
      let working = base;
      // The fantasies count as observations for the incumbent too: otherwise a pending point
      // whose believed mean beats the incumbent keeps a positive EI (mean - incumbent, with zero
      // variance) and the next ask lands on it again.
      let believedBest = Number.NEGATIVE_INFINITY;
      const fantasies = [...pending, ...failed];
      if (fantasies.length > 0) {
        const xp = new Float64Array(fantasies.length * d);
        fantasies.forEach((p, i) => encodeRow(p, xp, i * d));
        const believed = await working.predict(xp, fantasies.length);
        const y = Float64Array.from(believed.mean);
        for (let i = 0; i < pending.length; i++) believedBest = Math.max(believedBest, y[i]);
        if (failed.length > 0) {
          let worst = Number.POSITIVE_INFINITY;
          for (const o of observations) worst = Math.min(worst, model.outcome.apply(o.value));
          for (let i = pending.length; i < y.length; i++) y[i] = Math.min(y[i], worst);
        }
        // Pending points are believed noiselessly (as logEHVI's are): their latent value is what
        // a repeat would get. Appended with the model's noise they kept about that variance, so
        // logEI stayed high at them: on noisy Branin askBatch(8) put two trials about 5e-4 apart
        // (see the file header). Failed points keep the noise: a failure is no measurement of
        // the latent function.
        const pendingModel = pending.length === 0 ? working : await working.append(xp.subarray(0, pending.length * d), y.subarray(0, pending.length), pending.length, { noiseless: true });
        try {
          working = failed.length === 0 ? pendingModel : await pendingModel.append(xp.subarray(pending.length * d), y.subarray(pending.length), failed.length);
        } finally {
          if (working !== pendingModel && pendingModel !== base) pendingModel.dispose();
        }
      }
      try {
        const constrained =
          this.constraintModels === null
            ? null
            : await this.constraintState(backend, trials, trial, space, dims, isCategorical, observations, encodeRow);
        if (constrained !== null) records.push(...constrained.records);
        record();
        if (constrained !== null && constrained.terms.length > 0 && !observations.some((o) => constrained.feasible.has(o.trialId))) {
          return await this.maximizeFeasibility(constrained, pending, encodeRow, d, search, guard);
        }
        const best = constrained === null ? await this.incumbent(fitted) : await this.feasibleIncumbent(fitted, observations, constrained.feasible);
        const centers = await sliceCenters([working], search);
        const acquisition: AcquisitionOptions = {
          kind: this.options.acquisition,
          incumbent: Math.max(best, believedBest),
          beta: this.options.beta,
          ...(constrained === null || constrained.terms.length === 0 ? {} : { terms: constrained.terms }),
        };
        const optimum = await working.optimizeAcquisition({ ...search, ...acquisition, ...(centers === null ? {} : { centers }) });
        return await guard.choose(working, await bestOf(working, optimum, centers, acquisition), acquisition);
      } finally {
        if (working !== base) working.dispose();
      }
    } finally {
      drawn?.dispose();
      // A rebuild decided by this suggestion overlaps the trial's evaluation, not its acquisition.
      void this.rebuild?.start();
      record();
      await recording;
    }
  }

  /**
   * The model at one Laplace draw of the hyperparameters around the MAP fit
   * (hyperparameter-draw.ts), or null where the MAP model serves: `hyperparameterDraw` 'map', a
   * backend without `negLogPosteriorHessian`, more than LAPLACE_MAX_DIMS dims or LAPLACE_MAX_ROWS
   * rows, or a draw or build that fails numerically or in the native core (NumericalError,
   * NativeError; then warned once). Seeded by the sampler's seed and the trial number.
   */
  private async drawnModel(
    backend: SurrogateBackend,
    fitted: FittedModel,
    observations: readonly Observation[],
    isCategorical: Uint8Array,
    trial: FrozenTrial,
  ): Promise<FittedGp | null> {
    const { model, trialIds, outcome } = fitted.cache;
    const d = model.d;
    if (this.options.hyperparameterDraw !== 'laplace' || backend.negLogPosteriorHessian === undefined) return null;
    if (d > LAPLACE_MAX_DIMS || trialIds.length > LAPLACE_MAX_ROWS) return null;
    const byId = new Map(observations.map((o) => [o.trialId, o]));
    const y = new Float64Array(trialIds.length);
    trialIds.forEach((id, i) => {
      y[i] = outcome.apply((byId.get(id) as Observation).value);
    });
    const data = { x: fitted.trainingX, y, n: trialIds.length, d, isCategorical };
    const { kernel, deterministic, numThreads } = this.options;
    try {
      const hessianBackend = backend as SurrogateBackend & Required<Pick<SurrogateBackend, 'negLogPosteriorHessian'>>;
      const seed = deriveSeed(this.options.seed, trial.number, 'hyperparameter-draw');
      const theta = await drawHyperparameters(hessianBackend, data, model.theta, kernel, deterministic, seed);
      return await backend.build(data, theta, { kernel, deterministic, numThreads });
    } catch (err) {
      // The failures that send a whole suggestion to random sampling (GP_NUMERICAL_FALLBACK)
      // leave the MAP model serving here: the draw is an add-on to a model that did fit.
      if (!(err instanceof KestrelError && (err.code === 'NUMERICAL_ERROR' || err.code === 'NATIVE_ERROR'))) throw err;
      // Once per sampler, naming the first failure (the errors' messages vary, naming a pivot or
      // an entry, so warnOnce would repeat; a constant message hid what failed).
      if (!this.drawFallbackWarned) {
        this.drawFallbackWarned = true;
        warn(
          'GP_HYPERPARAMETER_DRAW_FALLBACK',
          `GpSampler: a Laplace hyperparameter draw (hyperparameterDraw: 'laplace') failed (${messageOf(err)}); the MAP model serves such suggestions, and later failures of this sampler's draws are not reported`,
        );
      }
      return null;
    }
  }

  /**
   * The points to fantasize: `pending`, the RUNNING trials that hold every dim (kriging believer):
   * the parameters they have persisted, else the joint proposal the study recorded when they were
   * asked (their suggest* values are written only once the objective yields), or, not
   * recorded yet, the one this sampler returned; `failed`, the latest MAX_FAILED_FANTASIES FAIL
   * trials the objective failed at and PRUNED trials the model does not observe, at a point of
   * this space (see the file header).
   */
  private fantasyPoints(
    study: StudyView,
    trials: readonly FrozenTrial[],
    trial: FrozenTrial,
    dims: readonly string[],
    space: SearchSpace,
  ): { pending: Readonly<Record<string, ParamValue>>[]; failed: Readonly<Record<string, ParamValue>>[] } {
    const pending = trials
      .filter((t) => t.state === 'RUNNING' && t.trialId !== trial.trialId)
      .map((t) => pendingParams(t, dims, space, this.proposals.get(t.trialId)))
      .filter((p): p is Readonly<Record<string, ParamValue>> => p !== null);
    const failed = trials
      .filter(
        (t) =>
          (t.state === 'FAIL' && !isNonObjectiveFailReason(t.systemAttrs[SystemAttr.failReason])) ||
          (t.state === 'PRUNED' && !(this.usesPrunedTrials(study) && isObservation(t))),
      )
      .map((t) => evaluatedParams(t, dims, space))
      .filter((p): p is Readonly<Record<string, ParamValue>> => p !== null)
      .slice(-MAX_FAILED_FANTASIES);
    return { pending, failed };
  }

  /**
   * A suggestion on a study with several objectives under logEHVI (see the file header): one GP
   * per objective (`objectiveModels`, the refit policy of constraint models), the pending points
   * fantasized at each model's posterior mean and added to the front (kriging believer, as
   * Optuna's GPSampler), the failed ones at the lower of the mean and the worst target, and log
   * EHVI over the (feasible) observed front (each point at the higher of its target and the posterior
   * mean there, per objective), maximized on the first objective's model with the
   * others as 'logehvi' terms and the constraints' log P(c <= 0) as additive ones.
   */
  private async suggestHypervolume(input: HypervolumeInput): Promise<Float64Array> {
    const { study, backend, trials, trial, space, dims, isCategorical, observations, encodeRow, pending, failed, search, guard } = input;
    const started = performance.now();
    const d = dims.length;
    const k = study.directions.length;
    const byId = new Map(trials.map((t) => [t.trialId, t]));
    const rows: ColumnRow[] = observations.map((o) => {
      const x = new Float64Array(d);
      encodeRow(o.params, x, 0);
      const values = (byId.get(o.trialId) as FrozenTrial).values as readonly number[];
      return { id: o.trialId, x, values: values.map((v, j) => (study.directions[j] === 'minimize' ? -v : v)) };
    });
    const signature = JSON.stringify(dims.map((name) => [name, space[name]]));
    const objectiveKey = (j: number): number => this.columnKey(signature, { objective: j }, this.options.priorMean);
    const { models, kind, fitIds, fits } = await this.objectiveModels.update({
      backend,
      rows,
      count: k,
      d,
      isCategorical,
      signature,
      ...this.columnPolicy(trial, 'objective-fit'),
      seedLabel: 'objective',
      priorMean: this.options.priorMean,
      stored: (j) => findStoredFit(trials, objectiveKey(j), d, this.options.deterministic),
    });
    // The newly fitted thetas of this suggestion's models, recorded in one write (stored-fit.ts).
    const records = fits.map((f): StoredFit => ({ key: objectiveKey(f.column), nAtFit: f.nAtFit, theta: f.theta }));
    this.lastUpdate = {
      kind,
      n: rows.length,
      fitTrialIds: fitIds,
      theta: Float64Array.from(models[0].model.theta),
      thetaChange: Number.NaN,
      updateMs: performance.now() - started,
      rebuildWaitMs: 0,
    };
    let constrained: ConstraintModelsState | null;
    try {
      constrained =
        this.constraintModels === null ? null : await this.constraintState(backend, trials, trial, space, dims, isCategorical, observations, encodeRow);
    } catch (err) {
      await this.recordFits(study, trial, records);
      throw err;
    }
    if (constrained !== null) records.push(...constrained.records);
    // Never rejects; awaited before this suggestion returns.
    const fitsRecorded = this.recordFits(study, trial, records);
    if (constrained !== null && constrained.terms.length > 0 && !observations.some((o) => (constrained as ConstraintModelsState).feasible.has(o.trialId))) {
      try {
        return await this.maximizeFeasibility(constrained, pending, encodeRow, d, search, guard);
      } finally {
        await fitsRecorded;
      }
    }
    // The observed targets of the (feasible) observations: the reference point and the local
    // candidates' centres come from them.
    const counted = constrained === null || constrained.terms.length === 0 ? rows : rows.filter((r) => constrained.feasible.has(r.id));
    const observed: number[] = [];
    for (const r of counted) for (let j = 0; j < k; j++) observed.push(columnTarget(models[j].scale, r.values[j]));
    // The front EHVI improves on: each observed front point raised, objective by objective, to the
    // model's posterior mean there where that is higher, plus the believed pending points below.
    // Against the observed targets alone, a model with learned noise that does not interpolate an
    // observation (its mean above the observed target there) credited repeating that point with an
    // improvement over itself: on ZDT1 the corner x = 0, an end of the front where
    // f2 = g (1 - sqrt(f1 / g)) has an infinite slope, was suggested again in 5 of 500 suggestions
    // (seeds 0-9, 60 trials); with its mean on the front, a repeat improves only by its posterior
    // spread beyond its own mean. BoTorch and Ax partition the means alone; the higher of the two
    // keeps every observed point on the front where the model smooths it away, and keeps one point
    // per observation (the front's size, and with it the box count, as before).
    const front: number[] = [...observed];
    const onFront = nonDominatedIndices(Float64Array.from(observed), counted.length, k);
    // The encoded inputs of the observed front's points (rows of d): where the means are predicted,
    // and the centres of the local candidates (around every point of the front, not only objective
    // 0's best: the gaps between them are where the improvement is; bench/quality.md).
    const frontInputs = new Float64Array(onFront.length * d);
    onFront.forEach((i, r) => frontInputs.set(counted[i].x, r * d));
    if (onFront.length > 0) {
      const means = await Promise.all(models.map(async (m) => (await m.model.predict(frontInputs, onFront.length)).mean));
      onFront.forEach((i, r) => {
        for (let j = 0; j < k; j++) front[i * k + j] = Math.max(observed[i * k + j], means[j][r]);
      });
    }
    // Reference point: below the worst (feasible) target by REFERENCE_MARGIN of its distance from
    // the targets' mean (-offset in target units).
    const ref = new Float64Array(k);
    for (let j = 0; j < k; j++) {
      let worst = Number.POSITIVE_INFINITY;
      for (let i = j; i < observed.length; i += k) worst = Math.min(worst, observed[i]);
      const below = Math.max(REFERENCE_MARGIN * Math.abs(worst + models[j].scale.offset), 1e-9);
      ref[j] = worst - below;
    }
    const working = models.map((m) => m.model);
    let recording: Promise<void> | null = null;
    try {
      // Pending points: believed at each model's posterior mean, noiselessly (their latent value is
      // what a repeat would get: the believer leaves next to no variance there, as a joint
      // acquisition over them would; with the model's noise EHVI kept asking the same corner), and
      // added to the front. Failed points: at the lower of the mean and the worst target.
      for (const [points, noiseless] of [[pending, true], [failed, false]] as const) {
        if (points.length === 0) continue;
        const xp = new Float64Array(points.length * d);
        points.forEach((p, i) => encodeRow(p, xp, i * d));
        const believed: Float64Array[] = [];
        for (let j = 0; j < k; j++) {
          const y = Float64Array.from((await working[j].predict(xp, points.length)).mean);
          if (!noiseless) {
            let worst = Number.POSITIVE_INFINITY;
            for (const r of rows) worst = Math.min(worst, columnTarget(models[j].scale, r.values[j]));
            for (let i = 0; i < y.length; i++) y[i] = Math.min(y[i], worst);
          }
          believed.push(y);
          const next = await working[j].append(xp, y, points.length, { noiseless });
          if (working[j] !== models[j].model) working[j].dispose();
          working[j] = next;
        }
        if (!noiseless) continue;
        // Under constraints a pending point joins the front only where the constraint models
        // believe it feasible (P(every c <= 0) >= 1/2): the front is the feasible one.
        const feasible = await this.believedFeasible(constrained, xp, points.length);
        for (let i = 0; i < points.length; i++) if (feasible[i]) for (let j = 0; j < k; j++) front.push(believed[j][i]);
      }
      // A sampler that has not thinned yet starts where an earlier one on the study stopped.
      if (this.thinnedFrontSize === null) {
        this.thinnedFrontSize = this.recordedFrontSize = findStoredFrontSize(trials, k, MAX_HYPERVOLUME_BOXES);
      }
      const boxes = this.hypervolumeBoxes(front, k, ref, trial);
      const size = this.thinnedFrontSize;
      if (size !== null && size !== this.recordedFrontSize) {
        this.recordedFrontSize = size;
        recording = this.recordFrontSize(study, trial, k, size);
      }
      const [first, ...rest] = working;
      const terms: AcquisitionTerm[] = rest.map((model) => ({ model, kind: 'logehvi', incumbent: 0, beta: 0 }));
      if (constrained !== null) terms.push(...constrained.terms);
      // Held dims: the front's points lie off the slice searched; each objective's best point on
      // it joins them as a centre of local candidates (`sliceCenters`).
      const slice = await sliceCenters(working, search);
      const centers = slice === null ? frontInputs : Float64Array.from([...frontInputs, ...slice]);
      const acquisition: AcquisitionOptions = { kind: 'logehvi', incumbent: 0, beta: 0, boxes, terms };
      const optimum = await first.optimizeAcquisition({ ...search, ...acquisition, centers });
      return await guard.choose(first, await bestOf(first, optimum, slice, acquisition), acquisition);
    } finally {
      await recording;
      await fitsRecorded;
      working.forEach((model, j) => {
        if (model !== models[j].model) model.dispose();
      });
    }
  }

  /**
   * Per point of x (m rows), whether the constraint models believe it feasible: the sum of their
   * log P(c <= 0) terms at least log 1/2 (every point without constraint terms).
   */
  private async believedFeasible(constrained: ConstraintState | null, x: Float64Array, m: number): Promise<boolean[]> {
    const logPof = new Float64Array(m);
    for (const term of constrained?.terms ?? []) {
      const { value } = await term.model.acquisition(x, m, { kind: term.kind, incumbent: term.incumbent, beta: term.beta }, false);
      for (let i = 0; i < m; i++) logPof[i] += value[i];
    }
    return Array.from(logPof, (v) => v >= -Math.LN2);
  }

  /**
   * The non-dominated boxes of `front` (P rows of k targets, dominated ones included) above `ref`.
   * A decomposition of more than MAX_HYPERVOLUME_BOXES is computed on the front's non-dominated
   * points thinned (`thinRows`: each objective's best point and a random subset of the rest, seeded
   * by the trial) to half of them until it fits; later suggestions
   * whose front still has more non-dominated points than the size that fit start there
   * (`thinnedFrontSize`) instead of paying again for the decompositions that fail; the size is
   * recorded in the study when it changes (trial system attribute `gp_front_size`,
   * stored-front-size.ts), and a sampler that has not thinned yet (a resumed study, another worker)
   * starts at the latest recorded one, so only a study's first thinning pays for them:
   * `npx tsx bench/multi-objective-latency.ts --trials 0 --imported 0 --front 5,160` (five
   * objectives, a front of 160 points) took 575-679 ms per later ask before, 282-334 ms after
   * (142 ms, and 466 ms for the first ask, since the decomposition runs in rank space and a
   * failing one stops early: bench/surrogate.md, 2026-12-06); with the record, a new sampler's
   * first ask there takes 429 ms of CPU instead of 485 (at 5,400: 1,958 instead of 2,102;
   * bench/surrogate.md, "A thinned front's size recorded in the study").
   * A front no larger than that is decomposed whole (a new point that dominates the rest leaves
   * one), and a dominated row is never kept in place of a point of the front. On six-objective
   * DTLZ2 (bench/quality.md, 2026-12-06) keeping each objective's best beat a uniform subset at
   * 200 evaluations (seeds 0-39: 28 better, 7 worse, 5 equal), and farthest-point selection did worse.
   */
  private hypervolumeBoxes(front: readonly number[], k: number, ref: Float64Array, trial: FrozenTrial): Float64Array {
    let points: Float64Array = Float64Array.from(front);
    const rng = new Rng(deriveSeed(this.options.seed, trial.number, 'hypervolume-thinning'));
    let thinned = false;
    let reduced = false;
    /** `points` reduced to its non-dominated rows (what the decomposition keeps anyway). */
    const reduce = (): void => {
      if (reduced) return;
      const keep = nonDominatedIndices(points, points.length / k, k);
      const out = new Float64Array(keep.length * k);
      keep.forEach((row, i) => out.set(points.subarray(row * k, (row + 1) * k), i * k));
      points = out;
      reduced = true;
    };
    if (this.thinnedFrontSize !== null) {
      reduce();
      if (points.length / k > this.thinnedFrontSize) {
        points = thinRows(points, k, this.thinnedFrontSize, rng);
        thinned = true;
      }
    }
    for (;;) {
      const boxes = nonDominatedBoxes(points, points.length / k, k, ref, MAX_HYPERVOLUME_BOXES);
      if (boxes !== null) {
        if (thinned) {
          this.thinnedFrontSize = points.length / k;
          this.thinnedAsks++;
          // Also where it started at a size an earlier sampler recorded (a new process, without
          // a failing decomposition of its own).
          warnOnce(
            'GP_HYPERVOLUME_THINNED',
            `GpSampler: the Pareto front needs more than ${MAX_HYPERVOLUME_BOXES} boxes for logEHVI; it is thinned to fit: each objective's best point and a random subset of the rest (an approximation)`,
          );
        }
        return boxes;
      }
      reduce();
      points = thinRows(points, k, Math.floor(points.length / k / 2), rng);
      thinned = true;
    }
  }

  /**
   * Nothing feasible yet: the probability of feasibility alone (Optuna's GPSampler), maximized on
   * the first constraint's model, with the pending points fantasized on the constraint models
   * (constraint-models.ts) so that concurrent asks do not all land on its one maximum.
   */
  private async maximizeFeasibility(
    constrained: ConstraintState,
    pending: readonly Readonly<Record<string, ParamValue>>[],
    encodeRow: EncodeRow,
    d: number,
    search: AcquisitionSearch,
    guard: UnevaluatedGuard,
  ): Promise<Float64Array> {
    let believed: { terms: AcquisitionTerm[]; dispose: () => void } | null = null;
    if (pending.length > 0) {
      const xp = new Float64Array(pending.length * d);
      pending.forEach((p, i) => encodeRow(p, xp, i * d));
      believed = await (this.constraintModels as ConstraintModels).withPending(constrained, xp, pending.length);
    }
    try {
      const [first, ...rest] = believed === null ? constrained.terms : believed.terms;
      const acquisition: AcquisitionOptions = { kind: 'pi', incumbent: first.incumbent, beta: 0, terms: rest };
      const optimum = await first.model.optimizeAcquisition({ ...search, ...acquisition });
      return await guard.choose(first.model, optimum.x, acquisition);
    } finally {
      believed?.dispose();
    }
  }

  /**
   * Records a suggestion's newly fitted thetas (none: nothing is written) on the trial
   * (stored-fit.ts) where the study view can store them. Never rejects: a failed write only costs
   * a later sampler its warm start.
   */
  private async recordFits(study: StudyView, trial: FrozenTrial, fits: readonly StoredFit[]): Promise<void> {
    if (fits.length === 0 || study.setTrialSystemAttrs === undefined) return;
    try {
      await study.setTrialSystemAttrs(trial.trialId, { [SystemAttr.gpFit]: storedFitRecord(fits) });
    } catch {
      warnOnce(
        'GP_FIT_NOT_RECORDED',
        'GpSampler: fitted hyperparameters could not be recorded in the study; a new sampler on it will fit from scratch',
      );
    }
  }

  /**
   * Records the size a thinned front fitted at on the trial (stored-front-size.ts), as `recordFit`
   * does a theta: never rejects, as a failed write only costs a later sampler the decompositions
   * that fail before that size.
   */
  private async recordFrontSize(study: StudyView, trial: FrozenTrial, k: number, size: number): Promise<void> {
    if (study.setTrialSystemAttrs === undefined) return;
    try {
      await study.setTrialSystemAttrs(trial.trialId, { [SystemAttr.gpFrontSize]: storedFrontSizeRecord(k, MAX_HYPERVOLUME_BOXES, size) });
    } catch {
      warnOnce(
        'GP_FRONT_SIZE_NOT_RECORDED',
        'GpSampler: the size a thinned Pareto front fitted at could not be recorded in the study; a new sampler on it will thin from the whole front',
      );
    }
  }

  /**
   * Incumbent: the best standardized observation ('best-observed', or any `deterministic` model);
   * else the posterior mean at the best observation (for a noisy objective the observed maximum
   * is biased upward).
   */
  private async incumbent(fitted: FittedModel): Promise<number> {
    if (this.options.incumbent === 'best-observed' || this.options.deterministic) return fitted.bestTarget;
    const m = fitted.cache.model;
    const d = m.d;
    const row = fitted.trainingX.subarray(fitted.bestRow * d, fitted.bestRow * d + d);
    const pred = await m.predict(Float64Array.from(row), 1);
    return pred.mean[0];
  }

  /**
   * The incumbent among feasible observations (`incumbent` option as `incumbent()`); when none is
   * feasible but some observation carries no usable constraint values (so there are no
   * constraint models), the unconstrained incumbent.
   */
  private async feasibleIncumbent(fitted: FittedModel, observations: readonly Observation[], feasible: ReadonlySet<number>): Promise<number> {
    const outcome = fitted.cache.outcome;
    let best: Observation | null = null;
    for (const o of observations) if (feasible.has(o.trialId) && (best === null || o.value > best.value)) best = o;
    if (best === null) return this.incumbent(fitted);
    const target = outcome.apply(best.value);
    if (this.options.incumbent === 'best-observed' || this.options.deterministic) return target;
    const m = fitted.cache.model;
    const row = new Float64Array(m.d);
    const bestId = best.trialId;
    const i = fitted.cache.trialIds.indexOf(bestId);
    if (i < 0) return target; // left out of a subset-served model: its observed target
    row.set(fitted.trainingX.subarray(i * m.d, (i + 1) * m.d));
    return (await m.predict(row, 1)).mean[0];
  }

  /**
   * The constraint models for this suggestion (constraint-models.ts), under the objective's refit
   * policy, started from the fits recorded in the study for them by an earlier sampler; with
   * their newly fitted thetas as records for the study (stored-fit.ts).
   */
  private async constraintState(
    backend: SurrogateBackend,
    trials: readonly FrozenTrial[],
    trial: FrozenTrial,
    space: SearchSpace,
    dims: readonly string[],
    isCategorical: Uint8Array,
    observations: readonly Observation[],
    encodeRow: EncodeRow,
  ): Promise<ConstraintModelsState> {
    const models = this.constraintModels as ConstraintModels;
    const byId = new Map(trials.map((t) => [t.trialId, t]));
    const d = dims.length;
    const rows = observations.map((o) => {
      const x = new Float64Array(d);
      encodeRow(o.params, x, 0);
      return { trial: byId.get(o.trialId) as FrozenTrial, x };
    });
    const signature = JSON.stringify(dims.map((name) => [name, space[name]]));
    // A constraint's targets are standardized with the prior mean at their mean (constraint-models.ts).
    const keyOf = (k: number, count: number): number => this.columnKey(signature, { constraint: k, of: count }, 'mean');
    const state = await models.update({
      backend,
      rows,
      d,
      isCategorical,
      signature,
      ...this.columnPolicy(trial, 'constraint-fit'),
      stored: (k, count) => findStoredFit(trials, keyOf(k, count), d, this.options.deterministic),
    });
    // A fit fits every constraint: `fits` has one per constraint.
    const count = state.fits.length;
    return { ...state, records: state.fits.map((f): StoredFit => ({ key: keyOf(f.column, count), nAtFit: f.nAtFit, theta: f.theta })) };
  }

  /**
   * The record key (stored-fit.ts) of a per-column model (column-models.ts) of the dims
   * `signature` in `role`: its targets are standardized ('standardize') with `priorMean`.
   */
  private columnKey(signature: string, role: StoredFitRole, priorMean: PriorMeanKind): number {
    return storedFitKey(signature, this.options.kernel, this.options.deterministic, 'standardize', priorMean, role);
  }

  /**
   * The refit policy of the per-column models (objectives under logEHVI, constraints): the main
   * model's kernel, noise setting, restarts, refit rule and fit subset, the fit seed derived from
   * the trial and `label`.
   */
  private columnPolicy(trial: FrozenTrial, label: string): Pick<ColumnModelsInput, 'fit' | 'restarts' | 'refitDue' | 'subset'> {
    const policy = this.options.refitPolicy;
    return {
      fit: {
        kernel: this.options.kernel,
        deterministic: this.options.deterministic,
        seed: deriveSeed(this.options.seed, trial.number, label) % UINT32,
        numThreads: this.options.numThreads,
      },
      restarts: { cold: FIT_RESTARTS_COLD, warm: FIT_RESTARTS_WARM },
      refitDue: (n, nAtFit) => n < policy.refitEveryTrialBelow || n - nAtFit >= Math.ceil(nAtFit / policy.refitGrowthDivisor),
      subset: { size: policy.fitSubsetMax, nBest: policy.fitSubsetBest, seed: deriveSeed(this.options.seed, 'fit-subset') },
    };
  }

  /** The cached model, refit or extended by `append` according to the refit policy. */
  private async model(
    backend: SurrogateBackend,
    trials: readonly FrozenTrial[],
    trial: FrozenTrial,
    space: SearchSpace,
    dims: readonly string[],
    isCategorical: Uint8Array,
    observations: readonly Observation[],
    encodeRow: EncodeRow,
    weights: Float64Array | null,
  ): Promise<FittedModel> {
    const started = performance.now();
    const policy = this.options.refitPolicy;
    const d = dims.length;
    const n = observations.length;
    const spaceSignature = JSON.stringify(dims.map((name) => [name, space[name]]));
    // A scalarization (several objectives) changes every target: a model of another one is not
    // extended, only its theta warm-starts the fit; such fits are recorded (role 'parego') to
    // warm-start a new sampler's first fit, never restored.
    const signature = weights === null ? spaceSignature : `${spaceSignature}|${Array.from(weights).join(',')}`;
    const byId = new Map(observations.map((o) => [o.trialId, o]));
    this.suggestions += 1;
    const swap = await this.settleRebuild(signature, byId);
    const previous = this.cache;
    const encodeRows = (rows: readonly Observation[], outcome: OutcomeTransform): { x: Float64Array; y: Float64Array } => {
      const x = new Float64Array(rows.length * d);
      const y = new Float64Array(rows.length);
      rows.forEach((o, i) => {
        encodeRow(o.params, x, i * d);
        y[i] = outcome.apply(o.value);
      });
      // Finite values the outcome transform could not map (it overflowed: values near +-1.8e308
      // of both signs) are a numerical failure of the surrogate, which falls back to random
      // sampling; passed on, the backend's input check threw INVALID_OPTION and failed the study.
      for (let i = 0; i < y.length; i++) {
        if (!Number.isFinite(y[i])) throw new NumericalError(`the outcome transform gave a non-finite target (${y[i]}) for the value ${rows[i].value}`);
      }
      return { x, y };
    };
    const valid =
      previous !== null && previous.signature === signature && previous.trialIds.every((id) => byId.has(id)) ? previous : null;
    const known = new Set(valid === null ? [] : valid.trialIds);
    const added = valid === null ? [] : observations.filter((o) => !known.has(o.trialId) && !valid.deferredIds.has(o.trialId));
    // A new value the kept outcome transform maps to no finite target (it overflows: ~1e308 beside
    // values near 1), or to one beyond MAX_APPENDED_TARGET, cannot be appended at that
    // standardization: the model is refit, its transform fitted on every value, as column-models.ts
    // does. Appended, the first threw NumericalError at every suggestion (random sampling) until the
    // growth rule refit. A pending background rebuild has the same standardization, so it is
    // dropped too.
    const mappable = valid !== null && added.every((o) => Math.abs(valid.outcome.apply(o.value)) <= MAX_APPENDED_TARGET);
    if (valid !== null && !mappable && this.rebuild !== null) {
      this.rebuild.discard();
      this.rebuild = null;
    }
    const usable = mappable ? valid : null;
    const fresh = usable === null ? [] : added;
    // No refit while a background rebuild is pending: it is the refit.
    const refitDue =
      this.rebuild === null &&
      (n < policy.refitEveryTrialBelow ||
        (usable !== null && (usable.provisional || n - usable.nAtFit >= Math.ceil(usable.nAtFit / policy.refitGrowthDivisor))));
    const warm = previous !== null && previous.space === spaceSignature ? Float64Array.from(previous.model.theta) : null;
    // Without a model of its own, start from the latest fit an earlier sampler recorded.
    const key = storedFitKey(
      spaceSignature,
      this.options.kernel,
      this.options.deterministic,
      this.options.outcomeTransform,
      this.options.priorMean,
      weights === null ? 'model' : 'parego',
    );
    const stored = warm === null ? findStoredFit(trials, key, d, this.options.deterministic) : null;
    if (stored !== null) this.recorded = stored;
    const start = warm ?? stored?.theta ?? null;
    const fitOptions = (warmStart: Float64Array | null): FitOptions => ({
      kernel: this.options.kernel,
      deterministic: this.options.deterministic,
      nRestarts: warmStart === null ? FIT_RESTARTS_COLD : FIT_RESTARTS_WARM,
      seed: deriveSeed(this.options.seed, trial.number, 'fit') % UINT32,
      warmStart,
      numThreads: this.options.numThreads,
    });
    /** Extends `base` (same theta and standardization) with the fresh rows. */
    const extend = async (base: ModelCache, nAtFit: number): Promise<ModelCache> => {
      if (fresh.length === 0) return nAtFit === base.nAtFit ? base : { ...base, nAtFit };
      const { x, y } = encodeRows(fresh, base.outcome);
      const model = await base.model.append(x, y, fresh.length);
      return { ...base, model, trialIds: [...base.trialIds, ...fresh.map((o) => o.trialId)], nAtFit };
    };

    const raw = new Float64Array(n);
    observations.forEach((o, i) => {
      raw[i] = o.value;
    });
    // Fitted on all n observations, only when a model is (re)built: appends keep the cached one.
    let fittedOutcome: OutcomeTransform | null = null;
    const outcome = (): OutcomeTransform => (fittedOutcome ??= fitOutcomeTransform(raw, this.options.outcomeTransform, this.options.priorMean));
    /**
     * A recorded fit the refit policy would not refit yet (in the range where every refit is a
     * fit on all rows): the model is built at its theta, as the sampler that recorded it would
     * have appended to its own. Null when not applicable or when the build fails.
     */
    const restore = async (): Promise<ModelCache | null> => {
      if (stored === null || weights !== null || this.rebuild !== null || n < policy.refitEveryTrialBelow || n > policy.fitSubsetMax) return null;
      const growth = n - stored.nAtFit;
      if (growth < 0 || growth >= Math.ceil(stored.nAtFit / policy.refitGrowthDivisor)) return null;
      const { x, y } = encodeRows(observations, outcome());
      try {
        const model = await backend.build({ x, y, n, d, isCategorical }, stored.theta, {
          kernel: this.options.kernel,
          deterministic: this.options.deterministic,
          numThreads: this.options.numThreads,
        });
        return {
          signature,
          space: spaceSignature,
          model,
          trialIds: observations.map((o) => o.trialId),
          outcome: outcome(),
          nAtFit: stored.nAtFit,
          nAtBuild: n,
          deferredIds: NO_IDS,
          provisional: false,
        };
      } catch {
        return null; // fitted below instead, warm-started from the same theta
      }
    };

    let next: ModelCache;
    let kind: ModelUpdateKind;
    let fitTrialIds: readonly number[] = [];
    let thetaChange = Number.NaN;
    const restored = usable === null ? await restore() : null;
    if (restored !== null) {
      next = restored;
      kind = 'restored';
    } else if (usable !== null && !refitDue) {
      next = await extend(usable, usable.nAtFit);
      kind = swap !== null ? 'rebuilt' : fresh.length === 0 ? 'reuse' : 'append';
    } else {
      /**
       * MAP fit on `rows`. Without a previous theta, on more than coldFitScreenSize rows, it runs
       * on a subset of that size first (COLD_FIT_SCREEN_RESTARTS); then one start from there runs on
       * all rows, to convergence or (`provisionalFirstFit`) for PROVISIONAL_FIT_ITERATIONS
       * iterations, the model then marked provisional so that the next suggestion finishes the
       * refinement (see the file header).
       */
      const fitRows = async (rows: readonly Observation[], provisionalFirstFit: boolean): Promise<{ model: FittedGp; provisional: boolean }> => {
        let from = start;
        const { x, y } = encodeRows(rows, outcome());
        const data = { x, y, n: rows.length, d, isCategorical };
        if (from === null && rows.length > policy.coldFitScreenSize) {
          const rowValues = Float64Array.from(rows, (o) => o.value);
          const screenIds = selectFitSubset({
            trialIds: rows.map((o) => o.trialId),
            values: rowValues,
            size: policy.coldFitScreenSize,
            nBest: Math.floor(policy.coldFitScreenSize / 4),
            seed: deriveSeed(this.options.seed, 'fit-screen'),
          });
          const screen = encodeRows(screenIds.map((id) => byId.get(id) as Observation), outcome());
          const screened = await backend.fit(
            { x: screen.x, y: screen.y, n: screenIds.length, d, isCategorical },
            { ...fitOptions(null), nRestarts: COLD_FIT_SCREEN_RESTARTS, maxIterations: COLD_FIT_SCREEN_ITERATIONS },
          );
          from = Float64Array.from(screened.theta);
          screened.dispose();
          if (provisionalFirstFit) {
            const model = await backend.fit(data, { ...fitOptions(from), maxIterations: PROVISIONAL_FIT_ITERATIONS });
            return { model, provisional: true };
          }
        }
        return { model: await backend.fit(data, fitOptions(from)), provisional: false };
      };
      if (n <= policy.fitSubsetMax) {
        const { model, provisional } = await fitRows(observations, true);
        next = {
          signature,
          space: spaceSignature,
          model,
          trialIds: observations.map((o) => o.trialId),
          outcome: outcome(),
          nAtFit: n,
          nAtBuild: n,
          deferredIds: NO_IDS,
          provisional,
        };
        kind = provisional ? 'fit-screened' : 'fit';
        fitTrialIds = next.trialIds;
      } else {
        // Subset refit (see the file header): theta from fitSubsetMax observations.
        const subsetIds = selectFitSubset({
          trialIds: observations.map((o) => o.trialId),
          values: raw,
          size: policy.fitSubsetMax,
          nBest: policy.fitSubsetBest,
          seed: deriveSeed(this.options.seed, 'fit-subset'),
        });
        fitTrialIds = subsetIds;
        const inSubset = new Set(subsetIds);
        const subset = subsetIds.map((id) => byId.get(id) as Observation);
        const rest = observations.filter((o) => !inSubset.has(o.trialId));
        const subsetModel = (await fitRows(subset, false)).model;
        if (usable !== null) thetaChange = maxAbsDifference(usable.model.theta, subsetModel.theta);
        const complete = usable !== null && usable.deferredIds.size === 0 ? usable : null;
        const keep = complete !== null && thetaChange <= policy.thetaRebuildTolerance && n < 2 * complete.nAtBuild;
        // The full model at the subset's theta: one factorization of all n rows (subset first).
        const full: ModelCache = {
          signature,
          space: spaceSignature,
          model: subsetModel,
          trialIds: [...subsetIds, ...rest.map((o) => o.trialId)],
          outcome: outcome(),
          nAtFit: n,
          nAtBuild: n,
          deferredIds: NO_IDS,
          provisional: false,
        };
        const theta = Float64Array.from(subsetModel.theta);
        // Async, so that anything thrown before the build's promise exists (the encoding, or a
        // custom backend's synchronous throw) rejects it: a background rebuild's failure must
        // reach BackgroundRebuild's handler, not the suggestion that started it.
        const buildFull = async (numThreads: number): Promise<FittedGp> => {
          const all = encodeRows([...subset, ...rest], outcome());
          return backend.build({ x: all.x, y: all.y, n, d, isCategorical }, theta, {
            kernel: this.options.kernel,
            deterministic: this.options.deterministic,
            numThreads,
          });
        };
        if (keep) {
          subsetModel.dispose();
          next = await extend(complete, n);
          kind = 'subset-kept';
        } else if (rest.length === 0) {
          next = full;
          kind = 'subset-rebuild';
        } else if (n > policy.backgroundRebuildAbove && weights === null) {
          // Serve from the previous full model, else from the subset model; rebuild behind it.
          // Not with several objectives: the rebuild would be swapped in only for its own
          // scalarization, and the next suggestion draws another (it was built and dropped at
          // every ask, each suggestion served by the subset model alone); they build at once.
          // Suggestions served by the full model meanwhile keep one core; those of the small
          // subset model need next to none.
          const threads = complete !== null ? Math.max(1, this.options.numThreads - 1) : this.options.numThreads;
          // The subset model's suggestions are cheap (fitSubsetMax rows), so more of them pass
          // before a build of n rows ends: two per fitSubsetMax rows (20 at n = 10,000).
          const lag =
            complete !== null
              ? policy.backgroundRebuildLag
              : Math.max(policy.backgroundRebuildLag, Math.ceil((SUBSET_SERVED_SUGGESTIONS_PER_SUBSET * n) / policy.fitSubsetMax));
          this.rebuild = new BackgroundRebuild(() => buildFull(threads), full, this.suggestions + lag);
          if (complete !== null) {
            subsetModel.dispose();
            next = await extend(complete, n);
          } else {
            next = { ...full, trialIds: subsetIds, nAtBuild: subset.length, deferredIds: new Set(rest.map((o) => o.trialId)) };
          }
          kind = 'subset-deferred';
        } else {
          try {
            next = { ...full, model: await buildFull(this.options.numThreads) };
          } finally {
            subsetModel.dispose();
          }
          kind = 'subset-rebuild';
        }
      }
    }
    if (next !== previous) {
      if (previous !== null && next.model !== previous.model) previous.model.dispose();
      this.cache = next;
    }
    // Training inputs and best target in model row order, for the incumbent.
    const rows = next.trialIds.length;
    const tx = new Float64Array(rows * d);
    let best = Number.NEGATIVE_INFINITY;
    let bestRow = 0;
    const current = next;
    current.trialIds.forEach((id, i) => {
      const o = byId.get(id) as Observation;
      encodeRow(o.params, tx, i * d);
      const target = current.outcome.apply(o.value);
      if (target > best) {
        best = target;
        bestRow = i;
      }
    });
    this.lastUpdate = {
      kind,
      n: current.model.n,
      fitTrialIds,
      theta: Float64Array.from(current.model.theta),
      thetaChange,
      updateMs: performance.now() - started,
      rebuildWaitMs: swap?.waitMs ?? 0,
    };
    // A converged theta (or fit size) this sampler has not recorded yet: record it (stored-fit.ts).
    let record: StoredFit | null = null;
    const last = this.recorded;
    const theta = current.model.theta;
    if (
      !current.provisional &&
      (last === null || last.key !== key || last.nAtFit !== current.nAtFit || maxAbsDifference(last.theta, theta) !== 0)
    ) {
      record = { key, nAtFit: current.nAtFit, theta: Float64Array.from(theta) };
      this.recorded = record;
    }
    return { cache: current, trainingX: tx, bestTarget: best, bestRow, record };
  }

  /**
   * Swaps a background rebuild in once its suggestion has come (waiting for it if needed), or
   * drops it when the space changed. Returns how long it waited, or null when nothing was swapped.
   */
  private async settleRebuild(signature: string, byId: ReadonlyMap<number, Observation>): Promise<{ waitMs: number } | null> {
    const pending = this.rebuild;
    if (pending === null) return null;
    const valid = pending.cache.signature === signature && pending.cache.trialIds.every((id) => byId.has(id));
    if (!valid) {
      pending.discard();
      this.rebuild = null;
      return null;
    }
    if (this.suggestions < pending.swapAt) return null;
    this.rebuild = null;
    const started = performance.now();
    const model = await pending.start();
    const waitMs = performance.now() - started;
    const served = this.cache;
    if (model === null) {
      // Keep serving the previous full model; a subset-served one cannot stand in for it.
      if (served !== null && served.deferredIds.size > 0) {
        served.model.dispose();
        this.cache = null;
      }
      return null;
    }
    this.cache = { ...pending.cache, model };
    if (served !== null) served.model.dispose();
    return { waitMs };
  }

  private backend(): Promise<SurrogateBackend> {
    if (this.backendPromise === null) {
      const choice = this.options.backend;
      this.backendPromise =
        typeof choice === 'string'
          ? getSurrogateBackend({ backend: choice, numThreads: this.options.numThreads })
          : Promise.resolve(choice);
    }
    return this.backendPromise;
  }
}

/**
 * With held dims (`search.fixedFeatures`), the maximizer of each model's posterior mean on the
 * slice they leave (rows of d), to centre the acquisition search's local candidates on; null
 * without held dims. The acquisition's own centres (the best observations) lie off that slice,
 * and so, snapped onto it, do their local candidates: where the model expects its best on the
 * slice depends on the held values (a trial enqueued with a learning rate, say, has its best
 * other parameters where that learning rate puts them). Without this, on a 5-D problem whose
 * best y depends on the held x (`(y_i - c_i x)^2`), logEI's search missed the narrow region
 * near the slice's best and went to the corners of the free dims, where the variance is.
 */
async function sliceCenters(models: readonly FittedGp[], search: AcquisitionSearch): Promise<Float64Array | null> {
  if (search.fixedFeatures === undefined) return null;
  const d = search.fixedFeatures.length;
  const out = new Float64Array(models.length * d);
  for (let i = 0; i < models.length; i++) {
    const best = await models[i].optimizeAcquisition({ ...search, kind: 'ucb', incumbent: 0, beta: 0 });
    out.set(best.x, i * d);
  }
  return out;
}

/**
 * The optimum's point, or the row of `centers` (sliceCenters) where the acquisition is higher. A
 * slice's best point is not a start of the acquisition search (its starts are the best candidates
 * and the best observation, off the slice), and where the model is sure of its best the
 * acquisition can be so narrow there that the local candidates around it miss it: in the example
 * of `sliceCenters`, 1 of 6 seeds still went to a corner (logEI -12.5 there, -10.5 at the slice's
 * best point).
 */
async function bestOf(
  model: FittedGp,
  optimum: AcquisitionOptimum,
  centers: Float64Array | null,
  acquisition: AcquisitionOptions,
): Promise<Float64Array> {
  if (centers === null) return optimum.x;
  const d = optimum.x.length;
  const m = centers.length / d;
  const { value } = await model.acquisition(centers, m, acquisition, false);
  let best = optimum.x;
  let bestValue = optimum.value;
  for (let i = 0; i < m; i++) {
    if (value[i] > bestValue) {
      bestValue = value[i];
      best = centers.slice(i * d, (i + 1) * d);
    }
  }
  return best;
}

/** A COMPLETE trial, or a PRUNED one with a last intermediate value that is not NaN. */
function isObservation(trial: FrozenTrial): boolean {
  if (trial.state !== 'PRUNED') return true;
  const step = trial.lastStep;
  return step !== null && !Number.isNaN(trial.intermediateValues[step]);
}

function maxAbsDifference(a: Float64Array, b: Float64Array): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let out = 0;
  for (let i = 0; i < a.length; i++) out = Math.max(out, Math.abs(a[i] - b[i]));
  return Number.isNaN(out) ? Number.POSITIVE_INFINITY : out;
}

/**
 * The point a finished trial was evaluated at, over `dims`: its stored params, or null when it
 * lacks one of them or stored it with another distribution (it failed before suggesting it, or
 * ran in another space).
 */
function evaluatedParams(trial: FrozenTrial, dims: readonly string[], space: SearchSpace): Readonly<Record<string, ParamValue>> | null {
  const out: Record<string, ParamValue> = {};
  for (const name of dims) {
    if (!hasOwn(trial.distributions, name)) return null;
    if (!distributionsEqual(trial.distributions[name], space[name])) return null;
    setOwn(out, name, trial.params[name]);
  }
  return out;
}

/**
 * The point a RUNNING trial is evaluating, over `dims`, or null when it is not (yet) in this space.
 * Persisted params win; then enqueued values; otherwise the relative proposal recorded at ask
 * time, which the trial's `suggest*` calls take whenever their distribution matches.
 */
function pendingParams(
  trial: FrozenTrial,
  dims: readonly string[],
  space: SearchSpace,
  returned: Readonly<Record<string, ParamValue>> | undefined,
): Readonly<Record<string, ParamValue>> | null {
  const proposal = trial.systemAttrs[SystemAttr.relativeParams] ?? returned ?? null;
  const proposed =
    proposal !== null && typeof proposal === 'object' && !Array.isArray(proposal)
      ? (proposal as Readonly<Record<string, ParamValue>>)
      : {};
  // Enqueued values (enqueueTrial) win over any proposal in trial.suggest*, and the study leaves
  // them out of the space it asks the sampler to propose for: without them an enqueued trial was
  // never fantasized until its params were persisted.
  const enqueued = trial.systemAttrs[SystemAttr.fixedParams];
  const fixed =
    enqueued !== null && typeof enqueued === 'object' && !Array.isArray(enqueued)
      ? (enqueued as Readonly<Record<string, ParamValue>>)
      : {};
  const out: Record<string, ParamValue> = {};
  for (const name of dims) {
    const stored = getOwn(trial.distributions, name);
    if (stored !== undefined) {
      if (!distributionsEqual(stored, space[name])) return null;
      setOwn(out, name, trial.params[name]);
    } else if (Object.prototype.hasOwnProperty.call(fixed, name)) {
      if (!contains(space[name], fixed[name])) return null; // the trial will fail on it
      setOwn(out, name, fixed[name]);
    } else if (hasOwn(proposed, name) && contains(space[name], proposed[name])) {
      setOwn(out, name, proposed[name]);
    } else {
      return null;
    }
  }
  return out;
}
