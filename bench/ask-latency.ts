/**
 * One suggestion's latency inside a running study, on the protocol of
 * shared/peers/optuna_ask_latency.py, so that GpSampler and Optuna's GPSampler can be compared in
 * the same run on the same machine (issue 3's "one suggestion ... at 50 / 200 / 500 completed
 * trials" row).
 *
 *   npx tsx bench/ask-latency.ts [--trials 500] [--seed 0] [--backend cpu|js|auto|cuda]
 *                                [--refit every-trial|policy|both] [--constraints 0]
 *                                [--peer-python PATH] [--peer-spec gp@5.0]   (--help lists the flags)
 *                                [--hyperparameter-draw map|laplace]  (GpSampler's option, in-study runs)
 *
 * Protocol (the peer's): Rosenbrock-8 on [-5, 10]^8, minimized, one sequential ask / tell loop on
 * in-memory storage, `new GpSampler({ seed, backend })` defaults (10 Sobol startup trials, logEI,
 * 2048 candidates, 10 restarts). A suggestion is `await study.ask()` plus the eight
 * `suggestFloat` calls (Optuna: `study.ask(fixed_distributions)`, which samples inside `ask`).
 * Reported: the median suggestion latency over trials 41-60 ("~50"), 191-210 ("~200") and 481-500
 * ("~500"), the cumulative time to reach 50 / 200 / 500 trials, and the ratio to the peer's
 * medians measured in the same run (and to the issue's Optuna 4.7 figures, 56 / 229 / 1230 ms).
 *
 * `--refit`: 'policy' is GpSampler's default refit policy (a MAP refit on every suggestion below
 * 100 observations, then each time the data grew by 1/50; appends in between: at ~200 a refit
 * every 4th trial, at ~500 every 10th); 'every-trial' refits on every suggestion, as Optuna's
 * GPSampler does (`refitPolicy: { refitEveryTrialBelow: Infinity }`), which is the like-for-like
 * "fit + acquisition maximization" figure. Default: both, one after the other.
 *
 * Resumed ("first suggestion of a new sampler"): a new GpSampler on a study that already holds the
 * first 50 / 200 / 500 completed trials of the 'policy' run (of the 'every-trial' run when only it
 * runs; imported with `addTrials`), so its first ask
 * fits without a previous theta (a resumed study, a new process), and its second ask (where the
 * default policy refines the first fit's theta on all trials); median of 3 new samplers each, with
 * the default policy (the first fit starts on 128 of the observations, with one random restart)
 * and with that off (`refitPolicy: { coldFitScreenSize: Number.MAX_SAFE_INTEGER }`: three random
 * restarts on all trials).
 * `--constraints k` (default 0) gives the in-study runs `constraintsFunc` with k constraints
 * x_i + x_(i+1) - 10 <= 0 (one GP each beside the objective's; the resumed rows stay unconstrained).
 * A third row resumes a study that GpSampler itself ran: its trials keep the hyperparameters the
 * run's sampler recorded (`gp_fit`, src/samplers/gp/stored-fit.ts; taken from the 'policy' run),
 * so the new sampler starts from them instead of fitting cold.
 *
 * The peer runs when `--peer-python` names a Python with Optuna >= 3.6 and torch (GPSampler); see
 * bench/quality.md for how one was set up here. Output: JSON lines on stdout, a table on stderr.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GpSampler, type RefitPolicy } from '../src/samplers/gp/gp-sampler.js';
import { floatDistribution } from '../src/space/distributions.js';
import type { AddTrialOptions } from '../src/study/study.js';
import { InMemoryStorage } from '../src/storage/memory-storage.js';
import { createStudy } from '../src/study/create-study.js';
import { SystemAttr } from '../src/trial/system-attrs.js';
import type { JsonValue } from '../src/trial/types.js';
import { choice, int, parseBenchArgs, str } from './lib/args.js';

const D = 8;
const LOW = -5;
const HIGH = 10;
const WINDOWS: Record<string, readonly [number, number]> = { '~50': [41, 60], '~200': [191, 210], '~500': [481, 500] };
const ISSUE_OPTUNA_47: Record<string, number> = { '~50': 56, '~200': 229, '~500': 1230 };
const PEER_SCRIPT = '/work/shared/peers/optuna_ask_latency.py';

const args = parseBenchArgs({
  script: 'bench/ask-latency.ts',
  summary: "One GpSampler suggestion's latency in a running study (Rosenbrock-8) at ~50 / 200 / 500 trials, beside Optuna's GPSampler in the same run; a new sampler's first asks on a resumed study (bench/surrogate.md).",
  flags: {
    trials: int({ description: 'trials of each in-study run', min: 1, default: 500 }),
    seed: int({ description: 'sampler seed', default: 0 }),
    backend: choice({ description: 'surrogate backend', choices: ['cpu', 'js', 'auto', 'cuda'] as const, default: 'cpu' }),
    refit: choice({ description: 'refit policy of the in-study runs (both: every-trial, then policy)', choices: ['policy', 'every-trial', 'both'] as const, default: 'both' }),
    constraints: int({ description: 'constraints k of the in-study runs (x_i + x_(i+1) - 10 <= 0)', min: 0, max: D, default: 0, valueName: 'K' }),
    'peer-python': str({ description: "a Python with Optuna >= 3.6 and torch: runs Optuna's GPSampler in the same run", valueName: 'PATH', defaultText: 'none (no peer)' }),
    'peer-spec': str({ description: "the peer's --samplers spec", default: 'gp@5.0', valueName: 'SPEC' }),
    'hyperparameter-draw': choice({ description: "GpSampler's hyperparameterDraw in the in-study runs", choices: ['map', 'laplace'] as const, defaultText: "the sampler's default" }),
  },
});
const { trials, seed, backend } = args;
const refitArg = args.refit;
const peerPython = args.peerPython ?? '';
const peerSpec = args.peerSpec;
const nConstraints = args.constraints;
const hyperparameterDraw = args.hyperparameterDraw;

/** `--constraints k`: c_i(x) = x_i + x_{i+1} - 10 <= 0 for i < k (stored as a user attribute, read back by constraintsFunc). */
function constraintValues(x: readonly number[]): number[] {
  return Array.from({ length: nConstraints }, (_, i) => x[i] + x[(i + 1) % D] - 10);
}

