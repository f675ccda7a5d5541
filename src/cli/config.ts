/**
 * The `kestrel run` / `kestrel worker` configuration file: YAML or JSON, validated with a zod schema.
 * Every problem becomes a `ConfigError` whose `path` is the dotted location of the bad field
 * (`sampler.name`, `space.lr.low`), so the message says where to look.
 *
 * YAML anchors, aliases and merge keys (`<<: *base`) are read; duplicate keys are an error.
 *
 * Paths inside the file (`objective`, `storage`) are relative to the file's directory; `storage` is
 * read by the library's own parser (`parseStorageSpec`), so it means what `openStorage` makes of it.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError, SearchSpaceError } from '../errors.js';
import { validateSpaceSpec } from '../space/spec.js';
import { parseStorageSpec, postgresNotBuiltIn, type StorageSpec } from '../storage/open-storage.js';
import { MAX_CONCURRENCY } from '../study/optimize.js';
import { MAX_PROCESSES } from '../study/trial-budget.js';
import type { SpaceSpec } from '../space/types.js';
import type { StudyDirection } from '../trial/types.js';
import {
  CONSTRAINED_SAMPLER_NAMES,
  MULTI_OBJECTIVE_SAMPLER_NAMES,
  PRUNER_NAMES,
  SAMPLER_NAMES,
  isNopPrunerName,
  unsupportedConstraints,
  type ComponentConfig,
} from './registry.js';

export type { ComponentConfig } from './registry.js';

/** The storage spec for an in-memory study (nothing is written). */
export const MEMORY_STORAGE = ':memory:';
/** The journal file used when a config names no storage (next to the config file). */
export const DEFAULT_JOURNAL = 'kestrel.journal';

/** A validated configuration with defaults applied and paths resolved to absolute ones. */
export interface RunConfig {
  /** Absolute path of the config file. */
  readonly configPath: string;
  readonly studyName: string;
  /** Absolute path of the objective module. */
  readonly objectivePath: string;
  /** The named export of the objective module that holds the objective function. */
  readonly objectiveExport: string;
  /**
   * The named export of the objective module (the same module, loaded the same way) that is the
   * study's constraints function, `(trial: FrozenTrial) => number[]` (or a typed array of numbers), a trial feasible when every
   * value is <= 0; passed to the sampler as its `constraintsFunc` option. Only samplers that take
   * one (`gp`, `nsga2`, `genetic`) may be combined with it. With process execution the module is
   * also imported by the `kestrel` process itself, since the sampler evaluates the function when
   * the trial's result is told there. null = unconstrained.
   */
  readonly constraintsExport: string | null;
  readonly directions: readonly StudyDirection[];
  /**
   * The config field that gave `directions` (`direction` or `directions`), or null when it gave
   * neither (one `minimize`): errors about the directions name it.
   */
  readonly directionsField: 'direction' | 'directions' | null;
  /** Declarative space; the objective is then called as `objective(params, trial)`. */
  readonly space: SpaceSpec | null;
  readonly sampler: ComponentConfig;
  readonly pruner: ComponentConfig | null;
  /**
   * Study-wide trial budget: run until the study holds this many trials, those of earlier runs
   * included (shared by every worker); null = unbounded.
   */
  readonly nTrials: number | null;
  /** Seconds after which no new trial starts; null = none. */
  readonly timeoutSec: number | null;
  readonly concurrency: number;
  /** `':memory:'` or an absolute journal path. */
  readonly storage: string;
  /** Sampler seed (`seed` or `sampler.seed`); null = unseeded. */
  readonly seed: number | null;
  /**
   * Heartbeats of running trials (seconds), so that a worker can record as FAIL the trials of
   * a worker that was killed; null = off. Default: every 10 s, stale after 120 s.
   */
  readonly heartbeat: { readonly intervalSec: number; readonly graceSec: number } | null;
  /**
   * Run each trial in a worker process instead of in this one (null: in this process). With
   * `gpus`, one process per GPU (pinned with CUDA_VISIBLE_DEVICES) runs one trial at a time;
   * without, `concurrency` CPU processes, which see no GPU (CUDA_VISIBLE_DEVICES=''). A trial
   * whose process crashes or is killed fails alone.
   */
  readonly processes: ProcessExecution | null;
}

