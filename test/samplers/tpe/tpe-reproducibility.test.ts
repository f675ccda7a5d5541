/**
 * Pins the exact suggestions of seeded TpeSampler runs, so that work on the sampler's speed (the
 * per-ask split shared by every parameter, src/samplers/tpe/tpe-sampler.ts) cannot change what it
 * suggests. The expected values were recorded from the sampler as it was before that work (commit
 * 2546b2b) into fixtures/tpe-pinned.json by
 * `RECORD=1 npx vitest run test/samplers/tpe/tpe-reproducibility.test.ts` (which writes that file
 * instead of checking it; only for a deliberate change of the sampler's behaviour).
 *
 * The history mixes COMPLETE, PRUNED (with intermediate values) and FAIL trials and a conditional
 * parameter; then three trials are asked together and suggested one parameter at a time in turn,
 * with one of them told halfway, so the constant liar's view of the other trials changes between
 * two parameters of the same trial. Two more cases start from 400 imported trials, where most
 * kernels of the int, stepped and log-int parameters coincide.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TpeSampler, type TpeSamplerOptions } from '../../../src/samplers/tpe/tpe-sampler.js';
import { categoricalDistribution, contains, distributionsEqual, floatDistribution, intDistribution } from '../../../src/space/distributions.js';
import type { Distribution, ParamValue } from '../../../src/space/types.js';
import { FrozenTrial } from '../../../src/trial/frozen-trial.js';
import { Rng } from '../../../src/util/prng.js';
import type { TrialState } from '../../../src/trial/types.js';
import { FakeStudy, ask, type AskedTrial } from '../fake-study.js';

const SPACE: Readonly<Record<string, Distribution>> = {
  x: floatDistribution('x', -3, 3),
  y: floatDistribution('y', 0, 1),
  lr: floatDistribution('lr', 1e-4, 1, { log: true }),
  units: intDistribution('units', 1, 64),
  depth: intDistribution('depth', 1, 32, { log: true }),
  dropout: floatDistribution('dropout', 0, 0.5, { step: 0.1 }),
  branch: categoricalDistribution('branch', ['a', 'b', 'c']),
};
const COND_A = floatDistribution('ua', 0, 2);
const COND_B = intDistribution('vb', 0, 9);

/** The distributions a trial with this branch uses, in suggestion order. */
function spaceOf(branch: ParamValue | undefined): [string, Distribution][] {
  const entries = Object.entries(SPACE);
  if (branch === 'a') entries.push(['ua', COND_A]);
  if (branch === 'b') entries.push(['vb', COND_B]);
  return entries;
}

function objective(p: Readonly<Record<string, ParamValue>>): number {
  return (
    ((p.x as number) - 1) ** 2 +
    (p.y as number) +
    Math.abs(Math.log10(p.lr as number) + 2) +
    Math.abs((p.units as number) - 20) / 10 +
    (p.depth as number) / 32 +
    (p.dropout as number) +
    (p.branch === 'a' ? (p.ua as number) : p.branch === 'b' ? (p.vb as number) / 9 : 0.5)
  );
}

/** trial.suggest* for one parameter: the relative proposal when it applies, else sampleIndependent. */
function suggestOne(sampler: TpeSampler, study: FakeStudy, asked: AskedTrial, name: string, dist: Distribution): ParamValue {
  const rel = asked.relativeSpace[name];
  const value =
    Object.prototype.hasOwnProperty.call(asked.relative, name) && rel !== undefined && distributionsEqual(rel, dist)
      ? asked.relative[name]
      : sampler.sampleIndependent(study, asked.trial, name, dist);
  if (!contains(dist, value)) throw new Error(`${name}: ${String(value)} outside its distribution`);
  return value;
}

