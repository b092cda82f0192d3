// The per-series state of the hot path: what a bound handle is, and what record() touches. Each
// kind keeps its numbers in place, records without allocating, and turns them into one MetricPoint
// per collection, resetting for the next interval.
import { ExpHistogram, histogramData, MAX_BUCKETS, MAX_SCALE } from '../model/histogram.js';
import type { Attributes, MetricPoint } from '../model/metrics.js';

export type DropReason = 'invalid_value' | 'invalid_name' | 'invalid_tag' | 'kind_conflict' | 'export_buffer_full' | 'export_failed';

/** Where a series counts its drops: the Recorder, named by shape so this file need not import it. */
export interface SeriesOwner {
  drop(reason: DropReason): void;
}

export interface Handle {
  record(value: number): void;
}

export abstract class Series implements Handle {
  bound = false;
  idle = 0;
  constructor(
    readonly attributes: Attributes,
    protected readonly owner: SeriesOwner,
  ) {}
  abstract record(value: number): void;
  /** Appends this interval's point (if any) and resets. */
  abstract collect(base: Omit<MetricPoint, 'attributes' | 'count' | 'sum' | 'min' | 'max' | 'last'>): MetricPoint | undefined;
}

// A histogram series keeps its numbers in one block of memory: the summary, then the buckets (at
// MAX_SCALE, bucket j counting index offset + j). A record then touches that block and the series
// object, where an ExpHistogram spreads them over itself, a typed array and a box per double
// field: at an app's request rate that state is out of the CPU's caches between two records, and
// each place touched is a miss. Once the values span more than MAX_BUCKETS buckets, the series
// records into an ExpHistogram (which downscales) until it is collected.
const COUNT = 0;
const SUM = 1;
const MIN = 2;
const MAX = 3;
const ZERO = 4;
const HEAD = 5;
const FACTOR = 2 ** MAX_SCALE / Math.LN2;

class HistogramSeries extends Series {
  private d = HistogramSeries.block(16);
  /** bucket index of d[HEAD] */
  private offset = 0;
  /** buckets in use: d[HEAD .. HEAD + used) */
  private used = 0;
  private wide: ExpHistogram | undefined = undefined;

  private static block(buckets: number): Float64Array {
    const d = new Float64Array(HEAD + buckets);
    d[MIN] = Infinity;
    d[MAX] = -Infinity;
    return d;
  }

  record(value: number): void {
    if (!(value >= 0 && value < Infinity)) {
      this.owner.drop('invalid_value');
      return;
    }
    if (this.wide !== undefined) {
      this.wide.record(value);
      return;
    }
    const d = this.d;
    d[COUNT]++;
    d[SUM] += value;
    if (value < d[MIN]) d[MIN] = value;
    if (value > d[MAX]) d[MAX] = value;
    if (value === 0) {
      d[ZERO]++;
      return;
    }
    const i = Math.ceil(Math.log(value) * FACTOR) - 1 - this.offset;
    if (i >= 0 && i < this.used) d[HEAD + i]++;
    else this.place(i + this.offset);
  }

  /** Counts one value in bucket `index`, which is outside the buckets in use. */
  private place(index: number): void {
    if (this.used === 0) {
      this.offset = index;
      this.used = 1;
      this.d[HEAD]++;
      return;
    }
    const lo = Math.min(index, this.offset);
    const hi = Math.max(index, this.offset + this.used - 1);
    if (hi - lo + 1 > MAX_BUCKETS) {
      // too wide a range for this scale: hand everything to a histogram that downscales
      const w = new ExpHistogram(MAX_SCALE);
      const d = this.d;
      w.count = d[COUNT];
      w.sum = d[SUM];
      w.min = d[MIN];
      w.max = d[MAX];
      w.zeroCount = d[ZERO];
      for (let j = 0; j < this.used; j++) if (d[HEAD + j] !== 0) w.addAt(this.offset + j, d[HEAD + j]);
      w.addAt(index, 1);
      this.wide = w;
      return;
    }
    if (lo < this.offset || hi - lo + 1 > this.d.length - HEAD) {
      const next = HistogramSeries.block(Math.min(MAX_BUCKETS, Math.max(hi - lo + 1, (this.d.length - HEAD) * 2)));
      next.set(this.d.subarray(0, HEAD));
      next.set(this.d.subarray(HEAD, HEAD + this.used), HEAD + this.offset - lo);
      this.d = next;
      this.offset = lo;
    }
    this.used = hi - this.offset + 1;
    this.d[HEAD + index - this.offset]++;
  }

