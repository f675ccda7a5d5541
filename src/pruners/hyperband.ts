/**
 * Hyperband over asynchronous successive halving.
 *
 * Notation (Li et al. 2018, "Hyperband: A Novel Bandit-Based Approach to Hyperparameter
 * Optimization", JMLR 18, Algorithm 1; ASHA inside each bracket as in Li et al. 2020; Optuna's
 * `optuna/pruners/_hyperband.py`):
 *   r, R   minimum and maximum resource (`minResource`, `maxResource`), in steps
 *   eta    reduction factor
 *   N      number of brackets = floor(log_eta(R / r)) + 1
 *   b      bracket index 0..N-1; bracket b runs ASHA with minEarlyStoppingRate = b (bracket 0 stops
 *          earliest), i.e. s = N - 1 - b in the paper's numbering
 *   B_b    trial-allocation budget of bracket b = ceil(N * eta^s / (s + 1)) (the paper's n_s, up to
 *          the constant factor), so brackets that stop early get proportionally more trials
 *
 * A trial's bracket is crc32(`${studyName}_${trialNumber}`) mod sum(B), mapped through the
 * cumulative budgets: deterministic, the same in every worker, and the same bracket Optuna would
 * pick. Each bracket's pruner sees only the trials of its own bracket, and records the rungs it
 * judges on the trial (`completed_rung_k`, see `SuccessiveHalvingPruner`) through the study's
 * `setTrialSystemAttrs`, which the bracket view forwards; a trial is in one bracket only, so the
 * records of different brackets never mix.
 *
 * Differences from Optuna: N is computed exactly (largest s with r * eta^s <= R, relative tolerance
 * 1e-9) where Optuna's float `math.log(R / r, eta)` can floor an exact power one too low;
 * `maxResource: 'auto'` is the last step + 1 of the COMPLETE trial that completed first (Optuna: the
 * largest last step + 1 among the COMPLETE trials at the first call that sees one), so that every
 * worker derives the same value; `nBrackets` (Kestrel option, like Optuna 1.x's `n_brackets`) keeps
 * only the first, most aggressive brackets, with their budgets unchanged. Optuna 1.x/2.x took any
 * `n_brackets` as given (brackets past N never prune below R) and current Optuna has no such option;
 * here more than N is refused with a numeric R (`InvalidOptionError` at construction) and, with
 * 'auto', clamped to N once R is known, with a `HYPERBAND_BRACKETS_CLAMPED` warning: R is then
 * known only inside a trial's `shouldPrune`, where a thrown error would fail that trial and every
 * later one that reports (`optimize` records an objective's error as FAIL and goes on).
 */
import { InvalidOptionError } from '../errors.js';
import type { FrozenTrial } from '../trial/frozen-trial.js';
import type { StudyView } from '../trial/study-view.js';
import type { JsonValue, StudyDirection, TrialState } from '../trial/types.js';
import { warnOnce } from '../util/warn.js';
import { crc32 } from './crc32.js';
import { checkOptionsObject, intOption } from './options.js';
import type { Pruner } from './pruner.js';
import { REPORTING_STATES, SuccessiveHalvingPruner, firstCompleted, type SuccessiveHalvingPrunerOptions } from './successive-halving.js';

/** Options of `new HyperbandPruner(...)`, Optuna's defaults; an unknown name throws `InvalidOptionError`. */
export interface HyperbandPrunerOptions {
  /** r: steps before the first rung of bracket 0. A number >= 1, default 1. */
  readonly minResource?: number;
  /** R: the most steps a trial runs, a number >= minResource, or 'auto' (default). */
  readonly maxResource?: 'auto' | number;
  /** eta, an integer >= 2. Default 3. */
  readonly reductionFactor?: number;
  /** Passed to every bracket's `SuccessiveHalvingPruner`. Default 0. */
  readonly bootstrapCount?: number;
  /**
   * Keep only brackets 0..nBrackets-1 (the most aggressive). Default: all N brackets. Above N: with
   * a numeric `maxResource`, `InvalidOptionError` naming the limit; with `'auto'`, N is known only
   * once a trial completes (mid-study), so it is clamped to N then, with a one-time
   * `HYPERBAND_BRACKETS_CLAMPED` warning naming both.
   */
  readonly nBrackets?: number;
}

const OPTION_KEYS = ['minResource', 'maxResource', 'reductionFactor', 'bootstrapCount', 'nBrackets'] as const;

