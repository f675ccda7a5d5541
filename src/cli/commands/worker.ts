/**
 * `kestrel worker <config> [flags of run]`: joins the config's study (creating it if no one has yet)
 * and runs trials until the study-wide budget (`nTrials`) is used up, the grid is exhausted or the
 * timeout passes. Start several on one journal to share the work: trial creation and the
 * study-wide budget are atomic in storage (a trial is created only while the study holds fewer
 * than `nTrials`), so no trial is lost or run twice.
 */
import { loadConfig } from '../config.js';
import type { CliIo } from '../io.js';
import { executeStudy } from '../session.js';
import { toOverrides, type RunCommandOptions } from './run.js';

export async function workerCommand(configFile: string, options: RunCommandOptions, io: CliIo): Promise<void> {
  const config = await loadConfig(configFile, toOverrides(options, io.cwd));
  await executeStudy({ config, io, role: 'worker' });
}
