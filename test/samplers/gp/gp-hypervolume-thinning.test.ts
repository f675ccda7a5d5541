/**
 * GpSampler's logEHVI on a front whose box decomposition is over MAX_HYPERVOLUME_BOXES (five
 * objectives, a large front): the front is thinned until it fits (each objective's best point
 * kept, the rest drawn at random), and later
 * suggestions thin straight to the size that fit instead of paying again for the failing
 * decompositions (each costs tens of milliseconds at this size). The size is recorded in the study
 * (trial system attribute `gp_front_size`), so a new sampler on it (a resumed study, another worker)
 * starts there too.
 */
import { describe, expect, it, vi } from 'vitest';

const calls: { p: number; fits: boolean; best: number[] }[] = [];
vi.mock('../../../src/samplers/gp/hypervolume-boxes.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../src/samplers/gp/hypervolume-boxes.js')>();
  return {
    ...real,
    nonDominatedBoxes: (...args: Parameters<typeof real.nonDominatedBoxes>) => {
      const boxes = real.nonDominatedBoxes(...args);
      const [points, p, k] = args;
      // Each objective's best value among the rows decomposed (targets: larger is better).
      const best = Array.from({ length: k }, (_, j) => Math.max(...Array.from({ length: p }, (_, i) => points[i * k + j])));
      calls.push({ p, fits: boxes !== null, best });
      return boxes;
    },
  };
});

const { GpSampler } = await import('../../../src/samplers/gp/gp-sampler.js');
const { storedFrontSizeRecord } = await import('../../../src/samplers/gp/stored-front-size.js');
const { createStudy, loadStudy } = await import('../../../src/study/create-study.js');
const { floatDistribution } = await import('../../../src/space/distributions.js');
const { InMemoryStorage } = await import('../../../src/storage/memory-storage.js');
const { SystemAttr } = await import('../../../src/trial/system-attrs.js');
const { Rng } = await import('../../../src/util/prng.js');
const { resetWarnOnce } = await import('../../../src/util/warn.js');
type Study = Awaited<ReturnType<typeof createStudy>>;
type JsonValue = import('../../../src/trial/types.js').JsonValue;

const K = 5;
/** A point of the positive unit sphere: no point dominates another (all objectives minimized, negated). */
function spherePoint(rng: InstanceType<typeof Rng>): number[] {
  const v = Array.from({ length: K }, () => rng.nextFloat() + 1e-3);
  const norm = Math.hypot(...v);
  return v.map((x) => -x / norm);
}

const newSampler = () => new GpSampler({ seed: 1, candidates: 64, restarts: 1 });

/**
 * A GP study of K objectives holding 160 trials on the sphere: a front of 160 points, over the box
 * limit. `records`: `gp_front_size` values to store on trials, by number.
 */
async function sphereStudy(records: Readonly<Record<number, JsonValue>> = {}) {
  const rng = new Rng(3);
  const distributions = { x: floatDistribution('x', 0, 1), y: floatDistribution('y', 0, 1) };
  const study = await createStudy({ storage: new InMemoryStorage(), directions: Array(K).fill('minimize'), sampler: newSampler() });
  await study.addTrials(
    Array.from({ length: 160 }, (_, i) => ({
      params: { x: rng.nextFloat(), y: rng.nextFloat() },
      distributions,
      values: spherePoint(rng),
      ...(i in records ? { systemAttrs: { [SystemAttr.gpFrontSize]: records[i] } } : {}),
    })),
  );
  return { rng, distributions, study };
}

/** The study's storage and name under a new GpSampler (a resumed study, another worker). */
const resume = (study: Study): Promise<Study> => loadStudy({ studyName: study.studyName, storage: study.storage, sampler: newSampler() });

/** One ask (the study's two parameters suggested) and the trial's number. */
async function ask(study: Study) {
  const trial = await study.ask();
  trial.suggestFloat('x', 0, 1);
  trial.suggestFloat('y', 0, 1);
  return trial;
}

