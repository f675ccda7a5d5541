/**
 * Tensor-leak guard: runs a function (one trial's build-and-train) and afterwards, whether it
 * returned, was pruned or threw, releases everything TensorFlow.js memory it created, so the
 * tensor count returns to its value before the call.
 *
 * How: the function runs inside an engine scope (`tf.engine().startScope()`), which records every
 * tensor created in it outside nested `tf.tidy` calls; variables (model weights, optimizer slots)
 * are not scoped, so the guard snapshots the registered variable names before and disposes the new
 * ones after. Then it ends the scope, disposes the scope's remaining tensors (kept ones included) and
 * compares `tf.memory().numTensors` with the baseline. A tensor kept (`tf.keep`) inside a nested
 * `tf.tidy` is in no scope once the tidy ends (the engine hands only returned tensors to the parent
 * scope): tfjs's `fit` keeps each epoch's logs that way and frees them when the fit ends, so a fit
 * that throws (a callback's error) left them behind. The guard therefore also notes the tensors
 * kept during the run, and disposes those the run created.
 *
 * Only what the function created is released. An engine scope is global to the process: it records
 * every tensor created while it is open, also by code unrelated to the trial (an optimize callback,
 * a data prefetch timer, a dashboard). So the guard runs the function in an async context of its own
 * (`AsyncLocalStorage`, which follows `await`, timers and callbacks started inside it) and wraps the
 * engine's `track` and `makeVariable` (once per engine, delegating to the originals) to note which
 * guarded run each new tensor and variable was created in. Tensors and variables created outside
 * the run's async context are left alone and stay alive: they are taken out of the guard's scope
 * before it ends (and handed to the enclosing scope, if any). Conversely, a tensor that trial code
 * creates from a context that lost the async context (a callback from a library that does not
 * propagate it) is not the guard's to release: it is reported in `nUnreleased` and warned about.
 *
 * "Leftovers" are tensors other than variables that the function created and did not dispose (its
 * training data, say): they are disposed, counted, reported once per count with a `KestrelWarning`
 * (`TFJS_TENSOR_LEAK`) and returned in the result. Variables are not leftovers: disposing the models
 * of a finished trial is the guard's job.
 *
 * tfjs memory is global to the process, so guarded sections run one at a time: a second concurrent
 * `withTensorGuard` waits for the first (use worker processes to train in parallel). A guard nested
 * in another runs as part of it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { InvalidOptionError } from '../errors.js';
import { checkOptionsObject, optionKeys } from '../util/options.js';
import { warnOnce } from '../util/warn.js';
import { activeTf, tfOption, type Tf } from './backend.js';

/** Options of `withTensorGuard`. */
export interface TensorGuardOptions {
  /** The tfjs module (default: the selected backend's, else `@tensorflow/tfjs`). */
  readonly tf?: Tf;
  /** Warn when leftovers were disposed (default true). */
  readonly warnOnLeak?: boolean;
  /** Called with the report of every guarded run (after cleanup). */
  readonly onReport?: (report: TensorGuardReport) => void;
}

/** What `withTensorGuard` found and disposed after a guarded run (`onReport`). */
export interface TensorGuardReport {
  /** `tf.memory().numTensors` before the call. */
  readonly baseline: number;
  /** Variables created by the call and disposed by the guard. */
  readonly nDisposedVariables: number;
  /** Non-variable tensors the call left behind, disposed by the guard. */
  readonly nLeftoverTensors: number;
  /** Tensors above the baseline the guard could not release (0 unless something escaped tracking). */
  readonly nUnreleased: number;
}

interface TensorLike {
  readonly isDisposed: boolean;
  scopeId?: number;
  dispose(): void;
}

interface ScopeLike {
  readonly id: number;
  readonly track: TensorLike[];
}

interface EngineLike {
  startScope(name?: string): void;
  endScope(): void;
  track(result: TensorLike): TensorLike;
  keep(result: TensorLike): TensorLike;
  makeVariable(...args: unknown[]): TensorLike;
  readonly state: {
    readonly activeScope: ScopeLike | null;
    readonly scopeStack: readonly ScopeLike[];
    readonly registeredVariables: Readonly<Record<string, TensorLike>>;
  };
}

/** One guarded run; tensors and variables created in its async context map to it in `creators`. */
interface Run {
  /** Tensors kept (`tf.keep`) in its async context; disposed ones are swept out as the set grows. */
  readonly kept: Set<TensorLike>;
  /** The size of `kept` at which it is next swept. */
  sweepKeptAt: number;
}

/**
 * `kept` is swept of disposed tensors when it reaches twice its size after the last sweep, at least
 * this: `fit` keeps a few tensors per batch and disposes them, so a long fit would otherwise hold
 * every one of them until the run ends.
 */
const KEPT_SWEEP_MIN = 1024;

const inGuard = new AsyncLocalStorage<Run>();
/** The guarded run each tensor or variable was created in (absent: outside any guarded run). */
const creators = new WeakMap<object, Run>();
const hookedEngines = new WeakSet<object>();
let queue: Promise<void> = Promise.resolve();

/**
 * Wraps `engine.track` (every new tensor but variables passes through it) and `engine.makeVariable`
 * so that they note the guarded run they were called in. Once per engine; outside a guarded run
 * the cost is one `AsyncLocalStorage.getStore()` per tensor.
 */
