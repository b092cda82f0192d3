// An instrument maps tag sets to series: resolved once through a trie (no key built per call),
// capped by a cardinality limit with an overflow series, and collected series by series.
import type { Attributes, MetricKind, MetricPoint } from '../model/metrics.js';
import { DroppingSeries, SERIES, type Handle, type Series, type SeriesOwner } from './series.js';

/** Attribute key used for the overflow series, as in the OpenTelemetry SDK. */
export const OVERFLOW_ATTRIBUTE = 'otel.metric.overflow';
/** Records that went to a metric's overflow series, per metric: the SDK's side of the server's solemate.ingest.series.overflow. */
export const SDK_SERIES_OVERFLOW = 'solemate.sdk.series.overflow';
const TAG_KEY_RE = /^[A-Za-z_][A-Za-z0-9_.\-/]{0,127}$/;
const MAX_TAG_VALUE = 1024;

/** What an instrument needs from the Recorder that owns it, named by shape so this file need not import it. */
export interface InstrumentOwner extends SeriesOwner {
  readonly service: string;
  readonly instance: string;
  overflowed: number;
}

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
    private readonly owner: InstrumentOwner,
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
      if (p) {
        out.push(p);
        out.push({ ...base, metric: SDK_SERIES_OVERFLOW, kind: 'counter', unit: '{record}', description: 'records that went to the overflow series past sdk.cardinalityLimit', attributes: { metric: this.name }, count: 1, sum: p.count, min: 0, max: 0, last: 0 });
      }
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