  collect(base: Omit<MetricPoint, 'attributes' | 'count' | 'sum' | 'min' | 'max' | 'last'>): MetricPoint | undefined {
    const w = this.wide;
    const d = this.d;
    let p: MetricPoint | undefined;
    if (w !== undefined) {
      p = { ...base, attributes: this.attributes, count: w.count, sum: w.sum, min: w.min, max: w.max, last: 0, hist: w.toData() };
      this.wide = undefined;
    } else if (d[COUNT] > 0) {
      const hist = histogramData(d.subarray(HEAD, HEAD + this.used), this.offset, MAX_SCALE, d[ZERO]);
      p = { ...base, attributes: this.attributes, count: d[COUNT], sum: d[SUM], min: d[MIN], max: d[MAX], last: 0, hist };
    } else return undefined;
    // the block is kept for the next interval: a steady series allocates nothing
    d.fill(0, 0, HEAD + this.used);
    d[MIN] = Infinity;
    d[MAX] = -Infinity;
    this.used = 0;
    return p;
  }
}

class CounterSeries extends Series {
  count = 0;
  sum = 0;
  record(value: number): void {
    if (value >= 0 && value < Infinity) {
      this.count++;
      this.sum += value;
    } else this.owner.drop('invalid_value');
  }
  add(value: number): void {
    this.record(value);
  }
  collect(base: Omit<MetricPoint, 'attributes' | 'count' | 'sum' | 'min' | 'max' | 'last'>): MetricPoint | undefined {
    if (this.count === 0) return undefined;
    const p: MetricPoint = { ...base, attributes: this.attributes, count: this.count, sum: this.sum, min: 0, max: 0, last: 0 };
    this.count = 0;
    this.sum = 0;
    return p;
  }
}

/** A gauge's numbers in one block, as a histogram's (above): [count, sum, min, max, last]. */
const LAST = 4;

class GaugeSeries extends Series {
  private readonly d = Float64Array.of(0, 0, Infinity, -Infinity, 0);
  record(value: number): void {
    if (value > -Infinity && value < Infinity) {
      const d = this.d;
      d[COUNT]++;
      d[SUM] += value;
      d[LAST] = value;
      if (value < d[MIN]) d[MIN] = value;
      if (value > d[MAX]) d[MAX] = value;
    } else this.owner.drop('invalid_value');
  }
  collect(base: Omit<MetricPoint, 'attributes' | 'count' | 'sum' | 'min' | 'max' | 'last'>): MetricPoint | undefined {
    const d = this.d;
    if (d[COUNT] === 0) return undefined;
    const p: MetricPoint = { ...base, attributes: this.attributes, count: d[COUNT], sum: d[SUM], min: d[MIN], max: d[MAX], last: d[LAST] };
    d[COUNT] = 0;
    d[SUM] = 0;
    d[MIN] = Infinity;
    d[MAX] = -Infinity;
    return p;
  }
}

/** Stands in for a series whose tags were invalid: every record is a counted drop. */
export class DroppingSeries extends Series {
  constructor(
    owner: SeriesOwner,
    private readonly reason: DropReason,
  ) {
    super({}, owner);
  }
  record(): void {
    this.owner.drop(this.reason);
  }
  add(): void {
    this.owner.drop(this.reason);
  }
  collect(): undefined {
    return undefined;
  }
}

export const SERIES = { histogram: HistogramSeries, counter: CounterSeries, gauge: GaugeSeries } as const;
