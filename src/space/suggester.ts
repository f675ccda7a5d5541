import type { CategoricalChoice, NumericSuggestOptions } from './types.js';

/**
 * Anything that can suggest parameter values by name: the live `Trial` implements it, and
 * `suggestFromSpec` samples a declarative space through it.
 */
export interface Suggester {
  suggestFloat(name: string, low: number, high: number, options?: NumericSuggestOptions): number;
  suggestInt(name: string, low: number, high: number, options?: NumericSuggestOptions): number;
  suggestCategorical<T extends CategoricalChoice>(name: string, choices: readonly T[]): T;
}
