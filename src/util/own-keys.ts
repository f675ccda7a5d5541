/**
 * Records keyed by user-chosen names (parameters, attribute keys). A name may be any string,
 * including `constructor`, `toString` or `__proto__`, as in Optuna: so a lookup must see own keys
 * only (`obj[name]` on a plain object finds `Object.prototype` members), and a write must create an
 * own property (`obj['__proto__'] = v` sets the prototype instead and the value is lost).
 */

/** The own property `key` of `record`, or undefined. */
export function getOwn<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined;
}

/** Whether `record` has its own property `key`. */
export function hasOwn(record: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(record, key);
}

/** Sets the own, enumerable property `key` of `record` (also for `__proto__`). */
export function setOwn<T>(record: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') {
    Object.defineProperty(record, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    record[key] = value;
  }
}
