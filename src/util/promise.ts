/** Whether `value` is a thenable (a Promise, or any object with a `then` method), as `await` treats it. */
export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}

/**
 * Resolves on a later turn of the event loop (`setImmediate`), after pending timers, I/O callbacks
 * and signal handlers: a loop whose awaits all settle as microtasks never lets those run otherwise.
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Resolves when every promise has settled or after `ms` (Infinity: no bound), whichever comes first. */
export async function settledWithin(promises: readonly Promise<unknown>[], ms: number): Promise<void> {
  if (promises.length === 0) return;
  if (!(ms < Infinity)) {
    await Promise.allSettled(promises);
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, ms));
    timer.unref();
  });
  try {
    await Promise.race([Promise.allSettled(promises), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
