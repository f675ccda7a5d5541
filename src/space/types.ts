/**
 * Search-space data types. Distributions are readonly plain data with a `kind` discriminant so
 * that they serialize to JSON as they are. `src/space/` is the only place that switches on `kind`.
 */

/** A value a categorical parameter may take. */
export type CategoricalChoice = string | number | boolean | null;

/** The value of one parameter, as the objective sees it. */
export type ParamValue = number | string | boolean | null;

/** Parameters of one trial, by name. */
export type Params = Readonly<Record<string, ParamValue>>;

/** A real-valued parameter in [low, high]; `log` samples uniformly in log space; `step` discretizes. */
export interface FloatDistribution {
  readonly kind: 'float';
  readonly low: number;
  readonly high: number;
  readonly log: boolean;
  /** Grid spacing from `low`, or null for continuous. Never set together with `log`. */
  readonly step: number | null;
}

/** An integer parameter in [low, high]; `step` (default 1) is the spacing from `low`. */
export interface IntDistribution {
  readonly kind: 'int';
  readonly low: number;
  readonly high: number;
  readonly log: boolean;
  readonly step: number;
}

/** One of a finite list of choices, unordered. */
export interface CategoricalDistribution {
  readonly kind: 'categorical';
  readonly choices: readonly CategoricalChoice[];
}

/** The distribution of one parameter: float, int or categorical, told apart by `kind`. */
export type Distribution = FloatDistribution | IntDistribution | CategoricalDistribution;

/** Parameter name -> distribution. */
export type SearchSpace = Readonly<Record<string, Distribution>>;

/**
 * Options of `trial.suggestFloat` / `suggestInt` (and of declarative numeric parameters). Passed to
 * `suggest*` or `floatDistribution` / `intDistribution`, any other key throws `SearchSpaceError`.
 */
export interface NumericSuggestOptions {
  readonly log?: boolean;
  readonly step?: number;
}

// ---------------------------------------------------------------------------------------------
// Declarative spaces (Hyperopt / SageMaker / Determined style), JSON/YAML-able.
// ---------------------------------------------------------------------------------------------

/** `{type: float, low, high, log?, step?, n?}`; `n` is only used by grid search (n evenly spaced points). */
export interface FloatParamSpec {
  readonly type: 'float';
  readonly low: number;
  readonly high: number;
  readonly log?: boolean;
  readonly step?: number;
  readonly n?: number;
}

/** `{type: int, low, high, log?, step?, n?}`; `n` is only used by grid search (n evenly spaced points, rounded onto the step grid). */
export interface IntParamSpec {
  readonly type: 'int';
  readonly low: number;
  readonly high: number;
  readonly log?: boolean;
  readonly step?: number;
  readonly n?: number;
}

/**
 * `{type: categorical, choices: [...]}` or, for conditional sub-spaces,
 * `{type: categorical, choices: {sgd: {momentum: {...}}, adam: {}}}`: each key is a choice and its
 * value is the sub-space sampled only when that choice is taken.
 */
export interface CategoricalParamSpec {
  readonly type: 'categorical';
  readonly choices: readonly CategoricalChoice[] | Readonly<Record<string, SpaceSpec>>;
}

/** A constant, fixed value (useful in configs; not a search dimension). */
export interface ConstParamSpec {
  readonly type: 'const';
  readonly value: ParamValue;
}

/** One parameter of a declarative space (`SpaceSpec`), told apart by `type`. */
export type ParamSpec = FloatParamSpec | IntParamSpec | CategoricalParamSpec | ConstParamSpec;

/** A declarative search space: parameter name -> spec. Order of keys is the sampling order. */
export type SpaceSpec = Readonly<Record<string, ParamSpec>>;
