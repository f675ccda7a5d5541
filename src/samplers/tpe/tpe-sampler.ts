/**
 * TpeSampler: the Tree-structured Parzen Estimator (Bergstra, Bardenet, Bengio & Kegl 2011,
 * "Algorithms for Hyper-Parameter Optimization"; Watanabe 2023, "Tree-Structured Parzen Estimator:
 * Understanding Its Algorithm Components"), following Optuna's `TPESampler` (v4) option by option.
 *
 * - Startup: until `nStartupTrials` trials are COMPLETE or PRUNED, independent random sampling.
 * - Split: the finished trials are split into "below" (the gamma(n) best, direction-aware; PRUNED
 *   trials fill up by the last step reached, then by their value there) and "above" (the rest);
 *   FAIL trials are ignored. With `constantLiar`, RUNNING trials (other than the one sampled) join
 *   "above" with the parameters known for them, i.e. as if they had the worst value, so that
 *   concurrent workers spread out (Optuna's `constant_liar`).
 * - Model: a Parzen estimator l(x) over "below" and g(x) over "above" (./parzen-estimator.ts), in
 *   the encoded coordinates of src/space/encode.ts (log dims in log space, ints and stepped floats
 *   as grid cells, log ints as cells in log space, categoricals as choice indices).
 * - Proposal: `nEiCandidates` draws from l(x); the one maximizing log l(x) - log g(x) (which ranks
 *   like expected improvement; Bergstra et al. 2011, eq. 5) is returned.
 * - Independent TPE (default): one parameter at a time in `sampleIndependent`, which is
 *   synchronous, so the study's trials are loaded in `beforeTrial` and the snapshot is cached per
 *   study object and trial id (refreshed with the trials this sampler has seen finish since, and
 *   with the values it proposed for trials still running). Multivariate TPE (`multivariate: true`; Falkner, Klein
 *   & Hutter 2018, "BOHB") models the intersection search space of the COMPLETE and PRUNED trials
 *   jointly in `sampleRelative`; with `group: true` that space is decomposed into groups of
 *   parameters that always appear together (Optuna's `group`), each modelled jointly.
 * - Cost: the split (an O(n log n) sort of the n trials, plus the constant liar's running trials)
 *   is per-ask work, done once per ask and shared by all its parameters and groups (`AskContext`,
 *   rebuilt only when a trial finishes or another trial's constant-liar record appears); each
 *   parameter then encodes its column, O(n), and builds its two estimators, O(n) kernels each,
 *   scored at `nEiCandidates` points.
 * - Reproducible for a fixed seed (sequential runs): each draw comes from an `Rng` seeded with
 *   (seed, trial number, parameter or group), never from a shared stream.
 * - Single objective only (`singleObjective`): `createStudy`, `loadStudy` and the `Study`
 *   constructor refuse it on a study with several directions, before any trial exists.
 *   `beforeTrial` and `sampleRelative` still check, for a caller that drives the sampler through a
 *   `StudyView` of its own (not a `Study`), which those checks cannot see.
 */
import { InvalidOptionError, KestrelError } from '../../errors.js';
import { contains, distributionsEqual, isSingle } from '../../space/distributions.js';
import { decode, encode, gridSpacing, logIntBounds } from '../../space/encode.js';
import { intersectionSearchSpace } from '../../space/intersection.js';
import type { Distribution, ParamValue, Params, SearchSpace } from '../../space/types.js';
import type { FrozenTrial } from '../../trial/frozen-trial.js';
import type { StudyView } from '../../trial/study-view.js';
import { SystemAttr } from '../../trial/system-attrs.js';
import type { StudyDirection, TrialState } from '../../trial/types.js';
import { setOwn } from '../../util/own-keys.js';
import { Rng, deriveSeed, resolveSeed } from '../../util/prng.js';
import { warnOnce } from '../../util/warn.js';
import { RandomSampler, checkSamplerOptions } from '../random-sampler.js';
import type { Sampler } from '../sampler.js';
import { defaultGamma, defaultWeights } from './defaults.js';
import { ParzenEstimator } from './parzen-estimator.js';
import { splitTrials } from './split.js';
import { optionKeys } from '../../util/options.js';

