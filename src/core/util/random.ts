/**
 * The project's seeded pseudo-random numbers (never Math.random): counter-based, so output i of a
 * stream is a fixed hash of (key, i), and a stream's key is a hash of any number of 32-bit words
 * (a seed, a purpose, a clip id …). A stream depends on its key alone: results never depend on the
 * order in which clips, classes or epochs are processed.
 */

/** lowbias32 (C. Wellons): a bijective, well-avalanched 32-bit hash. */
export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** 32-bit FNV-1a of a string's UTF-16 code units, then avalanched. */
export function hashText(s: string, salt = 0): number {
  let h = (0x811c9dc5 ^ salt) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return mix32(h);
}

export class Rng {
  private counter = 0;
  private spare: number | undefined;
  private readonly k0: number;
  private readonly k1: number;

  /** A stream keyed by any number of 32-bit words (two independent 32-bit keys derived). */
  constructor(...words: number[]) {
    let a = 0x243f6a88;
    let b = 0x85a308d3;
    for (const w of words) {
      a = mix32((a ^ (w >>> 0)) + 0x9e3779b9);
      b = mix32((b + Math.imul(w >>> 0, 0x85ebca6b)) ^ 0x27d4eb2f);
    }
    this.k0 = a;
    this.k1 = b;
  }

  /** A uniform 32-bit unsigned integer: a three-round hash of (key, counter). */
  u32(): number {
    const c = this.counter;
    this.counter = (c + 1) >>> 0;
    const x = mix32((this.k0 + Math.imul(c, 0x9e3779b9)) >>> 0);
    return mix32((mix32((x ^ this.k1) >>> 0) + c) >>> 0);
  }

  /** Uniform in [0, 1) with 53 bits. */
  next(): number {
    const hi = this.u32() >>> 5; // 27 bits
    const lo = this.u32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Log-uniform in [lo, hi]. */
  logUniform(lo: number, hi: number): number {
    return lo * Math.exp(Math.log(hi / lo) * this.next());
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box–Muller, both values used). */
  normal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    const u1 = (this.u32() + 1) / 4294967296; // (0, 1]
    const u2 = this.u32() / 4294967296;
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }

  /** Normal(mean, sd²) truncated to [lo, hi], by rejection (falls back to uniform after 10⁴ tries). */
  truncNormal(mean: number, sd: number, lo: number, hi: number): number {
    if (sd === 0) return Math.min(hi, Math.max(lo, mean));
    for (let t = 0; t < 10_000; t++) {
      const x = mean + sd * this.normal();
      if (x >= lo && x <= hi) return x;
    }
    return this.uniform(lo, hi);
  }

  /** Index drawn from a discrete distribution (weights summing to about 1). */
  categorical(p: ArrayLike<number>): number {
    const u = this.next();
    let acc = 0;
    for (let k = 0; k < p.length; k++) {
      acc += p[k]!;
      if (u < acc) return k;
    }
    // Rounding: the last class with positive weight.
    for (let k = p.length - 1; k >= 0; k--) if (p[k]! > 0) return k;
    return p.length - 1;
  }
}