interface BracketLayout {
  /** N: brackets that R / r allows. */
  readonly nNaturalBrackets: number;
  /** Cumulative trial-allocation budgets of the brackets in use. */
  readonly cumulativeBudgets: readonly number[];
  readonly pruners: readonly SuccessiveHalvingPruner[];
}

/**
 * Hyperband: several ASHA brackets with different first rungs; each trial goes to one bracket,
 * chosen from its study name and number as Optuna does, so every worker agrees. Every rung is
 * judged, the top one at `maxResource` included. See the file header.
 */
export class HyperbandPruner implements Pruner {
  readonly name = 'hyperband';
  readonly minResource: number;
  readonly maxResource: 'auto' | number;
  readonly reductionFactor: number;
  readonly bootstrapCount: number;
  readonly nBrackets: number | null;
  private layout: BracketLayout | null = null;
  private readonly bracketCache = new Map<string, Map<number, number>>();

  constructor(options: HyperbandPrunerOptions = {}) {
    checkOptionsObject(options, OPTION_KEYS, 'HyperbandPruner');
    const minResource = options.minResource ?? 1;
    if (typeof minResource !== 'number' || !Number.isFinite(minResource) || minResource < 1) {
      throw new InvalidOptionError('minResource', 'a finite number >= 1', minResource);
    }
    this.minResource = minResource;
    const maxResource: unknown = options.maxResource ?? 'auto';
    if (maxResource !== 'auto') {
      if (typeof maxResource !== 'number' || !Number.isFinite(maxResource) || maxResource < minResource) {
        throw new InvalidOptionError('maxResource', `'auto' or a finite number >= minResource (${minResource})`, maxResource);
      }
    }
    this.maxResource = maxResource as 'auto' | number;
    this.reductionFactor = intOption('reductionFactor', options.reductionFactor, 3, 2);
    this.bootstrapCount = intOption('bootstrapCount', options.bootstrapCount, 0, 0);
    this.nBrackets = options.nBrackets === undefined ? null : intOption('nBrackets', options.nBrackets, 1, 1);
    if (this.maxResource !== 'auto') {
      const natural = countBrackets(this.minResource, this.maxResource, this.reductionFactor);
      if (this.nBrackets !== null && this.nBrackets > natural) {
        throw new InvalidOptionError(
          'nBrackets',
          `an integer in [1, ${natural}] for these resources (minResource ${this.minResource}, maxResource ${this.maxResource}, reductionFactor ${this.reductionFactor})`,
          this.nBrackets,
        );
      }
      this.layout = this.buildLayout(this.maxResource);
    }
  }

  /** Brackets in use, or null while `maxResource: 'auto'` is not yet known. */
  get bracketCount(): number | null {
    return this.layout === null ? null : this.layout.pruners.length;
  }

  /** The bracket of a trial, or null while `maxResource: 'auto'` is not yet known. */
  bracketId(studyName: string, trialNumber: number): number | null {
    if (this.layout === null) return null;
    return pickBracket(this.layout, studyName, trialNumber);
  }

  /** The trial-allocation budgets of the brackets in use (not cumulative), or null. */
  bracketBudgets(): number[] | null {
    if (this.layout === null) return null;
    return this.layout.cumulativeBudgets.map((c, i, all) => c - (i === 0 ? 0 : all[i - 1]));
  }

  async prune(study: StudyView, trial: FrozenTrial): Promise<boolean> {
    if (trial.lastStep === null) return false;
    let fetched: readonly FrozenTrial[] | null = null;
    if (this.layout === null) {
      fetched = await study.getTrials({ states: REPORTING_STATES });
      const first = firstCompleted(fetched);
      if (first === null) return false;
      const maxResource = Math.max((first.lastStep as number) + 1, this.minResource);
      const natural = countBrackets(this.minResource, maxResource, this.reductionFactor);
      if (this.nBrackets !== null && this.nBrackets > natural) {
        // Not thrown: this runs inside a trial's shouldPrune, mid-study, where an error would fail
        // that trial and every later one that reports (optimize catches objective errors).
        warnOnce(
          'HYPERBAND_BRACKETS_CLAMPED',
          `HyperbandPruner: nBrackets ${this.nBrackets} is above the ${natural} brackets that maxResource 'auto' (resolved to ${maxResource} from the first completed trial) ` +
            `allows with minResource ${this.minResource} and reductionFactor ${this.reductionFactor}; using ${natural}`,
        );
      }
      this.layout = this.buildLayout(maxResource);
    }
    const bracket = this.cachedBracket(study.studyName, trial.number);
    const view = new BracketStudyView(study, fetched, (t) => this.cachedBracket(study.studyName, t.number) === bracket);
    return this.layout.pruners[bracket].pruneIn(view, trial, study, this.rungStepLimit());
  }