/** Snapshots and pending records kept at most (oldest dropped first) when trials are never told. */
const MAX_TRACKED_TRIALS = 4096;
/**
 * Per-ask splits kept at most (oldest dropped first). Each holds O(n) sources, so this bounds the
 * memory of many trials asked and never told; a trial whose split was dropped rebuilds it (same
 * result, one more sort).
 */
const MAX_ASK_CONTEXTS = 32;

/** Options of `new TpeSampler(...)`, Optuna's `TPESampler` options camelCased; an unknown name throws `InvalidOptionError`. */
export interface TpeSamplerOptions {
  /** Seed of every random stream (default: a random seed). */
  readonly seed?: number;
  /** Random trials before TPE takes over, counted as COMPLETE + PRUNED trials (default 10). */
  readonly nStartupTrials?: number;
  /** Candidates drawn from l(x) per suggestion (default 24). */
  readonly nEiCandidates?: number;
  /**
   * Number of "below" trials among n finished ones (default `defaultGamma`: min(ceil(0.1 n), 25)).
   * Called once per ask after the startup trials (the split is shared by all its parameters), so
   * it should be a pure function of n.
   */
  readonly gamma?: (n: number) => number;
  /**
   * Weights of n observations in trial-number order, n non-negative finite numbers (default
   * `defaultWeights`: older trials ramp down once there are more than 25). Called once per ask
   * and distinct n (parameters of a conditional space can see different n); a pure function of n.
   */
  readonly weights?: (n: number) => ArrayLike<number>;
  /** Weight of the prior kernel, > 0 (default 1). */
  readonly priorWeight?: number;
  /** Clip bandwidths to at least range / min(100, 1 + kernels) (default true). */
  readonly considerMagicClip?: boolean;
  /** Let the outermost kernels' bandwidths see the domain end points (default false). */
  readonly considerEndpoints?: boolean;
  /** Model the intersection search space jointly (default false). */
  readonly multivariate?: boolean;
  /** With `multivariate`, model groups of parameters that co-occur separately (default false). */
  readonly group?: boolean;
  /** Count RUNNING trials as "above" (worst) so concurrent suggestions spread (default false). */
  readonly constantLiar?: boolean;
  /** With `multivariate`, warn once when a parameter is sampled independently (default true). */
  readonly warnIndependentSampling?: boolean;
}

interface ResolvedOptions {
  readonly seed: number;
  readonly nStartupTrials: number;
  readonly nEiCandidates: number;
  readonly gamma: (n: number) => number;
  readonly weights: (n: number) => ArrayLike<number>;
  readonly priorWeight: number;
  readonly considerMagicClip: boolean;
  readonly considerEndpoints: boolean;
  readonly multivariate: boolean;
  readonly group: boolean;
  readonly constantLiar: boolean;
  readonly warnIndependentSampling: boolean;
}

/** The study's trials as loaded for one trial. */
interface Snapshot {
  readonly directions: readonly StudyDirection[];
  readonly trials: readonly FrozenTrial[];
  /** Value of the sampler's event counter when loading started. */
  readonly epoch: number;
}

/** Values this sampler proposed for a trial that has not finished (for the constant liar). */
interface PendingRecord {
  readonly number: number;
  readonly values: Map<string, { readonly distribution: Distribution; readonly value: ParamValue }>;
}

/** A trial as a source of observations: finished, or running with the values known for it. */
interface Source {
  readonly number: number;
  readonly trial: FrozenTrial | null;
  readonly pending: PendingRecord | undefined;
}

/**
 * What one ask shares between its parameters (and, in multivariate mode, its groups): the
 * trials other than the one sampled, split once into the sources of l(x) and g(x). Building it is
 * O(n log n) in the study's trials; encoding one parameter's column from it is O(n). Valid while
 * the sampler state it was built from is unchanged: the same snapshot and `StudyState.version`.
 */
