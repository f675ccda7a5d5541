import { describe, expect, it } from 'vitest';
import { formatTrialLine, Progress } from '../../src/cli/progress.js';
import { FrozenTrial } from '../../src/trial/frozen-trial.js';
import type { FrozenTrialData, TrialState } from '../../src/trial/types.js';

class Sink {
  text = '';
  constructor(readonly isTTY: boolean) {}
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

function trial(number: number, state: TrialState, values: number[] | null, extra: Partial<FrozenTrialData> = {}): FrozenTrial {
  return new FrozenTrial({
    trialId: number,
    number,
    state,
    values,
    params: {},
    distributions: {},
    userAttrs: {},
    systemAttrs: {},
    intermediateValues: {},
    datetimeStart: 0,
    datetimeComplete: state === 'RUNNING' ? null : 10,
    ...extra,
  });
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[/;

describe('plain progress (not a TTY)', () => {
  it('prints one parseable line per finished trial with the running best, no ANSI codes', () => {
    const sink = new Sink(false);
    const progress = new Progress({ stream: sink, total: 4, existing: [trial(0, 'COMPLETE', [0.5])], directions: ['minimize'] });
    progress.trialStarted();
    progress.trialFinished(trial(1, 'COMPLETE', [0.75]));
    progress.trialStarted();
    progress.trialFinished(trial(2, 'COMPLETE', [0.125]));
    progress.trialFinished(trial(3, 'PRUNED', [2], { intermediateValues: { 1: 3, 4: 2 } }));
    progress.trialFinished(trial(4, 'FAIL', null, { systemAttrs: { fail_reason: 'Error: boom' } }));
    progress.stop();
    expect(sink.text).toBe(
      'trial 1 COMPLETE value=0.75 best=0.5\n' +
        'trial 2 COMPLETE value=0.125 best=0.125\n' +
        'trial 3 PRUNED step=4 value=2 best=0.125\n' +
        'trial 4 FAIL reason="Error: boom" best=0.125\n',
    );
    expect(sink.text).not.toMatch(ANSI);
    expect(progress.counts).toEqual({ done: 5, running: 0, complete: 3, pruned: 1, failed: 1, best: 0.125, front: null });
  });

  it('in a constrained study (trials holding constraint values) the best is the best feasible value', () => {
    const sink = new Sink(false);
    const feasible = (c: number[] | null) => ({ systemAttrs: { constraints: c } });
    const progress = new Progress({ stream: sink, total: null, existing: [], directions: ['minimize'] });
    progress.trialFinished(trial(0, 'COMPLETE', [0.1], feasible([0.5])));
    expect(progress.counts.best).toBeNull();
    progress.trialFinished(trial(1, 'COMPLETE', [0.7], feasible([-1])));
    progress.trialFinished(trial(2, 'COMPLETE', [0.05], feasible(null)));
    progress.trialFinished(trial(3, 'COMPLETE', [0.6], feasible([0, -2])));
    expect(sink.text).toBe(
      'trial 0 COMPLETE value=0.1 best=-\n' +
        'trial 1 COMPLETE value=0.7 best=0.7\n' +
        'trial 2 COMPLETE value=0.05 best=0.7\n' +
        'trial 3 COMPLETE value=0.6 best=0.6\n',
    );
    // Recounted from the study's trials (another worker's included): the same rule; a trial
    // without constraint values in a constrained study is infeasible, as study.bestTrial() has it.
    progress.sync([trial(0, 'COMPLETE', [0.01]), trial(1, 'COMPLETE', [0.7], feasible([-1]))]);
    expect(progress.counts.best).toBe(0.7);
    progress.sync([trial(0, 'COMPLETE', [0.01]), trial(1, 'COMPLETE', [0.7])]);
    expect(progress.counts.best).toBe(0.01);
  });

  it('with several objectives prints the size of the Pareto front (feasible trials in a constrained study)', () => {
    const sink = new Sink(false);
    const progress = new Progress({ stream: sink, total: null, existing: [], directions: ['minimize', 'maximize'] });
    progress.trialFinished(trial(0, 'COMPLETE', [1, 1]));
    progress.trialFinished(trial(1, 'COMPLETE', [2, 2])); // a trade-off: both on the front
    progress.trialFinished(trial(2, 'COMPLETE', [2, 0.5])); // dominated by trial 1
    progress.trialFinished(trial(3, 'COMPLETE', [0.5, 3])); // dominates both
    progress.trialFinished(trial(4, 'COMPLETE', [0.5, 3])); // equal values are all kept
    expect(sink.text).toBe(
      'trial 0 COMPLETE value=1,1 front=1\n' +
        'trial 1 COMPLETE value=2,2 front=2\n' +
        'trial 2 COMPLETE value=2,0.5 front=2\n' +
        'trial 3 COMPLETE value=0.5,3 front=1\n' +
        'trial 4 COMPLETE value=0.5,3 front=2\n',
    );
    // Constrained: only feasible trials count.
    progress.sync([
      trial(0, 'COMPLETE', [1, 1], { systemAttrs: { constraints: [-1] } }),
      trial(1, 'COMPLETE', [0.5, 3], { systemAttrs: { constraints: [1] } }),
    ]);
    expect(progress.counts.front).toBe(1);
  });

  it('tracks the best of a maximized study and prints values exactly', () => {
    const sink = new Sink(false);
    const progress = new Progress({ stream: sink, total: null, existing: [], directions: ['maximize'] });
    progress.trialFinished(trial(0, 'COMPLETE', [0.1 + 0.2]));
    progress.trialFinished(trial(1, 'COMPLETE', [0.2]));
    expect(sink.text).toContain('value=0.30000000000000004 best=0.30000000000000004');
    expect(sink.text).toContain('trial 1 COMPLETE value=0.2 best=0.30000000000000004');
  });

  it('formats several objectives comma-separated', () => {
    expect(formatTrialLine(trial(7, 'COMPLETE', [1, 2]))).toBe('trial 7 COMPLETE value=1,2');
  });
});

describe('TTY progress bar', () => {
  it('draws a bar with done/total, counts and best on the stream', () => {
    const sink = new Sink(true);
    const progress = new Progress({ stream: sink, total: 10, existing: [], directions: ['minimize'] });
    progress.trialStarted();
    progress.trialFinished(trial(0, 'COMPLETE', [3]));
    progress.trialFinished(trial(1, 'FAIL', null));
    progress.stop();
    expect(sink.text).toMatch(ANSI);
    expect(sink.text).toMatch(/2\/10 trials \| 0 running \| 1 complete \| 0 pruned \| 1 failed \| best 3/);
    expect(sink.text).not.toContain('trial 0 COMPLETE');
  });
});

describe('progress of one of several workers on a study', () => {
  // 3 `kestrel worker`s on a 30-trial budget each ended their bar at about 10/30 ("ETA 1s") with
  // the study done, and printed best= of their own trials, not the study's.
  it('counts the trials other workers finished and reports the study-wide best', () => {
    const sink = new Sink(false);
    const progress = new Progress({ stream: sink, total: 3, existing: [], directions: ['minimize'] });
    progress.trialStarted();
    const mine = trial(1, 'COMPLETE', [0.75]);
    const elsewhere = [trial(0, 'COMPLETE', [0.25]), trial(2, 'FAIL', null)];
    progress.trialFinished(mine, [elsewhere[0], mine, elsewhere[1]]);
    expect(sink.text).toBe('trial 1 COMPLETE value=0.75 best=0.25\n');
    expect(progress.counts).toEqual({ done: 3, running: 0, complete: 2, pruned: 0, failed: 1, best: 0.25, front: null });
  });

  it('shows the study-wide count once the run ends', () => {
    const sink = new Sink(false);
    const progress = new Progress({ stream: sink, total: 2, existing: [], directions: ['maximize'] });
    progress.sync([trial(0, 'COMPLETE', [1]), trial(1, 'PRUNED', null), trial(2, 'RUNNING', null)]);
    expect(progress.counts).toEqual({ done: 2, running: 0, complete: 1, pruned: 1, failed: 0, best: 1, front: null });
  });
});

describe('incremental counting of the study-wide trials', () => {
  const constraints = (c: number[] | null): Partial<FrozenTrialData> => ({ systemAttrs: { constraints: c } });
  /** The counts a fresh Progress makes from the list in one pass (the pre-incremental reference), less `running`. */
  const recounted = (list: readonly FrozenTrial[], directions: ('minimize' | 'maximize')[]) => {
    const fresh = new Progress({ stream: new Sink(false), total: null, existing: list, directions });
    return { ...fresh.counts, running: 0 };
  };

  it('keeps counts and best identical to a recount as other workers add, finish and constrain trials', () => {
    const sink = new Sink(false);
    const directions: ('minimize' | 'maximize')[] = ['minimize'];
    const t0 = trial(0, 'COMPLETE', [0.5]);
    const t1 = trial(1, 'RUNNING', null); // another worker's, still running
    const progress = new Progress({ stream: sink, total: null, existing: Object.freeze([t0, t1]), directions });
    const steps: { mine: FrozenTrial; list: readonly FrozenTrial[]; counts: object }[] = [];
    // Mine finishes at -0; another worker pruned one and failed one meanwhile.
    const t2 = trial(2, 'COMPLETE', [-0]);
    let list = Object.freeze([t0, t1, t2, trial(3, 'PRUNED', [1]), trial(4, 'FAIL', null)]);
    steps.push({ mine: t2, list, counts: { done: 4, complete: 2, pruned: 1, failed: 1, best: -0, front: null } });
    // The RUNNING trial finishes at +0 (earlier in the study, so a count in trial order keeps +0), one more starts.
    const t5 = trial(5, 'RUNNING', null);
    const t6 = trial(6, 'COMPLETE', [0.25]);
    list = Object.freeze([t0, trial(1, 'COMPLETE', [0]), ...list.slice(2), t5, t6]);
    steps.push({ mine: t6, list, counts: { done: 6, complete: 4, pruned: 1, failed: 1, best: 0, front: null } });
    // The running trial holds constraint values before it finishes: the study turns constrained, and
    // no trial is feasible yet.
    const t7 = trial(7, 'COMPLETE', [0.75]);
    list = Object.freeze([...list.slice(0, 5), trial(5, 'RUNNING', null, constraints([1])), t6, t7]);
    steps.push({ mine: t7, list, counts: { done: 7, complete: 5, pruned: 1, failed: 1, best: null, front: null } });
    // It finishes infeasible; a feasible trial turns up.
    const t8 = trial(8, 'COMPLETE', [0.9], constraints([-1]));
    list = Object.freeze([...list.slice(0, 5), trial(5, 'COMPLETE', [-5], constraints([1])), t6, t7, t8]);
    steps.push({ mine: t8, list, counts: { done: 9, complete: 7, pruned: 1, failed: 1, best: 0.9, front: null } });
    // A better feasible one, and a failed one holding null constraints.
    const t9 = trial(9, 'COMPLETE', [0.6], constraints([0]));
    list = Object.freeze([...list, trial(10, 'FAIL', null, constraints(null)), t9]);
    steps.push({ mine: t9, list, counts: { done: 11, complete: 8, pruned: 1, failed: 2, best: 0.6, front: null } });
    const bests: (number | null)[] = [];
    for (const step of steps) {
      progress.trialStarted();
      progress.trialFinished(step.mine, step.list);
      bests.push(progress.counts.best);
      expect(progress.counts).toEqual({ ...step.counts, running: 0 });
      expect(progress.counts).toEqual(recounted(step.list, directions));
    }
    // -0 then +0 at an earlier trial: +0, as counting the list in trial order gives (toEqual tells them apart).
    expect(bests.slice(0, 2).map((b) => Object.is(b, -0))).toEqual([true, false]);
    expect(sink.text.split('\n').slice(0, 3)).toEqual([
      'trial 2 COMPLETE value=0 best=0',
      'trial 6 COMPLETE value=0.25 best=0',
      'trial 7 COMPLETE value=0.75 best=-',
    ]);
    // A trial already counted as finished shows up changed (not something storage does): counted afresh.
    const changed = Object.freeze([trial(0, 'COMPLETE', [-9]), ...list.slice(1)]);
    progress.sync(changed);
    expect(progress.counts).toEqual(recounted(changed, directions));
    expect(progress.counts.best).toBe(0.6);
    progress.sync(Object.freeze(changed.slice(0, 5)));
    expect(progress.counts).toEqual({ done: 5, running: 0, complete: 3, pruned: 1, failed: 1, best: -9, front: null });
  });

  it('keeps the Pareto front identical to a recount with three objectives, constrained later', () => {
    const directions: ('minimize' | 'maximize')[] = ['minimize', 'maximize', 'minimize'];
    const progress = new Progress({ stream: new Sink(false), total: null, existing: [], directions });
    const a = trial(0, 'COMPLETE', [1, 1, 1]);
    const b = trial(1, 'RUNNING', null);
    const c = trial(2, 'COMPLETE', [2, 2, 2]); // trade-off with a
    const expected: [readonly FrozenTrial[], number][] = [];
    let list: readonly FrozenTrial[] = Object.freeze([a, b, c]);
    expected.push([list, 2]);
    // b finishes dominating both; another worker's trial equal to b; a pruned one.
    list = Object.freeze([a, trial(1, 'COMPLETE', [0.5, 3, 0.5]), c, trial(3, 'COMPLETE', [0.5, 3, 0.5]), trial(4, 'PRUNED', [0, 9, 0])]);
    expected.push([list, 2]);
    // A running trial with a constraint value: constrained, nothing feasible yet.
    list = Object.freeze([...list, trial(5, 'RUNNING', null, constraints([0.1]))]);
    expected.push([list, 0]);
    // Two feasible trade-offs; the infeasible one finishes dominating all.
    list = Object.freeze([
      ...list.slice(0, 5),
      trial(5, 'COMPLETE', [0, 9, 0], constraints([0.1])),
      trial(6, 'COMPLETE', [3, 3, 3], constraints([-1])),
      trial(7, 'COMPLETE', [1, 1, 4], constraints([0, 0])),
    ]);
    expected.push([list, 2]);
    for (const [step, front] of expected) {
      progress.sync(step);
      expect(progress.counts.front).toBe(front);
      expect(progress.counts).toEqual(recounted(step, directions));
    }
  });

  it('reads only the trials that are new or changed since the last update', () => {
    const reads = new Map<number, number>();
    const watched = (t: FrozenTrial): FrozenTrial =>
      new Proxy(t, {
        get(target, key, receiver) {
          if (key === 'state' || key === 'values' || key === 'systemAttrs') reads.set(target.number, (reads.get(target.number) ?? 0) + 1);
          return Reflect.get(target, key, receiver) as unknown;
        },
      });
    const trials = Array.from({ length: 100 }, (_, i) => watched(trial(i, i % 10 === 0 ? 'PRUNED' : 'COMPLETE', [i, -i])));
    const progress = new Progress({ stream: new Sink(false), total: null, existing: Object.freeze(trials.slice(0, 98)), directions: ['minimize', 'minimize'] });
    reads.clear();
    progress.trialFinished(trials[98], Object.freeze(trials.slice(0, 99)));
    progress.trialFinished(trials[99], Object.freeze(trials.slice(0, 100)));
    // trialFinished formats its own trial's line (state and values), hence reads of 98 and 99 only.
    expect([...reads.keys()].sort((x, y) => x - y)).toEqual([98, 99]);
    expect(progress.counts).toEqual({ ...recounted(trials, ['minimize', 'minimize']), running: 0 });
  });
});
