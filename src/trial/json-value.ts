/**
 * `cloneJsonValue`: the one check of what a user or system attribute may hold. It lives with the
 * trial types so that `Trial.setUserAttr` rejects a bad value where it is set (the objective then
 * fails with a message naming the key), and storage runs the same check at its boundary.
 */
import { InvalidOptionError } from '../errors.js';
import { setOwn } from '../util/own-keys.js';
import type { JsonValue } from './types.js';

/** The deepest nesting an attribute value may have. */
const MAX_DEPTH = 64;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * A deep, frozen copy of a JSON value. Rejects with `InvalidOptionError` (naming `option` and the
 * path inside the value) what JSON cannot hold exactly: non-finite numbers, undefined, functions,
 * symbols, bigints, class instances such as Date or Map, and nesting deeper than 64 levels
 * (cycles included), and makes -0 0 (JSON writes it as 0), so memory and journal storage keep
 * the same data.
 */
export function cloneJsonValue(option: string, value: unknown, depth = 0): JsonValue {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new InvalidOptionError(option, 'a JSON value (finite numbers only)', value);
    return value === 0 ? 0 : value;
  }
  if (depth > MAX_DEPTH) {
    throw new InvalidOptionError(option, `a JSON value nested at most ${MAX_DEPTH} levels deep`, 'a deeper value');
  }
  if (Array.isArray(value)) {
    const out = new Array<JsonValue>(value.length);
    for (let i = 0; i < value.length; i++) out[i] = cloneJsonValue(`${option}[${i}]`, value[i], depth + 1);
    return Object.freeze(out);
  }
  if (isPlainObject(value)) {
    const out: Record<string, JsonValue> = {};
    for (const key of Object.keys(value)) setOwn(out, key, cloneJsonValue(`${option}.${key}`, value[key], depth + 1));
    return Object.freeze(out);
  }
  throw new InvalidOptionError(option, 'a JSON value (null, boolean, number, string, array or plain object)', value);
}
