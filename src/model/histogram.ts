// Base-2 exponential histogram, the OpenTelemetry / Prometheus-native layout.
// Bucket i holds values in (base^i, base^(i+1)] with base = 2^(2^-scale). At scale 6,
// base = 2^(1/64) ≈ 1.01089, so a value reported at the bucket's harmonic midpoint is within
// (base-1)/(base+1) ≈ 0.54% of any value in the bucket: the ≤ 1% relative-error guarantee.
// Only non-negative values are stored (durations, sizes); exact zeros go to the zero bucket.

/** Finest scale we record at; also the scale every stored histogram is merged down to. */
export const MAX_SCALE = 6;
/** Buckets per histogram before it downscales (at scale 6: 32 powers of two ≈ 9.6 decades). */
export const MAX_BUCKETS = 2048;

const LN2 = Math.log(2);
const INITIAL_BUCKETS = 16;

/** Plain, serialisable histogram data (OTLP ExponentialHistogramDataPoint, positive side). */
export interface HistogramData {
  scale: number;
  zeroCount: number;
  /** index of counts[0] */
  offset: number;
  counts: number[];
}

export function bucketIndex(value: number, scale: number): number {
  return Math.ceil((Math.log(value) * 2 ** scale) / LN2) - 1;
}

export function bucketLower(index: number, scale: number): number {
  return 2 ** (index / 2 ** scale);
}

/** The point of (lo, hi] with the smallest worst-case relative error. */
export function bucketRepresentative(index: number, scale: number): number {
  const lo = bucketLower(index, scale);
  const hi = bucketLower(index + 1, scale);
  return (2 * lo * hi) / (lo + hi);
}

/** Relative error bound of a quantile estimate at this scale. */
export function relativeErrorBound(scale: number): number {
  const base = 2 ** (2 ** -scale);
  return (base - 1) / (base + 1);
}

/**
 * Mutable histogram used on the hot path and for merging. `record` allocates only when the
 * observed range grows past the buckets already held.
 */
export class ExpHistogram {
  scale: number;
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  zeroCount = 0;
  offset = 0;
  counts: Float64Array;
  /** number of buckets in use, counts[0..used) */
  used = 0;
  private factor: number;

  constructor(scale = MAX_SCALE) {
    this.scale = scale;
    this.factor = 2 ** scale / LN2;
    this.counts = new Float64Array(INITIAL_BUCKETS);
  }

  /** Caller guarantees value >= 0 and finite. */
  record(value: number): void {
    this.count++;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    if (value === 0) {
      this.zeroCount++;
      return;
    }
    const i = Math.ceil(Math.log(value) * this.factor) - 1 - this.offset;
    if (i >= 0 && i < this.used) this.counts[i]++;
    else this.addAt(i + this.offset, 1);
  }

  /** Adds n observations to bucket `index`, growing or downscaling as needed. */
  addAt(index: number, n: number): void {
    if (this.used === 0) {
      this.offset = index;
      this.used = 1;
      this.counts[0] += n;
      return;
    }
    let lo = Math.min(index, this.offset);
    let hi = Math.max(index, this.offset + this.used - 1);
    while (hi - lo + 1 > MAX_BUCKETS) {
      this.downscale(1);
      index = Math.floor(index / 2);
      lo = Math.min(index, this.offset);
      hi = Math.max(index, this.offset + this.used - 1);
    }
    const size = hi - lo + 1;
    if (lo < this.offset || size > this.counts.length) {
      const cap = Math.min(MAX_BUCKETS, Math.max(size, this.counts.length * 2));
      const next = new Float64Array(cap);
      next.set(this.counts.subarray(0, this.used), this.offset - lo);
      this.counts = next;
      this.offset = lo;
    }
    this.used = Math.max(this.used, hi - this.offset + 1);
    this.counts[index - this.offset] += n;
  }

  /** Halves the resolution `by` times: bucket i becomes bucket i >> by (exact, as in OTel). */
  downscale(by: number): void {
    if (by <= 0) return;
    if (this.used > 0) {
      const newOffset = Math.floor(this.offset / 2 ** by);
      const newLast = Math.floor((this.offset + this.used - 1) / 2 ** by);
      const next = new Float64Array(Math.max(INITIAL_BUCKETS, newLast - newOffset + 1));
      for (let i = 0; i < this.used; i++) {
        const c = this.counts[i];
        if (c !== 0) next[Math.floor((this.offset + i) / 2 ** by) - newOffset] += c;
      }
      this.counts = next;
      this.offset = newOffset;
      this.used = newLast - newOffset + 1;
    }
    this.scale -= by;
    this.factor = 2 ** this.scale / LN2;
  }

  /** Zeroes the data but keeps the buckets allocated (delta collection on the hot path). */
  reset(): void {
    this.count = 0;
    this.sum = 0;
    this.min = Infinity;
    this.max = -Infinity;
    this.zeroCount = 0;
    if (this.used > 0) this.counts.fill(0, 0, this.used);
    this.used = 0;
  }

