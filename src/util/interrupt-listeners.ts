/**
 * Shared process SIGINT and AbortSignal 'abort' listeners for the run loops (`study.optimize`,
 * `runTrialsInProcesses`). A listener per call made the eleventh call side by side (a study per
 * dataset under Promise.all, one AbortController for all) print Node's "Possible EventEmitter /
 * EventTarget memory leak detected" (MaxListenersExceededWarning), though nothing leaked. Every
 * call registers a handler here instead, behind one process SIGINT listener and one 'abort'
 * listener per signal.
 */
import { messageOf } from '../errors.js';

/**
 * The SIGINT handlers of the calls running now. A SIGINT goes to every handler and removes the one
 * process listener, so that a second Ctrl-C is left to Node's default, as each call's own did.
 */
const sigintHandlers = new Set<() => void>();
const onProcessSigint = (): void => {
  const handlers = [...sigintHandlers];
  sigintHandlers.clear();
  process.removeListener('SIGINT', onProcessSigint);
  for (const handler of handlers) handler();
};

/** Calls `handler` on the next SIGINT; returns its removal. */
export function listenSigint(handler: () => void): () => void {
  if (sigintHandlers.size === 0) process.on('SIGINT', onProcessSigint);
  sigintHandlers.add(handler);
  return () => {
    if (sigintHandlers.delete(handler) && sigintHandlers.size === 0) process.removeListener('SIGINT', onProcessSigint);
  };
}

/** Per AbortSignal, the handlers of the calls that were given it, behind one 'abort' listener. */
const abortHandlers = new WeakMap<AbortSignal, { readonly handlers: Set<() => void>; readonly listener: () => void }>();

/** Calls `handler` when `signal` aborts (not if it has already aborted); returns its removal. */
export function listenAbort(signal: AbortSignal, handler: () => void): () => void {
  let entry = abortHandlers.get(signal);
  if (entry === undefined) {
    const handlers = new Set<() => void>();
    const listener = (): void => {
      abortHandlers.delete(signal);
      for (const h of [...handlers]) h();
    };
    entry = { handlers, listener };
    abortHandlers.set(signal, entry);
    signal.addEventListener('abort', listener, { once: true });
  }
  const { handlers, listener } = entry;
  handlers.add(handler);
  return () => {
    if (!handlers.delete(handler) || handlers.size > 0) return;
    signal.removeEventListener('abort', listener);
    if (abortHandlers.get(signal)?.listener === listener) abortHandlers.delete(signal);
  };
}

/**
 * ": <reason>" for an AbortSignal aborted with a reason of the caller's (`controller.abort(reason)`,
 * `AbortSignal.timeout`'s TimeoutError); nothing for the default AbortError, which says no more.
 */
export function abortDetail(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  if (reason === undefined || (reason instanceof Error && reason.name === 'AbortError')) return '';
  return `: ${messageOf(reason)}`;
}
