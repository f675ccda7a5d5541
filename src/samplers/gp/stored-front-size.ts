/**
 * The size at which GpSampler's thinned Pareto front last fitted its logEHVI box limit, as recorded
 * in the study, so that a new sampler on it (a resumed study, a CLI worker, each process of a
 * parallel run) starts there instead of paying again for the decompositions that fail on its
 * first suggestion (gp-sampler.ts, `hypervolumeBoxes`; tens of milliseconds each with five
 * objectives: bench/surrogate.md). The pattern of stored-fit.ts.
 *
 * Whenever the size that fit changes (it only ever shrinks in a sampler), the sampler records
 * `{ version, objectives, maxBoxes, size }` under the trial system attribute `gp_front_size`
 * (`SystemAttr.gpFrontSize`) of the trial it sampled. A sampler that has not thinned yet takes
 * the record of the latest trial (by number) holding a valid one: the study's number of
 * objectives (K), the same box limit and version, and a size a sampler could have recorded: a
 * safe integer `size` with 2 * size + 1 above the largest front that always fits (every front of
 * P points fits when `boxCountBound(P, K)` is within the limit, hypervolume-boxes.ts, and a
 * recorded size is half of a front that failed, rounded down). Anything else is ignored, never an
 * error: the size is only a starting point, thinned further when it fails and ignored for a front
 * no larger than it.
 */
import type { FrozenTrial } from '../../trial/frozen-trial.js';
import { SystemAttr } from '../../trial/system-attrs.js';
import type { JsonValue } from '../../trial/types.js';
import { boxCountBound } from './hypervolume-boxes.js';

/** Format version of the record; records of another version are ignored. */
export const STORED_FRONT_SIZE_VERSION = 1;

/** The JSON value recorded under `SystemAttr.gpFrontSize`: `size` front points fitted `maxBoxes` in `k` objectives. */
export function storedFrontSizeRecord(k: number, maxBoxes: number, size: number): JsonValue {
  return { version: STORED_FRONT_SIZE_VERSION, objectives: k, maxBoxes, size };
}

/**
 * The size of the latest trial's (by number) valid record for `k` objectives and `maxBoxes`; null
 * when no trial holds one.
 */
export function findStoredFrontSize(trials: readonly FrozenTrial[], k: number, maxBoxes: number): number | null {
  // With one objective (one box) or no limit nothing is ever thinned.
  if (k < 2 || !Number.isFinite(maxBoxes)) return null;
  // The largest front that fits whatever its points: a decomposition fails only above it.
  let alwaysFits = Math.max(0, Math.floor(maxBoxes ** (1 / (k - 1))) - 1);
  while (boxCountBound(alwaysFits + 1, k) <= maxBoxes) alwaysFits++;
  while (alwaysFits > 0 && boxCountBound(alwaysFits, k) > maxBoxes) alwaysFits--;
  let latest: { number: number; size: number } | null = null;
  for (const t of trials) {
    if (latest !== null && t.number <= latest.number) continue;
    const size = parseRecord(t.systemAttrs[SystemAttr.gpFrontSize], k, maxBoxes);
    if (size !== null && 2 * size + 1 > alwaysFits) latest = { number: t.number, size };
  }
  return latest?.size ?? null;
}

function parseRecord(value: JsonValue | undefined, k: number, maxBoxes: number): number | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  // (Array.isArray does not narrow a readonly array out of the union.)
  const { version, objectives, maxBoxes: recordMax, size } = value as { readonly [field: string]: JsonValue | undefined };
  if (version !== STORED_FRONT_SIZE_VERSION || objectives !== k || recordMax !== maxBoxes) return null;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 1) return null;
  return size;
}
