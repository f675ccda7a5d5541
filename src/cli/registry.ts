/**
 * Sampler and pruner registries of the CLI: a config name -> the module and export that implement
 * it. Modules are imported on demand, so a sampler that is not built into this checkout (e.g. `gp`
 * before the native issue lands) fails with a clear `ConfigError` only when a config asks for it.
 *
 * Constructor validation errors (`InvalidOptionError` naming an option) are re-thrown as
 * `ConfigError`s located at `sampler.<option>` / `pruner.<option>` (a field of an object option at
 * its dotted path, `sampler.refitPolicy.fitSubsetMax`).
 */
import { ConfigError, KestrelError } from '../errors.js';
import { NopPruner, type Pruner } from '../pruners/pruner.js';
import type { ConstraintsFunc } from '../samplers/constraints.js';
import type { Sampler } from '../samplers/sampler.js';
import type { SpaceSpec } from '../space/types.js';
import { getSurrogateBackend } from '../surrogate/select-backend.js';

/** A sampler or pruner as configured: its registry name and the options passed to its constructor. */
export interface ComponentConfig {
  readonly name: string;
  readonly options: Readonly<Record<string, unknown>>;
}

interface SamplerEntry {
  /** Module path relative to this file (`.js`; tsx maps it to the `.ts` source in a dev checkout). */
  readonly module: string;
  readonly exportName: string;
  /** The sampler takes the declarative space (grid search). */
  readonly needsSpace: boolean;
  /** The sampler handles several objectives (`directions` with more than one entry). */
  readonly multiObjective: boolean;
  /** The sampler takes a `constraintsFunc` option (config key `constraintsExport`). */
  readonly constraints: boolean;
  /** The sampler takes a surrogate `backend` option (and `numThreads`), checked at config time. */
  readonly surrogateBackend?: boolean;
}

const SAMPLERS: Readonly<Record<string, SamplerEntry>> = {
  random: { module: '../samplers/random-sampler.js', exportName: 'RandomSampler', needsSpace: false, multiObjective: true, constraints: false },
  grid: { module: '../samplers/grid-sampler.js', exportName: 'GridSampler', needsSpace: true, multiObjective: true, constraints: false },
  sobol: { module: '../samplers/sobol-sampler.js', exportName: 'SobolSampler', needsSpace: false, multiObjective: true, constraints: false },
  gp: { module: '../samplers/gp/gp-sampler.js', exportName: 'GpSampler', needsSpace: false, multiObjective: true, constraints: true, surrogateBackend: true },
  tpe: { module: '../samplers/tpe/tpe-sampler.js', exportName: 'TpeSampler', needsSpace: false, multiObjective: false, constraints: false },
  nsga2: { module: '../samplers/genetic/nsga-ii-sampler.js', exportName: 'NsgaIiSampler', needsSpace: false, multiObjective: true, constraints: true },
  // The genetic sampler Kestrel ships is NSGA-II (single- and multi-objective).
  genetic: { module: '../samplers/genetic/nsga-ii-sampler.js', exportName: 'NsgaIiSampler', needsSpace: false, multiObjective: true, constraints: true },
};

interface PrunerEntry {
  readonly module: string;
  readonly exportName: string;
  /** `new Export(options)` (a class) or `Export(options)` (a factory function). */
  readonly kind: 'class' | 'factory';
}

const PRUNERS: Readonly<Record<string, PrunerEntry | null>> = {
  none: null,
  nop: null,
  median: { module: '../pruners/median.js', exportName: 'MedianPruner', kind: 'class' },
  percentile: { module: '../pruners/percentile.js', exportName: 'PercentilePruner', kind: 'class' },
  threshold: { module: '../pruners/threshold.js', exportName: 'ThresholdPruner', kind: 'class' },
  patient: { module: '../pruners/patient.js', exportName: 'PatientPruner', kind: 'class' },
  'successive-halving': { module: '../pruners/successive-halving.js', exportName: 'SuccessiveHalvingPruner', kind: 'class' },
  // Asynchronous successive halving is what the SuccessiveHalvingPruner implements.
  asha: { module: '../pruners/successive-halving.js', exportName: 'SuccessiveHalvingPruner', kind: 'class' },
  hyperband: { module: '../pruners/hyperband.js', exportName: 'HyperbandPruner', kind: 'class' },
  adaptive: { module: '../pruners/adaptive.js', exportName: 'adaptivePruner', kind: 'factory' },
};

