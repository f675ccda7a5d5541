/**
 * Progress display of `kestrel run` / `kestrel worker`, on stderr. On a TTY: a cli-progress bar
 * (trials done/total, running, complete, pruned, failed, best value, ETA). Otherwise one plain line per
 * finished trial, with no ANSI codes:
 *
 *     trial 12 COMPLETE value=0.123 best=0.05
 *     trial 13 PRUNED step=3 value=0.4 best=0.05
 *     trial 14 FAIL reason="Error: boom" best=0.05
 *
 * With several objectives `best=` becomes `front=N`, the size of the Pareto front so far (of the
 * feasible trials in a constrained study, as `study.bestTrials()`).
 *
 * Values are printed in JavaScript's shortest round-trip form, so they can be parsed back exactly.
 */
import cliProgress from 'cli-progress';
import type { FrozenTrial } from '../trial/frozen-trial.js';
import { SystemAttr, isFeasible } from '../trial/system-attrs.js';
import { hasOwn } from '../util/own-keys.js';
import { formatNumber } from './format.js';
import { isFinishedState, type StudyDirection } from '../trial/types.js';

/** Where progress goes. */
export interface ProgressStream {
  write(chunk: string): boolean;
  readonly isTTY?: boolean;
}

export interface ProgressOptions {
  readonly stream: ProgressStream;
  /** Force the TTY bar on or off; default `stream.isTTY`. */
  readonly tty?: boolean;
  /** The trial budget of the study; null when unbounded (timeout or grid). */
  readonly total: number | null;
  /** Trials of the study that were already finished before this run. */
  readonly existing: readonly FrozenTrial[];
  readonly directions: readonly StudyDirection[];
}

/** Counts and best value of the trials seen so far. */
export interface ProgressCounts {
  done: number;
  running: number;
  complete: number;
  pruned: number;
  failed: number;
  best: number | null;
  /** Several objectives: trials on the Pareto front so far (null with one objective). */
  front: number | null;
}

export class Progress {
  readonly counts: ProgressCounts = { done: 0, running: 0, complete: 0, pruned: 0, failed: 0, best: null, front: null };
  private readonly stream: ProgressStream;
  private readonly directions: readonly StudyDirection[];
  private readonly total: number | null;
  private readonly bar: cliProgress.SingleBar | null;
  /**
   * Best values over every COMPLETE trial and over the feasible ones, with the index in the study's
   * trial list of the trial that holds each (on a tie the earliest index wins, as a count in trial
   * order has it, so that `0` and `-0` come out as a recount would); `counts.best` is the feasible
   * one once any trial holds constraint values (a constrained study, as `study.bestTrial()` decides).
   */
  private bestAny: number | null = null;
  private bestAnyIndex = -1;
  private bestFeasible: number | null = null;
  private bestFeasibleIndex = -1;
  /** Several objectives: the Pareto fronts (value vectors) of every COMPLETE trial and of the feasible ones. */
  private frontAny: (readonly number[])[] = [];
  private frontFeasible: (readonly number[])[] = [];
  /** Trials (any state) of the counted list that hold constraint values; the study is constrained when > 0. */
  private nConstrained = 0;
  /**
   * The study's trial list the counts were last made from, or null when they are not a count of one
   * list (a trial was counted on its own): the next list is then counted afresh.
   */
  private counted: readonly FrozenTrial[] | null = null;

