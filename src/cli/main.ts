/**
 * The `kestrel` command line: a thin layer over the public API.
 *
 *     kestrel run <config>      create or resume a study and run it to its budget
 *     kestrel worker <config>   join a study from another process and share its budget
 *     kestrel trials <study>    list trials (table, csv, json)
 *     kestrel best <study>      the best trial (text, json)
 *     kestrel studies           the studies in a storage
 *
 * Exit codes: 0 ok (a `run` whose complete trials are all infeasible included: it reports that in
 * a line); 1 runtime error (`kestrel: <CODE>: <message>`, the stack only with KESTREL_DEBUG=1),
 * a failure of the user's code at run time included (`CONSTRAINTS_FUNC_ERROR`: a constraints
 * function that threw at a trial's tell; `OBJECTIVE_ERROR`: an error that escaped the objective, or
 * an objective awaiting a promise nothing can settle); 2 usage or configuration error, found before any trial
 * runs (a `--storage` of `trials` / `best` / `studies` with no journal file there, or a directory, included); 130 interrupted by Ctrl-C or SIGTERM (running trials are recorded as FAIL "interrupted").
 */
import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { KestrelError } from '../errors.js';
import { TrialState } from '../trial/types.js';
import { BEST_FORMATS, bestCommand, type BestFormat } from './commands/best.js';
import { runCommand, type RunCommandOptions } from './commands/run.js';
import { studiesCommand } from './commands/studies.js';
import { TRIALS_FORMATS, trialsCommand, type TrialsFormat } from './commands/trials.js';
import { workerCommand } from './commands/worker.js';
import { processIo, type CliIo } from './io.js';

export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

/** Error codes that mean "the input was wrong" (exit 2) rather than "something failed" (exit 1). */
const USAGE_CODES = new Set(['INVALID_CONFIG', 'INVALID_OPTION', 'INVALID_SEARCH_SPACE']);

/** Runs the CLI on `argv` (`process.argv` shape: node, script, ...args) and returns the exit code. */
export async function main(argv: readonly string[] = process.argv, io: CliIo = processIo()): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv]);
    return EXIT_OK;
  } catch (error) {
    return reportError(error, io);
  }
}

/** `main`, then exit the process once stdout and stderr are flushed (objectives may hold handles). */
export async function runAndExit(argv: readonly string[] = process.argv): Promise<never> {
  // A reader that closed the pipe (`kestrel best ... | head`) ends the output, not the command:
  // the write error was unhandled and crashed kestrel with a stack trace, in a run with trials
  // still RUNNING. Later writes to the closed pipe are dropped; a run goes on recording its trials.
  // Any other write error (a full disk or an I/O error under `kestrel trials ... > out.csv`) means
  // the output is incomplete: the command goes on the same way but exits 1, not 0.
  // stderr, where `run` and `worker` write their progress, is treated the same way
  // (`kestrel run ... 2>&1 | head`), except that its own errors cannot be reported on it.
  let outputLost = false;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') return;
    outputLost = true;
    process.stderr.write(`kestrel: cannot write to standard output: ${error.message}\n`);
  });
  process.stderr.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') outputLost = true;
  });
  const code = await main(argv);
  await Promise.all([flush(process.stdout), flush(process.stderr)]);
  process.exit(code === EXIT_OK && outputLost ? EXIT_RUNTIME : code);
}