/** Sampler names a config may use. */
export const SAMPLER_NAMES: readonly string[] = Object.keys(SAMPLERS);
/** Pruner names a config may use. */
export const PRUNER_NAMES: readonly string[] = Object.keys(PRUNERS);
/** Sampler names that handle several objectives. */
export const MULTI_OBJECTIVE_SAMPLER_NAMES: readonly string[] = SAMPLER_NAMES.filter((name) => SAMPLERS[name].multiObjective);

/** Sampler names that take a constraints function (`constraintsFunc`, config key `constraintsExport`). */
export const CONSTRAINED_SAMPLER_NAMES: readonly string[] = SAMPLER_NAMES.filter((name) => SAMPLERS[name].constraints);

/** True for a pruner name that never prunes (`none`, `nop`). */
export function isNopPrunerName(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(PRUNERS, name) && PRUNERS[name] === null;
}

export interface CreateSamplerOptions {
  readonly name: string;
  readonly options?: Readonly<Record<string, unknown>>;
  /** Passed as the sampler's `seed` option when not null. */
  readonly seed?: number | null;
  /** The declarative space, for samplers that enumerate it (grid). */
  readonly space?: SpaceSpec | null;
  /**
   * Passed as the sampler's `constraintsFunc` option when not null (config key `constraintsExport`);
   * a sampler that takes none is a `ConfigError` at `constraintsExport`.
   */
  readonly constraintsFunc?: ConstraintsFunc | null;
}

/** Instantiates a sampler by registry name. */
export async function createSampler(options: CreateSamplerOptions): Promise<Sampler> {
  const entry = SAMPLERS[options.name];
  if (entry === undefined) {
    throw new ConfigError('sampler.name', `expected one of ${SAMPLER_NAMES.join(', ')}; received ${JSON.stringify(options.name)}`);
  }
  const args: Record<string, unknown> = { ...(options.options ?? {}) };
  if (options.seed !== undefined && options.seed !== null) args.seed = options.seed;
  if (entry.needsSpace) {
    if (options.space === undefined || options.space === null) {
      throw new ConfigError('space', `the ${options.name} sampler needs a declarative space`);
    }
    args.space = options.space;
  }
  if (options.constraintsFunc !== undefined && options.constraintsFunc !== null) {
    if (!entry.constraints) throw unsupportedConstraints(options.name);
    args.constraintsFunc = options.constraintsFunc;
  }
  const exported = await importExport('sampler', options.name, entry.module, entry.exportName);
  const sampler = construct('sampler', exported, 'class', args);
  if (!isSampler(sampler)) {
    throw new ConfigError('sampler.name', `${entry.exportName} did not produce a Sampler`);
  }
  if (entry.surrogateBackend === true) await checkSurrogateBackend(args);
  return sampler;
}

/**
 * A surrogate backend the config names explicitly (`sampler: {name: gp, backend: cuda}`) that this
 * machine lacks is a `ConfigError` at `sampler.backend`, found before the study opens. GpSampler
 * itself rejects with `BackendUnavailableError` only at the first ask, once that trial exists: the
 * CLI used to exit 1 leaving a FAIL trial in the journal, counted toward the study's budget.
 * 'auto' and 'js' never fail here ('auto' falls back to the TypeScript backend with a warning).
 */
async function checkSurrogateBackend(args: Readonly<Record<string, unknown>>): Promise<void> {
  const backend = args.backend;
  if (backend !== 'cpu' && backend !== 'cuda') return;
  const numThreads = typeof args.numThreads === 'number' ? args.numThreads : undefined;
  try {
    await getSurrogateBackend({ backend, numThreads });
  } catch (error) {
    if (error instanceof KestrelError && error.code === 'BACKEND_UNAVAILABLE') {
      throw new ConfigError('sampler.backend', error.message, { cause: error });
    }
    throw error;
  }
}

