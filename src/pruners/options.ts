/**
 * Option validation shared by the pruners. Every check throws `InvalidOptionError` naming the
 * option, what was expected and what was received.
 */
import { InvalidOptionError } from '../errors.js';

export { checkOptionsObject } from '../util/options.js';

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