function rosenbrock(x: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < x.length - 1; i++) s += 100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2;
  return s;
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

interface Row {
  readonly sampler: string;
  readonly reached: number;
  readonly askMs: Record<string, number | null>;
  readonly cumulativeS: Record<string, number | null>;
  readonly best: number;
}

function summarize(sampler: string, ask: readonly number[], tell: readonly number[], best: number): Row {
  const askMs: Record<string, number | null> = {};
  const cumulativeS: Record<string, number | null> = {};
  let cum = 0;
  const cumAt: number[] = [];
  for (let i = 0; i < ask.length; i++) {
    cum += ask[i] + tell[i];
    cumAt.push(cum);
  }
  for (const [key, [lo, hi]] of Object.entries(WINDOWS)) {
    const seg = ask.slice(lo - 1, hi);
    askMs[key] = seg.length >= (hi - lo + 1) / 2 ? median(seg) : null;
    const at = Number(key.slice(1));
    cumulativeS[key] = cumAt.length >= at ? cumAt[at - 1] / 1000 : null;
  }
  return { sampler, reached: ask.length, askMs, cumulativeS, best };
}

/**
 * Completed trials of the 'policy' run, in order (for the resumed rows): the run whose `gp_fit`
 * records the third resumed row imports with them. With `--refit every-trial` alone, that run's.
 */
const history: AddTrialOptions[] = [];
/** The `gp_fit` record of each trial of the 'policy' run (undefined where none was recorded). */
const records: (JsonValue | undefined)[] = [];
const distributions = Object.fromEntries(Array.from({ length: D }, (_, j) => [`x${j}`, floatDistribution(`x${j}`, LOW, HIGH)]));

/**
 * Median latency of a new sampler's first ask on a study holding the first `n` trials, and of its
 * second ask (after the first trial is told: where a provisional first fit is refined).
 */
