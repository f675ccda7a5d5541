import { describe, expect, it } from 'vitest';
import { erf, erfc, erfcx, logsumexp, normalCdf, normalLogCdf, normalLogPdf, normalPdf } from '../../src/util/math.js';

// [x, erf(x), erfc(x), erfcx(x)] from mpmath at 50 digits (erfcx omitted (null) where it overflows)
const ERF_TABLE: readonly (readonly [number, number, number, number | null])[] = [
  [-30, -1.0, 2.0, null],
  [-10, -1.0, 2.0, 5.3762342836322708968e+43],
  [-5.5, -9.9999999999999264215e-1, 1.9999999999999926422, 2.7443409954929709659e+13],
  [-3, -9.9997790950300141456e-1, 1.9999779095030014146, 1.6205988853999586625e+4],
  [-2, -9.9532226501895273416e-1, 1.9953222650189527342, 1.0894090438997797241e+2],
  [-1.999, -9.9530155665137051232e-1, 1.9953015566513705123, 1.0850499351867827288e+2],
  [-1, -8.4270079294971486934e-1, 1.8427007929497148693, 5.0089800807622834663],
  [-0.5, -5.2049987781304653768e-1, 1.5204998778130465377, 1.9523604891825570933],
  [-0.001, -1.1283787909692364034e-3, 1.0011283787909692364, 1.0011293799198485917],
  [-1e-10, -1.128379167095512615e-10, 1.0000000001128379167, 1.0000000001128379167],
  [0, 0, 1.0, 1.0],
  [1e-10, 1.128379167095512615e-10, 9.9999999988716208329e-1, 9.999999998871620833e-1],
  [0.001, 1.1283787909692364034e-3, 9.988716212090307636e-1, 9.988726200811514086e-1],
  [0.1, 1.124629160182848984e-1, 8.875370839817151016e-1, 8.9645697996912663666e-1],
  [0.5, 5.2049987781304653768e-1, 4.7950012218695346232e-1, 6.1569034419292587487e-1],
  [0.9, 7.9690821242283213966e-1, 2.0309178757716786034e-1, 4.5653165132311703252e-1],
  [1, 8.4270079294971486934e-1, 1.5729920705028513066e-1, 4.2758357615580700441e-1],
  [1.49, 9.6489786484320421101e-1, 3.5102135156795788985e-2, 3.2322929380082384985e-1],
  [1.5, 9.6610514647531072707e-1, 3.3894853524689272933e-2, 3.2158541645431750235e-1],
  [1.51, 9.6727674812871163694e-1, 3.2723251871288363061e-2, 3.1995676958333284174e-1],
  [1.99, 9.9511141319961699705e-1, 4.8885868003830029527e-3, 2.5646783671952990388e-1],
  [2, 9.9532226501895273416e-1, 4.6777349810472658379e-3, 2.5539567631050574387e-1],
  [2.01, 9.9552484935524823708e-1, 4.4751506447517629202e-3, 2.5433187656081826841e-1],
  [2.5, 9.9959304798255504106e-1, 4.0695201744495893956e-4, 2.1080636406114358065e-1],
  [3, 9.9997790950300141456e-1, 2.2090496998585441373e-5, 1.7900115118138995042e-1],
  [4, 9.9999998458274209972e-1, 1.5417257900280018852e-8, 1.3699945762506138989e-1],
  [5, 9.9999999999846254021e-1, 1.5374597944280348502e-12, 1.1070463773306862637e-1],
  [6, 9.9999999999999997848e-1, 2.1519736712498913117e-17, 9.2776567800538354389e-2],
  [8, 1.0, 1.122429717298292708e-29, 6.9985166200880927723e-2],
  [10, 1.0, 2.088487583762544757e-45, 5.6140992743822585858e-2],
  [15, 1.0, 7.2129941724512066666e-100, 3.7529606388505765746e-2],
  [20, 1.0, 5.3958656116079009289e-176, 2.8174348741051319319e-2],
  [26, 1.0, 5.6631924088561428465e-296, 2.1683584850562906616e-2],
  [27, 1.0, 5.237048923789255685e-319, 2.0881607990420940674e-2],
  [50, 1.0, 2.0709207788416560484e-1088, 1.12815362653237725e-2],
  [100, 1.0, 6.405961424921732039e-4346, 5.6416137829894329036e-3],
  [1000.0, 1.0, 1.8600370486323233709e-434298, 5.641893014533876542e-4],
  [100000.0, 1.0, 5.2348806797540455006e-4342944825, 5.6418958351954680777e-6],
  [1000000000.0, 1.0, 1.2597841638453018109e-434294481903251837, 5.6418958354775628667e-10],
];
// [x, Phi(x), log Phi(x)] from mpmath at 50 digits
const NORMAL_TABLE: readonly (readonly [number, number, number])[] = [
  [-10000.0, 3.2044055119008403139e-21714729, -5.0000010129278915181e+7],
  [-200, 2.5717642116417512481e-8689, -2.0006217280898190402e+4],
  [-40, 3.6558935409150297037e-350, -8.0460844201375378817e+2],
  [-38, 2.8854283600687843084e-316, -7.265572160188201301e+2],
  [-20, 2.7536241186062336951e-89, -2.0391715537109726394e+2],
  [-10, 7.619853024160526066e-24, -5.3231285150512470578e+1],
  [-5, 2.8665157187919391167e-7, -1.5064998393988725736e+1],
  [-3, 1.3498980316300945267e-3, -6.6077262215103495433],
  [-1.5, 6.6807201268858066004e-2, -2.705944400823889807],
  [-1, 1.5865525393145705141e-1, -1.8410216450092635058],
  [-0.999, 1.5889734564131828629e-1, -1.8394969101647779061],
  [-0.5, 3.0853753872598689636e-1, -1.1759117615936186089],
  [0, 5.0e-1, -6.9314718055994530942e-1],
  [0.5, 6.9146246127401310364e-1, -3.6894641528865639307e-1],
  [1, 8.4134474606854294859e-1, -1.7275377902344988953e-1],
  [2, 9.772498680518207928e-1, -2.3012909328963488465e-2],
  [2.99, 9.9860511276450775051e-1, -1.3958609963218239018e-3],
  [3, 9.9865010196836990547e-1, -1.3508099647481937988e-3],
  [3.01, 9.9869376155123053133e-1, -1.3070923218675681541e-3],
  [5, 9.9999971334842812081e-1, -2.8665161296376359338e-7],
  [8, 9.999999999999993779e-1, -6.2209605742717860585e-16],
  [10, 1.0, -7.619853024160526066e-24],
  [30, 1.0, 0],
];

