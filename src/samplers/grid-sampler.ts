import { GridExhaustedError, InvalidOptionError, InvalidParamValueError, SearchSpaceError } from '../errors.js';
import { contains } from '../space/distributions.js';
import { enumerateGrid, enumerateValueGrid } from '../space/spec.js';
import type { Distribution, ParamValue, Params, SpaceSpec } from '../space/types.js';
import type { FrozenTrial } from '../trial/frozen-trial.js';
import type { StudyView } from '../trial/study-view.js';
import { SystemAttr } from '../trial/system-attrs.js';
import { Rng, resolveSeed } from '../util/prng.js';
import { checkSamplerOptions } from './random-sampler.js';
import type { Sampler } from './sampler.js';
import { optionKeys } from '../util/options.js';

/** Options of `new GridSampler(...)`; an unknown name throws `InvalidOptionError`. */
export interface GridSamplerOptions {
  /**
   * The grid: a declarative space (`enumerateGrid`: numeric parameters need `step` or `n`) or, as
   * in Optuna, a record of value lists whose Cartesian product is the grid.
   */
  readonly space: SpaceSpec | Readonly<Record<string, readonly ParamValue[]>>;
  /** Visit the grid in a seeded random order instead of enumeration order (default false). */
  readonly shuffle?: boolean;
  /** Seed of the shuffle. Default: a random seed from crypto. Only used with `shuffle`. */
  readonly seed?: number;
}

/** Every GridSamplerOptions key, checked against the interface at compile time. */
const OPTION_KEYS = optionKeys<GridSamplerOptions>()(['space', 'shuffle', 'seed']);

/**
 * Exhaustive grid search; every grid point is evaluated by exactly one trial, across all workers.
 *
 * Protocol: in `beforeTrial` (inside `study.ask()`) the sampler walks the grid ids (enumeration
 * order, or a seeded permutation with `shuffle`) and takes the first id for which
 * `study.claim('grid:' + id)` returns true; claims are atomic in storage, so no point runs twice even
 * with several processes. A per-study cursor skips ids this sampler has already seen taken. Handing
 * out the last id (before its claim returns) calls `study.stop('grid exhausted')`, so the study's
 * optimize loop launches no further trial. `remainingTrials`, asked before each trial is created,
 * first moves the cursor past the ids already claimed in storage (`StudyView.areClaimed`: by an
 * earlier run or another worker), then counts the ids not yet tried, so the study holds back asks
 * that the asks in flight would leave without a point (`concurrency` above the points left), and
 * rejects an ask with `GridExhaustedError`, creating no trial, once every id is taken: a rerun of
 * an exhausted grid by a new Study object creates no trial at all (it recorded one FAIL trial per
 * concurrent ask). An ask that still finds no id left (another process took the last ones between
 * that check and this claim, or the storage lacks `areClaimed`) stops the study and throws
 * `GridExhaustedError`; that trial is recorded as FAIL. `sampleIndependent` then returns the claimed point's value; suggesting a
 * name that is not in the point throws `SearchSpaceError`, and a grid value outside the suggested
 * distribution throws `InvalidParamValueError`.
 *
 * Enqueued trials (`study.enqueueTrial`, recorded as the `fixed_params` system attribute) claim no
 * grid point, as in Optuna's `before_trial`: they run their enqueued values and leave every grid
 * point to the sampled trials, so an enqueued point that is also on the grid runs twice. Such a
 * trial must give a value to every parameter it suggests; suggesting one it was not enqueued with
 * throws `SearchSpaceError` (Optuna: "All parameters must be specified when using GridSampler with
 * enqueue_trial"). A trial enqueued with no values at all claims a point like a sampled trial.
 *
 * Ids are positions in the enumeration, which is deterministic for a given space, so workers (and a
 * resumed study) must use the same space; claims of a previous, different grid would be honoured by id.
 * `gridIdOf(trialId)` exposes the assignment (e.g. to record it as a system attribute).
 *
 * The cursor and the assignments are kept per study object: study and trial ids are per storage
 * (every in-memory study has study id 0), so one sampler handed to several studies, one after the
 * other or at once, walks the whole grid in each.
 */
export class GridSampler implements Sampler {
  readonly name = 'grid';
  /** The grid points, in enumeration order (the id of a point is its index). */
  readonly points: readonly Params[];
  private readonly order: readonly number[];
  /** Per study object: the cursor into `order` and the grid id of each trial id it claimed for. */
  private readonly states = new WeakMap<StudyView, { position: number; readonly assigned: Map<number, number> }>();
  /** Grid id by trial id, latest study first (for `gridIdOf` only). */
  private readonly assigned = new Map<number, number>();

  constructor(options: GridSamplerOptions) {
    const opts = checkSamplerOptions('GridSampler', options, OPTION_KEYS) as Partial<GridSamplerOptions>;
    const space = opts.space;
    if (typeof space !== 'object' || space === null || Array.isArray(space)) {
      throw new InvalidOptionError('space', 'a space spec or a record of value lists', space);
    }
    const lists = Object.values(space);
    if (lists.length === 0) throw new InvalidOptionError('space', 'at least one parameter', space);
    const isValueGrid = lists.every((v) => Array.isArray(v));
    const points = isValueGrid
      ? enumerateValueGrid(space as Readonly<Record<string, readonly ParamValue[]>>)
      : enumerateGrid(space as SpaceSpec);
    this.points = Object.freeze(points.map((p) => Object.freeze(p)));

    const shuffle = opts.shuffle ?? false;
    if (typeof shuffle !== 'boolean') throw new InvalidOptionError('shuffle', 'a boolean', shuffle);
    const ids = Array.from({ length: points.length }, (_, i) => i);
    this.order = Object.freeze(shuffle ? new Rng(resolveSeed('seed', opts.seed)).shuffle(ids) : ids);
    if (!shuffle && opts.seed !== undefined) resolveSeed('seed', opts.seed);
  }