interface AskContext {
  readonly snapshot: Snapshot;
  /** `StudyState.version` this context reflects (advanced by `recordPending` for the own trial). */
  version: number;
  /** COMPLETE + PRUNED trials of the snapshot, the sampled one included (the startup count). */
  readonly nFinished: number;
  /** The snapshot's trials (as `effectiveTrials`) other than the sampled one. */
  readonly trials: readonly FrozenTrial[];
  /** Built by `splitOf` on the first TPE suggestion (not during startup, where gamma is not called). */
  split: { readonly below: readonly Source[]; readonly above: readonly Source[] } | null;
  /** Validated `weights(n)` by n: parameters of a conditional space see different n. */
  readonly weights: Map<number, Float64Array>;
}

/**
 * What the sampler keeps for one study it serves, by trial id. Trial ids are unique within a
 * storage only (every in-memory study numbers its trials from 0), so one sampler serving several
 * studies keeps each one's records apart.
 */
interface StudyState {
  readonly snapshots: Map<number, Snapshot>;
  /** The most recently loaded snapshot (for a `sampleIndependent` without `beforeTrial`). */
  latest: Snapshot | null;
  readonly finished: Map<number, { readonly trial: FrozenTrial; readonly epoch: number }>;
  readonly pending: Map<number, PendingRecord>;
  /** Per-ask splits by trial id (see `AskContext`). */
  readonly contexts: Map<number, AskContext>;
  /**
   * Advanced whenever `finished` or the set of `pending` records changes, i.e. whenever the sources
   * of an ask could change; values added to an existing pending record are read when encoding.
   */
  version: number;
}

/** Every TpeSamplerOptions key, checked against the interface at compile time. */
const OPTION_KEYS = optionKeys<TpeSamplerOptions>()(['seed', 'nStartupTrials', 'nEiCandidates', 'gamma', 'weights', 'priorWeight', 'considerMagicClip', 'considerEndpoints', 'multivariate', 'group', 'constantLiar', 'warnIndependentSampling']);

/**
 * The tree-structured Parzen estimator, following Optuna 4's `TPESampler` and its defaults
 * (10 random startup trials, 24 candidates, independent, no constant liar unless asked); one
 * objective only. See the file header for the algorithm.
 */
export class TpeSampler implements Sampler {
  readonly name = 'tpe';
  /** TPE models one objective: a study with several directions refuses this sampler (`Sampler.singleObjective`). */
  readonly singleObjective = true;
  readonly seed: number;
  private readonly options: ResolvedOptions;
  private readonly random: RandomSampler;
  /** Per study object (see `StudyState`). */
  private readonly states = new WeakMap<StudyView, StudyState>();
  private epoch = 0;

  constructor(options: TpeSamplerOptions = {}) {
    this.options = resolveOptions(options);
    this.seed = this.options.seed;
    this.random = new RandomSampler({ seed: deriveSeed(this.seed, 'random') });
  }

  async beforeTrial(study: StudyView, trial: FrozenTrial): Promise<void> {
    checkSingleObjective(study);
    const epoch = ++this.epoch;
    const trials = await study.getTrials();
    this.remember(this.stateOf(study), trial.trialId, { directions: study.directions, trials, epoch });
  }

  private stateOf(study: StudyView): StudyState {
    let state = this.states.get(study);
    if (state === undefined) {
      state = { snapshots: new Map(), latest: null, finished: new Map(), pending: new Map(), contexts: new Map(), version: 0 };
      this.states.set(study, state);
    }
    return state;
  }

  async inferRelativeSearchSpace(study: StudyView, _trial: FrozenTrial): Promise<SearchSpace> {
    if (!this.options.multivariate) return {};
    const trials = await study.getTrials({ states: ['COMPLETE', 'PRUNED'] });
    const result: Record<string, Distribution> = {};
    if (this.options.group) {
      for (const group of groupDecomposition(trials)) {
        for (const [name, dist] of Object.entries(group)) if (!isSingle(dist)) setOwn(result, name, dist);
      }
    } else {
      for (const [name, dist] of Object.entries(intersectionSearchSpace(trials, { includePruned: true }))) {
        if (!isSingle(dist)) setOwn(result, name, dist);
      }
    }
    return result;
  }

