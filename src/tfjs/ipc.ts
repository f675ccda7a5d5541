/**
 * The IPC protocol between `runTrialsInProcesses` (parent) and its trial worker processes (child).
 * Messages go over Node's `fork` channel with `serialization: 'advanced'` (structured clone), so NaN
 * and infinities in reported values survive.
 *
 * The parent owns the study: it asks and tells against storage and keeps the live `Trial`. The child
 * only trains: it runs the user's objective against a proxy trial whose storage operations
 * (`suggest*` on a parameter not yet known, `report`, `shouldPrune`, `study.getTrials`) are requests
 * answered by the parent's `Trial`.
 *
 *   parent -> child: run | reply | abort | shutdown
 *   child -> parent: ready | fatal | request (suggest, flush, prune, getTrials, claim) | stop | done
 */
import type { Distribution, ParamValue } from '../space/types.js';
import type { FrozenTrialData, JsonValue, TrialState } from '../trial/types.js';

/** Arguments of the worker script (argv[2], JSON). */
export interface WorkerArgs {
  readonly modulePath: string;
  readonly exportName: string;
  /** Call the objective as `objective(params, trial)` with params sampled by the parent from a space. */
  readonly withParams: boolean;
}

export interface RunMessage {
  readonly type: 'run';
  readonly trial: FrozenTrialData;
  /** Parameters sampled by the parent from a declarative space, or null (define-by-run). */
  readonly specParams: Readonly<Record<string, ParamValue>> | null;
}

export interface ReplyMessage {
  readonly type: 'reply';
  readonly id: number;
  readonly ok: boolean;
  readonly value?: unknown;
  readonly error?: SerializedError;
}

export interface AbortMessage {
  readonly type: 'abort';
  readonly reason: string;
}

export interface ShutdownMessage {
  readonly type: 'shutdown';
}

export type ParentMessage = RunMessage | ReplyMessage | AbortMessage | ShutdownMessage;

export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly code: string | null;
}

export type ChildRequest =
  | { readonly op: 'suggest'; readonly name: string; readonly distribution: Distribution }
  | {
      readonly op: 'flush';
      readonly userAttrs: Readonly<Record<string, JsonValue>>;
      readonly intermediateValues: Readonly<Record<number, number>>;
    }
  | { readonly op: 'prune' }
  | { readonly op: 'getTrials'; readonly states: readonly TrialState[] | null }
  | { readonly op: 'claim'; readonly key: string };

export type ChildMessage =
  /**
   * `arity`: the objective function's `length` (its parameters before the first default or rest
   * one), so that the parent can refuse an `objective(params, trial)` run without a space.
   */
  | { readonly type: 'ready'; readonly pid: number; readonly arity: number }
  | { readonly type: 'fatal'; readonly error: SerializedError }
  | { readonly type: 'request'; readonly id: number; readonly request: ChildRequest }
  | { readonly type: 'stop'; readonly reason: string }
  | { readonly type: 'done'; readonly outcome: 'complete'; readonly values: number | readonly number[] }
  | { readonly type: 'done'; readonly outcome: 'pruned'; readonly message: string }
  | { readonly type: 'done'; readonly outcome: 'fail'; readonly error: SerializedError };

const PARENT_TYPES = new Set(['run', 'reply', 'abort', 'shutdown']);
const CHILD_TYPES = new Set(['ready', 'fatal', 'request', 'stop', 'done']);

export function isParentMessage(value: unknown): value is ParentMessage {
  return isTyped(value) && PARENT_TYPES.has(value.type);
}

export function isChildMessage(value: unknown): value is ChildMessage {
  return isTyped(value) && CHILD_TYPES.has(value.type);
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { name: error.name, message: error.message, code: typeof code === 'string' ? code : null };
  }
  return { name: 'Error', message: String(error), code: null };
}

/** "Name: message", as the study records fail reasons. */
export function describeSerializedError(error: SerializedError): string {
  return error.message === '' ? error.name : `${error.name}: ${error.message}`;
}

function isTyped(value: unknown): value is { readonly type: string } {
  return value !== null && typeof value === 'object' && typeof (value as { type?: unknown }).type === 'string';
}