  /** Number of grid points. */
  get size(): number {
    return this.points.length;
  }

  /**
   * Grid ids this sampler has not yet tried to claim for `study` (see `Sampler.remainingTrials`),
   * after moving its cursor past the ids at the cursor that are already claimed in storage (by an
   * earlier run or another worker; `StudyView.areClaimed`), so that the study creates no trial for
   * a point that is gone. Reads storage only while the ids at the cursor are taken: once per ask
   * in a run of its own, in chunks of up to 4,096 ids while catching up.
   */
  async remainingTrials(study: StudyView): Promise<number> {
    const cursor = this.stateOf(study);
    if (typeof study.areClaimed === 'function') {
      let chunk = 16;
      while (cursor.position < this.order.length) {
        const start = cursor.position;
        const ids = this.order.slice(start, start + chunk);
        const claimed = await study.areClaimed(ids.map(gridKey));
        if (claimed === null) break; // the storage cannot tell: beforeTrial finds out by claiming
        // Concurrent asks of this process may have moved the cursor meanwhile, each past the id it
        // is claiming: advance only over ids seen claimed, from wherever the cursor is now.
        while (cursor.position < start + ids.length && claimed[cursor.position - start] === true) cursor.position++;
        if (cursor.position < start + ids.length) break;
        chunk = Math.min(chunk * 2, MAX_CLAIM_CHUNK);
      }
    }
    return this.order.length - cursor.position;
  }

  /**
   * The grid id claimed for `trialId` by this sampler, or null. Trial ids are per storage: with a
   * sampler serving studies on several storages, the latest claim for that id.
   */
  gridIdOf(trialId: number): number | null {
    return this.assigned.get(trialId) ?? null;
  }

  async beforeTrial(study: StudyView, trial: FrozenTrial): Promise<void> {
    const cursor = this.stateOf(study);
    if (cursor.assigned.has(trial.trialId) || hasFixedParams(trial)) return;
    while (cursor.position < this.order.length) {
      // Advance before awaiting so concurrent asks in this process try different ids.
      const id = this.order[cursor.position++];
      // The last id handed out: stop now (as Optuna's after_trial does), before its claim returns
      // (a journal claim takes milliseconds, in which optimize's free workers would launch trials
      // that find the grid exhausted and are recorded as FAIL). If that claim fails, another
      // process holds the point and the grid is exhausted all the same.
      if (cursor.position === this.order.length) study.stop('grid exhausted');
      if (await study.claim(gridKey(id))) {
        cursor.assigned.set(trial.trialId, id);
        this.assigned.set(trial.trialId, id);
        return;
      }
    }
    study.stop('grid exhausted');
    throw new GridExhaustedError(`all ${this.points.length} grid points have been claimed`);
  }

  sampleIndependent(study: StudyView, trial: FrozenTrial, name: string, distribution: Distribution): ParamValue {
    const id = this.stateOf(study).assigned.get(trial.trialId);
    if (id === undefined) {
      if (hasFixedParams(trial)) {
        throw new SearchSpaceError(
          name,
          `was not enqueued for trial ${trial.number}; an enqueued trial takes no grid point, so with GridSampler it must be enqueued with every parameter it suggests`,
        );
      }
      throw new SearchSpaceError(name, `trial ${trial.number} has no grid point (GridSampler.beforeTrial did not run for it)`);
    }
    const point = this.points[id];
    if (!Object.prototype.hasOwnProperty.call(point, name)) {
      throw new SearchSpaceError(name, `is not in the grid (grid parameters: ${Object.keys(point).join(', ')})`);
    }
    const value = point[name];
    if (!contains(distribution, value)) {
      throw new InvalidParamValueError(
        name,
        `grid value ${JSON.stringify(value)} (grid point ${id}) is not in the suggested distribution ${JSON.stringify(distribution)}`,
      );
    }
    return value;
  }

  private stateOf(study: StudyView): { position: number; readonly assigned: Map<number, number> } {
    let state = this.states.get(study);
    if (state === undefined) {
      state = { position: 0, assigned: new Map() };
      this.states.set(study, state);
    }
    return state;
  }
}

/** Ids checked per storage read when skipping claimed grid points (`remainingTrials`). */
const MAX_CLAIM_CHUNK = 4096;

/** The claim key of a grid id: what `study.claim` is given for it. */
function gridKey(id: number): string {
  return `grid:${id}`;
}

/** True for a trial enqueued with at least one parameter value (`study.enqueueTrial`). */
function hasFixedParams(trial: FrozenTrial): boolean {
  const fixed = trial.systemAttrs[SystemAttr.fixedParams];
  return typeof fixed === 'object' && fixed !== null && !Array.isArray(fixed) && Object.keys(fixed).length > 0;
}