async function resumedAsks(n: number, policy: Partial<RefitPolicy>, withRecords: boolean): Promise<{ first: number; second: number } | null> {
  if (history.length < n || (withRecords && records.length < n)) return null;
  const first: number[] = [];
  const second: number[] = [];
  for (let r = 0; r < 3; r++) {
    const sampler = new GpSampler({ seed: seed + r, backend, refitPolicy: policy });
    const storage = new InMemoryStorage();
    const study = await createStudy({ studyName: `resumed-${n}-${r}`, direction: 'minimize', sampler, storage });
    if (withRecords) {
      for (let i = 0; i < n; i++) {
        const h = history[i];
        const record = records[i];
        await storage.createTrial(study.studyId, {
          state: 'COMPLETE',
          values: [h.value as number],
          params: h.params,
          distributions: h.distributions,
          systemAttrs: record === undefined ? {} : { [SystemAttr.gpFit]: record },
        });
      }
    } else {
      await study.addTrials(history.slice(0, n));
    }
    for (const times of [first, second]) {
      const t0 = performance.now();
      const trial = await study.ask();
      const x = Array.from({ length: D }, (_, j) => trial.suggestFloat(`x${j}`, LOW, HIGH));
      times.push(performance.now() - t0);
      await study.tell(trial, rosenbrock(x));
    }
  }
  return { first: median(first), second: median(second) };
}

async function runKestrel(refit: 'policy' | 'every-trial'): Promise<Row> {
  const sampler = new GpSampler({
    seed,
    backend,
    ...(refit === 'every-trial' ? { refitPolicy: { refitEveryTrialBelow: Number.MAX_SAFE_INTEGER } } : {}),
    ...(nConstraints > 0 ? { constraintsFunc: (t: { userAttrs: Record<string, unknown> }) => t.userAttrs.c as number[] } : {}),
    ...(hyperparameterDraw === undefined ? {} : { hyperparameterDraw }),
  });
  const study = await createStudy({ studyName: `ask-latency-${refit}`, direction: 'minimize', sampler, storage: new InMemoryStorage() });
  const ask: number[] = [];
  const tell: number[] = [];
  const runHistory: AddTrialOptions[] = [];
  let best = Infinity;
  for (let i = 0; i < trials; i++) {
    const t0 = performance.now();
    const trial = await study.ask();
    const x = Array.from({ length: D }, (_, j) => trial.suggestFloat(`x${j}`, LOW, HIGH));
    const t1 = performance.now();
    if (nConstraints > 0) trial.setUserAttr('c', constraintValues(x));
    const v = rosenbrock(x);
    const t2 = performance.now();
    await study.tell(trial, v);
    const t3 = performance.now();
    ask.push(t1 - t0);
    tell.push(t3 - t2);
    best = Math.min(best, v);
    runHistory.push({ params: { ...trial.params }, distributions, value: v });
  }
  // The two runs part after 100 observations (their refit policies differ there): records and
  // trials must come from the same run.
  if (refit === 'policy' || history.length === 0) history.splice(0, history.length, ...runHistory);
  if (refit === 'policy') for (const t of await study.getTrials()) records.push(t.systemAttrs[SystemAttr.gpFit]);
  const constrained = nConstraints === 0 ? '' : `, ${nConstraints} constraint${nConstraints > 1 ? 's' : ''}`;
  return summarize(`kestrel gp (${refit === 'policy' ? 'refit policy' : 'refit every trial'}, ${backend}${constrained})`, ask, tell, best);
}