/** Config keys `processes: true`, `gpus`, `trialTimeout`, `trialsPerProcess`. */
export interface ProcessExecution {
  /** GPU indices, `'auto'` (nvidia-smi -L), or null for CPU processes. */
  readonly gpus: readonly number[] | 'auto' | null;
  /** Kill a trial's process after this many seconds (trial FAIL "timed out"); null: no limit. */
  readonly trialTimeoutSec: number | null;
  /** Trials a worker process runs before it is replaced (releases all its memory). */
  readonly trialsPerProcess: number;
}

/** Command-line values that override the file (`--n-trials`, `--storage`, ...). */
export interface ConfigOverrides {
  readonly nTrials?: number;
  readonly concurrency?: number;
  /** Resolved against the current directory, not the config's. */
  readonly storage?: string;
  readonly studyName?: string;
  readonly seed?: number;
  readonly timeoutSec?: number;
  /** Directory that the config file name and `storage` resolve against (default: process.cwd()). */
  readonly cwd?: string;
}

const direction = z.enum(['minimize', 'maximize']);
const positiveInt = z.number().int().min(1);
/**
 * Seconds that become a Node timer (`trialTimeout`, `heartbeat.intervalSec`): at most 2^31 - 1 ms,
 * about 24.8 days, since Node fires a longer timer after 1 ms.
 */
const MAX_TIMER_SEC = Math.floor((2 ** 31 - 1) / 1000);
const timerSeconds = z
  .number()
  .positive()
  .max(MAX_TIMER_SEC, { error: `expected at most ${MAX_TIMER_SEC} seconds (about 24.8 days, the longest timer Node supports)` });

/** A sampler or pruner: a bare name, or `{name, ...constructor options}`. */
function componentSchema(names: readonly string[]) {
  const name = z.string().refine((v) => names.includes(v), {
    error: (issue) => `expected one of ${names.join(', ')}; received ${JSON.stringify(issue.input)}`,
  });
  return z.union([name, z.looseObject({ name })]);
}

const fileSchema = z.strictObject({
  study: z.string().min(1).optional(),
  objective: z.string().min(1, { error: 'expected the path of the objective module' }),
  objectiveExport: z.string().min(1).optional(),
  constraintsExport: z.string().min(1).optional(),
  direction: direction.optional(),
  directions: z.array(direction).min(1).optional(),
  space: z.record(z.string(), z.unknown()).optional(),
  sampler: componentSchema(SAMPLER_NAMES).optional(),
  pruner: componentSchema(PRUNER_NAMES).optional(),
  nTrials: positiveInt.optional(),
  timeout: z.number().positive().optional(),
  concurrency: positiveInt.optional(),
  storage: z.string().min(1).optional(),
  seed: z.number().int().min(0).optional(),
  processes: z.boolean().optional(),
  gpus: z
    .union([
      z.literal('auto'),
      z
        .array(z.number().int().min(0))
        .min(1)
        .refine((list) => new Set(list).size === list.length, { error: 'GPU indices must be distinct' }),
    ])
    .optional(),
  trialTimeout: timerSeconds.optional(),
  trialsPerProcess: positiveInt.optional(),
  heartbeat: z
    .union([
      z.literal(false),
      z
        .object({ intervalSec: timerSeconds.optional(), graceSec: z.number().positive().optional() })
        .strict(),
    ])
    .optional(),
});

type FileConfig = z.infer<typeof fileSchema>;

/** Reads, parses and validates a config file. */
export async function loadConfig(file: string, overrides: ConfigOverrides = {}): Promise<RunConfig> {
  const configPath = path.resolve(overrides.cwd ?? process.cwd(), file);
  let text: string;
  try {
    text = await readFile(configPath, 'utf8');
  } catch (error) {
    throw new ConfigError('', `cannot read config file ${file}: ${(error as Error).message}`, { cause: error });
  }
  return parseConfig(text, configPath, overrides);
}

