// The hot path. Work happens at configuration time: an instrument resolves a tag set to a series
// once, a bound handle is that series, and record() is a range check plus a few additions.
// Nothing here throws into the app: bad values, names and tags are dropped, counted, warned once.
import { ExpHistogram, histogramData, MAX_BUCKETS, MAX_SCALE } from './histogram.js';
import type { Attributes, MetricKind, MetricPoint } from '../model.js';

export type DropReason = 'invalid_value' | 'invalid_name' | 'invalid_tag' | 'kind_conflict' | 'export_buffer_full' | 'export_failed';

export interface RecorderOptions {
  /** Series per metric before new tag sets go to the overflow series (OpenTelemetry's default is 2000). */
  cardinalityLimit?: number;
  /** Collections without data before an unbound series is forgotten (frees cardinality). */
  idleCollections?: number;
  service?: string;
  instance?: string;
  /** Called once per drop reason; default: process.emitWarning. */
  onWarning?: (code: string, message: string) => void;
}

/** Attribute key used for the overflow series, as in the OpenTelemetry SDK. */
export const OVERFLOW_ATTRIBUTE = 'otel.metric.overflow';
const NAME_RE = /^[A-Za-z][A-Za-z0-9_.\-/]{0,254}$/;
const TAG_KEY_RE = /^[A-Za-z_][A-Za-z0-9_.\-/]{0,127}$/;
const MAX_TAG_VALUE = 1024;

export interface Handle {
  record(value: number): void;
}

