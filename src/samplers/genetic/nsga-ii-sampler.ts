/**
 * NsgaIiSampler: the elitist non-dominated sorting genetic algorithm (NSGA-II; Deb, Pratap,
 * Agarwal & Meyarivan, IEEE Trans. Evol. Comput. 6(2), 2002) with Optuna's `NSGAIISampler`
 * semantics, for one objective or several.
 *
 * - Generations are derived from trial numbers: trial t belongs to generation
 *   g(t) = floor(t / populationSize). (Optuna writes the generation into a trial system attribute
 *   when the trial is asked; a Kestrel sampler cannot write to storage, so the mapping is a pure
 *   function of the trial number instead: every worker and every resumed process agrees on it.)
 *   Generation 0 is sampled independently at random (`RandomSampler`).
 * - Elitist survival: with C_k the COMPLETE trials of generation k, the parent populations are
 *   P_0 = elite(C_0) and P_k = elite(P_{k-1} u C_k), where elite keeps `populationSize` trials by
 *   (constrained) non-domination rank, the last front cut by crowding distance (largest first, ties
 *   by trial number). A child of generation g >= 1 is bred from P_{g-1}. FAIL, PRUNED and RUNNING
 *   trials are not individuals; a generation with failures simply contributes fewer. When trials
 *   run concurrently, a child may be asked before its parents' generation has finished; P_{g-1}
 *   then holds what was COMPLETE at that moment (as Optuna, such runs are not reproducible).
 * - Selection: binary tournament with Deb's crowded-comparison operator (lower front wins, then
 *   larger crowding distance, then a coin), ranks and crowding computed within P_{g-1}. The two
 *   parents are distinct trials when P_{g-1} has two or more.
 * - Variation: with probability `crossoverProb` a child is the crossover of two parents, else a copy
 *   of one tournament winner. Numeric parameters cross over in the encoded unit space
 *   (`encode`/`decode`: log, step and int handled there) by uniform, BLX-alpha or SBX crossover
 *   (crossover.ts); categorical ones (`gridSpacing` > 1) take parent 2's choice with probability
 *   `swappingProb`. A BLX-alpha child that leaves the unit cube is redrawn (new parents too, as
 *   Optuna) up to 16 times, then clamped by `decode`. Then each parameter is mutated with
 *   probability `mutationProb` (default 1 / number of parameters): redrawn uniformly, as
 *   `RandomSampler` would. Every value goes through `decode`, so it is always feasible.
 * - Objectives: minimized as given, negated for `maximize`. Constraints: with `constraintsFunc`,
 *   a COMPLETE trial is feasible when every returned value is <= 0; domination is Deb's
 *   constrained domination (feasible first, infeasible ranked by total violation), as Optuna.
 *   The function is called once per COMPLETE or PRUNED trial, at `study.tell`, and its values are
 *   stored with the trial's result in `systemAttrs.constraints` (Optuna's key; null when the
 *   function failed), so they persist in storage, survive a reload and make `study.bestTrial()` /
 *   `bestTrials()` keep feasible trials only. Its errors surface at `tell`, after the trial is
 *   recorded. Trials finished elsewhere (other workers, resumed studies) are read from the stored
 *   values; only a COMPLETE trial without them (told through a view with no study behind it) is
 *   evaluated lazily. A trial whose constraints are invalid (the function throws, or returns
 *   something other than an array of finite numbers) is infeasible with penalty +Infinity, ranked
 *   last (Optuna ranks a trial without constraint values last). PRUNED trials are not individuals.
 * - Cost: each ask reads the COMPLETE trials but evaluates (individual, constraints, intersection
 *   space) only those completed since the previous ask, and re-selects only the generations whose
 *   candidates changed; what is cached is kept per study object, so one sampler may serve several.
 * - Relative space: the intersection of the distributions of COMPLETE trials; single-valued
 *   distributions are fixed. Parameters outside it are sampled independently at random.
 * - Reproducible for a fixed seed in sequential runs: every random draw of trial t comes from a
 *   stream derived from (seed, t).
 */
