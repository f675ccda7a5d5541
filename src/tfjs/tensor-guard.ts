/**
 * Tensor-leak guard: runs a function (one trial's build-and-train) and afterwards, whether it
 * returned, was pruned or threw, releases everything TensorFlow.js memory it created, so the
 * tensor count returns to its value before the call.
 *
 * How: the function runs inside an engine scope (`tf.engine().startScope()`), which records every
 * tensor created in it outside nested `tf.tidy` calls; variables (model weights, optimizer slots)
 * are not scoped, so the guard snapshots the registered variable names before and disposes the new
 * ones after. Then it ends the scope, disposes the scope's remaining tensors (kept ones included) and
 * compares `tf.memory().numTensors` with the baseline.
 *
 * "Leftovers" are tensors other than variables that the function created and did not dispose (its
 * training data, say): they are disposed, counted, reported once per count with a `KestrelWarning`
 * (`TFJS_TENSOR_LEAK`) and returned in the result. Variables are not leftovers: disposing the models
 * of a finished trial is the guard's job.
 *
 * tfjs memory is global to the process and an engine scope collects every tensor created while it is
 * open, so guarded sections run one at a time: a second concurrent `withTensorGuard` waits for the
 * first (use worker processes to train in parallel). A guard nested in another runs as part of it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { InvalidOptionError } from '../errors.js';
import { warnOnce } from '../util/warn.js';
import { activeTf, type Tf } from './backend.js';

export interface TensorGuardOptions {
  /** The tfjs module (default: the selected backend's, else `@tensorflow/tfjs`). */
  readonly tf?: Tf;
  /** Warn when leftovers were disposed (default true). */
  readonly warnOnLeak?: boolean;
  /** Called with the report of every guarded run (after cleanup). */
  readonly onReport?: (report: TensorGuardReport) => void;
}

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

interface ScopeLike {
  readonly track: readonly { readonly isDisposed: boolean; dispose(): void }[];
}

interface EngineLike {
  startScope(name?: string): void;
  endScope(): void;
  readonly state: {
    readonly activeScope: ScopeLike | null;
    readonly scopeStack: readonly ScopeLike[];
    readonly registeredVariables: Readonly<Record<string, { readonly isDisposed: boolean; dispose(): void }>>;
  };
}

const inGuard = new AsyncLocalStorage<true>();
let queue: Promise<void> = Promise.resolve();

/** Runs `fn` and releases the tensors and variables it created (see the file comment). */
export async function withTensorGuard<T>(fn: () => Promise<T> | T, options: TensorGuardOptions = {}): Promise<T> {
  if (typeof fn !== 'function') throw new InvalidOptionError('fn', 'a function', fn);
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object', options);
  if (inGuard.getStore() === true) return fn();

  // One guarded section at a time (see the file comment).
  const previous = queue;
  let release!: () => void;
  queue = new Promise<void>((resolve) => {
    release = resolve;
  });
  await previous;
  try {
    return await inGuard.run(true, () => guarded(fn, options));
  } finally {
    release();
  }
}

async function guarded<T>(fn: () => Promise<T> | T, options: TensorGuardOptions): Promise<T> {
  const tf = options.tf ?? activeTf();
  const engine = tf.engine() as unknown as EngineLike;
  const baseline = tf.memory().numTensors;
  const variablesBefore = new Set(Object.keys(engine.state.registeredVariables));
  engine.startScope('kestrel-tensor-guard');
  const scope = engine.state.activeScope;
  try {
    return await fn();
  } finally {
    const report = cleanUp(tf, engine, scope, variablesBefore, baseline);
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
): TensorGuardReport {
  // Variables first: disposing a model that is still referenced by a scope is harmless.
  let nDisposedVariables = 0;
  for (const [name, variable] of Object.entries(engine.state.registeredVariables)) {
    if (variablesBefore.has(name)) continue;
    if (!variable.isDisposed) {
      variable.dispose();
      nDisposedVariables++;
    }
  }

  let nLeftoverTensors = 0;
  if (scope !== null) {
    for (const tensor of scope.track) if (!tensor.isDisposed) nLeftoverTensors++;
    // Close scopes left open inside fn (a startScope without endScope), then ours.
    if (engine.state.scopeStack.includes(scope)) {
      while (engine.state.activeScope !== scope && engine.state.scopeStack.length > 0) engine.endScope();
      engine.endScope();
    }
    for (const tensor of scope.track) if (!tensor.isDisposed) tensor.dispose();
  }
  const nUnreleased = Math.max(0, tf.memory().numTensors - baseline);
  return { baseline, nDisposedVariables, nLeftoverTensors, nUnreleased };
}
