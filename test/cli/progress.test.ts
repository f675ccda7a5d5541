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
