/**
 * TensorFlow.js backend selection.
 *
 * Order tried (from `prefer` down): `@tensorflow/tfjs-node-gpu` when installed and a GPU is visible,
 * `@tensorflow/tfjs-node`, the WASM backend (`@tensorflow/tfjs-backend-wasm`, its .wasm files read
 * from the package's own dist folder, so nothing is fetched), then the pure-JS 'cpu' backend.
 * tfjs-node(-gpu) are optional peer dependencies: they are loaded by dynamic import when present and
 * never required. The choice is announced once with a `KestrelWarning` (code `TFJS_BACKEND`) and
 * kept for the process; the trial helpers record it as the user attribute `tfjs_backend`.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tfjs from '@tensorflow/tfjs';
import { BackendUnavailableError, InvalidOptionError } from '../errors.js';
import type { Trial } from '../trial/trial.js';
import { checkOptionsObject, optionKeys } from '../util/options.js';
import { warnOnce } from '../util/warn.js';
import { cudaDevicesHidden, detectGpus } from './gpus.js';

/** The TensorFlow.js module (`@tensorflow/tfjs`, or tfjs-node's re-export of it). */
export type Tf = typeof tfjs;

/** Kestrel's names for the backends, in order of preference. */
export type TfBackendName = 'tfjs-node-gpu' | 'tfjs-node' | 'wasm' | 'cpu';

/** What `prefer` accepts: where to start in the order gpu > node > wasm > cpu. */
export type TfBackendPreference = 'gpu' | 'node' | 'wasm' | 'cpu';

/** The user attribute the helpers write on each trial. */
export const TFJS_BACKEND_ATTR = 'tfjs_backend';

/** Options of `selectTfBackend` (and `tfObjective`'s `backend`). */
export interface SelectTfBackendOptions {
  /** Where to start in gpu > node > wasm > cpu (default 'gpu': the fastest available). */
  readonly prefer?: TfBackendPreference;
  /**
   * Use exactly the `prefer` backend: throw `BackendUnavailableError` instead of falling back when
   * it cannot be used, and when an earlier call of this process selected another one (or the
   * selected backend is no longer tfjs's active one): the selection is kept for the process, so
   * a strict request it does not meet throws rather than return the other backend; add `force`
   * to select again.
   */
  readonly strict?: boolean;
  /** Select again even if a backend was already selected in this process. */
  readonly force?: boolean;
  /** Module loader, for tests (default: dynamic `import`). */
  readonly importModule?: (specifier: string) => Promise<unknown>;
  /** GPU detection, for tests (default: `nvidia-smi -L`, and none when CUDA_VISIBLE_DEVICES hides them). */
  readonly detectGpus?: () => Promise<readonly number[]>;
}

/** What `selectTfBackend` chose: the backend, the tfjs module to use, and why faster ones were skipped. */
export interface TfBackendSelection {
  /** Kestrel's name of the chosen backend (recorded on trials). */
  readonly name: TfBackendName;
  /** The tfjs module to build models with. */
  readonly tf: Tf;
  /** tfjs's own name of the active backend (`tensorflow`, `wasm`, `cpu`). */
  readonly tfBackend: string;
  /** Why each backend above the chosen one was skipped. */
  readonly skipped: readonly string[];
}

const ORDER: readonly TfBackendName[] = ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'];
const PREFERENCE_START: Readonly<Record<TfBackendPreference, number>> = { gpu: 0, node: 1, wasm: 2, cpu: 3 };

let current: TfBackendSelection | null = null;
let wasmPathsSet = false;

/** The backend selected in this process, or null before `selectTfBackend` ran. */
export function currentTfBackend(): TfBackendSelection | null {
  return current;
}

/** The tfjs module of the current selection, else `@tensorflow/tfjs` as imported. */
export function activeTf(): Tf {
  return current?.tf ?? tfjs;
}

/**
 * The `tf` option of the helpers: `tf` when it is a TensorFlow.js module, the active module when
 * it is undefined; anything else throws `InvalidOptionError` (it would fail later with a TypeError
 * such as "tf.sequential is not a function"). Internal.
 */
export function tfOption(tf: unknown): Tf {
  if (tf === undefined) return activeTf();
  if (!isTfModule(tf)) throw new InvalidOptionError('tf', 'a TensorFlow.js module (import * as tf from "@tensorflow/tfjs")', tf);
  return tf;
}