  async sampleRelative(study: StudyView, trial: FrozenTrial, space: SearchSpace): Promise<Params> {
    if (!this.options.multivariate) return {};
    const names = Object.keys(space).filter((name) => !isSingle(space[name]));
    if (names.length === 0) return {};
    checkSingleObjective(study);
    const epoch = ++this.epoch;
    const trials = await study.getTrials();
    const snapshot: Snapshot = { directions: study.directions, trials, epoch };
    const state = this.stateOf(study);
    this.remember(state, trial.trialId, snapshot);
    if (countFinished(trials) < this.options.nStartupTrials) return {};

    const groups: string[][] = [];
    if (this.options.group) {
      const inSpace = new Set(names);
      for (const group of groupDecomposition(trials.filter((t) => t.state === 'COMPLETE' || t.state === 'PRUNED'))) {
        const members = Object.keys(group).filter((name) => inSpace.has(name)).sort();
        if (members.length > 0) groups.push(members);
      }
      const covered = new Set(groups.flat());
      for (const name of names) if (!covered.has(name)) groups.push([name]);
    } else {
      groups.push(names);
    }
    const params: Record<string, ParamValue> = {};
    for (const group of groups) {
      const dists = group.map((name) => space[name]);
      const rng = new Rng(deriveSeed(this.seed, trial.number, 'relative', group.join('\u0000')));
      const x = this.sampleEncoded(state, snapshot, trial, group, dists, rng);
      group.forEach((name, j) => {
        setOwn(params, name, decode(dists[j], x[j]));
      });
    }
    if (this.options.constantLiar) for (const name of names) this.recordPending(state, trial, name, space[name], params[name]);
    return params;
  }

  sampleIndependent(study: StudyView, trial: FrozenTrial, name: string, distribution: Distribution): ParamValue {
    const state = this.stateOf(study);
    const snapshot = state.snapshots.get(trial.trialId) ?? state.latest ?? undefined;
    let value: ParamValue;
    if (isSingle(distribution)) {
      value = this.random.sampleIndependent(study, trial, name, distribution);
    } else if (snapshot === undefined) {
      if (trial.number >= this.options.nStartupTrials) {
        warnOnce(
          'TPE_NO_SNAPSHOT',
          'TpeSampler: sampleIndependent was called without beforeTrial, so the study history is unknown; ' +
            'sampling at random',
        );
      }
      value = this.random.sampleIndependent(study, trial, name, distribution);
    } else if (this.askContext(state, snapshot, trial).nFinished < this.options.nStartupTrials) {
      value = this.random.sampleIndependent(study, trial, name, distribution);
    } else {
      if (this.options.multivariate && this.options.warnIndependentSampling) {
        warnOnce(
          'TPE_INDEPENDENT_SAMPLING',
          'TpeSampler (multivariate): parameters outside the relative search space (conditional or new ' +
            'parameters) are sampled by independent TPE',
        );
      }
      const rng = new Rng(deriveSeed(this.seed, trial.number, 'independent', name));
      const x = this.sampleEncoded(state, snapshot, trial, [name], [distribution], rng);
      value = decode(distribution, x[0]);
    }
    if (this.options.constantLiar) this.recordPending(state, trial, name, distribution, value);
    return value;
  }

  async afterTrial(
    study: StudyView,
    trial: FrozenTrial,
    _state: TrialState,
    _values: readonly number[] | null,
  ): Promise<void> {
    const state = this.stateOf(study);
    state.snapshots.delete(trial.trialId);
    state.contexts.delete(trial.trialId);
    state.pending.delete(trial.trialId);
    state.finished.set(trial.trialId, { trial, epoch: ++this.epoch });
    state.version++;
    pruneFinished(state);
  }

  /**
   * The per-ask context of `trial` (see `AskContext`), built on its first parameter and reused by
   * the next ones while `state.version` and the snapshot are unchanged.
   */
  private askContext(state: StudyState, snapshot: Snapshot, trial: FrozenTrial): AskContext {
    const cached = state.contexts.get(trial.trialId);
    if (cached !== undefined && cached.snapshot === snapshot && cached.version === state.version) return cached;
    const all = this.effectiveTrials(state, snapshot);
    const trials = all.filter((t) => t.trialId !== trial.trialId);
    const context: AskContext = {
      snapshot,
      version: state.version,
      nFinished: countFinished(all),
      trials,
      split: null,
      weights: new Map(),
    };
    state.contexts.delete(trial.trialId);
    state.contexts.set(trial.trialId, context);
    if (state.contexts.size > MAX_ASK_CONTEXTS) state.contexts.delete(state.contexts.keys().next().value as number);
    return context;
  }

