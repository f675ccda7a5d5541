/**
 * Seeded pseudo-random numbers with split streams.
 *
 * - `Rng` is xoshiro128** (Blackman & Vigna, "Scrambled linear pseudorandom number generators",
 *   2021): four 32-bit words of state, period 2^128 - 1, all arithmetic in 32-bit integers, so it is
 *   fast in JavaScript and bit-for-bit reproducible on every platform.
 * - `deriveSeed(seed, ...parts)` is a pure hash (two MurmurHash3-style 32-bit lanes, cross-fed, with
 *   the MurmurHash3 `fmix32` finalizer) of a seed and a path of labels to a new 53-bit seed. A sampler
 *   draws parameter `name` of trial `number` from `deriveSeed(seed, number, name)`, so the value
 *   depends only on (seed, trial number, name), never on the order in which concurrent trials ran.
 *
 * Seeds are safe integers (|seed| <= 2^53 - 1). Derived seeds are uniform on [0, 2^53).
 */
import { randomBytes } from 'node:crypto';
import { InvalidOptionError } from '../errors.js';

const TWO_32 = 4294967296;
const TWO_53 = 9007199254740992;
const TWO_21 = 2097152;

/** A fresh 53-bit seed from the operating system's CSPRNG (used when the user gives no seed). */
export function randomSeed(): number {
  const bytes = randomBytes(8);
  return (bytes.readUInt32LE(0) >>> 11) * TWO_32 + bytes.readUInt32LE(4);
}

/**
 * Validates a user-supplied seed option. `undefined` gives a random seed from crypto.
 * @throws InvalidOptionError naming `option` when the seed is not a safe integer.
 */
export function resolveSeed(option: string, seed: unknown): number {
  if (seed === undefined) return randomSeed();
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
    throw new InvalidOptionError(option, 'a safe integer seed', seed);
  }
  return seed;
}

// ---------------------------------------------------------------------------------------------
// Hashing: deriveSeed
// ---------------------------------------------------------------------------------------------

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

/** MurmurHash3 32-bit finalizer: a bijection on 32-bit words with full avalanche. */
function fmix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x | 0;
}

// Hash lanes. Module-level scalars (not shared across calls: every call initializes them and runs
// to completion synchronously), so hashing allocates nothing.
let h1 = 0;
let h2 = 0;
let nWords = 0;

function absorb(word: number): void {
  let k1 = Math.imul(word, 0xcc9e2d51);
  k1 = rotl(k1, 15);
  k1 = Math.imul(k1, 0x1b873593);
  h1 ^= k1;
  h1 = rotl(h1, 13);
  h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;

  let k2 = Math.imul(word ^ 0x7f4a7c15, 0x85ebca6b);
  k2 = rotl(k2, 17);
  k2 = Math.imul(k2, 0xc2b2ae35);
  h2 ^= k2;
  h2 = rotl(h2, 19);
  h2 = (Math.imul(h2, 9) + 0x38b34ae5 + h1) | 0;
  nWords++;
}

const f64 = new Float64Array(1);
const f64Words = new Uint32Array(f64.buffer);

const TAG_INT = 0x1d8e4e27;
const TAG_FLOAT = 0x2f3c6a1b;
const TAG_STRING = 0x6b43a9b5;

function absorbPart(part: string | number): void {
  if (typeof part === 'string') {
    absorb(TAG_STRING);
    absorb(part.length);
    for (let i = 0; i < part.length; i++) absorb(part.charCodeAt(i));
  } else if (Number.isSafeInteger(part)) {
    absorb(TAG_INT);
    absorb(part >>> 0);
    absorb(Math.floor(part / TWO_32) | 0);
  } else {
    absorb(TAG_FLOAT);
    f64[0] = part;
    absorb(f64Words[0]);
    absorb(f64Words[1]);
  }
}

function beginHash(seed: number): void {
  h1 = 0x3c6ef372;
  h2 = 0xa54ff53a;
  nWords = 0;
  absorb(seed >>> 0);
  absorb(Math.floor(seed / TWO_32) | 0);
}

function finishHash(): number {
  h1 ^= nWords;
  h2 ^= Math.imul(nWords, 0x9e3779b9);
  h1 = (h1 + h2) | 0;
  h2 = (h2 + h1) | 0;
  h1 = fmix32(h1);
  h2 = fmix32(h2);
  h1 = (h1 + h2) | 0;
  h2 = (h2 + h1) | 0;
  // 32 high bits from lane 1, 21 low bits from lane 2: uniform on [0, 2^53).
  return (h1 >>> 0) * TWO_21 + (h2 >>> 11);
}

/**
 * A pure hash of `seed` and a path of labels to a new seed, uniform on [0, 2^53). Different paths
 * give independent-looking seeds: `deriveSeed(s, 3, 'lr')` and `deriveSeed(s, 4, 'lr')` are unrelated.
 * Integers, other numbers and strings hash differently (`1` vs `'1'`).
 */
export function deriveSeed(seed: number, ...parts: readonly (string | number)[]): number {
  beginHash(seed);
  for (let i = 0; i < parts.length; i++) absorbPart(parts[i]);
  return finishHash();
}

/**
 * A uniform number in [0, 1) determined by (seed, parts): `deriveSeed(seed, ...parts) / 2^53`.
 * Allocation-free fast path for samplers that need one draw per (trial, parameter).
 */
