/**
 * GpSampler's fitted hyperparameters as recorded in the study, so that a new sampler on the same
 * study (a resumed study, or another worker process on the same storage) starts from them instead
 * of a cold fit with random restarts: the pattern of Optuna's CmaEsSampler, which keeps its
 * optimizer state in trial system attributes.
 *
 * After every suggestion whose models have newly fitted thetas, the sampler records them under
 * the trial system attribute `gp_fit` (`SystemAttr.gpFit`) of the trial it sampled
 * (`StudyView.setTrialSystemAttrs`): one fit as `{ version, key, nAtFit, theta }`, several (the
 * models of a suggestion that fitted more than one) as an array of such records. Each model has a
 * role (`StoredFitRole`): the single-objective model, ParEGO's scalarized model, the model of
 * objective j under logEHVI, or that of constraint k. A new sampler takes, per model, the record
 * of the latest trial that holds a valid one for that model's configuration: `key` hashes the
 * role, the modelled dims with their distributions, the kernel, `deterministic`, the outcome
 * transform and the prior mean, so a record of another model, space or setting is never used;
 * theta must have the dims' length (d + 2) and lie within the bounds of
 * src/surrogate/hyperparameters.ts. Anything else is ignored (never an error): a record is only
 * ever a starting point, and the sampler's refit policy decides what to do with it. The
 * single-objective model's key is the one of the first format (one object per trial), so records
 * written before the other roles existed are read as before.
 */
import type { KernelKind } from '../../surrogate/backend.js';
import type { OutcomeTransformKind, PriorMeanKind } from '../../surrogate/outcome-transform.js';
import { thetaBounds } from '../../surrogate/hyperparameters.js';
import type { FrozenTrial } from '../../trial/frozen-trial.js';
import { SystemAttr } from '../../trial/system-attrs.js';
import type { JsonValue } from '../../trial/types.js';
import { deriveSeed } from '../../util/prng.js';

/** Format version of the record; records of another version are ignored. */
export const STORED_FIT_VERSION = 1;

/**
 * Which model of a sampler a record belongs to: 'model' (the single-objective model), 'parego'
 * (ParEGO's model of the suggestion's scalarization), { objective: j } (logEHVI's model of
 * objective j) or { constraint: k, of: count } (the model of constraint k of `count`: the study's
 * constraint count can change with the function, and then index k may be another constraint).
 */
export type StoredFitRole =
  | 'model'
  | 'parego'
  | { readonly objective: number }
  | { readonly constraint: number; readonly of: number };

/** A fitted theta and the number of observations it was fitted at. */
export interface StoredFit {
  /** `storedFitKey` of the configuration it was fitted under. */
  readonly key: number;
  /** Observations in the model when theta was fitted (drives the refit policy's growth rule). */
  readonly nAtFit: number;
  /** [log l_1 .. log l_d, log s2, log sn2] (src/surrogate/backend.ts). */
  readonly theta: Float64Array;
}

/**
 * The configuration key of a record: a hash of the model's role, its dims signature (names and
 * distributions, in model order), the kernel, `deterministic`, the outcome transform of its
 * targets and the prior mean (the output scale and noise are in the targets' units). The role
 * 'model' (the default) hashes as the first format's key did.
 */
export function storedFitKey(
  signature: string,
  kernel: KernelKind,
  deterministic: boolean,
  outcomeTransform: OutcomeTransformKind,
  priorMean: PriorMeanKind,
  role: StoredFitRole = 'model',
): number {
  const parts: (string | number)[] = [signature, kernel, deterministic ? 1 : 0, outcomeTransform, priorMean];
  if (role === 'parego') parts.push('parego');
  else if (role !== 'model') parts.push(...('objective' in role ? ['objective', role.objective] : ['constraint', role.constraint, role.of]));
  return deriveSeed(STORED_FIT_VERSION, 'gp-fit', ...parts);
}

/**
 * The JSON value recorded under `SystemAttr.gpFit` for the fits of one suggestion: one record
 * (the first format) for one fit, an array of records for several; null for none.
 */
export function storedFitRecord(fits: readonly StoredFit[]): JsonValue {
  const records = fits.map((fit): JsonValue => ({ version: STORED_FIT_VERSION, key: fit.key, nAtFit: fit.nAtFit, theta: Array.from(fit.theta) }));
  return records.length === 1 ? records[0] : records;
}

/**
 * The record of the latest trial (in `trials`' order, the study's by number) holding a valid one
 * for `key` (alone or in an array of records), a theta of length d + 2 within the bounds for
 * `deterministic`; null when there is none.
 */
export function findStoredFit(
  trials: readonly FrozenTrial[],
  key: number,
  d: number,
  deterministic: boolean,
): StoredFit | null {
  const { lower, upper } = thetaBounds(d, deterministic);
  for (let i = trials.length - 1; i >= 0; i--) {
    const value = trials[i].systemAttrs[SystemAttr.gpFit];
    // (Array.isArray does not narrow a readonly array out of the union.)
    const records = Array.isArray(value) ? (value as readonly JsonValue[]) : [value];
    for (const record of records) {
      const fit = parseStoredFit(record, key, lower, upper);
      if (fit !== null) return fit;
    }
  }
  return null;
}

function parseStoredFit(value: JsonValue | undefined, key: number, lower: Float64Array, upper: Float64Array): StoredFit | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  // (Array.isArray does not narrow a readonly array out of the union.)
  const { version, key: recordKey, nAtFit, theta } = value as { readonly [field: string]: JsonValue | undefined };
  if (version !== STORED_FIT_VERSION || recordKey !== key) return null;
  if (typeof nAtFit !== 'number' || !Number.isSafeInteger(nAtFit) || nAtFit < 1) return null;
  if (!Array.isArray(theta) || theta.length !== lower.length) return null;
  const out = new Float64Array(theta.length);
  for (let j = 0; j < theta.length; j++) {
    const v = theta[j];
    if (typeof v !== 'number' || !(v >= lower[j] && v <= upper[j])) return null;
    out[j] = v;
  }
  return { key, nAtFit, theta: out };
}