  constructor(options: ProgressOptions) {
    this.stream = options.stream;
    this.directions = options.directions;
    this.total = options.total;
    this.recount(options.existing);
    const tty = options.tty ?? options.stream.isTTY === true;
    if (tty) {
      const counts = '{running} running | {complete} complete | {pruned} pruned | {failed} failed | best {best}';
      const format =
        this.total === null
          ? `kestrel | {value} trials | ${counts} | {duration_formatted}`
          : `kestrel |{bar}| {value}/{total} trials | ${counts} | ETA {eta_formatted}`;
      this.bar = new cliProgress.SingleBar(
        { format, stream: options.stream as NodeJS.WritableStream, hideCursor: true, etaBuffer: 20, fps: 5 },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(this.total ?? 0, this.counts.done, this.payload());
    } else {
      this.bar = null;
    }
  }

  /** A trial started in this process. */
  trialStarted(): void {
    this.counts.running++;
    this.bar?.update(this.counts.done, this.payload());
  }

  /**
   * A trial this process ran has finished. `studyTrials`: the study's trials as storage holds them
   * now, this one included; the counts and the best value are then the study's, trials finished by
   * other workers included, as `total` is the study-wide budget. Counted incrementally against the
   * previous list (see `update`); without `studyTrials` the trial is added to the counts as it is.
   */
  trialFinished(trial: FrozenTrial, studyTrials?: readonly FrozenTrial[]): void {
    this.counts.running = Math.max(0, this.counts.running - 1);
    if (studyTrials === undefined) {
      this.count(trial, Number.MAX_SAFE_INTEGER);
      if (hasOwn(trial.systemAttrs, SystemAttr.constraints)) this.nConstrained++;
      this.counted = null;
      this.publish();
    } else {
      this.update(studyTrials);
    }
    if (this.bar !== null) {
      this.bar.update(this.counts.done, this.payload());
      return;
    }
    const best = this.counts.front === null ? `best=${formatBest(this.counts.best)}` : `front=${this.counts.front}`;
    this.stream.write(`${formatTrialLine(trial)} ${best}\n`);
  }

  /** Counts the study's trials (other workers' included) and redraws the bar. */
  sync(studyTrials: readonly FrozenTrial[]): void {
    this.update(studyTrials);
    this.bar?.update(this.counts.done, this.payload());
  }

  /** Stops the bar (leaves the last frame on screen). Idempotent. */
  stop(): void {
    this.bar?.stop();
  }

  /**
   * Makes the counts those of `trials`, exactly as `recount(trials)` would, doing work only for the
   * entries that are not the very objects of the previous list at the same index. Storage keeps one
   * frozen `FrozenTrial` per trial until the trial changes and lists trials by number, so between
   * two updates that is the newly created trials and the ones that changed (a RUNNING trial that
   * finished, here or in another worker): O(n) pointer comparisons plus O(changed * front) per
   * update, instead of counting every trial and rebuilding the Pareto fronts. A changed entry whose
   * old version was counted as finished with other values, state or constraints cannot be taken
   * out of a best or a front, so that (and a shorter list) falls back to `recount`.
   */
  private update(trials: readonly FrozenTrial[]): void {
    const previous = this.counted;
    if (previous === null || trials.length < previous.length) {
      this.recount(trials);
      return;
    }
    if (trials !== previous) {
      for (let i = 0; i < trials.length; i++) {
        const trial = trials[i];
        const before = i < previous.length ? previous[i] : undefined;
        if (trial === before) continue;
        if (before !== undefined && isFinishedState(before.state)) {
          if (sameContribution(before, trial)) continue;
          this.recount(trials);
          return;
        }
        if (before !== undefined && hasOwn(before.systemAttrs, SystemAttr.constraints)) this.nConstrained--;
        if (hasOwn(trial.systemAttrs, SystemAttr.constraints)) this.nConstrained++;
        this.count(trial, i);
      }
      this.counted = Object.isFrozen(trials) ? trials : trials.slice();
    }
    this.publish();
  }

  /** Counts `trials` from zero. */
  private recount(trials: readonly FrozenTrial[]): void {
    Object.assign(this.counts, { done: 0, complete: 0, pruned: 0, failed: 0, best: null, front: null });
    this.bestAny = this.bestFeasible = null;
    this.bestAnyIndex = this.bestFeasibleIndex = -1;
    this.frontAny = [];
    this.frontFeasible = [];
    this.nConstrained = 0;
    for (let i = 0; i < trials.length; i++) {
      if (hasOwn(trials[i].systemAttrs, SystemAttr.constraints)) this.nConstrained++;
      this.count(trials[i], i);
    }
    this.counted = Object.isFrozen(trials) ? trials : trials.slice();
    this.publish();
  }

  /** Adds a finished trial (at `index` in the study's list) to the counts, best values and fronts; others are ignored. */
  private count(trial: FrozenTrial, index: number): void {
    if (trial.state === 'COMPLETE') {
      this.counts.done++;
      this.counts.complete++;
      if (this.directions.length === 1 && trial.values !== null) {
        const value = trial.values[0];
        const better = (best: number | null, bestIndex: number): boolean =>
          best === null || (this.directions[0] === 'minimize' ? value < best : value > best) || (value === best && index < bestIndex);
        if (better(this.bestAny, this.bestAnyIndex)) {
          this.bestAny = value;
          this.bestAnyIndex = index;
        }
        if (isFeasible(trial.systemAttrs) && better(this.bestFeasible, this.bestFeasibleIndex)) {
          this.bestFeasible = value;
          this.bestFeasibleIndex = index;
        }
      } else if (trial.values !== null && trial.values.length === this.directions.length) {
        this.frontAny = addToFront(this.frontAny, trial.values, this.directions);
        if (isFeasible(trial.systemAttrs)) this.frontFeasible = addToFront(this.frontFeasible, trial.values, this.directions);
      }
    } else if (trial.state === 'PRUNED') {
      this.counts.done++;
      this.counts.pruned++;
    } else if (trial.state === 'FAIL') {
      this.counts.done++;
      this.counts.failed++;
    }
  }

  /** `counts.best` / `counts.front` from the kept bests and fronts. */
  private publish(): void {
    const constrained = this.nConstrained > 0;
    this.counts.best = constrained ? this.bestFeasible : this.bestAny;
    this.counts.front = this.directions.length > 1 ? (constrained ? this.frontFeasible : this.frontAny).length : null;
  }

  private payload(): Record<string, string | number> {
    return {
      running: this.counts.running,
      complete: this.counts.complete,
      pruned: this.counts.pruned,
      failed: this.counts.failed,
      best: this.counts.front !== null ? `front ${this.counts.front}` : this.counts.best === null ? '-' : formatNumber(this.counts.best),
    };
  }
}

/** `trial 12 COMPLETE value=0.123` (values comma-separated for several objectives). */
export function formatTrialLine(trial: FrozenTrial): string {
  let line = `trial ${trial.number} ${trial.state}`;
  if (trial.state === 'COMPLETE' && trial.values !== null) {
    line += ` value=${trial.values.map(String).join(',')}`;
  } else if (trial.state === 'PRUNED') {
    const step = trial.lastStep;
    if (step !== null) line += ` step=${step}`;
    if (trial.values !== null) line += ` value=${trial.values.map(String).join(',')}`;
  } else if (trial.state === 'FAIL') {
    const reason = trial.systemAttrs.fail_reason;
    if (typeof reason === 'string') line += ` reason=${JSON.stringify(reason)}`;
  }
  return line;
}

/**
 * `front` with `values` added: unchanged when a member dominates it, else without the members it
 * dominates; equal vectors are all kept (as `study.bestTrials()` keeps trials with equal values).
 */
function addToFront(front: (readonly number[])[], values: readonly number[], directions: readonly StudyDirection[]): (readonly number[])[] {
  const dominates = (a: readonly number[], b: readonly number[]): boolean => {
    let strictly = false;
    for (let j = 0; j < directions.length; j++) {
      const better = directions[j] === 'minimize' ? a[j] < b[j] : a[j] > b[j];
      const worse = directions[j] === 'minimize' ? a[j] > b[j] : a[j] < b[j];
      if (worse) return false;
      if (better) strictly = true;
    }
    return strictly;
  };
  if (front.some((f) => dominates(f, values))) return front;
  return [...front.filter((f) => !dominates(values, f)), values];
}

/**
 * Whether two versions of a finished trial add the same to the counts: state, values, whether they
 * hold constraint values and feasibility (`Object.is`, so `0` and `-0` differ as a best would show).
 */
function sameContribution(a: FrozenTrial, b: FrozenTrial): boolean {
  if (a.state !== b.state) return false;
  if (a.values !== b.values) {
    if (a.values === null || b.values === null || a.values.length !== b.values.length) return false;
    for (let j = 0; j < a.values.length; j++) if (!Object.is(a.values[j], b.values[j])) return false;
  }
  return (
    hasOwn(a.systemAttrs, SystemAttr.constraints) === hasOwn(b.systemAttrs, SystemAttr.constraints) &&
    isFeasible(a.systemAttrs) === isFeasible(b.systemAttrs)
  );
}

function formatBest(best: number | null): string {
  return best === null ? '-' : String(best);
}