function buildProgram(io: CliIo): Command {
  const program = new Command('kestrel')
    .description('Kestrel: hyperparameter tuning for Node.js')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .showHelpAfterError('(run kestrel --help for usage)')
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
    });

  const addRunFlags = (command: Command): Command =>
    command
      .option('-n, --n-trials <N>', 'study-wide trial budget (overrides nTrials)', parseCount(1))
      .option('-c, --concurrency <N>', 'trials at once in this process', parseCount(1))
      .option('-s, --storage <PATH>', "journal file, or ':memory:' (overrides storage)")
      .option('--study <NAME>', 'study name (overrides study)')
      .option('--seed <N>', 'sampler seed', parseCount(0))
      .option('-t, --timeout <SEC>', 'start no new trial after this many seconds', parsePositive);

  addRunFlags(
    program
      .command('run')
      .description('create or resume the study of a config file and run it to its trial budget')
      .argument('<config>', 'YAML or JSON config file'),
  )
    .option('--fail-stale', 'first record RUNNING trials left by killed workers as FAIL (no other worker may be running)')
    .action((config: string, options: RunCommandOptions) => runCommand(config, options, io));

  addRunFlags(
    program
      .command('worker')
      .description('join the study of a config file from another process and work until the budget is used')
      .argument('<config>', 'YAML or JSON config file'),
  ).action((config: string, options: RunCommandOptions) => workerCommand(config, options, io));

  program
    .command('trials')
    .description('list the trials of a study')
    .argument('<study>', 'study name')
    .option('-s, --storage <PATH>', 'journal file (default: kestrel.journal)')
    .addOption(new Option('-f, --format <FORMAT>', 'output format').choices([...TRIALS_FORMATS]).default('table'))
    .option('--state <STATES>', `only these states, comma-separated (${Object.values(TrialState).join(',')})`, parseStates)
    .action((study: string, options: { storage?: string; format: TrialsFormat; state?: TrialState[] }) =>
      trialsCommand(study, { storage: options.storage, format: options.format, states: options.state }, io),
    );

  program
    .command('best')
    .description('show the best trial of a study')
    .argument('<study>', 'study name')
    .option('-s, --storage <PATH>', 'journal file (default: kestrel.journal)')
    .addOption(new Option('-f, --format <FORMAT>', 'output format').choices([...BEST_FORMATS]).default('text'))
    .action((study: string, options: { storage?: string; format: BestFormat }) => bestCommand(study, options, io));

  program
    .command('studies')
    .description('list the studies in a storage')
    .option('-s, --storage <PATH>', 'journal file (default: kestrel.journal)')
    .action((options: { storage?: string }) => studiesCommand(options, io));

  return program;
}

function reportError(error: unknown, io: CliIo): number {
  if (error instanceof CommanderError) {
    // Help and --version "fail" with exit code 0; commander already printed its message.
    return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  }
  const debug = io.env.KESTREL_DEBUG === '1';
  if (error instanceof KestrelError) {
    if (error.code === 'INTERRUPTED') {
      io.stderr.write(`kestrel: ${error.code}: ${error.message}\n`);
      return EXIT_INTERRUPTED;
    }
    io.stderr.write(`kestrel: ${error.code}: ${error.message}\n`);
    if (debug) io.stderr.write(`${stackOf(error)}\n`);
    return USAGE_CODES.has(error.code) ? EXIT_USAGE : EXIT_RUNTIME;
  }
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  io.stderr.write(`kestrel: UNEXPECTED: ${message}\n`);
  if (debug) io.stderr.write(`${stackOf(error)}\n`);
  return EXIT_RUNTIME;
}

function stackOf(error: unknown): string {
  let text = error instanceof Error ? (error.stack ?? String(error)) : String(error);
  let cause = error instanceof Error ? error.cause : undefined;
  while (cause !== undefined) {
    text += `\ncaused by: ${cause instanceof Error ? (cause.stack ?? String(cause)) : String(cause)}`;
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return text;
}

function parseCount(min: number): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`expected an integer >= ${min}, received "${value}"`);
    }
    return n;
  };
}

function parsePositive(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new InvalidArgumentError(`expected a positive number of seconds, received "${value}"`);
  }
  return n;
}

function parseStates(value: string): TrialState[] {
  const states = value.split(',').map((s) => s.trim().toUpperCase()).filter((s) => s !== '');
  const known = Object.values(TrialState) as string[];
  const bad = states.find((s) => !known.includes(s));
  if (states.length === 0 || bad !== undefined) {
    throw new InvalidArgumentError(`expected states among ${known.join(',')}, received "${value}"`);
  }
  return states as TrialState[];
}

function packageVersion(): string {
  try {
    const pkg = createRequire(import.meta.url)('../../package.json') as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

function flush(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    stream.write('', () => resolve());
  });
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return pathToFileURL(realpathSync(entry)).href === import.meta.url;
  } catch {
    return false;
  }
}

if (isEntryPoint()) void runAndExit();