/** Parses and validates config text; `configPath` (absolute) anchors relative paths and picks the format. */
export function parseConfig(text: string, configPath: string, overrides: ConfigOverrides = {}): RunConfig {
  const ext = path.extname(configPath).toLowerCase();
  // A UTF-8 byte order mark (Windows editors, PowerShell's Out-File) is not JSON; YAML allows it.
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  let raw: unknown;
  try {
    if (ext === '.json') raw = JSON.parse(text);
    // Merge keys (`<<: *base`), which YAML 1.2 left out but PyYAML and most YAML tools read.
    else if (ext === '.yaml' || ext === '.yml') raw = parseYaml(text, { merge: true });
    else throw new Error(`unsupported extension "${ext}" (expected .yaml, .yml or .json)`);
  } catch (error) {
    throw new ConfigError('', `cannot parse ${path.basename(configPath)}: ${(error as Error).message}`, { cause: error });
  }
  return validateConfig(raw, configPath, overrides);
}

/** Validates an already parsed config object. */
export function validateConfig(raw: unknown, configPath: string, overrides: ConfigOverrides = {}): RunConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError('', `expected a mapping of options at the top of ${path.basename(configPath)}, received ${describe(raw)}`);
  }
  const parsed = fileSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) throw toConfigError(parsed.error);
  const cfg: FileConfig = parsed.data;
  const dir = path.dirname(configPath);

  if (cfg.direction !== undefined && cfg.directions !== undefined) {
    throw new ConfigError('directions', 'give either direction or directions, not both');
  }
  const directions = cfg.directions ?? [cfg.direction ?? 'minimize'];

  const sampler = toComponent(cfg.sampler ?? 'random');
  const pruner = cfg.pruner === undefined ? null : toComponent(cfg.pruner);
  if (directions.length > 1) {
    // Caught here, before a study is created and a trial fails in storage.
    if (!MULTI_OBJECTIVE_SAMPLER_NAMES.includes(sampler.name)) {
      throw new ConfigError(
        'sampler',
        `the ${sampler.name} sampler supports one objective, but directions has ${directions.length}; use one of ${MULTI_OBJECTIVE_SAMPLER_NAMES.join(', ')}`,
      );
    }
    if (pruner !== null && !isNopPrunerName(pruner.name)) {
      throw new ConfigError('pruner', `pruning is undefined for several objectives (directions has ${directions.length}); remove the pruner`);
    }
  }

  if (cfg.constraintsExport !== undefined && !CONSTRAINED_SAMPLER_NAMES.includes(sampler.name)) {
    throw unsupportedConstraints(sampler.name);
  }
  if (Object.prototype.hasOwnProperty.call(sampler.options, 'constraintsFunc')) {
    throw new ConfigError(
      'sampler.constraintsFunc',
      'a config cannot hold a function; export it from the objective module and name it with constraintsExport',
    );
  }

  if (Object.prototype.hasOwnProperty.call(sampler.options, 'space')) {
    // The grid sampler is handed the top-level space, which would replace this one unseen.
    throw new ConfigError(
      'sampler.space',
      'give the space at the top level of the config (top-level space:), which the grid sampler enumerates',
    );
  }
  const samplerSeed = sampler.options.seed;
  if (samplerSeed !== undefined && (typeof samplerSeed !== 'number' || !Number.isInteger(samplerSeed) || samplerSeed < 0)) {
    throw new ConfigError('sampler.seed', `expected an integer >= 0, received ${describe(samplerSeed)}`);
  }
  if (cfg.seed !== undefined && samplerSeed !== undefined && cfg.seed !== samplerSeed) {
    throw new ConfigError('seed', `conflicts with sampler.seed (${cfg.seed} vs ${String(samplerSeed)}); give one of them`);
  }
  const seed = overrides.seed ?? cfg.seed ?? (samplerSeed as number | undefined) ?? null;
  const { seed: _dropped, ...samplerOptions } = sampler.options;

  let space: SpaceSpec | null = null;
  if (cfg.space !== undefined) {
    try {
      space = validateSpaceSpec(cfg.space);
    } catch (error) {
      if (error instanceof SearchSpaceError) {
        // `param` is the dotted path of the bad parameter inside the space.
        const at = error.param === null ? 'space' : `space.${error.param}`;
        throw new ConfigError(at, error.message.replace(/^parameter "[^"]*": /, ''), { cause: error });
      }
      throw error;
    }
  }
  if (sampler.name === 'grid' && cfg.space === undefined) {
    throw new ConfigError('space', 'the grid sampler needs a declarative space to enumerate');
  }
  const nTrials = overrides.nTrials ?? cfg.nTrials ?? null;
  const timeoutSec = overrides.timeoutSec ?? cfg.timeout ?? null;
  if (nTrials === null && timeoutSec === null && sampler.name !== 'grid') {
    throw new ConfigError('nTrials', 'set nTrials or timeout (only a grid search ends by itself)');
  }

  let storage: string;
  if (overrides.storage !== undefined) storage = resolveStorage(overrides.storage, overrides.cwd ?? process.cwd(), '--storage');
  else storage = resolveStorage(cfg.storage ?? DEFAULT_JOURNAL, dir);

  const processes = resolveProcesses(cfg);
  const concurrency = overrides.concurrency ?? cfg.concurrency ?? 1;
  // optimize's own limit, checked here so that a run fails before it creates the study.
  if (processes === null && concurrency > MAX_CONCURRENCY) {
    throw new ConfigError(
      overrides.concurrency !== undefined ? '--concurrency' : 'concurrency',
      `expected at most ${MAX_CONCURRENCY} trials at once in one process (or processes: true), received ${concurrency}`,
    );
  }
  // runTrialsInProcesses's limit (concurrency is its CPU process count, and its fallback when
  // `gpus: auto` finds none; listed GPUs ignore it), checked here for the same reason.
  if (processes !== null && !(Array.isArray(processes.gpus) && processes.gpus.length > 0) && concurrency > MAX_PROCESSES) {
    throw new ConfigError(
      overrides.concurrency !== undefined ? '--concurrency' : 'concurrency',
      `expected at most ${MAX_PROCESSES} worker processes (processes: true), received ${concurrency}`,
    );
  }
  if (processes !== null && Array.isArray(processes.gpus) && processes.gpus.length > MAX_PROCESSES) {
    throw new ConfigError('gpus', `expected at most ${MAX_PROCESSES} GPUs (one worker process each), received ${processes.gpus.length}`);
  }

  return {
    configPath,
    studyName: overrides.studyName ?? cfg.study ?? path.basename(configPath, path.extname(configPath)),
    objectivePath: path.resolve(dir, cfg.objective),
    objectiveExport: cfg.objectiveExport ?? 'objective',
    constraintsExport: cfg.constraintsExport ?? null,
    directions,
    directionsField: cfg.directions !== undefined ? 'directions' : cfg.direction !== undefined ? 'direction' : null,
    space,
    sampler: { name: sampler.name, options: samplerOptions },
    pruner,
    nTrials,
    timeoutSec,
    concurrency,
    storage,
    seed,
    heartbeat: resolveHeartbeat(cfg.heartbeat),
    processes,
  };
}