  /**
   * Rungs at a step >= this are never judged. Infinity here, as in Optuna (every rung of every
   * bracket is judged); the adaptive preset stops below maxResource, its completion step.
   */
  protected rungStepLimit(): number {
    return Infinity;
  }

  /** The ASHA pruner of one bracket (the adaptive preset truncates its rung steps, as Determined does). */
  protected bracketPruner(options: SuccessiveHalvingPrunerOptions): SuccessiveHalvingPruner {
    return new SuccessiveHalvingPruner(options);
  }

  /** Bracket ids are pure functions of (study name, number) once the layout is known; memoized. */
  private cachedBracket(studyName: string, trialNumber: number): number {
    const layout = this.layout as BracketLayout;
    let byNumber = this.bracketCache.get(studyName);
    if (byNumber === undefined) {
      byNumber = new Map();
      this.bracketCache.set(studyName, byNumber);
    }
    let bracket = byNumber.get(trialNumber);
    if (bracket === undefined) {
      bracket = pickBracket(layout, studyName, trialNumber);
      byNumber.set(trialNumber, bracket);
    }
    return bracket;
  }

  private buildLayout(maxResource: number): BracketLayout {
    const eta = this.reductionFactor;
    const natural = countBrackets(this.minResource, maxResource, eta);
    const used = Math.min(this.nBrackets ?? natural, natural);
    const cumulativeBudgets: number[] = [];
    const pruners: SuccessiveHalvingPruner[] = [];
    let total = 0;
    for (let b = 0; b < used; b++) {
      const s = natural - 1 - b;
      total += Math.ceil((natural * eta ** s) / (s + 1));
      cumulativeBudgets.push(total);
      pruners.push(
        this.bracketPruner({
          minResource: this.minResource,
          reductionFactor: eta,
          minEarlyStoppingRate: b,
          bootstrapCount: this.bootstrapCount,
        }),
      );
    }
    return { nNaturalBrackets: natural, cumulativeBudgets, pruners };
  }
}

/** N = (largest s >= 0 with r * eta^s <= R) + 1, at least 1. */
export function countBrackets(minResource: number, maxResource: number, reductionFactor: number): number {
  let s = 0;
  while (minResource * reductionFactor ** (s + 1) <= maxResource * (1 + 1e-9)) s += 1;
  return s + 1;
}

function pickBracket(layout: BracketLayout, studyName: string, trialNumber: number): number {
  const budgets = layout.cumulativeBudgets;
  const n = crc32(`${studyName}_${trialNumber}`) % budgets[budgets.length - 1];
  for (let b = 0; b < budgets.length; b++) if (n < budgets[b]) return b;
  return budgets.length - 1; // unreachable: n < the last cumulative budget
}

/**
 * The study as one bracket sees it: only that bracket's trials. It reads the underlying study at
 * most once (reusing `prefetched` when the caller already read it), and only if asked. It has
 * `setTrialSystemAttrs` exactly when the underlying study has it (writes go straight through).
 */
class BracketStudyView implements StudyView {
  readonly studyId: number;
  readonly studyName: string;
  readonly directions: readonly StudyDirection[];
  readonly setTrialSystemAttrs?: (trialId: number, attrs: Readonly<Record<string, JsonValue>>) => Promise<void>;

  constructor(
    private readonly study: StudyView,
    private prefetched: readonly FrozenTrial[] | null,
    private readonly inBracket: (trial: FrozenTrial) => boolean,
  ) {
    this.studyId = study.studyId;
    this.studyName = study.studyName;
    this.directions = study.directions;
    const write = study.setTrialSystemAttrs;
    if (write !== undefined) this.setTrialSystemAttrs = (trialId, attrs) => write.call(study, trialId, attrs);
  }

  async getTrials(options?: { readonly states?: readonly TrialState[] }): Promise<readonly FrozenTrial[]> {
    this.prefetched ??= await this.study.getTrials({ states: REPORTING_STATES });
    const states = options?.states ?? REPORTING_STATES;
    return this.prefetched.filter((t) => states.includes(t.state) && this.inBracket(t));
  }

  claim(key: string): Promise<boolean> {
    return this.study.claim(key);
  }

  stop(reason: string): void {
    this.study.stop(reason);
  }
}