import { InvalidOptionError, KestrelError } from '../../errors.js';
import { distributionsEqual, isSingle } from '../../space/distributions.js';
import { decode, encode, gridSpacing } from '../../space/encode.js';
import { intersectionSearchSpace, type TrialDistributions } from '../../space/intersection.js';
import type { Distribution, ParamValue, Params, SearchSpace } from '../../space/types.js';
import type { FrozenTrial } from '../../trial/frozen-trial.js';
import type { StudyView } from '../../trial/study-view.js';
import { SystemAttr, storedConstraints } from '../../trial/system-attrs.js';
import type { JsonValue, StudyDirection, TrialState } from '../../trial/types.js';
import { Rng, deriveSeed, resolveSeed } from '../../util/prng.js';
import { RandomSampler, checkSamplerOptions } from '../random-sampler.js';
import type { Sampler } from '../sampler.js';
import { ConstraintsRecorder, evaluateConstraints, resolveConstraintsFunc, type ConstraintsFunc } from '../constraints.js';
import { CROSSOVER_KINDS, crossover, type CrossoverKind, type CrossoverSettings } from './crossover.js';
import { constrainedRanks, crowdingDistances, frontsOf } from './non-dominated-sort.js';
import { optionKeys } from '../../util/options.js';
import { setOwn } from '../../util/own-keys.js';
import { warnOnce } from '../../util/warn.js';

/** Redraws of a crossover child that left the unit cube before it is clamped. */
const MAX_CROSSOVER_TRIES = 16;

/** Options of `new NsgaIiSampler(...)`, with Optuna's `NSGAIISampler` defaults; an unknown name throws `InvalidOptionError`. */
export interface NsgaIiSamplerOptions {
  /** Seed of every random stream (default: a random seed from crypto). */
  readonly seed?: number;
  /** Individuals per generation, an integer >= 2 (default 50). */
  readonly populationSize?: number;
  /** Probability that a parameter of a child is redrawn at random; null (default): 1 / number of parameters. */
  readonly mutationProb?: number | null;
  /** 'uniform' (default), 'blxalpha' or 'sbx'. */
  readonly crossover?: CrossoverKind;
  /** Probability that a child is a crossover rather than a copy of one parent (default 0.9). */
  readonly crossoverProb?: number;
  /** Probability that a gene comes from the second parent (uniform crossover, categoricals; default 0.5). */
  readonly swappingProb?: number;
  /** BLX-alpha interval extension (default 0.5). */
  readonly blxAlpha?: number;
  /** SBX distribution index; null (default): 2 for one objective, 20 for several (as Optuna). */
  readonly sbxEta?: number | null;
  /**
   * Constraint values of a COMPLETE or PRUNED trial (as Optuna): finite numbers, in an array or a
   * typed array (stored as plain numbers), the trial feasible when all are <= 0. Called once per trial at `study.tell`, with the trial as it will be
   * stored (a PRUNED trial's `values` hold its last reported value, or null); the values are stored
   * in `trial.systemAttrs.constraints`. Read `trial.params`, `trial.values` or `trial.userAttrs`.
   */
  readonly constraintsFunc?: ConstraintsFunc;
}

interface ResolvedOptions {
  readonly seed: number;
  readonly populationSize: number;
  readonly mutationProb: number | null;
  readonly crossover: CrossoverKind;
  readonly crossoverProb: number;
  readonly swappingProb: number;
  readonly blxAlpha: number;
  readonly sbxEta: number | null;
  readonly constraintsFunc: ConstraintsFunc | null;
}

/** An individual: a COMPLETE trial with its losses (to minimize) and constraint violation. */
interface Individual {
  readonly trial: FrozenTrial;
  readonly loss: readonly number[];
  /** sum_k max(0, c_k); 0 when feasible or without constraints. */
  readonly penalty: number;
}

/** A parent population with the front index and crowding distance of each member, within it. */
interface Population {
  /**
   * What it was selected from (cache key): the previous population (by identity) and the count
   * and id sum of the generation's COMPLETE individuals. COMPLETE is final and a trial's values
   * never change, so the set of a generation's individuals only grows: equal counts mean equal sets.
   */
  readonly previous: Population | null;
  readonly nFresh: number;
  readonly freshIdSum: number;
  readonly members: readonly Individual[];
  readonly rank: Int32Array;
  readonly crowding: Float64Array;
}

/** Caches of one study (see `NsgaIiSampler.state`). */
interface StudyState {
  /** P_k by generation k (recomputed when its candidates change). */
  readonly populations: Map<number, Population>;
  /** Constraint violation by trial id. */
  readonly penalties: Map<number, number>;
  /** COMPLETE trials as individuals (null: values that do not fit the study), by trial id. */
  readonly individuals: Map<number, Individual | null>;
  /** The ids of the COMPLETE trials `space` is the intersection search space of. */
  readonly seen: Set<number>;
  space: SearchSpace | null;
}