async function finish(
  sampler: TpeSampler,
  study: FakeStudy,
  asked: AskedTrial,
  params: Record<string, ParamValue>,
  state: TrialState,
): Promise<void> {
  const value = objective(params);
  const finished = new FrozenTrial({
    ...asked.trial.toJSON(),
    state,
    values: state === 'COMPLETE' ? [value] : null,
    params,
    distributions: Object.fromEntries(spaceOf(params.branch).map(([n, d]) => [n, d])),
    intermediateValues: state === 'PRUNED' ? { 0: value + 1, [1 + (asked.trial.number % 3)]: value } : {},
    datetimeComplete: 1,
  });
  study.trials[asked.trial.number] = finished;
  await sampler.afterTrial(study, finished, state, finished.values);
}

/** Every suggestion of the scenario, as "number name value" lines. */
async function trace(options: TpeSamplerOptions): Promise<string[]> {
  const sampler = new TpeSampler(options);
  const study = new FakeStudy();
  const out: string[] = [];
  for (let i = 0; i < 24; i++) {
    const asked = await ask(sampler, study);
    const params: Record<string, ParamValue> = {};
    for (const [name, dist] of spaceOf(undefined)) params[name] = suggestOne(sampler, study, asked, name, dist);
    for (const [name, dist] of spaceOf(params.branch).slice(Object.keys(SPACE).length)) params[name] = suggestOne(sampler, study, asked, name, dist);
    for (const [name, v] of Object.entries(params)) out.push(`${i} ${name} ${JSON.stringify(v)}`);
    await finish(sampler, study, asked, params, i % 7 === 3 ? 'FAIL' : i % 5 === 4 ? 'PRUNED' : 'COMPLETE');
  }
  for (let round = 0; round < 3; round++) {
    const asked = [await ask(sampler, study), await ask(sampler, study), await ask(sampler, study)];
    const params: Record<string, ParamValue>[] = [{}, {}, {}];
    const names = spaceOf(undefined);
    const suggest = (w: number, j: number): void => {
      const [name, dist] = names[j];
      if (!Object.prototype.hasOwnProperty.call(params[w], name)) params[w][name] = suggestOne(sampler, study, asked[w], name, dist);
    };
    // Round 2: worker 2 proposes every parameter between worker 0's first and second ones, so
    // worker 0's later parameters must see worker 2's (new) lies.
    if (round === 2) {
      suggest(0, 0);
      names.forEach((_, j) => suggest(2, j));
    }
    names.forEach((_, j) => {
      for (let w = 0; w < 3; w++) if (round === 0 || w !== 1 || j < 4) suggest(w, j);
    });
    // Worker 1 finishes early (rounds 1, 2: after its first four parameters, with the rest fixed).
    if (round !== 0) {
      Object.assign(params[1], { depth: 1, dropout: 0, branch: 'c' });
      await finish(sampler, study, asked[1], params[1], 'COMPLETE');
    }
    for (const w of [0, 2]) {
      for (const [name, dist] of spaceOf(params[w].branch).slice(names.length)) params[w][name] = suggestOne(sampler, study, asked[w], name, dist);
    }
    for (let w = 0; w < 3; w++) for (const [name, v] of Object.entries(params[w])) out.push(`${asked[w].trial.number} ${name} ${JSON.stringify(v)}`);
    if (round === 0) await finish(sampler, study, asked[1], params[1], 'PRUNED');
    await finish(sampler, study, asked[0], params[0], 'COMPLETE');
    await finish(sampler, study, asked[2], params[2], round === 2 ? 'FAIL' : 'COMPLETE');
  }
  return out;
}

const CASES: Record<string, TpeSamplerOptions> = {
  independent: { seed: 11 },
  'independent, constantLiar': { seed: 12, constantLiar: true },
  'multivariate, constantLiar': { seed: 13, multivariate: true, constantLiar: true },
  'multivariate, group, constantLiar': { seed: 14, multivariate: true, group: true, constantLiar: true },
};

