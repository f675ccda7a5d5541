/**
 * The options-object check shared by samplers and pruners: a misspelt option is an
 * `InvalidOptionError` naming it, never silently ignored.
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

/**
 * The option names of `T`, checked at compile time to be all of them:
 * `const KEYS = optionKeys<FooOptions>()(['a', 'b'] as const)` fails to compile when FooOptions
 * gains a field the list lacks.
 */
export function optionKeys<T>() {
  return <const K extends readonly (keyof T & string)[]>(
    keys: K & ([Exclude<keyof T, K[number]>] extends [never] ? unknown : { missing: Exclude<keyof T, K[number]> }),
  ): K => keys;
}