  /**
   * The below / above sources of a context that `askContext` just returned for `trial` (so it
   * reflects the current state), split on first use.
   */
  private splitOf(state: StudyState, context: AskContext, trial: FrozenTrial): NonNullable<AskContext['split']> {
    if (context.split !== null) return context.split;
    const trials = context.trials;
    const nFinished = countFinished(trials);
    const nBelow = this.nBelow(nFinished);
    const split = splitTrials(trials, context.snapshot.directions[0], nBelow);
    const below: Source[] = split.below.map((t) => ({ number: t.number, trial: t, pending: undefined }));
    const above: Source[] = split.above.map((t) => ({ number: t.number, trial: t, pending: undefined }));
    if (this.options.constantLiar) {
      const seen = new Set<number>();
      for (const t of trials) {
        seen.add(t.trialId);
        if (t.state === 'RUNNING') above.push({ number: t.number, trial: t, pending: state.pending.get(t.trialId) });
      }
      for (const [trialId, record] of state.pending) {
        if (trialId === trial.trialId || seen.has(trialId)) continue;
        if (state.finished.has(trialId)) continue;
        above.push({ number: record.number, trial: null, pending: record });
      }
      above.sort((p, q) => p.number - q.number);
    }
    context.split = { below, above };
    return context.split;
  }

  /**
   * One encoded point over `names` (one coordinate per name): the ask's split (`askContext`), two
   * Parzen estimators, `nEiCandidates` draws from l(x), the best by log l(x) - log g(x).
   */
  private sampleEncoded(
    state: StudyState,
    snapshot: Snapshot,
    trial: FrozenTrial,
    names: readonly string[],
    dists: readonly Distribution[],
    rng: Rng,
  ): Float64Array {
    const d = names.length;
    const context = this.askContext(state, snapshot, trial);
    const { below, above } = this.splitOf(state, context, trial);
    const grid = new Float64Array(d);
    dists.forEach((dist, j) => {
      grid[j] = gridSpacing(dist);
    });
    const logInts = dists.map(logIntBounds);
    const build = (sources: readonly Source[]): ParzenEstimator => {
      const rows = encodeSources(sources, names, dists);
      return new ParzenEstimator({
        observations: rows.x,
        n: rows.n,
        d,
        grid,
        weights: this.observationWeights(context, rows.n),
        priorWeight: this.options.priorWeight,
        considerMagicClip: this.options.considerMagicClip,
        considerEndpoints: this.options.considerEndpoints,
        multivariate: this.options.multivariate,
        logIntBounds: logInts,
      });
    };
    const lower = build(below);
    const upper = build(above);
    const count = this.options.nEiCandidates;
    const candidates = lower.sample(rng, count);
    const logL = lower.logPdf(candidates, count);
    const logG = upper.logPdf(candidates, count);
    let best = 0;
    let bestScore = -Infinity;
    for (let c = 0; c < count; c++) {
      const score = logL[c] - logG[c];
      if (score > bestScore) {
        bestScore = score;
        best = c;
      }
    }
    return candidates.slice(best * d, best * d + d);
  }

