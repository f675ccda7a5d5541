/**
 * Scrambled Sobol low-discrepancy sequence.
 *
 * Notation: d = dimension, i = point index (0-based), V[k][j] = 32-bit direction number j (bit
 * 31 - j is the leading bit) of dimension k, g(i) = i XOR (i >> 1) the Gray code of i.
 *
 * - Point i, dimension k, as a 32-bit integer: x_k(i) = XOR over set bits j of g(i) of V[k][j]
 *   (Antonov & Saleev 1979 Gray-code ordering; Bratley & Fox, ACM TOMS 14 (1988), Algorithm 659).
 *   Consecutive points differ by one XOR: x(i + 1) = x(i) XOR V[ctz(i + 1)], so generation allocates
 *   nothing per point. Unscrambled, point 0 is the origin and points 1, 2, 3 of dimension 0 are
 *   0.5, 0.75, 0.25 (the same order as SciPy's `qmc.Sobol(scramble=False)`).
 * - Direction numbers: Joe & Kuo (2008), `new-joe-kuo-6.21201`, via `sobol-directions.ts`, with the
 *   recurrence of Bratley & Fox (1988) eq. (2): m_j = 2^s m_{j-s} XOR m_{j-s} XOR
 *   XOR_{l=1}^{s-1} 2^l a_l m_{j-l}. Supported dimensions: 1..SOBOL_MAX_DIMENSION (1111).
 * - Scrambling: nested uniform (Owen) scrambling realised with a hash, Burley, "Practical Hash-based
 *   Owen Scrambling", JCGT 9(4), 2020, Listing 2 (reverse bits, Laine-Karras-style hash, reverse
 *   back), with the improved hash constants of N. Vegdahl, "Building a better LK hash" (2021). In
 *   the bit-reversed domain each output bit depends only on the same and more significant input bits,
 *   so every elementary interval is permuted as a whole: the scrambled points keep the (t, m, s)-net
 *   property (in particular the first 2^m points of each dimension hit each of the 2^m bins once).
 *   Each dimension gets its own 32-bit scramble seed, `deriveSeed(seed, 'sobol-owen', k)`.
 *
 * Output: x / 2^32 in [0, 1). At most 2^32 points per sequence.
 */
import { InvalidOptionError } from '../errors.js';
import { deriveSeed, resolveSeed } from './prng.js';
import { SOBOL_DIRECTION_TABLE, SOBOL_MAX_DIMENSION } from './sobol-directions.js';

export { SOBOL_MAX_DIMENSION } from './sobol-directions.js';

const BITS = 32;
const TWO_32 = 4294967296;
const INV_TWO_32 = 1 / TWO_32;

export interface SobolSequenceOptions {
  /** Number of coordinates per point, 1..1111. */
  readonly dimension: number;
  /** Scramble seed (safe integer). Default: a random seed from crypto. Ignored when `scramble` is false. */
  readonly seed?: number;
  /** Owen-scramble the sequence (default true). */
  readonly scramble?: boolean;
}

let directionCache: Uint32Array | null = null;

/** V[k * 32 + j] for all supported dimensions, parsed once on first use. */
function directionNumbers(): Uint32Array {
  if (directionCache !== null) return directionCache;
  const v = new Uint32Array(SOBOL_MAX_DIMENSION * BITS);
  for (let j = 0; j < BITS; j++) v[j] = 2 ** (BITS - 1 - j);
  const entries = SOBOL_DIRECTION_TABLE.split(';');
  const m = new Array<number>(BITS);
  for (let k = 1; k < SOBOL_MAX_DIMENSION; k++) {
    const fields = entries[k - 1].split(' ').map((field) => parseInt(field, 36));
    const poly = fields[0];
    const s = 31 - Math.clz32(poly);
    for (let j = 0; j < s; j++) m[j] = fields[1 + j];
    for (let j = s; j < BITS; j++) {
      let next = m[j - s];
      for (let l = 0; l < s; l++) {
        if ((poly >>> (s - 1 - l)) & 1) next = (next ^ (m[j - l - 1] * 2 ** (l + 1))) >>> 0;
      }
      m[j] = next;
    }
    for (let j = 0; j < BITS; j++) v[k * BITS + j] = (m[j] * 2 ** (BITS - 1 - j)) >>> 0;
  }
  directionCache = v;
  return v;
}

function reverseBits(x: number): number {
  x = ((x >>> 1) & 0x55555555) | ((x & 0x55555555) << 1);
  x = ((x >>> 2) & 0x33333333) | ((x & 0x33333333) << 2);
  x = ((x >>> 4) & 0x0f0f0f0f) | ((x & 0x0f0f0f0f) << 4);
  x = ((x >>> 8) & 0x00ff00ff) | ((x & 0x00ff00ff) << 8);
  return ((x >>> 16) | (x << 16)) >>> 0;
}

/**
 * Owen scramble of a bit-reversed 32-bit value; returns the scrambled value in natural bit order.
 * Burley (2020) Listing 2 with Vegdahl's (2021) hash.
 */
function owenScrambleReversed(xReversed: number, seed: number): number {
  let x = xReversed | 0;
  x ^= Math.imul(x, 0x3d20adea);
  x = (x + seed) | 0;
  x = Math.imul(x, (seed >>> 16) | 1);
  x ^= Math.imul(x, 0x05526c56);
  x ^= Math.imul(x, 0x53a22864);
  return reverseBits(x);
}