export function deriveUnit(seed: number, ...parts: readonly (string | number)[]): number {
  beginHash(seed);
  for (let i = 0; i < parts.length; i++) absorbPart(parts[i]);
  return finishHash() / TWO_53;
}

// ---------------------------------------------------------------------------------------------
// Rng: xoshiro128**
// ---------------------------------------------------------------------------------------------

/** A seeded xoshiro128** generator. Not cryptographic. */
export class Rng {
  /** The seed this stream was created from (`split` derives from it, not from the current state). */
  readonly seed: number;
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spareNormal = 0;
  private hasSpareNormal = false;

  /** @throws InvalidOptionError when `seed` is not a safe integer. */
  constructor(seed: number) {
    this.seed = resolveSeed('seed', seed);
    const lo = seed >>> 0;
    const hi = Math.floor(seed / TWO_32) | 0;
    // (lo, hi) -> (s0, s1) is injective (fmix32 is a bijection), so distinct seeds never collide.
    this.s0 = fmix32(lo ^ 0x9e3779b9);
    this.s1 = fmix32(hi ^ this.s0 ^ 0x243f6a88);
    this.s2 = fmix32(lo ^ this.s1 ^ 0xb7e15162);
    this.s3 = fmix32(hi ^ this.s2 ^ 0x3c6ef372);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** A generator from `seed`, or from a random crypto seed when `seed` is undefined. */
  static fromSeed(seed?: number): Rng {
    return new Rng(resolveSeed('seed', seed));
  }

  /** An independent child stream: `new Rng(deriveSeed(this.seed, 'split', label))`. */
  split(label: string | number): Rng {
    return new Rng(deriveSeed(this.seed, 'split', label));
  }

  /** The next 32-bit output as an unsigned integer in [0, 2^32). */
  nextUint32(): number {
    const s0 = this.s0;
    const s1 = this.s1;
    const s2 = this.s2;
    const s3 = this.s3;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9);
    const t = s1 << 9;
    const n2 = s2 ^ s0;
    const n3 = s3 ^ s1;
    this.s1 = s1 ^ n2;
    this.s0 = s0 ^ n3;
    this.s2 = n2 ^ t;
    this.s3 = rotl(n3, 11);
    return result >>> 0;
  }

  /** A uniform integer in [0, 2^53) from the next two outputs (27 + 26 high bits). */
  private nextUint53(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return a * 67108864 + b;
  }

  /** A uniform double in [0, 1) with 53 random bits. */
  nextFloat(): number {
    return this.nextUint53() / TWO_53;
  }

  /**
   * A uniform integer in [lo, hi] (both inclusive), unbiased for every range (rejection sampling).
   * @throws InvalidOptionError when the bounds are not safe integers with lo <= hi.
   */
  nextInt(lo: number, hi: number): number {
    if (!Number.isSafeInteger(lo)) throw new InvalidOptionError('lo', 'a safe integer', lo);
    if (!Number.isSafeInteger(hi) || hi < lo) throw new InvalidOptionError('hi', `a safe integer >= lo (${lo})`, hi);
    const n = hi - lo + 1;
    if (n <= TWO_32) {
      const limit = TWO_32 - (TWO_32 % n);
      for (;;) {
        const r = this.nextUint32();
        if (r < limit) return lo + (r % n);
      }
    }
    // Not floor(nextFloat() * n): that maps 2^53 floats onto n values unevenly once n nears 2^53
    // (some values get twice the probability of others) and, past 2^53 values, rounds the product
    // so that every other value is never drawn. Rejection on exact integers instead: n (computed
    // exactly here, n <= 2^53) and the remainders are exact in doubles.
    if (n <= TWO_53) {
      const limit = TWO_53 - (TWO_53 % n);
      for (;;) {
        const r = this.nextUint53();
        if (r < limit) return lo + (r % n);
      }
    }
    // More than 2^53 values (so lo < 0 < hi): a uniform 54-bit offset (top bit, then 53 bits), with
    // offsets past hi rejected (acceptance n / 2^54 > 1/2). lo + r and lo + 2^53 are exact; a sum
    // above 2^53 may round, but stays above hi and is rejected.
    for (;;) {
      const top = this.nextUint32() >>> 31;
      const r = this.nextUint53();
      const v = top === 0 ? lo + r : lo + TWO_53 + r;
      if (v <= hi) return v;
    }
  }

  /** A standard normal draw (Marsaglia polar method; the second variate of each pair is cached). */
  normal(): number {
    if (this.hasSpareNormal) {
      this.hasSpareNormal = false;
      return this.spareNormal;
    }
    let u: number;
    let v: number;
    let s: number;
    do {
      u = 2 * this.nextFloat() - 1;
      v = 2 * this.nextFloat() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    this.spareNormal = v * f;
    this.hasSpareNormal = true;
    return u * f;
  }

  /** Shuffles `array` in place (Fisher-Yates) and returns it. */
  shuffle<T>(array: T[]): T[] {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.nextInt(0, i);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }

  /** A uniformly random permutation of 0..n-1. */
  permutation(n: number): number[] {
    if (!Number.isSafeInteger(n) || n < 0) throw new InvalidOptionError('n', 'a non-negative integer', n);
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = i;
    return this.shuffle(out);
  }
}
