/**
 * Every error the library throws is a `KestrelError` with a stable `code`, so callers can branch
 * on `err.code` without parsing messages. Causes are kept in the standard `cause` field.
 */

/** Stable error codes. Never rename one: users match on them. */
export type KestrelErrorCode =
  | 'INVALID_OPTION'
  | 'INVALID_SEARCH_SPACE'
  | 'DISTRIBUTION_CONFLICT'
  | 'INVALID_PARAM_VALUE'
  | 'INVALID_TRIAL_VALUE'
  | 'INVALID_CONFIG'
  | 'STORAGE_ERROR'
  | 'STORAGE_CORRUPT'
  | 'STORAGE_SYNC_FAILED'
  | 'STUDY_NOT_FOUND'
  | 'DUPLICATED_STUDY'
  | 'TRIAL_NOT_FOUND'
  | 'TRIAL_FINISHED'
  | 'NO_COMPLETED_TRIALS'
  | 'NO_FEASIBLE_TRIALS'
  | 'TRIAL_PRUNED'
  | 'OBJECTIVE_ERROR'
  | 'CONSTRAINTS_FUNC_ERROR'
  | 'NATIVE_ERROR'
  | 'NUMERICAL_ERROR'
  | 'BACKEND_UNAVAILABLE'
  | 'INTERRUPTED'
  | 'NESTED_OPTIMIZATION'
  | 'GRID_EXHAUSTED';

/** Options of every `KestrelError` constructor: `cause`, the error this one wraps (kept as `error.cause`). */
export interface KestrelErrorOptions {
  readonly cause?: unknown;
}

/** Base class of all errors thrown by Kestrel. */
export class KestrelError extends Error {
  readonly code: KestrelErrorCode;