/** The `gp_front_size` records in the study, by trial number. */
async function records(study: Study): Promise<Record<number, JsonValue>> {
  const out: Record<number, JsonValue> = {};
  for (const t of await study.getTrials()) if (SystemAttr.gpFrontSize in t.systemAttrs) out[t.number] = t.systemAttrs[SystemAttr.gpFrontSize];
  return out;
}

describe('logEHVI on a front too large to decompose', () => {
  it('thins it until it fits, then starts later suggestions at the size that fit', async () => {
    const { rng, study } = await sphereStudy();
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const first = await study.ask();
      first.suggestFloat('x', 0, 1);
      first.suggestFloat('y', 0, 1);
      // The whole front fails, then half of its non-dominated rows (each observed point is raised to
      // the models' posterior mean where that is higher, so a few can dominate others), then each
      // half of the previous one, until one fits.
      expect(calls[0]).toMatchObject({ p: 160, fits: false });
      expect(calls.at(-1)?.fits).toBe(true);
      expect(calls[1].p).toBeLessThanOrEqual(80);
      for (let i = 2; i < calls.length; i++) expect(calls[i].p).toBe(Math.floor(calls[i - 1].p / 2));
      // Every thinned front keeps each objective's best point of the whole front.
      for (const call of calls) expect(call.best).toEqual(calls[0].best);
      const fitted = calls.at(-1)?.p as number;
      expect(warnings.mock.calls.some((c) => String(c[0]).includes("each objective's best point and a random subset"))).toBe(true);
      await study.tell(first, spherePoint(rng));

      calls.length = 0;
      const second = await study.ask();
      second.suggestFloat('x', 0, 1);
      second.suggestFloat('y', 0, 1);
      expect(calls).toMatchObject([{ p: fitted, fits: true }]);
      const suggested = [second.params.x, second.params.y] as number[];
      expect(suggested.every((v) => v >= 0 && v <= 1)).toBe(true);
    } finally {
      warnings.mockRestore();
    }
  }, 60_000);

  it('does not thin a later front that fits whole (a point that dominates the rest is never dropped)', async () => {
    const { rng, distributions, study } = await sphereStudy();
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      calls.length = 0;
      const first = await study.ask();
      first.suggestFloat('x', 0, 1);
      first.suggestFloat('y', 0, 1);
      expect(calls[0]).toMatchObject({ p: 160, fits: false });
      await study.tell(first, spherePoint(rng));
      // Dominates every other point: the front is this one point, K boxes, nothing to thin.
      await study.addTrials([{ params: { x: 0.5, y: 0.5 }, distributions, values: Array(K).fill(-1) }]);

      calls.length = 0;
      const second = await study.ask();
      second.suggestFloat('x', 0, 1);
      second.suggestFloat('y', 0, 1);
      // Decomposed on its non-dominated rows: the one point.
      expect(calls).toMatchObject([{ p: 1, fits: true }]);
    } finally {
      warnings.mockRestore();
    }
  }, 60_000);

  it('records the size that fit in the study; a new sampler on it starts there, without the failing decompositions', async () => {
    const { rng, study } = await sphereStudy();
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      calls.length = 0;
      const first = await ask(study);
      expect(calls[0]).toMatchObject({ p: 160, fits: false });
      const fitted = calls.at(-1)?.p as number;
      expect(calls.at(-1)?.fits).toBe(true);
      // Recorded on the trial it served, once.
      expect(await records(study)).toEqual({ [first.number]: storedFrontSizeRecord(K, 2048, fitted) });
      await study.tell(first, spherePoint(rng));
      const second = await ask(study);
      await study.tell(second, spherePoint(rng));
      expect(await records(study)).toEqual({ [first.number]: storedFrontSizeRecord(K, 2048, fitted) });

      // A new sampler (a resumed study, another worker) on the same storage, in a new process
      // (as far as the one-time warning goes).
      const resumed = await resume(study);
      resetWarnOnce();
      warnings.mockClear();
      calls.length = 0;
      const third = await ask(resumed);
      expect(calls).toMatchObject([{ p: fitted, fits: true }]);
      // It thinned without a failing decomposition, and still says so.
      expect(warnings.mock.calls.some((c) => String(c[0]).includes("each objective's best point and a random subset"))).toBe(true);
      expect([third.params.x, third.params.y].every((v) => typeof v === 'number' && v >= 0 && v <= 1)).toBe(true);
      // Nothing new to record.
      expect(Object.keys(await records(study))).toEqual([String(first.number)]);
    } finally {
      warnings.mockRestore();
    }
  }, 60_000);

  it('a new sampler whose recorded size no longer fits halves from there and records the size that does', async () => {
    // 150 points of this front need more than 2,048 boxes (the whole front fails, and about 80 fit).
    const { study } = await sphereStudy({ 150: storedFrontSizeRecord(K, 2048, 150) });
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      calls.length = 0;
      const trial = await ask(study);
      // Starts at the recorded size (or the whole front, if raising the points to the models'
      // means left it smaller), not at the 160 observed points.
      expect(calls[0].p).toBeLessThanOrEqual(150);
      expect(calls[0].fits).toBe(false);
      for (let i = 1; i < calls.length; i++) expect(calls[i].p).toBe(Math.floor(calls[i - 1].p / 2));
      expect(calls.at(-1)?.fits).toBe(true);
      expect((await records(study))[trial.number]).toEqual(storedFrontSizeRecord(K, 2048, calls.at(-1)?.p as number));
    } finally {
      warnings.mockRestore();
    }
  }, 60_000);

  it('a new sampler decomposes a front no larger than the recorded size whole', async () => {
    const { distributions, study } = await sphereStudy({ 159: storedFrontSizeRecord(K, 2048, 40) });
    // Dominates every other point: the front is this one point.
    await study.addTrials([{ params: { x: 0.5, y: 0.5 }, distributions, values: Array(K).fill(-1) }]);
    calls.length = 0;
    const trial = await ask(study);
    expect(calls).toMatchObject([{ p: 1, fits: true }]);
    expect((await records(study))[trial.number]).toBeUndefined();
  }, 60_000);

  it('ignores corrupt records: a new sampler thins from the whole front, as without one', async () => {
    const valid = storedFrontSizeRecord(K, 2048, 40) as Record<string, JsonValue>;
    const { study } = await sphereStudy({
      100: { ...valid, size: 2 }, // smaller than any size a failing decomposition halves to
      120: { ...valid, objectives: 4 },
      140: { ...valid, size: '40' },
      159: 'corrupt',
    });
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      calls.length = 0;
      const trial = await ask(study);
      expect(calls[0]).toMatchObject({ p: 160, fits: false });
      expect(calls.at(-1)?.fits).toBe(true);
      expect((await records(study))[trial.number]).toEqual(storedFrontSizeRecord(K, 2048, calls.at(-1)?.p as number));
    } finally {
      warnings.mockRestore();
    }
  }, 60_000);

  it('a failed write of the record only warns: the suggestion goes on', async () => {
    const { study } = await sphereStudy();
    // A storage that refuses system attributes (read-only, or gone away).
    Object.defineProperty(study, 'setTrialSystemAttrs', {
      value: async () => {
        throw new Error('read-only storage');
      },
    });
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      resetWarnOnce();
      calls.length = 0;
      const trial = await ask(study);
      expect(calls.at(-1)?.fits).toBe(true);
      expect([trial.params.x, trial.params.y].every((v) => typeof v === 'number' && v >= 0 && v <= 1)).toBe(true);
      expect(warnings.mock.calls.some((c) => String(c[0]).includes('a thinned Pareto front fitted at could not be recorded'))).toBe(true);
      expect(await records(study)).toEqual({});
    } finally {
      warnings.mockRestore();
    }
  }, 60_000);
});