function runPeer(): Row | { error: string } {
  if (peerPython === '') return { error: 'no --peer-python given' };
  const out = mkdtempSync(path.join(os.tmpdir(), 'kestrel-peer-'));
  try {
    const stdout = execFileSync('python3', [PEER_SCRIPT, '--samplers', peerSpec, '--trials', String(trials), '--seed', String(seed), '--cap', '3600'], {
      env: { ...process.env, PEERS_PY: peerPython, PEERS_OUT: out },
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    const match = /# raw results -> (.+\.json)/.exec(stdout);
    if (match === null) return { error: `peer printed no results: ${stdout.slice(-500)}` };
    // Python's json writes NaN / Infinity for the windows a short run does not reach.
    const text = readFileSync(match[1], 'utf8').replace(/-?\bNaN\b|-?\bInfinity\b/g, 'null');
    const raw = JSON.parse(text) as { raw: { spec: string; optuna: string; ask: number[]; tell: number[]; best: number }[] };
    const r = raw.raw[0];
    return summarize(`optuna ${r.optuna} ${r.spec.split('@')[0]}`, r.ask.map((s) => s * 1000), r.tell.map((s) => s * 1000), r.best);
  } catch (error) {
    return { error: String(error) };
  }
}

const machine = { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.availableParallelism(), load: Number(os.loadavg()[0].toFixed(2)), node: process.version };
process.stdout.write(`${JSON.stringify({ kind: 'machine', ...machine, date: new Date().toISOString() })}\n`);
const rows: Row[] = [];
for (const refit of refitArg === 'both' ? (['every-trial', 'policy'] as const) : [refitArg as 'policy' | 'every-trial']) {
  const row = await runKestrel(refit);
  rows.push(row);
  process.stdout.write(`${JSON.stringify({ kind: 'kestrel', ...row })}\n`);
}
const resumed: { label: string; ms: Record<number, { first: number; second: number } | null> }[] = [];
for (const [label, policy, withRecords] of [
  ['no recorded fit: first fit on 128 of them (default)', {}, false],
  ['no recorded fit: every restart on all trials', { coldFitScreenSize: Number.MAX_SAFE_INTEGER }, false],
  ['fit recorded by the run (default)', {}, true],
] as const) {
  const ms: Record<number, { first: number; second: number } | null> = {};
  for (const n of [50, 200, 500]) ms[n] = await resumedAsks(n, policy, withRecords);
  resumed.push({ label, ms });
  const pick = (k: 'first' | 'second') => Object.fromEntries(Object.entries(ms).map(([n, v]) => [n, v === null ? null : v[k]]));
  process.stdout.write(`${JSON.stringify({ kind: 'resumed', label, firstAskMs: pick('first'), secondAskMs: pick('second') })}\n`);
}
const peer = runPeer();
if ('error' in peer) process.stdout.write(`${JSON.stringify({ kind: 'peer', error: peer.error })}\n`);
else process.stdout.write(`${JSON.stringify({ kind: 'peer', ...peer })}\n`);

const fmt = (v: number | null, digits = 1): string => (v === null ? '-' : v.toFixed(digits));
const lines = [
  `| sampler | trials | ask ms @~50 | @~200 | @~500 | cum s to 50 | to 200 | to 500 | best |`,
  `|---|---|---|---|---|---|---|---|---|`,
];
for (const r of 'error' in peer ? rows : [...rows, peer]) {
  lines.push(
    `| ${r.sampler} | ${r.reached} | ${fmt(r.askMs['~50'])} | ${fmt(r.askMs['~200'])} | ${fmt(r.askMs['~500'])} | ${fmt(r.cumulativeS['~50'], 2)} | ${fmt(r.cumulativeS['~200'], 2)} | ${fmt(r.cumulativeS['~500'], 2)} | ${r.best.toPrecision(4)} |`,
  );
}
lines.push('', '| ratio (peer or issue figure / Kestrel) | @~50 | @~200 | @~500 |', '|---|---|---|---|');
for (const r of rows) {
  const ratio = (ref: number | null | undefined, key: string): string => {
    const k = r.askMs[key];
    return ref === null || ref === undefined || k === null ? '-' : `${(ref / k).toFixed(1)}x`;
  };
  if (!('error' in peer)) lines.push(`| ${peer.sampler} / ${r.sampler} | ${Object.keys(WINDOWS).map((k) => ratio(peer.askMs[k], k)).join(' | ')} |`);
  lines.push(`| issue's Optuna 4.7 (56 / 229 / 1230 ms) / ${r.sampler} | ${Object.keys(WINDOWS).map((k) => ratio(ISSUE_OPTUNA_47[k], k)).join(' | ')} |`);
}
lines.push('', '| new sampler on a study with n trials: first ask / second ask, ms | n = 50 | 200 | 500 |', '|---|---|---|---|');
const pair = (v: { first: number; second: number } | null): string => (v === null ? '-' : `${fmt(v.first)} / ${fmt(v.second)}`);
for (const r of resumed) lines.push(`| ${r.label} | ${pair(r.ms[50])} | ${pair(r.ms[200])} | ${pair(r.ms[500])} |`);
process.stderr.write(`\nmachine: ${JSON.stringify(machine)}${'error' in peer ? `\npeer: ${peer.error}` : ''}\n${lines.join('\n')}\n`);
