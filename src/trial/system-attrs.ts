/**
 * Keys of the trial system attributes that Kestrel itself writes. Defined here, below the study
 * and the samplers, so that both read the same names. (ASHA / Hyperband also write one key per
 * judged rung, `completed_rung_<k>`: `rungRecordKey` in src/pruners/successive-halving.ts.)
 */
export const SystemAttr = {
  /** Enqueued parameter values of a WAITING trial (`study.enqueueTrial`). */
  fixedParams: 'fixed_params',
  /**
   * The place in the queue of a WAITING trial that enqueues again the configuration of an enqueued
   * trial whose ask was withdrawn before its objective ran (`study.stop()`, a timeout, an
   * interruption): the number of the trial first enqueued with it. Storage pops WAITING trials in
   * the order of this number (their own number where they hold none; see
   * `Storage.popWaitingTrial`), so the configuration is offered first again, in its original order
   * among the enqueued ones, as a WAITING trial of Optuna simply stays WAITING.
   */
  enqueuedNumber: 'enqueued_number',
  /**
   * The sampler's joint proposal for a running trial, recorded by `study.ask`. Its `suggest*`
   * values reach storage only once the objective yields (or reports, or finishes), so samplers
   * read this to see pending points.
   */
  relativeParams: 'relative_params',
  /** Why a trial failed (objective error message, invalid value, "interrupted", "stale"). */
  failReason: 'fail_reason',
  /** Epoch ms of the running trial's last heartbeat (only for trials run with heartbeats). */
  heartbeat: 'heartbeat',
  /**
   * The process that runs a trial with heartbeats: its `ProcessIdentity` (src/util/process-identity.ts),
   * or `{pid, host}` where it has none (not Linux) and as an earlier version wrote it, so that
   * `failStaleTrials` in another process of the same host, boot and PID namespace can tell that it
   * is still alive and spare its trial however old its heartbeat.
   */
  heartbeatOwner: 'heartbeat_owner',
  /**
   * The process that runs a trial launched by `optimize` (or `runTrialsInProcesses`, whose trials
   * the parent process runs): a `ProcessIdentity` (src/util/process-identity.ts), so that a later
   * `optimize` on the same host can tell that it has exited and record the trial as FAIL
   * (`Study.failOrphanedTrials`). Not written by a bare `ask`, nor where no identity can be read.
   */
  ownerProcess: 'owner_process',
  /**
   * GpSampler's fitted hyperparameters, recorded on the trials whose suggestion fitted them (one
   * record, or an array of one per model fitted: per objective, per constraint), so that a new
   * sampler on the study starts from them (src/samplers/gp/stored-fit.ts).
   */
  gpFit: 'gp_fit',
  /**
   * GpSampler's logEHVI: the size its thinned Pareto front last fitted the box limit at, recorded
   * when it changes, so that a new sampler on the study starts there
   * (src/samplers/gp/stored-front-size.ts).
   */
  gpFrontSize: 'gp_front_size',
  /**
   * Constraint values of a COMPLETE or PRUNED trial (Optuna's key): an array of finite numbers, the
   * trial feasible when every one is <= 0; null when the constraints function failed for it.
   * Written with the trial's result by a sampler with a `constraintsFunc` (NsgaIiSampler, GpSampler); a study
   * where any trial holds this key is constrained, and its best trials are feasible ones only.
   */
  constraints: 'constraints',
} as const;

/**
 * The constraint values stored on a trial: the array when it holds finite numbers only, null when
 * the key holds anything else (null: the constraints function failed), undefined without the key.
 */
export function storedConstraints(systemAttrs: Readonly<Record<string, unknown>>): readonly number[] | null | undefined {
  if (!Object.prototype.hasOwnProperty.call(systemAttrs, SystemAttr.constraints)) return undefined;
  const value = systemAttrs[SystemAttr.constraints];
  if (!Array.isArray(value) || !value.every((c) => typeof c === 'number' && Number.isFinite(c))) return null;
  return value as number[];
}

/**
 * Whether a trial is feasible in a constrained study, as Optuna 4's `_get_feasible_trials`: it holds
 * constraint values and every one is <= 0. A trial without them (or with null) is infeasible.
 */
export function isFeasible(systemAttrs: Readonly<Record<string, unknown>>): boolean {
  const constraints = storedConstraints(systemAttrs);
  return constraints !== null && constraints !== undefined && constraints.every((c) => c <= 0);
}

/** `fail_reason` of a trial cut short by an interruption (Ctrl-C, SIGTERM, an aborted signal). */
export const FAIL_REASON_INTERRUPTED = 'interrupted';
/** Start of the `fail_reason` of a trial whose worker stopped (no heartbeat; `kestrel run --fail-stale`). */
export const FAIL_REASON_STALE_PREFIX = 'stale:';
/** Start of the `fail_reason` of a trial whose result (or failure) storage refused to record. */
export const FAIL_REASON_NOT_RECORDED_PREFIX = 'its result could not be recorded:';

/**
 * The `fail_reason` of a trial whose result storage refused with `message`. `told` is the
 * `fail_reason` of a refused FAIL (null for a result): an objective's own failure stays first, so
 * that the trial still reads as one (`isNonObjectiveFailReason`), with the refusal after it in
 * parentheses; a told reason that is no failure of the objective (interrupted, stale) is kept as
 * it is.
 */
export function notRecordedFailReason(message: string, told: string | null = null): string {
  const notRecorded = `${FAIL_REASON_NOT_RECORDED_PREFIX} ${message}`;
  if (told === null) return notRecorded;
  return isNonObjectiveFailReason(told) ? told : `${told} (${notRecorded})`;
}

/**
 * Whether a FAIL trial's `fail_reason` says its run went wrong (interrupted, its worker stopped,
 * or its result could not be recorded) rather than that the objective failed at its parameters
 * (it threw, returned NaN or Infinity, timed out): samplers that learn from failures (GpSampler)
 * ignore the former.
 */
export function isNonObjectiveFailReason(reason: unknown): boolean {
  if (reason === FAIL_REASON_INTERRUPTED) return true;
  return typeof reason === 'string' && (reason.startsWith(FAIL_REASON_STALE_PREFIX) || reason.startsWith(FAIL_REASON_NOT_RECORDED_PREFIX));
}
