/**
 * `kestrel best <study> [--storage PATH] [--format text|json]`: the best trial of a study (the
 * Pareto front for several objectives). Exits 1 with NO_COMPLETED_TRIALS when none completed, and
 * with NO_FEASIBLE_TRIALS when the study is constrained (trials hold `systemAttrs.constraints`) and
 * none of its completed trials is feasible. In a constrained study each best trial also shows its
 * constraint values (`constraints`, feasible: every one <= 0).
 */
import { NoCompletedTrialsError, NoFeasibleTrialsError } from '../../errors.js';
import { trialsToJson } from '../../storage/export.js';
import type { FrozenTrial } from '../../trial/frozen-trial.js';
import { storedConstraints } from '../../trial/system-attrs.js';
import { formatDuration, formatParam, formatText, formatValues } from '../format.js';
import type { CliIo } from '../io.js';
import { loadReadStudy, openReadStorage } from '../read-storage.js';

export type BestFormat = 'text' | 'json';
export const BEST_FORMATS: readonly BestFormat[] = ['text', 'json'];

export interface BestCommandOptions {
  readonly storage?: string;
  readonly format?: BestFormat;
}

export async function bestCommand(studyName: string, options: BestCommandOptions, io: CliIo): Promise<void> {
  const storage = await openReadStorage(options.storage, io.cwd);
  try {
    const study = await loadReadStudy(studyName, storage);
    const best = study.directions.length === 1 ? [await study.bestTrial()] : await study.bestTrials();
    if (best.length === 0) {
      const nComplete = (await study.getTrials({ states: ['COMPLETE'] })).length;
      throw nComplete === 0 ? new NoCompletedTrialsError(studyName) : new NoFeasibleTrialsError(studyName, nComplete);
    }
    if ((options.format ?? 'text') === 'json') {
      const body = study.directions.length === 1 ? toJson(best[0]) : best.map(toJson);
      io.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
      return;
    }
    if (study.directions.length > 1) {
      io.stdout.write(`study "${studyName}": ${best.length} trials on the Pareto front (${study.directions.join(', ')})\n`);
    }
    for (const trial of best) io.stdout.write(toText(trial));
  } finally {
    await storage.close();
  }
}

/**
 * The trial as `kestrel trials --format json` writes it (the storage export: ISO datetimes beside
 * their epoch milliseconds), without the fields a best trial does not need; `constraints` only when
 * the trial holds constraint values.
 */
function toJson(trial: FrozenTrial): Record<string, unknown> {
  const full = trialsToJson([trial])[0];
  const constraints = storedConstraints(trial.systemAttrs);
  return {
    number: full.number,
    values: full.values,
    ...(full.values !== null && full.values.length === 1 ? { value: full.value } : {}),
    ...(constraints !== undefined ? { constraints } : {}),
    params: full.params,
    userAttrs: full.userAttrs,
    datetimeStart: full.datetimeStart,
    datetimeStartMs: full.datetimeStartMs,
    datetimeComplete: full.datetimeComplete,
    datetimeCompleteMs: full.datetimeCompleteMs,
    durationMs: full.durationMs,
  };
}

function toText(trial: FrozenTrial): string {
  const label = trial.values !== null && trial.values.length > 1 ? 'values' : 'value';
  const lines = [`trial #${trial.number}`, `  ${label}: ${formatValues(trial.values)}`];
  const constraints = storedConstraints(trial.systemAttrs);
  if (constraints !== undefined) lines.push(`  constraints: ${formatValues(constraints)}`);
  lines.push('  params:');
  for (const [name, value] of Object.entries(trial.params)) lines.push(`    ${formatText(name)}: ${formatParam(value)}`);
  lines.push(`  duration: ${formatDuration(trial.durationMs)}`);
  return `${lines.join('\n')}\n`;
}
