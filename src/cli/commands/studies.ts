/**
 * `kestrel studies [--storage PATH]`: one row per study: name, directions, trials, best value
 * (feasible trials only in a constrained study; "none feasible" when it has none).
 */
import { NoFeasibleTrialsError } from '../../errors.js';
import { loadStudy } from '../../study/create-study.js';
import type { Study } from '../../study/study.js';
import { formatTable, formatValues } from '../format.js';
import type { CliIo } from '../io.js';
import { openReadStorage } from '../read-storage.js';

export interface StudiesCommandOptions {
  readonly storage?: string;
}

export async function studiesCommand(options: StudiesCommandOptions, io: CliIo): Promise<void> {
  const storage = await openReadStorage(options.storage, io.cwd);
  try {
    const summaries = await storage.getAllStudies();
    const rows: string[][] = [];
    for (const summary of summaries) {
      const study = await loadStudy({ studyName: summary.studyName, storage });
      rows.push([
        summary.studyName,
        summary.directions.join(','),
        String(summary.nTrials),
        await bestCell(study),
      ]);
    }
    if (rows.length === 0) {
      io.stdout.write('no studies\n');
      return;
    }
    io.stdout.write(formatTable(['study', 'directions', 'trials', 'best'], rows));
  } finally {
    await storage.close();
  }
}

async function bestCell(study: Study): Promise<string> {
  if (study.directions.length === 1) {
    const complete = await study.getTrials({ states: ['COMPLETE'] });
    if (complete.length === 0) return '-';
    try {
      return formatValues((await study.bestTrial()).values);
    } catch (error) {
      if (error instanceof NoFeasibleTrialsError) return 'none feasible';
      throw error;
    }
  }
  const front = await study.bestTrials();
  if (front.length > 0) return `${front.length} on the Pareto front`;
  return (await study.getTrials({ states: ['COMPLETE'] })).length === 0 ? '-' : 'none feasible';
}