/** Every NsgaIiSamplerOptions key, checked against the interface at compile time. */
const OPTION_KEYS = optionKeys<NsgaIiSamplerOptions>()(['seed', 'populationSize', 'mutationProb', 'crossover', 'crossoverProb', 'swappingProb', 'blxAlpha', 'sbxEta', 'constraintsFunc']);

/**
 * The NSGA-II genetic algorithm for one objective or several, with Optuna's `NSGAIISampler`
 * semantics and constrained domination (`constraintsFunc`). See the file header for how
 * generations, parents and children are formed and where it differs from Optuna.
 */
export class NsgaIiSampler implements Sampler {
  readonly name = 'nsga2';
  private readonly options: ResolvedOptions;
  private readonly random: RandomSampler;
  /** With `constraintsFunc`: the values stored at tell and the errors thrown from afterTrial (constraints.ts). */
  private readonly recorder: ConstraintsRecorder | null;
  /**
   * What this sampler has derived from each study it served (trial ids are per storage, so
   * nothing is shared between studies). Every ask reads the COMPLETE trials, but only those
   * completed since the last ask are evaluated again; re-evaluating all of them made each ask
   * O(n) in costly work and a 5,000-trial study quadratic.
   */
  private readonly state = new WeakMap<StudyView, StudyState>();

  constructor(options?: NsgaIiSamplerOptions) {
    this.options = resolveOptions(checkSamplerOptions('NsgaIiSampler', options, OPTION_KEYS));
    this.random = new RandomSampler({ seed: deriveSeed(this.options.seed, 'random') });
    this.recorder = this.options.constraintsFunc === null ? null : new ConstraintsRecorder(this.options.constraintsFunc);
  }

  /** The individuals per generation. */
  get populationSize(): number {
    return this.options.populationSize;
  }

  /** The generation of trial number `trialNumber`: floor(trialNumber / populationSize). */
  generationOf(trialNumber: number): number {
    return Math.floor(trialNumber / this.options.populationSize);
  }

  async inferRelativeSearchSpace(study: StudyView, _trial: FrozenTrial): Promise<SearchSpace> {
    const cache = this.stateOf(study);
    const fresh: TrialDistributions[] = cache.space === null ? [] : [{ state: 'COMPLETE', distributions: cache.space }];
    for (const t of await study.getTrials({ states: ['COMPLETE'] })) {
      if (t.state !== 'COMPLETE' || cache.seen.has(t.trialId)) continue;
      cache.seen.add(t.trialId);
      fresh.push(t);
    }
    if (cache.space === null ? fresh.length > 0 : fresh.length > 1) cache.space = intersectionSearchSpace(fresh);
    return cache.space ?? intersectionSearchSpace([]);
  }

  async sampleRelative(study: StudyView, trial: FrozenTrial, space: SearchSpace): Promise<Params> {
    const generation = this.generationOf(trial.number);
    if (generation === 0) return {};
    const names = Object.keys(space);
    if (names.length === 0) return {};
    const fixed: Record<string, ParamValue> = {};
    const dims: string[] = [];
    for (const name of names) {
      if (isSingle(space[name])) setOwn(fixed, name, decode(space[name], 0));
      else dims.push(name);
    }
    if (dims.length === 0) return fixed;

    const parents = await this.parentPopulation(study, generation - 1);
    if (parents === null) return {};
    // Only parents that hold every dimension with the same distribution can be crossed over here.
    const eligible: number[] = [];
    parents.members.forEach((ind, i) => {
      if (dims.every((n) => n in ind.trial.params && sameDistribution(ind.trial.distributions[n], space[n]))) eligible.push(i);
    });
    if (eligible.length === 0) return {};

    const rng = new Rng(deriveSeed(this.options.seed, trial.number, 'nsga2'));
    const child = this.breed(rng, parents, eligible, dims, space, study.directions.length);
    const params: Record<string, ParamValue> = { ...fixed };
    const mutationProb = this.options.mutationProb ?? 1 / dims.length;
    for (const name of dims) {
      setOwn(params, name, rng.nextFloat() < mutationProb ? this.random.sampleIndependent(study, trial, name, space[name]) : child[name]);
    }
    return params;
  }