abstract class Series implements Handle {
  bound = false;
  idle = 0;
  constructor(
    readonly attributes: Attributes,
    protected readonly owner: Recorder,
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
class DroppingSeries extends Series {
  constructor(
    owner: Recorder,
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

const SERIES = { histogram: HistogramSeries, counter: CounterSeries, gauge: GaugeSeries } as const;

/** What the recorder hands out: record with tags, or bind tags once and record on the handle. */
export interface MetricInstrument {
  readonly name: string;
  readonly kind: MetricKind;
  record(value: number, tags?: Record<string, unknown>): void;
  bind(tags?: Record<string, unknown>): Handle;
}

/** Tag-set lookup without building a key: one level per (tag key, tag value) pair, in call order. */
interface TrieNode {
  series?: Series;
  children?: Map<string, Map<unknown, TrieNode>>;
}

export class Instrument implements MetricInstrument {
  private root: TrieNode = {};
  private trieNodes = 0;
  private readonly byCanonical = new Map<string, Series>();
  private overflow: Series | undefined;
  private readonly dropTags: DroppingSeries;

  constructor(
    readonly name: string,
    readonly kind: MetricKind,
    readonly unit: string,
    readonly description: string,
    private readonly owner: Recorder,
    private readonly limit: number,
  ) {
    this.dropTags = new DroppingSeries(owner, 'invalid_tag');
  }

  /** Resolves the tag set once; the returned handle records with no lookup and no allocation. */
  bind(tags?: Record<string, unknown>): Handle {
    const s = this.resolve(tags);
    s.bound = true;
    return s;
  }

  record(value: number, tags?: Record<string, unknown>): void {
    let node: TrieNode | undefined = this.root;
    if (tags !== undefined) {
      for (const k in tags) {
        node = node.children?.get(k)?.get(tags[k]);
        if (node === undefined) break;
      }
    }
    const s = node?.series;
    if (s !== undefined) s.record(value);
    else this.resolve(tags).record(value);
  }

  private resolve(tags: Record<string, unknown> | undefined): Series {
    const attributes = validateTags(tags);
    let series: Series;
    if (attributes === undefined) series = this.dropTags;
    else {
      const canonical = canonicalKey(attributes);
      const found = this.byCanonical.get(canonical);
      if (found) series = found;
      else if (this.byCanonical.size < this.limit) {
        series = new SERIES[this.kind](attributes, this.owner);
        this.byCanonical.set(canonical, series);
      } else {
        this.overflow ??= new SERIES[this.kind]({ [OVERFLOW_ATTRIBUTE]: 'true' }, this.owner);
        series = this.overflow;
        this.owner.overflowed++;
      }
    }
    this.remember(tags, series);
    return series;
  }

  /** The trie is a cache; it is capped so 1M distinct tag values cannot grow memory without bound. */
  private remember(tags: Record<string, unknown> | undefined, series: Series): void {
    let node = this.root;
    if (tags !== undefined && typeof tags === 'object') {
      for (const k in tags) {
        if (this.trieNodes >= this.limit * 8) return;
        node.children ??= new Map();
        let byValue = node.children.get(k);
        if (!byValue) node.children.set(k, (byValue = new Map()));
        let child = byValue.get(tags[k]);
        if (!child) {
          byValue.set(tags[k], (child = {}));
          this.trieNodes++;
        }
        node = child;
      }
    }
    node.series = series;
  }

  get seriesCount(): number {
    return this.byCanonical.size + (this.overflow ? 1 : 0);
  }

  collect(startTime: number, time: number, out: MetricPoint[], idleLimit: number): void {
    const base = { metric: this.name, kind: this.kind, unit: this.unit, description: this.description, service: this.owner.service, instance: this.owner.instance, startTime, time };
    let evicted = false;
    for (const [key, s] of this.byCanonical) {
      const p = s.collect(base);
      if (p) {
        out.push(p);
        s.idle = 0;
      } else if (!s.bound && ++s.idle >= idleLimit) {
        this.byCanonical.delete(key);
        evicted = true;
      }
    }
    if (this.overflow) {
      const p = this.overflow.collect(base);
      if (p) out.push(p);
    }
    if (evicted) {
      this.root = {};
      this.trieNodes = 0;
    }
  }
}

function canonicalKey(attributes: Attributes): string {
  let key = '';
  for (const k of Object.keys(attributes).sort()) key += k + '\u0000' + attributes[k] + '\u0001';
  return key;
}

/** Strings pass; numbers and booleans become strings; anything else makes the tag set invalid. */
function validateTags(tags: Record<string, unknown> | undefined): Attributes | undefined {
  const out: Attributes = {};
  if (tags === undefined || tags === null) return out;
  if (typeof tags !== 'object') return undefined;
  for (const k in tags) {
    const v = tags[k];
    if (!TAG_KEY_RE.test(k)) return undefined;
    if (typeof v === 'string') {
      if (v.length > MAX_TAG_VALUE) return undefined;
      out[k] = v;
    } else if ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean') out[k] = String(v);
    else return undefined;
  }
  return out;
}

/** Holds the instruments of one process and collects their deltas. */
export class Recorder {
  readonly service: string;
  readonly instance: string;
  readonly dropped: Record<DropReason, number> = {
    invalid_value: 0,
    invalid_name: 0,
    invalid_tag: 0,
    kind_conflict: 0,
    export_buffer_full: 0,
    export_failed: 0,
  };
  private readonly reported = new Set<DropReason>();
  overflowed = 0;
  private readonly instruments = new Map<string, Instrument>();
  private readonly limit: number;
  private readonly idleCollections: number;
  private readonly onWarning: (code: string, message: string) => void;
  private lastCollect = Date.now();
  private readonly reportedDrops: Record<DropReason, number> = { ...this.dropped };

  constructor(options: RecorderOptions = {}) {
    this.limit = options.cardinalityLimit ?? 2000;
    this.idleCollections = options.idleCollections ?? 30;
    this.service = options.service ?? process.env.OTEL_SERVICE_NAME ?? 'unknown_service:node';
    this.instance = options.instance ?? `${process.pid}@${process.env.HOSTNAME ?? 'localhost'}`;
    this.onWarning = options.onWarning ?? ((code, message) => process.emitWarning(message, { code }));
  }

  histogram(name: string, options: { unit?: string; description?: string } = {}): MetricInstrument {
    return this.instrument(name, 'histogram', options);
  }
  counter(name: string, options: { unit?: string; description?: string } = {}): MetricInstrument {
    return this.instrument(name, 'counter', options);
  }
  gauge(name: string, options: { unit?: string; description?: string } = {}): MetricInstrument {
    return this.instrument(name, 'gauge', options);
  }

  private instrument(name: string, kind: MetricKind, options: { unit?: string; description?: string }): MetricInstrument {
    const existing = this.instruments.get(name);
    if (existing) {
      if (existing.kind === kind) return existing;
      return this.dropping('kind_conflict', `metric "${name}" is a ${existing.kind}; recording it as a ${kind} is dropped`);
    }
    if (typeof name !== 'string' || !NAME_RE.test(name)) {
      return this.dropping('invalid_name', `metric name ${JSON.stringify(String(name)).slice(0, 80)} is invalid (letters, digits, _ . - /, starting with a letter, ≤ 255 chars); its records are dropped`);
    }
    const inst = new Instrument(name, kind, options.unit ?? '', options.description ?? '', this, this.limit);
    this.instruments.set(name, inst);
    return inst;
  }

  private dropping(reason: DropReason, message: string): MetricInstrument {
    this.warnOnce(reason, message);
    const sink = new DroppingSeries(this, reason);
    return { name: '', kind: 'counter', record: () => sink.record(), bind: () => sink };
  }

  drop(reason: DropReason): void {
    this.dropped[reason]++;
    if (!this.reported.has(reason)) this.warnOnce(reason, `solemate-performance dropped a record (${reason}); further drops are counted in solemate.sdk.dropped`);
  }

  private warnOnce(reason: DropReason, message: string): void {
    if (this.reported.has(reason)) return;
    this.reported.add(reason);
    try {
      this.onWarning(`PERF_W_${reason.toUpperCase()}`, message);
    } catch {
      // a warning handler that throws must not reach the app
    }
  }

  /** Delta collection: every series with data since the last call yields one point and is reset. */
  collect(now = Date.now()): MetricPoint[] {
    const out: MetricPoint[] = [];
    const start = this.lastCollect;
    this.lastCollect = now;
    for (const inst of this.instruments.values()) inst.collect(start, now, out, this.idleCollections);
    for (const reason of Object.keys(this.dropped) as DropReason[]) {
      const delta = this.dropped[reason] - this.reportedDrops[reason];
      if (delta > 0) {
        this.reportedDrops[reason] = this.dropped[reason];
        out.push({ metric: 'solemate.sdk.dropped', kind: 'counter', unit: '{record}', service: this.service, instance: this.instance, attributes: { reason }, startTime: start, time: now, count: delta, sum: delta, min: 0, max: 0, last: 0 });
      }
    }
    return out;
  }

  get instrumentNames(): string[] {
    return [...this.instruments.keys()];
  }
}