  merge(other: ExpHistogram | HistogramSummary): void {
    const data = other instanceof ExpHistogram ? other.toData() : other.hist;
    if (other.count === 0) return;
    this.count += other.count;
    this.sum += other.sum;
    if (other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
    this.mergeBuckets(data);
  }

  mergeBuckets(data: HistogramData): void {
    let shift = 0;
    if (data.scale < this.scale) this.downscale(this.scale - data.scale);
    else shift = data.scale - this.scale;
    this.zeroCount += data.zeroCount;
    const n = data.counts.length;
    if (n === 0) return;
    const div = 2 ** shift;
    const first = Math.floor(data.offset / div);
    const last = Math.floor((data.offset + n - 1) / div);
    // Make room for the whole range once; if that had to downscale, take the general path.
    const scale = this.scale;
    this.addAt(first, 0);
    this.addAt(last, 0);
    if (this.scale !== scale) {
      const d = 2 ** (data.scale - this.scale);
      for (let i = 0; i < n; i++) if (data.counts[i] !== 0) this.addAt(Math.floor((data.offset + i) / d), data.counts[i]);
      return;
    }
    const counts = this.counts;
    if (div === 1) {
      const base = data.offset - this.offset;
      for (let i = 0; i < n; i++) counts[base + i] += data.counts[i];
    } else {
      for (let i = 0; i < n; i++) counts[Math.floor((data.offset + i) / div) - this.offset] += data.counts[i];
    }
  }

  toData(): HistogramData {
    return histogramData(this.counts.subarray(0, this.used), this.offset, this.scale, this.zeroCount);
  }

  /**
   * Nearest-rank quantile (q in [0, 1]) estimated at the bucket's representative point, clamped
   * to the observed min and max. NaN when empty.
   */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = this.zeroCount;
    if (seen >= rank) return Math.max(0, this.min);
    for (let i = 0; i < this.used; i++) {
      seen += this.counts[i];
      if (seen >= rank) {
        const v = bucketRepresentative(this.offset + i, this.scale);
        return Math.min(this.max, Math.max(this.min, v));
      }
    }
    return this.max;
  }

  /** Observations ≤ x, counting a bucket as below x when its representative point is (≤ 0.54% error at scale 6). */
  countAtOrBelow(x: number): number {
    if (this.count === 0) return 0;
    if (x >= this.max) return this.count;
    if (x < this.min) return 0;
    let n = this.zeroCount;
    for (let i = 0; i < this.used; i++) {
      if (bucketRepresentative(this.offset + i, this.scale) > x) break;
      n += this.counts[i];
    }
    return n;
  }

  static fromSummary(s: HistogramSummary): ExpHistogram {
    const h = new ExpHistogram(s.hist.scale);
    h.merge(s);
    return h;
  }
}

/** The data of buckets in use (`buckets[0]` is bucket `offset`), without the empty ones at either end. */
export function histogramData(buckets: Float64Array, offset: number, scale: number, zeroCount: number): HistogramData {
  let first = 0;
  let last = buckets.length - 1;
  while (first <= last && buckets[first] === 0) first++;
  while (last >= first && buckets[last] === 0) last--;
  return { scale, zeroCount, offset: offset + first, counts: last >= first ? Array.from(buckets.subarray(first, last + 1)) : [] };
}

/** Histogram data plus its summary statistics: what a stored point carries. */
export interface HistogramSummary {
  count: number;
  sum: number;
  min: number;
  max: number;
  hist: HistogramData;
}

/**
 * Turns an explicit-bucket histogram (OTLP HistogramDataPoint) into exponential buckets. Each
 * explicit bucket's count is spread evenly over the exponential buckets it covers — the same
 * assumption Prometheus' histogram_quantile makes — so accuracy is bounded by the sender's bucket
 * layout, not by ours.
 */
export function fromExplicitBuckets(
  bounds: number[],
  bucketCounts: number[],
  min: number | undefined,
  max: number | undefined,
): HistogramData {
  const h = new ExpHistogram(MAX_SCALE);
  for (let b = 0; b < bucketCounts.length; b++) {
    const n = bucketCounts[b];
    if (!n) continue;
    let lo = b === 0 ? (min ?? 0) : bounds[b - 1];
    let hi = b < bounds.length ? bounds[b] : (max ?? bounds[bounds.length - 1] ?? 0);
    if (min !== undefined && lo < min) lo = min;
    if (max !== undefined && hi > max) hi = max;
    if (hi <= 0) {
      h.zeroCount += n;
      continue;
    }
    if (lo <= 0) lo = hi / 2;
    const first = bucketIndex(Math.max(lo, Number.MIN_VALUE), MAX_SCALE);
    const last = Math.max(first, bucketIndex(hi, MAX_SCALE));
    const width = last - first + 1;
    const each = Math.floor(n / width);
    let rest = n - each * width;
    for (let i = first; i <= last; i++) {
      const extra = rest > 0 ? 1 : 0;
      rest -= extra;
      if (each + extra > 0) h.addAt(i, each + extra);
    }
  }
  return h.toData();
}

/** Two histograms' data merged into a new one, at the coarser of their scales. */
export function mergeHistogramData(a: HistogramData, b: HistogramData): HistogramData {
  const h = new ExpHistogram(Math.min(MAX_SCALE, a.scale, b.scale));
  h.mergeBuckets(a);
  h.mergeBuckets(b);
  return h.toData();
}