/** True for what looks like a TensorFlow.js module. Internal. */
export function isTfModule(value: unknown): value is Tf {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return false;
  const tf = value as Record<string, unknown>;
  return typeof tf.getBackend === 'function' && typeof tf.engine === 'function' && typeof tf.memory === 'function';
}

/**
 * Kestrel's name of the backend a tfjs module runs on right now: the selection's name when `tf` is
 * the selected module, else derived from `tf.getBackend()`.
 */
export function backendNameOf(tf: Tf): string {
  if (current !== null && current.tf === tf && tf.getBackend() === current.tfBackend) return current.name;
  const active = tf.getBackend();
  if (active === 'tensorflow') return 'tfjs-node';
  return active ?? 'unknown';
}

/** Records the backend as the trial's `tfjs_backend` user attribute. */
export function recordTfBackend(trial: Trial, tf: Tf = activeTf()): void {
  if (trial.userAttrs[TFJS_BACKEND_ATTR] === undefined) trial.setUserAttr(TFJS_BACKEND_ATTR, backendNameOf(tf));
}

/**
 * Picks and activates the fastest available backend (see the file comment). Later calls return
 * the same selection (non-strict `prefer` included) unless `force` is set; a `strict` one that it
 * does not meet throws `BackendUnavailableError` (see `strict`).
 */
export async function selectTfBackend(options: SelectTfBackendOptions = {}): Promise<TfBackendSelection> {
  const prefer = checkSelectTfBackendOptions(options, 'options');
  if (current !== null && options.force !== true) {
    // A strict request got the earlier selection back whatever it was (a 'cpu' fallback for a
    // strict 'gpu'), the very fallback strict exists to refuse.
    if (options.strict === true) checkStrictlyMet(current, ORDER[PREFERENCE_START[prefer]]);
    return current;
  }
  const importModule = options.importModule ?? ((specifier: string) => import(specifier) as Promise<unknown>);
  const gpus = options.detectGpus ?? defaultGpuDetection;

  const skipped: string[] = [];
  for (let i = PREFERENCE_START[prefer]; i < ORDER.length; i++) {
    const name = ORDER[i];
    const attempt = await tryBackend(name, importModule, gpus);
    if (typeof attempt === 'string') {
      skipped.push(`${name}: ${attempt}`);
      if (options.strict === true) throw new BackendUnavailableError(name, attempt);
      continue;
    }
    current = { name, tf: attempt, tfBackend: attempt.getBackend(), skipped };
    const why = skipped.length === 0 ? '' : ` (skipped ${skipped.join('; ')})`;
    warnOnce('TFJS_BACKEND', `TensorFlow.js backend: ${name}${why}`);
    return current;
  }
  // The pure-JS 'cpu' backend ships with @tensorflow/tfjs; failing to set it is a broken install.
  throw new BackendUnavailableError('cpu', skipped.join('; '));
}

/** Throws `BackendUnavailableError` unless `selection` is `wanted` and still tfjs's active backend. */
function checkStrictlyMet(selection: TfBackendSelection, wanted: TfBackendName): void {
  if (selection.name !== wanted) {
    throw new BackendUnavailableError(
      wanted,
      `this process already selected "${selection.name}" (selectTfBackend keeps its selection; pass force: true to select again)`,
    );
  }
  const active = selection.tf.getBackend();
  if (active !== selection.tfBackend) {
    throw new BackendUnavailableError(
      wanted,
      `it was selected, but tfjs backend "${active}" is active now (tf.setBackend was called since; pass force: true to select again)`,
    );
  }
}

const SELECT_TF_BACKEND_KEYS = optionKeys<SelectTfBackendOptions>()(['prefer', 'strict', 'force', 'importModule', 'detectGpus']);

/**
 * Checks the options of `selectTfBackend` (errors name `where` and `prefer`); returns the preference.
 * Internal: `tfObjective` calls it when it is created, not at its first trial.
 */