  private stateOf(study: StudyView): StudyState {
    let state = this.state.get(study);
    if (state === undefined) {
      state = { populations: new Map(), penalties: new Map(), individuals: new Map(), seen: new Set(), space: null };
      this.state.set(study, state);
    }
    return state;
  }

  sampleIndependent(study: StudyView, trial: FrozenTrial, name: string, distribution: Distribution): ParamValue {
    return this.random.sampleIndependent(study, trial, name, distribution);
  }

  /**
   * The constraint values of a COMPLETE or PRUNED trial, to be stored with its result as
   * `constraints` (null when `constraintsFunc` failed; its error is thrown by `afterTrial`).
   */
  async finishSystemAttrs(
    study: StudyView,
    trial: FrozenTrial,
    state: 'COMPLETE' | 'PRUNED' | 'FAIL',
    _values: readonly number[] | null,
  ): Promise<Readonly<Record<string, JsonValue>>> {
    if (this.recorder === null || state === 'FAIL') return {};
    const { attrs, constraints } = this.recorder.finish(study, trial, state);
    this.stateOf(study).penalties.set(trial.trialId, constraints === null ? Number.POSITIVE_INFINITY : violation(constraints));
    return attrs;
  }

  async afterTrial(
    study: StudyView,
    trial: FrozenTrial,
    state: TrialState,
    _values: readonly number[] | null,
  ): Promise<void> {
    if (this.recorder === null) return;
    const error = this.recorder.takeError(study, trial);
    if (error !== undefined) throw error;
    // Told through a view without `finishSystemAttrs` (nothing stored): evaluate now.
    if (state === 'COMPLETE') this.penalty(this.stateOf(study), trial, true);
  }

  /** Selection and crossover: the child's values over `dims` (before mutation). */
  private breed(
    rng: Rng,
    parents: Population,
    eligible: readonly number[],
    dims: readonly string[],
    space: SearchSpace,
    nObjectives: number,
  ): Record<string, ParamValue> {
    const child: Record<string, ParamValue> = {};
    if (eligible.length === 1 || rng.nextFloat() >= this.options.crossoverProb) {
      const parent = parents.members[tournament(rng, parents, eligible, -1)].trial;
      for (const name of dims) setOwn(child, name, parent.params[name]);
      return child;
    }
    const numeric = dims.filter((n) => gridSpacing(space[n]) <= 1);
    const categorical = dims.filter((n) => gridSpacing(space[n]) > 1);
    const settings: CrossoverSettings = {
      kind: this.options.crossover,
      swappingProb: this.options.swappingProb,
      blxAlpha: this.options.blxAlpha,
      sbxEta: this.options.sbxEta ?? (nObjectives === 1 ? 2 : 20),
    };
    for (let attempt = 1; ; attempt++) {
      const first = tournament(rng, parents, eligible, -1);
      const second = tournament(rng, parents, eligible, first);
      const p0 = parents.members[first].trial.params;
      const p1 = parents.members[second].trial.params;
      for (const name of categorical) setOwn(child, name, rng.nextFloat() < this.options.swappingProb ? p1[name] : p0[name]);
      if (numeric.length === 0) return child;
      const x0 = Float64Array.from(numeric, (n) => encode(space[n], p0[n], n));
      const x1 = Float64Array.from(numeric, (n) => encode(space[n], p1[n], n));
      const x = crossover(settings, x0, x1, rng);
      if (attempt < MAX_CROSSOVER_TRIES && x.some((v) => !(v >= 0 && v <= 1))) continue;
      numeric.forEach((name, j) => {
        setOwn(child, name, decode(space[name], x[j]));
      });
      return child;
    }
  }

