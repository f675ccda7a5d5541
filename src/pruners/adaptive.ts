/**
 * A Determined-style adaptive ASHA preset.
 *
 * Determined's `adaptive_asha` searcher (docs: https://docs.determined.ai/latest/reference/
 * experiment-config-reference.html#adaptive-asha, source: determined-ai/determined
 * `master/pkg/searcher/adaptive_asha.go`) runs several ASHA brackets side by side; bracket i has
 * `numRungs_i` rungs whose last rung is `maxLength`, and rung j of a bracket is at
 * maxLength / divisor^(numRungs_i - 1 - j). It first caps the rungs:
 *
 *   maxRungs' = min(maxRungs, floor(log_divisor(maxLength)) + 1 [, floor(log_divisor(maxTrials)) + 1])
 *
 * and picks the brackets' rung counts from `mode`:
 *
 *   aggressive    [maxRungs']                                   1 bracket, most early stopping
 *   standard      [floor((maxRungs' - 1) / 2) + 1 .. maxRungs']  about half of them
 *   conservative  [1 .. maxRungs']                              every bracket, down to no stopping
 *
 * Trials are split among brackets in proportion to divisor^(numRungs - 1) / numRungs.
 *
 * Determined truncates each rung to whole units: `unitsNeeded = max(int(maxLength /
 * divisor^(numRungs - 1 - j)), 1)` (`asyncHalvingSearch`), so maxLength 100 with divisor 4 has
 * rungs 1, 6, 25 and 100.
 *
 * Mapping onto Kestrel: that is `HyperbandPruner` with minResource r = maxLength /
 * divisor^(maxRungs' - 1), maxResource = maxLength and reductionFactor = divisor, with every rung
 * step truncated as Determined does: its bracket b has rungs max(1, floor(r * divisor^(b + k))) up
 * to maxLength, i.e. maxRungs' - b rungs, and its budget
 * ceil(N * eta^s / (s + 1)) with s = maxRungs' - 1 - b is Determined's weight up to rounding. The
 * mode keeps the first `nBrackets` brackets: 1 (aggressive), maxRungs' - floor((maxRungs' - 1) / 2)
 * (standard) or maxRungs' (conservative). Besides the truncated rungs, one difference from a plain
 * HyperbandPruner: the top rung, maxLength itself, is where Determined stops a trial as complete,
 * so a trial is never judged (nor pruned) at a step >= maxLength; steps may run 0..maxLength-1 or
 * 1..maxLength (epochs completed, as `fitWithPruning` reports them). A one-rung bracket (conservative mode's last) thus
 * stops nothing, as in Determined.
 */
import { InvalidOptionError } from '../errors.js';
import { HyperbandPruner, countBrackets } from './hyperband.js';
import { checkOptionsObject, intOption } from './options.js';
import { SuccessiveHalvingPruner, type SuccessiveHalvingPrunerOptions } from './successive-halving.js';

/** How early `adaptivePruner` stops trials: Determined's adaptive ASHA modes. */
export type AdaptiveMode = 'aggressive' | 'standard' | 'conservative';

/** Options of `adaptivePruner(...)`; `maxLength` is required and an unknown name throws `InvalidOptionError`. */
export interface AdaptivePrunerOptions {
  /** Default 'standard' (Determined's default). */
  readonly mode?: AdaptiveMode;
  /** The most steps (e.g. epochs) a trial trains; an integer >= 1. Required. */
  readonly maxLength: number;
  /** Determined's `divisor`: the fraction of trials promoted per rung and the rung spacing. Default 4. */
  readonly reductionFactor?: number;
  /** Most rungs per bracket. Default 5 (Determined's default). */
  readonly maxRungs?: number;
  /** When given, also caps the rungs at floor(log_eta(maxTrials)) + 1, as Determined does. */
  readonly maxTrials?: number;
  /** Passed to every bracket. Default 0. */
  readonly bootstrapCount?: number;
}

const OPTION_KEYS = ['mode', 'maxLength', 'reductionFactor', 'maxRungs', 'maxTrials', 'bootstrapCount'] as const;
const MODES: readonly AdaptiveMode[] = ['aggressive', 'standard', 'conservative'];

/** The resolved shape of an adaptive preset. */
export interface AdaptivePlan {
  readonly maxRungs: number;
  readonly minResource: number;
  readonly nBrackets: number;
  /** Rungs of each bracket, most aggressive first (Determined's `bracket_rungs`). */
  readonly bracketRungs: readonly number[];
}

/** Computes the bracket plan of `adaptivePruner` without building it. */
export function adaptivePlan(options: AdaptivePrunerOptions): AdaptivePlan {
  checkOptionsObject(options, OPTION_KEYS, 'adaptivePruner', true);
  const mode: unknown = options.mode ?? 'standard';
  if (!MODES.includes(mode as AdaptiveMode)) {
    throw new InvalidOptionError('mode', `one of ${MODES.map((m) => `'${m}'`).join(', ')}`, mode);
  }
  if (options.maxLength === undefined) throw new InvalidOptionError('maxLength', 'an integer >= 1', undefined);
  const maxLength = intOption('maxLength', options.maxLength, 1, 1);
  const eta = intOption('reductionFactor', options.reductionFactor, 4, 2);
  let maxRungs = intOption('maxRungs', options.maxRungs, 5, 1);
  maxRungs = Math.min(maxRungs, countBrackets(1, maxLength, eta));
  if (options.maxTrials !== undefined) {
    const maxTrials = intOption('maxTrials', options.maxTrials, 1, 1);
    maxRungs = Math.min(maxRungs, countBrackets(1, maxTrials, eta));
  }
  const nBrackets =
    mode === 'aggressive' ? 1 : mode === 'standard' ? maxRungs - Math.floor((maxRungs - 1) / 2) : maxRungs;
  const bracketRungs = Array.from({ length: nBrackets }, (_, b) => maxRungs - b);
  return { maxRungs, minResource: maxLength / eta ** (maxRungs - 1), nBrackets, bracketRungs };
}

/**
 * ASHA whose rung steps are truncated to integers, at least 1, as Determined's
 * `unitsNeeded = max(int(maxLength / divisor^(numRungs - 1 - id)), 1)`: r * eta^(s + k) is that
 * quotient (snapped to an integer it rounds next to, `SuccessiveHalvingPruner.rungStep`).
 */
class TruncatedSuccessiveHalvingPruner extends SuccessiveHalvingPruner {
  override rungStep(rung: number, minResource: number): number {
    return Math.max(1, Math.floor(super.rungStep(rung, minResource)));
  }
}

/** A HyperbandPruner with Determined's integer rungs that never judges the top rung, maxLength (see the file comment). */
class AdaptiveHyperbandPruner extends HyperbandPruner {
  protected override rungStepLimit(): number {
    // Relative tolerance: the top rung r * eta^(maxRungs' - 1) may round just below maxLength.
    return (this.maxResource as number) * (1 - 1e-9);
  }

  protected override bracketPruner(options: SuccessiveHalvingPrunerOptions): SuccessiveHalvingPruner {
    return new TruncatedSuccessiveHalvingPruner(options);
  }
}

/** Builds the Determined-style adaptive ASHA preset (see the file comment for the mapping). */
export function adaptivePruner(options: AdaptivePrunerOptions): HyperbandPruner {
  const plan = adaptivePlan(options);
  return new AdaptiveHyperbandPruner({
    minResource: plan.minResource,
    maxResource: options.maxLength,
    reductionFactor: options.reductionFactor ?? 4,
    bootstrapCount: options.bootstrapCount ?? 0,
    nBrackets: plan.nBrackets,
  });
}