  private nBelow(n: number): number {
    const value = this.options.gamma(n);
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      throw new InvalidOptionError('gamma', `a function returning a non-negative integer (called with ${n})`, value);
    }
    return value;
  }

  private observationWeights(context: AskContext, n: number): Float64Array {
    const known = context.weights.get(n);
    if (known !== undefined) return known;
    const raw = this.options.weights(n);
    if (raw === null || typeof raw !== 'object' || typeof raw.length !== 'number' || raw.length !== n) {
      throw new InvalidOptionError('weights', `a function returning ${n} weights (called with ${n})`, raw);
    }
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const w = raw[i];
      if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) {
        throw new InvalidOptionError('weights', 'a function returning non-negative finite weights', w);
      }
      out[i] = w;
    }
    context.weights.set(n, out);
    return out;
  }

  /** The snapshot's trials, each replaced by its finished version if this sampler saw it finish since. */
  private effectiveTrials(state: StudyState, snapshot: Snapshot): readonly FrozenTrial[] {
    if (state.finished.size === 0) return snapshot.trials;
    return snapshot.trials.map((t) => {
      const done = state.finished.get(t.trialId);
      return done !== undefined && done.epoch > snapshot.epoch ? done.trial : t;
    });
  }

  private remember(state: StudyState, trialId: number, snapshot: Snapshot): void {
    state.snapshots.delete(trialId);
    state.snapshots.set(trialId, snapshot);
    if (state.snapshots.size > MAX_TRACKED_TRIALS) state.snapshots.delete(state.snapshots.keys().next().value as number);
    if (state.latest === null || state.latest.epoch < snapshot.epoch) state.latest = snapshot;
  }

  private recordPending(state: StudyState, trial: FrozenTrial, name: string, distribution: Distribution, value: ParamValue): void {
    let record = state.pending.get(trial.trialId);
    if (record === undefined) {
      record = { number: trial.number, values: new Map() };
      state.pending.set(trial.trialId, record);
      let evicted = false;
      if (state.pending.size > MAX_TRACKED_TRIALS) {
        state.pending.delete(state.pending.keys().next().value as number);
        evicted = true;
      }
      // A new record changes the sources of every other ask; the own trial's ask never reads its
      // own record, so its context stays valid unless another trial's record was evicted.
      const own = state.contexts.get(trial.trialId);
      const ownCurrent = own !== undefined && own.version === state.version && !evicted;
      state.version++;
      if (ownCurrent) own.version = state.version;
    }
    record.values.set(name, { distribution, value });
  }
}

/** Drops the study's finished-trial records that no kept snapshot predates. */
function pruneFinished(state: StudyState): void {
  let oldest = Infinity;
  for (const s of state.snapshots.values()) oldest = Math.min(oldest, s.epoch);
  if (state.latest !== null) oldest = Math.min(oldest, state.latest.epoch);
  for (const [trialId, entry] of state.finished) if (entry.epoch <= oldest) state.finished.delete(trialId);
}

function countFinished(trials: readonly FrozenTrial[]): number {
  let n = 0;
  for (const t of trials) if (t.state === 'COMPLETE' || t.state === 'PRUNED') n++;
  return n;
}

function checkSingleObjective(study: StudyView): void {
  if (study.directions.length !== 1) {
    throw new InvalidOptionError(
      'sampler',
      `a sampler for one objective (TpeSampler models one; GpSampler, NsgaIiSampler, RandomSampler, SobolSampler or GridSampler take several)`,
      `TpeSampler on study "${study.studyName}" with ${study.directions.length} directions`,
    );
  }
}

/**
 * The value of `name` in a source, if it is a possible value of `dist`: a finished trial's stored
 * value; for a running trial its stored value, else the value this sampler proposed for it, else the
 * study's recorded relative proposal.
 */
function valueOf(source: Source, name: string, dist: Distribution): ParamValue | undefined {
  const t = source.trial;
  if (t !== null && Object.prototype.hasOwnProperty.call(t.params, name)) {
    const v = t.params[name];
    return contains(dist, v) ? v : undefined;
  }
  if (t !== null && t.state !== 'RUNNING') return undefined;
  const proposed = source.pending?.values.get(name);
  if (proposed !== undefined && contains(dist, proposed.value)) return proposed.value;
  if (t !== null) {
    const relative = t.systemAttrs[SystemAttr.relativeParams];
    if (relative !== null && typeof relative === 'object' && !Array.isArray(relative)) {
      const record = relative as Readonly<Record<string, ParamValue>>;
      if (Object.prototype.hasOwnProperty.call(record, name) && contains(dist, record[name])) return record[name];
    }
  }
  return undefined;
}

