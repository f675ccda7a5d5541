/**
 * Library warnings. Kestrel never writes to the console; it emits Node process warnings of type
 * `KestrelWarning` with a stable `code`, so applications can route or silence them:
 *
 *     process.on('warning', (w) => { if (w.name === 'KestrelWarning') ... });
 *
 * (`node --no-warnings` hides them all.)
 */

/** The `type` (and so the `name`) of every warning Kestrel emits. */
export const KESTREL_WARNING_TYPE = 'KestrelWarning';

const emitted = new Set<string>();

/** Emits a `KestrelWarning` with the given stable code. */
export function warn(code: string, message: string): void {
  process.emitWarning(message, { code, type: KESTREL_WARNING_TYPE });
}

/**
 * Emits a `KestrelWarning` only the first time this (code, message) pair is seen in this process.
 * Returns true when it was emitted now.
 */
export function warnOnce(code: string, message: string): boolean {
  const key = `${code}\u0000${message}`;
  if (emitted.has(key)) return false;
  emitted.add(key);
  warn(code, message);
  return true;
}

/** Forgets which warnings `warnOnce` has emitted (for tests). */
export function resetWarnOnce(): void {
  emitted.clear();
}
