/**
 * Option validation shared by the pruners. Every check throws `InvalidOptionError` naming the
 * option, what was expected and what was received.
 */
import { InvalidOptionError } from '../errors.js';

/** Rejects anything that is not a plain object and any key outside `allowed`. */
export function checkOptionsObject(
  options: unknown,
  allowed: readonly string[],
  where: string,
  required = false,
): void {
  if (options === undefined && !required) return;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidOptionError(where, 'an options object', options);
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw new InvalidOptionError(key, `one of the ${where} options (${allowed.join(', ')})`, key);
    }
  }
}

/** An integer >= `min`; `fallback` when undefined. */
export function intOption(name: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new InvalidOptionError(name, `an integer >= ${min}`, value);
  }
  return value;
}

/** A finite number in [min, max]; `fallback` when undefined (pass `undefined` to make it required). */
export function numberOption(
  name: string,
  value: unknown,
  fallback: number | undefined,
  min: number,
  max: number,
): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    const range =
      max === Infinity ? `a finite number >= ${min}` : min === -Infinity ? `a finite number <= ${max}` : `a number in [${min}, ${max}]`;
    throw new InvalidOptionError(name, range, value);
  }
  return value;
}
