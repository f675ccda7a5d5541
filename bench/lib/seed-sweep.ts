/**
 * The loop shared by bench/constrained.ts and bench/multi-objective.ts: every problem x sampler x
 * seed run once, a metric traced after each evaluation, an optional Optuna peer per problem (a
 * Python script printing one JSON line per seed), then medians and IQRs at the given evaluation
 * counts. Prints JSON lines on stdout (`run` per run, `summary` per problem/sampler/count) and a
 * markdown table on stderr.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { quantile } from './stats.js';

export interface SeedSweepOptions<P extends { readonly name: string }> {
  readonly problems: readonly P[];
  readonly samplers: readonly string[];
  readonly nSeeds: number;
  /** Evaluation counts to report; runs go to the largest. */
  readonly evals: readonly number[];
  /** The metric's key in the `run` lines and its column title in the table. */
  readonly metric: string;
  readonly columnTitle: (evals: number) => string;
  /**
   * One run: the metric after each of `nEvals` evaluations; or that `trace` with the run's own
   * `seconds`, when computing the metric is costly and must stay out of the run's time (else the
   * whole call is timed).
   */
  readonly run: (problem: P, sampler: string, seed: number, nEvals: number) => Promise<number[] | { readonly trace: number[]; readonly seconds: number }>;
  /**
   * The peer, when one is given: the Python, its script and, per output line, the run's trace
   * and the sampler label (e.g. from its Optuna version).
   */
  readonly peer?: {
    readonly python: string;
    readonly script: string;
    readonly trace: (problem: P, line: Record<string, unknown>) => { readonly label: string; readonly seed: number; readonly seconds: number; readonly trace: number[] };
  };
  /** One table cell from the sorted values at one count. */
  readonly cell: (sorted: readonly number[], summary: { median: number; q1: number; q3: number }) => string;
  /** Extra fields of a `summary` line (e.g. how many runs found no feasible point). */
  readonly summaryExtra?: (sorted: readonly number[]) => Record<string, number>;
}

export async function seedSweep<P extends { readonly name: string }>(options: SeedSweepOptions<P>): Promise<void> {
  const { evals, metric } = options;
  const maxEvals = Math.max(...evals);
  const machine = { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version };
  const traces = new Map<string, number[][]>();
  const record = (problem: string, sampler: string, seed: number, trace: number[], seconds: number): void => {
    const key = `${problem}|${sampler}`;
    if (!traces.has(key)) traces.set(key, []);
    traces.get(key)?.push(trace);
    const at = Object.fromEntries(evals.map((e) => [e, trace[e - 1]]));
    console.log(JSON.stringify({ kind: 'run', problem, sampler, seed, [metric]: at, seconds, machine }));
  };
  for (const problem of options.problems) {
    for (const sampler of options.samplers) {
      for (let seed = 0; seed < options.nSeeds; seed++) {
        const started = performance.now();
        const out = await options.run(problem, sampler, seed, maxEvals);
        const elapsed = (performance.now() - started) / 1000;
        if (Array.isArray(out)) record(problem.name, sampler, seed, out, elapsed);
        else record(problem.name, sampler, seed, out.trace, out.seconds);
      }
    }
    if (options.peer !== undefined) {
      const { python, script, trace } = options.peer;
      const out = execFileSync(python, [script, '--problem', problem.name, '--seeds', String(options.nSeeds), '--evals', String(maxEvals)], {
        encoding: 'utf8',
        maxBuffer: 1 << 26,
      });
      for (const line of out.split('\n')) {
        if (line.trim() === '') continue;
        const run = trace(problem, JSON.parse(line) as Record<string, unknown>);
        record(problem.name, run.label, run.seed, run.trace, run.seconds);
      }
    }
  }
  const header = ['problem', 'sampler', ...evals.map(options.columnTitle)];
  const rows: string[] = [];
  for (const [key, runs] of traces) {
    const [problem, sampler] = key.split('|');
    const cells = evals.map((e) => {
      const sorted = runs.map((r) => r[e - 1]).sort((a, b) => a - b);
      const summary = { median: quantile(sorted, 0.5), q1: quantile(sorted, 0.25), q3: quantile(sorted, 0.75) };
      console.log(JSON.stringify({ kind: 'summary', problem, sampler, evals: e, seeds: runs.length, ...summary, ...options.summaryExtra?.(sorted), machine }));
      return options.cell(sorted, summary);
    });
    rows.push(`| ${problem} | ${sampler} | ${cells.join(' | ')} |`);
  }
  process.stderr.write(`| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|\n${rows.join('\n')}\n`);
}