  /** P_k (see the file comment), or null when no trial of generations 0..k is COMPLETE. */
  private async parentPopulation(study: StudyView, k: number): Promise<Population | null> {
    const state = this.stateOf(study);
    const trials = await study.getTrials({ states: ['COMPLETE'] });
    const byGeneration: Individual[][] = Array.from({ length: k + 1 }, () => []);
    for (const t of trials) {
      const g = this.generationOf(t.number);
      if (g > k) continue;
      let ind = state.individuals.get(t.trialId);
      if (ind === undefined) {
        ind = this.individual(state, t, study.directions);
        state.individuals.set(t.trialId, ind);
      }
      if (ind !== null) byGeneration[g].push(ind);
    }
    let previous: Population | null = null;
    for (let g = 0; g <= k; g++) {
      const fresh = byGeneration[g];
      if (fresh.length === 0 && previous === null) continue;
      let freshIdSum = 0;
      for (const f of fresh) freshIdSum += f.trial.trialId;
      const cached = state.populations.get(g);
      if (cached !== undefined && cached.previous === previous && cached.nFresh === fresh.length && cached.freshIdSum === freshIdSum) {
        previous = cached;
        continue;
      }
      const candidates = previous === null ? fresh : mergeById(previous.members, fresh);
      const population: Population = { previous, nFresh: fresh.length, freshIdSum, ...this.elite(candidates) };
      state.populations.set(g, population);
      previous = population;
    }
    return previous;
  }

  /** Elitist survival: the best `populationSize` candidates by front, the last front by crowding. */
  private elite(candidates: readonly Individual[]): Pick<Population, 'members' | 'rank' | 'crowding'> {
    const size = this.options.populationSize;
    let selected: Individual[];
    if (candidates.length <= size) {
      selected = [...candidates];
    } else {
      selected = [];
      const losses = candidates.map((c) => c.loss);
      const rank = constrainedRanks(losses, this.penaltiesOf(candidates));
      for (const front of frontsOf(rank)) {
        if (selected.length + front.length <= size) {
          for (const i of front) selected.push(candidates[i]);
          if (selected.length === size) break;
          continue;
        }
        const crowding = crowdingDistances(losses, front);
        const order = front.map((_, j) => j);
        order.sort(
          (a, b) => crowding[b] - crowding[a] || candidates[front[a]].trial.number - candidates[front[b]].trial.number,
        );
        for (let j = 0; selected.length < size; j++) selected.push(candidates[front[order[j]]]);
        break;
      }
    }
    selected.sort((a, b) => a.trial.number - b.trial.number);
    const losses = selected.map((s) => s.loss);
    const rank = constrainedRanks(losses, this.penaltiesOf(selected));
    const crowding = new Float64Array(selected.length);
    for (const front of frontsOf(rank)) {
      const d = crowdingDistances(losses, front);
      front.forEach((i, j) => {
        crowding[i] = d[j];
      });
    }
    return { members: selected, rank, crowding };
  }

  private penaltiesOf(individuals: readonly Individual[]): number[] | null {
    return this.options.constraintsFunc === null ? null : individuals.map((c) => c.penalty);
  }

  /** A COMPLETE trial as an individual, or null when its values do not fit the study. */
  private individual(state: StudyState, trial: FrozenTrial, directions: readonly StudyDirection[]): Individual | null {
    const values = trial.values;
    if (values === null || values.length !== directions.length || values.some((v) => Number.isNaN(v))) return null;
    const loss = values.map((v, k) => (directions[k] === 'maximize' ? -v : v));
    const penalty = this.options.constraintsFunc === null ? 0 : this.penalty(state, trial);
    return { trial, loss, penalty };
  }

  /**
   * sum_k max(0, c_k) of the trial's constraint values, computed once per trial: the values stored
   * on it (`systemAttrs.constraints`; null there: +Infinity and a warning) or, without them,
   * `constraintsFunc`.
   * When the function throws or returns something other than an array of finite numbers, the
   * trial counts as infeasible with penalty +Infinity (after every other trial, as Optuna ranks a
   * trial without constraint values last): with `raise` (`afterTrial`) the error is thrown, as
   * Optuna's `after_trial` does; evaluated lazily during an ask, it is a warning only, so a bad
   * value cannot make every later ask of the study fail.
   */
  private penalty(state: StudyState, trial: FrozenTrial, raise = false): number {
    const cached = state.penalties.get(trial.trialId);
    if (cached !== undefined) return cached;
    const stored = storedConstraints(trial.systemAttrs);
    if (stored !== undefined) {
      const penalty = stored === null ? Number.POSITIVE_INFINITY : violation(stored);
      state.penalties.set(trial.trialId, penalty);
      if (stored === null) {
        warnOnce(
          'NSGA2_CONSTRAINTS_INVALID',
          `trial ${trial.number} has no valid constraint values (constraintsFunc failed at its tell); the trial counts as infeasible (penalty Infinity)`,
        );
      }
      return penalty;
    }
    const { penalty, error } = this.evaluate(trial);
    state.penalties.set(trial.trialId, penalty);
    if (error !== null) {
      if (raise) throw error;
      warnOnce('NSGA2_CONSTRAINTS_INVALID', `${error.message}; the trial counts as infeasible (penalty Infinity)`);
    }
    return penalty;
  }