  constructor(code: KestrelErrorCode, message: string, options: KestrelErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * A public function received an option it cannot use. The message names the option, what was
 * expected and what was received.
 */
export class InvalidOptionError extends KestrelError {
  readonly option: string;

  constructor(option: string, expected: string, received: unknown, options: KestrelErrorOptions = {}) {
    super('INVALID_OPTION', `option "${option}": expected ${expected}, received ${describeValue(received)}`, options);
    this.option = option;
  }
}

/** A search-space definition (a distribution or a declarative space) is invalid. */
export class SearchSpaceError extends KestrelError {
  /** The parameter the problem is about, or null when it concerns the space as a whole. */
  readonly param: string | null;

  constructor(param: string | null, message: string, options: KestrelErrorOptions = {}) {
    super('INVALID_SEARCH_SPACE', param === null ? message : `parameter "${param}": ${message}`, options);
    this.param = param;
  }
}

/** A parameter was suggested again within one trial with a different distribution. */
export class DistributionConflictError extends KestrelError {
  readonly param: string;

  constructor(param: string, message: string) {
    super('DISTRIBUTION_CONFLICT', `parameter "${param}": ${message}`);
    this.param = param;
  }
}

/** A parameter value does not belong to its distribution (e.g. an enqueued or imported trial). */
export class InvalidParamValueError extends KestrelError {
  readonly param: string;

  constructor(param: string, message: string) {
    super('INVALID_PARAM_VALUE', `parameter "${param}": ${message}`);
    this.param = param;
  }
}

/** An objective value (or a told value) is not usable: wrong arity, not a number. */
export class InvalidTrialValueError extends KestrelError {
  constructor(message: string) {
    super('INVALID_TRIAL_VALUE', message);
  }
}

/** A CLI or YAML/JSON configuration failed validation. `path` locates the bad field. */
export class ConfigError extends KestrelError {
  readonly path: string;

  constructor(path: string, message: string, options: KestrelErrorOptions = {}) {
    super('INVALID_CONFIG', path === '' ? message : `${path}: ${message}`, options);
    this.path = path;
  }
}

/**
 * A storage backend failed (I/O, lock, protocol). `STORAGE_CORRUPT` when data cannot be replayed;
 * `STORAGE_SYNC_FAILED` when an fsync of a journal failed (its file and errno in the message, the
 * system error as `cause`), and for every later write on that storage object, which refuses them
 * until the journal is opened again (`JournalStorage`).
 */
export class StorageError extends KestrelError {
  constructor(message: string, options: KestrelErrorOptions & { corrupt?: boolean; syncFailed?: boolean } = {}) {
    super(options.corrupt === true ? 'STORAGE_CORRUPT' : options.syncFailed === true ? 'STORAGE_SYNC_FAILED' : 'STORAGE_ERROR', message, options);
  }
}

/**
 * No study of that name (or id) in the storage: `loadStudy`, `deleteStudy`, a study deleted while
 * open, or `kestrel trials` / `best` naming one the journal does not hold. Code `STUDY_NOT_FOUND`.
 */
export class StudyNotFoundError extends KestrelError {
  readonly studyName: string;

  /** `why`: an explanation appended to the message (e.g. "it was deleted"). */
  constructor(studyName: string, why?: string) {
    super('STUDY_NOT_FOUND', `study "${studyName}" does not exist in this storage${why === undefined ? '' : ` (${why})`}`);
    this.studyName = studyName;
  }
}

/**
 * `createStudy` named a study the storage already holds; pass `loadIfExists: true` to load it
 * instead, as Optuna's `load_if_exists`. Code `DUPLICATED_STUDY`.
 */
export class DuplicatedStudyError extends KestrelError {
  readonly studyName: string;

  constructor(studyName: string) {
    super('DUPLICATED_STUDY', `study "${studyName}" already exists (pass loadIfExists: true to load it)`);
    this.studyName = studyName;
  }
}

/** No trial with that id (or, for `study.tell(number, ...)`, that number) in the study. Code `TRIAL_NOT_FOUND`. */
export class TrialNotFoundError extends KestrelError {
  readonly trialId: number;

  /** `why`: an explanation appended to the message (e.g. 'its study "s" was deleted'). */
  constructor(trialId: number, why?: string) {
    super('TRIAL_NOT_FOUND', `trial ${trialId} does not exist${why === undefined ? '' : ` (${why})`}`);
    this.trialId = trialId;
  }
}

/**
 * A finished trial (COMPLETE, PRUNED, FAIL) is immutable; this is thrown on any attempt to change it,
 * e.g. `tell` of a finished trial, or a new `suggest*`, `setUserAttr` or `report` on a `Trial` after
 * `study.tell`.
 */
export class TrialFinishedError extends KestrelError {
  readonly trialId: number;

  /** The trial's number in its study, when known (what listings show; the id is storage-wide). */
  readonly trialNumber: number | null;

  constructor(trialId: number, state: string, trialNumber: number | null = null) {
    const which = trialNumber === null ? `trial id ${trialId}` : `trial ${trialNumber} (id ${trialId})`;
    super('TRIAL_FINISHED', `${which} is already finished (${state}) and cannot be changed`);
    this.trialId = trialId;
    this.trialNumber = trialNumber;
  }
}

/** `bestTrial` / `bestValue` on a study with no COMPLETE trial. */
export class NoCompletedTrialsError extends KestrelError {
  constructor(studyName: string) {
    super('NO_COMPLETED_TRIALS', `study "${studyName}" has no completed trials yet`);
  }
}

/**
 * `bestTrial` / `bestValue` on a constrained study (a trial holds `systemAttrs.constraints`) whose
 * COMPLETE trials are all infeasible (Optuna raises ValueError "No feasible trials are completed yet").
 */
export class NoFeasibleTrialsError extends KestrelError {
  /** `nComplete`: how many COMPLETE trials the study holds, named in the message when given. */
  constructor(studyName: string, nComplete?: number) {
    const among = nComplete === undefined ? '' : `, none among ${nComplete} complete`;
    super(
      'NO_FEASIBLE_TRIALS',
      `study "${studyName}" has no feasible completed trials yet${among} (every one violates a constraint or has no constraint values)`,
    );
  }
}

/**
 * A sampler's `constraintsFunc` failed for a finished trial at `tell`: it threw, or returned
 * something other than an array of finite numbers. A failure of the user's code at run time, not
 * an invalid option (the option was a function): the trial is recorded all the same, with
 * constraint values null (infeasible), and `tell` then rejects with this error, as Optuna
 * propagates a failing `constraints_func` out of `optimize` after storing the trial.
 */
export class ConstraintsFuncError extends KestrelError {
  /** The number of the trial the function failed for (recorded, with constraint values null). */
  readonly trialNumber: number;
  /** What went wrong, without the function's name: `it threw: ...`, `expected ..., received ...`. */
  readonly problem: string;

  /**
   * `funcName`: how the message names the function (default `constraintsFunc`; the CLI names the
   * config's `constraintsExport`).
   */
  constructor(trialNumber: number, problem: string, options: KestrelErrorOptions & { readonly funcName?: string } = {}) {
    super('CONSTRAINTS_FUNC_ERROR', `${options.funcName ?? 'constraintsFunc'} failed for trial ${trialNumber}: ${problem}`, options);
    this.trialNumber = trialNumber;
    this.problem = problem;
  }
}

/**
 * Thrown by an objective to stop a trial early. It is control flow, not a failure: the trial is
 * recorded as PRUNED with its last reported value.
 */
export class TrialPrunedError extends KestrelError {
  constructor(message = 'trial was pruned') {
    super('TRIAL_PRUNED', message);
  }
}

/**
 * Whether `error` is a `TrialPrunedError`, also one made by another copy of Kestrel's modules:
 * an objective that Node loads as CommonJS (a `.ts` file in a package without `"type": "module"`)
 * gets its own copy when it imports `kestrel`, and `instanceof` does not recognize that copy's
 * class. Matched by the stable code, as the trial worker processes match it.
 */
export function isTrialPrunedError(error: unknown): boolean {
  return (
    error instanceof TrialPrunedError ||
    (error !== null && typeof error === 'object' && (error as { code?: unknown }).code === 'TRIAL_PRUNED')
  );
}

/**
 * An optimization was interrupted (SIGINT or an AbortSignal). Running trials were recorded as FAIL
 * with reason "interrupted"; finished trials are intact. `study.ask()` / `tryAsk()` reject with it
 * too when the trial they were asking for was recorded FAIL "interrupted" meanwhile.
 */
export class InterruptedError extends KestrelError {
  constructor(message = 'optimization was interrupted', options: KestrelErrorOptions = {}) {
    super('INTERRUPTED', message, options);
  }
}

/**
 * `study.optimize` was called from inside a trial (objective, callback, `onTrialStart`) of an
 * `optimize` call of the same stored study that is still running (through the same `Study` or
 * another of that study on the same storage: `isSameStoredStudy`), as Optuna raises RuntimeError
 * ("Nested optimization is not supported"). Nothing is started; when the objective lets it
 * through, only its trial fails, as for any objective error. `optimize` calls that run side by
 * side (started from outside each other's trials) are allowed.
 */
export class NestedOptimizationError extends KestrelError {
  readonly studyName: string;

  constructor(studyName: string) {
    super(
      'NESTED_OPTIMIZATION',
      `nested optimization is not supported: study "${studyName}" optimize() was called from inside an objective (or callback) of a running optimize() of the same study`,
    );
    this.studyName = studyName;
  }
}

/**
 * A grid sampler has no unclaimed grid point left, and the study stops launching new trials. A
 * grid search normally ends before this: the sampler stops the running `optimize` when it claims
 * the last point. An ask made after this process handed out every point (a later run, `ask()`
 * again) is rejected without creating a trial; one that finds the points it tries taken by other
 * processes records the trial it had created as FAIL.
 */
export class GridExhaustedError extends KestrelError {
  constructor(message = 'every grid point has been claimed by a trial') {
    super('GRID_EXHAUSTED', message);
  }
}

/** The native addon reported an error (bad shape, failed factorization, CUDA failure). */
export class NativeError extends KestrelError {
  constructor(message: string, options: KestrelErrorOptions = {}) {
    super('NATIVE_ERROR', message, options);
  }
}

/** A numerical failure (e.g. a matrix that stays indefinite after bounded jitter). */
export class NumericalError extends KestrelError {
  constructor(message: string, options: KestrelErrorOptions = {}) {
    super('NUMERICAL_ERROR', message, options);
  }
}

/** A backend was requested explicitly (e.g. `backend: 'cuda'`) but cannot be used here. */
export class BackendUnavailableError extends KestrelError {
  constructor(backend: string, reason: string) {
    super('BACKEND_UNAVAILABLE', `backend "${backend}" is not available: ${reason}`);
  }
}

/** A short description of a received value, as option errors name it. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) {
    return String(value);
  }
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'symbol') return String(value);
  // JSON would spell a typed array as an object of its indices ({"0":1,"1":2}).
  if (value instanceof DataView) return `a DataView of ${value.byteLength} bytes`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} of length ${(value as unknown as ArrayLike<unknown>).length}`;
  try {
    const json = JSON.stringify(value);
    return json.length > 80 ? `${json.slice(0, 77)}...` : json;
  } catch {
    return typeof value;
  }
}

/**
 * A one-line description of anything an objective may throw. Never throws itself: a thrown value
 * whose conversion to a string throws (an object without a prototype, an Error whose `message`
 * getter throws) is described by its type, so the trial is still recorded as FAIL.
 */
export function messageOf(error: unknown): string {
  try {
    if (error instanceof Error) return error.message === '' ? error.name : `${error.name}: ${error.message}`;
    return String(error);
  } catch {
    return `a thrown ${describeType(error)} that cannot be converted to a string`;
  }
}

function describeType(value: unknown): string {
  try {
    if (value instanceof Error) return 'Error';
    if (typeof value === 'object' && value !== null) {
      const proto: unknown = Object.getPrototypeOf(value);
      return proto === null ? 'object with a null prototype' : 'object';
    }
    return typeof value;
  } catch {
    return 'value';
  }
}