function resolveProcesses(cfg: FileConfig): ProcessExecution | null {
  if (cfg.processes === false && cfg.gpus !== undefined) {
    throw new ConfigError('processes', 'gpus runs trials in worker processes; remove processes: false or gpus');
  }
  const enabled = cfg.processes === true || cfg.gpus !== undefined;
  if (!enabled) {
    if (cfg.trialTimeout !== undefined) {
      throw new ConfigError('trialTimeout', 'needs processes: true or gpus (only a trial in its own process can be stopped)');
    }
    if (cfg.trialsPerProcess !== undefined) throw new ConfigError('trialsPerProcess', 'needs processes: true or gpus');
    return null;
  }
  return { gpus: cfg.gpus ?? null, trialTimeoutSec: cfg.trialTimeout ?? null, trialsPerProcess: cfg.trialsPerProcess ?? 1 };
}

const DEFAULT_HEARTBEAT_SEC = 10;
const DEFAULT_HEARTBEAT_GRACE_SEC = 120;

function resolveHeartbeat(spec: FileConfig['heartbeat']): RunConfig['heartbeat'] {
  if (spec === false) return null;
  const intervalSec = spec?.intervalSec ?? DEFAULT_HEARTBEAT_SEC;
  const graceSec = spec?.graceSec ?? Math.max(DEFAULT_HEARTBEAT_GRACE_SEC, 3 * intervalSec);
  if (graceSec <= intervalSec) {
    throw new ConfigError('heartbeat.graceSec', `must be more than heartbeat.intervalSec (${intervalSec}), got ${graceSec}`);
  }
  return { intervalSec, graceSec };
}