function relErr(actual: number, expected: number): number {
  if (expected === 0) return Math.abs(actual);
  return Math.abs(actual - expected) / Math.abs(expected);
}

describe('erf / erfc / erfcx', () => {
  it('match 50-digit mpmath values to 1e-13 relative', () => {
    for (const [x, e, ec, ex] of ERF_TABLE) {
      expect(relErr(erf(x), e), `erf(${x})`).toBeLessThan(1e-13);
      expect(relErr(erfc(x), ec), `erfc(${x})`).toBeLessThan(1e-13);
      if (ex === null) expect(erfcx(x)).toBe(Infinity);
      else expect(relErr(erfcx(x), ex), `erfcx(${x})`).toBeLessThan(1e-13);
    }
  });

  it('are consistent: erf + erfc = 1, erfcx = exp(x^2) erfc, symmetry', () => {
    for (let x = -5; x <= 5; x += 0.173) {
      expect(Math.abs(erf(x) + erfc(x) - 1)).toBeLessThan(2e-16 * 4);
      expect(erf(-x)).toBe(-erf(x));
      expect(relErr(erfcx(x), Math.exp(x * x) * erfc(x))).toBeLessThan(1e-13);
    }
  });

  it('erfcx stays finite and ~1/(x sqrt(pi)) for huge x; edge values', () => {
    for (const x of [1e10, 1e100, 1e300]) {
      expect(relErr(erfcx(x), 1 / (x * Math.sqrt(Math.PI)))).toBeLessThan(1e-15);
    }
    expect(erfcx(Infinity)).toBe(0);
    expect(erfc(Infinity)).toBe(0);
    expect(erfc(-Infinity)).toBe(2);
    expect(erf(Infinity)).toBe(1);
    expect(Number.isNaN(erf(NaN))).toBe(true);
    expect(Number.isNaN(erfc(NaN))).toBe(true);
    expect(Number.isNaN(erfcx(NaN))).toBe(true);
  });
});

describe('normal distribution', () => {
  it('cdf and log cdf match mpmath to 1e-13 relative, far into both tails', () => {
    for (const [x, p, logp] of NORMAL_TABLE) {
      expect(relErr(normalCdf(x), p), `Phi(${x})`).toBeLessThan(1e-13);
      expect(relErr(normalLogCdf(x), logp), `log Phi(${x})`).toBeLessThan(1e-13);
    }
  });

  it('log cdf is finite where the cdf underflows and monotone', () => {
    expect(normalCdf(-40)).toBe(0);
    expect(Number.isFinite(normalLogCdf(-1e6))).toBe(true);
    expect(normalLogCdf(-Infinity)).toBe(-Infinity);
    expect(normalLogCdf(Infinity)).toBe(0);
    let previous = -Infinity;
    for (let x = -60; x <= 10; x += 0.37) {
      const v = normalLogCdf(x);
      expect(v).toBeGreaterThan(previous);
      previous = v;
    }
  });

  it('pdf and log pdf', () => {
    expect(relErr(normalPdf(0), 0.3989422804014327)).toBeLessThan(1e-15);
    expect(relErr(normalPdf(1.5), 0.12951759566589174)).toBeLessThan(1e-15);
    expect(relErr(normalLogPdf(3), Math.log(normalPdf(3)))).toBeLessThan(1e-15);
    expect(normalLogPdf(100)).toBeCloseTo(-5000.918938533205, 9);
  });
});

describe('logsumexp', () => {
  it('matches the naive formula where it does not overflow', () => {
    const v = [0.1, -2, 3.5, 1];
    const naive = Math.log(v.reduce((s, x) => s + Math.exp(x), 0));
    expect(relErr(logsumexp(v), naive)).toBeLessThan(1e-15);
    expect(relErr(logsumexp(new Float64Array(v)), naive)).toBeLessThan(1e-15);
  });

  it('does not overflow or underflow', () => {
    expect(relErr(logsumexp([1000, 1000]), 1000 + Math.LN2)).toBeLessThan(1e-15);
    expect(relErr(logsumexp([-1000, -1000, -1000]), -1000 + Math.log(3))).toBeLessThan(1e-15);
  });

  it('handles empty, infinite and NaN input', () => {
    expect(logsumexp([])).toBe(-Infinity);
    expect(logsumexp([-Infinity, -Infinity])).toBe(-Infinity);
    expect(logsumexp([1, Infinity])).toBe(Infinity);
    expect(logsumexp([-Infinity, 2])).toBe(2);
    expect(Number.isNaN(logsumexp([1, NaN]))).toBe(true);
  });
});