function hookEngine(engine: EngineLike): void {
  if (hookedEngines.has(engine)) return;
  hookedEngines.add(engine);
  const track = engine.track;
  const keep = engine.keep;
  const makeVariable = engine.makeVariable;
  engine.track = function (this: EngineLike, result: TensorLike): TensorLike {
    const run = inGuard.getStore();
    if (run !== undefined) creators.set(result, run);
    return track.call(this, result);
  };
  engine.keep = function (this: EngineLike, result: TensorLike): TensorLike {
    const run = inGuard.getStore();
    if (run !== undefined) noteKept(run, result);
    return keep.call(this, result);
  };
  engine.makeVariable = function (this: EngineLike, ...args: unknown[]): TensorLike {
    const variable = makeVariable.apply(this, args);
    const run = inGuard.getStore();
    if (run !== undefined) creators.set(variable, run);
    return variable;
  };
}

function noteKept(run: Run, tensor: TensorLike): void {
  run.kept.add(tensor);
  if (run.kept.size < run.sweepKeptAt) return;
  for (const kept of run.kept) if (kept.isDisposed) run.kept.delete(kept);
  run.sweepKeptAt = Math.max(KEPT_SWEEP_MIN, 2 * run.kept.size);
}

const TENSOR_GUARD_KEYS = optionKeys<TensorGuardOptions>()(['tf', 'warnOnLeak', 'onReport']);

/** Runs `fn` and releases the tensors and variables it created (see the file comment). */
export async function withTensorGuard<T>(fn: () => Promise<T> | T, options: TensorGuardOptions = {}): Promise<T> {
  if (typeof fn !== 'function') throw new InvalidOptionError('fn', 'a function', fn);
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object', options);
  checkOptionsObject(options, TENSOR_GUARD_KEYS, 'withTensorGuard');
  tfOption(options.tf);
  if (inGuard.getStore() !== undefined) return fn();

  // One guarded section at a time (see the file comment).
  const previous = queue;
  let release!: () => void;
  queue = new Promise<void>((resolve) => {
    release = resolve;
  });
  await previous;
  try {
    const run: Run = { kept: new Set(), sweepKeptAt: KEPT_SWEEP_MIN };
    return await inGuard.run(run, () => guarded(fn, options, run));
  } finally {
    release();
  }
}

async function guarded<T>(fn: () => Promise<T> | T, options: TensorGuardOptions, run: Run): Promise<T> {
  const tf = options.tf ?? activeTf();
  const engine = tf.engine() as unknown as EngineLike;
  hookEngine(engine);
  const baseline = tf.memory().numTensors;
  const variablesBefore = new Set(Object.keys(engine.state.registeredVariables));
  engine.startScope('kestrel-tensor-guard');
  const scope = engine.state.activeScope;
  try {
    return await fn();
  } finally {
    const report = cleanUp(tf, engine, scope, variablesBefore, baseline, run);
    options.onReport?.(report);
    if (options.warnOnLeak !== false && report.nLeftoverTensors > 0) {
      warnOnce(
        'TFJS_TENSOR_LEAK',
        `a trial left ${report.nLeftoverTensors} tensor(s) undisposed; Kestrel disposed them (dispose your data tensors, or wrap work in tf.tidy)`,
      );
    }
    if (report.nUnreleased > 0) {
      warnOnce('TFJS_TENSOR_UNRELEASED', `${report.nUnreleased} tensor(s) created during a trial could not be released`);
    }
  }
}

function cleanUp(
  tf: Tf,
  engine: EngineLike,
  scope: ScopeLike | null,
  variablesBefore: ReadonlySet<string>,
  baseline: number,
  run: Run,
): TensorGuardReport {
  // Tensors and variables created during the run by code outside it: left alive, not counted.
  let nForeignAlive = 0;

  // Variables first: disposing a model that is still referenced by a scope is harmless.
  let nDisposedVariables = 0;
  for (const [name, variable] of Object.entries(engine.state.registeredVariables)) {
    if (variablesBefore.has(name) || variable.isDisposed) continue;
    if (creators.get(variable) === run) {
      variable.dispose();
      nDisposedVariables++;
    } else {
      nForeignAlive++;
    }
  }

  let nLeftoverTensors = 0;
  if (scope !== null) {
    const stack = engine.state.scopeStack;
    const isOpen = stack.includes(scope);
    // Take other code's tensors out of our scope and of the scopes left open inside fn (a
    // startScope without endScope), so that ending them does not dispose them.
    const foreign: TensorLike[] = [];
    for (const open of isOpen ? stack.slice(stack.indexOf(scope)) : [scope]) {
      let kept = 0;
      for (const tensor of open.track) {
        if (tensor.isDisposed || creators.get(tensor) === run) open.track[kept++] = tensor;
        else foreign.push(tensor);
      }
      open.track.length = kept;
    }
    for (const tensor of scope.track) if (!tensor.isDisposed) nLeftoverTensors++;
    if (isOpen) {
      while (engine.state.activeScope !== scope && engine.state.scopeStack.length > 0) engine.endScope();
      engine.endScope();
    }
    for (const tensor of scope.track) if (!tensor.isDisposed) tensor.dispose();
    // Foreign tensors go to the scope that encloses the guard, as if the guard had not been open.
    const parent = engine.state.activeScope;
    for (const tensor of foreign) {
      if (tensor.isDisposed) continue;
      nForeignAlive++;
      if (parent !== null) {
        tensor.scopeId = parent.id;
        parent.track.push(tensor);
      }
    }
  }
  // Kept inside a nested tf.tidy (or a scope fn left open): in no scope now (see the file comment).
  for (const tensor of run.kept) {
    if (tensor.isDisposed || creators.get(tensor) !== run) continue;
    tensor.dispose();
    nLeftoverTensors++;
  }
  run.kept.clear();
  const nUnreleased = Math.max(0, tf.memory().numTensors - baseline - nForeignAlive);
  return { baseline, nDisposedVariables, nLeftoverTensors, nUnreleased };
}
