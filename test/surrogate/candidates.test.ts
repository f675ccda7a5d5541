import { describe, expect, it } from 'vitest';
import { LOCAL_CANDIDATE_EVERY, LOCAL_CANDIDATE_SIGMA, acquisitionCandidates } from '../../src/surrogate/candidates.js';
import { SobolSequence } from '../../src/util/sobol.js';

const d = 3;
const isCategorical = Uint8Array.from([0, 0, 1]);

function sobol(n: number, seed: number): Float64Array {
  const out = new Float64Array(n * d);
  new SobolSequence({ dimension: d, seed, scramble: true }).fill(out, n);
  return out;
}

describe('acquisitionCandidates', () => {
  it('is the scrambled Sobol points alone without a centre', () => {
    const { x, count } = acquisitionCandidates({ d, nSobol: 64, seed: 9, center: null, isCategorical });
    expect(count).toBe(64);
    expect(Array.from(x)).toEqual(Array.from(sobol(64, 9)));
  });

  it('interleaves one local candidate after every LOCAL_CANDIDATE_EVERY Sobol points, so any prefix keeps the mix', () => {
    const nSobol = 2000;
    const center = Float64Array.from([0.5, 0.0, 2]);
    const { x, count } = acquisitionCandidates({ d, nSobol, seed: 9, center, isCategorical });
    const nLocal = Math.floor(nSobol / LOCAL_CANDIDATE_EVERY);
    expect(count).toBe(nSobol + nLocal);
    const reference = sobol(nSobol, 9);
    const offsets: number[] = [];
    let s = 0;
    for (let row = 0; row < count; row++) {
      const point = Array.from(x.subarray(row * d, row * d + d));
      if ((row + 1) % (LOCAL_CANDIDATE_EVERY + 1) === 0) {
        // Local: categorical dim at the centre's choice, the others in [0, 1] near the centre.
        expect(point[2]).toBe(2);
        expect(point[0]).toBeGreaterThanOrEqual(0);
        expect(point[0]).toBeLessThanOrEqual(1);
        expect(point[1]).toBeGreaterThanOrEqual(0); // clipped at the cube's face
        offsets.push(point[0] - 0.5);
      } else {
        expect(point).toEqual(Array.from(reference.subarray(s * d, s * d + d)));
        s += 1;
      }
    }
    expect(s).toBe(nSobol);
    expect(offsets).toHaveLength(nLocal);
    // N(0, sigma^2) offsets on an unclipped dim: sample sd within 10% of sigma for 200 draws.
    const mean = offsets.reduce((a, b) => a + b, 0) / nLocal;
    const sd = Math.sqrt(offsets.reduce((a, b) => a + (b - mean) ** 2, 0) / (nLocal - 1));
    expect(Math.abs(sd - LOCAL_CANDIDATE_SIGMA)).toBeLessThan(0.1 * LOCAL_CANDIDATE_SIGMA);
    expect(Math.abs(mean)).toBeLessThan(4 * (LOCAL_CANDIDATE_SIGMA / Math.sqrt(nLocal)));
    // A centre on the face x1 = 0: about half the draws are clipped onto it.
    const onFace = Array.from({ length: nLocal }, (_, k) => x[((k + 1) * (LOCAL_CANDIDATE_EVERY + 1) - 1) * d + 1]).filter((v) => v === 0);
    expect(onFace.length).toBeGreaterThan(0.35 * nLocal);
    expect(onFace.length).toBeLessThan(0.65 * nLocal);
  });

  it('is deterministic for a seed, and another seed moves the local candidates too', () => {
    const center = Float64Array.from([0.3, 0.7, 0]);
    const a = acquisitionCandidates({ d, nSobol: 100, seed: 4, center, isCategorical });
    const b = acquisitionCandidates({ d, nSobol: 100, seed: 4, center, isCategorical });
    const c = acquisitionCandidates({ d, nSobol: 100, seed: 5, center, isCategorical });
    expect(Array.from(b.x)).toEqual(Array.from(a.x));
    const local = (r: { x: Float64Array }): number[] => Array.from(r.x.subarray(10 * d, 11 * d));
    expect(local(c)).not.toEqual(local(a));
  });

  it('takes several centres in turn (local candidate k around centre k mod count); one centre is the old layout', () => {
    const centers = Float64Array.from([0.1, 0.1, 0, 0.9, 0.5, 1, 0.4, 0.95, 2]);
    const nSobol = 600;
    const { x, count } = acquisitionCandidates({ d, nSobol, seed: 3, center: centers, isCategorical });
    const nLocal = Math.floor(nSobol / LOCAL_CANDIDATE_EVERY);
    expect(count).toBe(nSobol + nLocal);
    for (let k = 0; k < nLocal; k++) {
      const row = (k + 1) * (LOCAL_CANDIDATE_EVERY + 1) - 1;
      const c = k % 3;
      expect(x[row * d + 2]).toBe(centers[c * d + 2]); // the centre's categorical choice
      expect(Math.abs(x[row * d] - centers[c * d])).toBeLessThan(6 * LOCAL_CANDIDATE_SIGMA);
      expect(Math.abs(x[row * d + 1] - centers[c * d + 1])).toBeLessThan(6 * LOCAL_CANDIDATE_SIGMA);
    }
    const one = acquisitionCandidates({ d, nSobol, seed: 3, center: centers.subarray(0, d), isCategorical });
    const same = acquisitionCandidates({ d, nSobol, seed: 3, center: Float64Array.from(centers.subarray(0, d)), isCategorical });
    expect(Array.from(one.x)).toEqual(Array.from(same.x));
    for (let k = 0; k < nLocal; k++) expect(one.x[((k + 1) * (LOCAL_CANDIDATE_EVERY + 1) - 1) * d + 2]).toBe(0);
  });
});