export function checkSelectTfBackendOptions(options: SelectTfBackendOptions, where: string): TfBackendPreference {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError(where, 'an object', options);
  checkOptionsObject(options, SELECT_TF_BACKEND_KEYS, 'selectTfBackend');
  const prefer = options.prefer ?? 'gpu';
  if (!Object.prototype.hasOwnProperty.call(PREFERENCE_START, prefer)) {
    throw new InvalidOptionError('prefer', '"gpu", "node", "wasm" or "cpu"', prefer);
  }
  // Compared with === true below: a 'true' string would silently mean false.
  for (const key of ['strict', 'force'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'boolean') throw new InvalidOptionError(key, 'a boolean', options[key]);
  }
  for (const key of ['importModule', 'detectGpus'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'function') throw new InvalidOptionError(key, 'a function', options[key]);
  }
  return prefer;
}

/** Forgets the selection (tests). The tfjs engine keeps its active backend. */
export function resetTfBackendSelection(): void {
  current = null;
}

async function defaultGpuDetection(): Promise<readonly number[]> {
  if (cudaDevicesHidden()) return [];
  return detectGpus();
}

/** The activated tf module, or why the backend cannot be used. */
async function tryBackend(
  name: TfBackendName,
  importModule: (specifier: string) => Promise<unknown>,
  gpus: () => Promise<readonly number[]>,
): Promise<Tf | string> {
  switch (name) {
    case 'tfjs-node-gpu': {
      if ((await gpus()).length === 0) return 'no visible GPU';
      return loadNodeBackend('@tensorflow/tfjs-node-gpu', importModule);
    }
    case 'tfjs-node':
      return loadNodeBackend('@tensorflow/tfjs-node', importModule);
    case 'wasm':
      return loadWasmBackend(importModule);
    case 'cpu':
      return (await setBackend(tfjs, 'cpu')) ? tfjs : 'tf.setBackend("cpu") failed';
  }
}

async function loadNodeBackend(specifier: string, importModule: (specifier: string) => Promise<unknown>): Promise<Tf | string> {
  let loaded: unknown;
  try {
    loaded = await importModule(specifier);
  } catch (error) {
    return isModuleNotFound(error) ? 'not installed' : `failed to load (${messageOf(error)})`;
  }
  const tf = unwrapModule(loaded);
  if (tf === null) return 'the module does not export the TensorFlow.js API';
  return (await setBackend(tf, 'tensorflow')) ? tf : 'tf.setBackend("tensorflow") failed';
}

async function loadWasmBackend(importModule: (specifier: string) => Promise<unknown>): Promise<Tf | string> {
  let wasm: unknown;
  try {
    wasm = await importModule('@tensorflow/tfjs-backend-wasm');
  } catch (error) {
    return isModuleNotFound(error) ? 'not installed' : `failed to load (${messageOf(error)})`;
  }
  if (!wasmPathsSet) {
    const setWasmPaths = pickFunction(wasm, 'setWasmPaths');
    if (setWasmPaths === null) return 'the module does not export setWasmPaths';
    let dir: string;
    try {
      const require = createRequire(import.meta.url);
      dir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
    } catch (error) {
      return `its .wasm files were not found (${messageOf(error)})`;
    }
    try {
      setWasmPaths(dir + path.sep);
      wasmPathsSet = true;
    } catch (error) {
      return `setWasmPaths failed (${messageOf(error)})`;
    }
  }
  return (await setBackend(tfjs, 'wasm')) ? tfjs : 'tf.setBackend("wasm") failed';
}

async function setBackend(tf: Tf, name: string): Promise<boolean> {
  try {
    if (tf.findBackendFactory(name) === null) return false;
    const ok = await tf.setBackend(name);
    if (ok) await tf.ready();
    return ok && tf.getBackend() === name;
  } catch {
    return false;
  }
}

function unwrapModule(loaded: unknown): Tf | null {
  const candidates = [loaded, isRecord(loaded) ? loaded.default : undefined];
  for (const candidate of candidates) {
    if (isRecord(candidate) && typeof candidate.setBackend === 'function' && typeof candidate.sequential === 'function') {
      return candidate as unknown as Tf;
    }
  }
  return null;
}

function pickFunction(mod: unknown, name: string): ((arg: string) => void) | null {
  for (const candidate of [mod, isRecord(mod) ? mod.default : undefined]) {
    if (isRecord(candidate) && typeof candidate[name] === 'function') return candidate[name] as (arg: string) => void;
  }
  return null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function');
}

function isModuleNotFound(error: unknown): boolean {
  if (!isRecord(error)) return false;
  return error.code === 'ERR_MODULE_NOT_FOUND' || error.code === 'MODULE_NOT_FOUND';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
