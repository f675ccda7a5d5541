/**
 * Loads the objective function named by a config, and its constraints function (`constraintsExport`). `.ts`/`.mts`/`.cts` modules are imported through
 * tsx's ESM loader, registered once per process (unless this CLI itself already runs from
 * TypeScript sources, where a loader is necessarily active).
 *
 * With a declarative space the user's function is `objective(params, trial)`, where `params` are
 * drawn by `suggestFromSpec`; without one it is define-by-run, `objective(trial)`, and a function
 * declaring two parameters there is a `ConfigError` at `space` (checked where the objective is
 * loaded: in this process, or in process mode by the first worker process, which reports it as a
 * start failure that `executeStudy` turns into the same error).
 */
import { access } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../errors.js';
import type { ConstraintsFunc } from '../samplers/constraints.js';
import { suggestFromSpec } from '../space/spec.js';
import type { SpaceSpec } from '../space/types.js';
import type { Objective } from '../study/optimize.js';
import { messageOf } from '../errors.js';
import type { Trial } from '../trial/trial.js';

export interface LoadObjectiveOptions {
  /** Absolute path of the module. */
  readonly modulePath: string;
  /** Named export holding the function (default `objective`). */
  readonly exportName?: string;
  /** Declarative space: the function then receives `(params, trial)`. */
  readonly space?: SpaceSpec | null;
}

const TS_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.tsx']);
let tsxRegistered = false;

/**
 * Rejects with a `ConfigError` at `objective` when no file is at `modulePath` (process execution
 * checks only this in the parent: workers import the module).
 */
export async function checkObjectiveModule(modulePath: string): Promise<void> {
  try {
    await access(modulePath);
  } catch {
    throw new ConfigError('objective', `no objective module at ${modulePath}`);
  }
}

/**
 * The `ConfigError` at `space` for an objective declared `(params, trial)` in a config without
 * `space`: thrown by `loadObjective`, and in process mode where the first worker process reports it.
 */
export function paramsWithoutSpaceError(exportName: string, modulePath: string, cause?: unknown): ConfigError {
  return new ConfigError(
    'space',
    `objective "${exportName}" of ${path.basename(modulePath)} takes (params, trial), which needs a declarative space: add space: to the config, or write objective(trial) with trial.suggest*`,
    cause === undefined ? {} : { cause },
  );
}

/** Imports the module and returns an objective for `study.optimize`. */
export async function loadObjective(options: LoadObjectiveOptions): Promise<Objective> {
  const mod = await importObjectiveModule(options.modulePath);
  const fn = pickFunction(mod, options.modulePath, options.exportName ?? 'objective', 'objectiveExport');
  const space = options.space ?? null;
  if (space === null) {
    // Define-by-run calls objective(trial) alone: a function that names a second parameter was
    // written for a declarative space (params, trial), and would fail every trial (params.x of a
    // Trial is undefined). Defaulted and rest parameters do not count in `length`.
    if ((fn as (...args: unknown[]) => unknown).length >= 2) {
      throw paramsWithoutSpaceError(options.exportName ?? 'objective', options.modulePath);
    }
    return fn as Objective;
  }
  const withParams = fn as (params: Readonly<Record<string, unknown>>, trial: Trial) => ReturnType<Objective>;
  return (trial: Trial) => withParams(suggestFromSpec(trial, space), trial);
}

/**
 * Imports the objective module (as `loadObjective` does: TypeScript through tsx, CommonJS exports
 * found on `default`) and returns its export `exportName`, the study's constraints function (config
 * key `constraintsExport`). A missing export, or one that is not a function, is a `ConfigError` at
 * `constraintsExport`; the sampler judges what the function returns, at each `tell`.
 */
export async function loadConstraints(modulePath: string, exportName: string): Promise<ConstraintsFunc> {
  const mod = await importObjectiveModule(modulePath);
  return pickFunction(mod, modulePath, exportName, 'constraintsExport') as ConstraintsFunc;
}

async function importObjectiveModule(modulePath: string): Promise<Record<string, unknown>> {
  await checkObjectiveModule(modulePath);
  if (TS_EXTENSIONS.has(path.extname(modulePath).toLowerCase())) await ensureTypeScriptLoader();
  try {
    return (await import(pathToFileURL(modulePath).href)) as Record<string, unknown>;
  } catch (error) {
    // A module may throw anything at its top level (`throw null`, a string): reading `.message`
    // of that threw a TypeError, reported as UNEXPECTED instead of this config error.
    const message = error instanceof Error ? error.message : messageOf(error);
    throw new ConfigError('objective', `cannot load ${modulePath}: ${message}`, { cause: error });
  }
}

/** The function exported as `exportName`, or a `ConfigError` at `key` listing the function exports. */
function pickFunction(mod: Record<string, unknown>, modulePath: string, exportName: string, key: string): unknown {
  // A module Node loads as CommonJS (a .ts file outside a "type": "module" package) may expose its
  // exports only on `default`.
  const fallback = mod.default;
  const exports = fallback !== null && typeof fallback === 'object' ? { ...(fallback as Record<string, unknown>), ...mod } : mod;
  const fn = exports[exportName];
  if (typeof fn !== 'function') {
    const names = Object.keys(exports).filter((k) => typeof exports[k] === 'function');
    const found = names.length === 0 ? 'no function exports' : `function exports: ${names.join(', ')}`;
    throw new ConfigError(key, `${path.basename(modulePath)} has no exported function "${exportName}" (${found})`);
  }
  return fn;
}

async function ensureTypeScriptLoader(): Promise<void> {
  if (tsxRegistered) return;
  tsxRegistered = true;
  // Running from the .ts sources means a TypeScript loader (tsx, vitest) is already active.
  if (import.meta.url.endsWith('.ts')) return;
  // Both hooks, as `node --import tsx` does: a .ts file outside a "type": "module" package is
  // CommonJS to Node, and only the CJS hook can load it.
  const [esm, cjs] = await Promise.all([import('tsx/esm/api'), import('tsx/cjs/api')]);
  esm.register();
  cjs.register();
}