/**
 * Resolves a `storage` setting as the library's `openStorage` reads it (`parseStorageSpec`, the
 * same parser): `memory` and `':memory:'` give `':memory:'`; `journal:PATH`, `journal://PATH` and
 * plain paths give absolute journal paths, relative ones resolved against `baseDir`. The CLI also
 * takes a plain path with any other file name as a journal (it hands storage `journal:<path>`, see
 * `storageSpec`). `postgresql://...` (not built in yet), other URLs and a blank path are a
 * `ConfigError` at `label` (`storage`, or the flag that gave it).
 */
export function resolveStorage(spec: string, baseDir: string, label = 'storage'): string {
  let parsed: StorageSpec;
  try {
    parsed = parseStorageSpec(spec);
  } catch (error) {
    throw new ConfigError(label, `expected a file path after "journal:", received ${describe(spec)}`, { cause: error });
  }
  switch (parsed.kind) {
    case 'memory':
      return MEMORY_STORAGE;
    case 'journal':
      return path.resolve(baseDir, parsed.path);
    case 'other':
      // Blank (`--storage "$UNSET"`): resolved, it would name baseDir itself, a directory.
      if (parsed.text === '') throw new ConfigError(label, `expected a journal file path, "journal:<path>" or ":memory:", received ${describe(spec)}`);
      return path.resolve(baseDir, parsed.text);
    case 'postgresql':
      throw new ConfigError(label, postgresNotBuiltIn().message);
    case 'url':
      throw new ConfigError(
        label,
        `expected a journal file path, "journal:<path>" or ":memory:"; there is no "${parsed.scheme}://" storage`,
      );
  }
}

/** What `openStorage` / `createStudy` get for a resolved storage: `':memory:'` or `journal:<absolute path>`. */
export function storageSpec(storage: string): string {
  return storage === MEMORY_STORAGE ? storage : `journal:${storage}`;
}

function toComponent(value: string | { name: string; [key: string]: unknown }): ComponentConfig {
  if (typeof value === 'string') return { name: value, options: {} };
  const { name, ...options } = value;
  return { name, options };
}

/** The first zod issue as a ConfigError with a dotted path. */
function toConfigError(error: z.ZodError): ConfigError {
  const issue = pickIssue(error.issues);
  const base = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0];
    const where = base === '' ? key : `${base}.${key}`;
    const allowed = base === '' ? ` (allowed: ${Object.keys(fileSchema.shape).join(', ')})` : '';
    return new ConfigError(where, `unknown key${allowed}`);
  }
  if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) {
    return new ConfigError(base, 'is required');
  }
  const message = issue.message.replace(/^Invalid input: /, '').replace(/^Too (small|big): /, '');
  const received = 'input' in issue && !/received/.test(message) ? `; received ${describe(issue.input)}` : '';
  return new ConfigError(base, `${message}${received}`);
}

/**
 * zod reports every branch of a failed union; the most useful issue is the deepest one (for a sampler
 * given as `{name: foo}`, the bad `name` rather than "not a string").
 */
function pickIssue(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue {
  let best = issues[0];
  let bestDepth = -1;
  const visit = (list: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[]): void => {
    for (const issue of list) {
      const full = [...prefix, ...issue.path];
      if (issue.code === 'invalid_union') {
        for (const branch of issue.errors) visit(branch, full);
        continue;
      }
      if (full.length > bestDepth) {
        best = { ...issue, path: full };
        bestDepth = full.length;
      }
    }
  };
  visit(issues, []);
  return best;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  // JSON.stringify gives "null" for NaN and ±Infinity (YAML .nan, .inf).
  if (typeof value === 'number') return String(value);
  return typeof value === 'object' ? 'a mapping' : JSON.stringify(value);
}