/** The `ConfigError` for `constraintsExport` with a sampler that takes no constraints function. */
export function unsupportedConstraints(samplerName: string): ConfigError {
  return new ConfigError(
    'constraintsExport',
    `the ${samplerName} sampler takes no constraints; use one of ${CONSTRAINED_SAMPLER_NAMES.join(', ')}`,
  );
}

/** Instantiates a pruner by registry name; `null` (no pruner configured) gives the no-op pruner. */
export async function createPruner(config: ComponentConfig | null): Promise<Pruner> {
  if (config === null) return new NopPruner();
  return createPrunerAt('pruner', config);
}

async function createPrunerAt(where: string, config: ComponentConfig): Promise<Pruner> {
  if (!Object.prototype.hasOwnProperty.call(PRUNERS, config.name)) {
    throw new ConfigError(`${where}.name`, `expected one of ${PRUNER_NAMES.join(', ')}; received ${JSON.stringify(config.name)}`);
  }
  const entry = PRUNERS[config.name];
  if (entry === null) {
    const extra = Object.keys(config.options);
    if (extra.length > 0) throw new ConfigError(`${where}.${extra[0]}`, `the ${config.name} pruner takes no options`);
    return new NopPruner();
  }
  const args: Record<string, unknown> = { ...config.options };
  // The patient pruner wraps another one: `{name: patient, patience: 3, wrapped: {name: median}}`.
  if (config.name === 'patient' && args.wrapped !== undefined && args.wrapped !== null) {
    args.wrapped = await createPrunerAt(`${where}.wrapped`, toComponent(`${where}.wrapped`, args.wrapped));
  }
  const exported = await importExport(where, config.name, entry.module, entry.exportName);
  const pruner = construct(where, exported, entry.kind, args);
  if (!isPruner(pruner)) throw new ConfigError(`${where}.name`, `${entry.exportName} did not produce a Pruner`);
  return pruner;
}

function toComponent(where: string, value: unknown): ComponentConfig {
  if (typeof value === 'string') return { name: value, options: {} };
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const { name, ...options } = value as Record<string, unknown>;
    if (typeof name === 'string') return { name, options };
  }
  throw new ConfigError(where, 'expected a pruner name or {name, ...options}');
}

/** Imports `exportName` from `specifier`; a missing module or export is a `ConfigError` at `<where>.name`. */
export async function importExport(where: string, name: string, specifier: string, exportName: string): Promise<unknown> {
  let mod: unknown;
  try {
    mod = await import(specifier);
  } catch (error) {
    throw new ConfigError(
      `${where}.name`,
      `the ${where === 'sampler' ? 'sampler' : 'pruner'} "${name}" is not available in this build (${(error as Error).message})`,
      { cause: error },
    );
  }
  const exported = (mod as Record<string, unknown>)[exportName];
  if (typeof exported !== 'function') {
    throw new ConfigError(`${where}.name`, `the "${name}" module does not export ${exportName}; it is not available in this build`);
  }
  return exported;
}

type Constructor = new (options: Record<string, unknown>) => unknown;
type Factory = (options: Record<string, unknown>) => unknown;

function construct(where: string, exported: unknown, kind: 'class' | 'factory', args: Record<string, unknown>): unknown {
  try {
    return kind === 'class' ? new (exported as Constructor)(args) : (exported as Factory)(args);
  } catch (error) {
    if (error instanceof KestrelError && error.code === 'INVALID_OPTION') {
      // A field of an object option is named by its dotted path (`refitPolicy.fitSubsetMax`).
      const option = (error as KestrelError & { option?: unknown }).option;
      const at = typeof option === 'string' && option.split('.')[0] in args ? `${where}.${option}` : where;
      throw new ConfigError(at, error.message, { cause: error });
    }
    if (error instanceof KestrelError && error.code === 'INVALID_SEARCH_SPACE') {
      throw new ConfigError('space', error.message, { cause: error });
    }
    throw error;
  }
}

function isSampler(value: unknown): value is Sampler {
  return value !== null && typeof value === 'object' && typeof (value as Sampler).sampleIndependent === 'function';
}

function isPruner(value: unknown): value is Pruner {
  return value !== null && typeof value === 'object' && typeof (value as Pruner).prune === 'function';
}
