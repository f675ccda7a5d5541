/**
 * One suggestion's latency of GpSampler on a study with two objectives (logEHVI, the default, and
 * ParEGO), in a running study and after importing a large history.
 *
 *   npx tsx bench/multi-objective-latency.ts [--trials 210] [--imported 2000] [--threads 2] [--seed 0] [--front K,P]
 *   (--help lists the flags)
 *
 * Problem: ZDT1 on [0, 1]^4, both objectives minimized (bench/multi-objective.ts).
 * - In study: one sequential ask / tell loop of `--trials` trials with `new GpSampler({ seed,
 *   numThreads, multiObjectiveAcquisition })` defaults; the median latency of `study.ask()` plus
 *   the four `suggestFloat` calls over trials 41-60 ("~50") and 191-210 ("~200").
 * - Imported: a study holding `--imported` COMPLETE trials (seeded random points, skewed toward
 *   the front: x1..x3 cubed), then four asks of a new sampler: the first fits every model cold
 *   (above fitSubsetMax on a 1,024-row subset, the full model built at its theta), the next ones
 *   append. Reported per ask, with the model update's own time.
 * - `--front K,P` (off by default): a study with K minimized objectives holding P COMPLETE trials
 *   whose values are seeded points of the unit sphere's negative orthant (none dominates another:
 *   a front of P points), on [0, 1]^4, then four logEHVI asks of a new sampler, each told another
 *   such point: with K >= 4 and P in the hundreds the front's box decomposition is over
 *   GpSampler's limit, so these time its thinning. Then four asks of another new sampler on the
 *   same study ("resumed": a resumed run, or another worker on the same storage), which finds the
 *   thinned size and the objective models' fits the first one recorded. `--trials 0 --imported 0 --front 5,160` runs only this.
 *   These asks also report the process's CPU time (`asksCpuMs`), steadier on a shared host.
 * Output: JSON lines on stdout, a table on stderr.
 */
import { GpSampler, type MultiObjectiveAcquisition } from '../src/samplers/gp/gp-sampler.js';
import { floatDistribution } from '../src/space/distributions.js';
import { InMemoryStorage } from '../src/storage/memory-storage.js';
import { createStudy, loadStudy } from '../src/study/create-study.js';
import { benchCommand, int, intList, parseBenchArgs } from './lib/args.js';

const D = 4;
const args = parseBenchArgs(benchCommand({
  script: 'bench/multi-objective-latency.ts',
  summary: 'One two-objective GpSampler suggestion (logEHVI and ParEGO) in a running ZDT1 study, the first asks of a new sampler on imported trials, and (--front K,P) logEHVI asks on a front over the box limit (bench/surrogate.md).',
  flags: {
    trials: int({ description: 'trials of each in-study run (0: none)', min: 0, default: 210 }),
    imported: int({ description: 'COMPLETE trials of the imported study (0: none)', min: 0, default: 2000 }),
    threads: int({ description: "the samplers' numThreads", min: 1, default: 2 }),
    seed: int({ description: 'sampler and history seed', default: 0 }),
    front: intList({ description: 'K objectives, P points on the front: logEHVI asks over the box limit (K >= 2, P >= 1)', length: 2, min: 1, valueName: 'K,P', defaultText: 'off' }),
  },
  check: ({ front }) => (front !== undefined && front[0] < 2 ? `--front: expected K,P with K >= 2 objectives, got ${front.join(',')}` : undefined),
}));
const { trials, imported, threads, seed } = args;