  /** Calls `constraintsFunc` once (constraints.ts): the values (null when invalid), their violation and the error. */
  private evaluate(trial: FrozenTrial): { constraints: number[] | null; penalty: number; error: KestrelError | null } {
    const { constraints, error } = evaluateConstraints(this.options.constraintsFunc as ConstraintsFunc, trial);
    return { constraints, penalty: constraints === null ? Number.POSITIVE_INFINITY : violation(constraints), error };
  }
}

/** sum_k max(0, c_k). */
function violation(constraints: readonly number[]): number {
  let penalty = 0;
  for (const c of constraints) if (c > 0) penalty += c;
  return penalty;
}

/**
 * Binary tournament with the crowded-comparison operator (Deb et al. 2002, Section III-C) among the
 * `eligible` members, never returning `exclude` when another member is eligible. Returns a member index.
 */
function tournament(rng: Rng, population: Population, eligible: readonly number[], exclude: number): number {
  const pool = exclude >= 0 && eligible.length > 1 ? eligible.filter((i) => i !== exclude) : eligible;
  const a = pool[rng.nextInt(0, pool.length - 1)];
  const b = pool[rng.nextInt(0, pool.length - 1)];
  const coin = rng.nextFloat() < 0.5;
  if (population.rank[a] !== population.rank[b]) return population.rank[a] < population.rank[b] ? a : b;
  if (population.crowding[a] !== population.crowding[b]) return population.crowding[a] > population.crowding[b] ? a : b;
  return coin ? a : b;
}

/** `previous` then the members of `fresh` that are not in it. */
function mergeById(previous: readonly Individual[], fresh: readonly Individual[]): Individual[] {
  const ids = new Set(previous.map((p) => p.trial.trialId));
  return [...previous, ...fresh.filter((f) => !ids.has(f.trial.trialId))];
}

function sameDistribution(a: Distribution | undefined, b: Distribution): boolean {
  return a !== undefined && distributionsEqual(a, b);
}

function resolveOptions(options: NsgaIiSamplerOptions): ResolvedOptions {
  const probability = (name: string, value: unknown, fallback: number): number => {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
      throw new InvalidOptionError(name, 'a probability in [0, 1]', value);
    }
    return value;
  };
  const populationSize = options.populationSize ?? 50;
  if (typeof populationSize !== 'number' || !Number.isSafeInteger(populationSize) || populationSize < 2) {
    throw new InvalidOptionError('populationSize', 'an integer >= 2', populationSize);
  }
  const kind = options.crossover ?? 'uniform';
  if (typeof kind !== 'string' || !(CROSSOVER_KINDS as readonly string[]).includes(kind)) {
    throw new InvalidOptionError('crossover', `one of ${CROSSOVER_KINDS.map((k) => `"${k}"`).join(', ')}`, kind);
  }
  const blxAlpha = options.blxAlpha ?? 0.5;
  if (typeof blxAlpha !== 'number' || !Number.isFinite(blxAlpha) || blxAlpha < 0) {
    throw new InvalidOptionError('blxAlpha', 'a finite number >= 0', blxAlpha);
  }
  const sbxEta = options.sbxEta ?? null;
  if (sbxEta !== null && (typeof sbxEta !== 'number' || !Number.isFinite(sbxEta) || sbxEta <= 0)) {
    throw new InvalidOptionError('sbxEta', 'a finite number > 0 or null', sbxEta);
  }
  const constraintsFunc = resolveConstraintsFunc(options.constraintsFunc);
  return {
    seed: resolveSeed('seed', options.seed),
    populationSize,
    mutationProb: options.mutationProb === undefined || options.mutationProb === null ? null : probability('mutationProb', options.mutationProb, 0),
    crossover: kind,
    crossoverProb: probability('crossoverProb', options.crossoverProb, 0.9),
    swappingProb: probability('swappingProb', options.swappingProb, 0.5),
    blxAlpha,
    sbxEta,
    constraintsFunc,
  };
}
