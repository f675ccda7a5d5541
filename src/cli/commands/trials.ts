/**
 * `kestrel trials <study> [--storage PATH] [--format table|csv|json] [--state COMPLETE,PRUNED]`:
 * the trials of a study. csv and json come from the storage export module (full precision,
 * intermediate values included); the table is for reading.
 */
import { trialsToCsv, trialsToJson } from '../../storage/export.js';
import type { FrozenTrial } from '../../trial/frozen-trial.js';
import type { TrialState } from '../../trial/types.js';
import { formatDuration, formatParam, formatTable, formatValues } from '../format.js';
import type { CliIo } from '../io.js';
import { loadReadStudy, openReadStorage } from '../read-storage.js';

export type TrialsFormat = 'table' | 'csv' | 'json';
export const TRIALS_FORMATS: readonly TrialsFormat[] = ['table', 'csv', 'json'];

export interface TrialsCommandOptions {
  readonly storage?: string;
  readonly format?: TrialsFormat;
  /** Only trials in these states. */
  readonly states?: readonly TrialState[];
}

export async function trialsCommand(studyName: string, options: TrialsCommandOptions, io: CliIo): Promise<void> {
  const storage = await openReadStorage(options.storage, io.cwd);
  try {
    const study = await loadReadStudy(studyName, storage);
    const trials = await study.getTrials(options.states === undefined ? {} : { states: options.states });
    const format = options.format ?? 'table';
    if (format === 'csv') io.stdout.write(ensureNewline(trialsToCsv(trials, { nObjectives: study.directions.length })));
    else if (format === 'json') io.stdout.write(`${JSON.stringify(trialsToJson(trials), null, 2)}\n`);
    else io.stdout.write(trials.length === 0 ? 'no trials\n' : trialsTable(trials));
  } finally {
    await storage.close();
  }
}

function trialsTable(trials: readonly FrozenTrial[]): string {
  const names: string[] = [];
  for (const trial of trials) {
    for (const name of Object.keys(trial.params)) if (!names.includes(name)) names.push(name);
  }
  const rows = trials.map((t) => [
    String(t.number),
    t.state,
    formatValues(t.values),
    ...names.map((n) => (Object.prototype.hasOwnProperty.call(t.params, n) ? formatParam(t.params[n]) : '')),
    formatDuration(t.durationMs),
  ]);
  return formatTable(['number', 'state', 'value', ...names, 'duration'], rows);
}

function ensureNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}
