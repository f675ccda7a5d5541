/**
 * `kestrel run <config> [--n-trials N] [--concurrency N] [--storage PATH] [--study NAME] [--seed N] [--timeout SEC]`:
 * creates (or resumes) the study of a config file and runs it to its trial budget, then prints the
 * best trial and a one-line summary (`no feasible trial among N complete` in a constrained study
 * with none feasible, exit 0; exit 1 when no trial completed or the constraints function failed at
 * a tell, see `executeStudy`). `--fail-stale` first records the RUNNING trials of a killed
 * worker as FAIL (only safe when no other worker is running on the study).
 */
import { loadConfig, type ConfigOverrides } from '../config.js';
import type { CliIo } from '../io.js';
import { executeStudy } from '../session.js';

export interface RunCommandOptions {
  readonly nTrials?: number;
  readonly concurrency?: number;
  readonly storage?: string;
  readonly study?: string;
  readonly seed?: number;
  /** Seconds. */
  readonly timeout?: number;
  /** Close RUNNING trials left by killed workers as FAIL first (only when no other worker runs). */
  readonly failStale?: boolean;
}

export async function runCommand(configFile: string, options: RunCommandOptions, io: CliIo): Promise<void> {
  const config = await loadConfig(configFile, toOverrides(options, io.cwd));
  await executeStudy({ config, io, role: 'run', failStale: options.failStale === true });
}

/** Command-line flags -> config overrides (shared with `worker`). */
export function toOverrides(options: RunCommandOptions, cwd: string): ConfigOverrides {
  return {
    cwd,
    nTrials: options.nTrials,
    concurrency: options.concurrency,
    storage: options.storage,
    studyName: options.study,
    seed: options.seed,
    timeoutSec: options.timeout,
  };
}