/** Encoded rows of the sources that have a usable value for every name (in source order). */
function encodeSources(
  sources: readonly Source[],
  names: readonly string[],
  dists: readonly Distribution[],
): { x: Float64Array; n: number } {
  const d = names.length;
  const x = new Float64Array(sources.length * d);
  let n = 0;
  const row = new Float64Array(d);
  outer: for (const source of sources) {
    for (let j = 0; j < d; j++) {
      const v = valueOf(source, names[j], dists[j]);
      if (v === undefined) continue outer;
      row[j] = encode(dists[j], v, names[j]);
    }
    x.set(row, n * d);
    n++;
  }
  return { x: x.subarray(0, n * d), n };
}

/**
 * Optuna's `_GroupDecomposedSearchSpace`: the parameters of the given trials partitioned into groups
 * that always occur together. A parameter whose distribution differs between trials is left out
 * (it is sampled independently).
 */
export function groupDecomposition(trials: readonly FrozenTrial[]): SearchSpace[] {
  let groups: Map<string, Distribution>[] = [];
  const conflicting = new Set<string>();
  const seen = new Map<string, Distribution>();
  for (const trial of trials) {
    const dists = trial.distributions;
    for (const [name, dist] of Object.entries(dists)) {
      const known = seen.get(name);
      if (known === undefined) seen.set(name, dist);
      else if (!distributionsEqual(known, dist)) conflicting.add(name);
    }
    let remaining = new Set(Object.keys(dists));
    const next: Map<string, Distribution>[] = [];
    for (const group of groups) {
      const inside = new Map<string, Distribution>();
      const outside = new Map<string, Distribution>();
      for (const [name, dist] of group) (remaining.has(name) ? inside : outside).set(name, dist);
      next.push(inside, outside);
      remaining = new Set([...remaining].filter((name) => !group.has(name)));
    }
    next.push(new Map([...remaining].map((name) => [name, dists[name]])));
    groups = next.filter((g) => g.size > 0);
  }
  const out: SearchSpace[] = [];
  for (const group of groups) {
    const space: Record<string, Distribution> = {};
    for (const name of [...group.keys()].sort()) if (!conflicting.has(name)) setOwn(space, name, group.get(name) as Distribution);
    if (Object.keys(space).length > 0) out.push(Object.freeze(space));
  }
  return out;
}

function resolveOptions(options: TpeSamplerOptions): ResolvedOptions {
  if (options === undefined || options === null) throw new InvalidOptionError('TpeSampler options', 'an object', options);
  checkSamplerOptions('TpeSampler', options, OPTION_KEYS);
  const count = (name: string, value: unknown, fallback: number, min: number): number => {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
      throw new InvalidOptionError(name, `an integer >= ${min}`, value);
    }
    return value;
  };
  const flag = (name: string, value: unknown, fallback: boolean): boolean => {
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') throw new InvalidOptionError(name, 'a boolean', value);
    return value;
  };
  const fn = <T>(name: string, value: unknown, fallback: T): T => {
    if (value === undefined) return fallback;
    if (typeof value !== 'function') throw new InvalidOptionError(name, 'a function of the number of trials', value);
    return value as T;
  };
  const priorWeight = options.priorWeight ?? 1;
  if (typeof priorWeight !== 'number' || !Number.isFinite(priorWeight) || priorWeight <= 0) {
    throw new InvalidOptionError('priorWeight', 'a finite number > 0', priorWeight);
  }
  const multivariate = flag('multivariate', options.multivariate, false);
  const group = flag('group', options.group, false);
  if (group && !multivariate) throw new InvalidOptionError('group', 'false unless multivariate is true', group);
  return {
    seed: resolveSeed('seed', options.seed),
    nStartupTrials: count('nStartupTrials', options.nStartupTrials, 10, 0),
    nEiCandidates: count('nEiCandidates', options.nEiCandidates, 24, 1),
    gamma: fn<(n: number) => number>('gamma', options.gamma, defaultGamma),
    weights: fn<(n: number) => ArrayLike<number>>('weights', options.weights, defaultWeights),
    priorWeight,
    considerMagicClip: flag('considerMagicClip', options.considerMagicClip, true),
    considerEndpoints: flag('considerEndpoints', options.considerEndpoints, false),
    multivariate,
    group,
    constantLiar: flag('constantLiar', options.constantLiar, false),
    warnIndependentSampling: flag('warnIndependentSampling', options.warnIndependentSampling, true),
  };
}