/**
 * Suggestions on a study that already holds 400 finished trials (COMPLETE, PRUNED, FAIL; values
 * on the grid of the int, stepped and log-int parameters, so many kernels coincide), six asks told
 * one after the other.
 */
async function traceLarge(options: TpeSamplerOptions): Promise<string[]> {
  const sampler = new TpeSampler(options);
  const study = new FakeStudy();
  const rng = new Rng(99);
  for (let i = 0; i < 400; i++) {
    const params: Record<string, ParamValue> = {
      x: -3 + 6 * rng.nextFloat(),
      y: rng.nextFloat(),
      lr: 10 ** (-4 + 4 * rng.nextFloat()),
      units: 1 + Math.floor(64 * rng.nextFloat()),
      depth: 1 + Math.floor(32 * rng.nextFloat() ** 2),
      dropout: Math.round(5 * rng.nextFloat()) / 10,
      branch: ['a', 'b', 'c'][Math.floor(3 * rng.nextFloat())],
    };
    if (params.branch === 'a') params.ua = 2 * rng.nextFloat();
    if (params.branch === 'b') params.vb = Math.floor(10 * rng.nextFloat());
    const r = rng.nextFloat();
    const state: TrialState = r < 0.85 ? 'COMPLETE' : r < 0.93 ? 'PRUNED' : 'FAIL';
    const value = objective(params);
    study.trials.push(
      new FrozenTrial({
        trialId: 10_000 + i,
        number: i,
        state,
        values: state === 'COMPLETE' ? [value] : null,
        params,
        distributions: Object.fromEntries(spaceOf(params.branch)),
        userAttrs: {},
        systemAttrs: {},
        intermediateValues: state === 'PRUNED' ? { 0: value + 1, [i % 4]: value } : {},
        datetimeStart: 0,
        datetimeComplete: 1,
      }),
    );
  }
  const out: string[] = [];
  for (let i = 0; i < 6; i++) {
    const asked = await ask(sampler, study);
    const params: Record<string, ParamValue> = {};
    for (const [name, dist] of spaceOf(undefined)) params[name] = suggestOne(sampler, study, asked, name, dist);
    for (const [name, dist] of spaceOf(params.branch).slice(Object.keys(SPACE).length)) params[name] = suggestOne(sampler, study, asked, name, dist);
    for (const [name, v] of Object.entries(params)) out.push(`${asked.trial.number} ${name} ${JSON.stringify(v)}`);
    await finish(sampler, study, asked, params, 'COMPLETE');
  }
  return out;
}

const LARGE_CASES: Record<string, TpeSamplerOptions> = {
  '400 trials, independent': { seed: 21 },
  '400 trials, multivariate, group': { seed: 22, multivariate: true, group: true },
};

const FIXTURE = new URL('./fixtures/tpe-pinned.json', import.meta.url);

describe('TpeSampler suggestions are pinned for fixed seeds', () => {
  if (process.env.RECORD === '1') {
    it('records the fixture', async () => {
      const record: Record<string, string[]> = {};
      for (const [label, options] of Object.entries(CASES)) record[label] = await trace(options);
      for (const [label, options] of Object.entries(LARGE_CASES)) record[label] = await traceLarge(options);
      writeFileSync(FIXTURE, `${JSON.stringify(record, null, 1)}\n`);
    });
    return;
  }
  const expected = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Record<string, string[]>;
  for (const [label, options] of Object.entries(CASES)) {
    it(label, async () => {
      const got = await trace(options);
      // About 250 suggestions per case (24 sequential trials, then 3 rounds of 3 concurrent ones).
      expect(got.length).toBeGreaterThan(200);
      expect(got).toEqual(expected[label]);
    });
  }
  for (const [label, options] of Object.entries(LARGE_CASES)) {
    it(label, async () => {
      const got = await traceLarge(options);
      expect(got.length).toBeGreaterThanOrEqual(42);
      expect(got).toEqual(expected[label]);
    });
  }
});