function zdt1(x: readonly number[]): [number, number] {
  const f1 = x[0];
  let s = 0;
  for (let i = 1; i < x.length; i++) s += x[i];
  const g = 1 + (9 * s) / (x.length - 1);
  return [f1, g * (1 - Math.sqrt(f1 / g))];
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function askTimed(study: Awaited<ReturnType<typeof createStudy>>): Promise<{ ms: number; values: [number, number]; trial: Awaited<ReturnType<typeof study.ask>> }> {
  const t0 = performance.now();
  const trial = await study.ask();
  const x = Array.from({ length: D }, (_, j) => trial.suggestFloat(`x${j}`, 0, 1));
  return { ms: performance.now() - t0, values: zdt1(x), trial };
}

const rows: string[] = [];
for (const acquisition of (trials > 0 ? ['logehvi', 'parego'] : []) as MultiObjectiveAcquisition[]) {
  const sampler = new GpSampler({ seed, numThreads: threads, multiObjectiveAcquisition: acquisition });
  const study = await createStudy({ storage: new InMemoryStorage(), sampler, directions: ['minimize', 'minimize'] });
  const latency: number[] = [];
  for (let i = 0; i < trials; i++) {
    const { ms, values, trial } = await askTimed(study);
    latency.push(ms);
    await study.tell(trial, values);
  }
  const windows = { '~50': [40, 60], '~200': [190, 210] } as const;
  const result: Record<string, number> = {};
  for (const [label, [a, b]] of Object.entries(windows)) if (trials >= b) result[label] = median(latency.slice(a, b));
  console.log(JSON.stringify({ kind: 'in-study', acquisition, threads, seed, medianMs: result }));
  rows.push(`| in study | ${acquisition} | ${Object.entries(result).map(([k, v]) => `${k}: ${v.toFixed(1)} ms`).join(', ')} |`);
}

if (imported > 0) {
  let state = seed + 7;
  const rnd = (): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 4294967296;
  };
  const dist = floatDistribution('x', 0, 1);
  const history = Array.from({ length: imported }, () => {
    const x = [rnd(), rnd() ** 3, rnd() ** 3, rnd() ** 3];
    return {
      state: 'COMPLETE' as const,
      values: zdt1(x),
      params: Object.fromEntries(x.map((v, j) => [`x${j}`, v])),
      distributions: Object.fromEntries(x.map((_, j) => [`x${j}`, dist])),
    };
  });
  for (const acquisition of ['logehvi', 'parego'] as MultiObjectiveAcquisition[]) {
    const sampler = new GpSampler({ seed, numThreads: threads, multiObjectiveAcquisition: acquisition });
    const study = await createStudy({ storage: new InMemoryStorage(), sampler, directions: ['minimize', 'minimize'] });
    await study.addTrials(history);
    const asks: { ms: number; update: string; updateMs: number }[] = [];
    for (let i = 0; i < 4; i++) {
      const { ms, values, trial } = await askTimed(study);
      asks.push({ ms, update: sampler.lastModelUpdate?.kind ?? 'none', updateMs: sampler.lastModelUpdate?.updateMs ?? 0 });
      await study.tell(trial, values);
    }
    console.log(JSON.stringify({ kind: 'imported', acquisition, n: imported, threads, seed, asks }));
    rows.push(`| ${imported} imported | ${acquisition} | ${asks.map((a) => `${a.ms.toFixed(0)} ms (${a.update} ${a.updateMs.toFixed(0)} ms)`).join(', ')} |`);
  }
}
if (args.front !== undefined) {
  const [k, p] = args.front;
  let state = seed + 11;
  const rnd = (): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 4294967296;
  };
  const spherePoint = (): number[] => {
    const v = Array.from({ length: k }, () => rnd() + 1e-3);
    const norm = Math.hypot(...v);
    return v.map((x) => -x / norm);
  };
  const dist = floatDistribution('x', 0, 1);
  const history = Array.from({ length: p }, () => {
    const x = Array.from({ length: D }, () => rnd());
    return {
      state: 'COMPLETE' as const,
      values: spherePoint(),
      params: Object.fromEntries(x.map((v, j) => [`x${j}`, v])),
      distributions: Object.fromEntries(x.map((_, j) => [`x${j}`, dist])),
    };
  });
  const storage = new InMemoryStorage();
  const study = await createStudy({ storage, sampler: new GpSampler({ seed, numThreads: threads }), directions: Array(k).fill('minimize') });
  await study.addTrials(history);
  /**
   * Four timed asks of `on`'s sampler, each told another sphere point: wall time, and the process's
   * CPU time (user + system, every thread: steadier than wall time on a shared host).
   */
  const fourAsks = async (on: typeof study): Promise<{ ms: number[]; cpuMs: number[] }> => {
    const ms: number[] = [];
    const cpuMs: number[] = [];
    for (let i = 0; i < 4; i++) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const trial = await on.ask();
      for (let j = 0; j < D; j++) trial.suggestFloat(`x${j}`, 0, 1);
      const c = process.cpuUsage(c0);
      ms.push(performance.now() - t0);
      cpuMs.push((c.user + c.system) / 1000);
      await on.tell(trial, spherePoint());
    }
    return { ms, cpuMs };
  };
  const asks = await fourAsks(study);
  // A new sampler on the same study: a resumed run, or another worker on the same storage.
  const resumed = await fourAsks(await loadStudy({ studyName: study.studyName, storage, sampler: new GpSampler({ seed, numThreads: threads }) }));
  console.log(
    JSON.stringify({
      kind: 'front',
      acquisition: 'logehvi',
      objectives: k,
      front: p,
      threads,
      seed,
      asksMs: asks.ms,
      asksCpuMs: asks.cpuMs,
      resumedAsksMs: resumed.ms,
      resumedAsksCpuMs: resumed.cpuMs,
    }),
  );
  const cells = (a: { ms: number[]; cpuMs: number[] }): string => a.ms.map((ms, i) => `${ms.toFixed(0)} ms (CPU ${a.cpuMs[i].toFixed(0)})`).join(', ');
  rows.push(`| front of ${p} points, ${k} objectives | logehvi | ${cells(asks)} |`);
  rows.push(`| the same study, a new sampler | logehvi | ${cells(resumed)} |`);
}
process.stderr.write(`| study | acquisition | suggestion latency |\n|---|---|---|\n${rows.join('\n')}\n`);