function ctz(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/**
 * A (scrambled) Sobol sequence with its own cursor. `next`/`fill` return points `index`,
 * `index + 1`, ...; `skip` and `seek` move the cursor in O(d * 32).
 */
export class SobolSequence {
  readonly dimension: number;
  readonly scramble: boolean;
  /** The scramble seed, or null when unscrambled. */
  readonly seed: number | null;
  /** Direction numbers of the used dimensions (bit-reversed when scrambling), [j * d + k]. */
  private readonly directions: Uint32Array;
  private readonly scrambleSeeds: Int32Array;
  /** Integer coordinates of the point at `position` (bit-reversed when scrambling). */
  private readonly state: Uint32Array;
  private position = 0;

  /** @throws InvalidOptionError naming the bad option. */
  constructor(options: SobolSequenceOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidOptionError('options', 'an object {dimension, seed?, scramble?}', options);
    }
    const { dimension } = options;
    if (typeof dimension !== 'number' || !Number.isInteger(dimension) || dimension < 1 || dimension > SOBOL_MAX_DIMENSION) {
      throw new InvalidOptionError(
        'dimension',
        `an integer in [1, ${SOBOL_MAX_DIMENSION}] (the Joe-Kuo table shipped with Kestrel has ${SOBOL_MAX_DIMENSION} dimensions)`,
        dimension,
      );
    }
    const scramble = options.scramble ?? true;
    if (typeof scramble !== 'boolean') throw new InvalidOptionError('scramble', 'a boolean', scramble);
    this.dimension = dimension;
    this.scramble = scramble;
    this.seed = scramble ? resolveSeed('seed', options.seed) : null;
    if (!scramble && options.seed !== undefined) resolveSeed('seed', options.seed);

    const all = directionNumbers();
    this.directions = new Uint32Array(BITS * dimension);
    for (let k = 0; k < dimension; k++) {
      for (let j = 0; j < BITS; j++) {
        const v = all[k * BITS + j];
        this.directions[j * dimension + k] = scramble ? reverseBits(v) : v;
      }
    }
    this.scrambleSeeds = new Int32Array(dimension);
    if (this.seed !== null) {
      for (let k = 0; k < dimension; k++) this.scrambleSeeds[k] = deriveSeed(this.seed, 'sobol-owen', k) % TWO_32;
    }
    this.state = new Uint32Array(dimension);
  }

  /** Index of the point the next `next()` returns. */
  get index(): number {
    return this.position;
  }

  /** Moves the cursor to point `index` (0 <= index < 2^32). */
  seek(index: number): this {
    if (!Number.isSafeInteger(index) || index < 0 || index >= TWO_32) {
      throw new InvalidOptionError('index', 'an integer in [0, 2^32)', index);
    }
    const d = this.dimension;
    const gray = (index ^ (index >>> 1)) >>> 0;
    this.state.fill(0);
    for (let j = 0; j < BITS; j++) {
      if ((gray >>> j) & 1) {
        const row = j * d;
        for (let k = 0; k < d; k++) this.state[k] ^= this.directions[row + k];
      }
    }
    this.position = index;
    return this;
  }

  /** Skips `n` points (n >= 0). */
  skip(n: number): this {
    if (!Number.isSafeInteger(n) || n < 0 || this.position + n >= TWO_32) {
      throw new InvalidOptionError('n', `a non-negative integer below 2^32 - ${this.position} (the points left)`, n);
    }
    return n === 0 ? this : this.seek(this.position + n);
  }

  /** Back to point 0. */
  reset(): this {
    return this.seek(0);
  }

  /**
   * The next point. Writes into `out` (length >= dimension) when given, else into a new array.
   */
  next(out?: Float64Array): Float64Array {
    const target = out ?? new Float64Array(this.dimension);
    if (target.length < this.dimension) {
      throw new InvalidOptionError('out', `a Float64Array of length >= ${this.dimension}`, target.length);
    }
    this.emit(target, 0);
    return target;
  }

  /**
   * Writes the next `count` points row-major into `out` (point p, coordinate k at out[p * d + k])
   * and returns `out`.
   */
  fill(out: Float64Array, count: number): Float64Array {
    if (!Number.isSafeInteger(count) || count < 0) throw new InvalidOptionError('count', 'a non-negative integer', count);
    if (!(out instanceof Float64Array) || out.length < count * this.dimension) {
      throw new InvalidOptionError('out', `a Float64Array of length >= count * dimension = ${count * this.dimension}`, out);
    }
    if (this.position + count > TWO_32) {
      throw new InvalidOptionError('count', `at most ${TWO_32 - this.position} (a Sobol sequence has 2^32 points)`, count);
    }
    for (let p = 0; p < count; p++) this.emit(out, p * this.dimension);
    return out;
  }

  private emit(out: Float64Array, offset: number): void {
    if (this.position >= TWO_32) throw new InvalidOptionError('index', 'below 2^32 (the sequence is exhausted)', this.position);
    const d = this.dimension;
    const state = this.state;
    if (this.scramble) {
      const seeds = this.scrambleSeeds;
      for (let k = 0; k < d; k++) out[offset + k] = owenScrambleReversed(state[k], seeds[k]) * INV_TWO_32;
    } else {
      for (let k = 0; k < d; k++) out[offset + k] = state[k] * INV_TWO_32;
    }
    const nextIndex = this.position + 1;
    if (nextIndex < TWO_32) {
      const row = ctz(nextIndex) * d;
      const dirs = this.directions;
      for (let k = 0; k < d; k++) state[k] ^= dirs[row + k];
    }
    this.position = nextIndex;
  }
}
